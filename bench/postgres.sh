# make bench on PostgreSQL (issue 9): sourced by bench/bench.sh after the SQLite phases when
# BENCH_PG=1, with bench.sh's helpers (start_hookd, q, receiver, wrk_run, check, c_sampler, ...), its
# nginx receiver and its load (wrk -t1 -c64, the 1 KiB event, BENCH_DURATION seconds per run).
#
# A throwaway cluster from tests/pg/pg.sh (loopback, fsync off, synchronous_commit off), stopped by
# bench.sh's EXIT trap; a fresh database per run; every node with --lease $BENCH_PG_LEASE:
#   (a) ingest only  warm-up, then wrk against one `--role api` node, as on SQLite
#   (b) drain        that node stopped, one `--role worker` node on the same database, timed from
#                    its start until no delivery is pending
#   (c) combined     a fresh database, one `--role all` node: ingest and delivery together,
#                    delivered/s sampled every second, backlog and its drain, accept->delivered
#   (s) split        a fresh database, an `api` node and a `worker` node running together, wrk against
#                    the api node. The api node stores deliveries unclaimed; the worker finds them by
#                    rescanning every max(1 s, lease/3) (at most 5 s), or sooner by LISTEN/NOTIFY, so
#                    accept->delivered includes up to one rescan period.
# Each database is checked as SQLite's is (receiver count == delivered, one delivery per stored event,
# one 2xx attempt per delivery, nothing pending or failed, clean exits). Sets PG_JSON (the RESULT
# line's hookd_pg); pg_table prints the "hookd on PostgreSQL" table beside SQLite's figures.
# KEEP=1 keeps the nodes' logs (pg-*.log) and the server's (postgres-server.log), not the cluster.

log "PostgreSQL: a throwaway cluster (tests/pg/pg.sh)"
PG_VARS=$(PG_BIN=$PG_BIN bash "$ROOT/tests/pg/pg.sh" start) || { echo "bench: PostgreSQL did not start" >&2; exit 1; }
PG_DIR=$(sed -n 's/^HOOKD_PG_DIR=//p' <<<"$PG_VARS")
PG_ADMIN_URL=$(sed -n 's/^HOOKD_TEST_DB=//p' <<<"$PG_VARS")
PG_POSTMASTER=$(head -1 "$PG_DIR/data/postmaster.pid")
PG_LEASE_MS=$(awk -v d="$BENCH_PG_LEASE" 'BEGIN {
  n = d + 0; u = d; sub(/^[0-9.]+/, "", u)
  m = (u == "ms") ? 1 : (u == "s" || u == "") ? 1000 : (u == "m") ? 60000 : (u == "h") ? 3600000 : -1
  if (m < 0 || n <= 0) exit 1; printf "%d\n", n * m }') ||
  { echo "bench: BENCH_PG_LEASE=$BENCH_PG_LEASE is not a duration (ms, s, m, h)" >&2; exit 2; }
PG_RESCAN_MS=$((PG_LEASE_MS / 3 < 1000 ? 1000 : PG_LEASE_MS / 3 > 5000 ? 5000 : PG_LEASE_MS / 3))
HOOKD_EXTRA=(--lease "$BENCH_PG_LEASE")
echo "PostgreSQL $PG_VERSION on ${PG_ADMIN_URL%/*} (postmaster $PG_POSTMASTER, $PG_DIR): fsync off, synchronous_commit off"
echo "nodes: --lease $BENCH_PG_LEASE, so an idle worker rescans every $((PG_RESCAN_MS / 1000)).$((PG_RESCAN_MS % 1000 / 100)) s"

pg_new_db() { # pg_new_db NAME: a fresh database; q and start_hookd use it from now on
  "$PSQL" -X -q -v ON_ERROR_STOP=1 -d "$PG_ADMIN_URL" -c "CREATE DATABASE $1" >/dev/null
  PG_URL=${PG_ADMIN_URL%/*}/$1
  HOOKD_DB_URL=$PG_URL
  echo "database $PG_URL"
}
pg_ticks() { # CPU ticks of the server's processes (backends come with hookd's connections and stay)
  local p v t=0
  for p in $(pgrep -P "$PG_POSTMASTER"); do
    v=$(ticks "$p" 2>/dev/null) && [ -n "$v" ] && t=$((t + v))
  done
  echo "$t"
}
pg_wait_empty() { # pg_wait_empty SECONDS RECEIVER_TARGET PID...: until no delivery is pending (every 20 ms);
  # sets PG_RECV_ALL_MS, when nginx had counted RECEIVER_TARGET webhooks (empty if never); 1 on timeout
  local deadline=$((SECONDS + $1)) target=$2 p
  shift 2
  PG_RECV_ALL_MS=
  while :; do
    [ -n "$PG_RECV_ALL_MS" ] || [ "$(receiver)" -lt "$target" ] || PG_RECV_ALL_MS=$(now_ms)
    [ "$(q "SELECT count(*) FROM deliveries WHERE status = 0")" != 0 ] || return 0
    [ $SECONDS -lt $deadline ] || { echo "bench: still $(q "SELECT count(*) FROM deliveries WHERE status = 0") pending, giving up" >&2; return 1; }
    for p; do kill -0 "$p" 2>/dev/null || { echo "bench: hookd pid $p exited while deliveries were pending" >&2; return 1; }; done
    sleep 0.02
  done
}
since() { # since T0_MS [T1_MS]: seconds between them, "-" without T1
  if [ -n "${2:-}" ]; then awk -v a="$1" -v b="$2" 'BEGIN { printf "%.3f", (b - a) / 1000 }'; else echo -; fi
}
pg_latency() { # pg_latency T0 T1: "N p50 p90 p99 max" (ms) of the deliveries created between T0 and T1
  q "SELECT delivered_at - created_at FROM deliveries WHERE org_id = '$ORG_ID' AND created_at BETWEEN $1 AND $2
     AND status = 1 ORDER BY 1" |
    awk '{ v[NR] = $1 }
      function pct(p,  i) { i = int(p / 100 * NR); if (i < p / 100 * NR) i++; if (i < 1) i = 1; return v[i] }
      END { if (NR == 0) print 0, "null", "null", "null", "null"; else print NR, pct(50), pct(90), pct(99), v[NR] }'
}
pg_rate() { # pg_rate SAMPLES: "delivered/s receiver/s seconds samples..." of c_sampler's output
  awk '
    NR == 1 { t0 = $1; d0 = $2; r0 = $4 }
    NR > 1 { s = s " " int((($2 - pd) * 1000) / ($1 - pt) + 0.5) }
    { pt = $1; pd = $2; t = $1; d = $2; r = $4 }
    END { printf "%.0f %.0f %.2f%s\n", (d - d0) * 1000 / (t - t0), (r - r0) * 1000 / (t - t0), (t - t0) / 1000, s }' "$1"
}
# PostgreSQL's runs sample the receiver, not the delivery log. Counting the log once a second
# (bench.sh's c_snapshot) took 85 ms at 40k rows, and while it ran its snapshot kept every
# node's dead row versions from being pruned: the split run's latency went from p50 21 / p99
# 80 ms to 294 / 723 ms with it. The receiver counts the same deliveries (pg_db_checks holds
# receiver == delivered, one attempt each, after every run).
c_snapshot() { # "t_ms delivered - receiver", as bench.sh's but read from the receiver
  local t r
  t=$(now_ms); r=$(receiver)
  echo "$t $r - $r"
}
pg_wrk_checks() { # pg_wrk_checks TAG WRKFILE...: no non-202, no socket errors
  local tag=$1 f; shift
  for f; do
    check "$tag $(basename "$f" .txt): non-202 responses" "$(wrk_field "$f" non202)" -eq 0
    check "$tag $(basename "$f" .txt): wrk socket errors" "$(wrk_field "$f" errors)" -eq 0
  done
}
pg_db_checks() { # pg_db_checks TAG RECEIVED WRKFILE...: the current database's delivery log, its nodes stopped
  local tag=$1 received=$2 f sent=0
  shift 2
  for f; do sent=$((sent + $(wrk_field "$f" requests))); done
  local events deliveries delivered pending not_ok attempts bad no_at claimed
  read -r events deliveries delivered pending not_ok attempts bad no_at claimed < <(q "SELECT
      (SELECT count(*) FROM events), (SELECT count(*) FROM deliveries),
      (SELECT count(*) FROM deliveries WHERE status = 1), (SELECT count(*) FROM deliveries WHERE status = 0),
      (SELECT count(*) FROM deliveries WHERE status NOT IN (0, 1)), (SELECT count(*) FROM attempts),
      (SELECT count(*) FROM attempts WHERE response_status IS NULL OR response_status NOT BETWEEN 200 AND 299),
      (SELECT count(*) FROM deliveries WHERE status = 1 AND delivered_at IS NULL),
      (SELECT count(*) FROM deliveries WHERE status = 0 AND node_id IS NOT NULL)" | tr '|' ' ')
  check "$tag: one delivery per stored event" "$deliveries" -eq "$events"
  check "$tag: stored events >= responses wrk counted (202s)" "$events" -ge "$sent"
  check "$tag: stored events - wrk's 202s <= requests in flight when wrk stopped" "$((events - sent))" -le $((3 * CONNECTIONS * $#))
  check "$tag: delivered == deliveries" "$delivered" -eq "$deliveries"
  check "$tag: pending" "$pending" -eq 0
  check "$tag: failed + exhausted" "$not_ok" -eq 0
  check "$tag: receiver count == delivered" "$received" -eq "$delivered"
  check "$tag: one attempt per delivery (no retries, no duplicates)" "$attempts" -eq "$delivered"
  check "$tag: attempts without a 2xx answer" "$bad" -eq 0
  check "$tag: delivered without delivered_at" "$no_at" -eq 0
  check "$tag: pending deliveries still claimed after the nodes stopped" "$claimed" -eq 0
  PG_LAST_DELIVERED=$delivered
}

# ---------------------------------------------------------------- (a) ingest only
log "PostgreSQL (a) ingest only: hookd --role api on a fresh database, ${WARMUP}s warm-up, then ${BENCH_DURATION}s"
pg_new_db bench_ab
LOG_PREFIX=pg-ab
AB_R0=$(receiver)
start_hookd api
API_PID=$HOOKD_PID
setup_tenant
echo "hookd --role api on 127.0.0.1:$HOOKD_PORT (pid $API_PID), org $ORG_ID"
wrk_run "$WARMUP" "$WORK/pg-wrk-warmup.txt"
awk '/^Requests\/sec:/ { print "warm-up: " $0 }' "$WORK/pg-wrk-warmup.txt"
thread_ticks "$API_PID" >"$WORK/pg-a-threads0"; p0=$(pg_ticks); t0=$(now_ms)
wrk_run "$BENCH_DURATION" "$WORK/pg-wrk-ingest.txt"
t1=$(now_ms); thread_ticks "$API_PID" >"$WORK/pg-a-threads1"; p1=$(pg_ticks)
cat "$WORK/pg-wrk-ingest.txt"
PA_SECS=$(awk -v a="$t0" -v b="$t1" 'BEGIN { print (b - a) / 1000 }')
PA_CPU="hookd: $(thread_cpu "$WORK/pg-a-threads0" "$WORK/pg-a-threads1" "$PA_SECS"); postgres $(cpu_pct "$p0" "$p1" "$PA_SECS")"
echo "CPU during (a): $PA_CPU"
PA_RSS=$(hwm_mb "$API_PID")
stop_hookd "pg (a)" api
PA_QUEUED=$(q "SELECT count(*) FROM deliveries WHERE status = 0")
echo "pending deliveries after (a): $PA_QUEUED"
check "pg (a) deliveries queued by the warm-up and (a)" "$PA_QUEUED" -ge 1

# ---------------------------------------------------------------- (b) drain
log "PostgreSQL (b) drain: hookd --role worker on the same database, timed from its start until nothing is pending"
r0=$(receiver); n0=$(ticks "$NGINX_WORKER_PID"); p0=$(pg_ticks)
PB_T0=$(now_ms)
start_hookd worker
WORKER_PID=$HOOKD_PID
thread_ticks "$WORKER_PID" >"$WORK/pg-b-threads0"
PB_STARTED=$(now_ms)
PB_RECV_ALL=
deadline=$((SECONDS + 60 + PA_QUEUED / 500))
i=0
while :; do # as on SQLite: the receiver's counter often, the store every second and once the receiver has all
  got=$(receiver)
  [ -n "$PB_RECV_ALL" ] || [ "$got" -lt $((r0 + PA_QUEUED)) ] || PB_RECV_ALL=$(now_ms)
  if [ "$got" -ge $((r0 + PA_QUEUED)) ] || [ $((i % 20)) = 0 ]; then
    [ "$(q "SELECT count(*) FROM deliveries WHERE status = 0")" != 0 ] || break
  fi
  [ $SECONDS -lt $deadline ] || { echo "bench: pg (b) deliveries still pending, giving up" >&2; break; }
  kill -0 "$WORKER_PID" 2>/dev/null || { echo "bench: hookd --role worker exited during pg (b)" >&2; break; }
  if [ "$got" -ge $((r0 + PA_QUEUED)) ]; then sleep 0.02; else sleep 0.05; fi
  i=$((i + 1))
done
PB_T1=$(now_ms)
thread_ticks "$WORKER_PID" >"$WORK/pg-b-threads1"; n1=$(ticks "$NGINX_WORKER_PID"); p1=$(pg_ticks)
r1=$(receiver)
PB_SECS=$(awk -v a="$PB_T0" -v b="$PB_T1" 'BEGIN { print (b - a) / 1000 }')
PB_CPU_SECS=$(awk -v a="$PB_STARTED" -v b="$PB_T1" 'BEGIN { print (b - a) / 1000 }')
PB_CPU="hookd: $(thread_cpu "$WORK/pg-b-threads0" "$WORK/pg-b-threads1" "$PB_CPU_SECS"); postgres $(cpu_pct "$p0" "$p1" "$PB_CPU_SECS"); nginx $(cpu_pct "$n0" "$n1" "$PB_CPU_SECS")"
PB_RSS=$(hwm_mb "$WORKER_PID")
read -r PB_LEFT PB_DELIVERED PB_NOT_OK PB_FIRST < <(q "SELECT (SELECT count(*) FROM deliveries WHERE status = 0),
  (SELECT count(*) FROM deliveries WHERE status = 1), (SELECT count(*) FROM deliveries WHERE status IN (2, 3)),
  (SELECT coalesce(min(delivered_at), 0) FROM deliveries WHERE status = 1)" | tr '|' ' ')
PB_RECEIVED=$((r1 - r0))
PB_RATE=$(div "$PB_DELIVERED" "$PB_SECS" %.0f)
PB_RATE_AFTER_FIRST=$(div "$PB_DELIVERED" "$(awk -v a="$PB_FIRST" -v b="$PB_T1" 'BEGIN { print (b - a) / 1000 }')" %.0f)
echo "queued $PA_QUEUED, delivered $PB_DELIVERED in ${PB_SECS}s (first delivery $((PB_FIRST - PB_T0)) ms after the worker was started), pending $PB_LEFT, failed/exhausted $PB_NOT_OK, receiver got $PB_RECEIVED"
echo "deliveries/s: $PB_RATE ($PB_RATE_AFTER_FIRST/s counted from the first delivery)"
PB_RECV_SECS=$(since "$PB_T0" "$PB_RECV_ALL")
echo "the receiver had all $PA_QUEUED webhooks ${PB_RECV_SECS}s after the worker was started; the store had them all delivered after ${PB_SECS}s"
echo "CPU during (b): $PB_CPU"
stop_hookd "pg (b)" worker
check "pg (b) nothing pending after the drain" "$PB_LEFT" -eq 0
check "pg (b) delivered == queued" "$PB_DELIVERED" -eq "$PA_QUEUED"
check "pg (b) receiver count == delivered" "$PB_RECEIVED" -eq "$PB_DELIVERED"
pg_wrk_checks "pg (a)" "$WORK/pg-wrk-warmup.txt" "$WORK/pg-wrk-ingest.txt"
pg_db_checks "pg (a)+(b)" "$(($(receiver) - AB_R0))" "$WORK/pg-wrk-warmup.txt" "$WORK/pg-wrk-ingest.txt"

# ---------------------------------------------------------------- (c) combined, one node
log "PostgreSQL (c) combined: one hookd --role all on a fresh database, ingest and delivery together for ${BENCH_DURATION}s"
pg_new_db bench_c
LOG_PREFIX=pg-c
PC_R0=$(receiver)
q "CREATE EXTENSION IF NOT EXISTS pg_stat_statements" >/dev/null
HOOKD_EXTRA+=(--log-level info) # hookd logs the statements and round trips it made as it stops
start_hookd all
HOOKD_EXTRA=(--lease "$BENCH_PG_LEASE")
ALL_PID=$HOOKD_PID
setup_tenant
q "SELECT pg_stat_statements_reset()" >/dev/null
echo "hookd --role all on 127.0.0.1:$HOOKD_PORT (pid $ALL_PID), org $ORG_ID"
C_T0=$(now_ms) # c_snapshot counts from C_T0 (SQLite's (c) is done with it)
thread_ticks "$ALL_PID" >"$WORK/pg-c-threads0"; n0=$(ticks "$NGINX_WORKER_PID"); p0=$(pg_ticks)
c_sampler $((BENCH_DURATION - 1)) >"$WORK/pg-c-samples.txt" &
SAMPLER_PID=$!; PIDS+=("$SAMPLER_PID")
wrk_run "$BENCH_DURATION" "$WORK/pg-wrk-combined.txt"
PC_T1=$(now_ms)
PC_BACKLOG=$(q "SELECT count(*) FROM deliveries WHERE status = 0")
thread_ticks "$ALL_PID" >"$WORK/pg-c-threads1"; n1=$(ticks "$NGINX_WORKER_PID"); p1=$(pg_ticks)
wait "$SAMPLER_PID"
cat "$WORK/pg-wrk-combined.txt"
PC_SECS=$(awk -v a="$C_T0" -v b="$PC_T1" 'BEGIN { print (b - a) / 1000 }')
PC_CPU="hookd: $(thread_cpu "$WORK/pg-c-threads0" "$WORK/pg-c-threads1" "$PC_SECS"); postgres $(cpu_pct "$p0" "$p1" "$PC_SECS"); nginx $(cpu_pct "$n0" "$n1" "$PC_SECS")"
read -r PC_RATE PC_RECV_RATE PC_SAMPLE_SECS PC_SAMPLES < <(pg_rate "$WORK/pg-c-samples.txt")
echo "delivered/s while wrk ran: $PC_RATE (receiver: $PC_RECV_RATE/s; 1-s samples: $PC_SAMPLES)"
echo "backlog when wrk stopped: $PC_BACKLOG pending"
pg_wait_empty $((120 + PC_BACKLOG / 500)) "$((PC_R0 + $(q "SELECT count(*) FROM deliveries")))" "$ALL_PID" || true
PC_TAIL=$(since "$PC_T1" "$(now_ms)")
PC_RECV_TAIL=$(since "$PC_T1" "$PG_RECV_ALL_MS")
echo "backlog delivered ${PC_TAIL}s after wrk stopped (the receiver had every webhook after ${PC_RECV_TAIL}s)"
PC_RSS=$(hwm_mb "$ALL_PID")
echo "CPU during (c): $PC_CPU"
stop_hookd "pg (c)" all
read -r PC_N PC_P50 PC_P90 PC_P99 PC_MAX < <(pg_latency "$C_T0" "$PC_T1")
echo "(c) accept->delivered over $PC_N deliveries created during the run: p50 $PC_P50 / p90 $PC_P90 / p99 $PC_P99 / max $PC_MAX ms"
pg_wrk_checks "pg (c)" "$WORK/pg-wrk-combined.txt"
pg_db_checks "pg (c)" "$(($(receiver) - PC_R0))" "$WORK/pg-wrk-combined.txt"
PC_DELIVERED=$PG_LAST_DELIVERED
check "pg (c) deliveries created during wrk, with a latency" "$PC_N" -ge 1
# statements the server ran for the node (pg_stat_statements, the bench's own queries left out), and
# hookd's own count of statements and of the waits for an answer (round trips), per delivered event
PC_STMTS=$(q "SELECT coalesce(sum(calls), 0) FROM pg_stat_statements s JOIN pg_database d ON d.oid = s.dbid
  WHERE d.datname = current_database() AND s.query NOT LIKE 'SELECT count(%' AND s.query NOT LIKE '%pg_stat_statements%'")
read -r PC_HOOKD_STMTS PC_TRIPS < <(grep -m1 '"msg":"postgres use"' "$WORK/pg-c-all.log" | jq -r '"\(.statements) \(.round_trips)"')
PC_PER=$(awk -v s="$PC_STMTS" -v h="${PC_HOOKD_STMTS:-0}" -v r="${PC_TRIPS:-0}" -v d="$PC_DELIVERED" \
  'BEGIN { if (d > 0) printf "%.2f %.2f %.2f\n", s / d, h / d, r / d; else print "0 0 0" }')
read -r PC_STMT_PER PC_HOOKD_STMT_PER PC_TRIP_PER <<<"$PC_PER"
echo "(c) per delivered event: $PC_STMT_PER statements (pg_stat_statements); hookd counted $PC_HOOKD_STMT_PER statements in $PC_TRIP_PER round trips"
check "pg (c) hookd logged its statements and round trips" "${PC_TRIPS:-0}" -gt 0

# ---------------------------------------------------------------- (s) an api node and a worker node
log "PostgreSQL (s) split: hookd --role api and hookd --role worker together on a fresh database, wrk against the api node for ${BENCH_DURATION}s"
pg_new_db bench_split
LOG_PREFIX=pg-s
PS_R0=$(receiver)
start_hookd api
PS_API_PID=$HOOKD_PID; PS_API_PORT=$HOOKD_PORT
setup_tenant
start_hookd worker
PS_WORKER_PID=$HOOKD_PID
HOOKD_PORT=$PS_API_PORT # wrk_run and api() talk to the api node
echo "hookd --role api on 127.0.0.1:$PS_API_PORT (pid $PS_API_PID), hookd --role worker (pid $PS_WORKER_PID), org $ORG_ID"
C_T0=$(now_ms)
thread_ticks "$PS_API_PID" >"$WORK/pg-s-api-threads0"; thread_ticks "$PS_WORKER_PID" >"$WORK/pg-s-worker-threads0"
n0=$(ticks "$NGINX_WORKER_PID"); p0=$(pg_ticks)
c_sampler $((BENCH_DURATION - 1)) >"$WORK/pg-s-samples.txt" &
SAMPLER_PID=$!; PIDS+=("$SAMPLER_PID")
wrk_run "$BENCH_DURATION" "$WORK/pg-wrk-split.txt"
PS_T1=$(now_ms)
PS_BACKLOG=$(q "SELECT count(*) FROM deliveries WHERE status = 0")
thread_ticks "$PS_API_PID" >"$WORK/pg-s-api-threads1"; thread_ticks "$PS_WORKER_PID" >"$WORK/pg-s-worker-threads1"
n1=$(ticks "$NGINX_WORKER_PID"); p1=$(pg_ticks)
wait "$SAMPLER_PID"
cat "$WORK/pg-wrk-split.txt"
PS_SECS=$(awk -v a="$C_T0" -v b="$PS_T1" 'BEGIN { print (b - a) / 1000 }')
PS_CPU="api: $(thread_cpu "$WORK/pg-s-api-threads0" "$WORK/pg-s-api-threads1" "$PS_SECS"); worker: $(thread_cpu "$WORK/pg-s-worker-threads0" "$WORK/pg-s-worker-threads1" "$PS_SECS"); postgres $(cpu_pct "$p0" "$p1" "$PS_SECS"); nginx $(cpu_pct "$n0" "$n1" "$PS_SECS")"
read -r PS_RATE PS_RECV_RATE PS_SAMPLE_SECS PS_SAMPLES < <(pg_rate "$WORK/pg-s-samples.txt")
PS_FIRST=$(q "SELECT coalesce(min(delivered_at), 0) FROM deliveries WHERE status = 1")
echo "delivered/s while wrk ran: $PS_RATE (receiver: $PS_RECV_RATE/s; 1-s samples: $PS_SAMPLES)"
[ "$PS_FIRST" = 0 ] || echo "first delivery $((PS_FIRST - C_T0)) ms after wrk started"
echo "backlog when wrk stopped: $PS_BACKLOG pending"
pg_wait_empty $((120 + PS_BACKLOG / 500)) "$((PS_R0 + $(q "SELECT count(*) FROM deliveries")))" "$PS_API_PID" "$PS_WORKER_PID" || true
PS_TAIL=$(since "$PS_T1" "$(now_ms)")
PS_RECV_TAIL=$(since "$PS_T1" "$PG_RECV_ALL_MS")
echo "backlog delivered ${PS_TAIL}s after wrk stopped (the receiver had every webhook after ${PS_RECV_TAIL}s)"
PS_API_RSS=$(hwm_mb "$PS_API_PID"); PS_WORKER_RSS=$(hwm_mb "$PS_WORKER_PID")
echo "CPU during (s): $PS_CPU"
HOOKD_PID=$PS_API_PID; stop_hookd "pg (s) api node" api
HOOKD_PID=$PS_WORKER_PID; stop_hookd "pg (s) worker node" worker
read -r PS_N PS_P50 PS_P90 PS_P99 PS_MAX < <(pg_latency "$C_T0" "$PS_T1")
echo "(s) accept->delivered over $PS_N deliveries created during the run: p50 $PS_P50 / p90 $PS_P90 / p99 $PS_P99 / max $PS_MAX ms (the worker rescans every $PG_RESCAN_MS ms)"
pg_wrk_checks "pg (s)" "$WORK/pg-wrk-split.txt"
pg_db_checks "pg (s)" "$(($(receiver) - PS_R0))" "$WORK/pg-wrk-split.txt"
PS_DELIVERED=$PG_LAST_DELIVERED
check "pg (s) deliveries created during wrk, with a latency" "$PS_N" -ge 1

PG_URL=
HOOKD_DB_URL="sqlite:$DB"
LOG_PREFIX=hookd
HOOKD_EXTRA=()

PA_RPS=$(wrk_field "$WORK/pg-wrk-ingest.txt" rps)
PC_RPS=$(wrk_field "$WORK/pg-wrk-combined.txt" rps)
PS_RPS=$(wrk_field "$WORK/pg-wrk-split.txt" rps)
PG_PEAK_RSS=$(printf '%s\n' "$PA_RSS" "$PB_RSS" "$PC_RSS" | sort -g | tail -1)
jnum() { if [ "$1" = - ]; then echo null; else echo "$1"; fi; }
PG_JSON=$(jq -nc --arg version "$PG_VERSION" --arg lease "$BENCH_PG_LEASE" --argjson rescan "$PG_RESCAN_MS" \
  --argjson ingest_rps "$PA_RPS" --argjson drain_per_s "$PB_RATE" --argjson drain_deliveries "$PB_DELIVERED" \
  --argjson combined_ingest_rps "$PC_RPS" --argjson combined_delivered_per_s "$PC_RATE" \
  --argjson p50 "$PC_P50" --argjson p99 "$PC_P99" --argjson max "$PC_MAX" \
  --argjson backlog "$PC_BACKLOG" --argjson backlog_s "$PC_TAIL" \
  --argjson recv_s "$(jnum "$PC_RECV_TAIL")" --argjson s_recv_s "$(jnum "$PS_RECV_TAIL")" --argjson b_recv_s "$(jnum "$PB_RECV_SECS")" \
  --argjson peak "$PG_PEAK_RSS" --argjson ra "$PA_RSS" --argjson rb "$PB_RSS" --argjson rc "$PC_RSS" \
  --argjson s_rps "$PS_RPS" --argjson s_rate "$PS_RATE" --argjson s_p50 "$PS_P50" --argjson s_p99 "$PS_P99" \
  --argjson s_max "$PS_MAX" --argjson s_backlog "$PS_BACKLOG" --argjson s_backlog_s "$PS_TAIL" \
  --argjson s_delivered "$PS_DELIVERED" --argjson s_rss_api "$PS_API_RSS" --argjson s_rss_worker "$PS_WORKER_RSS" \
  --argjson stmt_per "$PC_STMT_PER" --argjson trip_per "$PC_TRIP_PER" \
  '{postgres_version: $version, lease: $lease, rescan_period_ms: $rescan,
    ingest_rps: $ingest_rps, drain_per_s: $drain_per_s, drain_deliveries: $drain_deliveries,
    combined_ingest_rps: $combined_ingest_rps, combined_delivered_per_s: $combined_delivered_per_s,
    combined_statements_per_delivered: $stmt_per, combined_round_trips_per_delivered: $trip_per,
    combined_p50_ms: $p50, combined_p99_ms: $p99, combined_max_ms: $max,
    combined_backlog: $backlog, combined_backlog_drain_s: $backlog_s, combined_receiver_all_after_s: $recv_s,
    drain_receiver_all_after_s: $b_recv_s, peak_rss_mb: $peak, peak_rss_mb_by_phase: {ingest: $ra, drain: $rb, combined: $rc},
    split_api_worker: {ingest_rps: $s_rps, delivered_per_s: $s_rate, p50_ms: $s_p50, p99_ms: $s_p99, max_ms: $s_max,
      backlog: $s_backlog, backlog_drain_s: $s_backlog_s, receiver_all_after_s: $s_recv_s, delivered: $s_delivered,
      peak_rss_mb: {api: $s_rss_api, worker: $s_rss_worker}}}')

pg_table() { # hookd on PostgreSQL beside hookd on SQLite, this run
  local t="%-40s %18s %18s %18s\n"
  log "hookd on PostgreSQL (this run; SQLite's figures from above beside them)"
  printf "$t" "metric" "SQLite" "PG, 1 node" "PG, api+worker"
  printf "$t" "------" "------" "----------" "--------------"
  printf "$t" "(a) ingest req/s" "$(jv .ingest_rps "$HOOKD_JSON")" "$PA_RPS" "-"
  printf "$t" "(a) ingest latency p50 / p99" "$(wrk_field "$WORK/wrk-ingest.txt" p50) / $(wrk_field "$WORK/wrk-ingest.txt" p99)" \
    "$(wrk_field "$WORK/pg-wrk-ingest.txt" p50) / $(wrk_field "$WORK/pg-wrk-ingest.txt" p99)" "-"
  printf "$t" "(b) drain deliveries/s" "$(jv .drain_per_s "$HOOKD_JSON")" "$PB_RATE" "-"
  printf "$t" "(b) deliveries drained" "$(jv .drain_deliveries "$HOOKD_JSON")" "$PB_DELIVERED" "-"
  printf "$t" "(b) drain s (receiver had all after s)" "$B_SECS" "$PB_SECS ($PB_RECV_SECS)" "-"
  printf "$t" "(c) ingest req/s while delivering" "$(jv .combined_ingest_rps "$HOOKD_JSON")" "$PC_RPS" "$PS_RPS"
  printf "$t" "(c) ingest latency p50 / p99" "$(wrk_field "$WORK/wrk-combined.txt" p50) / $(wrk_field "$WORK/wrk-combined.txt" p99)" \
    "$(wrk_field "$WORK/pg-wrk-combined.txt" p50) / $(wrk_field "$WORK/pg-wrk-combined.txt" p99)" \
    "$(wrk_field "$WORK/pg-wrk-split.txt" p50) / $(wrk_field "$WORK/pg-wrk-split.txt" p99)"
  printf "$t" "(c) delivered/s while wrk ran" "$(jv .combined_delivered_per_s "$HOOKD_JSON")" "$PC_RATE" "$PS_RATE"
  printf "$t" "(c) accept->delivered p50 ms" "$(jv .combined_p50_ms "$HOOKD_JSON")" "$PC_P50" "$PS_P50"
  printf "$t" "(c) accept->delivered p99 ms" "$(jv .combined_p99_ms "$HOOKD_JSON")" "$PC_P99" "$PS_P99"
  printf "$t" "(c) accept->delivered max ms" "$(jv .combined_max_ms "$HOOKD_JSON")" "$PC_MAX" "$PS_MAX"
  printf "$t" "(c) backlog when wrk stopped" "$(jv .combined_backlog "$HOOKD_JSON")" "$PC_BACKLOG" "$PS_BACKLOG"
  printf "$t" "(c) backlog delivered after s" "$(jv .combined_backlog_drain_s "$HOOKD_JSON")" "$PC_TAIL" "$PS_TAIL"
  printf "$t" "(c) receiver had every webhook after s" "-" "$PC_RECV_TAIL" "$PS_RECV_TAIL"
  printf "$t" "peak RSS MB, hookd (largest process)" "$(jv .peak_rss_mb "$HOOKD_JSON")" "$PG_PEAK_RSS" "$PS_API_RSS + $PS_WORKER_RSS"
  echo "CPU, PG (a): $PA_CPU"
  echo "CPU, PG (b): $PB_CPU"
  echo "CPU, PG (c): $PC_CPU"
  echo "CPU, PG api+worker: $PS_CPU"
  echo "PostgreSQL $PG_VERSION, throwaway cluster on loopback: fsync off, synchronous_commit off (SQLite: WAL,"
  echo "  synchronous=normal); a fresh database for (a)+(b), for (c) and for api+worker; --lease $BENCH_PG_LEASE."
  echo "api+worker: wrk against the api node; the worker picks up the api node's deliveries when it rescans"
  echo "  (every $PG_RESCAN_MS ms at this lease) or on NOTIFY, so accept->delivered includes that wait."
  echo "delivered = the store has the outcome (status 1); \"receiver had\" = nginx had counted the webhooks."
}
