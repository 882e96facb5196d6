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
serve() { # state-file kind
    if [ "$2" = java ]; then
        scripts/javacard-card --card "$1" >/dev/null 2>&1 &
    else
        "$melli" card serve --state "$1" 2>/dev/null &
    fi
    bench_card=$!
}
run_cards() { # kind
    for i in $(seq -w 1 "$runs"); do
        "$melli" card new --state "$work/$1$i.json" --serial "J${1^^}$i" --issuer "$work/issuer" >/dev/null
        serve "$work/$1$i.json" "$1"
        until "$melli" readers 2>/dev/null | grep -q "$reader  card"; do sleep 0.02; done
        start=$(date +%s.%N)
        "$melli" personalize fixtures/records/valid-1.json --issuer "$work/issuer" --reader "$reader" \
            --pin-mailer "$work/pm$1$i.txt" --json 2>/dev/null >"$work/out.json"
        end=$(date +%s.%N)
        python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); print(d["seconds"], float(sys.argv[3])-float(sys.argv[2]), d["traffic"]["apdus"])' \
            "$work/out.json" "$start" "$end"
        kill "$bench_card"; wait "$bench_card" 2>/dev/null || true
        bench_card=""
        until "$melli" readers 2>/dev/null | grep -q "$reader  empty"; do sleep 0.02; done
    done >"$work/times-$1.txt"
}
median() { sort -n -k"$2" "$1" | awk -v k="$2" '{t[NR]=$k} END {printf "%.1f", 1000*t[int((NR+1)/2)]}'; }
bench_issuer "$work/issuer" plain
run_cards rust
run_cards java
read -r _ _ apdus <"$work/times-rust.txt"
printf 'personalization over pcscd + vpcd, median of %d cards each, %d APDUs\n' "$runs" "$apdus"
printf '%-34s %16s %16s\n' "card" "in personalize" "whole command"
printf '%-34s %13s ms %13s ms\n' "melli virtual card (Rust)" "$(median "$work/times-rust.txt" 1)" "$(median "$work/times-rust.txt" 2)"
printf '%-34s %13s ms %13s ms\n' "melli applet in jCardSim (Java)" "$(median "$work/times-java.txt" 1)" "$(median "$work/times-java.txt" 2)"
echo
cargo bench --quiet --bench roundtrip 2>/dev/null | sed -n '/GET CHALLENGE/,$p'
echo
echo "the applet's memory (javacard/README.md, \"Memory\"):"
sed -n '/^## Memory/,/^## Where/p' javacard/README.md | sed '1d;$d' | grep -v '^$' | sed 's/^/  /'
