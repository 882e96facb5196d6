//! scratch: Chromium experiment
use std::fs;
use std::process::Command;
use std::time::Duration;

use crate::common::pkcs11::module_str;
use crate::common::{melli, path_str, personalized_card, run, test_issuer};

#[test]
fn chromium_experiment() {
    let (card, mailer) = personalized_card();
    let dir = card.dir().to_path_buf();
    let read = dir.join("read");
    let out = melli(&[
        "read",
        "--reader",
        card.reader_name(),
        "--out",
        path_str(&read),
    ]);
    assert_eq!(out.code, 0, "{out:?}");
    let sh = |script: &str| {
        let out = run(
            Command::new("bash").arg("-c").arg(script).current_dir(&dir),
            Duration::from_secs(60),
        );
        assert_eq!(out.code, 0, "{script}: {out:?}");
        out
    };
    let root = test_issuer().join("root.pem");
    sh(&format!(
        "cat {} read/signing-ca.pem > clients.pem",
        root.display()
    ));
    sh("openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout server.key -out server.pem -days 2 -subj /CN=localhost -addext subjectAltName=DNS:localhost,IP:127.0.0.1 2>&1");
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let d = dir.display();
    fs::write(dir.join("nginx.conf"), format!(r#"
daemon off; master_process off; pid {d}/nginx.pid; error_log {d}/nginx-error.log info;
events {{}}
http {{
  access_log {d}/access.log; client_body_temp_path {d}/t1; proxy_temp_path {d}/t2; fastcgi_temp_path {d}/t3; uwsgi_temp_path {d}/t4; scgi_temp_path {d}/t5;
  server {{
    listen 127.0.0.1:{port} ssl;
    ssl_certificate {d}/server.pem; ssl_certificate_key {d}/server.key;
    ssl_verify_client on; ssl_verify_depth 2; ssl_client_certificate {d}/clients.pem;
    location / {{ default_type text/html; return 200 "<html><body><p id=subject>$ssl_client_s_dn</p></body></html>"; }}
  }}
}}"#)).unwrap();
    let mut nginx = Command::new("/usr/sbin/nginx")
        .args([
            "-p",
            path_str(&dir),
            "-c",
            path_str(&dir.join("nginx.conf")),
            "-e",
            "stderr",
        ])
        .spawn()
        .unwrap();
    std::thread::sleep(Duration::from_millis(500));
    fs::write(dir.join("pin"), &mailer.pin).unwrap();
    fs::write(dir.join("pinentry"), format!("#!/bin/sh\necho 'OK ready'\nwhile read cmd rest; do case \"$cmd\" in GETPIN) echo \"D $(cat {d}/pin)\"; echo OK;; BYE) echo OK; exit 0;; *) echo OK;; esac; done\n")).unwrap();
    sh("chmod +x pinentry");
    sh("mkdir -p home/.pki/nssdb && certutil -N -d sql:home/.pki/nssdb --empty-password");
    sh(&format!("PKCS11SPY={} modutil -dbdir sql:home/.pki/nssdb -add melli -libfile /usr/lib/x86_64-linux-gnu/pkcs11-spy.so -force", module_str()));
    sh("certutil -A -d sql:home/.pki/nssdb -n server -t 'C,,' -i server.pem");
    sh("modutil -dbdir sql:home/.pki/nssdb -list");
    fs::create_dir_all("/etc/chromium/policies/managed").unwrap();
    fs::write("/etc/chromium/policies/managed/melli-exp.json", format!(r#"{{"AutoSelectCertificateForUrls": ["{{\"pattern\":\"https://127.0.0.1:{port}\",\"filter\":{{}}}}"]}}"#)).unwrap();
    let out = run(
        Command::new("timeout")
            .arg("25")
            .arg("chromium")
            .env("PKCS11SPY", module_str())
            .env("PKCS11SPY_OUTPUT", dir.join("spy.log"))
            .current_dir(&dir)
            .env("HOME", dir.join("home"))
            .env("MELLI_PKCS11_READERS", card.reader_name())
            .env("MELLI_PINENTRY", dir.join("pinentry"))
            .args([
                "--headless",
                "--no-sandbox",
                "--disable-gpu",
                "--enable-logging=stderr",
                "--v=0",
                &format!("--user-data-dir={}", dir.join("profile").display()),
                "--dump-dom",
                &format!("https://127.0.0.1:{port}/"),
            ]),
        Duration::from_secs(60),
    );
    let _ = nginx.kill();
    eprintln!("PIN {}\nCHROMIUM {out:?}", mailer.pin.len());
    eprintln!(
        "NGINX LOG {}",
        fs::read_to_string(dir.join("nginx-error.log")).unwrap_or_default()
    );
    eprintln!(
        "SPY {}",
        fs::read_to_string(dir.join("spy.log")).unwrap_or_default()
    );
    eprintln!("CARD LOG {}", card.log());
    panic!("experiment");
}
