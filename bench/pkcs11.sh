#!/usr/bin/env bash
# What the PKCS#11 module costs: signatures per minute through OpenSC's `pkcs11-tool` (each its
# own process: load the module, C_Initialize, find the token, C_Login, C_Sign with
# CKM_ECDSA_SHA256) beside `melli sign` on the same card, N of each (default 50, every
# signature verified afterwards); and the time of C_Initialize + C_GetSlotList(tokens present)
# with 1 and with 4 readers holding a personalized card (median of 50, in one process through
# the `cryptoki` crate, examples/p11_drive.rs).
# Runs its own pcscd (as root, in a private mount namespace, like the tests) with four vpcd
# readers on ports 41700-41703, its own SoftHSM2 issuer and four virtual cards.
set -euo pipefail
cd "$(dirname "$0")/.."
runs="${1:-50}"
cargo build --release --quiet -p melli-cli -p melli-pkcs11
cargo build --release --quiet -p melli-pkcs11 --examples
target="${CARGO_TARGET_DIR:-target}/release"
melli="$target/melli"
module="$PWD/$target/libmelli_pkcs11.so"
drive="$target/examples/p11_drive"
work="$(mktemp -d)"
pids=()
cleanup() {
    for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
    wait 2>/dev/null || true
    rm -rf "$work"
}
trap cleanup EXIT

# pcscd with two vpcd entries (each its own copy of the driver): four readers.
mkdir -p "$work/conf" "$work/run" "$work/drivers" /run/pcscd
port=41700
for entry in 0 1; do
    p=$((port + 2 * entry))
    cp /usr/lib/pcsc/drivers/serial/libifdvpcd.so "$work/drivers/vpcd-$p.so"
    printf 'FRIENDLYNAME "melli-bench-%s"\nDEVICENAME /dev/null:0x%X\nLIBPATH %s\nCHANNELID 0x%X\n\n' \
        "$p" "$p" "$work/drivers/vpcd-$p.so" "$p" >>"$work/conf/vpcd"
done
unshare -m --propagation private sh -c 'mount --bind "$1" /run/pcscd && exec pcscd -f -c "$2"' \
    sh "$work/run" "$work/conf" >"$work/pcscd.log" 2>&1 &
pids+=($!)
export PCSCLITE_CSOCK_NAME="$work/run/pcscd.comm"
readers=("melli-bench-41700 00 00" "melli-bench-41700 00 01" "melli-bench-41702 00 00" "melli-bench-41702 00 01")
until [ "$("$melli" readers 2>/dev/null | grep -c melli-bench)" -eq 4 ]; do sleep 0.05; done

# The issuer (SoftHSM2) and four personalized cards.
mkdir -p "$work/softhsm/tokens"
printf 'directories.tokendir = %s\nobjectstore.backend = file\nlog.level = ERROR\n' \
    "$work/softhsm/tokens" >"$work/softhsm/softhsm2.conf"
export SOFTHSM2_CONF="$work/softhsm/softhsm2.conf"
export MELLI_ISSUER_PIN=bench-token-pin MELLI_ROOT_PIN=bench-token-pin
for l in bench bench-root; do
    softhsm2-util --init-token --free --label "$l" --pin bench-token-pin --so-pin bench-so-pin >/dev/null
done
"$melli" issuer init "$work/issuer" --hsm /usr/lib/softhsm/libsofthsm2.so --token bench \
    --root-token bench-root >/dev/null
for i in 0 1 2 3; do
    "$melli" card new --state "$work/card$i.json" --serial "BENCHP11000$i" --issuer "$work/issuer" >/dev/null
    "$melli" card serve --state "$work/card$i.json" --vpcd "127.0.0.1:$((port + i))" 2>/dev/null &
    pids+=($!)
    until "$melli" readers 2>/dev/null | grep -q "${readers[$i]}  card"; do sleep 0.02; done
    "$melli" personalize fixtures/records/valid-1.json --issuer "$work/issuer" --reader "${readers[$i]}" \
        --pin-mailer "$work/pin$i.txt" --json >/dev/null 2>&1
done
reader="${readers[0]}"
pin=$(awk '/^PIN: /{print $2}' "$work/pin0.txt")
head -c 1024 /dev/urandom >"$work/doc.bin"
now() { date +%s.%N; }

# pkcs11-tool, one process per signature.
export MELLI_PKCS11_READERS="$reader"
# The signing key ("Digital Signature"; a 1.1 card lists its login key, "Authentication",
# first): pkcs11-tool --sign takes the key by --id.
id=$(pkcs11-tool --module "$module" -O 2>/dev/null |
    awk '/Private Key Object/{p=1} p && /label:/{s=($0 ~ /Digital Signature/)} p && s && /ID:/{print $2; exit}')
pkcs11-tool --module "$module" --read-object --type pubkey --id "$id" --output-file "$work/pub.der" >/dev/null 2>&1
start=$(now)
for i in $(seq "$runs"); do
    t0=$(now)
    pkcs11-tool --module "$module" --sign --id "$id" --mechanism ECDSA-SHA256 --login --pin "$pin" \
        --signature-format openssl --input-file "$work/doc.bin" --output-file "$work/p11-$i.sig" >/dev/null 2>&1
    t1=$(now)
    awk -v a="$t0" -v b="$t1" 'BEGIN {print b - a}'
done >"$work/p11.txt"
end=$(now)
for i in $(seq "$runs"); do
    openssl dgst -sha256 -verify "$work/pub.der" -keyform DER -signature "$work/p11-$i.sig" "$work/doc.bin" >/dev/null
done
p11_span=$(awk -v a="$start" -v b="$end" 'BEGIN {print b - a}')
unset MELLI_PKCS11_READERS

# melli sign, one process per signature, the same card.
start=$(now)
for i in $(seq "$runs"); do
    t0=$(now)
    printf '%s\n' "$pin" | "$melli" sign "$work/doc.bin" --pin-stdin --reader "$reader" --out "$work/doc$i.p7s" >/dev/null
    t1=$(now)
    awk -v a="$t0" -v b="$t1" 'BEGIN {print b - a}'
done >"$work/melli.txt"
end=$(now)
for i in $(seq "$runs"); do
    "$melli" verify-signature "$work/doc.bin" "$work/doc$i.p7s" --trust "$work/issuer/root.pem" >/dev/null
done
melli_span=$(awk -v a="$start" -v b="$end" 'BEGIN {print b - a}')

# C_Initialize + C_GetSlotList with 1 and 4 readers holding a token.
one=$(MELLI_PKCS11_READERS="$reader" "$drive" "$module" init 50)
four=$(MELLI_PKCS11_READERS="melli-bench-" "$drive" "$module" init 50)

python3 - "$work/p11.txt" "$p11_span" "$work/melli.txt" "$melli_span" "$one" "$four" <<'PY'
import statistics, sys
p11 = [float(l) for l in open(sys.argv[1])]
mel = [float(l) for l in open(sys.argv[3])]
p11_span, mel_span = float(sys.argv[2]), float(sys.argv[4])
one, four = sys.argv[5].split(), sys.argv[6].split()
print("signing a 1 KB file over pcscd + vpcd (release build, each signature its own process, every one verified):")
print(f"  pkcs11-tool --sign -m ECDSA-SHA256 (module): {len(p11) * 60 / p11_span:5.0f} signatures/min, median {statistics.median(p11) * 1000:.1f} ms")
print(f"  melli sign (CMS)                           : {len(mel) * 60 / mel_span:5.0f} signatures/min, median {statistics.median(mel) * 1000:.1f} ms")
print("C_Initialize + C_GetSlotList(tokens present), median of 50:")
print(f"  {one[0]} reader with a card : {int(one[1]) / 1000:.2f} ms")
print(f"  {four[0]} readers with cards: {int(four[1]) / 1000:.2f} ms")
PY
