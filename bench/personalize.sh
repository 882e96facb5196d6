#!/usr/bin/env bash
# Personalization per card over pcscd + vpcd, with the issuer's keys in SoftHSM2 beside the same
# with plain key files, so the cost of the HSM is known: median of N (default 20) fresh virtual
# cards each. "in personalize" is the time melli reports for the card's steps (certificate and
# security-object signatures made in the token); "whole command" adds starting melli, loading the
# issuer (C_Initialize, C_Login) and connecting. Uses Debian's vpcd reader on port 35963 (see
# bench/lib.sh).
set -euo pipefail
cd "$(dirname "$0")/.."
runs="${1:-20}"
. bench/lib.sh
bench_start
run_cards() { # issuer-dir tag
    for i in $(seq -w 1 "$runs"); do
        "$melli" card new --state "$work/$2$i.json" --serial "B$2$i" --issuer "$1" >/dev/null
        "$melli" card serve --state "$work/$2$i.json" 2>/dev/null &
        card=$!
        until "$melli" readers 2>/dev/null | grep -q "$reader  card"; do sleep 0.02; done
        start=$(date +%s.%N)
        "$melli" personalize fixtures/records/valid-1.json --issuer "$1" --reader "$reader" \
            --pin-mailer "$work/pm$2$i.txt" --json 2>/dev/null >"$work/out.json"
        end=$(date +%s.%N)
        python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); print(d["seconds"], float(sys.argv[3])-float(sys.argv[2]), d["traffic"]["apdus"], d["traffic"]["bytes_sent"])' \
            "$work/out.json" "$start" "$end"
        kill "$card"; wait "$card" 2>/dev/null || true
        until "$melli" readers 2>/dev/null | grep -q "$reader  empty"; do sleep 0.02; done
    done >"$work/times-$2.txt"
}
median() { sort -n -k"$2" "$1" | awk -v k="$2" '{t[NR]=$k} END {printf "%.1f", 1000*t[int((NR+1)/2)]}'; }
bench_issuer "$work/hsm"
bench_issuer "$work/plain" plain
run_cards "$work/hsm" H
run_cards "$work/plain" P
read -r _ _ apdus bytes <"$work/times-H.txt"
printf 'personalization over pcscd + vpcd, median of %d cards each, %d APDUs, %d bytes sent\n' "$runs" "$apdus" "$bytes"
printf '%-32s %16s %16s\n' "issuer keys" "in personalize" "whole command"
printf '%-32s %13s ms %13s ms\n' "SoftHSM2 token (PKCS#11)" "$(median "$work/times-H.txt" 1)" "$(median "$work/times-H.txt" 2)"
printf '%-32s %13s ms %13s ms\n' "plain PKCS#8 files" "$(median "$work/times-P.txt" 1)" "$(median "$work/times-P.txt" 2)"
