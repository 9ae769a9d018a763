#!/usr/bin/env bash
# make bench-stats: how fast GET /v1/endpoints/{id}/stats answers with a big history (issue 15: well
# under 100 ms with a million deliveries stored). One endpoint on a SQLite file gets STATS_DELIVERIES
# (1,000,000) done deliveries spread over 30 days, written with sqlite3 while hookd is stopped, and the
# stats rows the writer would have counted for them at their densest: every 5-minute bucket of the 30
# days holds each kind (3 ends, 2 attempt counts) and 10 latency buckets. Then hookd serves it, and
# curl times STATS_RUNS (20) requests of each window (1h, 24h, 7d, 30d) after one warm-up: median and
# max of curl's time_total. Prints a table and `STATS {json}`.
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
BENCH="$ROOT/bench"
HOOKD_BIN=${HOOKD_BIN:-$ROOT/build/hookd}
STATS_DELIVERIES=${STATS_DELIVERIES:-1000000}
STATS_RUNS=${STATS_RUNS:-20}
KEEP=${KEEP:-0}

WORK=$(mktemp -d /tmp/hookd-stats.XXXXXX)
PIDS=()
# shellcheck source=bench/lib.sh
. "$BENCH/lib.sh"
trap 'set +e; stop_all; drop_work' EXIT
cp "$HOOKD_BIN" "$WORK/hookd"
ADMIN_KEY="adm_$(od -An -tx1 -N24 /dev/urandom | tr -d ' \n')"
DB="$WORK/stats.db"
HOOKD_DB_URL="sqlite:$DB"
LOG_PREFIX=stats
HOOKD_EXTRA=()

start_hookd all
ORG=$(api POST /v1/orgs "$ADMIN_KEY" '{"name":"stats"}' | jq -r .id)
KEY=$(api POST "/v1/orgs/$ORG/api-keys" "$ADMIN_KEY" '{"name":"k","scopes":["webhooks"]}' | jq -r .key)
EP=$(api POST /v1/endpoints "$KEY" '{"url":"http://127.0.0.1:9/hook"}' | jq -r .id)
stop_hookd "setup" all

NOW=$(now_ms)
SPAN=$((30 * 86400000))
BUCKET=300000
log "writing $STATS_DELIVERIES deliveries over 30 days and their stats rows"
sqlite3 -batch "$DB" >/dev/null <<SQL
WITH RECURSIVE i(n) AS (SELECT 0 UNION ALL SELECT n + 1 FROM i WHERE n < $STATS_DELIVERIES - 1)
INSERT INTO deliveries (id, org_id, event_id, endpoint_id, event_type, status, attempt_count,
  created_at, delivered_at)
SELECT printf('dlv_%026d', n), '$ORG', printf('evt_%026d', n), '$EP', 'a.b', 1, 1,
  $NOW - $SPAN + n * ($SPAN / $STATS_DELIVERIES), $NOW - $SPAN + n * ($SPAN / $STATS_DELIVERIES) FROM i;
WITH RECURSIVE b(t) AS (SELECT $NOW - $SPAN - ($NOW - $SPAN) % $BUCKET UNION ALL SELECT t + $BUCKET FROM b WHERE t < $NOW),
  k(kind) AS (VALUES (1), (2), (3), (10), (11), (110), (112), (114), (116), (118), (120), (122), (124), (126), (128))
INSERT INTO endpoint_stats (endpoint_id, bucket, kind, shard, n) SELECT '$EP', t, kind, 0, 116 FROM b, k;
SQL
ROWS=$(sqlite3 "$DB" "SELECT count(*) FROM endpoint_stats")
STORED=$(sqlite3 "$DB" "SELECT count(*) FROM deliveries")
start_hookd all
printf '%-8s %10s %10s %10s\n' window median_ms max_ms series
JSON="{\"deliveries\": $STORED, \"stats_rows\": $ROWS"
for w in 1h 24h 7d 30d; do
  url="http://127.0.0.1:$HOOKD_PORT/v1/endpoints/$EP/stats?window=$w"
  points=$(curl -sSf "$url" -H "Authorization: Bearer $KEY" | jq '.series | length')
  for _ in $(seq "$STATS_RUNS"); do
    curl -sSf -o /dev/null -w '%{time_total}\n' "$url" -H "Authorization: Bearer $KEY"
  done | sort -g | awk -v w="$w" -v p="$points" '{ v[NR] = $1 * 1000 }
    END { printf "%-8s %10.2f %10.2f %10d\n", w, v[int((NR + 1) / 2)], v[NR], p }' | tee "$WORK/$w.txt"
  read -r _ med max _ <"$WORK/$w.txt"
  JSON="$JSON, \"$w\": {\"median_ms\": $med, \"max_ms\": $max}"
done
stop_hookd "stats" all
echo "$STORED deliveries and $ROWS stats rows stored"
echo "STATS $JSON}"
