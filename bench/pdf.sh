#!/usr/bin/env bash
# What signing a PDF costs: `melli sign` of a 1 MB and a 100 MB PDF (SIZES, default "1 100",
# in MB) signed inside (PAdES, an incremental update), beside `melli sign --format cms` of the
# same file (a detached signature), each with its wall time and peak memory (`/usr/bin/time`),
# and `melli verify-signature` of the signed PDF. The PDFs are Ghostscript's (`ps2pdf`) with
# a random attachment of the size added by `qpdf --add-attachment`; the signed one must be
# VALID. Uses Debian's vpcd reader on port 35963 (see bench/lib.sh).
set -euo pipefail
cd "$(dirname "$0")/.."
sizes="${SIZES:-1 100}"
. bench/lib.sh
bench_start
bench_personalized_card BENCHPDF
pin=$(awk '/^PIN: /{print $2}' "$work/pin-mailer.txt")

printf '%%!PS\n/Helvetica findfont 20 scalefont setfont\n72 700 moveto (A contract to sign) show\nshowpage\n' >"$work/base.ps"
ps2pdf "$work/base.ps" "$work/base.pdf"

# One measured command: "seconds peak-KB" appended to $1.
measure() {
    local into="$1"
    shift
    /usr/bin/time -f "%e %M" -o "$work/time.txt" "$@" >/dev/null
    cat "$work/time.txt" >>"$into"
}

: >"$work/results.txt"
for mb in $sizes; do
    head -c "$((mb * 1024 * 1024))" /dev/urandom >"$work/data$mb.bin"
    qpdf "$work/base.pdf" --add-attachment "$work/data$mb.bin" -- "$work/doc$mb.pdf"
    cat "$work/doc$mb.pdf" >/dev/null
    bytes=$(stat -c %s "$work/doc$mb.pdf")
    : >"$work/m.txt"
    printf '%s\n' "$pin" | measure "$work/m.txt" "$melli" sign "$work/doc$mb.pdf" --pin-stdin \
        --reader "$reader" --out "$work/doc$mb-signed.pdf"
    printf '%s\n' "$pin" | measure "$work/m.txt" "$melli" sign "$work/doc$mb.pdf" --format cms \
        --pin-stdin --reader "$reader" --out "$work/doc$mb.p7s"
    measure "$work/m.txt" "$melli" verify-signature "$work/doc$mb-signed.pdf" \
        --trust "$work/issuer/root.pem"
    "$melli" verify-signature "$work/doc$mb.pdf" "$work/doc$mb.p7s" --trust "$work/issuer/root.pem" >/dev/null
    echo "$bytes $(tr '\n' ' ' <"$work/m.txt")" >>"$work/results.txt"
done

python3 - "$work/results.txt" <<'PY'
import sys
print("signing PDFs over pcscd + vpcd (release build, each command its own process; wall time, peak memory):")
print(f"  {'PDF size':>10}  {'PAdES sign':>20}  {'detached sign (cms)':>20}  {'verify signed PDF':>20}")
for line in open(sys.argv[1]):
    size, *v = line.split()
    cells = [f"{float(v[i]):6.2f} s {int(v[i + 1]) / 1024:7.1f} MB" for i in (0, 2, 4)]
    print(f"  {int(size) / 1e6:8.1f} MB  " + "  ".join(f"{c:>20}" for c in cells))
PY
