#!/usr/bin/env bash
# End to end through the real stack: a private pcscd with a vpcd reader, the melli applet in
# jCardSim behind it (scripts/javacard-card), and the Rust host (`melli`) personalizing,
# reading, verifying (with a live finger), signing and checking the signature.
#
#   javacard/e2e.sh [MELLI_BINARY]      (root, for pcscd; unshare -m keeps the pcscd private)
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
melli="${1:-$root/target/debug/melli}"
[ -x "$melli" ] || { echo "e2e: no melli binary at $melli (cargo build first, or pass its path)" >&2; exit 2; }
work="$(mktemp -d /tmp/melli-javacard-e2e.XXXXXX)"
port=$((40000 + RANDOM % 20000))
pids=()
cleanup() {
    for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
    wait 2>/dev/null || true
}
trap cleanup EXIT
say() { printf '\n== %s\n' "$*"; }

mkdir -p "$work/run" "$work/reader.conf.d"
cat >"$work/reader.conf.d/vpcd" <<CONF
FRIENDLYNAME "Virtual PCD"
DEVICENAME   /dev/null:$(printf '0x%X' "$port")
LIBPATH      /usr/lib/pcsc/drivers/serial/libifdvpcd.so
CHANNELID    $(printf '0x%X' "$port")
CONF
unshare -m --propagation private sh -c 'mount --bind "$1" /run/pcscd && exec pcscd -f -c "$2"' \
    sh "$work/run" "$work/reader.conf.d" >"$work/pcscd.log" 2>&1 &
pids+=($!)
export PCSCLITE_CSOCK_NAME="$work/run/pcscd.comm"
reader="Virtual PCD 00 00"

say "issuer and a blank card (melli card new)"
"$melli" issuer init --insecure-plain-keys "$work/issuer" >/dev/null
"$melli" card new --state "$work/card.json" --serial JC0000000001 --issuer "$work/issuer"

say "the Java card (jCardSim) on vpcd port $port"
"$root/scripts/javacard-card" --card "$work/card.json" --vpcd "127.0.0.1:$port" 2>"$work/card.log" &
pids+=($!)
for _ in $(seq 200); do
    if "$melli" readers 2>/dev/null | grep -q "$reader.*card"; then break; fi
    sleep 0.1
done
"$melli" readers

say "melli info"
"$melli" info --reader "$reader"
say "melli personalize"
printf '123456\n12345678\n' | "$melli" personalize --issuer "$work/issuer" --reader "$reader" \
    --secrets-stdin "$root/fixtures/records/valid-1.json"
say "melli read"
"$melli" read --reader "$reader"
say "melli verify (with the live finger)"
"$melli" verify --reader "$reader" --trust "$work/issuer/root.pem" \
    --finger "$root/fixtures/fingerprints/finger-1-live.fmr"
say "melli sign and verify-signature"
echo "hello, melli" >"$work/doc.txt"
echo 123456 | "$melli" sign --reader "$reader" --pin-stdin "$work/doc.txt"
"$melli" verify-signature --trust "$work/issuer/root.pem" "$work/doc.txt" "$work/doc.txt.p7s"
say "all steps passed on the Java Card applet"
