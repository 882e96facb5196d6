# Shared by the bench scripts (sourced, not run): a release build, Debian's vpcd reader on port
# 35963 with pcscd started (as root) when none runs, a work folder with its own SoftHSM2 (the
# issuer's HSM), and everything stopped and removed on exit. After `bench_start`: $melli,
# $reader, $work.
#   bench_issuer DIR [plain]        an issuer in DIR: keys in a SoftHSM2 token of its own (and
#                                   its root in another), or in plain files with "plain"
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
    "$melli" card serve --state "$work/card.json" 2>/dev/null &
    bench_card=$!
    until "$melli" readers 2>/dev/null | grep -q "$reader  card"; do sleep 0.02; done
    "$melli" personalize fixtures/records/valid-1.json --issuer "$work/issuer" --reader "$reader" \
        --pin-mailer "$work/pin-mailer.txt" --json >/dev/null 2>&1
}
