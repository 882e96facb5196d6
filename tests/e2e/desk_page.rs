//! The desk's web page (`melli desk`, issue 19) in a real headless Chromium, driven through
//! the DevTools protocol (`tests/common/devtools.rs`).

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::Path;
use std::process::Command;
use std::time::Duration;

use crate::common::devtools::Page;
use crate::common::path_str;

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
