#!/usr/bin/env bash
# Benchmark (not a test): wall time and peak RSS of `triage run` against the
# old system's reference (`legacy_ref.py --commit end`, its fastest mode) on
# the same generated input. Prints a Markdown table.
#
#   bash tests/bench/compare.sh [SIZES...]      # default: 100000 1000000
#
# Inputs are written to ${BENCH_DIR:-target/bench} (about 300 MB for 1M).
set -euo pipefail
cd "$(dirname "$0")/../.."
sizes=("${@:-100000 1000000}")
[ $# -eq 0 ] && sizes=(100000 1000000)
work=${BENCH_DIR:-target/bench}
mkdir -p "$work"
cargo build --release --quiet -p triage-cli
triage=target/release/triage

# One run under /usr/bin/time: prints "seconds peak_mib".
measure() {
    local log=$work/time.log
    /usr/bin/time -f '%e %M' -o "$log" "$@" >/dev/null 2>&1 || true
    awk '{ printf "%s %.0f\n", $1, $2 / 1024 }' "$log"
}

echo "| alerts | system | wall s | peak RSS MiB |"
echo "|---:|---|---:|---:|"
for n in "${sizes[@]}"; do
    emails=$work/e-$n.json txns=$work/t-$n.csv
    if [ ! -f "$txns" ]; then
        python3 tests/reference/gen.py --emails-out "$emails" --txns-out "$txns" \
            --n "$n" --seed 42 --dup-rate 0.2 --manifest "$work/m-$n.json"
    fi
    rm -f "$work/legacy-$n.db" "$work/triage-$n.db"*
    read -r secs mib < <(measure python3 tests/reference/legacy_ref.py --emails "$emails" \
        --transactions "$txns" --db "$work/legacy-$n.db" --commit end --now 2024-12-13T12:00:00Z)
    echo "| $n | legacy_ref.py --commit end | $secs | $mib |"
    read -r secs mib < <(measure "$triage" run --json --db "$work/triage-$n.db" \
        --now 2024-12-13T12:00:00Z "$emails" "$txns")
    echo "| $n | triage run | $secs | $mib |"
done
