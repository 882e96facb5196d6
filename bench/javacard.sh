#!/usr/bin/env bash
# The Java Card applet in jCardSim beside the Rust virtual card, through the same pcscd + vpcd
# and the same host: full personalization per card (median of N fresh cards each, default 10;
# the issuer's keys in plain files so that only the card differs), then the APDU round trip
# (`cargo bench --bench roundtrip`: GET CHALLENGE, both cards and vsmartcard's vicc), then the
# applet's memory as javacard/README.md counts it. Uses Debian's vpcd reader on port 35963 (see
# bench/lib.sh).
set -euo pipefail
cd "$(dirname "$0")/.."
runs="${1:-10}"
. bench/lib.sh
bench_start
(cd javacard && mvn -q -B package -DskipTests)
serve_java() { scripts/javacard-card --card "$1" >/dev/null 2>&1 & bench_card=$!; }
bench_issuer "$work/issuer" plain
bench_personalize_runs "$work/issuer" R "$runs" bench_serve_rust
bench_personalize_runs "$work/issuer" J "$runs" serve_java
read -r _ _ apdus _ <"$work/times-R.txt"
printf 'personalization over pcscd + vpcd, median of %d cards each, %d APDUs\n' "$runs" "$apdus"
printf '%-34s %16s %16s\n' "card" "in personalize" "whole command"
printf '%-34s %13s ms %13s ms\n' "melli virtual card (Rust)" "$(bench_median "$work/times-R.txt" 1)" "$(bench_median "$work/times-R.txt" 2)"
printf '%-34s %13s ms %13s ms\n' "melli applet in jCardSim (Java)" "$(bench_median "$work/times-J.txt" 1)" "$(bench_median "$work/times-J.txt" 2)"
echo
cargo bench --quiet --bench roundtrip 2>/dev/null | sed -n '/GET CHALLENGE/,$p'
echo
echo "the applet's memory (javacard/README.md, \"Memory\"):"
sed -n '/^## Memory/,/^## Where/p' javacard/README.md | sed '1d;$d' | grep -v '^$' | sed 's/^/  /'
