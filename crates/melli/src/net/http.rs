//! One POST and one GET, each with a deadline and a cap on the answer.

use std::io::Read;
use std::time::Duration;

use crate::display::escaped_cut;

/// The longest URL used (a certificate's URL is hostile input).
pub const MAX_URL: usize = 2048;

/// How long a request may take and how much of an answer is read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Deadline for the whole exchange: connect, send, receive.
    pub timeout: Duration,
    /// Largest answer body accepted, in bytes.
    pub max_body: u64,
}

impl Limits {
    /// A few seconds, as a desk waiting on a responder can afford, and `max_body` bytes.
    pub fn new(max_body: u64) -> Limits {
        Limits {
            timeout: Duration::from_secs(5),
            max_body,
        }
    }
}

/// Why an exchange with a server gave no usable answer. `url` is escaped for display.
#[derive(Debug, thiserror::Error)]
pub enum HttpError {
    #[error("{url} is not an http or https URL with a host")]
    BadUrl { url: String },
    #[error("{url} did not answer within {} s", timeout.as_secs())]
    Timeout { url: String, timeout: Duration },
    #[error("{url} is unreachable: {source}")]
    Unreachable {
        url: String,
        #[source]
        source: ureq::Error,
    },
    #[error("{url} answered HTTP {status}")]
    Status { url: String, status: u16 },
    #[error("{url} answered with content type {got}, not {expected}")]
    ContentType {
        url: String,
        got: String,
        expected: &'static str,
    },
    #[error("{url} sent more than {max} bytes")]
    TooLarge { url: String, max: u64 },
}

fn shown(url: &str) -> String {
    escaped_cut(url, 200)
}

/// Checks a URL before it is used: http or https, with a host, without user information.
fn checked(url: &str) -> Result<ureq::http::Uri, HttpError> {
    let bad = || HttpError::BadUrl { url: shown(url) };
    if url.len() > MAX_URL || url.chars().any(|c| c.is_control() || c.is_whitespace()) {
        return Err(bad());
    }
    let uri: ureq::http::Uri = url.parse().map_err(|_| bad())?;
    let scheme_ok = matches!(uri.scheme_str(), Some("http") | Some("https"));
    let authority = uri.authority().ok_or_else(bad)?;
    if !scheme_ok || authority.host().is_empty() || authority.as_str().contains('@') {
        return Err(bad());
    }
    Ok(uri)
}

/// Whether `url` is one [`post`] and [`get`] would use (http or https, a host, no user
/// information, no controls or spaces, at most [`MAX_URL`] bytes): to refuse a bad URL before
/// work that cannot be undone.
pub fn check_url(url: &str) -> Result<(), HttpError> {
    checked(url).map(|_| ())
}

fn agent(limits: Limits) -> ureq::Agent {
    ureq::Agent::config_builder()
        .timeout_global(Some(limits.timeout))
        .http_status_as_error(false)
        .max_redirects(0)
        .user_agent("melli")
        .build()
        .into()
}

fn failure(url: &str, limits: Limits, e: ureq::Error) -> HttpError {
    match e {
        ureq::Error::Timeout(_) => HttpError::Timeout {
            url: shown(url),
            timeout: limits.timeout,
        },
        source => HttpError::Unreachable {
            url: shown(url),
            source,
        },
    }
}

/// The body of a 200 answer of type `expected` (parameters after `;` ignored), at most
/// `limits.max_body` bytes.
fn body(
    url: &str,
    limits: Limits,
    expected: &'static str,
    mut response: ureq::http::Response<ureq::Body>,
) -> Result<Vec<u8>, HttpError> {
    let status = response.status().as_u16();
    if status != 200 {
        return Err(HttpError::Status {
            url: shown(url),
            status,
        });
    }
    let got = response
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_string();
    let essence = got.split(';').next().unwrap_or("").trim();
    if !essence.eq_ignore_ascii_case(expected) {
        return Err(HttpError::ContentType {
            url: shown(url),
            got: escaped_cut(&got, 80),
            expected,
        });
    }
    let mut out = Vec::new();
    response
        .body_mut()
        .as_reader()
        .take(limits.max_body + 1)
        .read_to_end(&mut out)
        .map_err(|e| failure(url, limits, ureq::Error::Io(e)))?;
    if out.len() as u64 > limits.max_body {
        return Err(HttpError::TooLarge {
            url: shown(url),
            max: limits.max_body,
        });
    }
    Ok(out)
}

/// POSTs `request` (of type `content_type`) to `url`; the answer must be of type `expected`.
pub fn post(
    url: &str,
    content_type: &str,
    request: &[u8],
    expected: &'static str,
    limits: Limits,
) -> Result<Vec<u8>, HttpError> {
    let uri = checked(url)?;
    let response = agent(limits)
        .post(uri)
        .header("Content-Type", content_type)
        .header("Accept", expected)
        .send(request)
        .map_err(|e| failure(url, limits, e))?;
    body(url, limits, expected, response)
}

/// GETs `url`; the answer must be of type `expected`.
pub fn get(url: &str, expected: &'static str, limits: Limits) -> Result<Vec<u8>, HttpError> {
    let uri = checked(url)?;
    let response = agent(limits)
        .get(uri)
        .header("Accept", expected)
        .call()
        .map_err(|e| failure(url, limits, e))?;
    body(url, limits, expected, response)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_plain_http_urls_with_a_host() {
        for good in ["http://127.0.0.1:8080/ocsp", "https://tsa.example/tsr"] {
            assert!(checked(good).is_ok(), "{good}");
        }
        for bad in [
            "ftp://example/x",
            "file:///etc/passwd",
            "http://user:pw@example/",
            "http://exa mple/",
            "http://example/\u{1b}[2J",
            "/relative",
            "",
        ] {
            assert!(
                matches!(checked(bad), Err(HttpError::BadUrl { .. })),
                "{bad:?}"
            );
        }
        let long = format!("http://example/{}", "a".repeat(MAX_URL));
        assert!(checked(&long).is_err());
    }

    #[test]
    fn a_closed_port_is_unreachable_quickly() {
        // Bind then drop: the port is free and nothing listens on it.
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .map(|a| a.port())
            .expect("a free port");
        let url = format!("http://127.0.0.1:{port}/ocsp");
        let err = post(
            &url,
            "application/ocsp-request",
            b"x",
            "application/ocsp-response",
            Limits::new(1024),
        )
        .expect_err("nothing listens");
        assert!(matches!(err, HttpError::Unreachable { .. }), "{err}");
        assert!(err.to_string().contains("unreachable"), "{err}");
    }

    #[test]
    fn answers_are_typed_and_capped() {
        use melli_testkit::http_server::{HttpServer, Reply};
        let server = HttpServer::start(|r| match r.path.as_str() {
            "/crl" => Reply::ok("application/pkix-crl", vec![7; 100]),
            "/echo" => Reply::ok("application/ocsp-response", r.body),
            _ => Reply::error(404, "no"),
        });
        let limits = Limits::new(1000);
        let crl = get(&server.url("/crl"), "application/pkix-crl", limits).expect("crl");
        assert_eq!(crl, vec![7; 100]);
        let echo = post(
            &server.url("/echo"),
            "application/ocsp-request",
            b"req",
            "application/ocsp-response",
            limits,
        )
        .expect("echo");
        assert_eq!(echo, b"req");
        let wrong = get(&server.url("/crl"), "application/ocsp-response", limits);
        assert!(
            matches!(wrong, Err(HttpError::ContentType { .. })),
            "{wrong:?}"
        );
        let small = get(&server.url("/crl"), "application/pkix-crl", Limits::new(99));
        assert!(
            matches!(small, Err(HttpError::TooLarge { max: 99, .. })),
            "{small:?}"
        );
        let missing = get(&server.url("/nothing"), "application/pkix-crl", limits);
        assert!(
            matches!(missing, Err(HttpError::Status { status: 404, .. })),
            "{missing:?}"
        );
    }
}
