#!/usr/bin/env bash
# Seconds per card for a full personalization over pcscd + vpcd: median of N (default 20) fresh
# virtual cards, with the APDU count and bytes sent. Uses Debian's vpcd reader on port 35963
# (see bench/lib.sh).
set -euo pipefail
cd "$(dirname "$0")/.."
runs="${1:-20}"
. bench/lib.sh
bench_start
"$melli" issuer init "$work/issuer" >/dev/null
for i in $(seq -w 1 "$runs"); do
    "$melli" card new --state "$work/c$i.json" --serial "BENCH$i" --master-key "$work/issuer/master.key" >/dev/null
    "$melli" card serve --state "$work/c$i.json" 2>/dev/null &
    card=$!
    until "$melli" readers 2>/dev/null | grep -q "Virtual PCD 00 00  card"; do sleep 0.02; done
    "$melli" personalize fixtures/records/valid-1.json --issuer "$work/issuer" --reader "Virtual PCD 00 00" \
        --pin-mailer "$work/pm$i.txt" --json 2>/dev/null |
        python3 -c 'import json,sys; d=json.load(sys.stdin); print(d["seconds"], d["traffic"]["apdus"], d["traffic"]["bytes_sent"])'
    kill "$card"; wait "$card" 2>/dev/null || true
    until "$melli" readers 2>/dev/null | grep -q "Virtual PCD 00 00  empty"; do sleep 0.02; done
done >"$work/times.txt"
sort -n "$work/times.txt" | awk '{t[NR]=$1; a=$2; b=$3} END {printf "personalization over pcscd + vpcd: median %.3f s per card over %d cards, %d APDUs, %d bytes sent\n", t[int((NR+1)/2)], NR, a, b}'
