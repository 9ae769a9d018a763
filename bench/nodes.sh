#!/usr/bin/env bash
# make bench-nodes: the scale-out curve of issue 14. For N in NODES_COUNTS (1 2 3), a fresh database on a
# throwaway PostgreSQL cluster (tests/pg/pg.sh: loopback, fsync off) and N `hookd --role all` nodes on it,
# one org and one endpoint (nginx `return 204`, bench/nginx.conf.in, max_in_flight 100), make bench's
# load split among the nodes: N wrk processes (-t1, 64/N connections each, bench/event.lua's 1 KiB
# event) for NODES_SECONDS, each against one node. Each node delivers what it ingested (its writer hands
# the jobs to its own loops) and takes up whatever another node leaves (its claims, §4.5).
# Per N: ingest req/s (the wrks together), delivered/s while wrk ran (nginx's count), the backlog when
# wrk stopped and the time to drain it, accept -> delivered p50/p99 (delivered_at - created_at in the
# store), statements and transactions per delivered event (pg_stat_statements, pg_stat_database), and
# the CPU of the nodes, the PostgreSQL server and nginx in % of one core: on two cores the
# total is bounded by the machine, so what the curve shows is whether a node added lowers it and where
# the time goes. Checks: no non-202 answer, receiver count == delivered, one delivery per event, one
# attempt per delivery, nothing pending or failed, clean exits. Prints a table and `NODES {json}`.
#
# Environment: NODES_COUNTS ("1 2 3"), NODES_SECONDS (10), HOOKD_BIN (build/hookd, copied first), KEEP (0;
# 1 keeps the temporary directory with the nodes' logs).
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
BENCH="$ROOT/bench"
HOOKD_BIN=${HOOKD_BIN:-$ROOT/build/hookd}
KEEP=${KEEP:-0}
NODES_COUNTS=${NODES_COUNTS:-1 2 3}
NODES_SECONDS=${NODES_SECONDS:-10}
CONNECTIONS=64 # make bench's load, split among the nodes
THREADS=1
MAX_IN_FLIGHT=100
PG_BIN=${PG_BIN:-$(find /usr/lib/postgresql -mindepth 2 -maxdepth 2 -name bin 2>/dev/null | sort -V | tail -n 1)}
PSQL=${PG_BIN:+$PG_BIN/psql}

case $NODES_SECONDS in '' | *[!0-9]* | 0) echo "NODES_SECONDS must be a whole number of seconds" >&2; exit 2 ;; esac
for n in $NODES_COUNTS; do
  case $n in '' | *[!0-9]* | 0) echo "NODES_COUNTS must be node counts (>= 1), e.g. \"1 2 3\"" >&2; exit 2 ;; esac
done
missing=()
for cmd in nginx wrk curl jq node awk pgrep; do command -v "$cmd" >/dev/null || missing+=("$cmd"); done
[ -n "$PSQL" ] && [ -x "$PSQL" ] || missing+=(postgresql)
if [ ${#missing[@]} -gt 0 ]; then
  echo "bench-nodes: missing ${missing[*]} (Debian: apt-get install nginx-light wrk curl jq procps postgresql)" >&2
  exit 2
fi
[ -x "$HOOKD_BIN" ] || { echo "bench-nodes: no $HOOKD_BIN; run make first" >&2; exit 2; }

WORK=$(mktemp -d /tmp/hookd-nodes.XXXXXX)
PIDS=()
PG_DIR=
# shellcheck source=bench/lib.sh
. "$BENCH/lib.sh"
cleanup() {
  set +e
  stop_all
  [ -z "$PG_DIR" ] || PG_BIN=$PG_BIN bash "$ROOT/tests/pg/pg.sh" stop "$PG_DIR"
  drop_work
}
trap cleanup EXIT
trap 'exit 130' INT TERM

NGINX_PORT=$(freeport)
STATUS_URL="http://127.0.0.1:$NGINX_PORT/nginx_status"
start_nginx
PG_VARS=$(PG_BIN=$PG_BIN bash "$ROOT/tests/pg/pg.sh" start) || { echo "bench-nodes: PostgreSQL did not start" >&2; exit 1; }
PG_DIR=$(sed -n 's/^HOOKD_PG_DIR=//p' <<<"$PG_VARS")
PG_ADMIN_URL=$(sed -n 's/^HOOKD_TEST_DB=//p' <<<"$PG_VARS")
PG_POSTMASTER=$(head -1 "$PG_DIR/data/postmaster.pid")
cp "$HOOKD_BIN" "$WORK/hookd"
ADMIN_KEY="adm_$(od -An -tx1 -N24 /dev/urandom | tr -d ' \n')"
HOOKD_EXTRA=()
echo "PostgreSQL $("$PSQL" -X -Atq -d "$PG_ADMIN_URL" -c 'SHOW server_version') on ${PG_ADMIN_URL%/*}; nginx on :$NGINX_PORT; $(nproc) cores"

pg_ticks() { # CPU ticks of the server's processes
  local p v t=0
  for p in $(pgrep -P "$PG_POSTMASTER"); do
    v=$(ticks "$p" 2>/dev/null) && [ -n "$v" ] && t=$((t + v))
  done
  echo "$t"
}
sum_ticks() { local p t=0; for p; do t=$((t + $(ticks "$p"))); done; echo "$t"; }

ROWS=()
JSON=()
for N in $NODES_COUNTS; do
  log "$N node(s): hookd --role all x$N on one fresh database, wrk x$N (-c$((CONNECTIONS / N)) each) for ${NODES_SECONDS}s"
  "$PSQL" -X -q -v ON_ERROR_STOP=1 -d "$PG_ADMIN_URL" -c "CREATE DATABASE nodes_$N" >/dev/null
  PG_URL=${PG_ADMIN_URL%/*}/nodes_$N
  HOOKD_DB_URL=$PG_URL
  NODE_PIDS=()
  NODE_PORTS=()
  for k in $(seq "$N"); do
    LOG_PREFIX=n$N-$k
    start_hookd all
    NODE_PIDS+=("$HOOKD_PID")
    NODE_PORTS+=("$HOOKD_PORT")
  done
  HOOKD_PORT=${NODE_PORTS[0]}
  ORG_ID=$(api POST /v1/orgs "$ADMIN_KEY" '{"name":"nodes"}' | jq -r .id)
  HOOKD_KEY=$(api POST "/v1/orgs/$ORG_ID/api-keys" "$ADMIN_KEY" '{"name":"nodes","scopes":["events"]}' | jq -r .key)
  export HOOKD_KEY
  api POST /v1/endpoints "$(api POST "/v1/orgs/$ORG_ID/api-keys" "$ADMIN_KEY" '{"name":"w","scopes":["webhooks"]}' | jq -r .key)" \
    "{\"url\":\"http://127.0.0.1:$NGINX_PORT/webhook\",\"max_in_flight\":$MAX_IN_FLIGHT}" >/dev/null
  echo "nodes: pids ${NODE_PIDS[*]}, ports ${NODE_PORTS[*]}; org $ORG_ID"
  q "CREATE EXTENSION IF NOT EXISTS pg_stat_statements" >/dev/null
  q "SELECT pg_stat_statements_reset()" >/dev/null
  x0=$(q "SELECT xact_commit FROM pg_stat_database WHERE datname = current_database()")

  r0=$(receiver); h0=$(sum_ticks "${NODE_PIDS[@]}"); p0=$(pg_ticks); n0=$(ticks "$NGINX_WORKER_PID")
  t0=$(now_ms)
  WRK_PIDS=()
  for k in $(seq "$N"); do
    wrk -t"$THREADS" -c$((CONNECTIONS / N)) -d"${NODES_SECONDS}s" --latency -s "$BENCH/event.lua" \
      "http://127.0.0.1:${NODE_PORTS[k - 1]}" >"$WORK/wrk-$N-$k.txt" &
    WRK_PIDS+=($!)
  done
  for p in "${WRK_PIDS[@]}"; do wait "$p"; done
  t1=$(now_ms); r1=$(receiver); h1=$(sum_ticks "${NODE_PIDS[@]}"); p1=$(pg_ticks); n1=$(ticks "$NGINX_WORKER_PID")
  secs=$(awk -v a="$t0" -v b="$t1" 'BEGIN { print (b - a) / 1000 }')
  sent=0 rps=0 non202=0 errors=0
  for k in $(seq "$N"); do
    f="$WORK/wrk-$N-$k.txt"
    sent=$((sent + $(wrk_field "$f" requests)))
    rps=$(awk -v a="$rps" -v b="$(wrk_field "$f" rps)" 'BEGIN { printf "%.0f", a + b }')
    non202=$((non202 + $(wrk_field "$f" non202)))
    errors=$((errors + $(wrk_field "$f" errors)))
  done
  delivered_rate=$(div $((r1 - r0)) "$secs" %.0f)
  backlog=$(q "SELECT count(*) FROM deliveries WHERE status = 0")
  deadline=$((SECONDS + 120))
  until [ "$(q "SELECT count(*) FROM deliveries WHERE status = 0")" = 0 ] || [ $SECONDS -ge $deadline ]; do sleep 0.05; done
  t2=$(now_ms)
  # what the server did per delivered event: statements (pg_stat_statements, this database's, the
  # nodes' scans and heartbeats included) and committed transactions
  read -r stmts xacts < <(q "SELECT (SELECT coalesce(sum(calls), 0) FROM pg_stat_statements s JOIN pg_database d
      ON d.oid = s.dbid WHERE d.datname = current_database()),
      (SELECT xact_commit - $x0 FROM pg_stat_database WHERE datname = current_database())" | tr '|' ' ')
  delivered_now=$(q "SELECT count(*) FROM deliveries WHERE status = 1")
  per_stmt=$(div "$stmts" "$delivered_now"); per_xact=$(div "$xacts" "$delivered_now")
  read -r lat_n p50 p99 < <(q "SELECT delivered_at - created_at FROM deliveries WHERE status = 1 ORDER BY 1" |
    awk '{ v[NR] = $1 } function pct(p, i) { i = int(p / 100 * NR); if (i < p / 100 * NR) i++; if (i < 1) i = 1; return v[i] }
      END { if (NR == 0) print 0, "null", "null"; else print NR, pct(50), pct(99) }')
  hookd_cpu=$(cpu_pct "$h0" "$h1" "$secs"); pg_cpu=$(cpu_pct "$p0" "$p1" "$secs"); nginx_cpu=$(cpu_pct "$n0" "$n1" "$secs")
  drain_s=$(awk -v a="$t1" -v b="$t2" 'BEGIN { printf "%.2f", (b - a) / 1000 }')
  echo "ingest $rps req/s, delivered $delivered_rate/s while wrk ran; backlog $backlog when it stopped, drained in ${drain_s}s;" \
    "accept->delivered p50 ${p50} ms, p99 ${p99} ms; CPU: hookd x$N $hookd_cpu, postgres $pg_cpu, nginx $nginx_cpu;" \
    "per delivered event: $per_stmt statements, $per_xact transactions"

  for k in $(seq "$N"); do
    HOOKD_PID=${NODE_PIDS[k - 1]}
    LOG_PREFIX=n$N-$k
    stop_hookd "$N nodes: node $k" all
  done
  read -r events deliveries delivered pending not_ok attempts < <(q "SELECT (SELECT count(*) FROM events),
      (SELECT count(*) FROM deliveries), (SELECT count(*) FROM deliveries WHERE status = 1),
      (SELECT count(*) FROM deliveries WHERE status = 0), (SELECT count(*) FROM deliveries WHERE status NOT IN (0, 1)),
      (SELECT count(*) FROM attempts)" | tr '|' ' ')
  check "$N nodes: non-202 responses" "$non202" -eq 0
  check "$N nodes: wrk socket errors" "$errors" -eq 0
  check "$N nodes: one delivery per stored event" "$deliveries" -eq "$events"
  check "$N nodes: stored events >= 202s wrk counted" "$events" -ge "$sent"
  check "$N nodes: nothing pending" "$pending" -eq 0
  check "$N nodes: failed + exhausted" "$not_ok" -eq 0
  check "$N nodes: receiver count == delivered" "$(($(receiver) - r0))" -eq "$delivered"
  check "$N nodes: one attempt per delivery" "$attempts" -eq "$delivered"
  ROWS+=("$N $rps $delivered_rate $backlog $drain_s $p50 $p99 $hookd_cpu $pg_cpu $nginx_cpu $per_stmt $per_xact")
  JSON+=("{\"nodes\":$N,\"ingest_rps\":$rps,\"delivered_per_s\":$delivered_rate,\"backlog\":$backlog,\"drain_s\":$drain_s,\"p50_ms\":$p50,\"p99_ms\":$p99,\"cpu\":{\"hookd\":\"$hookd_cpu\",\"postgres\":\"$pg_cpu\",\"nginx\":\"$nginx_cpu\"},\"statements_per_delivered\":$per_stmt,\"transactions_per_delivered\":$per_xact}")
done

log "hookd --role all nodes on one PostgreSQL database (${NODES_SECONDS}s of wrk -c$CONNECTIONS in all; CPU in % of one core of $(nproc))"
printf '%-6s %10s %12s %8s %8s %8s %8s %8s %9s %7s %8s %8s\n' nodes "ingest/s" "delivered/s" backlog "drain s" "p50 ms" \
  "p99 ms" hookd postgres nginx "stmts/ev" "xacts/ev"
for r in "${ROWS[@]}"; do
  # shellcheck disable=SC2086 # the row's fields
  printf '%-6s %10s %12s %8s %8s %8s %8s %8s %9s %7s %8s %8s\n' $r
done
echo "NODES {\"seconds\":$NODES_SECONDS,\"curve\":[$(IFS=,; echo "${JSON[*]}")],\"checks_passed\":$([ ${#FAILED[@]} -eq 0 ] && echo true || echo false)}"
if [ ${#FAILED[@]} -gt 0 ]; then
  echo "bench-nodes: ${#FAILED[@]} of $CHECKS checks failed:" >&2
  printf '  %s\n' "${FAILED[@]}" >&2
  exit 1
fi
echo "bench-nodes: all $CHECKS checks passed"
