//! An RFC 3161 time-stamping authority on 127.0.0.1 for the end-to-end tests: OpenSSL's
//! `openssl ts -reply` (made at test time by `melli_testkit::tsa`: its own root CA, a TSA
//! certificate with extendedKeyUsage timeStamping, critical, an `openssl.cnf` with a `[tsa]`
//! section and a serial file) behind `melli_testkit::http_server`. Each query is written to
//! a file and answered by `openssl ts -reply -config … -queryfile … -inkey … -signer …
//! -chain …`, whose DER reply goes back as `application/timestamp-reply`.
//!
//! For the bad-input rows the server can misbehave ([`Behaviour`]), and
//! [`unreachable_url`] is a URL nothing listens on.

use std::path::Path;

use melli_testkit::http_server::{HttpServer, Reply};
pub use melli_testkit::tsa::{EssCertId, OpenSslTsa};

/// How the TSA answers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Behaviour {
    /// A token for the query it was sent.
    Good,
    /// A good token, made for another query (over other data).
    OtherData,
    /// Bytes that are no TimeStampResp, typed as one.
    Garbage,
}

/// A TSA serving until dropped.
pub struct HttpTsa {
    pub tsa: OpenSslTsa,
    server: HttpServer,
}

/// Thirty years: the TSA outlives the holder certificates, even with the clock moved years on.
pub const TSA_DAYS: u32 = 30 * 365;

impl HttpTsa {
    /// Makes a TSA in `dir` and serves it.
    pub fn start(dir: &Path, behaviour: Behaviour) -> HttpTsa {
        let tsa = OpenSslTsa::create(dir, "melli test TSA", TSA_DAYS, EssCertId::Sha1);
        let serving = tsa.clone();
        let server = HttpServer::start(move |request| {
            if request.method != "POST"
                || request.content_type.as_deref() != Some("application/timestamp-query")
            {
                return Reply::error(400, "POST an application/timestamp-query");
            }
            let body = match behaviour {
                Behaviour::Good => serving.reply(&request.body),
                Behaviour::OtherData => serving.reply(&serving.query_over(b"other data")),
                Behaviour::Garbage => b"\x30\x03\x02\x01garbage".to_vec(),
            };
            Reply::ok("application/timestamp-reply", body)
        });
        HttpTsa { tsa, server }
    }

    /// The TSA's URL.
    pub fn url(&self) -> String {
        self.server.url("/tsa")
    }

    /// The TSA's root certificate (PEM), for `--tsa-trust` and `openssl ts -verify -CAfile`.
    pub fn root_pem(&self) -> String {
        self.tsa.root_pem().display().to_string()
    }

    /// The TSA's certificate (PEM), for `openssl ts -verify -untrusted`.
    pub fn tsa_pem(&self) -> String {
        self.tsa.tsa_pem().display().to_string()
    }
}

/// A URL on 127.0.0.1 where nothing listens (a port bound, then let go).
pub fn unreachable_url() -> String {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port");
    format!("http://127.0.0.1:{port}/tsa")
}
