# Shared by the bench scripts (sourced, not run): a release build, Debian's vpcd reader on port
# 35963 with pcscd started (as root) when none runs, a work folder with its own SoftHSM2 (the
# issuer's HSM), and everything stopped and removed on exit. After `bench_start`: $melli,
# $reader, $work.
#   bench_issuer DIR [plain]        an issuer in DIR: keys in a SoftHSM2 token of its own (and
#                                   its root in another), or in plain files with "plain"
#   bench_personalized_card SERIAL  a test issuer in $work/issuer and a card served in the
#                                   reader, personalized (PIN mailer $work/pin-mailer.txt)
#   bench_serve_rust STATE-FILE     serves a Rust virtual card in the reader ($bench_card)
#   bench_median FILE COLUMN        the median of a column of seconds, in milliseconds
#   bench_personalize_runs ISSUER TAG RUNS SERVE
#                                   RUNS fresh cards made for ISSUER, each served by
#                                   `SERVE STATE-FILE` (which sets $bench_card) and personalized;
#                                   one line per card in $work/times-TAG.txt: seconds inside
#                                   personalize, seconds of the whole command, APDUs, bytes sent

bench_start() {
    cargo build --release --quiet
    melli="${CARGO_TARGET_DIR:-target}/release/melli"
    reader="Virtual PCD 00 00"
    work="$(mktemp -d)"
    bench_pcscd=""
    bench_card=""
    trap bench_cleanup EXIT
    mkdir -p "$work/softhsm/tokens"
    printf 'directories.tokendir = %s\nobjectstore.backend = file\nlog.level = ERROR\n' \
        "$work/softhsm/tokens" >"$work/softhsm/softhsm2.conf"
    export SOFTHSM2_CONF="$work/softhsm/softhsm2.conf"
    # A bench token PIN, as a test one: never a real issuer's.
    export MELLI_ISSUER_PIN=bench-token-pin MELLI_ROOT_PIN=bench-token-pin
    if ! pgrep -x pcscd >/dev/null; then
        pcscd -f >"$work/pcscd.log" 2>&1 &
        bench_pcscd=$!
    fi
    until "$melli" readers 2>/dev/null | grep -q "$reader"; do sleep 0.05; done
}

bench_cleanup() {
    if [ -n "$bench_card" ]; then kill "$bench_card" 2>/dev/null || true; fi
    pkill -f "card serve --state $work" 2>/dev/null || true
    if [ -n "$bench_pcscd" ]; then kill "$bench_pcscd" 2>/dev/null || true; fi
    rm -rf "$work"
}

bench_issuer() {
    if [ "${2:-}" = plain ]; then
        "$melli" issuer init "$1" --insecure-plain-keys >/dev/null 2>&1
        return
    fi
    local label
    label="$(basename "$1")"
    for l in "$label" "$label-root"; do
        softhsm2-util --init-token --free --label "$l" --pin "$MELLI_ISSUER_PIN" \
            --so-pin bench-so-pin >/dev/null
    done
    "$melli" issuer init "$1" --hsm /usr/lib/softhsm/libsofthsm2.so --token "$label" \
        --root-token "$label-root" >/dev/null
}

bench_personalized_card() {
    bench_issuer "$work/issuer"
    "$melli" card new --state "$work/card.json" --serial "$1" --issuer "$work/issuer" >/dev/null
    bench_serve_rust "$work/card.json"
    until "$melli" readers 2>/dev/null | grep -q "$reader  card"; do sleep 0.02; done
    "$melli" personalize fixtures/records/valid-1.json --issuer "$work/issuer" --reader "$reader" \
        --pin-mailer "$work/pin-mailer.txt" --json >/dev/null 2>&1
}

bench_personalize_runs() {
    local issuer="$1" tag="$2" runs="$3" serve="$4" i start end
    for i in $(seq -w 1 "$runs"); do
        "$melli" card new --state "$work/$tag$i.json" --serial "B$tag$i" --issuer "$issuer" >/dev/null
        "$serve" "$work/$tag$i.json"
        until "$melli" readers 2>/dev/null | grep -q "$reader  card"; do sleep 0.02; done
        start=$(date +%s.%N)
        "$melli" personalize fixtures/records/valid-1.json --issuer "$issuer" --reader "$reader" \
            --pin-mailer "$work/pm$tag$i.txt" --json 2>/dev/null >"$work/out.json"
        end=$(date +%s.%N)
        python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); print(d["seconds"], float(sys.argv[3])-float(sys.argv[2]), d["traffic"]["apdus"], d["traffic"]["bytes_sent"])' \
            "$work/out.json" "$start" "$end"
        kill "$bench_card"; wait "$bench_card" 2>/dev/null || true
        bench_card=""
        until "$melli" readers 2>/dev/null | grep -q "$reader  empty"; do sleep 0.02; done
    done >"$work/times-$tag.txt"
}

bench_serve_rust() {
    "$melli" card serve --state "$1" 2>/dev/null &
    bench_card=$!
}

bench_median() {
    sort -n -k"$2" "$1" | awk -v k="$2" '{t[NR]=$k} END {printf "%.1f", 1000*t[int((NR+1)/2)]}'
}
