#!/usr/bin/env bash
# The invariant of the signature_verdict target, checked outside the fuzzing loop: every input
# melli called VALID (fuzz/valid/signature_verdict/, or the directory given) must be accepted by
# openssl's `cms -verify` with the same document and root. Prints each disagreement and a
# count; exits 1 if there is any. Usage: fuzz/check_valid.sh [DIR]
set -euo pipefail
dir="$(realpath -m "${1:-$(dirname "$0")/valid/signature_verdict}")"
cd "$(dirname "$0")"
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
printf 'melli fuzz seed document\n' > "$tmp/doc"   # melli_fuzz::DOCUMENT
openssl x509 -inform DER -in data/root.der -out "$tmp/root.pem"
total=0
disagree=0
for f in "$dir"/*; do
  [ -f "$f" ] || continue
  total=$((total + 1))
  form=DER
  if LC_ALL=C grep -q -- '-----BEGIN ' "$f"; then form=PEM; fi
  if ! openssl cms -verify -binary -inform "$form" -in "$f" -content "$tmp/doc" \
       -CAfile "$tmp/root.pem" -purpose any -out /dev/null 2> "$tmp/err"; then
    disagree=$((disagree + 1))
    echo "DISAGREE $f ($form): $(grep -v '^Verification' "$tmp/err" | head -2 | tr '\n' ' ')"
  fi
done
echo "$total inputs melli called VALID; openssl refuses $disagree of them"
[ "$disagree" -eq 0 ]
