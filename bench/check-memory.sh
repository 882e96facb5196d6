#!/usr/bin/env bash
# Peak memory (maximum resident set size, /usr/bin/time -v) of `melli check` on the worst photos:
# a JPEG whose header says 12 000 × 12 000 pixels, a 16-bit RGBA PNG that says the same, and a
# legitimate 4000 × 3000 photo as JPEG and as PNG. The bombs must be refused from their headers,
# the photos checked; every figure well under 256 MB. Release build; no card or pcscd needed.
set -euo pipefail
cd "$(dirname "$0")/.."

cargo build --release --quiet
melli="${CARGO_TARGET_DIR:-target}/release/melli"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT

# The photos are made by an ignored unit test (the `image` crate's encoders, the bombs' headers
# rewritten), into $work.
MELLI_BENCH_DIR="$work" cargo test --quiet -p melli --lib model::photo::tests::write_bench_photos \
    -- --ignored >/dev/null

here="$PWD"
record() { # record NAME PHOTO: valid-1.json with that photo
    sed -e "s|\"photo\": \"[^\"]*\"|\"photo\": \"$2\"|" \
        -e "s|\"fingerprint\": \"[^\"]*\"|\"fingerprint\": \"$here/fixtures/fingerprints/finger-1.fmr\"|" \
        fixtures/records/valid-1.json >"$work/$1.json"
}

printf '| photo | file size | result of `melli check` | exit | peak RSS |\n|---|---|---|---|---|\n'
for photo in bomb-12000x12000.jpg bomb-12000x12000-rgba16.png photo-4000x3000.jpg photo-4000x3000.png; do
    record "${photo%.*}" "$work/$photo"
    set +e
    /usr/bin/time -v "$melli" check --allow-warnings "$work/${photo%.*}.json" \
        >"$work/out" 2>"$work/err"
    code=$?
    set -e
    rss=$(sed -n 's/.*Maximum resident set size (kbytes): //p' "$work/err")
    result=$( (grep -v '^\s' "$work/err" | grep -v '^Command' || true) | head -1 | sed 's/^melli: //')
    [ -z "$result" ] && result=$(sed 's|.*: ||' "$work/out" | head -1)
    size=$(stat -c %s "$work/$photo")
    printf '| `%s` | %s bytes | %s | %s | %s KiB (%s MB) |\n' "$photo" "$size" "$result" "$code" \
        "$rss" "$((rss * 1024 / 1000000))"
    if [ "$rss" -gt $((256 * 1024)) ]; then
        echo "check-memory: $photo took $rss KiB, more than 256 MiB" >&2
        exit 1
    fi
done
