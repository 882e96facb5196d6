//! OpenSSL's OCSP responder (`openssl ocsp -index … -port …`) serving an issuer's own
//! `index.txt`, started by the test and killed when dropped; its signing key made by openssl
//! and certified by `melli issuer ocsp-responder` (the CA keys stay in the issuer's token).

use std::net::{Ipv4Addr, TcpListener};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use super::openssl::openssl;
use super::{melli, path_str, process, run};

/// A port of 127.0.0.1 that nothing listens on (bound, then let go).
pub fn free_port() -> u16 {
    TcpListener::bind((Ipv4Addr::LOCALHOST, 0))
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port")
}

/// A responder's key and certificate: `DIR/NAME.key` (P-256, made by openssl) and
/// `DIR/NAME.pem`, certified by `melli issuer ocsp-responder ISSUER [--root]`.
pub fn responder_certificate(
    issuer: &Path,
    dir: &Path,
    name: &str,
    root: bool,
) -> (PathBuf, PathBuf) {
    let key = format!("{name}.key");
    let csr = format!("{name}.csr");
    openssl(
        dir,
        &[
            "ecparam",
            "-name",
            "prime256v1",
            "-genkey",
            "-noout",
            "-out",
            &key,
        ],
    );
    openssl(
        dir,
        &[
            "req",
            "-new",
            "-key",
            &key,
            "-subj",
            &format!("/CN=melli OCSP responder {name}"),
            "-out",
            &csr,
        ],
    );
    let pem = dir.join(format!("{name}.pem"));
    let csr = dir.join(&csr);
    let mut args = vec![
        "issuer",
        "ocsp-responder",
        path_str(issuer),
        "--csr",
        path_str(&csr),
        "--out",
        path_str(&pem),
        "--days",
        "2",
    ];
    if root {
        args.push("--root");
    }
    let out = melli(&args);
    assert_eq!(out.code, 0, "melli issuer ocsp-responder: {out:?}");
    (pem, dir.join(key))
}

/// A running `openssl ocsp` responder; killed when dropped.
pub struct OcspResponder {
    child: Child,
    port: u16,
    log: PathBuf,
}

impl OcspResponder {
    /// `openssl ocsp -index INDEX -port PORT -rsigner SIGNER -rkey KEY -CA CA`, once it
    /// says it listens on PORT. Its output goes to `DIR/ocsp-PORT.log`.
    pub fn start(
        index: &Path,
        ca: &Path,
        signer: &Path,
        key: &Path,
        port: u16,
        dir: &Path,
    ) -> OcspResponder {
        process();
        let log = dir.join(format!("ocsp-{port}.log"));
        let file = std::fs::File::create(&log).expect("responder log");
        let child = Command::new("openssl")
            .args([
                "ocsp",
                "-index",
                path_str(index),
                "-port",
                &port.to_string(),
            ])
            .args([
                "-rsigner",
                path_str(signer),
                "-rkey",
                path_str(key),
                "-CA",
                path_str(ca),
            ])
            .stdin(Stdio::null())
            .stdout(file.try_clone().expect("log"))
            .stderr(file)
            .spawn()
            .expect("start openssl ocsp");
        let mut responder = OcspResponder { child, port, log };
        // Not a probe connection: OpenSSL 3.0's responder waits for ever on a connection
        // closed without a request, and answers nobody after it.
        let deadline = Instant::now() + Duration::from_secs(15);
        while !responder
            .log()
            .contains("waiting for OCSP client connections")
        {
            if let Ok(Some(status)) = responder.child.try_wait() {
                panic!("openssl ocsp ended ({status}): {}", responder.log());
            }
            assert!(
                Instant::now() < deadline,
                "openssl ocsp does not listen on port {port}: {}",
                responder.log()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
        responder
    }

    /// `http://127.0.0.1:PORT`.
    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// What it printed.
    pub fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }
}

impl Drop for OcspResponder {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// What OpenSSL's OCSP client says of `cert` (issued by `issuer_pem`) at `url`, the
/// responder trusted through `root` with `untrusted` as intermediates: its whole output, and
/// whether it ran without error.
pub fn openssl_ocsp_status(
    issuer_pem: &Path,
    cert: &Path,
    url: &str,
    root: &Path,
    untrusted: &Path,
) -> (bool, String) {
    let out = run(
        Command::new("openssl").args([
            "ocsp",
            "-issuer",
            path_str(issuer_pem),
            "-cert",
            path_str(cert),
            "-url",
            url,
            "-CAfile",
            path_str(root),
            "-verify_other",
            path_str(untrusted),
        ]),
        Duration::from_secs(30),
    );
    (out.code == 0, format!("{}{}", out.stdout, out.stderr))
}
