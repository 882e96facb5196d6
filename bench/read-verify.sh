#!/usr/bin/env bash
# What a desk costs: a full `melli read` + `melli verify` of a personalized virtual card over
# pcscd + vpcd (APDU count, bytes moved, median wall time over N runs, default 20), beside
# `opensc-tool` reading the same files with short APDUs (SELECT, then READ BINARY of at most
# 256 bytes each), its APDU count and median time.
# Uses Debian's vpcd reader on port 35963 (see bench/lib.sh).
set -euo pipefail
cd "$(dirname "$0")/.."
runs="${1:-20}"
. bench/lib.sh
bench_start
bench_personalized_card BENCHDESK

now() { date +%s.%N; }
for _ in $(seq "$runs"); do
    t0=$(now)
    "$melli" read --reader "$reader" --json >"$work/read.json"
    t1=$(now)
    "$melli" verify --trust "$work/issuer/root.pem" --reader "$reader" --json >"$work/verify.json"
    t2=$(now)
    python3 - "$work/read.json" "$work/verify.json" "$t0" "$t1" "$t2" <<'EOF'
import json, sys
r, v = (json.load(open(p))["traffic"] for p in sys.argv[1:3])
assert json.load(open(sys.argv[2]))["passed"], "verify did not pass"
t0, t1, t2 = map(float, sys.argv[3:6])
print(t1 - t0, t2 - t1, t2 - t0, r["apdus"], r["bytes_sent"] + r["bytes_received"],
      v["apdus"], v["bytes_sent"] + v["bytes_received"])
EOF
done >"$work/melli.txt"

# The same files for opensc-tool: SELECT the applet, then per file SELECT by FID and READ BINARY
# in short APDUs. File sizes come from the virtual card's state file.
python3 - "$work/card.json" >"$work/apdus.txt" <<'EOF'
import json, sys
state = json.load(open(sys.argv[1]))
sizes = {f["fid"].upper(): len(f["content"]) // 2 for f in state["files"]}
print("00A4040C07F04D454C4C4901")
for fid in ["0101", "0102", "0104", "0105", "0106", "011D"]:
    print("00A4020C02" + fid)
    offset = 0
    while offset < sizes[fid]:
        n = min(256, sizes[fid] - offset)
        print("00B0%04X%02X" % (offset, n % 256))
        offset += n
EOF
index=$(opensc-tool -l | awk -v r="$reader" 'index($0, r) {print $1; exit}')
mapfile -t apdus <"$work/apdus.txt"
args=()
for a in "${apdus[@]}"; do args+=(-s "$a"); done
expected=$(python3 -c 'import json,sys; s=json.load(open(sys.argv[1])); print(sum(len(f["content"])//2 for f in s["files"] if f["fid"].upper() in ("0101","0102","0104","0105","0106","011D")))' "$work/card.json")
for _ in $(seq "$runs"); do
    t0=$(now)
    opensc-tool -c default -r "$index" "${args[@]}" >"$work/opensc.out" 2>&1
    t1=$(now)
    python3 - "$work/opensc.out" "$t0" "$t1" "$expected" <<'EOF'
import sys
lines = open(sys.argv[1]).read().splitlines()
sent = [l for l in lines if l.startswith("Sending: ")]
sws = [l for l in lines if l.startswith("Received (SW1=0x")]
assert len(sws) == len(sent) and all("SW1=0x90, SW2=0x00" in l for l in sws), "opensc-tool: a command failed"
bytes_out = sum(len(l[len("Sending: "):].split()) for l in sent)
# Response data: util_hex_dump_asc lines after each "Received … :" header, 3 hex chars per byte.
data = 0
in_data = False
for l in lines:
    if l.startswith("Received (SW1=0x"):
        in_data = l.rstrip().endswith(":")
        first = True
        continue
    if l.startswith("Sending: ") or not l.strip():
        in_data = False
        continue
    if in_data:
        data += (len(l) // 4) if first else len(l[:48].split())
        first = False
assert data == int(sys.argv[4]), f"opensc-tool read {data} bytes, the files hold {sys.argv[4]}"
print(float(sys.argv[3]) - float(sys.argv[2]), len(sent), bytes_out + data + 2 * len(sent))
EOF
done >"$work/opensc.txt"

python3 - "$work/melli.txt" "$work/opensc.txt" "$expected" <<'EOF'
import statistics, sys
m = [list(map(float, l.split())) for l in open(sys.argv[1])]
o = [list(map(float, l.split())) for l in open(sys.argv[2])]
med = lambda rows, i: statistics.median(r[i] for r in rows)
ra, rb, va, vb = int(m[0][3]), int(m[0][4]), int(m[0][5]), int(m[0][6])
print(f"desk over pcscd + vpcd, median of {len(m)} runs (release build, each command its own process):")
print(f"  melli read               {ra:4d} APDUs {rb:7d} bytes  {med(m, 0) * 1000:7.1f} ms")
print(f"  melli verify             {va:4d} APDUs {vb:7d} bytes  {med(m, 1) * 1000:7.1f} ms")
print(f"  melli read + verify      {ra + va:4d} APDUs {rb + vb:7d} bytes  {med(m, 2) * 1000:7.1f} ms")
print(f"  opensc-tool, short APDUs {int(o[0][1]):4d} APDUs {int(o[0][2]):7d} bytes  {med(o, 0) * 1000:7.1f} ms"
      f"  (the same {sys.argv[3]} bytes of files, read once)")
EOF
