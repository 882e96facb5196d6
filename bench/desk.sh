#!/usr/bin/env bash
# What a desk waits, on the virtual card as it is (`fast`) and on one that takes a real contact
# card's time (`melli card serve --timing t1-115200`, docs/card-timing.md), side by side:
#   (a) the desk check of today's melli: `melli verify --trust … --json` (APDUs from its JSON);
#   (b) `melli read` + `melli verify` of melli at git rev BASELINE (default e670ea6, before
#       the one-pass read), built once in a git worktree of its own under a temporary folder
#       and kept as ${CARGO_TARGET_DIR:-target}/bench-baseline/melli-REV;
#   (c) opensc-tool reading the same files with short APDUs, in one process: SELECT of the
#       applet, then READ BINARY of every readable file by its short EF identifier and on from
#       the current EF, at most 256 bytes each;
#   (d) personalization on an issuance line: `melli batch` on one reader fed by
#       `melli card feed --timing PROFILE`, CARDS cards (default 6), in cards per hour.
# (a)–(c) are the median wall time of RUNS runs (default 10), each command its own process;
# with a timed card, every APDU count is checked against the card's own log, and the time the
# model gave the card (link and chip) is shown beside the wall time.
#   usage: [BASELINE=REV] [CARDS=N] [PROFILE=t1-115200] bench/desk.sh [RUNS]
# Uses Debian's vpcd reader on port 35963 (see bench/lib.sh); needs opensc-tool (opensc).
set -euo pipefail
cd "$(dirname "$0")/.."
runs="${1:-10}"
cards="${CARDS:-6}"
timed="${PROFILE:-t1-115200}"
profiles=(fast "$timed")
. bench/lib.sh

# (b)'s melli: built once per rev, in a worktree of its own with its own target folder, so that
# neither this worktree nor its build is touched.
baseline_rev="$(git rev-parse --verify "${BASELINE:-e670ea6}^{commit}")"
baseline_cache="$(realpath -m "${CARGO_TARGET_DIR:-target}/bench-baseline")"
baseline="$baseline_cache/melli-$baseline_rev"
if [ ! -x "$baseline" ]; then
    mkdir -p "$baseline_cache"
    tree_parent="$(mktemp -d)"
    tree="$tree_parent/melli-${baseline_rev:0:12}"
    echo "building melli ${baseline_rev:0:12} (once) in $tree" >&2
    git worktree add --detach --quiet "$tree" "$baseline_rev"
    built=0
    (cd "$tree" && CARGO_TARGET_DIR="$baseline_cache/target" cargo build --release --quiet --bin melli) &&
        built=1
    git worktree remove --force "$tree"
    rm -rf "$tree_parent"
    [ "$built" = 1 ] || { echo "bench/desk.sh: the baseline build failed" >&2; exit 1; }
    cp "$baseline_cache/target/release/melli" "$baseline.tmp"
    mv "$baseline.tmp" "$baseline"
fi

bench_start
bench_personalized_card BENCHDESK
root="$work/issuer/root.pem"

now() { date +%s.%N; }

# The card of the desk served with PROFILE; its stderr (one line per APDU when timed) in
# $work/card-PROFILE.log.
serve_desk_card() {
    kill "$bench_card"; wait "$bench_card" 2>/dev/null || true
    until "$melli" readers 2>/dev/null | grep -q "$reader  empty"; do sleep 0.02; done
    "$melli" card serve --state "$work/card.json" --timing "$1" 2>>"$work/card-$1.log" &
    bench_card=$!
    until "$melli" readers 2>/dev/null | grep -q "$reader  card"; do sleep 0.02; done
}

# The link's bit rate of a built-in T=1 profile (0 for others: no link share shown).
link_rate() { [[ "$1" =~ ^t1-([0-9]+)$ ]] && echo "${BASH_REMATCH[1]}" || echo 0; }

# From the "timing: C + R bytes, modelled N us" lines of a card log on stdin: APDUs, modelled
# microseconds, and the microseconds of them that are the T=1 link at bit rate $1 (the model of
# docs/card-timing.md: 11 etu a character, IFSC 254, 4 bytes of framing a block and an R-block
# for each chained one).
timing_sum() {
    awk -v rate="$1" '
        function chars(n,  b) { b = (n == 0) ? 1 : int((n + 253) / 254); return n + 4 * b + 4 * (b - 1) }
        { for (i = 1; i < NF; i++) if ($i == "timing:") {
              n++; us += $(NF-1)
              if (rate > 0) link += (chars($(i+1)) + chars($(i+3))) * 11 * 1e6 / rate
          } }
        END {printf "%d %d %d", n, us, link}'
}

# APDUs, modelled and link microseconds the card logged since line $1 of its log $2 (rate $3).
card_count() {
    tail -n +"$(($1 + 1))" "$2" | timing_sum "$3"
}

# (c)'s APDUs: SELECT of the applet, then each readable file (DG3 never is) by SFI and on.
python3 - "$work/card.json" >"$work/apdus.txt" <<'EOF'
import json, sys
state = json.load(open(sys.argv[1]))
print("00A4040C07F04D454C4C4901")
for f in sorted(state["files"], key=lambda f: f["fid"].upper()):
    fid, size = int(f["fid"], 16), len(f["content"]) // 2
    if fid == 0x0103 or size == 0:
        continue
    offset = 0
    while offset < size:
        n = min(256, size - offset)
        if offset == 0:
            print("00B0%02X00%02X" % (0x80 | (fid & 0x1F), n % 256))
        else:
            print("00B0%04X%02X" % (offset, n % 256))
        offset += n
EOF
file_bytes=$(python3 -c 'import json,sys; s=json.load(open(sys.argv[1])); print(sum(len(f["content"])//2 for f in s["files"] if f["fid"].upper() != "0103"))' "$work/card.json")
index=$(opensc-tool -l | awk -v r="$reader" 'index($0, r) {print $1; exit}')
mapfile -t apdus <"$work/apdus.txt"
opensc_args=()
for a in "${apdus[@]}"; do opensc_args+=(-s "$a"); done

for profile in "${profiles[@]}"; do
    serve_desk_card "$profile"
    log="$work/card-$profile.log"
    rate=$(link_rate "$profile")
    for _ in $(seq "$runs"); do
        # (a)
        mark=$(wc -l <"$log")
        t0=$(now)
        "$melli" verify --trust "$root" --reader "$reader" --json >"$work/a.json"
        t1=$(now)
        a_card=$(card_count "$mark" "$log" "$rate")
        # (b)
        mark=$(wc -l <"$log")
        t2=$(now)
        "$baseline" read --reader "$reader" --json >"$work/b-read.json"
        "$baseline" verify --trust "$root" --reader "$reader" --json >"$work/b-verify.json"
        t3=$(now)
        b_card=$(card_count "$mark" "$log" "$rate")
        # (c)
        mark=$(wc -l <"$log")
        t4=$(now)
        opensc-tool -c default -r "$index" "${opensc_args[@]}" >"$work/c.out" 2>&1
        t5=$(now)
        c_card=$(card_count "$mark" "$log" "$rate")
        python3 - "$work" "$file_bytes" "$t0" "$t1" "$t2" "$t3" "$t4" "$t5" \
            "$a_card" "$b_card" "$c_card" <<'EOF'
import json, sys
work, file_bytes = sys.argv[1], int(sys.argv[2])
t = list(map(float, sys.argv[3:9]))
card = [tuple(map(int, c.split())) for c in sys.argv[9:12]]
a = json.load(open(f"{work}/a.json"))
assert a["passed"], "(a) melli verify did not pass"
b_read, b_verify = (json.load(open(f"{work}/b-{x}.json")) for x in ("read", "verify"))
assert b_verify["passed"], "(b) baseline melli verify did not pass"
lines = open(f"{work}/c.out").read().splitlines()
sent = [l for l in lines if l.startswith("Sending: ")]
sws = [l for l in lines if l.startswith("Received (SW1=0x")]
assert len(sws) == len(sent) and all("SW1=0x90, SW2=0x00" in l for l in sws), \
    "(c) opensc-tool: a command failed"
# Response data: the hex dump lines after each "Received … :" header.
data, in_data = 0, False
for l in lines:
    if l.startswith("Received (SW1=0x"):
        in_data, first = l.rstrip().endswith(":"), True
    elif l.startswith("Sending: ") or not l.strip():
        in_data = False
    elif in_data:
        data += (len(l) // 4) if first else len(l[:48].split())
        first = False
assert data == file_bytes, f"(c) opensc-tool read {data} bytes, the files hold {file_bytes}"
apdus = [a["traffic"]["apdus"], b_read["traffic"]["apdus"] + b_verify["traffic"]["apdus"], len(sent)]
for what, n, (logged, _, _) in zip("abc", apdus, card):
    # A fast card logs nothing; a timed one logs every APDU it answers.
    assert logged in (0, n), f"({what}) {n} APDUs counted by the host, {logged} by the card"
walls = [t[1] - t[0], t[3] - t[2], t[5] - t[4]]
print(" ".join(f"{n} {w:.6f} {us / 1e6:.6f} {link / 1e6:.6f}" for n, w, (_, us, link) in zip(apdus, walls, card)))
EOF
    done >"$work/desk-$profile.txt"
done

# (d): one reader, fed CARDS blank cards by a feeder of each profile.
kill "$bench_card"; wait "$bench_card" 2>/dev/null || true
bench_card=""
until "$melli" readers 2>/dev/null | grep -q "$reader  empty"; do sleep 0.02; done
python3 - "$cards" "$PWD/fixtures" >"$work/records.jsonl" <<'EOF'
import json, sys
n, fixtures = int(sys.argv[1]), sys.argv[2]
base = json.load(open(f"{fixtures}/records/valid-1.json"))
base["photo"] = f"{fixtures}/photos/face-1.jpg"
base["fingerprint"] = f"{fixtures}/fingerprints/finger-1.fmr"
for i in range(1, n + 1):
    nine = "%09d" % (300_000_000 + i * 7)
    r = sum(int(d) * w for d, w in zip(nine, range(10, 1, -1))) % 11
    record = dict(base, tracking_code="1403093%05d" % i, national_code=nine + str(r if r < 2 else 11 - r))
    print(json.dumps(record, ensure_ascii=False))
EOF
for profile in "${profiles[@]}"; do
    # One card more than the records, so that the reader is not left empty at the end.
    "$melli" card feed --dir "$work/cards-$profile" --count "$((cards + 1))" --serial-prefix "BD" \
        --issuer "$work/issuer" --gap-ms 500 --timing "$profile" 2>"$work/feed-$profile.log" &
    feeder=$!
    "$melli" batch "$work/records.jsonl" --issuer "$work/issuer" --journal "$work/journal-$profile.db" \
        --readers "$reader" --pin-mailers "$work/mailers-$profile" --json >"$work/batch-$profile.json" 2>/dev/null ||
        { echo "bench/desk.sh: melli batch on $profile failed" >&2; exit 1; }
    kill "$feeder"; wait "$feeder" 2>/dev/null || true
    until "$melli" readers 2>/dev/null | grep -q "$reader  empty"; do sleep 0.02; done
    timing_sum "$(link_rate "$profile")" <"$work/feed-$profile.log" >"$work/feed-$profile.txt"
done

python3 - "$work" "$runs" "$cards" "${baseline_rev:0:7}" "${profiles[@]}" <<'EOF'
import json, statistics, sys
work, runs, cards, rev, profiles = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), sys.argv[4], sys.argv[5:]
rows = {p: [list(map(float, l.split())) for l in open(f"{work}/desk-{p}.txt")] for p in profiles}
def cell(p, i):
    r = rows[p]
    n = int(r[0][4 * i])
    assert all(int(x[4 * i]) == n for x in r), f"{p}: the APDU count changed between runs"
    wall, modelled, link = (statistics.median(x[4 * i + k] for x in r) * 1000 for k in (1, 2, 3))
    extra = f" {modelled:6.0f} {link:6.0f}" if modelled else " " * 14
    return f"{n:5d} {wall:8.1f}{extra}"
what = ["(a) melli verify --trust (desk check)",
        f"(b) melli {rev} read + verify",
        "(c) opensc-tool, short APDUs"]
width = 38
print(f"desk over pcscd + vpcd, a spec 1.1 card, median of {runs} runs, each command its own process")
print(f"{'':{width}}" + "".join(f" | {p:>29}" for p in profiles))
print(f"{'':{width}}" + "".join(f" | {'APDUs':>5} {'wall ms':>8} {'model':>6} {'link':>6}" for p in profiles))
for i, w in enumerate(what):
    print(f"{w:{width}}" + "".join(f" | {cell(p, i)}" for p in profiles))
print("model: the time the profile gave the card (link and chip), in ms, inside the wall time;")
print("link: the part of it that is the T=1 link")
print()
print(f"personalization on one reader: melli batch of {cards} records, melli card feed --timing PROFILE (gap 500 ms)")
print(f"{'':{width}}" + "".join(f" | {p:>24}" for p in profiles))
lines = []
for p in profiles:
    b = json.load(open(f"{work}/batch-{p}.json"))
    made, seconds = b["made"], b["seconds"]
    assert made == cards, f"{p}: {made} cards made of {cards}"
    n, us, link = map(int, open(f"{work}/feed-{p}.txt").read().split())
    lines.append((made, seconds, 3600 * made / seconds, n / made, us / made / 1000, link / made / 1000))
print(f"{'seconds for the batch':{width}}" + "".join(f" | {l[1]:24.1f}" for l in lines))
print(f"{'cards per hour per reader':{width}}" + "".join(f" | {l[2]:24.0f}" for l in lines))
print(f"{'model per card: APDUs':{width}}" + "".join(f" | {l[3]:24.0f}" for l in lines))
print(f"{'model per card: card time (ms)':{width}}" + "".join(f" | {l[4]:24.0f}" for l in lines))
print(f"{'model per card: of it, link (ms)':{width}}" + "".join(f" | {l[5]:24.0f}" for l in lines))
EOF
