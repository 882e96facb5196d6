//! openssl, the peer that makes certificates and CMS signatures melli must judge: helpers that
//! run it in a folder and panic unless it succeeds.

use std::path::Path;
use std::process::Command;
use std::time::Duration;

use super::run;

/// Runs openssl in `dir`; panics unless it succeeds.
pub fn openssl(dir: &Path, args: &[&str]) {
    let out = run(
        Command::new("openssl").current_dir(dir).args(args),
        Duration::from_secs(30),
    );
    assert_eq!(out.code, 0, "openssl {args:?}: {out:?}");
}

/// Makes `NAME.key` (P-256) and `NAME.pem`, a certificate for it with `subject` and the
/// extensions `ext` (plus key identifiers) issued by `CA.pem` / `CA.key`, all with openssl, in
/// `dir`.
pub fn openssl_certificate(
    dir: &Path,
    name: &str,
    subject: &str,
    ext: &str,
    ca_cert: &str,
    ca_key: &str,
) {
    let extfile = format!("{name}.ext");
    std::fs::write(
        dir.join(&extfile),
        format!("{ext}subjectKeyIdentifier = hash\nauthorityKeyIdentifier = keyid\n"),
    )
    .expect("write extensions");
    let key = format!("{name}.key");
    let csr = format!("{name}.csr");
    let pem = format!("{name}.pem");
    openssl(
        dir,
        &[
            "genpkey",
            "-algorithm",
            "EC",
            "-pkeyopt",
            "ec_paramgen_curve:P-256",
            "-out",
            &key,
        ],
    );
    openssl(
        dir,
        &[
            "req", "-new", "-utf8", "-key", &key, "-subj", subject, "-out", &csr,
        ],
    );
    openssl(
        dir,
        &[
            "x509", "-req", "-in", &csr, "-CA", ca_cert, "-CAkey", ca_key, "-days", "30",
            "-sha256", "-extfile", &extfile, "-out", &pem,
        ],
    );
}

/// `openssl cms -sign` of `doc.txt` in `dir` with `NAME.pem` / `NAME.key`, carrying `chain`,
/// into `out`, with `extra` options after the others (so `-outform PEM` wins over a default);
/// openssl's own output form (S/MIME) unless `extra` says otherwise. Returns `out`'s path.
pub fn openssl_cms_sign(dir: &Path, name: &str, chain: &str, out: &str, extra: &[&str]) -> String {
    let (signer, key) = (format!("{name}.pem"), format!("{name}.key"));
    let mut args = vec![
        "cms",
        "-sign",
        "-in",
        "doc.txt",
        "-signer",
        &signer,
        "-inkey",
        &key,
        "-certfile",
        chain,
        "-md",
        "sha256",
        "-out",
        out,
    ];
    args.extend_from_slice(extra);
    openssl(dir, &args);
    dir.join(out).to_str().expect("utf-8").to_string()
}

/// A DER signature of `doc.txt` by `NAME` (see [`openssl_cms_sign`]) into `doc-NAME.p7s`, with
/// `extra` options (`-cades` adds signingCertificateV2).
pub fn openssl_sign_with(dir: &Path, name: &str, chain: &str, extra: &[&str]) -> String {
    let mut options = vec!["-binary", "-outform", "DER"];
    options.extend_from_slice(extra);
    openssl_cms_sign(dir, name, chain, &format!("doc-{name}.p7s"), &options)
}
