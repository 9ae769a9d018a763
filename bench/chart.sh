#!/usr/bin/env bash
# bench/chart.sh RESULT [OUT]: the chart of docs/performance.md from make bench's RESULT json, drawn by
# gnuplot (bench/chart.gp, the gnuplot-nox package): hookd beside the baseline for the three phases
# ((a) ingest req/s, (b) drain deliveries/s, (c) delivered/s while ingesting), (c)'s accept->delivered
# p50/p99, and peak RSS, with hookd/baseline ratios. bench/bench.sh runs it at its end.
#   RESULT  a file holding the `RESULT {json}` line (or the json alone; the last one counts), - for stdin
#   OUT     the PNG; default $BENCH_CHART, else docs/performance.png
# Without a baseline (BENCH_BASELINE=0) only hookd's bars are drawn.
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
if [ $# -lt 1 ] || [ $# -gt 2 ]; then echo "usage: bench/chart.sh RESULT_FILE|- [OUT.png]" >&2; exit 2; fi
OUT=${2:-${BENCH_CHART:-$ROOT/docs/performance.png}}
command -v gnuplot >/dev/null || { echo "chart: gnuplot is missing (Debian: apt-get install gnuplot-nox)" >&2; exit 2; }
command -v jq >/dev/null || { echo "chart: jq is missing (Debian: apt-get install jq)" >&2; exit 2; }

INPUT=$(cat -- "$1")
JSON=$(sed -n 's/^RESULT //p' <<<"$INPUT" | tail -n 1)
[ -n "$JSON" ] || JSON=$(jq -c . <<<"$INPUT" 2>/dev/null | tail -n 1) || true
jq -e '.hookd.ingest_rps' <<<"$JSON" >/dev/null 2>&1 || { echo "chart: no RESULT json with hookd's figures in $1" >&2; exit 1; }

DIR=$(mktemp -d /tmp/hookd-chart.XXXXXX)
trap 'rm -rf "$DIR"' EXIT

# one row per category: "label" hookd baseline ratio, "-" for what is missing
rows() { # rows JQ_ARRAY_OF_[label, hookd_key, ratio_key]
  jq -r --argjson cats "$1" '. as $r | $cats[] | . as [$name, $key, $ratio]
    | [($name | @json), ($r.hookd[$key] // "-"), ($r.baseline[$key]? // "-"),
       (if $ratio == null then "-" else ($r.ratio[$ratio]? // "-") end)] | map(tostring) | join(" ")' <<<"$JSON"
}
rows '[["(a) ingest req/s", "ingest_rps", "ingest"], ["(b) drain deliveries/s", "drain_per_s", "drain"],
  ["(c) delivered/s while ingesting", "combined_delivered_per_s", "combined"]]' >"$DIR/rate.dat"
rows '[["p50", "combined_p50_ms", null], ["p99", "combined_p99_ms", "combined_p99"]]' >"$DIR/latency.dat"
rows '[["", "peak_rss_mb", "peak_rss"]]' >"$DIR/memory.dat"
# bench.sh's ratios have no p50 one: hookd / baseline here (labels may hold spaces: count from the end)
awk '/^"p50"/ && $(NF - 2) != "-" && $(NF - 1) != "-" && $(NF - 1) != 0 { $NF = sprintf("%.2f", $(NF - 2) / $(NF - 1)) } { print }' \
  "$DIR/latency.dat" >"$DIR/latency.tmp" && mv "$DIR/latency.tmp" "$DIR/latency.dat"

ymax() { # ymax FILE FACTOR [MIN]: the largest figure of the file times FACTOR, for room above the bars
  awk -v f="$2" -v m="${3:-1}" '{ for (i = NF - 2; i < NF; i++) if ($i != "-" && $i + 0 > m) m = $i + 0 } END { print m * f }' "$1"
}

TITLE="hookd vs the DIY baseline (Node.js + BullMQ + Redis)"
[ "$(jq -r '.baseline' <<<"$JSON")" != null ] || TITLE+=" - baseline not run"
[ "$(jq -r '.checks_passed' <<<"$JSON")" != false ] || TITLE+=" - CHECKS FAILED"
TITLE+="\\nmake bench $(date +%Y-%m-%d), $(nproc) CPUs, wrk -t1 -c64 for $(jq -r '.duration_s // "?"' <<<"$JSON") s a phase,"
TITLE+=" 1 KiB event, 1 endpoint (max_in_flight 100)"

mkdir -p "$(dirname "$OUT")"
# (a missing baseline leaves gnuplot warning about its empty columns: not worth showing)
gnuplot -e "dir='$DIR'; out='$OUT.tmp'; title=\"${TITLE//\"/}\";
  ymax_rate=$(ymax "$DIR/rate.dat" 1.4); ymax_ms=$(ymax "$DIR/latency.dat" 8 10); ymax_mb=$(ymax "$DIR/memory.dat" 1.25)" \
  "$ROOT/bench/chart.gp" 2> >(grep -v 'Skipping data file with no valid points' >&2)
mv "$OUT.tmp" "$OUT" # whole or not at all
echo "chart: $OUT"
