//! The desk's web page (`melli desk`, issue 19) in a real headless Chromium, driven through
//! the DevTools protocol (`tests/common/devtools.rs`): a genuine card's panel (verdict, the
//! holder's data, the photo's pixels, a fingerprint match on the card), a tampered card's, the
//! panel emptied when the card is taken out, two readers with a panel each, the verification
//! record as the browser prints it (`Page.printToPDF`, read back with `pdftotext`), and the page
//! refused without its token. The screenshots go to `target/desk-screenshots/`.

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use base64ct::Encoding as _;
use sha2::{Digest, Sha256};

use crate::common::desk_screen::DeskScreen;
use crate::common::devtools::Page;
use crate::common::{
    melli, path_str, personalize_with, personalized_card, read_state, root_pem, run, tamper_file,
    test_issuer, VirtualCard,
};

/// How long the page may take to show what a test waits for: the issue asks for a second; a
/// loaded machine running tests in parallel gets ten.
const SHOWN_WITHIN: Duration = Duration::from_secs(10);

/// Where the screenshots go: `desk-screenshots/` in the build's target directory.
fn screenshot_path(name: &str) -> PathBuf {
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("target"));
    target.join("desk-screenshots").join(name)
}

/// A JavaScript expression: `body` run with `panel` bound to the `section.panel` of `reader`
/// (null when there is none yet).
fn in_panel(reader: &str, body: &str) -> String {
    let reader = serde_json::to_string(reader).expect("a JSON string");
    format!(
        "(() => {{ const panel = [...document.querySelectorAll('#panels > section.panel')]\
         .find(p => p.dataset.reader === {reader}) || null; {body} }})()"
    )
}

/// A CSS selector for `inner` within the panel of `reader`.
fn panel_selector(reader: &str, inner: &str) -> String {
    let quoted = reader.replace('\\', "\\\\").replace('"', "\\\"");
    format!("#panels > section.panel[data-reader=\"{quoted}\"] {inner}")
}

/// Waits until the panel of `reader` is in `state`.
fn wait_for_state(page: &Page, reader: &str, state: &str) {
    let state_js = serde_json::to_string(state).expect("a JSON string");
    page.wait_for(
        &in_panel(
            reader,
            &format!("return panel && panel.dataset.state === {state_js};"),
        ),
        SHOWN_WITHIN,
        &format!("the panel of {reader:?} to be {state}"),
    );
}

/// What the panel of a read card shows, taken from its DOM.
/// `melli desk` ("Test desk") on `card`'s reader, the page open in the browser, once the
/// panel shows the card with the `verdict` expected ("genuine" or "not-genuine"): the desk,
/// the page and what the panel shows.
fn desk_showing(card: &VirtualCard, verdict: &str) -> (DeskScreen, Page, serde_json::Value) {
    let reader = card.reader_name();
    let desk = DeskScreen::start(card.dir(), &root_pem(test_issuer()), "Test desk", reader);
    let page = Page::open(desk.url());
    wait_for_state(&page, reader, "done");
    let shown = done_panel(&page, reader);
    assert_eq!(
        shown["verdict"],
        verdict,
        "{shown}\ndesk log:\n{}",
        desk.log()
    );
    (desk, page, shown)
}

fn done_panel(page: &Page, reader: &str) -> serde_json::Value {
    page.eval(&in_panel(
        reader,
        r#"
        const one = (sel) => { const e = panel.querySelector(sel); return e ? e.textContent : null; };
        const banner = panel.querySelector('.banner');
        const nameFa = panel.querySelector('.name-fa');
        return {
          verdict: banner && banner.getAttribute('data-verdict'),
          banner: banner && banner.textContent,
          name_fa: one('.name-fa'),
          name_fa_dir: nameFa && nameFa.getAttribute('dir'),
          name_fa_lang: nameFa && nameFa.getAttribute('lang'),
          name_latin: one('.name-latin'),
          national_code: one('.national-code'),
          serial: one('.serial'),
          checks: [...panel.querySelectorAll('ul.checks > li')].map(li => ({
            name: li.getAttribute('data-check'),
            result: li.getAttribute('data-result'),
          })),
        };"#,
    ))
}

/// The checks of a panel (from [`done_panel`]) whose result is `result`, in order.
fn checks_with(panel: &serde_json::Value, result: &str) -> Vec<String> {
    panel["checks"]
        .as_array()
        .expect("the checks")
        .iter()
        .filter(|c| c["result"] == result)
        .map(|c| c["name"].as_str().expect("a check name").to_string())
        .collect()
}

/// The pixels the browser decoded from the panel's photo: drawn at its natural size on a
/// canvas and read back as RGBA (the photo comes from the page's own origin, so the canvas may
/// be read).
fn browser_photo_pixels(page: &Page, reader: &str) -> (u32, u32, Vec<u8>) {
    let got = page.eval(&in_panel(
        reader,
        r#"
        const img = panel.querySelector('img.photo');
        const canvas = document.createElement('canvas');
        canvas.width = img.naturalWidth;
        canvas.height = img.naturalHeight;
        const context = canvas.getContext('2d', { willReadFrequently: true });
        context.drawImage(img, 0, 0);
        const rgba = context.getImageData(0, 0, canvas.width, canvas.height).data;
        let binary = '';
        for (let i = 0; i < rgba.length; i += 0x8000) {
          binary += String.fromCharCode.apply(null, rgba.subarray(i, i + 0x8000));
        }
        return { width: img.naturalWidth, height: img.naturalHeight, rgba: btoa(binary) };"#,
    ));
    let side = |name: &str| u32::try_from(got[name].as_u64().expect("a side")).expect("a side");
    let rgba = base64ct::Base64::decode_vec(got["rgba"].as_str().expect("base64 pixels"))
        .expect("the pixels' base64");
    (side("width"), side("height"), rgba)
}

/// Clicks "match" in the panel of `reader` with `record` in its file input, and returns the
/// result the page shows (`data-result`) once the card has answered.
fn match_finger(page: &Page, reader: &str, record: &str) -> String {
    page.set_files(
        &panel_selector(reader, "input.finger-file[type=file]"),
        &[Path::new(record)],
    );
    page.click(&panel_selector(reader, "button.match"));
    let result = in_panel(
        reader,
        "const r = panel.querySelector('.match-result'); \
         return r && r.getAttribute('data-result');",
    );
    page.wait_for(
        &format!("['match', 'no-match', 'blocked', 'error'].includes({result})"),
        SHOWN_WITHIN,
        &format!("the card's answer to {record}"),
    );
    page.eval(&result).as_str().expect("a result").to_string()
}

/// A genuine card: the verdict, the holder's data as the card holds them, the photo's exact
/// pixels, every check passing, and fingerprint matches on the card (the wrong finger, then
/// the holder's). Then the card is taken out: the panel is empty again and no holder data
/// remain in the page.
#[test]
fn a_genuine_card_shows_its_holder_and_photo_matches_a_finger_and_clears_when_taken_out() {
    let (mut card, _) = personalized_card();
    let reader = card.reader_name().to_string();

    // What the card holds, as `melli read` says.
    let read = melli(&["read", "--reader", &reader, "--json"]);
    assert_eq!(read.code, 0, "{read:?}");
    let identity = read.json()["identity"].clone();
    let name_fa = format!(
        "{} {}",
        identity["given_name_fa"].as_str().expect("given_name_fa"),
        identity["surname_fa"].as_str().expect("surname_fa")
    );
    let national_code = identity["national_code"].as_str().expect("national code");
    let export = card.dir().join("export");
    let out = melli(&["read", "--reader", &reader, "--out", path_str(&export)]);
    assert_eq!(out.code, 0, "{out:?}");
    let jpeg = std::fs::read(export.join("photo.jpg")).expect("photo.jpg");
    let decoded = image::load_from_memory_with_format(&jpeg, image::ImageFormat::Jpeg)
        .expect("the card's JPEG decodes")
        .to_rgba8();

    let (_desk, page, shown) = desk_showing(&card, "genuine");
    assert_eq!(shown["banner"], "GENUINE", "{shown}");
    assert_eq!(shown["name_fa"], name_fa.as_str(), "{shown}");
    assert_eq!(shown["name_fa_dir"], "rtl", "{shown}");
    assert_eq!(shown["name_fa_lang"], "fa", "{shown}");
    assert_eq!(shown["national_code"], national_code, "{shown}");
    assert_eq!(shown["serial"], card.serial(), "{shown}");
    let passed = checks_with(&shown, "pass");
    assert_eq!(
        passed.len(),
        shown["checks"].as_array().map_or(0, Vec::len),
        "not every check passed: {shown}"
    );
    for name in [
        "security object signature",
        "DG2 photo",
        "chip authentication",
    ] {
        assert!(
            passed.iter().any(|p| p == name),
            "no passed {name:?}: {shown}"
        );
    }

    page.wait_for(
        &in_panel(
            &reader,
            "const img = panel.querySelector('img.photo'); \
             return img && img.complete && img.naturalWidth > 0;",
        ),
        SHOWN_WITHIN,
        "the photo to load",
    );
    let (width, height, rgba) = browser_photo_pixels(&page, &reader);
    assert_eq!(
        (width, height),
        decoded.dimensions(),
        "the photo's natural size"
    );
    let differing = rgba
        .iter()
        .zip(decoded.as_raw())
        .filter(|(a, b)| a != b)
        .count();
    assert_eq!(
        Sha256::digest(&rgba),
        Sha256::digest(decoded.as_raw()),
        "the browser's pixels are not the card's JPEG as `image` decodes it: {} and {} bytes, \
         {differing} differ",
        rgba.len(),
        decoded.as_raw().len()
    );

    // The wrong finger first: the page shows what the card said, with the tries left.
    assert_eq!(
        match_finger(&page, &reader, "fixtures/fingerprints/finger-2.fmr"),
        "no-match"
    );
    assert_eq!(
        page.eval(&in_panel(
            &reader,
            "return panel.querySelector('.match-result').getAttribute('data-tries-left');"
        )),
        "4"
    );
    assert_eq!(
        match_finger(&page, &reader, "fixtures/fingerprints/finger-1-live.fmr"),
        "match",
        "{}",
        page.text()
    );
    page.screenshot(&screenshot_path("desk-genuine.png"));

    let photo_url = page.eval(&in_panel(
        &reader,
        "return panel.querySelector('img.photo').src;",
    ));
    let photo_url = photo_url.as_str().expect("the photo's URL").to_string();
    assert_eq!(http_status(&photo_url), 200, "{photo_url}");

    // Taken out: nothing of the holder stays in the page.
    card.kill();
    wait_for_state(&page, &reader, "empty");
    let left = page.eval(&in_panel(
        &reader,
        r#"return {
          message: panel.querySelector('.message') && panel.querySelector('.message').textContent,
          html: document.documentElement.outerHTML,
          images: [...document.querySelectorAll('img')].map(i => i.getAttribute('src')),
          holder: panel.querySelectorAll('.name-fa, .national-code, .photo, .banner').length,
        };"#,
    ));
    assert_eq!(left["message"], "Insert a card", "{left}");
    assert_eq!(left["holder"], 0, "{left}");
    let html = left["html"].as_str().expect("the page's HTML");
    for (what, value) in [
        ("national code", national_code),
        (
            "Persian given name",
            identity["given_name_fa"].as_str().expect("name"),
        ),
        (
            "Persian surname",
            identity["surname_fa"].as_str().expect("name"),
        ),
        (
            "Latin surname",
            identity["surname_latin"].as_str().expect("name"),
        ),
        ("card serial", card.serial()),
    ] {
        assert!(
            !html.contains(value),
            "the {what} is still in the page:\n{html}"
        );
    }
    assert!(
        left["images"]
            .as_array()
            .expect("images")
            .iter()
            .all(serde_json::Value::is_null),
        "an image still has a source: {left}"
    );
    // And the server no longer hands out the photo.
    assert_eq!(http_status(&photo_url), 404, "{photo_url}");
}

/// A card whose identity group was changed after the issuer signed it (its state file edited,
/// which only the Rust card has): NOT GENUINE, naming the failed checks — the identity group's
/// among them — exactly as the list of checks marks them.
#[test]
fn a_tampered_card_is_shown_not_genuine_naming_the_failed_check() {
    let (mut card, _) = personalized_card();
    let state = read_state(&card);
    tamper_file(&mut card, state, "0101");

    let (_desk, page, shown) = desk_showing(&card, "not-genuine");
    let failed = checks_with(&shown, "fail");
    assert!(
        failed.iter().any(|f| f == "DG1 identity"),
        "DG1 identity did not fail: {shown}"
    );
    // The banner names every check that did not pass: the failed ones and those that could
    // not be decided (the bindings rest on chip authentication, which failed).
    let not_passed: Vec<String> = shown["checks"]
        .as_array()
        .expect("the checks")
        .iter()
        .filter(|c| c["result"] != "pass")
        .map(|c| c["name"].as_str().expect("a check name").to_string())
        .collect();
    assert!(
        checks_with(&shown, "unknown")
            .iter()
            .any(|u| u == "holder certificate binding"),
        "the binding is not left undecided: {shown}"
    );
    assert_eq!(
        shown["banner"],
        format!("NOT GENUINE: {}", not_passed.join(", ")),
        "{shown}"
    );
    // The rest of the card is still sound: the security object's signature holds.
    assert!(
        checks_with(&shown, "pass")
            .iter()
            .any(|p| p == "security object signature"),
        "{shown}"
    );
    page.screenshot(&screenshot_path("desk-tampered.png"));
}

/// What the card in `reader` holds, as `melli read --json` says (its "identity").
fn identity_of(reader: &str) -> serde_json::Value {
    let read = melli(&["read", "--reader", reader, "--json"]);
    assert_eq!(read.code, 0, "{read:?}");
    read.json()["identity"].clone()
}

/// Two readers, a card in each, one desk watching both (`--readers A,B`): a panel per reader,
/// each GENUINE with its own card's holder. Taking one card out empties its panel alone: the
/// other keeps its holder, not even rebuilt.
#[test]
fn two_readers_show_a_panel_each_and_a_card_taken_out_clears_only_its_own() {
    let (mut first, _) = personalized_card();
    let second = VirtualCard::for_issuer(test_issuer());
    let out = personalize_with(&second, "fixtures/records/valid-2.json", test_issuer());
    assert_eq!(out.code, 0, "{out:?}\ncard log:\n{}", second.log());
    let readers = [first.reader_name(), second.reader_name()].map(str::to_string);
    let serials = [first.serial(), second.serial()].map(str::to_string);
    let codes = readers.each_ref().map(|reader| {
        identity_of(reader)["national_code"]
            .as_str()
            .expect("national code")
            .to_string()
    });
    assert_ne!(codes[0], codes[1], "the two holders must differ");

    // The names are comma-separated, each with spaces in it ("melli-test-PORT 00 01").
    let desk = DeskScreen::start(
        first.dir(),
        &root_pem(test_issuer()),
        "Test desk",
        &readers.join(","),
    );
    let page = Page::open(desk.url());
    for reader in &readers {
        wait_for_state(&page, reader, "done");
    }
    let mut panels: Vec<String> = serde_json::from_value(page.eval(
        "[...document.querySelectorAll('#panels > section.panel')].map(p => p.dataset.reader)",
    ))
    .expect("the panels' readers");
    panels.sort();
    let mut expected = readers.to_vec();
    expected.sort();
    assert_eq!(panels, expected, "one panel per reader, and no other");
    for ((reader, code), serial) in readers.iter().zip(&codes).zip(&serials) {
        let shown = done_panel(&page, reader);
        assert_eq!(
            shown["verdict"],
            "genuine",
            "{reader}: {shown}\ndesk log:\n{}",
            desk.log()
        );
        assert_eq!(shown["banner"], "GENUINE", "{reader}: {shown}");
        assert_eq!(shown["national_code"], code.as_str(), "{reader}: {shown}");
        assert_eq!(shown["serial"], serial.as_str(), "{reader}: {shown}");
    }
    page.screenshot(&screenshot_path("desk-two-readers.png"));

    // The second panel's banner node, marked (a property, not in the DOM): a panel rebuilt
    // would have a new one.
    page.eval(&in_panel(
        &readers[1],
        "panel.querySelector('.banner').keptByTest = true; return true;",
    ));
    first.kill();
    wait_for_state(&page, &readers[0], "empty");
    let kept = done_panel(&page, &readers[1]);
    assert_eq!(kept["verdict"], "genuine", "{kept}");
    assert_eq!(kept["national_code"], codes[1].as_str(), "{kept}");
    assert_eq!(
        page.eval(&in_panel(
            &readers[1],
            "return panel.dataset.state === 'done' \
             && panel.querySelector('.banner').keptByTest === true;"
        )),
        true,
        "the other card's panel was rebuilt: {}",
        page.text()
    );
    let html = page.eval("document.documentElement.outerHTML");
    let html = html.as_str().expect("the page's HTML");
    assert!(
        !html.contains(codes[0].as_str()) && !html.contains(serials[0].as_str()),
        "the card taken out is still in the page:\n{html}"
    );
    assert!(html.contains(codes[1].as_str()), "{html}");
}

/// "now" in UTC as `YYYY-MM-DD HH:MM:SS` (`date -u`): strings of this form sort as the times do.
fn utc_now() -> String {
    let out = run(
        Command::new("date").args(["-u", "+%Y-%m-%d %H:%M:%S"]),
        Duration::from_secs(10),
    );
    assert_eq!(out.code, 0, "{out:?}");
    out.stdout.trim().to_string()
}

/// The verification record of a genuine card, printed as the desk prints it: the panel's
/// "Print verification record" button, with the browser's print dialog (which a headless
/// browser cannot complete) replaced by a note that printing was asked for, then the page
/// printed to PDF by the browser. Poppler's `pdftotext` finds on the paper the time of the
/// check, the desk's name, the reader, the holder's names and national code, the verdict and
/// the checks — and none of the page's controls, nothing of a fingerprint, no PIN, and nothing
/// of the card in the desk's other reader.
#[test]
fn the_printed_verification_record_has_the_check_and_nothing_else() {
    let (card, mailer) = personalized_card();
    let other = VirtualCard::for_issuer(test_issuer());
    let out = personalize_with(&other, "fixtures/records/valid-2.json", test_issuer());
    assert_eq!(out.code, 0, "{out:?}\ncard log:\n{}", other.log());
    let reader = card.reader_name().to_string();
    let identity = identity_of(&reader);
    let other_identity = identity_of(other.reader_name());
    let desk_name = "Post office 12, desk 3";

    let before = utc_now();
    let desk = DeskScreen::start(
        card.dir(),
        &root_pem(test_issuer()),
        desk_name,
        &format!("{reader},{}", other.reader_name()),
    );
    let page = Page::open(desk.url());
    wait_for_state(&page, &reader, "done");
    let after = utc_now();
    wait_for_state(&page, other.reader_name(), "done");
    let shown = done_panel(&page, &reader);
    assert_eq!(
        shown["verdict"],
        "genuine",
        "{shown}\ndesk log:\n{}",
        desk.log()
    );

    // "1404/07/15 (2025-10-07) 09:41:05 UTC": the Gregorian date and the time lie between the
    // desk's start and the panel's showing.
    let time = page.eval(&in_panel(
        &reader,
        "return panel.querySelector('.record-time').textContent;",
    ));
    let time = time.as_str().expect("the record's time").to_string();
    let checked_at = time
        .split_once(" (")
        .and_then(|(_, rest)| rest.strip_suffix(" UTC"))
        .map(|rest| rest.replace(") ", " "))
        .unwrap_or_else(|| panic!("not DATE (YYYY-MM-DD) HH:MM:SS UTC: {time:?}"));
    assert!(
        before <= checked_at && checked_at <= after,
        "the record's time {time:?} is not between {before} and {after}"
    );

    // The button, as the staff member clicks it; `window.print` is the browser's dialog.
    page.eval(
        "(() => { window.print = () => { document.body.dataset.printAsked = \
         String(Number(document.body.dataset.printAsked || 0) + 1); }; })()",
    );
    page.click(&panel_selector(&reader, "button.print"));
    page.wait_for(
        "document.body.dataset.printAsked === '1'",
        SHOWN_WITHIN,
        "the button to ask for printing",
    );
    let pdf = card.dir().join("verification-record.pdf");
    page.print_to_pdf(&pdf);
    let pages = run(
        Command::new("pdfinfo").arg(path_str(&pdf)),
        Duration::from_secs(30),
    );
    assert_eq!(pages.code, 0, "{pages:?}");
    assert!(
        pages
            .stdout
            .lines()
            .any(|l| l.split_whitespace().eq(["Pages:", "1"])),
        "the record is not one page: {pages:?}"
    );
    let text = run(
        Command::new("pdftotext").args(["-enc", "UTF-8", path_str(&pdf), "-"]),
        Duration::from_secs(30),
    );
    assert_eq!(text.code, 0, "{text:?}");
    let text = text.stdout;

    let field = |name: &str| identity[name].as_str().expect(name).to_string();
    let name_fa = format!("{} {}", field("given_name_fa"), field("surname_fa"));
    let name_latin = format!("{} {}", field("given_name_latin"), field("surname_latin"));
    let mut wanted = vec![
        ("date and time", time.clone()),
        ("desk name", desk_name.to_string()),
        ("reader", reader.clone()),
        ("Persian name", name_fa),
        ("Latin name", name_latin),
        ("national code", field("national_code")),
        ("card serial", card.serial().to_string()),
        ("verdict", "GENUINE".to_string()),
    ];
    for check in shown["checks"].as_array().expect("the checks") {
        let name = check["name"].as_str().expect("a check name");
        wanted.push(("check", name.to_string()));
    }
    for (what, value) in &wanted {
        assert!(
            text.contains(value.as_str()),
            "the printed record has not the {what} {value:?}:\n{text}"
        );
    }
    assert!(!text.contains("NOT GENUINE"), "{text}");
    // The other panel stays off the paper: the button chose this one.
    for (what, value) in [
        (
            "national code",
            other_identity["national_code"]
                .as_str()
                .expect("national code"),
        ),
        (
            "Latin surname",
            other_identity["surname_latin"].as_str().expect("surname"),
        ),
        ("card serial", other.serial()),
        ("reader", other.reader_name()),
    ] {
        assert!(
            !text.contains(value),
            "the other card's {what} {value:?} is on the printed record:\n{text}"
        );
    }
    for unwanted in [
        "Match on card",
        "Choose File",
        "No file chosen",
        "Print verification record",
        "Live fingerprint",
        "19794",
        "FMR",
        "PIN",
        "PUK",
    ] {
        assert!(
            !text.contains(unwanted),
            "the printed record has {unwanted:?}:\n{text}"
        );
    }
    // The card's own PIN and PUK (the page never has them) as words of the text.
    for secret in [&mailer.pin, &mailer.puk] {
        assert!(
            !text.split_whitespace().any(|w| w == secret),
            "a secret of the card is on the printed record"
        );
    }
}

/// The page, its events and photos are the token's: without it, or with another, 403.
#[test]
fn the_page_is_refused_without_its_token() {
    let card = VirtualCard::new();
    let desk = DeskScreen::start(
        card.dir(),
        &root_pem(test_issuer()),
        "Test desk",
        card.reader_name(),
    );
    let url = desk.url();
    assert_eq!(http_status(url), 200, "{url}");
    let (base, token) = url
        .trim_end_matches('/')
        .rsplit_once("/t/")
        .unwrap_or_else(|| panic!("no /t/TOKEN/ in {url}"));
    let mut other = token.to_string().into_bytes();
    // Another token of the same length and alphabet.
    other[0] = if other[0] == b'0' { b'1' } else { b'0' };
    let other = String::from_utf8(other).expect("ASCII");
    for refused in [
        format!("{base}/"),
        format!("{base}/t/"),
        format!("{base}/t/{other}/"),
        format!("{base}/t/{other}/events"),
        format!("{base}/t/{}/", &token[..token.len() - 1]),
    ] {
        assert_eq!(http_status(&refused), 403, "{refused}");
    }
}

/// The status of a plain GET of `url`.
fn http_status(url: &str) -> u16 {
    let agent = ureq::Agent::new_with_config(
        ureq::config::Config::builder()
            .http_status_as_error(false)
            .timeout_global(Some(Duration::from_secs(20)))
            .build(),
    );
    agent
        .get(url)
        .call()
        .unwrap_or_else(|e| panic!("GET {url}: {e}"))
        .status()
        .as_u16()
}

/// The page driver itself, on a static page of its own: evaluation, waiting (and its failure
/// message), a file input, a click, a screenshot, and no process left behind.
#[test]
fn the_page_driver_drives_a_static_page() {
    let dir = tempfile::tempdir().expect("a temp dir");
    let html = dir.path().join("page.html");
    std::fs::write(
        &html,
        r#"<!doctype html><meta charset="utf-8"><title>driver</title>
<body style="background:#fff">
<p id="said">nothing yet</p>
<input class="file" type="file">
<button class="go" style="width:200px;height:80px">go</button>
<script>
document.querySelector('.file').addEventListener('change', async (e) => {
  const bytes = new Uint8Array(await e.target.files[0].arrayBuffer());
  document.body.dataset.picked = e.target.files[0].name + ':' + bytes.length + ':' + bytes[0];
});
document.querySelector('.go').addEventListener('click', () => {
  setTimeout(() => { document.getElementById('said').textContent = 'clicked'; }, 300);
});
</script>"#,
    )
    .expect("write the page");
    let url = format!("file://{}", path_str(&html));
    let page = Page::open(&url);

    assert_eq!(
        page.eval("({a: [1, 'two'], b: document.title})"),
        serde_json::json!({"a": [1, "two"], "b": "driver"})
    );
    assert_eq!(page.eval("undefined"), serde_json::Value::Null);
    let thrown = catch_unwind(AssertUnwindSafe(|| page.eval("nope.nope")));
    let message = panic_text(thrown.expect_err("a throwing expression must fail"));
    assert!(message.contains("nope is not defined"), "{message}");

    // A condition that never holds fails, naming it and quoting the page.
    let waited = catch_unwind(AssertUnwindSafe(|| {
        page.wait_for(
            "document.body.dataset.never",
            Duration::from_millis(300),
            "never",
        )
    }));
    let message = panic_text(waited.expect_err("waiting for what never comes must fail"));
    assert!(
        message.contains("dataset.never") && message.contains("nothing yet"),
        "{message}"
    );

    let picked = dir.path().join("picked.bin");
    std::fs::write(&picked, [7u8, 1, 2, 3, 4]).expect("write the file to pick");
    page.set_files("input.file", &[&picked]);
    page.wait_for(
        "document.body.dataset.picked",
        Duration::from_secs(10),
        "the picked file",
    );
    assert_eq!(page.eval("document.body.dataset.picked"), "picked.bin:5:7");

    assert_eq!(
        page.eval("document.getElementById('said').textContent"),
        "nothing yet"
    );
    page.click("button.go");
    page.wait_for(
        "document.getElementById('said').textContent === 'clicked'",
        Duration::from_secs(10),
        "the click's effect",
    );

    let shot = dir.path().join("shots/driver.png");
    page.screenshot(&shot);
    let image = image::open(&shot).expect("the screenshot is an image");
    assert_eq!(image.width(), 1280, "the window's width");
    assert!(image.height() >= 100, "{}", image.height());

    let profile = page.profile().to_path_buf();
    assert!(profile_processes(&profile) > 0, "no browser process found");
    drop(page);
    assert_eq!(
        profile_processes(&profile),
        0,
        "browser processes left behind"
    );
}

/// How many processes name `profile` on their command line.
fn profile_processes(profile: &Path) -> usize {
    let out = Command::new("pgrep")
        .args(["-f", path_str(profile)])
        .output()
        .expect("pgrep");
    String::from_utf8_lossy(&out.stdout).lines().count()
}

fn panic_text(payload: Box<dyn std::any::Any + Send>) -> String {
    payload
        .downcast_ref::<String>()
        .cloned()
        .or_else(|| payload.downcast_ref::<&str>().map(|s| s.to_string()))
        .unwrap_or_default()
}
