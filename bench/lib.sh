# Helpers of the benchmark scripts, sourced by bench/bench.sh (and so bench/postgres.sh) and
# bench/scale.sh. They use the caller's globals: WORK (the temporary directory), PIDS (what its
# cleanup stops), BENCH, STATUS_URL, DB, HOOKD_DB_URL, PG_URL, PSQL, ADMIN_KEY, LOG_PREFIX,
# HOOKD_EXTRA, HOOKD_PORT, NGINX_PORT, THREADS, CONNECTIONS; check counts into CHECKS and FAILED.
# shellcheck shell=bash

stop() { # stop PID: SIGTERM, then SIGKILL if it is still there after 20 s; returns its exit status
  local rc=0
  kill "$1" 2>/dev/null || { wait "$1" 2>/dev/null || rc=$?; return $rc; }
  for _ in $(seq 200); do kill -0 "$1" 2>/dev/null || break; sleep 0.1; done
  if kill -KILL "$1" 2>/dev/null; then echo "bench: pid $1 did not stop within 20 s, killed" >&2; fi
  wait "$1" 2>/dev/null || rc=$?
  return $rc
}
stop_all() { for ((i = ${#PIDS[@]} - 1; i >= 0; i--)); do stop "${PIDS[i]}" 2>/dev/null; done; } # newest first
drop_work() { if [ "$KEEP" = 1 ]; then echo "kept $WORK"; else rm -rf "$WORK"; fi; }
log() { printf '\n== %s\n' "$*"; }
now_ms() { date +%s%3N; }
freeport() { node -e 'const s = require("node:net").createServer().listen(0, "127.0.0.1", () => { console.log(s.address().port); s.close(); })'; }
wait_for() { # wait_for SECONDS CMD...
  local deadline=$((SECONDS + $1)); shift
  until "$@" >/dev/null 2>&1; do
    [ $SECONDS -lt $deadline ] || { echo "bench: timed out waiting for: $*" >&2; exit 1; }
    sleep 0.05
  done
}
CLK_TCK=$(getconf CLK_TCK)
ticks() { awk '{ sub(/^.*\) /, ""); print $12 + $13 }' "/proc/$1/stat"; }
cpu_pct() { awk -v a="$1" -v b="$2" -v s="$3" -v hz="$CLK_TCK" 'BEGIN { printf "%.0f%%", 100 * (b - a) / hz / s }'; }
thread_ticks() { # thread_ticks PID: one line "tid name ticks" per thread
  local t
  for t in /proc/"$1"/task/*; do
    awk -v tid="${t##*/}" '{
      i = index($0, "("); j = 0; for (k = length($0); k > 0; k--) if (substr($0, k, 1) == ")") { j = k; break }
      name = substr($0, i + 1, j - i - 1); gsub(/[ \t]/, "_", name)
      n = split(substr($0, j + 2), f, " "); print tid, name, f[12] + f[13] }' "$t/stat" 2>/dev/null || true
  done
}
thread_cpu() { # thread_cpu BEFORE_FILE AFTER_FILE SECONDS: CPU per thread name, busiest first
  awk -v s="$3" -v hz="$CLK_TCK" '
    FNR == NR { before[$1] = $3; next }
    { d = $3 - (($1 in before) ? before[$1] : 0); cpu[$2] += d; n[$2]++ }
    END { for (k in cpu) printf "%d %s%s %.0f%%\n", cpu[k], k, (n[k] > 1 ? " x" n[k] : ""), 100 * cpu[k] / hz / s }' \
    "$1" "$2" | sort -k1,1nr | cut -d' ' -f2- | paste -sd, | sed 's/,/, /g'
}
thread_total_pct() { # thread_total_pct BEFORE_FILE AFTER_FILE SECONDS: CPU of all threads together, % of a core
  awk -v s="$3" -v hz="$CLK_TCK" 'FNR == NR { before[$1] = $3; next }
    { t += $3 - (($1 in before) ? before[$1] : 0) } END { printf "%.0f\n", 100 * t / hz / s }' "$1" "$2"
}
cpu_us_per_event() { # cpu_us_per_event PCT RATE: microseconds of CPU per event at RATE events/s
  awk -v p="$1" -v r="$2" 'BEGIN { if (r + 0 == 0 || p == "") print "null"; else printf "%.1f\n", p / 100 * 1e6 / r }'
}
hwm_mb() { awk '/^VmHWM/ { printf "%.1f", $2 / 1024 }' "/proc/$1/status"; }
calibrate() { # single-core speed right now, as the baseline measures it: 1 KB HMAC-SHA256 per second
  node -e '
    const { createHmac } = require("crypto");
    const key = Buffer.alloc(24, 7), body = "x".repeat(1024);
    let n = 0;
    const end = Date.now() + 1000;
    while (Date.now() < end) for (let i = 0; i < 1000; i++, n++) createHmac("sha256", key).update(body).digest("base64");
    console.log(n);'
}
wrk_field() { # wrk_field FILE rps|p50|p99|non202|non2xx|errors|requests
  case $2 in
    rps) awk '/^Requests\/sec:/ { print $2 }' "$1" ;;
    p50) awk '$1 == "50%" { print $2 }' "$1" ;;
    p99) awk '$1 == "99%" { print $2 }' "$1" ;;
    non202) awk '/^non-202 responses:/ { n = $3; f = 1 } END { print f ? n : "missing" }' "$1" ;;
    non2xx) awk '/Non-2xx or 3xx responses:/ { n = $5 } END { print n + 0 }' "$1" ;;
    errors) awk '/Socket errors:/ { gsub(",", ""); print $4 + $6 + $8 + $10; f = 1 } END { if (!f) print 0 }' "$1" ;;
    requests) awk '/ requests in / { print $1 }' "$1" ;;
  esac
}
to_ms() { # wrk latency (850.00us, 2.51ms, 1.02s) -> milliseconds
  awk -v v="$1" 'BEGIN { if (v ~ /us$/) x = v / 1000; else if (v ~ /ms$/) x = v + 0; else if (v ~ /m$/) x = v * 60000; else x = v * 1000; printf "%.2f", x }'
}
div() { awk -v a="$1" -v b="$2" -v f="${3:-%.2f}" 'BEGIN { if (b == 0 || a == "" || b == "") print "null"; else printf f "\n", a / b }'; }

# ---------------------------------------------------------------- checks
CHECKS=0
FAILED=()
check() { # check DESCRIPTION ACTUAL OP EXPECTED   (OP: -eq -le -ge ...)
  CHECKS=$((CHECKS + 1))
  if [[ "$2" =~ ^-?[0-9]+$ && "$4" =~ ^-?[0-9]+$ ]] && test "$2" "$3" "$4"; then
    printf 'check ok:     %s (%s %s %s)\n' "$1" "$2" "$3" "$4"
  else
    printf 'CHECK FAILED: %s (%s %s %s)\n' "$1" "$2" "$3" "$4"
    FAILED+=("$1: $2 $3 $4")
  fi
}

# ---------------------------------------------------------------- receiver and store helpers
# shellcheck disable=SC2034 # NGINX_WORKER_PID: bench.sh's CPU figures
start_nginx() { # the receiver (bench/nginx.conf.in) on $NGINX_PORT in $WORK; sets NGINX_PID, NGINX_WORKER_PID
  sed -e "s|@DIR@|$WORK|g" -e "s|@PORT@|$NGINX_PORT|g" "$BENCH/nginx.conf.in" >"$WORK/nginx.conf"
  nginx -p "$WORK" -e "$WORK/nginx-error.log" -c "$WORK/nginx.conf" &
  NGINX_PID=$!; PIDS+=("$NGINX_PID")
  wait_for 10 bash -c "exec 3<>/dev/tcp/127.0.0.1/$NGINX_PORT" # no HTTP request: nginx would count it
  NGINX_WORKER_PID=$(pgrep -P "$NGINX_PID" | head -1)
}
receiver() { # webhooks nginx has answered: its request count minus our own status polls
  local text
  echo >>"$WORK/polls"
  text=$(curl -sf "$STATUS_URL") || { echo "bench: nginx stub_status failed" >&2; return 1; }
  # "Active connections: 1\nserver accepts handled requests\n 5 5 100\n..."
  echo $(($(awk 'NR == 3 { print $3 }' <<<"$text") - $(wc -l <"$WORK/polls")))
}
receiver_accepts() { echo >>"$WORK/polls"; curl -sf "$STATUS_URL" | awk 'NR == 3 { print $1 }'; }
q() { # q SQL: read-only query of the store (SQLite, or PostgreSQL when PG_URL is set); hookd may be running
  if [ -n "$PG_URL" ]; then
    "$PSQL" -X -Atq -v ON_ERROR_STOP=1 -d "$PG_URL" -c "$1"
  else
    sqlite3 -readonly -batch -cmd '.timeout 10000' "file:$DB?mode=ro" "$1"
  fi
}
pending() { q "SELECT count(*) FROM deliveries WHERE status = 0"; }
start_hookd() { # start_hookd ROLE: hookd on $HOOKD_DB_URL, sets HOOKD_PID and HOOKD_PORT
  local role=$1 errlog="$WORK/$LOG_PREFIX-$1.log" deadline=$((SECONDS + 15))
  "$WORK/hookd" serve --listen 127.0.0.1:0 --db "$HOOKD_DB_URL" --admin-key "$ADMIN_KEY" \
    --allow-http --allow-private --rate-limit 0 --log-level warn --no-ping --role "$role" "${HOOKD_EXTRA[@]}" \
    >"$WORK/$LOG_PREFIX-$role.out" 2>"$errlog" &
  HOOKD_PID=$!; PIDS+=("$HOOKD_PID")
  until grep -qs '"msg":"listening"' "$errlog"; do # -s: the child may not have created it yet
    kill -0 "$HOOKD_PID" 2>/dev/null || { echo "bench: hookd --role $role exited at start:" >&2; cat "$errlog" >&2; exit 1; }
    [ $SECONDS -lt $deadline ] || { echo "bench: hookd --role $role did not start:" >&2; cat "$errlog" >&2; exit 1; }
    sleep 0.02
  done
  HOOKD_PORT=$(grep -m1 '"msg":"listening"' "$errlog" | jq -r .port)
  wait_for 10 curl -sf "http://127.0.0.1:$HOOKD_PORT/healthz"
}
stop_hookd() { # stop_hookd PHASE ROLE: SIGTERM, wait, check the exit status is 0; show logged errors
  local rc=0
  stop "$HOOKD_PID" || rc=$?
  check "$1: hookd exited 0 on SIGTERM" "$rc" -eq 0
  grep -E '"level":"(error|fatal)"' "$WORK/$LOG_PREFIX-$2.log" | head -5 || true
}
api() { # api METHOD PATH KEY [BODY]: JSON answer, fails on a non-2xx status
  local args=(-sS -f -X "$1" "http://127.0.0.1:$HOOKD_PORT$2" -H "Authorization: Bearer $3")
  [ $# -lt 4 ] || args+=(-H 'Content-Type: application/json' -d "$4")
  curl "${args[@]}"
}
wrk_run() { # wrk_run SECONDS OUTFILE
  wrk -t"$THREADS" -c"$CONNECTIONS" -d"$1s" --latency -s "$BENCH/event.lua" "http://127.0.0.1:$HOOKD_PORT" >"$2"
}
