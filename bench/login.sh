#!/usr/bin/env bash
# Logins per minute with a spec 1.1 card: `melli auth-token` (its own process each: select, read
# DG7, VERIFY, INTERNAL AUTHENTICATE with key 03, the signature checked against DG7) beside what
# the service then does, `melli verify-auth-token` of each token (format, chain to the root,
# signature over origin and nonce). N of each (default 50), every token verified; a fresh nonce
# per login. One Rust virtual card over pcscd + vpcd (bench/lib.sh), release build.
set -euo pipefail
cd "$(dirname "$0")/.."
. bench/lib.sh
runs="${1:-50}"
bench_start
bench_personalized_card BENCHLOGIN01
pin=$(awk '/^PIN: /{print $2}' "$work/pin-mailer.txt")
"$melli" read --reader "$reader" --out "$work/read" >/dev/null
origin=https://e.gov.ir
now() { date +%s.%N; }

start=$(now)
for i in $(seq "$runs"); do
    head -c 32 /dev/urandom | base64 >"$work/nonce-$i"
    t0=$(now)
    echo "$pin" | "$melli" auth-token --origin "$origin" --nonce "$(cat "$work/nonce-$i")" \
        --reader "$reader" --pin-stdin >"$work/token-$i.json"
    t1=$(now)
    awk -v a="$t0" -v b="$t1" 'BEGIN {print b - a}'
done >"$work/make.txt"
end=$(now)
make_span=$(awk -v a="$start" -v b="$end" 'BEGIN {print b - a}')

start=$(now)
for i in $(seq "$runs"); do
    t0=$(now)
    "$melli" verify-auth-token "$work/token-$i.json" --origin "$origin" --nonce "$(cat "$work/nonce-$i")" \
        --trust "$work/issuer/root.pem" --ca "$work/read/signing-ca.pem" >/dev/null
    t1=$(now)
    awk -v a="$t0" -v b="$t1" 'BEGIN {print b - a}'
done >"$work/check.txt"
end=$(now)
check_span=$(awk -v a="$start" -v b="$end" 'BEGIN {print b - a}')

echo "Web eID-style logins with a spec 1.1 card over pcscd + vpcd (release build, $runs each, every token verified):"
printf '  melli auth-token        (card)   : %5.0f tokens/min, median %s ms\n' \
    "$(awk -v n="$runs" -v s="$make_span" 'BEGIN {print n * 60 / s}')" "$(bench_median "$work/make.txt" 1)"
printf '  melli verify-auth-token (service): %5.0f tokens/min, median %s ms\n' \
    "$(awk -v n="$runs" -v s="$check_span" 'BEGIN {print n * 60 / s}')" "$(bench_median "$work/check.txt" 1)"
