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
bench_issuer "$work/hsm"
bench_issuer "$work/plain" plain
bench_personalize_runs "$work/hsm" H "$runs" bench_serve_rust
bench_personalize_runs "$work/plain" P "$runs" bench_serve_rust
read -r _ _ apdus bytes <"$work/times-H.txt"
printf 'personalization over pcscd + vpcd, median of %d cards each, %d APDUs, %d bytes sent\n' "$runs" "$apdus" "$bytes"
printf '%-32s %16s %16s\n' "issuer keys" "in personalize" "whole command"
printf '%-32s %13s ms %13s ms\n' "SoftHSM2 token (PKCS#11)" "$(bench_median "$work/times-H.txt" 1)" "$(bench_median "$work/times-H.txt" 2)"
printf '%-32s %13s ms %13s ms\n' "plain PKCS#8 files" "$(bench_median "$work/times-P.txt" 1)" "$(bench_median "$work/times-P.txt" 2)"
