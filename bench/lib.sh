# Shared by the bench scripts (sourced, not run): a release build, Debian's vpcd reader on port
# 35963 with pcscd started (as root) when none runs, a work folder, and everything stopped and
# removed on exit. After `bench_start`: $melli, $reader, $work.
#   bench_personalized_card SERIAL  a test issuer in $work/issuer and a card served in the
#                                   reader, personalized (PIN mailer $work/pin-mailer.txt)

bench_start() {
    cargo build --release --quiet
    melli="${CARGO_TARGET_DIR:-target}/release/melli"
    reader="Virtual PCD 00 00"
    work="$(mktemp -d)"
    bench_pcscd=""
    bench_card=""
    trap bench_cleanup EXIT
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

bench_personalized_card() {
    "$melli" issuer init "$work/issuer" >/dev/null
    "$melli" card new --state "$work/card.json" --serial "$1" --master-key "$work/issuer/master.key" >/dev/null
    "$melli" card serve --state "$work/card.json" 2>/dev/null &
    bench_card=$!
    until "$melli" readers 2>/dev/null | grep -q "$reader  card"; do sleep 0.02; done
    "$melli" personalize fixtures/records/valid-1.json --issuer "$work/issuer" --reader "$reader" \
        --pin-mailer "$work/pin-mailer.txt" --json >/dev/null 2>&1
}
