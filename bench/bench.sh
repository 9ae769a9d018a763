#!/usr/bin/env bash
# make bench: hookd against the DIY stack it replaces (../shared/baseline: Node.js + BullMQ + Redis),
# same machine, same workload, same invocation. Issue 7.
#
# hookd part, in a fresh temporary directory, on a fresh SQLite file, with the same receiver as the
# baseline (nginx, one worker, `return 204`, stub_status to count requests) and the same load
# (wrk -t1 -c64, the baseline's 1 KiB event), one org, one API key, one endpoint with
# max_in_flight 100 (the baseline's worker concurrency) and the API rate limit off (--rate-limit 0):
#   warm-up  2 s of ingest, as the baseline does (those events are delivered in (b) too)
#   (a) ingest only  hookd --role api: requests/s, latency, non-202 responses
#   (b) drain        the api process stopped (SIGTERM), hookd --role worker started on the same file;
#                    timed from its start until no delivery is pending
#   (c) combined     hookd --role all on the same file (history from (a) and (b) in it, as the
#                    baseline keeps its completed jobs): ingest and delivery together, delivered/s
#                    sampled every second, the backlog when wrk stops and its drain time,
#                    accept->delivered p50/p99/max from the delivery log (deliveries created in (c))
# Every delivery is checked (receiver count == delivered, nothing failed or retried, no non-202, one
# delivery per accepted event); a failed check makes the script exit 1 (after printing everything).
# Then, with BENCH_PG=1, the same on PostgreSQL (bench/postgres.sh: a throwaway cluster from
# tests/pg/pg.sh, a fresh database per run): (a) and (b) on one database, (c) on another, and an
# `api` node plus a `worker` node together on a third; a second table, "hookd on PostgreSQL".
# Then the baseline's bench.sh runs in a temporary copy (npm install there when node_modules is
# missing) with DURATION=$BENCH_DURATION, and one table compares both; the last line is
# `RESULT {json}`.
#
# Environment: BENCH_DURATION (10) wrk seconds per run; BENCH_BASELINE (1; 0 = hookd only, no ratios);
# BENCH_PG (1 when PostgreSQL's initdb is installed; 0 skips the PostgreSQL runs); BENCH_PG_LEASE
# (30s, hookd's default: --lease of the PostgreSQL nodes; a worker rescans every lease/3, 1-5 s);
# BASELINE_DIR (../shared/baseline next to the repo); HOOKD_BIN (build/hookd, copied before use);
# KEEP (0; 1 keeps the temporary directory with the logs and the database, and the baseline's);
# BENCH_CHART (docs/performance.png: the PNG bench/chart.sh draws with gnuplot from the RESULT json at the
# end, when gnuplot is installed and every check passed; 0 = no chart).
# `bash bench/bench.sh --scale` (make bench-scale) runs bench/scale.sh's scale curves instead.
set -euo pipefail
# --scale: the scale curves instead (bench/scale.sh, make bench-scale), never part of the default run
if [ "${1:-}" = --scale ]; then shift; exec bash "$(dirname "$0")/scale.sh" "$@"; fi

ROOT=$(cd "$(dirname "$0")/.." && pwd)
BENCH="$ROOT/bench"
BENCH_DURATION=${BENCH_DURATION:-10}
BENCH_BASELINE=${BENCH_BASELINE:-1}
BASELINE_DIR=${BASELINE_DIR:-$ROOT/../shared/baseline}
HOOKD_BIN=${HOOKD_BIN:-$ROOT/build/hookd}
KEEP=${KEEP:-0}
BENCH_PG_LEASE=${BENCH_PG_LEASE:-30s}
BENCH_CHART=${BENCH_CHART:-$ROOT/docs/performance.png}
# Debian keeps PostgreSQL's server programs off PATH; tests/pg/pg.sh looks in the same places
PG_BIN=${PG_BIN:-$(find /usr/lib/postgresql -mindepth 2 -maxdepth 2 -name bin 2>/dev/null | sort -V | tail -n 1)}
if [ -z "$PG_BIN" ] && command -v initdb >/dev/null; then PG_BIN=$(dirname "$(command -v initdb)"); fi
if [ -z "${BENCH_PG:-}" ]; then
  if [ -n "$PG_BIN" ] && [ -x "$PG_BIN/initdb" ]; then BENCH_PG=1; else BENCH_PG=0; BENCH_PG_WHY="no initdb"; fi
fi
CONNECTIONS=64          # the baseline's settings; not knobs here so that the comparison stays fair
THREADS=1
WARMUP=2
MAX_IN_FLIGHT=100

case $BENCH_DURATION in '' | *[!0-9]*) echo "BENCH_DURATION must be a whole number of seconds" >&2; exit 2 ;; esac
[ "$BENCH_DURATION" -ge 2 ] || { echo "BENCH_DURATION must be at least 2" >&2; exit 2; }
case $BENCH_PG in 0 | 1) ;; *) echo "BENCH_PG must be 0 or 1" >&2; exit 2 ;; esac
missing=()
for cmd in nginx wrk curl sqlite3 jq node awk pgrep; do command -v "$cmd" >/dev/null || missing+=("$cmd"); done
if [ "$BENCH_BASELINE" = 1 ]; then
  for cmd in npm redis-server redis-cli; do command -v "$cmd" >/dev/null || missing+=("$cmd"); done
  [ -x "$BASELINE_DIR/bench.sh" ] || { echo "bench: no baseline at $BASELINE_DIR (BENCH_BASELINE=0 skips it)" >&2; exit 2; }
  BASELINE_DIR=$(cd "$BASELINE_DIR" && pwd)
fi
if [ "$BENCH_PG" = 1 ]; then
  [ -n "$PG_BIN" ] && [ -x "$PG_BIN/initdb" ] ||
    { echo "bench: PostgreSQL's initdb is missing (Debian: apt-get install postgresql; BENCH_PG=0 skips it)" >&2; exit 2; }
  PSQL=$PG_BIN/psql
  [ -x "$PSQL" ] || PSQL=$(command -v psql) || missing+=(psql)
fi
if [ ${#missing[@]} -gt 0 ]; then
  echo "bench: missing ${missing[*]} (Debian: apt-get install nginx-light wrk curl sqlite3 jq redis-server procps gnuplot-nox)" >&2
  exit 2
fi
# gnuplot only draws the chart at the end: a run without it says so now and at the end, and goes on
GNUPLOT=$(command -v gnuplot || true)
if [ -z "$GNUPLOT" ] && [ "$BENCH_CHART" != 0 ]; then
  echo "bench: gnuplot is missing, so no chart at the end (Debian: apt-get install gnuplot-nox; BENCH_CHART=0 silences this)" >&2
fi
[ -x "$HOOKD_BIN" ] || { echo "bench: no $HOOKD_BIN; run make first" >&2; exit 2; }

WORK=$(mktemp -d /tmp/hookd-bench.XXXXXX)
PIDS=()
# shellcheck source=bench/lib.sh
. "$BENCH/lib.sh" # stop, check, start_hookd, q, receiver, wrk_run and the other helpers
PG_DIR=
cleanup() {
  set +e
  stop_all
  if [ -n "$PG_DIR" ]; then
    cp "$PG_DIR/server.log" "$WORK/postgres-server.log" 2>/dev/null
    PG_BIN=$PG_BIN bash "$ROOT/tests/pg/pg.sh" stop "$PG_DIR"
  fi
  drop_work
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# ---------------------------------------------------------------- receiver and store
NGINX_PORT=$(freeport)
STATUS_URL="http://127.0.0.1:$NGINX_PORT/nginx_status"
: >"$WORK/polls"
DB="$WORK/hookd.db"
HOOKD_DB_URL="sqlite:$DB" # the store of start_hookd and q; bench/postgres.sh points both at PostgreSQL
PG_URL=
cp "$HOOKD_BIN" "$WORK/hookd" # the binary may be rebuilt while we run
ADMIN_KEY="adm_$(od -An -tx1 -N24 /dev/urandom | tr -d ' \n')"
HOOKD_PID=
HOOKD_PORT=
LOG_PREFIX=hookd  # logs: $WORK/$LOG_PREFIX-ROLE.log (stderr) and .out
HOOKD_EXTRA=()    # more options of start_hookd

# ---------------------------------------------------------------- start
log "hookd: versions and settings"
HOOKD_VERSION=$("$WORK/hookd" --version 2>&1 | head -1 || true)
echo "hookd: ${HOOKD_VERSION:-?} ($(git -C "$ROOT" describe --always --dirty 2>/dev/null || echo 'not a git checkout'), binary sha256 $(sha256sum "$WORK/hookd" | cut -c1-12))"
echo "sqlite3 $(sqlite3 --version | cut -d' ' -f1), $(nginx -v 2>&1 | sed 's/^nginx version: //'), $(wrk --version 2>&1 | head -1 | cut -d' ' -f1-2)"
if [ "$BENCH_PG" = 1 ]; then PG_VERSION=$("$PG_BIN/postgres" --version | sed 's/^postgres (PostgreSQL) //'); echo "PostgreSQL $PG_VERSION ($PG_BIN)"; fi
echo "$(nproc) CPUs, $(awk '/MemTotal/ { printf "%.0f GiB", $2 / 1048576 }' /proc/meminfo), $(uname -sr), load average $(cut -d' ' -f1-3 /proc/loadavg)"
echo "settings: wrk -t$THREADS -c$CONNECTIONS -d${BENCH_DURATION}s, ${WARMUP}s warm-up, 1 KiB event; 1 org, 1 key, 1 endpoint"
echo "          endpoint max_in_flight $MAX_IN_FLIGHT (the baseline's worker concurrency), API rate limit off (--rate-limit 0),"
echo "          SQLite (--sqlite-sync normal, the default), --log-level warn, --no-ping; work dir $WORK"
CALIB_START=$(calibrate)
echo "CPU check (1 KB HMAC-SHA256 per second, one core, idle machine): $CALIB_START"

log "starting nginx receiver (return 204) on 127.0.0.1:$NGINX_PORT"
start_nginx

log "starting hookd --role api on a fresh SQLite file; org, key, endpoint"
start_hookd api
API_PID=$HOOKD_PID
export HOOKD_KEY
setup_tenant() { # through the node on $HOOKD_PORT: one org, one key (HOOKD_KEY, for wrk), one endpoint
  ORG_ID=$(api POST /v1/orgs "$ADMIN_KEY" '{"name":"bench"}' | jq -r .id)
  HOOKD_KEY=$(api POST "/v1/orgs/$ORG_ID/api-keys" "$ADMIN_KEY" '{"name":"bench","scopes":["events","webhooks"]}' | jq -r .key)
  ENDPOINT=$(api POST /v1/endpoints "$HOOKD_KEY" \
    "{\"url\":\"http://127.0.0.1:$NGINX_PORT/webhook\",\"max_in_flight\":$MAX_IN_FLIGHT}")
}
setup_tenant
echo "hookd on 127.0.0.1:$HOOKD_PORT (pid $API_PID), org $ORG_ID, endpoint $(jq -r .id <<<"$ENDPOINT")" \
  "-> $(jq -r .url <<<"$ENDPOINT"), max_in_flight $(jq -r .max_in_flight <<<"$ENDPOINT")"

log "warm-up: ${WARMUP}s of ingest (these events are delivered in (b) too)"
wrk_run "$WARMUP" "$WORK/wrk-warmup.txt"
awk '/^Requests\/sec:/' "$WORK/wrk-warmup.txt"

# ---------------------------------------------------------------- (a) ingest only
log "(a) ingest only: hookd --role api, nothing dispatched"
thread_ticks "$API_PID" >"$WORK/a-threads0"; t0=$(now_ms)
wrk_run "$BENCH_DURATION" "$WORK/wrk-ingest.txt"
t1=$(now_ms); thread_ticks "$API_PID" >"$WORK/a-threads1"
cat "$WORK/wrk-ingest.txt"
A_SECS=$(awk -v a="$t0" -v b="$t1" 'BEGIN { print (b - a) / 1000 }')
A_CPU="hookd: $(thread_cpu "$WORK/a-threads0" "$WORK/a-threads1" "$A_SECS")"
echo "CPU during (a): $A_CPU"
A_RSS=$(hwm_mb "$API_PID")
stop_hookd "(a)" api
QUEUED=$(pending)
echo "pending deliveries after (a): $QUEUED"
check "(a) deliveries queued by the warm-up and (a)" "$QUEUED" -ge 1

# ---------------------------------------------------------------- (b) drain
log "(b) drain: hookd --role worker on the same file, timed from its start until nothing is pending"
r0=$(receiver); n0=$(ticks "$NGINX_WORKER_PID")
B_T0=$(now_ms)
start_hookd worker
WORKER_PID=$HOOKD_PID
thread_ticks "$WORKER_PID" >"$WORK/b-threads0"
B_STARTED=$(now_ms)
# nginx's counter is cheap to poll; the store is asked every second, and every 20 ms once the
# receiver has seen everything, until no delivery is pending
deadline=$((SECONDS + 60 + QUEUED / 500))
i=0
while :; do
  got=$(receiver)
  if [ "$got" -ge $((r0 + QUEUED)) ] || [ $((i % 20)) = 0 ]; then
    [ "$(pending)" != 0 ] || break
  fi
  [ $SECONDS -lt $deadline ] || { echo "bench: (b) still $(pending) deliveries pending, giving up" >&2; break; }
  kill -0 "$WORKER_PID" 2>/dev/null || { echo "bench: hookd --role worker exited during (b)" >&2; break; }
  if [ "$got" -ge $((r0 + QUEUED)) ]; then sleep 0.02; else sleep 0.05; fi
  i=$((i + 1))
done
B_T1=$(now_ms)
thread_ticks "$WORKER_PID" >"$WORK/b-threads1"; n1=$(ticks "$NGINX_WORKER_PID")
r1=$(receiver)
B_SECS=$(awk -v a="$B_T0" -v b="$B_T1" 'BEGIN { print (b - a) / 1000 }')
B_CPU_SECS=$(awk -v a="$B_STARTED" -v b="$B_T1" 'BEGIN { print (b - a) / 1000 }')
B_CPU="hookd: $(thread_cpu "$WORK/b-threads0" "$WORK/b-threads1" "$B_CPU_SECS"); nginx $(cpu_pct "$n0" "$n1" "$B_CPU_SECS")"
B_RSS=$(hwm_mb "$WORKER_PID")
B_LEFT=$(pending)
B_DELIVERED=$(q "SELECT count(*) FROM deliveries WHERE status = 1")
B_NOT_OK=$(q "SELECT count(*) FROM deliveries WHERE status IN (2, 3)")
B_RECEIVED=$((r1 - r0))
B_RATE=$(div "$B_DELIVERED" "$B_SECS" %.0f)
B_FIRST=$(q "SELECT min(delivered_at) FROM deliveries WHERE status = 1")
B_RATE_AFTER_FIRST=$(div "$B_DELIVERED" "$(awk -v a="$B_FIRST" -v b="$B_T1" 'BEGIN { print (b - a) / 1000 }')" %.0f)
echo "queued $QUEUED, delivered $B_DELIVERED in ${B_SECS}s (first delivery $((B_FIRST - B_T0)) ms after the worker was started), pending $B_LEFT, failed/exhausted $B_NOT_OK, receiver got $B_RECEIVED"
echo "deliveries/s: $B_RATE ($B_RATE_AFTER_FIRST/s counted from the first delivery)"
echo "CPU during (b): $B_CPU"
stop_hookd "(b)" worker
check "(b) nothing pending after the drain" "$B_LEFT" -eq 0
check "(b) delivered == queued" "$B_DELIVERED" -eq "$QUEUED"
check "(b) receiver count == delivered" "$B_RECEIVED" -eq "$B_DELIVERED"
check "(b) failed + exhausted == 0" "$B_NOT_OK" -eq 0

# ---------------------------------------------------------------- (c) combined
log "(c) combined: hookd --role all on the same file, ingest and delivery together for ${BENCH_DURATION}s"
start_hookd all
ALL_PID=$HOOKD_PID
C_T0=$(now_ms)
c_snapshot() { # "t_ms delivered_since_C_T0 pending receiver": nothing was pending at C_T0, so whatever
  # was created since then and is no longer pending has been delivered (failures are checked below)
  local t r
  t=$(now_ms); r=$(receiver)
  q "SELECT $t, (SELECT count(*) FROM deliveries WHERE org_id = '$ORG_ID' AND created_at >= $C_T0)
      - (SELECT count(*) FROM deliveries WHERE status = 0), (SELECT count(*) FROM deliveries WHERE status = 0), $r" |
    tr '|' ' '
}
c_sampler() { # like the baseline's: a snapshot now, then one a second for $1 intervals
  local t_first i target wait_s
  c_snapshot
  t_first=$(now_ms)
  for ((i = 1; i <= $1; i++)); do
    target=$((t_first + i * 1000)); wait_s=$(awk -v a="$target" -v b="$(now_ms)" 'BEGIN { d = (a - b) / 1000; print (d > 0 ? d : 0) }')
    sleep "$wait_s"
    c_snapshot
  done
}
thread_ticks "$ALL_PID" >"$WORK/c-threads0"; n0=$(ticks "$NGINX_WORKER_PID"); r0=$(receiver)
# the sampler runs next to wrk for DURATION-1 one-second intervals, as the baseline's does
c_sampler $((BENCH_DURATION - 1)) >"$WORK/c-samples.txt" &
SAMPLER_PID=$!; PIDS+=("$SAMPLER_PID")
wrk_run "$BENCH_DURATION" "$WORK/wrk-combined.txt"
C_T1=$(now_ms)
C_BACKLOG=$(pending)
thread_ticks "$ALL_PID" >"$WORK/c-threads1"; n1=$(ticks "$NGINX_WORKER_PID")
wait "$SAMPLER_PID"
cat "$WORK/wrk-combined.txt"
C_SECS=$(awk -v a="$C_T0" -v b="$C_T1" 'BEGIN { print (b - a) / 1000 }')
C_CPU="hookd: $(thread_cpu "$WORK/c-threads0" "$WORK/c-threads1" "$C_SECS"); nginx $(cpu_pct "$n0" "$n1" "$C_SECS")"
read -r C_RATE C_RECV_RATE C_SAMPLE_SECS C_SAMPLES < <(awk '
  NR == 1 { t0 = $1; d0 = $2; r0 = $4 }
  NR > 1 { s = s " " int((($2 - pd) * 1000) / ($1 - pt) + 0.5) }
  { pt = $1; pd = $2; t = $1; d = $2; r = $4 }
  END { printf "%.0f %.0f %.2f%s\n", (d - d0) * 1000 / (t - t0), (r - r0) * 1000 / (t - t0), (t - t0) / 1000, s }' "$WORK/c-samples.txt")
echo "delivered/s while wrk ran: $C_RATE (receiver: $C_RECV_RATE/s; 1-s samples: $C_SAMPLES)"
echo "backlog when wrk stopped: $C_BACKLOG pending"
while [ "$(pending)" != 0 ]; do
  [ $(($(now_ms) - C_T1)) -lt 120000 ] || { echo "bench: (c) backlog not drained after 120 s" >&2; break; }
  kill -0 "$ALL_PID" 2>/dev/null || { echo "bench: hookd --role all exited during (c)" >&2; break; }
  sleep 0.02
done
C_T2=$(now_ms)
C_TAIL=$(awk -v a="$C_T1" -v b="$C_T2" 'BEGIN { printf "%.3f", (b - a) / 1000 }')
echo "backlog delivered ${C_TAIL}s after wrk stopped"
r1=$(receiver)
C_RSS=$(hwm_mb "$ALL_PID")
ACCEPTS=$(receiver_accepts)
POLLS=$(wc -l <"$WORK/polls")
echo "CPU during (c): $C_CPU"
stop_hookd "(c)" all

# ---------------------------------------------------------------- the delivery log, hookd stopped
C_CREATED=$(q "SELECT count(*) FROM deliveries WHERE org_id = '$ORG_ID' AND created_at >= $C_T0")
C_RECEIVED=$((r1 - r0))
read -r C_N C_P50 C_P90 C_P99 C_MAX < <(
  q "SELECT delivered_at - created_at FROM deliveries WHERE org_id = '$ORG_ID' AND created_at BETWEEN $C_T0 AND $C_T1
     AND status = 1 ORDER BY 1" |
    awk '{ v[NR] = $1 }
      function pct(p,  i) { i = int(p / 100 * NR); if (i < p / 100 * NR) i++; if (i < 1) i = 1; return v[i] }
      END { if (NR == 0) print 0, "null", "null", "null", "null"; else print NR, pct(50), pct(90), pct(99), v[NR] }')
echo "(c) accept->delivered over $C_N deliveries created during the run: p50 $C_P50 / p90 $C_P90 / p99 $C_P99 / max $C_MAX ms"

TOTAL_EVENTS=$(q "SELECT count(*) FROM events")
TOTAL_DELIVERIES=$(q "SELECT count(*) FROM deliveries")
TOTAL_DELIVERED=$(q "SELECT count(*) FROM deliveries WHERE status = 1")
TOTAL_PENDING=$(q "SELECT count(*) FROM deliveries WHERE status = 0")
TOTAL_NOT_OK=$(q "SELECT count(*) FROM deliveries WHERE status NOT IN (0, 1)")
TOTAL_ATTEMPTS=$(q "SELECT count(*) FROM attempts")
BAD_ATTEMPTS=$(q "SELECT count(*) FROM attempts WHERE response_status IS NULL OR response_status NOT BETWEEN 200 AND 299")
NO_DELIVERED_AT=$(q "SELECT count(*) FROM deliveries WHERE status = 1 AND delivered_at IS NULL")
WRK_ACCEPTED=0
for f in warmup ingest combined; do WRK_ACCEPTED=$((WRK_ACCEPTED + $(wrk_field "$WORK/wrk-$f.txt" requests))); done
DB_MB=$(du -cm "$DB"* | awk 'END { print $1 }')

log "hookd: checks"
check "(a) non-202 responses" "$(wrk_field "$WORK/wrk-ingest.txt" non202)" -eq 0
check "(a) wrk socket errors" "$(wrk_field "$WORK/wrk-ingest.txt" errors)" -eq 0
check "warm-up non-202 responses" "$(wrk_field "$WORK/wrk-warmup.txt" non202)" -eq 0
check "(c) non-202 responses" "$(wrk_field "$WORK/wrk-combined.txt" non202)" -eq 0
check "(c) wrk socket errors" "$(wrk_field "$WORK/wrk-combined.txt" errors)" -eq 0
check "(c) receiver count == deliveries created in (c), all delivered" "$C_RECEIVED" -eq "$C_CREATED"
check "all: one delivery per stored event" "$TOTAL_DELIVERIES" -eq "$TOTAL_EVENTS"
check "all: stored events >= responses wrk counted (202s)" "$TOTAL_EVENTS" -ge "$WRK_ACCEPTED"
check "all: stored events - wrk's 202s <= requests in flight when wrk stopped" "$((TOTAL_EVENTS - WRK_ACCEPTED))" -le $((3 * CONNECTIONS))
check "all: delivered == deliveries" "$TOTAL_DELIVERED" -eq "$TOTAL_DELIVERIES"
check "all: pending" "$TOTAL_PENDING" -eq 0
check "all: failed + exhausted" "$TOTAL_NOT_OK" -eq 0
check "all: receiver count ((b) + (c)) == delivered" "$((B_RECEIVED + C_RECEIVED))" -eq "$TOTAL_DELIVERED"
check "all: one attempt per delivery (no retries)" "$TOTAL_ATTEMPTS" -eq "$TOTAL_DELIVERED"
check "all: attempts without a 2xx answer" "$BAD_ATTEMPTS" -eq 0
check "all: delivered without delivered_at" "$NO_DELIVERED_AT" -eq 0
check "(c) deliveries created during wrk, with a latency" "$C_N" -ge 1

PEAK_RSS=$(printf '%s\n' "$A_RSS" "$B_RSS" "$C_RSS" | sort -g | tail -1)
A_RPS=$(wrk_field "$WORK/wrk-ingest.txt" rps); C_RPS=$(wrk_field "$WORK/wrk-combined.txt" rps)

log "hookd: summary"
row() { printf '%-50s %s\n' "$1" "$2"; }
row "metric" "value"
row "------" "-----"
row "(a) ingest req/s (wrk -t$THREADS -c$CONNECTIONS ${BENCH_DURATION}s)" "$A_RPS"
row "(a) ingest latency p50 / p99" "$(wrk_field "$WORK/wrk-ingest.txt" p50) / $(wrk_field "$WORK/wrk-ingest.txt" p99)"
row "(a) non-202 / wrk non-2xx / socket errors" "$(wrk_field "$WORK/wrk-ingest.txt" non202) / $(wrk_field "$WORK/wrk-ingest.txt" non2xx) / $(wrk_field "$WORK/wrk-ingest.txt" errors)"
row "(a) CPU" "$A_CPU"
row "(b) deliveries drained" "$B_DELIVERED (failed $B_NOT_OK, receiver got $B_RECEIVED)"
row "(b) drain time (from the worker's start)" "$B_SECS s (first delivery after $((B_FIRST - B_T0)) ms)"
row "(b) deliveries/s (max_in_flight $MAX_IN_FLIGHT)" "$B_RATE ($B_RATE_AFTER_FIRST from the first delivery on)"
row "(b) CPU" "$B_CPU"
row "(c) ingest req/s while delivering" "$C_RPS"
row "(c) ingest latency p50 / p99" "$(wrk_field "$WORK/wrk-combined.txt" p50) / $(wrk_field "$WORK/wrk-combined.txt" p99)"
row "(c) non-202 / wrk non-2xx / socket errors" "$(wrk_field "$WORK/wrk-combined.txt" non202) / $(wrk_field "$WORK/wrk-combined.txt" non2xx) / $(wrk_field "$WORK/wrk-combined.txt" errors)"
row "(c) delivered/s while wrk ran" "$C_RATE (over ${C_SAMPLE_SECS}s; 1-s samples: $C_SAMPLES)"
row "(c) delivered in total for the run" "$C_CREATED (receiver got $C_RECEIVED)"
row "(c) backlog when wrk stopped" "$C_BACKLOG deliveries, delivered ${C_TAIL}s later"
row "(c) accept->delivered p50 / p99 / max" "$C_P50 / $C_P99 / $C_MAX ms ($C_N deliveries)"
row "(c) CPU" "$C_CPU"
row "all: delivered / failed / webhooks received" "$TOTAL_DELIVERED / $TOTAL_NOT_OK / $((B_RECEIVED + C_RECEIVED))"
row "receiver TCP connections (keep-alive check)" "$((ACCEPTS - POLLS)) from hookd in (b) and (c) (+ $POLLS status polls)"
row "peak RSS (VmHWM) hookd (a) / (b) / (c)" "$A_RSS / $B_RSS / $C_RSS MB"
row "store on disk (db + wal) at the end" "$DB_MB MB for $TOTAL_EVENTS events"
row "CPU check at start (HMAC/s, 1 core)" "$CALIB_START"

# CPU per event: hookd's process (all its threads) against the baseline's node processes and
# redis, the receiver left out on both sides; a figure that does not depend on how wrk and nginx
# share the cores. (a): per accepted event, (b): per delivery, (c): per delivered event.
A_US=$(cpu_us_per_event "$(thread_total_pct "$WORK/a-threads0" "$WORK/a-threads1" "$A_SECS")" "$A_RPS")
B_US=$(cpu_us_per_event "$(thread_total_pct "$WORK/b-threads0" "$WORK/b-threads1" "$B_CPU_SECS")" \
  "$(div "$B_DELIVERED" "$B_CPU_SECS")") # over the worker's whole run, start-up included
C_US=$(cpu_us_per_event "$(thread_total_pct "$WORK/c-threads0" "$WORK/c-threads1" "$C_SECS")" "$C_RATE")
echo "hookd CPU per event: (a) $A_US us, (b) $B_US us, (c) $C_US us"

HOOKD_JSON=$(jq -nc \
  --argjson cpu_a "$A_US" --argjson cpu_b "$B_US" --argjson cpu_c "$C_US" \
  --argjson ingest_rps "$A_RPS" --argjson drain_per_s "$B_RATE" --argjson drain_deliveries "$B_DELIVERED" \
  --argjson combined_ingest_rps "$C_RPS" --argjson combined_delivered_per_s "$C_RATE" \
  --argjson p50 "$C_P50" --argjson p99 "$C_P99" --argjson max "$C_MAX" \
  --argjson backlog "$C_BACKLOG" --argjson backlog_s "$C_TAIL" \
  --argjson peak "$PEAK_RSS" --argjson ra "$A_RSS" --argjson rb "$B_RSS" --argjson rc "$C_RSS" \
  --argjson calib "$CALIB_START" \
  '{ingest_rps: $ingest_rps, drain_per_s: $drain_per_s, drain_deliveries: $drain_deliveries,
    combined_ingest_rps: $combined_ingest_rps, combined_delivered_per_s: $combined_delivered_per_s,
    combined_p50_ms: $p50, combined_p99_ms: $p99, combined_max_ms: $max,
    combined_backlog: $backlog, combined_backlog_drain_s: $backlog_s,
    peak_rss_mb: $peak, peak_rss_mb_by_phase: {ingest: $ra, drain: $rb, combined: $rc},
    cpu_us_per_event: {ingest: $cpu_a, drain: $cpu_b, combined: $cpu_c},
    cpu_check_hmac_per_s: $calib}')

# ---------------------------------------------------------------- the same on PostgreSQL
PG_JSON=null
if [ "$BENCH_PG" = 1 ]; then
  . "$BENCH/postgres.sh" # sets PG_JSON; pg_table prints it beside SQLite's figures
fi
stop "$NGINX_PID" || true

# ---------------------------------------------------------------- the baseline
BASE_JSON=null
BASE_STATUS=0
if [ "$BENCH_BASELINE" = 1 ]; then
  log "baseline: $BASELINE_DIR/bench.sh (DURATION=$BENCH_DURATION) in a temporary copy"
  BL="$WORK/baseline"
  mkdir -p "$BL"
  (cd "$BASELINE_DIR" && tar --exclude=./results -cf - .) | tar -xf - -C "$BL"
  if [ ! -d "$BL/node_modules/bullmq" ]; then
    echo "npm install (node_modules missing)"
    (cd "$BL" && npm install --no-audit --no-fund --loglevel=error) >"$WORK/npm-install.log" 2>&1 ||
      { cat "$WORK/npm-install.log" >&2; echo "bench: npm install for the baseline failed" >&2; exit 1; }
  fi
  env DURATION="$BENCH_DURATION" CONNECTIONS="$CONNECTIONS" THREADS="$THREADS" WARMUP="$WARMUP" \
    WORKER_CONCURRENCY="$MAX_IN_FLIGHT" WORKERS=1 KEEP="$KEEP" \
    bash "$BL/bench.sh" 2>&1 | tee "$WORK/baseline.txt" || BASE_STATUS=$?
  BASE_RESULT=$(grep '^RESULT ' "$WORK/baseline.txt" | tail -1 | cut -c8-)
  if [ "$BASE_STATUS" != 0 ] || [ -z "$BASE_RESULT" ]; then
    FAILED+=("baseline bench.sh: exit $BASE_STATUS, RESULT line ${BASE_RESULT:+found}${BASE_RESULT:-missing}")
  else
    # peak RSS of the baseline: its processes together (ingest + worker(s) + redis; the receiver is
    # the same nginx for both and is left out on both sides)
    BASE_JSON=$(jq -c '{ingest_rps, drain_per_s, drain_deliveries: .drain_jobs, combined_ingest_rps,
      combined_delivered_per_s, combined_p50_ms: .combined_latency_ms.p50, combined_p99_ms: .combined_latency_ms.p99,
      combined_max_ms: .combined_latency_ms.max,
      peak_rss_mb: (.peak_rss_mb.ingest + (.peak_rss_mb.worker | tostring | split("+") | map(tonumber) | add) + .peak_rss_mb.redis),
      peak_rss_mb_by_process: .peak_rss_mb, cpu_check_hmac_per_s}' <<<"$BASE_RESULT")
    # its CPU lines: "CPU during (c): ingest 95%, worker 80%, redis 30%, nginx 20% (redis forks: 0)"
    base_pct() { grep -m1 "^CPU during ($1):" "$WORK/baseline.txt" | sed 's/(redis forks.*//' | tr ',' '\n' |
      awk '!/nginx/ { for (i = 1; i <= NF; i++) if ($i ~ /%$/) t += $i + 0 } END { print t + 0 }'; }
    BASE_CPU=$(jq -nc --argjson a "$(cpu_us_per_event "$(base_pct a)" "$(jq .ingest_rps <<<"$BASE_JSON")")" \
      --argjson b "$(cpu_us_per_event "$(base_pct b)" "$(jq .drain_per_s <<<"$BASE_JSON")")" \
      --argjson c "$(cpu_us_per_event "$(base_pct c)" "$(jq .combined_delivered_per_s <<<"$BASE_JSON")")" \
      '{ingest: $a, drain: $b, combined: $c}')
    BASE_JSON=$(jq -c --argjson cpu "$BASE_CPU" '. + {cpu_us_per_event: $cpu}' <<<"$BASE_JSON")
    BASE_NON202=$(grep -E '^\((a|c)\) non-202' "$WORK/baseline.txt" | awk '{ n += $(NF - 4) } END { print n + 0 }')
  fi
fi

RATIO_JSON=$(jq -nc --argjson h "$HOOKD_JSON" --argjson b "$BASE_JSON" '
  def r(x; y): if (x | type) == "number" and (y | type) == "number" and y != 0 then ((x / y) * 100 | round) / 100 else null end;
  if $b == null then {ingest: null, drain: null, combined: null}
  else {ingest: r($h.ingest_rps; $b.ingest_rps), drain: r($h.drain_per_s; $b.drain_per_s),
        combined: r($h.combined_delivered_per_s; $b.combined_delivered_per_s),
        combined_ingest: r($h.combined_ingest_rps; $b.combined_ingest_rps),
        combined_p99: r($h.combined_p99_ms; $b.combined_p99_ms),
        peak_rss: r($h.peak_rss_mb; $b.peak_rss_mb),
        cpu_ingest: r($h.cpu_us_per_event.ingest; $b.cpu_us_per_event.ingest),
        cpu_drain: r($h.cpu_us_per_event.drain; $b.cpu_us_per_event.drain),
        cpu_combined: r($h.cpu_us_per_event.combined; $b.cpu_us_per_event.combined)} end')

# ---------------------------------------------------------------- the comparison
log "hookd vs the DIY baseline (same machine, same run; rate limit off, max_in_flight / concurrency $MAX_IN_FLIGHT)"
jv() { jq -r "$1 // \"-\"" <<<"$2"; }
rv() { local v; v=$(jq -r "$1 // empty" <<<"$2"); if [ -n "$v" ]; then awk -v v="$v" 'BEGIN { printf "%.2fx", v }'; else echo -; fi; } # 2.06x
target() { # target VALUE OP LIMIT [UNIT]
  awk -v r="$1" -v op="$2" -v l="$3" -v u="${4:-}" 'BEGIN { if (r == "null" || r == "-") { print "-"; exit }
    ok = (op == ">=") ? r >= l : r <= l; print (ok ? "met" : "NOT met") " (" op " " l u ")" }'
}
cmp_row() { printf '%-44s %10s %10s %7s   %s\n' "$@"; }
cmp_row "metric" "hookd" "baseline" "ratio" "target"
cmp_row "------" "-----" "--------" "-----" "------"
cmp_row "(a) ingest req/s" "$(jv .ingest_rps "$HOOKD_JSON")" "$(jv .ingest_rps "$BASE_JSON")" "$(rv .ingest "$RATIO_JSON")" "$(target "$(jv .ingest "$RATIO_JSON")" '>=' 2.5 x)"
cmp_row "(b) drain deliveries/s" "$(jv .drain_per_s "$HOOKD_JSON")" "$(jv .drain_per_s "$BASE_JSON")" "$(rv .drain "$RATIO_JSON")" "$(target "$(jv .drain "$RATIO_JSON")" '>=' 3 x)"
cmp_row "(c) ingest req/s" "$(jv .combined_ingest_rps "$HOOKD_JSON")" "$(jv .combined_ingest_rps "$BASE_JSON")" "$(rv .combined_ingest "$RATIO_JSON")" ""
cmp_row "(c) delivered/s" "$(jv .combined_delivered_per_s "$HOOKD_JSON")" "$(jv .combined_delivered_per_s "$BASE_JSON")" "$(rv .combined "$RATIO_JSON")" "$(target "$(jv .combined "$RATIO_JSON")" '>=' 4 x)"
cmp_row "(c) accept->delivered p50 ms" "$(jv .combined_p50_ms "$HOOKD_JSON")" "$(jv .combined_p50_ms "$BASE_JSON")" "" ""
cmp_row "(c) accept->delivered p99 ms" "$(jv .combined_p99_ms "$HOOKD_JSON")" "$(jv .combined_p99_ms "$BASE_JSON")" "$(rv .combined_p99 "$RATIO_JSON")" "$(target "$(jv .combined_p99_ms "$HOOKD_JSON")" '<=' 50 " ms")"
cmp_row "(c) accept->delivered max ms" "$(jv .combined_max_ms "$HOOKD_JSON")" "$(jv .combined_max_ms "$BASE_JSON")" "" ""
cmp_row "peak RSS MB (baseline: ingest+worker+redis)" "$(jv .peak_rss_mb "$HOOKD_JSON")" "$(jv .peak_rss_mb "$BASE_JSON")" "$(rv .peak_rss "$RATIO_JSON")" "$(target "$(jv .peak_rss "$RATIO_JSON")" '<=' 0.2 x)"
cmp_row "(a) CPU us per accepted event" "$(jv .cpu_us_per_event.ingest "$HOOKD_JSON")" "$(jv .cpu_us_per_event.ingest "$BASE_JSON")" "$(rv .cpu_ingest "$RATIO_JSON")" ""
cmp_row "(b) CPU us per delivery" "$(jv .cpu_us_per_event.drain "$HOOKD_JSON")" "$(jv .cpu_us_per_event.drain "$BASE_JSON")" "$(rv .cpu_drain "$RATIO_JSON")" ""
cmp_row "(c) CPU us per delivered event" "$(jv .cpu_us_per_event.combined "$HOOKD_JSON")" "$(jv .cpu_us_per_event.combined "$BASE_JSON")" "$(rv .cpu_combined "$RATIO_JSON")" "$(target "$(jv .cpu_combined "$RATIO_JSON")" '<=' 0.25 x)"
cmp_row "CPU check (HMAC/s, 1 core) at start" "$CALIB_START" "$(jv '.cpu_check_hmac_per_s[0]' "$BASE_JSON")" "" ""
echo "(b): hookd is timed from the worker process's start (taking up the backlog included), the baseline from"
echo "     the queue's resume with its worker already up; (c) delivered/s: both sampled every second while wrk ran."
[ "$BENCH_BASELINE" = 1 ] || echo "(baseline skipped: BENCH_BASELINE=0)"
if [ -n "${BASE_NON202:-}" ] && [ "$BASE_NON202" != 0 ]; then echo "note: the baseline's (a)+(c) non-202 responses: $BASE_NON202"; fi
if [ "$BENCH_PG" = 1 ]; then pg_table; else printf '\n(PostgreSQL runs skipped: BENCH_PG=0%s)\n' "${BENCH_PG_WHY:+, $BENCH_PG_WHY}"; fi

echo
if [ ${#FAILED[@]} -eq 0 ]; then
  echo "bench: all $CHECKS checks passed"
else
  echo "bench: ${#FAILED[@]} of $CHECKS checks FAILED:"
  printf '  %s\n' "${FAILED[@]}"
fi
RESULT_JSON=$(jq -nc --argjson h "$HOOKD_JSON" --argjson b "$BASE_JSON" --argjson r "$RATIO_JSON" \
  --argjson ok "$([ ${#FAILED[@]} -eq 0 ] && echo true || echo false)" --argjson d "$BENCH_DURATION" \
  --argjson pg "$PG_JSON" \
  '{hookd: $h, baseline: $b, ratio: $r, checks_passed: $ok, duration_s: $d, hookd_pg: $pg}')
# the chart of docs/performance.md (bench/chart.sh); a run whose checks failed does not replace it
if [ "$BENCH_CHART" = 0 ]; then
  :
elif [ -z "$GNUPLOT" ]; then
  echo "bench: no chart: gnuplot is missing (Debian: apt-get install gnuplot-nox)"
elif [ ${#FAILED[@]} -ne 0 ]; then
  echo "bench: no chart: checks failed"
else
  bash "$BENCH/chart.sh" - "$BENCH_CHART" <<<"$RESULT_JSON" || echo "bench: the chart failed (above)"
fi
echo "RESULT $RESULT_JSON"
[ ${#FAILED[@]} -eq 0 ]
