#!/usr/bin/env bash
# Runs libFuzzer targets for a set time each (make fuzz, make fuzz-smoke): fuzz/run.sh SECONDS
# TARGET... with the binaries in $FUZZ_BUILD (build-fuzz). New inputs go to a working corpus in
# the build dir, so fuzz/corpus/ changes only by hand; crashes go to $FUZZ_BUILD/artifacts/.
# Exits non-zero if any target crashed, leaked, hung or tripped a sanitizer.
set -uo pipefail
cd "$(dirname "$0")/.."

seconds=${1:?usage: fuzz/run.sh SECONDS TARGET...}
shift
build=${FUZZ_BUILD:-build-fuzz}
failed=()

# Inputs need room past the limits the code enforces: 2,048-byte URLs, 8,192-byte headers,
# 2,048-byte config lines.
max_len_of() {
    case $1 in
    verify) echo 20000 ;;
    jsonv | config | jsonspan) echo 16384 ;;
    *) echo 4096 ;;
    esac
}

for target in "$@"; do
    work=$build/corpus/$target
    artifacts=$build/artifacts/$target
    log=$build/logs/$target.log
    dict=()
    [ -f "fuzz/$target.dict" ] && dict=("-dict=fuzz/$target.dict")
    mkdir -p "$work" "$artifacts" "$build/logs"
    echo "== fuzz_$target: ${seconds}s, log $log"
    # the first directory gets new inputs; the repo's corpus is only read
    "$build/fuzz_$target" "$work" "fuzz/corpus/$target" "${dict[@]}" \
        -max_total_time="$seconds" -timeout=5 -rss_limit_mb=2048 -max_len="$(max_len_of "$target")" \
        -artifact_prefix="$artifacts/" -print_final_stats=1 >"$log" 2>&1
    rc=$?
    runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log")
    speed=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$log")
    cov=$(grep -oE 'cov: [0-9]+ ft: [0-9]+' "$log" | tail -n 1)
    if [ "$rc" = 0 ]; then
        echo "fuzz: fuzz_$target ok: ${runs:-?} runs, ${speed:-?} exec/s, ${cov:-cov: ?}"
    else
        grep -E '^==[0-9]+==ERROR|SUMMARY:|runtime error|invariant failed|Test unit written' "$log"
        tail -n 40 "$log"
        echo "fuzz: fuzz_$target FAILED (exit $rc): ${runs:-?} runs, reproduce with" \
            "$build/fuzz_$target $artifacts/<file>; minimize with -minimize_crash=1 -runs=10000"
        failed+=("$target")
    fi
done

if [ "${#failed[@]}" -gt 0 ]; then
    echo "fuzz: crashed: ${failed[*]}"
    exit 1
fi
echo "fuzz: ${#} targets ran ${seconds}s each without a crash"
