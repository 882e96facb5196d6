#!/usr/bin/env bash
# Runs fuzz targets one after the other, each until 10 million executions or 30 minutes,
# whichever comes first, on one core. Usage: fuzz/run.sh [TARGET...] (default: all).
# Environment: SECONDS_PER_TARGET (1800), RUNS (10000000), SANITIZER (none; "address" for ASan).
set -euo pipefail
cd "$(dirname "$0")/.."
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-/work/target-fuzz}"
time_limit="${SECONDS_PER_TARGET:-1800}"
runs="${RUNS:-10000000}"
sanitizer="${SANITIZER:-none}"
targets=("$@")
if [ ${#targets[@]} -eq 0 ]; then
  targets=(card_apdus finger_template identity_dg apdu_response certificate_path
           cms_signed_data signature_verdict security_object enrolment_record photo_dg
           timestamp_token)
fi
[ -d fuzz/data ] && [ -d fuzz/seeds ] || (cd fuzz && cargo run --release --example make_seeds)
cargo +nightly fuzz build -s "$sanitizer"
mkdir -p fuzz/logs
for target in "${targets[@]}"; do
  mkdir -p "fuzz/corpus/$target"
  echo "== $target: $(date -u +%FT%TZ)"
  cargo +nightly fuzz run -s "$sanitizer" "$target" "fuzz/corpus/$target" "fuzz/seeds/$target" -- \
    -max_total_time="$time_limit" -runs="$runs" -jobs=1 -workers=1 -print_final_stats=1 \
    > "fuzz/logs/$target.log" 2>&1 || echo "   $target stopped with a finding: see fuzz/logs/$target.log"
  # With -jobs, libFuzzer writes its own output to fuzz-0.log in the working directory.
  if [ -f fuzz-0.log ]; then mv fuzz-0.log "fuzz/logs/$target.libfuzzer.log"; fi
  grep -E '^(#[0-9]+ +DONE|Done|stat::|==[0-9]+== ERROR|thread .* panicked)' \
    "fuzz/logs/$target.libfuzzer.log" | sed 's/^/   /' || true
  echo "   corpus: $(ls "fuzz/corpus/$target" | wc -l) files"
done
