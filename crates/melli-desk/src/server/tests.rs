//! The server's routes through its router, without a socket or a card: the token, the Host
//! check, the headers, the body cap, the photo and match routes of a panel without a card.

use std::net::SocketAddr;

use axum::body::Body;
use axum::http::{Method, Request, StatusCode};
use http_body_util::BodyExt;
use tower::ServiceExt;

use super::*;
use crate::state::Panel;

const TOKEN: &str = "00112233445566778899aabbccddeeff";

fn app() -> Arc<App> {
    Arc::new(App {
        panels: Panels::new("Desk 3"),
        token: TOKEN.to_string(),
        addr: "127.0.0.1:4567".parse().expect("addr"),
    })
}

async fn send(
    app: &Arc<App>,
    method: Method,
    path: &str,
    host: Option<&str>,
    body: Vec<u8>,
) -> Response {
    let mut request = Request::builder().method(method).uri(path);
    if let Some(host) = host {
        request = request.header("host", host);
    }
    router(Arc::clone(app))
        .oneshot(request.body(Body::from(body)).expect("request"))
        .await
        .expect("infallible")
}

async fn get(app: &Arc<App>, path: &str) -> Response {
    send(app, Method::GET, path, Some("127.0.0.1:4567"), Vec::new()).await
}

async fn text(response: Response) -> String {
    let bytes = response
        .into_body()
        .collect()
        .await
        .expect("body")
        .to_bytes();
    String::from_utf8_lossy(&bytes).into_owned()
}

fn assert_security_headers(response: &Response) {
    let h = response.headers();
    assert_eq!(h["cache-control"], "no-store");
    assert_eq!(h["x-content-type-options"], "nosniff");
    assert_eq!(h["referrer-policy"], "no-referrer");
    let csp = h["content-security-policy"].to_str().expect("ascii");
    assert!(csp.starts_with("default-src 'self'"), "{csp}");
    assert!(
        !csp.contains("unsafe-inline") && !csp.contains("unsafe-eval"),
        "{csp}"
    );
}

#[tokio::test]
async fn the_page_and_its_assets_are_served_under_the_token_with_the_headers() {
    let app = app();
    for (path, kind) in [
        ("/t/00112233445566778899aabbccddeeff/", "text/html"),
        (
            "/t/00112233445566778899aabbccddeeff/desk.js",
            "text/javascript",
        ),
        ("/t/00112233445566778899aabbccddeeff/desk.css", "text/css"),
        (
            "/t/00112233445566778899aabbccddeeff/NotoNaskhArabic-Regular.ttf",
            "font/ttf",
        ),
        ("/t/00112233445566778899aabbccddeeff/OFL.txt", "text/plain"),
    ] {
        let response = get(&app, path).await;
        assert_eq!(response.status(), StatusCode::OK, "{path}");
        assert_security_headers(&response);
        let content_type = response.headers()["content-type"].to_str().expect("ascii");
        assert!(content_type.starts_with(kind), "{path}: {content_type}");
    }
    let page = text(get(&app, "/t/00112233445566778899aabbccddeeff/").await).await;
    assert!(page.contains("<main id=\"panels\""), "{page}");
    assert!(page.contains("src=\"desk.js\""), "{page}");
    // No inline script: every <script> has a src and an empty body.
    assert_eq!(
        page.matches("<script").count(),
        page.matches("<script src=").count()
    );
    assert!(!page.contains("style=\""), "{page}");
}

#[tokio::test]
async fn a_wrong_or_missing_token_is_refused_with_nothing_in_it() {
    let app = app();
    {
        let mut list = app.panels.lock();
        let mut id = 0;
        let i = Panels::ensure(&mut list, "Reader A", &mut id);
        list[i].state = PanelState::Error("card of 0081493721".into());
        app.panels.publish(&list);
    }
    for path in [
        "/",
        "/t/",
        "/t//",
        "/t/00112233445566778899aabbccddeeff",
        "/t/00112233445566778899aabbccddeefe/",
        "/t/00112233445566778899aabbccddeeff0/events",
        "/t/00112233445566778899AABBCCDDEEFF/events",
        "/t/x/events",
        "/events",
        "/t/00112233445566778899aabbccddeefe/photo/1/1.png",
    ] {
        let response = get(&app, path).await;
        assert_eq!(response.status(), StatusCode::FORBIDDEN, "{path}");
        assert_security_headers(&response);
        let body = text(response).await;
        assert!(
            !body.contains("0081493721") && !body.contains("Reader"),
            "{body}"
        );
    }
    let response = send(
        &app,
        Method::POST,
        "/t/00112233445566778899aabbccddeefe/match/1/1",
        Some("127.0.0.1:4567"),
        b"FMR\0".to_vec(),
    )
    .await;
    assert_eq!(response.status(), StatusCode::FORBIDDEN);
}

#[tokio::test]
async fn another_host_is_refused_even_with_the_token() {
    let app = app();
    let path = "/t/00112233445566778899aabbccddeeff/";
    for host in [
        None,
        Some("evil.example:4567"),
        Some("localhost:4567"),
        Some("127.0.0.1"),
        Some("127.0.0.1:4568"),
        Some("127.0.0.2:4567"),
        Some("[::1]:4567"),
    ] {
        let response = send(&app, Method::GET, path, host, Vec::new()).await;
        assert_eq!(response.status(), StatusCode::FORBIDDEN, "{host:?}");
        assert_security_headers(&response);
    }
}

#[test]
fn a_server_on_every_address_takes_any_ip_host_with_its_port_but_no_name() {
    let any: SocketAddr = "0.0.0.0:8080".parse().expect("addr");
    let with = |host: &str| {
        let mut headers = HeaderMap::new();
        headers.insert(header::HOST, HeaderValue::from_str(host).expect("value"));
        host_allowed(&headers, any)
    };
    assert!(with("192.0.2.7:8080"));
    assert!(!with("192.0.2.7:8081"));
    assert!(!with("desk.example:8080"));
}

#[test]
fn the_url_names_the_address_a_local_browser_reaches() {
    let at = |addr: &str| page_url(addr.parse().expect("addr"), TOKEN);
    assert_eq!(
        at("127.0.0.1:4567"),
        "http://127.0.0.1:4567/t/00112233445566778899aabbccddeeff/"
    );
    assert_eq!(at("[::1]:80"), format!("http://[::1]:80/t/{TOKEN}/"));
    assert_eq!(
        at("0.0.0.0:8080"),
        format!("http://127.0.0.1:8080/t/{TOKEN}/")
    );
    assert_eq!(at("[::]:8080"), format!("http://[::1]:8080/t/{TOKEN}/"));
    assert_eq!(
        at("192.0.2.1:81"),
        format!("http://192.0.2.1:81/t/{TOKEN}/")
    );
}

#[test]
fn a_bound_server_on_port_0_gets_a_free_port_and_a_fresh_token() {
    let config = Config {
        listen: "127.0.0.1:0".parse().expect("addr"),
        desk_name: "d".into(),
        readers: vec![],
    };
    let a = Bound::bind(config.clone()).expect("bind");
    let b = Bound::bind(config).expect("bind");
    assert_ne!(a.local_addr().port(), 0);
    assert_ne!(a.local_addr().port(), b.local_addr().port());
    assert!(a
        .url()
        .starts_with(&format!("http://127.0.0.1:{}/t/", a.local_addr().port())));
    assert_ne!(a.url().rsplit("/t/").next(), b.url().rsplit("/t/").next());
}

#[test]
fn the_token_is_128_random_bits() {
    let a = new_token();
    assert_eq!(a.len(), 32);
    assert!(a
        .bytes()
        .all(|b| b.is_ascii_hexdigit() && !b.is_ascii_uppercase()));
    assert_ne!(a, new_token());
}

#[tokio::test]
async fn the_events_start_with_the_panels_now() {
    let app = app();
    {
        let mut list = app.panels.lock();
        let mut id = 0;
        Panels::ensure(&mut list, "Reader \"A\"\n", &mut id);
        app.panels.publish(&list);
    }
    let response = get(&app, "/t/00112233445566778899aabbccddeeff/events").await;
    assert_eq!(response.status(), StatusCode::OK);
    assert_security_headers(&response);
    assert_eq!(response.headers()["content-type"], "text/event-stream");
    let mut body = response.into_body();
    let frame = body
        .frame()
        .await
        .expect("a first event")
        .expect("frame")
        .into_data()
        .expect("data");
    let event = String::from_utf8(frame.to_vec()).expect("utf-8");
    // One data line holding the whole array, the reader's name escaped.
    assert!(event.starts_with("data: ["), "{event}");
    assert!(event.ends_with("\n\n"), "{event}");
    assert_eq!(event.trim_end().lines().count(), 1, "{event}");
    let json: serde_json::Value =
        serde_json::from_str(event.trim_start_matches("data: ").trim_end()).expect("json");
    assert_eq!(json[0]["reader"], "Reader \"A\"\\n");
    assert_eq!(json[0]["state"], "empty");
    assert_eq!(json[0]["desk"], "Desk 3");
}

#[tokio::test]
async fn photo_and_match_of_a_panel_without_its_card_answer_404() {
    let app = app();
    {
        let mut list = app.panels.lock();
        list.push(Panel {
            id: 1,
            reader: "R".into(),
            generation: 5,
            state: PanelState::Reading,
        });
    }
    let base = "/t/00112233445566778899aabbccddeeff";
    for path in [
        "photo/1/5.png",
        "photo/1/4.png",
        "photo/2/5.png",
        "photo/1/5",
    ] {
        let response = get(&app, &format!("{base}/{path}")).await;
        assert_eq!(response.status(), StatusCode::NOT_FOUND, "{path}");
    }
    let live = std::fs::read(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../fixtures/fingerprints/finger-1-live.fmr"
    ))
    .expect("fixture");
    let response = send(
        &app,
        Method::POST,
        &format!("{base}/match/1/5"),
        Some("127.0.0.1:4567"),
        live,
    )
    .await;
    assert_eq!(response.status(), StatusCode::NOT_FOUND);
    let json: serde_json::Value = serde_json::from_str(&text(response).await).expect("json");
    assert!(json["error"].as_str().is_some(), "{json}");
    assert!(json.get("result").is_none(), "{json}");
}

#[tokio::test]
async fn a_match_body_that_is_not_a_finger_record_or_too_large_is_refused() {
    let app = app();
    let base = "/t/00112233445566778899aabbccddeeff";
    let response = send(
        &app,
        Method::POST,
        &format!("{base}/match/1/1"),
        Some("127.0.0.1:4567"),
        b"<script>alert(1)</script>".to_vec(),
    )
    .await;
    assert_eq!(response.status(), StatusCode::BAD_REQUEST);
    assert_security_headers(&response);
    let response = send(
        &app,
        Method::POST,
        &format!("{base}/match/1/1"),
        Some("127.0.0.1:4567"),
        vec![0u8; FINGER_CAP + 1],
    )
    .await;
    assert_eq!(response.status(), StatusCode::PAYLOAD_TOO_LARGE);
    assert_security_headers(&response);
}

#[tokio::test]
async fn unknown_routes_under_the_token_are_404() {
    let app = app();
    let response = get(&app, "/t/00112233445566778899aabbccddeeff/nothing").await;
    assert_eq!(response.status(), StatusCode::NOT_FOUND);
    assert_security_headers(&response);
    let response = send(
        &app,
        Method::POST,
        "/t/00112233445566778899aabbccddeeff/",
        Some("127.0.0.1:4567"),
        Vec::new(),
    )
    .await;
    assert_eq!(response.status(), StatusCode::METHOD_NOT_ALLOWED);
}
