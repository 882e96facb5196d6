#!/usr/bin/env bash
# What signing costs: `melli sign` of a 1 KB file over pcscd + vpcd, N times (default 50), as
# signatures per minute and the median per signature; then the hashing of a 1 GB file (SIZE_MB,
# default 1024): `melli sign` on it against `sha256sum` on the same file (page cache warmed
# first), in MB/s, with melli's peak memory to show the file is streamed, not loaded.
# Uses Debian's vpcd reader on port 35963 (see bench/lib.sh).
set -euo pipefail
cd "$(dirname "$0")/.."
runs="${1:-50}"
size_mb="${SIZE_MB:-1024}"
. bench/lib.sh
bench_start
bench_personalized_card BENCHSIGN
pin=$(awk '/^PIN: /{print $2}' "$work/pin-mailer.txt")

now() { date +%s.%N; }
head -c 1024 /dev/urandom >"$work/doc.bin"
start=$(now)
for i in $(seq "$runs"); do
    t0=$(now)
    printf '%s\n' "$pin" | "$melli" sign "$work/doc.bin" --pin-stdin --reader "$reader" --out "$work/doc$i.p7s" >/dev/null
    t1=$(now)
    awk -v a="$t0" -v b="$t1" 'BEGIN {print b - a}'
done >"$work/sign.txt"
end=$(now)
# Every signature verifies, so the figure counts only good ones.
for i in $(seq "$runs"); do
    "$melli" verify-signature "$work/doc.bin" "$work/doc$i.p7s" --trust "$work/issuer/root.pem" >/dev/null
done

head -c "$((size_mb * 1024 * 1024))" /dev/urandom >"$work/big.bin"
cat "$work/big.bin" >/dev/null
t0=$(now)
sha256sum "$work/big.bin" >/dev/null
t1=$(now)
printf '%s\n' "$pin" | /usr/bin/time -f "%M" -o "$work/rss.txt" \
    "$melli" sign "$work/big.bin" --pin-stdin --reader "$reader" --out "$work/big.p7s" >/dev/null
t2=$(now)
"$melli" verify-signature "$work/big.bin" "$work/big.p7s" --trust "$work/issuer/root.pem" >/dev/null

python3 - "$work/sign.txt" "$start" "$end" "$t0" "$t1" "$t2" "$size_mb" "$(cat "$work/rss.txt")" <<'EOF'
import statistics, sys
times = [float(l) for l in open(sys.argv[1])]
start, end, t0, t1, t2 = map(float, sys.argv[2:7])
size_mb, rss_kb = int(sys.argv[7]), int(sys.argv[8])
print(f"signing 1 KB files over pcscd + vpcd (release build, each `melli sign` its own process):")
print(f"  {len(times)} signatures in {end - start:.2f} s: {len(times) * 60 / (end - start):.0f} signatures/min,"
      f" median {statistics.median(times) * 1000:.1f} ms per signature (every one verified)")
print(f"hashing a {size_mb} MB file (page cache warm):")
print(f"  sha256sum              {size_mb / (t1 - t0):7.0f} MB/s")
print(f"  melli sign (hash+card) {size_mb / (t2 - t1):7.0f} MB/s, peak memory {rss_kb / 1024:.1f} MB")
EOF
