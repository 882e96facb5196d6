//! The desk's HTTP server (axum over tokio).
//!
//! Routes, all under `/t/TOKEN/` (TOKEN: 32 lowercase hex digits, 128 random bits from the
//! operating system, made when the desk starts):
//!
//! | route | what |
//! |---|---|
//! | `GET /t/TOKEN/` | the page (`index.html`) |
//! | `GET /t/TOKEN/desk.js`, `desk.css` | its script and style sheet |
//! | `GET /t/TOKEN/NotoNaskhArabic-Regular.ttf`, `OFL.txt` | the Persian font and its licence |
//! | `GET /t/TOKEN/events` | server-sent events: the JSON array of all panels, at once and after each change |
//! | `GET /t/TOKEN/photo/ID/GENERATION.png` | the photo of the card now in panel ID, re-encoded as PNG; 404 once that card is gone |
//! | `POST /t/TOKEN/match/ID/GENERATION` | body: a live ISO/IEC 19794-2 finger record; the card in that panel matches it (VERIFY) and the answer is JSON |
//!
//! Every request is refused with 403, before any route is looked at, when its Host header is
//! not this server's address (a web page elsewhere cannot reach it through a DNS name that it
//! rebinds to 127.0.0.1) or its path does not start with the token (compared in constant
//! time). Every response carries `Cache-Control: no-store`, `X-Content-Type-Options: nosniff`,
//! `Referrer-Policy: no-referrer`, `X-Frame-Options: DENY` and a Content-Security-Policy that
//! allows only this origin's own script, style, images, font and connections — no inline
//! script or style at all. Request bodies are capped at [`FINGER_CAP`].

use std::convert::Infallible;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr, TcpListener};
use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, Path, Request, State};
use axum::http::header::{self, HeaderMap, HeaderName, HeaderValue};
use axum::http::StatusCode;
use axum::middleware::{self, Next};
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use futures_util::{Stream, StreamExt};
use melli::applet::FingerMatch;
use melli::display::escaped;
use melli::model::FingerTemplate;
use rand_core::{OsRng, RngCore};
use subtle::ConstantTimeEq;
use tokio_stream::wrappers::WatchStream;
use zeroize::Zeroizing;

use crate::monitor::{self, ReaderFilter};
use crate::state::{PanelState, Panels};
use crate::CardChecker;

/// Most bytes of a request body: a live finger record, capped as `melli verify --finger` caps
/// the file it reads (`melli::input::Kind::Fingerprint`).
pub const FINGER_CAP: usize = melli::input::Kind::Fingerprint.cap() as usize;

const INDEX_HTML: &str = include_str!("../assets/index.html");
const DESK_JS: &str = include_str!("../assets/desk.js");
const DESK_CSS: &str = include_str!("../assets/desk.css");
/// Noto Naskh Arabic, the font the PDF signature box uses too (SIL Open Font License 1.1).
const FONT: &[u8] = include_bytes!("../../melli/assets/fonts/NotoNaskhArabic-Regular.ttf");
const FONT_LICENCE: &str = include_str!("../../melli/assets/fonts/OFL.txt");

/// The policy every response carries: this origin only, nothing inline, no frames, no forms.
pub const CONTENT_SECURITY_POLICY: &str = "default-src 'self'; script-src 'self'; \
     style-src 'self'; img-src 'self'; font-src 'self'; connect-src 'self'; object-src 'none'; \
     base-uri 'none'; form-action 'none'; frame-ancestors 'none'";

/// Where and how the desk serves.
#[derive(Debug, Clone)]
pub struct Config {
    /// The address to listen on (port 0: a free port).
    pub listen: SocketAddr,
    /// The desk's name, printed on the verification record.
    pub desk_name: String,
    /// The readers to watch (full names or parts); empty: every reader.
    pub readers: Vec<String>,
}

/// Why the desk could not start.
#[derive(Debug, thiserror::Error)]
pub enum DeskError {
    #[error("cannot listen on {addr}: {source}")]
    Listen {
        addr: SocketAddr,
        #[source]
        source: std::io::Error,
    },
    #[error("cannot start the server: {0}")]
    Runtime(#[source] std::io::Error),
}

/// The desk's listening socket and token, before it serves: the front end prints the URL
/// first, then calls [`Bound::serve`].
pub struct Bound {
    listener: TcpListener,
    addr: SocketAddr,
    token: String,
    config: Config,
}

impl Bound {
    /// Binds the listening socket and makes the token.
    pub fn bind(config: Config) -> Result<Bound, DeskError> {
        let listener = TcpListener::bind(config.listen).map_err(|source| DeskError::Listen {
            addr: config.listen,
            source,
        })?;
        let addr = listener.local_addr().map_err(|source| DeskError::Listen {
            addr: config.listen,
            source,
        })?;
        Ok(Bound {
            listener,
            addr,
            token: new_token(),
            config,
        })
    }

    /// The address the desk listens on (with the port chosen when 0 was asked).
    pub fn local_addr(&self) -> SocketAddr {
        self.addr
    }

    /// The page's URL, `http://ADDR:PORT/t/TOKEN/`. A server on every address (0.0.0.0, ::)
    /// is named by its loopback address, where this machine's browser reaches it.
    pub fn url(&self) -> String {
        page_url(self.addr, &self.token)
    }

    /// Watches the readers and serves the page until the process ends.
    pub fn serve(self, checker: Arc<dyn CardChecker>) -> Result<(), DeskError> {
        let panels = Panels::new(&self.config.desk_name);
        let filter = ReaderFilter {
            wanted: self.config.readers.clone(),
        };
        {
            let panels = Arc::clone(&panels);
            std::thread::Builder::new()
                .name("reader monitor".into())
                .spawn(move || monitor::run(panels, checker, filter))
                .map_err(DeskError::Runtime)?;
        }
        let app = Arc::new(App {
            panels,
            token: self.token,
            addr: self.addr,
        });
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .map_err(DeskError::Runtime)?;
        let listener = self.listener;
        runtime.block_on(async move {
            listener.set_nonblocking(true).map_err(DeskError::Runtime)?;
            let listener =
                tokio::net::TcpListener::from_std(listener).map_err(DeskError::Runtime)?;
            axum::serve(listener, router(app))
                .await
                .map_err(DeskError::Runtime)
        })
    }
}

fn page_url(addr: SocketAddr, token: &str) -> String {
    let mut shown = addr;
    match addr.ip() {
        IpAddr::V4(ip) if ip.is_unspecified() => shown.set_ip(IpAddr::V4(Ipv4Addr::LOCALHOST)),
        IpAddr::V6(ip) if ip.is_unspecified() => shown.set_ip(IpAddr::V6(Ipv6Addr::LOCALHOST)),
        _ => {}
    }
    format!("http://{shown}/t/{token}/")
}

/// 128 random bits from the operating system, as 32 hex digits.
fn new_token() -> String {
    let mut bytes = [0u8; 16];
    OsRng.fill_bytes(&mut bytes);
    hex::encode(bytes)
}

/// What the handlers share.
pub struct App {
    pub panels: Arc<Panels>,
    pub token: String,
    /// The address the server listens on: the only Host it answers.
    pub addr: SocketAddr,
}

/// The routes, behind the guard (Host, token, headers).
pub fn router(app: Arc<App>) -> Router {
    Router::new()
        .route("/t/{token}/", get(index))
        .route("/t/{token}/desk.js", get(script))
        .route("/t/{token}/desk.css", get(style))
        .route("/t/{token}/NotoNaskhArabic-Regular.ttf", get(font))
        .route("/t/{token}/OFL.txt", get(font_licence))
        .route("/t/{token}/events", get(events))
        .route("/t/{token}/photo/{id}/{file}", get(photo))
        .route("/t/{token}/match/{id}/{generation}", post(finger_match))
        .fallback(not_found)
        .layer(DefaultBodyLimit::max(FINGER_CAP))
        .layer(middleware::from_fn_with_state(Arc::clone(&app), guard))
        .with_state(app)
}

/// Refuses a request for another Host or without the token; adds the security headers to
/// every response, refusals included.
async fn guard(State(app): State<Arc<App>>, request: Request, next: Next) -> Response {
    let mut response = if !host_allowed(request.headers(), app.addr) {
        forbidden("this server answers only requests for its own address")
    } else if !token_matches(request.uri().path(), &app.token) {
        forbidden("forbidden")
    } else {
        next.run(request).await
    };
    let headers = response.headers_mut();
    for (name, value) in [
        (header::CACHE_CONTROL, "no-store"),
        (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
        (header::REFERRER_POLICY, "no-referrer"),
        (header::X_FRAME_OPTIONS, "DENY"),
        (header::CONTENT_SECURITY_POLICY, CONTENT_SECURITY_POLICY),
        (
            HeaderName::from_static("cross-origin-resource-policy"),
            "same-origin",
        ),
    ] {
        headers.insert(name, HeaderValue::from_static(value));
    }
    response
}

fn forbidden(text: &'static str) -> Response {
    (StatusCode::FORBIDDEN, text).into_response()
}

/// Whether the Host header names this server: an IP address (never a DNS name, which a
/// rebinding attack controls) and the port it listens on — and the very address, unless it
/// listens on every address.
pub fn host_allowed(headers: &HeaderMap, addr: SocketAddr) -> bool {
    let Some(host) = headers.get(header::HOST).and_then(|h| h.to_str().ok()) else {
        return false;
    };
    let Ok(named) = host.parse::<SocketAddr>() else {
        return false;
    };
    named.port() == addr.port() && (addr.ip().is_unspecified() || named.ip() == addr.ip())
}

/// Whether `path` starts with `/t/TOKEN/`, the token compared in constant time.
pub fn token_matches(path: &str, token: &str) -> bool {
    let Some(rest) = path.strip_prefix("/t/") else {
        return false;
    };
    let Some((given, _)) = rest.split_once('/') else {
        return false;
    };
    bool::from(given.as_bytes().ct_eq(token.as_bytes()))
}

fn asset(content_type: &'static str, body: impl IntoResponse) -> Response {
    ([(header::CONTENT_TYPE, content_type)], body).into_response()
}

async fn index() -> Response {
    asset("text/html; charset=utf-8", INDEX_HTML)
}

async fn script() -> Response {
    asset("text/javascript; charset=utf-8", DESK_JS)
}

async fn style() -> Response {
    asset("text/css; charset=utf-8", DESK_CSS)
}

async fn font() -> Response {
    asset("font/ttf", FONT)
}

async fn font_licence() -> Response {
    asset("text/plain; charset=utf-8", FONT_LICENCE)
}

async fn not_found() -> Response {
    (StatusCode::NOT_FOUND, "not found").into_response()
}

/// The panels as server-sent events: the whole array now, and again after every change.
async fn events(State(app): State<Arc<App>>) -> Sse<impl Stream<Item = Result<Event, Infallible>>> {
    let stream = WatchStream::new(app.panels.subscribe())
        .map(|json| Ok(Event::default().data(json.as_str())));
    Sse::new(stream).keep_alive(KeepAlive::default())
}

/// The photo of the card now in panel `id`, if `file` is its generation's `N.png`.
async fn photo(
    State(app): State<Arc<App>>,
    Path((_token, id, file)): Path<(String, u32, String)>,
) -> Response {
    let generation = file
        .strip_suffix(".png")
        .and_then(|n| n.parse::<u64>().ok());
    let png = generation.and_then(|generation| {
        let panels = app.panels.lock();
        panels
            .iter()
            .find(|p| p.id == id && p.generation == generation)
            .and_then(|p| match &p.state {
                PanelState::Done(done) => done.photo_png.clone(),
                _ => None,
            })
    });
    match png {
        Some(png) => asset("image/png", png.as_ref().clone()),
        None => not_found().await,
    }
}

/// What a fingerprint match answers.
#[derive(Debug, serde::Serialize)]
struct MatchAnswer {
    /// `match`, `no-match` or `blocked`; absent on an error.
    #[serde(skip_serializing_if = "Option::is_none")]
    result: Option<&'static str>,
    /// Tries left after a failed match (0 when blocked).
    #[serde(skip_serializing_if = "Option::is_none")]
    tries_left: Option<u8>,
    #[serde(skip_serializing_if = "Option::is_none")]
    error: Option<String>,
}

fn match_error(status: StatusCode, message: String) -> Response {
    (
        status,
        Json(MatchAnswer {
            result: None,
            tries_left: None,
            error: Some(message),
        }),
    )
        .into_response()
}

/// Matches a live finger record on the card now in panel `id` (if it is still the card of
/// `generation`). The record is checked as `melli verify --finger` checks its file, sent to the
/// card, wiped, and never logged.
async fn finger_match(
    State(app): State<Arc<App>>,
    Path((_token, id, generation)): Path<(String, u32, u64)>,
    body: Bytes,
) -> Response {
    let live = Zeroizing::new(body.to_vec());
    drop(body);
    if let Err(e) = FingerTemplate::parse(&live) {
        return match_error(
            StatusCode::BAD_REQUEST,
            format!(
                "not a finger record: {} — give the scanner's ISO/IEC 19794-2 record",
                escaped(&e.to_string())
            ),
        );
    }
    let applet = {
        let panels = app.panels.lock();
        panels
            .iter()
            .find(|p| p.id == id && p.generation == generation)
            .and_then(|p| match &p.state {
                PanelState::Done(done) => Some(Arc::clone(&done.applet)),
                _ => None,
            })
    };
    let Some(applet) = applet else {
        return match_error(
            StatusCode::NOT_FOUND,
            "that card is no longer in its reader".to_string(),
        );
    };
    let outcome = tokio::task::spawn_blocking(move || {
        let mut applet = applet.lock().unwrap_or_else(|e| e.into_inner());
        applet.verify_finger(&live)
    })
    .await;
    let answer = |result, tries_left| {
        Json(MatchAnswer {
            result: Some(result),
            tries_left,
            error: None,
        })
        .into_response()
    };
    match outcome {
        Ok(Ok(FingerMatch::Match)) => answer("match", None),
        Ok(Ok(FingerMatch::NoMatch { tries_left })) => answer("no-match", Some(tries_left)),
        Ok(Ok(FingerMatch::Blocked)) => answer("blocked", Some(0)),
        Ok(Err(e)) => match_error(
            StatusCode::BAD_GATEWAY,
            format!("the card did not match: {}", escaped(&e.to_string())),
        ),
        Err(_) => match_error(
            StatusCode::INTERNAL_SERVER_ERROR,
            "the match was interrupted".to_string(),
        ),
    }
}

#[cfg(test)]
mod tests;
