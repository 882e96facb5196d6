//! Debian's nginx as the web service a card holder logs in to (issue 17): started by the test
//! on 127.0.0.1 in a directory of its own (configuration, pid file, logs and temp paths all
//! inside it — nothing under /var), one process (`master_process off`, `daemon off`), killed
//! when dropped. It asks every client for a certificate (`ssl_verify_client on`) that chains
//! to the CAs it is given, checks the CRLs it is given (`ssl_crl`: every level of the chain),
//! and passes a verified client's subject and national code to the application behind it as
//! request headers; the application (a second nginx server) echoes them in its page.
//!
//! Its own TLS certificate comes from a throwaway server CA made with openssl ([`ServerCa`]),
//! for `localhost` and 127.0.0.1.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use super::ocsp::free_port;
use super::openssl::{openssl, openssl_certificate};
use super::{path_str, process};

/// Debian's nginx.
pub const NGINX: &str = "/usr/sbin/nginx";

/// What the service's application answers (a second nginx server, on plain HTTP, standing in
/// for it): the headers the TLS server passes it — the verified client certificate's subject
/// in RFC 2253 form (`$ssl_client_s_dn`), the verification result (`SUCCESS`) and the national
/// code taken from the subject's serialNumber.
const PAGE: &str = r#"subject: $http_x_client_subject\nverify: $http_x_client_verify\nnational code: $http_x_national_code\n"#;

/// A throwaway server CA and the server certificate it issued for `localhost` / 127.0.0.1
/// (P-256, made with openssl), in a directory.
pub struct ServerCa {
    /// The CA's certificate: what a client trusts the server by (`--cacert`, `-CAfile`).
    pub ca_pem: PathBuf,
    /// The server's certificate and key.
    pub cert_pem: PathBuf,
    pub key_pem: PathBuf,
}

impl ServerCa {
    /// Makes `server-ca.{key,pem}` and `server.{key,pem}` in `dir`.
    pub fn create(dir: &Path) -> ServerCa {
        std::fs::create_dir_all(dir).expect("the server CA's directory");
        openssl(
            dir,
            &[
                "req",
                "-x509",
                "-newkey",
                "ec",
                "-pkeyopt",
                "ec_paramgen_curve:P-256",
                "-nodes",
                "-keyout",
                "server-ca.key",
                "-subj",
                "/CN=melli test server CA",
                "-days",
                "30",
                "-sha256",
                "-addext",
                "basicConstraints=critical,CA:TRUE",
                "-addext",
                "keyUsage=critical,keyCertSign,cRLSign",
                "-out",
                "server-ca.pem",
            ],
        );
        openssl_certificate(
            dir,
            "server",
            "/CN=localhost",
            "basicConstraints = critical,CA:FALSE\n\
             keyUsage = critical,digitalSignature\n\
             extendedKeyUsage = serverAuth\n\
             subjectAltName = DNS:localhost,IP:127.0.0.1\n",
            "server-ca.pem",
            "server-ca.key",
        );
        ServerCa {
            ca_pem: dir.join("server-ca.pem"),
            cert_pem: dir.join("server.pem"),
            key_pem: dir.join("server.key"),
        }
    }
}

/// What a client-certificate login service trusts.
pub struct ClientTrust {
    /// The CA certificates client certificates must chain to, in one PEM file
    /// (`ssl_client_certificate`): for a melli issuer, its `root.pem` and `signing-ca.pem`.
    pub cas: PathBuf,
    /// CRLs, PEM, concatenated (`ssl_crl`): for a melli issuer, the signing CA's and the
    /// root's — OpenSSL then wants a CRL for every level of the chain.
    pub crl: Option<PathBuf>,
}

impl ClientTrust {
    /// A melli issuer's CAs (`ISSUER/root.pem` and `ISSUER/signing-ca.pem`) in `dir/name.pem`,
    /// with the CRLs `crls` (DER files, as `melli issuer crl` writes them) converted to PEM in
    /// `dir/name-crl.pem`, if any.
    pub fn of_issuer(issuer: &Path, dir: &Path, name: &str, crls: &[&str]) -> ClientTrust {
        let mut cas = String::new();
        for file in ["root.pem", "signing-ca.pem"] {
            cas.push_str(
                &std::fs::read_to_string(issuer.join(file))
                    .unwrap_or_else(|e| panic!("{}: {e}", issuer.join(file).display())),
            );
        }
        let cas_path = dir.join(format!("{name}.pem"));
        std::fs::write(&cas_path, cas).expect("write the client CAs");
        let crl = (!crls.is_empty()).then(|| {
            let mut all = String::new();
            for (i, der) in crls.iter().enumerate() {
                let pem = format!("{name}-crl-{i}.pem");
                openssl(dir, &["crl", "-inform", "DER", "-in", der, "-out", &pem]);
                all.push_str(&std::fs::read_to_string(dir.join(&pem)).expect("a PEM CRL"));
            }
            let path = dir.join(format!("{name}-crl.pem"));
            std::fs::write(&path, all).expect("write the CRLs");
            path
        });
        ClientTrust { cas: cas_path, crl }
    }
}

/// A running nginx; killed when dropped.
pub struct Nginx {
    child: Child,
    dir: PathBuf,
    port: u16,
}

impl Nginx {
    /// Starts nginx in `dir` (created) with the server certificate of `server` and the client
    /// trust `trust`, on a free port of 127.0.0.1, once it accepts connections.
    pub fn start(dir: &Path, server: &ServerCa, trust: &ClientTrust) -> Nginx {
        process();
        std::fs::create_dir_all(dir.join("temp")).expect("nginx's directory");
        // The port is free when picked, but something else may take it before nginx binds it:
        // then try another.
        for _ in 0..5 {
            let (port, app_port) = (free_port(), free_port());
            let conf = dir.join("nginx.conf");
            std::fs::write(&conf, config(dir, (port, app_port), server, trust))
                .expect("write nginx.conf");
            let log = std::fs::File::create(dir.join("stderr.log")).expect("nginx's log");
            let child = Command::new(NGINX)
                .args(["-p", path_str(dir), "-c", path_str(&conf), "-e", "stderr"])
                .current_dir(dir)
                .stdin(Stdio::null())
                .stdout(log.try_clone().expect("log"))
                .stderr(log)
                .spawn()
                .expect("start nginx");
            let mut nginx = Nginx {
                child,
                dir: dir.to_path_buf(),
                port,
            };
            match nginx.wait_ready() {
                Ok(()) => return nginx,
                Err(log) if log.contains("Address already in use") => continue,
                Err(log) => panic!("nginx did not start: {log}"),
            }
        }
        panic!("nginx found no free port");
    }

    /// nginx in `dir/nginx-NAME` for clients of `issuer` ([`ClientTrust::of_issuer`] with the
    /// CRLs `crls`, in `dir/NAME.pem`), with the server certificate of `server`.
    pub fn for_issuer(
        dir: &Path,
        name: &str,
        server: &ServerCa,
        issuer: &Path,
        crls: &[&str],
    ) -> Nginx {
        let trust = ClientTrust::of_issuer(issuer, dir, name, crls);
        Nginx::start(&dir.join(format!("nginx-{name}")), server, &trust)
    }

    /// Polls the port until nginx accepts a connection; its log if it ends first.
    fn wait_ready(&mut self) -> Result<(), String> {
        let deadline = Instant::now() + Duration::from_secs(15);
        loop {
            if let Ok(Some(status)) = self.child.try_wait() {
                return Err(format!("nginx ended ({status}): {}", self.log()));
            }
            if std::net::TcpStream::connect(("127.0.0.1", self.port)).is_ok() {
                return Ok(());
            }
            if Instant::now() > deadline {
                return Err(format!("nginx does not listen: {}", self.log()));
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// `https://localhost:PORT/` (the name of its certificate).
    pub fn url(&self) -> String {
        format!("https://localhost:{}/", self.port)
    }

    /// `127.0.0.1:PORT`, for `openssl s_client -connect`.
    pub fn address(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    /// What nginx wrote to its error log (stderr) so far: why it refused a client, among others.
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.join("stderr.log")).unwrap_or_default()
    }
}

impl Drop for Nginx {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// nginx.conf: one process in the foreground, every path in `dir`; one TLS server on
/// 127.0.0.1:`port` that wants a client certificate and passes what it verified to the
/// application (a plain HTTP server on 127.0.0.1:`app_port` that answers [`PAGE`]) as request
/// headers, as a service would (`docs/tls-login.md`).
fn config(
    dir: &Path,
    (port, app_port): (u16, u16),
    server: &ServerCa,
    trust: &ClientTrust,
) -> String {
    let d = path_str(dir);
    let crl = trust
        .crl
        .as_ref()
        .map(|c| format!("        ssl_crl {};\n", path_str(c)))
        .unwrap_or_default();
    let temp: String = ["client_body", "proxy", "fastcgi", "uwsgi", "scgi"]
        .iter()
        .map(|t| format!("    {t}_temp_path {d}/temp/{t};\n"))
        .collect();
    let (cert, key, cas) = (
        path_str(&server.cert_pem),
        path_str(&server.key_pem),
        path_str(&trust.cas),
    );
    format!(
        r#"daemon off;
master_process off;
worker_processes 1;
pid {d}/nginx.pid;
error_log stderr info;
events {{ worker_connections 64; }}
http {{
    access_log {d}/access.log;
{temp}
    # The holder's national code: the serialNumber of the verified certificate's subject.
    map $ssl_client_s_dn $national_code {{
        default "";
        "~(^|,)serialNumber=(?<code>[0-9]+)(,|$)" $code;
    }}

    server {{
        listen 127.0.0.1:{port} ssl;
        server_name localhost;
        ssl_certificate {cert};
        ssl_certificate_key {key};
        ssl_client_certificate {cas};
        ssl_verify_client on;
        ssl_verify_depth 2;
{crl}
        location / {{
            proxy_pass http://127.0.0.1:{app_port};
            proxy_set_header X-Client-Subject $ssl_client_s_dn;
            proxy_set_header X-Client-Verify $ssl_client_verify;
            proxy_set_header X-National-Code $national_code;
        }}
    }}

    server {{
        listen 127.0.0.1:{app_port};
        default_type text/plain;
        location / {{
            return 200 "{PAGE}";
        }}
    }}
}}
"#
    )
}
