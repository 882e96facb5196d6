//! An RFC 3161 time-stamping authority made of OpenSSL at test time: its own root CA and TSA
//! certificate (P-256; the TSA's extendedKeyUsage timeStamping, critical), an `openssl.cnf`
//! with a `[tsa]` section and a serial file, and `openssl ts -reply` to answer a query. The
//! end-to-end tests put it behind [`crate::http_server`]; unit tests call [`OpenSslTsa::reply`].

use std::path::{Path, PathBuf};
use std::process::Command;

/// How the TSA names its certificate in a token's signed attributes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EssCertId {
    /// signingCertificate, ESSCertID with SHA-1 (`openssl ts`'s default).
    Sha1,
    /// signingCertificateV2, ESSCertIDv2 with SHA-256.
    Sha256,
}

/// A TSA in a directory of its own.
#[derive(Debug, Clone)]
pub struct OpenSslTsa {
    dir: PathBuf,
}

/// Runs openssl in `dir`; panics with its output when it fails.
fn openssl(dir: &Path, args: &[&str]) -> Vec<u8> {
    let out = Command::new("openssl")
        .args(args)
        .current_dir(dir)
        .output()
        .unwrap_or_else(|e| panic!("cannot run openssl: {e}"));
    assert!(
        out.status.success(),
        "openssl {args:?}: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    out.stdout
}

impl OpenSslTsa {
    /// Makes a TSA named `name` in `dir` (created): a root CA ("NAME Root") and the TSA's
    /// certificate ("NAME"), both valid from now for `days` days, so that a TSA of 30 years
    /// outlives a holder certificate in tests that move the clock years ahead.
    pub fn create(dir: &Path, name: &str, days: u32, ess: EssCertId) -> OpenSslTsa {
        std::fs::create_dir_all(dir).expect("TSA directory");
        let ess_alg = match ess {
            EssCertId::Sha1 => "sha1",
            EssCertId::Sha256 => "sha256",
        };
        let config = format!(
            "[req]
distinguished_name = dn
prompt = no
[dn]
CN = unused
[root_ext]
basicConstraints = critical, CA:TRUE
keyUsage = critical, keyCertSign, cRLSign
subjectKeyIdentifier = hash
[tsa_ext]
basicConstraints = critical, CA:FALSE
keyUsage = critical, digitalSignature
extendedKeyUsage = critical, timeStamping
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid
[tsa]
default_tsa = tsa_config
[tsa_config]
dir = {dir}
serial = $dir/tsaserial
crypto_device = builtin
signer_cert = $dir/tsa.pem
certs = $dir/tsa.pem
signer_key = $dir/tsa.key
signer_digest = sha256
default_policy = 1.2.3.4.1
digests = sha256, sha384, sha512
accuracy = secs:1
ordering = no
tsa_name = yes
ess_cert_id_chain = no
ess_cert_id_alg = {ess_alg}
",
            dir = dir.display()
        );
        std::fs::write(dir.join("openssl.cnf"), config).expect("openssl.cnf");
        std::fs::write(dir.join("tsaserial"), "01\n").expect("serial file");
        let days = days.to_string();
        for key in ["root.key", "tsa.key"] {
            openssl(
                dir,
                &[
                    "genpkey",
                    "-algorithm",
                    "EC",
                    "-pkeyopt",
                    "ec_paramgen_curve:P-256",
                    "-out",
                    key,
                ],
            );
        }
        let root_subject = format!("/O=melli tests/CN={name} Root");
        openssl(
            dir,
            &[
                "req",
                "-config",
                "openssl.cnf",
                "-x509",
                "-new",
                "-key",
                "root.key",
                "-subj",
                &root_subject,
                "-days",
                &days,
                "-sha256",
                "-extensions",
                "root_ext",
                "-out",
                "root.pem",
            ],
        );
        let tsa_subject = format!("/O=melli tests/CN={name}");
        openssl(
            dir,
            &[
                "req",
                "-config",
                "openssl.cnf",
                "-new",
                "-key",
                "tsa.key",
                "-subj",
                &tsa_subject,
                "-out",
                "tsa.csr",
            ],
        );
        openssl(
            dir,
            &[
                "x509",
                "-req",
                "-in",
                "tsa.csr",
                "-CA",
                "root.pem",
                "-CAkey",
                "root.key",
                "-set_serial",
                "7",
                "-days",
                &days,
                "-sha256",
                "-extfile",
                "openssl.cnf",
                "-extensions",
                "tsa_ext",
                "-out",
                "tsa.pem",
            ],
        );
        OpenSslTsa {
            dir: dir.to_path_buf(),
        }
    }

    /// From now on, genTime with `digits` digits of fractions of a second
    /// (`clock_precision_digits`, 0 to 6).
    pub fn set_clock_precision(&self, digits: u8) {
        use std::io::Write;
        let mut config = std::fs::OpenOptions::new()
            .append(true)
            .open(self.dir.join("openssl.cnf"))
            .expect("openssl.cnf");
        // [tsa_config] is the last section of the file.
        writeln!(config, "clock_precision_digits = {digits}").expect("openssl.cnf");
    }

    /// The TSA's directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The TSA's root certificate (PEM): what a verifier trusts.
    pub fn root_pem(&self) -> PathBuf {
        self.dir.join("root.pem")
    }

    /// The TSA's own certificate (PEM).
    pub fn tsa_pem(&self) -> PathBuf {
        self.dir.join("tsa.pem")
    }

    /// The DER of a root certificate.
    pub fn root_der(&self) -> Vec<u8> {
        openssl(&self.dir, &["x509", "-in", "root.pem", "-outform", "DER"])
    }

    /// `openssl ts -reply` to the DER TimeStampReq `query`: the DER TimeStampResp.
    pub fn reply(&self, query: &[u8]) -> Vec<u8> {
        let tmp = tempfile_in(&self.dir);
        let q = tmp.join("query.tsq");
        let r = tmp.join("reply.tsr");
        std::fs::write(&q, query).expect("write query");
        let (q_s, r_s) = (q.display().to_string(), r.display().to_string());
        openssl(
            &self.dir,
            &[
                "ts",
                "-reply",
                "-config",
                "openssl.cnf",
                "-queryfile",
                &q_s,
                "-inkey",
                "tsa.key",
                "-signer",
                "tsa.pem",
                "-chain",
                "tsa.pem",
                "-out",
                &r_s,
            ],
        );
        let reply = std::fs::read(&r).expect("read reply");
        let _ = std::fs::remove_dir_all(&tmp);
        reply
    }

    /// A query (`openssl ts -query`, SHA-256, with a nonce and certReq) over `data`.
    pub fn query_over(&self, data: &[u8]) -> Vec<u8> {
        let tmp = tempfile_in(&self.dir);
        let d = tmp.join("data");
        std::fs::write(&d, data).expect("write data");
        let d_s = d.display().to_string();
        let query = openssl(
            &self.dir,
            &["ts", "-query", "-data", &d_s, "-sha256", "-cert"],
        );
        let _ = std::fs::remove_dir_all(&tmp);
        query
    }
}

/// A fresh directory under `dir` for one exchange (the server answers one at a time, but
/// unit tests may share a TSA across threads).
fn tempfile_in(dir: &Path) -> PathBuf {
    use std::sync::atomic::{AtomicU64, Ordering};
    static NEXT: AtomicU64 = AtomicU64::new(0);
    let n = NEXT.fetch_add(1, Ordering::Relaxed);
    let path = dir.join(format!("x-{}-{n}", std::process::id()));
    std::fs::create_dir_all(&path).expect("exchange directory");
    path
}
