//! The desk screen's server (`melli desk`) through pcscd + vpcd and plain HTTP: the URL it
//! prints, refusals without the token, the page's headers, the panels as server-sent events as a
//! card goes in, out and in again, the photo as PNG with the card's pixels, and a fingerprint
//! match on the card through the page's POST.

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::Command;
use std::sync::mpsc;
use std::thread;
use std::time::{Duration, Instant};

use crate::common::desk_screen::DeskScreen;
use crate::common::{
    melli, path_str, personalized_card, root_pem, test_issuer, Vicc, VirtualCard, MELLI,
};

const NATIONAL_CODE: &str = "0081493721";

/// Starts `melli desk` on `reader` (its stderr in `dir`) and checks the URL it printed first:
/// loopback, a real port, and a 128-bit token in hex as the path.
fn start_desk(dir: &Path, reader: &str, root: &str) -> DeskScreen {
    let desk = DeskScreen::start(dir, root, "E2E desk 7", reader);
    let url = desk.url();
    let rest = url
        .strip_prefix("http://127.0.0.1:")
        .unwrap_or_else(|| panic!("not a loopback URL: {url:?}"));
    let (port, path) = rest.split_once('/').expect("a path");
    assert!(port.parse::<u16>().is_ok_and(|p| p != 0), "{url}");
    let token = path
        .strip_prefix("t/")
        .and_then(|t| t.strip_suffix('/'))
        .unwrap_or_else(|| panic!("no /t/TOKEN/ in {url:?}"));
    assert_eq!(token.len(), 32, "{url}");
    assert!(token.bytes().all(|b| b.is_ascii_hexdigit()), "{url}");
    desk
}

fn agent(timeout: Option<Duration>) -> ureq::Agent {
    ureq::Agent::new_with_config(
        ureq::config::Config::builder()
            .http_status_as_error(false)
            .timeout_global(timeout)
            .build(),
    )
}

fn get(url: &str) -> (u16, Vec<(String, String)>, Vec<u8>) {
    let mut response = agent(Some(Duration::from_secs(20)))
        .get(url)
        .call()
        .unwrap_or_else(|e| panic!("GET {url}: {e}"));
    let headers = response
        .headers()
        .iter()
        .map(|(k, v)| (k.as_str().to_string(), v.to_str().unwrap_or("").to_string()))
        .collect();
    let body = response.body_mut().read_to_vec().expect("body");
    (response.status().as_u16(), headers, body)
}

fn post(url: &str, body: &[u8]) -> (u16, serde_json::Value) {
    let mut response = agent(Some(Duration::from_secs(30)))
        .post(url)
        .header("Content-Type", "application/octet-stream")
        .send(body)
        .unwrap_or_else(|e| panic!("POST {url}: {e}"));
    let text = response.body_mut().read_to_string().expect("body");
    let json = serde_json::from_str(&text).unwrap_or_else(|e| panic!("{e}: {text}"));
    (response.status().as_u16(), json)
}

fn header<'a>(headers: &'a [(String, String)], name: &str) -> &'a str {
    headers
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case(name))
        .map(|(_, v)| v.as_str())
        .unwrap_or_else(|| panic!("no {name} header in {headers:?}"))
}

/// The desk's events, each the JSON array of panels, read on a thread of their own.
struct Events {
    rx: mpsc::Receiver<serde_json::Value>,
    /// The latest array of panels received.
    latest: std::cell::RefCell<serde_json::Value>,
}

impl Events {
    fn open(url: &str) -> Events {
        let response = agent(Some(Duration::from_secs(300)))
            .get(&format!("{url}events"))
            .call()
            .expect("GET events");
        assert_eq!(response.status().as_u16(), 200);
        let content_type = response
            .headers()
            .get("content-type")
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_string();
        assert_eq!(content_type, "text/event-stream");
        let reader = BufReader::new(response.into_body().into_reader());
        let (tx, rx) = mpsc::channel();
        thread::spawn(move || {
            for line in reader.lines() {
                let Ok(line) = line else { return };
                if let Some(data) = line.strip_prefix("data: ") {
                    let value = serde_json::from_str(data)
                        .unwrap_or_else(|e| panic!("an event that is not JSON ({e}): {data}"));
                    if tx.send(value).is_err() {
                        return;
                    }
                }
            }
        });
        Events {
            rx,
            latest: std::cell::RefCell::new(serde_json::Value::Null),
        }
    }

    /// The panel of `reader` once `wanted` holds for it: in the latest event already received,
    /// or in the next ones.
    fn wait_for(
        &self,
        reader: &str,
        within: Duration,
        what: &str,
        wanted: impl Fn(&serde_json::Value) -> bool,
    ) -> serde_json::Value {
        let deadline = Instant::now() + within;
        loop {
            let last = self
                .latest
                .borrow()
                .as_array()
                .and_then(|panels| panels.iter().find(|p| p["reader"] == reader).cloned());
            if let Some(panel) = &last {
                if wanted(panel) {
                    return panel.clone();
                }
            }
            let left = deadline.saturating_duration_since(Instant::now());
            match self.rx.recv_timeout(left) {
                Ok(panels) => {
                    assert!(panels.is_array(), "not an array of panels: {panels}");
                    *self.latest.borrow_mut() = panels;
                }
                Err(_) => panic!(
                    "{what}: not within {within:?}; the last panel: {}",
                    last.unwrap_or_default()
                ),
            }
        }
    }
}

fn decoded_rgb(bytes: &[u8], format: image::ImageFormat) -> image::RgbImage {
    image::load_from_memory_with_format(bytes, format)
        .expect("decodes")
        .to_rgb8()
}

#[test]
fn the_desk_shows_the_card_its_photo_and_matches_the_finger() {
    let (mut card, _) = personalized_card();
    let reader = card.reader_name().to_string();
    // The card's own JPEG, read before the desk holds the card.
    let export = card.dir().join("desk-export");
    let out = melli(&["read", "--reader", &reader, "--out", path_str(&export)]);
    assert_eq!(out.code, 0, "{out:?}");
    let jpeg = std::fs::read(export.join("photo.jpg")).expect("photo.jpg");

    let desk = start_desk(card.dir(), &reader, &root_pem(test_issuer()));
    let url = desk.url().to_string();
    let base = url.split("/t/").next().expect("origin").to_string();

    // Without the token, or with another, nothing.
    let token = url.trim_end_matches('/').rsplit('/').next().expect("token");
    let mut wrong = token.to_string();
    wrong.replace_range(0..1, if token.starts_with('0') { "1" } else { "0" });
    for path in [
        "/".to_string(),
        "/t/".to_string(),
        format!("/t/{wrong}/"),
        format!("/t/{wrong}/events"),
        format!("/t/{wrong}/photo/1/1.png"),
    ] {
        let (status, headers, body) = get(&format!("{base}{path}"));
        assert_eq!(status, 403, "{path}");
        assert_eq!(header(&headers, "cache-control"), "no-store");
        let body = String::from_utf8_lossy(&body);
        assert!(!body.contains(NATIONAL_CODE), "{path}: {body}");
    }

    // The page and its assets, with the headers.
    let (status, headers, page) = get(&url);
    assert_eq!(status, 200);
    assert_eq!(header(&headers, "cache-control"), "no-store");
    assert_eq!(header(&headers, "x-content-type-options"), "nosniff");
    assert_eq!(header(&headers, "referrer-policy"), "no-referrer");
    let csp = header(&headers, "content-security-policy");
    assert!(
        csp.contains("default-src 'self'") && csp.contains("script-src 'self'"),
        "{csp}"
    );
    assert!(!csp.contains("unsafe-inline"), "{csp}");
    assert!(header(&headers, "content-type").starts_with("text/html"));
    let page = String::from_utf8(page).expect("utf-8");
    assert!(page.contains("<main id=\"panels\""), "{page}");
    for asset in ["desk.js", "desk.css", "NotoNaskhArabic-Regular.ttf"] {
        let (status, headers, body) = get(&format!("{url}{asset}"));
        assert_eq!(status, 200, "{asset}");
        assert_eq!(header(&headers, "cache-control"), "no-store");
        assert!(!body.is_empty(), "{asset}");
    }

    // The card in the reader: a panel with the holder and the verdict.
    let events = Events::open(&url);
    let panel = events.wait_for(&reader, Duration::from_secs(60), "the card verified", |p| {
        p["state"] == "done" || p["state"] == "error"
    });
    assert_eq!(panel["state"], "done", "{panel}");
    let holder = &panel["card"];
    assert_eq!(holder["national_code"], NATIONAL_CODE, "{panel}");
    assert_eq!(holder["verdict"], "genuine", "{panel}");
    assert_eq!(holder["failed"], serde_json::json!([]), "{panel}");
    assert_eq!(holder["serial"], card.serial(), "{panel}");
    assert_eq!(holder["name_latin"], "Alireza Mohammadi", "{panel}");
    assert_eq!(panel["desk"], "E2E desk 7", "{panel}");
    let checks = holder["checks"].as_array().expect("checks");
    for name in [
        "security object signature",
        "DG2 photo",
        "chip authentication",
    ] {
        let check = checks
            .iter()
            .find(|c| c["name"] == name)
            .unwrap_or_else(|| panic!("no {name:?} check in {panel}"));
        assert_eq!(check["result"], "pass", "{panel}");
    }
    let birth = holder["birth_date"].as_str().expect("birth date");
    assert!(
        birth.len() == "1360/01/01 (1981-03-21)".len() && birth.contains(" ("),
        "{birth}"
    );
    let id = panel["id"].as_u64().expect("id");
    let generation = panel["generation"].as_u64().expect("generation");
    let photo = panel["photo"].as_str().expect("a photo URL");
    assert_eq!(photo, format!("photo/{id}/{generation}.png"));

    // The photo: a PNG with exactly the pixels of the card's JPEG.
    let (status, headers, png) = get(&format!("{url}{photo}"));
    assert_eq!(status, 200);
    assert_eq!(header(&headers, "content-type"), "image/png");
    assert_eq!(&png[..4], b"\x89PNG");
    let shown = decoded_rgb(&png, image::ImageFormat::Png);
    let on_card = decoded_rgb(&jpeg, image::ImageFormat::Jpeg);
    assert_eq!(shown.dimensions(), on_card.dimensions());
    assert!(
        shown.as_raw() == on_card.as_raw(),
        "the PNG's pixels differ from the card's JPEG"
    );

    // Fingerprint match on the card through the page's POST: another finger, then the holder's.
    let match_url = format!("{url}match/{id}/{generation}");
    let other = std::fs::read("fixtures/fingerprints/finger-2.fmr").expect("fixture");
    let (status, answer) = post(&match_url, &other);
    assert_eq!(status, 200, "{answer}");
    assert_eq!(answer["result"], "no-match", "{answer}");
    assert!(answer["tries_left"].as_u64().is_some(), "{answer}");
    let live = std::fs::read("fixtures/fingerprints/finger-1-live.fmr").expect("fixture");
    let (status, answer) = post(&match_url, &live);
    assert_eq!(status, 200, "{answer}");
    assert_eq!(answer["result"], "match", "{answer}");
    let (status, answer) = post(&match_url, b"not a finger record");
    assert_eq!(status, 400, "{answer}");

    // The card taken out: the panel clears, and its photo and match are gone.
    let pulled = Instant::now();
    card.kill();
    let panel = events.wait_for(&reader, Duration::from_secs(10), "the panel cleared", |p| {
        p["state"] == "empty"
    });
    let took = pulled.elapsed();
    assert!(
        panel.get("card").is_none() && panel.get("photo").is_none(),
        "{panel}"
    );
    assert!(
        took < Duration::from_secs(5),
        "the panel took {took:?} to clear"
    );
    let (status, _, body) = get(&format!("{url}{photo}"));
    assert_eq!(status, 404);
    assert!(body.is_empty() || !body.starts_with(b"\x89PNG"));
    let (status, answer) = post(&match_url, &live);
    assert_eq!(status, 404, "{answer}");

    // In again: a new generation.
    card.restart();
    let panel = events.wait_for(&reader, Duration::from_secs(60), "the card back", |p| {
        p["state"] == "done" && p["generation"].as_u64() != Some(generation)
    });
    assert_eq!(panel["card"]["verdict"], "genuine", "{panel}");
    assert_eq!(panel["id"].as_u64(), Some(id), "{panel}");
    let (status, _, _) = get(&format!("{url}{photo}"));
    assert_eq!(status, 404, "the old generation's photo is gone");
    drop(events);
    drop(desk);
}

#[test]
fn the_desk_refuses_a_bad_trust_anchor_before_it_listens() {
    let mut command = Command::new(MELLI);
    command.args(["desk", "--trust", "no/such/root.pem", "--no-open"]);
    let out = crate::common::run(&mut command, Duration::from_secs(30));
    assert_eq!(out.code, 2, "{out:?}");
    assert!(out.stdout.is_empty(), "{out:?}");
    assert!(
        out.stderr.contains("--trust") && out.stderr.lines().count() == 1,
        "{out:?}"
    );
}

#[test]
fn a_card_that_is_not_melli_or_blank_shows_an_error_in_its_panel_once() {
    let vicc = Vicc::new();
    let blank = VirtualCard::new();
    let readers = format!("{},{}", vicc.reader_name(), blank.reader_name());
    let dir = tempfile::tempdir().expect("tempdir");
    let desk = start_desk(dir.path(), &readers, &root_pem(test_issuer()));
    let events = Events::open(desk.url());
    for (reader, wanted) in [
        (vicc.reader_name(), "not a melli card"),
        (blank.reader_name(), "is blank"),
    ] {
        let panel = events.wait_for(reader, Duration::from_secs(60), "an error panel", |p| {
            p["state"] == "error" || p["state"] == "done"
        });
        assert_eq!(panel["state"], "error", "{panel}");
        let message = panel["message"].as_str().expect("a message");
        assert!(message.contains(wanted), "{reader}: {message}");
        assert!(!message.contains('\n'), "{message}");
        assert!(panel.get("card").is_none(), "{panel}");
    }
    // The error stays: the desk does not read the same card again and again.
    let deadline = Instant::now() + Duration::from_millis(1500);
    while let Some(left) = deadline.checked_duration_since(Instant::now()) {
        let Ok(panels) = events.rx.recv_timeout(left) else {
            break;
        };
        for panel in panels.as_array().expect("panels") {
            assert_eq!(panel["state"], "error", "{panel}");
        }
    }
}
