#!/usr/bin/env bash
# Many stations, one queue (issue 20): cards per minute with one station on a SQLite journal
# beside 1, 2 and 3 stations on one PostgreSQL; the claim latency of 8 concurrent clients
# working 1 000 records with no card; the journal's size per 1 000 records. The measurements
# are the ignored tests of tests/e2e/bench_stations.rs (release build): the e2e harness starts
# its own pcscd with vpcd readers, card feeders and a private PostgreSQL cluster per run, and
# every figure is printed only after every record was found made exactly once.
#   bench/stations.sh [RECORDS]   records per cards-per-minute run (default 24, at most 1000)
set -euo pipefail
cd "$(dirname "$0")/.."
export MELLI_BENCH_RECORDS="${1:-24}"
out="$(mktemp)"
trap 'rm -f "$out"' EXIT
# One test at a time: the two benches must not share the machine.
if ! cargo test --release --quiet --test e2e bench_stations -- --ignored --nocapture \
    --test-threads=1 >"$out" 2>&1; then
    cat "$out"
    exit 1
fi
# The harness's own lines out (--quiet leaves a dot per test, before the next test's output).
sed -e 's/^\.*//' "$out" | grep -v -e '^running ' -e '^test ' -e '^$'
