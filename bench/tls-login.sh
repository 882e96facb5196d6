#!/usr/bin/env bash
# TLS client-certificate logins through Debian's nginx (`ssl_verify_client on`, the issuer's
# root + signing CA as `ssl_client_certificate`): curl with OpenSSL's pkcs11 engine and the
# melli PKCS#11 module, logging in with a spec 1.1 card's authentication key (each login its
# own process: load the engine and module, C_Initialize, C_Login = VERIFY, the handshake's
# signature = INTERNAL AUTHENTICATE with key 03), beside the peer baseline: the same curl and
# nginx with a software key (a PEM key file, its client certificate from a throwaway CA).
# N logins of each (default 50), every page checked for the holder's subject. Figures, from
# `curl -w`, counted from the TCP connection's end (time_connect), when curl sets TLS up — it
# loads the key then, so for the card this includes the engine's C_Login (VERIFY) — and sends
# its ClientHello: to the handshake's end (time_appconnect) and to the page (time_total); and
# the whole curl process (wall clock: engine, module and C_Initialize included), as medians,
# with logins per minute from the whole processes one after the other. One Rust virtual card over pcscd + vpcd (bench/lib.sh), release build.
set -euo pipefail
cd "$(dirname "$0")/.."
. bench/lib.sh
runs="${1:-50}"
cargo build --release --quiet -p melli-pkcs11
bench_start
melli=$(realpath "$melli")
module=$(realpath "${CARGO_TARGET_DIR:-target}/release/libmelli_pkcs11.so")
bench_personalized_card BENCHTLS0001
pin=$(awk '/^PIN: /{print $2}' "$work/pin-mailer.txt")
"$melli" read --reader "$reader" --out "$work/read" >/dev/null
tls="$work/tls"
mkdir -p "$tls/nginx/temp"
cd "$tls"

# The server's CA and certificate, and a throwaway client CA with a software client key.
ossl() { openssl "$@" >/dev/null 2>&1; }
ca() { # NAME SUBJECT
    ossl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$1.key" \
        -subj "$2" -days 2 -sha256 -addext basicConstraints=critical,CA:TRUE \
        -addext keyUsage=critical,keyCertSign,cRLSign -out "$1.pem"
}
leaf() { # NAME SUBJECT CA EXTENSIONS
    printf '%b' "$4" >"$1.ext"
    ossl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$1.key"
    ossl req -new -key "$1.key" -subj "$2" -out "$1.csr"
    ossl x509 -req -in "$1.csr" -CA "$3.pem" -CAkey "$3.key" -days 2 -sha256 -extfile "$1.ext" -out "$1.pem"
}
ca server-ca "/CN=bench server CA"
leaf server /CN=localhost server-ca \
    'keyUsage=critical,digitalSignature\nextendedKeyUsage=serverAuth\nsubjectAltName=DNS:localhost,IP:127.0.0.1\n'
ca soft-ca "/CN=bench software client CA"
leaf soft "/C=IR/serialNumber=0081493721/CN=software key" soft-ca \
    'keyUsage=critical,digitalSignature\nextendedKeyUsage=clientAuth\n'
cat "$work/issuer/root.pem" "$work/issuer/signing-ca.pem" soft-ca.pem >client-cas.pem

# nginx, one process in the foreground, every path here.
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
cat >nginx.conf <<EOF
daemon off;
master_process off;
worker_processes 1;
pid $tls/nginx/nginx.pid;
error_log stderr info;
events { worker_connections 64; }
http {
    access_log $tls/nginx/access.log;
    client_body_temp_path $tls/nginx/temp/body;
    proxy_temp_path $tls/nginx/temp/proxy;
    fastcgi_temp_path $tls/nginx/temp/fastcgi;
    uwsgi_temp_path $tls/nginx/temp/uwsgi;
    scgi_temp_path $tls/nginx/temp/scgi;
    server {
        listen 127.0.0.1:$port ssl;
        server_name localhost;
        ssl_certificate $tls/server.pem;
        ssl_certificate_key $tls/server.key;
        ssl_client_certificate $tls/client-cas.pem;
        ssl_verify_client on;
        ssl_verify_depth 2;
        default_type text/plain;
        location / {
            return 200 "subject: \$ssl_client_s_dn\nverify: \$ssl_client_verify\n";
        }
    }
}
EOF
/usr/sbin/nginx -p "$tls/nginx" -c "$tls/nginx.conf" -e stderr 2>"$tls/nginx.log" &
nginx_pid=$!
trap 'kill "$nginx_pid" 2>/dev/null || true; bench_cleanup' EXIT
until (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; do sleep 0.02; done

# The engine, and curl's configurations (the PIN in a 0600 file, on no command line).
printf 'openssl_conf = openssl_init\n[openssl_init]\nengines = engine_section\n[engine_section]\npkcs11 = pkcs11_section\n[pkcs11_section]\nengine_id = pkcs11\ndynamic_path = /usr/lib/x86_64-linux-gnu/engines-3/pkcs11.so\nMODULE_PATH = %s\nFORCE_LOGIN = EMPTY\ninit = 0\n' \
    "$module" >engine.cnf
common="silent\nshow-error\ncacert = \"$tls/server-ca.pem\"\nurl = \"https://localhost:$port/\"\nwrite-out = \"times: %%{time_connect} %%{time_appconnect} %%{time_total}\\\\n\"\n"
(umask 077 && printf "${common}engine = \"pkcs11\"\nkey-type = \"ENG\"\nkey = \"pkcs11:serial=BENCHTLS0001;object=Authentication;type=private\"\ncert = \"%s\"\npass = \"%s\"\n" \
    "$work/read/authentication.pem" "$pin" >card.curl)
printf "${common}key = \"%s\"\ncert = \"%s\"\n" "$tls/soft.key" "$tls/soft.pem" >soft.curl

now() { date +%s.%N; }
login() { # TAG CURL-CONFIG [env…]
    local tag="$1" conf="$2" i t0 t1 page
    shift 2
    for i in $(seq "$runs"); do
        t0=$(now)
        page=$(env "$@" curl -K "$conf")
        t1=$(now)
        grep -q '^verify: SUCCESS$' <<<"$page" && grep -q 'serialNumber=0081493721' <<<"$page" ||
            { echo "login $tag $i failed: $page" >&2; exit 1; }
        awk -v a="$t0" -v b="$t1" '/^times: / {print $3 - $2, $4 - $2, b - a}' <<<"$page"
    done >"times-$tag.txt"
}
login card card.curl OPENSSL_CONF="$tls/engine.cnf" MELLI_PKCS11_READERS="$reader"
login soft soft.curl

figures() { # TAG LABEL
    printf '  %s: TLS set up %6s ms, to the page %6s ms, whole curl %6s ms, %5.0f logins/min\n' \
        "$2" "$(bench_median "times-$1.txt" 1)" "$(bench_median "times-$1.txt" 2)" \
        "$(bench_median "times-$1.txt" 3)" \
        "$(awk '{s += $3} END {print NR * 60 / s}' "times-$1.txt")"
}
echo "TLS client-certificate logins to nginx with curl (release build, $runs each, every page checked;"
echo "medians from the TCP connection's end, when curl loads the key and sends its ClientHello):"
figures card "card (pkcs11 engine, melli module, pcscd + vpcd)"
figures soft "software key (PEM file)                        "
