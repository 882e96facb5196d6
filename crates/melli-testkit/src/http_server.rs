//! A small HTTP server on 127.0.0.1 for the peers the end-to-end tests put behind HTTP (an
//! OpenSSL TSA, a CRL distribution point): `tiny_http` parses the requests, a handler answers
//! each. Stopped when dropped.

use std::io::Read;
use std::sync::Arc;
use std::thread::JoinHandle;

/// Largest request body read (OCSP and TSA requests are a few hundred bytes).
const MAX_REQUEST: u64 = 1024 * 1024;

/// A request as the handler sees it.
#[derive(Debug, Clone)]
pub struct Request {
    pub method: String,
    /// The path with its query, as sent (`/tsa`, `/crl/ca.crl`).
    pub path: String,
    pub content_type: Option<String>,
    pub body: Vec<u8>,
}

/// The handler's answer.
#[derive(Debug, Clone)]
pub struct Reply {
    pub status: u16,
    pub content_type: String,
    pub body: Vec<u8>,
}

impl Reply {
    /// 200 with `body` of `content_type`.
    pub fn ok(content_type: &str, body: Vec<u8>) -> Reply {
        Reply {
            status: 200,
            content_type: content_type.into(),
            body,
        }
    }

    /// `status` with a text body.
    pub fn error(status: u16, text: &str) -> Reply {
        Reply {
            status,
            content_type: "text/plain".into(),
            body: text.as_bytes().to_vec(),
        }
    }
}

/// A running server; stopped when dropped.
pub struct HttpServer {
    server: Arc<tiny_http::Server>,
    port: u16,
    thread: Option<JoinHandle<()>>,
}

impl HttpServer {
    /// Starts a server on a free port of 127.0.0.1 that answers every request with `handler`,
    /// one at a time.
    pub fn start(handler: impl Fn(Request) -> Reply + Send + 'static) -> HttpServer {
        let server = Arc::new(tiny_http::Server::http("127.0.0.1:0").expect("bind 127.0.0.1:0"));
        let port = server.server_addr().to_ip().expect("an IP address").port();
        let serving = Arc::clone(&server);
        let thread = std::thread::spawn(move || {
            for mut request in serving.incoming_requests() {
                let mut body = Vec::new();
                let read = request.as_reader().take(MAX_REQUEST).read_to_end(&mut body);
                let reply = match read {
                    Ok(_) => handler(Request {
                        method: request.method().as_str().to_string(),
                        path: request.url().to_string(),
                        content_type: request
                            .headers()
                            .iter()
                            .find(|h| h.field.equiv("Content-Type"))
                            .map(|h| h.value.as_str().to_string()),
                        body,
                    }),
                    Err(e) => Reply::error(400, &e.to_string()),
                };
                let header = tiny_http::Header::from_bytes(
                    &b"Content-Type"[..],
                    reply.content_type.as_bytes(),
                )
                .expect("a content type header");
                let response = tiny_http::Response::from_data(reply.body)
                    .with_status_code(reply.status)
                    .with_header(header);
                let _ = request.respond(response);
            }
        });
        HttpServer {
            server,
            port,
            thread: Some(thread),
        }
    }

    /// `http://127.0.0.1:PORT` followed by `path` (which starts with `/`).
    pub fn url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}{path}", self.port)
    }
}

impl Drop for HttpServer {
    fn drop(&mut self) {
        self.server.unblock();
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}
