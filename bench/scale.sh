#!/usr/bin/env bash
# make bench-scale (also `bash bench/bench.sh --scale`): how hookd holds up as the work grows, the scale
# curves of issue 7. Not part of make bench's default run, and hookd only (the baseline has no such
# curves). Same receiver and load as make bench: nginx `return 204` (bench/nginx.conf.in), wrk -t1 -c64
# posting bench/event.lua's 1 KiB event, API rate limit off, every endpoint max_in_flight 100, --no-ping,
# the default --max-connections (256) and --sqlite-sync normal. Each part runs on a fresh SQLite file:
#   fan-out     for N in SCALE_FANOUT (1 10 100 1000): one org with N endpoints, all pointing at nginx;
#               SCALE_DELIVERIES/N events (200,000 deliveries at every N) ingested by `--role api`
#               (bench/scale.lua: wrk stops after that many 202s; requests still in flight then are stored
#               too, so wrk gets -c events/10 when that is below 64), then a `--role worker` drain timed
#               from its start until nothing is pending: deliveries/s = delivered / seconds. Then, hookd
#               stopped and the WAL checkpointed (TRUNCATE), bytes on disk per retained delivery: the
#               file's size / deliveries, and per table with its indexes (sqlite3's dbstat). At N = 1 a
#               delivery is one event + one delivery + one attempt; at larger N the event is shared.
#   1M pending  one org with SCALE_PENDING_ENDPOINTS (1,000) endpoints and a second org with one
#               endpoint (the "probe", make bench's workload). Ingest into the probe for SCALE_SECONDS
#               (wrk -t1 -c64) on the near-empty store; then SCALE_PENDING/1,000 events into the big org,
#               which leaves 1,000,000 deliveries pending; then the same ingest again with them in the
#               store: req/s, p50/p99. Then claim latency: `--role worker` (at --log-level debug, for the
#               writer's "write batch" lines: the engine logs nothing about its store scans) is started
#               and timed to `listening` and to the first delivery (the earliest delivered_at in the
#               store, which is when the receiver answered), with its deliveries/s over SCALE_SECONDS and
#               the writer's batch times; it is stopped without draining everything. Last, hookd
#               stopped, one page of the engine's scan query (its SQLite delivery_due, 512 rows) timed
#               with sqlite3 on that store.
# Checks: no non-202 answer, nothing failed, receiver count == delivered, one attempt per delivery,
# clean exits; a failed check makes the script exit 1 after printing everything. It prints a table and,
# last, `SCALE {json}` with every figure.
#
# Environment: SCALE_FANOUT ("1 10 100 1000"); SCALE_DELIVERIES (200000) per fan-out point;
# SCALE_PENDING (1000000; 0 skips that part); SCALE_PENDING_ENDPOINTS (1000); SCALE_SECONDS (5) of each
# ingest probe and of the worker's run on the big store; SCALE_FILTER (0; 1 gives every endpoint of the
# fan-out part a payload filter that the event matches, FILTER below, to measure what filters cost at
# ingest, where the fan-out runs: compare with a run without it); HOOKD_BIN (build/hookd, copied before use);
# KEEP (0; 1 keeps the temporary directory with the logs and the databases).
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
BENCH="$ROOT/bench"
HOOKD_BIN=${HOOKD_BIN:-$ROOT/build/hookd}
KEEP=${KEEP:-0}
SCALE_FANOUT=${SCALE_FANOUT:-1 10 100 1000}
SCALE_DELIVERIES=${SCALE_DELIVERIES:-200000}
SCALE_PENDING=${SCALE_PENDING:-1000000}
SCALE_PENDING_ENDPOINTS=${SCALE_PENDING_ENDPOINTS:-1000}
SCALE_SECONDS=${SCALE_SECONDS:-5}
SCALE_FILTER=${SCALE_FILTER:-0}
# a typical payload filter (issue 17) that bench/event.lua's invoice matches: two paths, $gte and $in
FILTER='{"data.amount_paid":{"$gte":100},"data.currency":{"$in":["eur","usd"]}}'
CONNECTIONS=64 # make bench's (the baseline's) load
THREADS=1      # bench/scale.lua counts per thread
MAX_IN_FLIGHT=100
SCAN_PAGE=512 # src/engine/engine.c's SCAN_PAGE

for v in SCALE_DELIVERIES SCALE_PENDING SCALE_PENDING_ENDPOINTS SCALE_SECONDS; do
  case ${!v} in '' | *[!0-9]*) echo "$v must be a whole number" >&2; exit 2 ;; esac
done
for n in $SCALE_FANOUT; do
  case $n in '' | *[!0-9]* | 0) echo "SCALE_FANOUT must be endpoint counts (>= 1), e.g. \"1 10 100\"" >&2; exit 2 ;; esac
done
case $SCALE_FILTER in 0 | 1) ;; *) echo "SCALE_FILTER must be 0 or 1" >&2; exit 2 ;; esac
if [ "$SCALE_SECONDS" -lt 1 ] || [ "$SCALE_PENDING_ENDPOINTS" -lt 1 ]; then
  echo "SCALE_SECONDS and SCALE_PENDING_ENDPOINTS must be at least 1" >&2; exit 2
fi
missing=()
for cmd in nginx wrk curl sqlite3 jq node awk pgrep xargs; do command -v "$cmd" >/dev/null || missing+=("$cmd"); done
if [ ${#missing[@]} -gt 0 ]; then
  echo "bench-scale: missing ${missing[*]} (Debian: apt-get install nginx-light wrk curl sqlite3 jq procps)" >&2
  exit 2
fi
[ -x "$HOOKD_BIN" ] || { echo "bench-scale: no $HOOKD_BIN; run make first" >&2; exit 2; }

WORK=$(mktemp -d /tmp/hookd-scale.XXXXXX)
PIDS=()
# shellcheck source=bench/lib.sh
. "$BENCH/lib.sh"
trap 'set +e; stop_all; drop_work' EXIT
trap 'exit 130' INT TERM

NGINX_PORT=$(freeport)
STATUS_URL="http://127.0.0.1:$NGINX_PORT/nginx_status"
: >"$WORK/polls"
DB=
HOOKD_DB_URL=
PG_URL= # q reads SQLite
cp "$HOOKD_BIN" "$WORK/hookd" # the binary may be rebuilt while we run
ADMIN_KEY="adm_$(od -An -tx1 -N24 /dev/urandom | tr -d ' \n')"
HOOKD_PID=
HOOKD_PORT=
LOG_PREFIX=
HOOKD_EXTRA=()
export HOOKD_KEY BENCH_DIR=$BENCH

fresh_db() { # fresh_db NAME: a new SQLite file for start_hookd and q; logs named after it
  DB="$WORK/$1.db"
  HOOKD_DB_URL="sqlite:$DB"
  LOG_PREFIX=$1
}
ms_since() { echo $(($(now_ms) - $1)); }
settled_pending() { # pending deliveries once requests in flight when wrk stopped are committed
  local a b
  a=$(pending)
  while sleep 0.2; b=$(pending); [ "$a" != "$b" ]; do a=$b; done
  echo "$b"
}
secs() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.3f", (b - a) / 1000 }'; }

tenant() { # tenant NAME N [FILTER]: through the api node, an org with a key (sets HOOKD_KEY) and N endpoints at nginx
  local org n=$2 filter=${3:+,\"filter\":$3}
  org=$(api POST /v1/orgs "$ADMIN_KEY" "{\"name\":\"$1\"}" | jq -r .id)
  TENANT_ORG=$org
  HOOKD_KEY=$(api POST "/v1/orgs/$org/api-keys" "$ADMIN_KEY" '{"name":"bench","scopes":["events","webhooks"]}' | jq -r .key)
  # four at a time: 1,000 one after the other take several seconds
  seq "$n" | xargs -P 4 -I{} curl -sS -f -o /dev/null -X POST "http://127.0.0.1:$HOOKD_PORT/v1/endpoints" \
    -H "Authorization: Bearer $HOOKD_KEY" -H 'Content-Type: application/json' \
    -d "{\"url\":\"http://127.0.0.1:$NGINX_PORT/webhook\",\"max_in_flight\":$MAX_IN_FLIGHT$filter}"
  check "$1: endpoints created" "$(q "SELECT count(*) FROM endpoints WHERE org_id = '$org' AND deleted_at IS NULL")" -eq "$n"
}

ingest_count() { # ingest_count EVENTS OUTFILE: wrk until EVENTS answers (bench/scale.lua); sets INGEST_MS, INGEST_C
  local t0 pid
  # the requests in flight when wrk stops are stored too: with few events (a large fan-out) fewer
  # connections keep that overshoot near a tenth of EVENTS
  INGEST_C=$(($1 / 10 < 1 ? 1 : $1 / 10 > CONNECTIONS ? CONNECTIONS : $1 / 10))
  rm -f "$WORK/wrk.done"
  t0=$(now_ms)
  SCALE_EVENTS=$1 SCALE_DONE="$WORK/wrk.done" wrk -t"$THREADS" -c"$INGEST_C" -d3600s --latency \
    -s "$BENCH/scale.lua" "http://127.0.0.1:$HOOKD_PORT" >"$2" &
  pid=$!; PIDS+=("$pid")
  until [ -e "$WORK/wrk.done" ]; do
    kill -0 "$pid" 2>/dev/null || break # wrk failed: its output says why
    sleep 0.02
  done
  INGEST_MS=$(ms_since "$t0")
  kill -INT "$pid" 2>/dev/null || true
  wait "$pid" || { echo "bench-scale: wrk failed:" >&2; cat "$2" >&2; exit 1; }
  check "$2: non-202 responses" "$(wrk_field "$2" non202)" -eq 0
  check "$2: wrk socket errors" "$(wrk_field "$2" errors)" -eq 0
}

drain() { # drain EXPECTED: `--role worker` until nothing is pending, as make bench's (b); sets D_* figures
  local r0 t0 started deadline i=0 got first
  r0=$(receiver)
  t0=$(now_ms)
  start_hookd worker
  thread_ticks "$HOOKD_PID" >"$WORK/$LOG_PREFIX-threads0"
  started=$(now_ms)
  deadline=$((SECONDS + 60 + $1 / 500))
  while :; do
    got=$(receiver)
    if [ "$got" -ge $((r0 + $1)) ] || [ $((i % 20)) = 0 ]; then
      [ "$(pending)" != 0 ] || break
    fi
    [ $SECONDS -lt $deadline ] || { echo "bench-scale: still $(pending) deliveries pending, giving up" >&2; break; }
    kill -0 "$HOOKD_PID" 2>/dev/null || { echo "bench-scale: hookd --role worker exited during the drain" >&2; break; }
    if [ "$got" -ge $((r0 + $1)) ]; then sleep 0.02; else sleep 0.05; fi
    i=$((i + 1))
  done
  D_T1=$(now_ms)
  thread_ticks "$HOOKD_PID" >"$WORK/$LOG_PREFIX-threads1"
  D_SECS=$(secs "$t0" "$D_T1")
  D_CPU=$(thread_cpu "$WORK/$LOG_PREFIX-threads0" "$WORK/$LOG_PREFIX-threads1" "$(secs "$started" "$D_T1")")
  D_RSS=$(hwm_mb "$HOOKD_PID")
  D_RECEIVED=$(($(receiver) - r0))
  stop_hookd "$LOG_PREFIX drain" worker
  D_DELIVERED=$(q "SELECT count(*) FROM deliveries WHERE status = 1")
  first=$(q "SELECT min(delivered_at) FROM deliveries WHERE status = 1")
  D_FIRST_MS=$((${first:-$t0} - t0))
  check "$LOG_PREFIX: nothing pending after the drain" "$(pending)" -eq 0
  check "$LOG_PREFIX: delivered == deliveries stored" "$D_DELIVERED" -eq "$1"
  check "$LOG_PREFIX: receiver count == delivered" "$D_RECEIVED" -eq "$D_DELIVERED"
  check "$LOG_PREFIX: failed + exhausted" "$(q "SELECT count(*) FROM deliveries WHERE status IN (2, 3)")" -eq 0
  check "$LOG_PREFIX: one 2xx attempt per delivery" \
    "$(q "SELECT count(*) FROM attempts WHERE response_status BETWEEN 200 AND 299")" -eq "$D_DELIVERED"
}

disk() { # hookd stopped: checkpoint $DB into its file; sets DISK_BYTES and DISK_TABLES (bytes per table, indexes included)
  sqlite3 -batch "$DB" 'PRAGMA wal_checkpoint(TRUNCATE)' >/dev/null
  DISK_BYTES=$(($(stat -c %s "$DB") + $(stat -c %s "$DB-wal" 2>/dev/null || echo 0)))
  # dbstat (when this sqlite3 has it): each b-tree's pages, an index counted with its table
  DISK_TABLES=$(sqlite3 -batch -json "$DB" "SELECT coalesce(m.tbl_name, s.name) AS t, sum(s.pgsize) AS bytes
      FROM dbstat s LEFT JOIN sqlite_master m ON m.name = s.name GROUP BY 1" 2>/dev/null |
    jq -c 'map({(.t): .bytes}) | add // {}') || DISK_TABLES=null
}
per_delivery() { # per_delivery TABLES_JSON DELIVERIES: "events+deliveries+attempts+rest" bytes per delivery
  jq -r --argjson n "$2" 'if . == null then "-" else
    [(.events // 0), (.deliveries // 0), (.attempts // 0), ((to_entries | map(.value) | add) - (.events // 0) - (.deliveries // 0) - (.attempts // 0))]
    | map(. / $n | round | tostring) | join("+") end' <<<"$1"
}

# ---------------------------------------------------------------- start
log "hookd scale curves: versions and settings"
echo "hookd: $("$WORK/hookd" version 2>&1 | head -1 || true) ($(git -C "$ROOT" describe --always --dirty 2>/dev/null || echo 'not a git checkout'), binary sha256 $(sha256sum "$WORK/hookd" | cut -c1-12))"
echo "sqlite3 $(sqlite3 --version | cut -d' ' -f1), $(nginx -v 2>&1 | sed 's/^nginx version: //'), $(wrk --version 2>&1 | head -1 | cut -d' ' -f1-2)"
echo "$(nproc) CPUs, $(awk '/MemTotal/ { printf "%.0f GiB", $2 / 1048576 }' /proc/meminfo), $(uname -sr), load average $(cut -d' ' -f1-3 /proc/loadavg)"
echo "settings: fan-out $SCALE_FANOUT endpoints$([ "$SCALE_FILTER" = 1 ] && echo " each with the payload filter $FILTER"), $SCALE_DELIVERIES deliveries per point; $SCALE_PENDING pending over" \
  "$SCALE_PENDING_ENDPOINTS endpoints; probes of ${SCALE_SECONDS}s; wrk -t$THREADS -c$CONNECTIONS, 1 KiB event;"
echo "          max_in_flight $MAX_IN_FLIGHT per endpoint, --max-connections 256 (default), --rate-limit 0, --no-ping; work dir $WORK"

log "starting nginx receiver (return 204) on 127.0.0.1:$NGINX_PORT"
start_nginx

# ---------------------------------------------------------------- fan-out
FANOUT_JSON='[]'
ROWS=()
for n in $SCALE_FANOUT; do
  events=$(((SCALE_DELIVERIES + n - 1) / n))
  log "fan-out $n: $n endpoints, $events events ingested by --role api, then a --role worker drain"
  fresh_db "fanout-$n"
  start_hookd api
  tenant "fanout-$n" "$n" "$([ "$SCALE_FILTER" = 1 ] && echo "$FILTER")"
  [ "$SCALE_FILTER" = 0 ] || check "fanout-$n: every endpoint has the filter" \
    "$(q "SELECT count(*) FROM endpoints WHERE filter IS NOT NULL")" -eq "$n"
  thread_ticks "$HOOKD_PID" >"$WORK/$LOG_PREFIX-ingest0"
  ingest_count "$events" "$WORK/wrk-fanout-$n.txt"
  thread_ticks "$HOOKD_PID" >"$WORK/$LOG_PREFIX-ingest1"
  ANSWERED=$(wrk_field "$WORK/wrk-fanout-$n.txt" requests)
  # the api node's CPU per answered event, all threads and the writer's (where the fan-out runs):
  # steadier than the rate on a machine that runs other work
  I_CPU=$(thread_cpu "$WORK/$LOG_PREFIX-ingest0" "$WORK/$LOG_PREFIX-ingest1" "$(secs 0 "$INGEST_MS")")
  read -r I_CPU_US I_WRITER_US < <(awk -v hz="$CLK_TCK" -v ev="$ANSWERED" 'FNR == NR { before[$1] = $3; next }
    { d = $3 - (($1 in before) ? before[$1] : 0); all += d; if ($2 == "hookd-writer") w += d }
    END { printf "%.0f %.0f\n", all / hz * 1e6 / ev, w / hz * 1e6 / ev }' "$WORK/$LOG_PREFIX-ingest0" "$WORK/$LOG_PREFIX-ingest1")
  I_RATE=$(div "$ANSWERED" "$(secs 0 "$INGEST_MS")" %.0f)
  I_DRATE=$(div $((ANSWERED * n)) "$(secs 0 "$INGEST_MS")" %.0f)
  stop_hookd "fanout-$n ingest" api # it commits the requests still in flight when wrk stopped: count after
  STORED_EVENTS=$(q "SELECT count(*) FROM events")
  STORED=$(pending)
  echo "$ANSWERED events answered 202 in $(secs 0 "$INGEST_MS")s (wrk -c$INGEST_C): $I_RATE events/s, $I_DRATE deliveries/s" \
    "(wrk: p50 $(wrk_field "$WORK/wrk-fanout-$n.txt" p50), p99 $(wrk_field "$WORK/wrk-fanout-$n.txt" p99));" \
    "stored $STORED_EVENTS events, $STORED deliveries"
  echo "ingest CPU: $I_CPU; $I_CPU_US us per event, the writer $I_WRITER_US us"
  check "fanout-$n: deliveries == events x endpoints" "$STORED" -eq $((STORED_EVENTS * n))
  drain "$STORED"
  D_RATE=$(div "$D_DELIVERED" "$D_SECS" %.0f)
  echo "delivered $D_DELIVERED in ${D_SECS}s: $D_RATE deliveries/s (first after $D_FIRST_MS ms; receiver got $D_RECEIVED); peak RSS $D_RSS MB"
  echo "CPU: $D_CPU"
  disk
  BPD=$(div "$DISK_BYTES" "$D_DELIVERED" %.0f)
  echo "on disk: $DISK_BYTES bytes, $BPD per delivery; per table: ${DISK_TABLES}"
  FANOUT_JSON=$(jq -c --argjson n "$n" --argjson ev "$STORED_EVENTS" --argjson d "$D_DELIVERED" \
    --argjson is "$(secs 0 "$INGEST_MS")" --argjson ic "$INGEST_C" --argjson ir "$I_RATE" --argjson idr "$I_DRATE" \
    --argjson p50 "$(to_ms "$(wrk_field "$WORK/wrk-fanout-$n.txt" p50)")" --argjson p99 "$(to_ms "$(wrk_field "$WORK/wrk-fanout-$n.txt" p99)")" \
    --argjson icpu "$I_CPU_US" --argjson iw "$I_WRITER_US" \
    --argjson s "$D_SECS" --argjson r "$D_RATE" --argjson f "$D_FIRST_MS" --argjson rss "$D_RSS" \
    --argjson b "$DISK_BYTES" --argjson bpd "$BPD" --argjson t "$DISK_TABLES" \
    '. + [{endpoints: $n, events: $ev, deliveries: $d, ingest_s: $is, ingest_connections: $ic, ingest_events_per_s: $ir,
      ingest_deliveries_per_s: $idr, ingest_cpu_us_per_event: $icpu, ingest_writer_cpu_us_per_event: $iw, ingest_p50_ms: $p50, ingest_p99_ms: $p99, drain_s: $s, deliveries_per_s: $r,
      first_delivery_ms: $f, worker_peak_rss_mb: $rss, db_bytes: $b, bytes_per_delivery: $bpd,
      bytes_by_table: $t, bytes_per_delivery_by_table: (if $t == null then null else ($t | map_values(. / $d | round)) end)}]' <<<"$FANOUT_JSON")
  ROWS+=("$(printf '%7s %8s %10s %9s %10s %8s %9s %12s %7s %7s   %s' "$n" "$STORED_EVENTS" "$D_DELIVERED" "$I_RATE" "$I_DRATE" \
    "$D_SECS" "$D_RATE" "$D_FIRST_MS" "$D_RSS" "$BPD" "$(per_delivery "$DISK_TABLES" "$D_DELIVERED")")")
done

# ---------------------------------------------------------------- 1M pending
PENDING_JSON=null
if [ "$SCALE_PENDING" -gt 0 ]; then
  big_events=$(((SCALE_PENDING + SCALE_PENDING_ENDPOINTS - 1) / SCALE_PENDING_ENDPOINTS))
  log "$SCALE_PENDING pending: $SCALE_PENDING_ENDPOINTS endpoints x $big_events events; ingest and claim with them in the store"
  fresh_db pending
  start_hookd api
  API_PID=$HOOKD_PID
  tenant big "$SCALE_PENDING_ENDPOINTS"
  BIG_KEY=$HOOKD_KEY
  BIG_ORG=$TENANT_ORG
  tenant probe 1
  PROBE_KEY=$HOOKD_KEY
  wrk_run "$SCALE_SECONDS" "$WORK/wrk-probe-empty.txt"
  check "probe (empty store): non-202 responses" "$(wrk_field "$WORK/wrk-probe-empty.txt" non202)" -eq 0
  E_PENDING=$(settled_pending)
  echo "ingest, 1 endpoint, $E_PENDING pending in the store: $(wrk_field "$WORK/wrk-probe-empty.txt" rps) req/s," \
    "p50 $(wrk_field "$WORK/wrk-probe-empty.txt" p50), p99 $(wrk_field "$WORK/wrk-probe-empty.txt" p99)"

  HOOKD_KEY=$BIG_KEY
  ingest_count "$big_events" "$WORK/wrk-fill.txt"
  FILL_MS=$INGEST_MS
  FILL_C=$INGEST_C
  FILL_ANSWERED=$(wrk_field "$WORK/wrk-fill.txt" requests)
  FILL_RATE=$(div $((FILL_ANSWERED * SCALE_PENDING_ENDPOINTS)) "$(secs 0 "$FILL_MS")" %.0f)
  P_PENDING=$(settled_pending)
  echo "filled: $FILL_ANSWERED events answered 202 in $(secs 0 "$FILL_MS")s (wrk -c$INGEST_C; $FILL_RATE deliveries/s stored);" \
    "$((P_PENDING - E_PENDING)) deliveries stored, $P_PENDING pending"
  check "pending after the fill >= SCALE_PENDING" "$P_PENDING" -ge "$SCALE_PENDING"

  HOOKD_KEY=$PROBE_KEY
  wrk_run "$SCALE_SECONDS" "$WORK/wrk-probe-full.txt"
  check "probe (full store): non-202 responses" "$(wrk_field "$WORK/wrk-probe-full.txt" non202)" -eq 0
  echo "ingest, 1 endpoint, $P_PENDING pending in the store: $(wrk_field "$WORK/wrk-probe-full.txt" rps) req/s," \
    "p50 $(wrk_field "$WORK/wrk-probe-full.txt" p50), p99 $(wrk_field "$WORK/wrk-probe-full.txt" p99)"
  P_API_RSS=$(hwm_mb "$API_PID")
  stop_hookd "pending api" api
  P_PENDING_FULL=$P_PENDING # what the second probe ran with
  P_PENDING=$(pending)

  log "claim: --role worker (log level debug) on $P_PENDING pending deliveries, ${SCALE_SECONDS}s, then stopped"
  HOOKD_EXTRA=(--log-level debug) # the writer's "write batch" lines (start_hookd's --log-level warn comes first)
  r0=$(receiver)
  W_T0=$(now_ms)
  start_hookd worker
  # when hookd logged `listening` (its ts), not when this script saw it
  W_LISTEN_MS=$(($(date -d "$(grep -m1 '"msg":"listening"' "$WORK/pending-worker.log" | jq -r .ts)" +%s%3N) - W_T0))
  sleep "$SCALE_SECONDS"
  W_T1=$(now_ms)
  W_RSS=$(hwm_mb "$HOOKD_PID")
  stop_hookd "claim worker" worker
  HOOKD_EXTRA=()
  W_RECEIVED=$(($(receiver) - r0))
  W_DELIVERED=$(q "SELECT count(*) FROM deliveries WHERE status = 1")
  W_FIRST_MS=$(($(q "SELECT coalesce(min(delivered_at), $W_T0) FROM deliveries WHERE status = 1") - W_T0))
  # delivered/s from the first delivery to the stop signal (those finished during the stop grace excluded)
  W_IN_WINDOW=$(q "SELECT count(*) FROM deliveries WHERE status = 1 AND delivered_at <= $W_T1")
  W_RATE=$(div "$W_IN_WINDOW" "$(secs "$((W_T0 + W_FIRST_MS))" "$W_T1")" %.0f)
  # the writer's commits while it ran (the stop's last one, which releases the node's claims, apart)
  read -r WB_N WB_JOBS WB_P50 WB_P99 WB_MAX < <(
    awk '/"msg":"stopping"/ { exit } /"msg":"write batch"/' "$WORK/pending-worker.log" | jq -r '"\(.jobs) \(.ms)"' | sort -k2,2g |
      awk '{ j += $1; v[NR] = $2 }
        function pct(p,  i) { i = int(p / 100 * NR); if (i < p / 100 * NR) i++; if (i < 1) i = 1; return v[i] }
        END { if (NR == 0) print 0, 0, "null", "null", "null"; else printf "%d %.1f %.2f %.2f %.2f\n", NR, j / NR, pct(50), pct(99), v[NR] }')
  echo "worker listening after $W_LISTEN_MS ms; first delivery after $W_FIRST_MS ms (its delivered_at: when nginx answered)"
  echo "delivered $W_DELIVERED ($W_RATE/s from the first delivery to the stop), receiver got $W_RECEIVED; peak RSS $W_RSS MB"
  log_ms() { date -d "$(grep -m1 "\"msg\":\"$1\"" "$WORK/pending-worker.log" | jq -r .ts)" +%s%3N; }
  W_STOP_MS=$(($(log_ms stopped) - $(log_ms stopping)))
  echo "writer: $WB_N commits (\"write batch\"), $WB_JOBS jobs each on average, p50 $WB_P50 / p99 $WB_P99 / max $WB_MAX ms"
  echo "stop: SIGTERM to \"stopped\" in $W_STOP_MS ms"
  check "claim: delivered at least one" "$W_DELIVERED" -ge 1
  check "claim: receiver count == delivered" "$W_RECEIVED" -eq "$W_DELIVERED"
  check "claim: failed + exhausted" "$(q "SELECT count(*) FROM deliveries WHERE status IN (2, 3)")" -eq 0
  check "claim: one 2xx attempt per delivery" \
    "$(q "SELECT count(*) FROM attempts WHERE response_status BETWEEN 200 AND 299")" -eq "$W_DELIVERED"

  # the engine's scan (src/store/sqlite_dialect.c, delivery_due), one page from the start, on this
  # store with hookd stopped: 100 runs in one sqlite3 process after a warm-up run, less the same
  # process running 100 `SELECT 1`; printing the rows (1 KiB payloads) to /dev/null is included
  SCAN_SQL="SELECT d.id, d.org_id, d.event_id, coalesce(d.endpoint_id, ''), d.url, d.event_type,
    d.attempt_count, d.schedule_start, d.next_attempt_at, e.payload FROM deliveries d
    JOIN events e ON e.org_id = d.org_id AND e.id = d.event_id WHERE d.status = 0 AND
    'node' IS NOT NULL AND d.next_attempt_at <= $(now_ms) AND (d.next_attempt_at, d.id) > (0, '')
    ORDER BY d.next_attempt_at, d.id LIMIT $SCAN_PAGE"
  sqlite3 -batch -readonly "$DB" "$SCAN_SQL" >/dev/null
  t0=$(date +%s%N)
  for _ in $(seq 100); do echo "$SCAN_SQL;"; done | sqlite3 -batch -readonly "$DB" >/dev/null
  t1=$(date +%s%N)
  for _ in $(seq 100); do echo "SELECT 1;"; done | sqlite3 -batch -readonly "$DB" >/dev/null
  t2=$(date +%s%N)
  SCAN_MS=$(awk -v a="$t0" -v b="$t1" -v c="$t2" 'BEGIN { printf "%.2f", ((b - a) - (c - b)) / 100 / 1e6 }')
  echo "one scan page ($SCAN_PAGE rows, the engine's query) with $(pending) pending: $SCAN_MS ms (sqlite3, warm)"
  disk
  echo "on disk: $DISK_BYTES bytes for $(q "SELECT count(*) FROM deliveries") deliveries; per table: $DISK_TABLES"

  # retention under load: the big org's history made done and 40 days old, then the probe's ingest
  # beside it, with --retention 3650d (nothing to purge) and with the default 30 days (all of it)
  log "retention: the big org's $(q "SELECT count(*) FROM deliveries WHERE org_id = '$BIG_ORG'") deliveries made done and 40 days old; ingest with and without the purge"
  sqlite3 -batch "$DB" "UPDATE deliveries SET status = 1, created_at = created_at - 3456000000 WHERE org_id = '$BIG_ORG';
     UPDATE events SET created_at = created_at - 3456000000 WHERE org_id = '$BIG_ORG'" >/dev/null
  R_OLD=$(q "SELECT count(*) FROM deliveries WHERE org_id = '$BIG_ORG'")
  HOOKD_KEY=$PROBE_KEY
  HOOKD_EXTRA=(--retention 3650d)
  start_hookd api
  wrk_run "$SCALE_SECONDS" "$WORK/wrk-probe-keep.txt"
  stop_hookd "retention kept" api
  HOOKD_EXTRA=()
  check "retention: 3650d purged nothing" "$(q "SELECT count(*) FROM deliveries WHERE org_id = '$BIG_ORG'")" -eq "$R_OLD"
  disk
  R_BYTES0=$DISK_BYTES
  start_hookd api
  R_T0=$(now_ms)
  wrk_run "$SCALE_SECONDS" "$WORK/wrk-probe-purge.txt"
  R_T1=$(now_ms)
  R_LEFT_AT_STOP=$(q "SELECT count(*) FROM deliveries WHERE org_id = '$BIG_ORG'")
  while [ "$(q "SELECT count(*) FROM deliveries WHERE org_id = '$BIG_ORG'")" != 0 ] && [ $(($(now_ms) - R_T0)) -lt 300000 ]; do
    sleep 0.5
  done
  R_T2=$(now_ms)
  stop_hookd "retention purge" api
  R_LEFT=$(q "SELECT count(*) FROM deliveries WHERE org_id = '$BIG_ORG'")
  R_ATTEMPTS=$(q "SELECT count(*) FROM attempts WHERE delivery_id NOT IN (SELECT id FROM deliveries)")
  disk
  R_BYTES1=$DISK_BYTES
  R_RATE=$(div $(((R_OLD - R_LEFT_AT_STOP) * 1000)) $((R_T1 - R_T0)) %.0f)
  for f in keep purge; do
    check "retention probe ($f): non-202 responses" "$(wrk_field "$WORK/wrk-probe-$f.txt" non202)" -eq 0
  done
  check "retention: every old delivery purged" "$R_LEFT" -eq 0
  check "retention: no attempt left without its delivery" "$R_ATTEMPTS" -eq 0
  echo "ingest beside $R_OLD old deliveries, kept: $(wrk_field "$WORK/wrk-probe-keep.txt" rps) req/s, p50 $(wrk_field "$WORK/wrk-probe-keep.txt" p50), p99 $(wrk_field "$WORK/wrk-probe-keep.txt" p99)"
  echo "ingest while they are purged: $(wrk_field "$WORK/wrk-probe-purge.txt" rps) req/s, p50 $(wrk_field "$WORK/wrk-probe-purge.txt" p50), p99 $(wrk_field "$WORK/wrk-probe-purge.txt" p99);" \
    "$R_RATE deliveries/s purged meanwhile, all $R_OLD gone $(secs "$R_T0" "$R_T2") s after the start; the file $R_BYTES0 -> $R_BYTES1 bytes"

  probe_json() { jq -nc --argjson p "$1" --argjson rps "$(wrk_field "$2" rps)" \
    --argjson p50 "$(to_ms "$(wrk_field "$2" p50)")" --argjson p99 "$(to_ms "$(wrk_field "$2" p99)")" \
    '{pending: $p, ingest_rps: $rps, p50_ms: $p50, p99_ms: $p99}'; }
  PENDING_JSON=$(jq -nc --argjson pending "$P_PENDING" --argjson endpoints "$SCALE_PENDING_ENDPOINTS" \
    --argjson fill_s "$(secs 0 "$FILL_MS")" --argjson fill_rate "$FILL_RATE" \
    --argjson empty "$(probe_json "$E_PENDING" "$WORK/wrk-probe-empty.txt")" \
    --argjson full "$(probe_json "$P_PENDING_FULL" "$WORK/wrk-probe-full.txt")" --argjson api_rss "$P_API_RSS" \
    --argjson listen "$W_LISTEN_MS" --argjson first "$W_FIRST_MS" \
    --argjson rate "$W_RATE" --argjson delivered "$W_DELIVERED" --argjson rss "$W_RSS" \
    --argjson wbn "$WB_N" --argjson wbj "$WB_JOBS" --argjson wb50 "$WB_P50" --argjson wb99 "$WB_P99" --argjson wbmax "$WB_MAX" \
    --argjson stop "$W_STOP_MS" --argjson scan "$SCAN_MS" --argjson bytes "$DISK_BYTES" --argjson tables "$DISK_TABLES" \
    '{pending: $pending, endpoints: $endpoints, fill_s: $fill_s, fill_deliveries_per_s: $fill_rate,
      ingest_empty: $empty, ingest_full: $full, api_peak_rss_mb: $api_rss,
      worker_listening_ms: $listen, first_delivery_ms: $first,
      deliveries_per_s: $rate, delivered: $delivered, worker_peak_rss_mb: $rss,
      write_batches: {count: $wbn, mean_jobs: $wbj, p50_ms: $wb50, p99_ms: $wb99, max_ms: $wbmax},
      worker_stop_ms: $stop, scan_page_ms: $scan, db_bytes: $bytes, bytes_by_table: $tables}')
  PENDING_JSON=$(jq -c --argjson old "$R_OLD" --argjson keep "$(probe_json 0 "$WORK/wrk-probe-keep.txt")" \
    --argjson purge "$(probe_json 0 "$WORK/wrk-probe-purge.txt")" --argjson rate "$R_RATE" \
    --argjson all_s "$(secs "$R_T0" "$R_T2")" --argjson b0 "$R_BYTES0" --argjson b1 "$R_BYTES1" \
    '. + {retention: {old_deliveries: $old, ingest_kept: ($keep | del(.pending)), ingest_purging: ($purge | del(.pending)),
      purged_per_s_under_ingest: $rate, all_purged_s: $all_s, db_bytes_before: $b0, db_bytes_after: $b1}}' <<<"$PENDING_JSON")
fi
stop "$NGINX_PID" || true

# ---------------------------------------------------------------- summary
log "hookd scale curves"
printf '%7s %8s %10s %9s %10s %8s %9s %12s %7s %7s   %s\n' "fan-out" "events" "deliveries" "ingest" "created" \
  "drain" "drain" "first" "RSS" "bytes/" "bytes/delivery by table"
printf '%7s %8s %10s %9s %10s %8s %9s %12s %7s %7s   %s\n' "" "" "" "events/s" "deliv./s" "s" "deliv./s" \
  "delivery ms" "MB" "deliv." "events+deliveries+attempts+rest"
[ ${#ROWS[@]} -eq 0 ] || printf '%s\n' "${ROWS[@]}"
if [ "$PENDING_JSON" != null ]; then
  jv() { jq -r "$1 // \"-\"" <<<"$PENDING_JSON"; }
  echo
  row() { printf '%-66s %s\n' "$1" "$2"; }
  row "with $(jv .pending) deliveries pending ($(jv .endpoints) endpoints)" ""
  row "  filled in (--role api, wrk -t$THREADS -c$FILL_C)" "$(jv .fill_s) s, $(jv .fill_deliveries_per_s) deliveries/s stored"
  row "  ingest req/s, 1 endpoint, near-empty store ($(jv .ingest_empty.pending) pending)" \
    "$(jv .ingest_empty.ingest_rps) (p50 $(jv .ingest_empty.p50_ms) / p99 $(jv .ingest_empty.p99_ms) ms)"
  row "  ingest req/s, 1 endpoint, $(jv .ingest_full.pending) pending" \
    "$(jv .ingest_full.ingest_rps) (p50 $(jv .ingest_full.p50_ms) / p99 $(jv .ingest_full.p99_ms) ms)"
  row "  worker start -> listening" "$(jv .worker_listening_ms) ms"
  row "  worker start -> first delivery (its delivered_at)" "$(jv .first_delivery_ms) ms"
  row "  deliveries/s over ${SCALE_SECONDS}s from the first" "$(jv .deliveries_per_s)"
  row "  writer commits p50 / p99 / max (mean jobs each)" \
    "$(jv .write_batches.p50_ms) / $(jv .write_batches.p99_ms) / $(jv .write_batches.max_ms) ms ($(jv .write_batches.mean_jobs))"
  row "  one scan page ($SCAN_PAGE rows), sqlite3, warm" "$(jv .scan_page_ms) ms"
  row "  worker SIGTERM -> stopped" "$(jv .worker_stop_ms) ms"
  row "  peak RSS api / worker" "$(jv .api_peak_rss_mb) / $(jv .worker_peak_rss_mb) MB"
  row "  ingest beside $(jv .retention.old_deliveries) old deliveries, no purge" \
    "$(jv .retention.ingest_kept.ingest_rps) (p50 $(jv .retention.ingest_kept.p50_ms) / p99 $(jv .retention.ingest_kept.p99_ms) ms)"
  row "  ingest while they are purged" \
    "$(jv .retention.ingest_purging.ingest_rps) (p50 $(jv .retention.ingest_purging.p50_ms) / p99 $(jv .retention.ingest_purging.p99_ms) ms)"
  row "  purged under ingest / all gone after" "$(jv .retention.purged_per_s_under_ingest) deliveries/s / $(jv .retention.all_purged_s) s"
fi

echo
if [ ${#FAILED[@]} -eq 0 ]; then
  echo "bench-scale: all $CHECKS checks passed"
else
  echo "bench-scale: ${#FAILED[@]} of $CHECKS checks FAILED:"
  printf '  %s\n' "${FAILED[@]}"
fi
echo "SCALE $(jq -nc --argjson f "$FANOUT_JSON" --argjson p "$PENDING_JSON" \
  --argjson ok "$([ ${#FAILED[@]} -eq 0 ] && echo true || echo false)" \
  --argjson filter "$([ "$SCALE_FILTER" = 1 ] && echo "$FILTER" || echo null)" \
  '{fanout: $f, fanout_filter: $filter, pending: $p, checks_passed: $ok}')"
[ ${#FAILED[@]} -eq 0 ]
