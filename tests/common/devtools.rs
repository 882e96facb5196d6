//! A page in Debian's headless Chromium, driven through the DevTools protocol (the
//! `headless_chrome` crate): open a URL, wait for a condition in the page, evaluate JavaScript,
//! set a file input's files, click, take a screenshot, print to PDF. Unlike [`super::chromium`] (a browser
//! that loads one page and prints its DOM), this browser stays up while the test watches the
//! page change.
//!
//! Each [`Page`] has a browser of its own with a profile in a temporary directory; dropping it
//! closes the browser and ends every process of that profile.

use std::ffi::OsStr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use base64ct::Encoding as _;
use headless_chrome::protocol::cdp::{Page as Cdp, Runtime, DOM};
use headless_chrome::{Browser, LaunchOptions, Tab};

use super::chromium::end_profile_processes;
use super::process;

/// Debian's Chromium (a wrapper script that execs the browser).
pub const CHROMIUM: &str = "/usr/bin/chromium";

/// How much of the page's text a failure message quotes.
const TEXT_IN_FAILURES: usize = 4_000;

pub struct Page {
    // Declared before `profile`: the browser is closed before its profile directory goes.
    browser: Option<Browser>,
    tab: Arc<Tab>,
    profile: tempfile::TempDir,
}

impl Page {
    /// Starts a headless browser with a fresh profile and opens `url` in it; returns once the
    /// page has loaded (its scripts may still be working: see [`Page::wait_for`]).
    pub fn open(url: &str) -> Page {
        let profile = tempfile::Builder::new()
            .prefix("devtools-")
            .tempdir_in(process().work_dir())
            .expect("a profile directory for the browser");
        let headless = OsStr::new("--headless=new");
        let options = LaunchOptions::default_builder()
            .path(Some(PathBuf::from(CHROMIUM)))
            .user_data_dir(Some(profile.path().to_path_buf()))
            // `--headless=new` (the browser's own headless mode, as a window would render)
            // instead of the crate's plain `--headless`.
            .headless(false)
            .args(vec![headless])
            // Root has no user namespace sandbox here, and Chromium refuses to run sandboxed
            // as root.
            .sandbox(!is_root())
            .window_size(Some((1280, 1000)))
            // The test may leave the browser quiet for a while (restarting a card).
            .idle_browser_timeout(Duration::from_secs(600))
            .build()
            .expect("launch options");
        let browser = Browser::new(options)
            .unwrap_or_else(|e| panic!("cannot start {CHROMIUM} over DevTools: {e:#}"));
        let tab = browser.new_tab().expect("a tab");
        tab.set_default_timeout(Duration::from_secs(30));
        let page = Page {
            browser: Some(browser),
            tab,
            profile,
        };
        page.tab
            .navigate_to(url)
            .and_then(|t| t.wait_until_navigated())
            .unwrap_or_else(|e| panic!("cannot open {url}: {e:#}"));
        page
    }

    /// The browser's profile directory (every process of the browser names it).
    pub fn profile(&self) -> &Path {
        self.profile.path()
    }

    /// Evaluates `expression` in the page (awaited when it is a promise) and returns its
    /// value, passed through JSON. Panics, with the page's text, when it throws.
    pub fn eval(&self, expression: &str) -> serde_json::Value {
        self.try_eval(expression)
            .unwrap_or_else(|e| panic!("{e}\npage text:\n{}", self.text()))
    }

    fn try_eval(&self, expression: &str) -> Result<serde_json::Value, String> {
        // JSON.stringify in the page, so that every value (arrays, objects) comes back whole;
        // `undefined` comes back as null.
        let wrapped = format!(
            "(async () => {{ const v = await ({expression}); \
             return v === undefined ? 'null' : JSON.stringify(v); }})()"
        );
        let result = self
            .tab
            .call_method(Runtime::Evaluate {
                expression: wrapped,
                return_by_value: Some(true),
                await_promise: Some(true),
                generate_preview: None,
                silent: Some(false),
                include_command_line_api: Some(false),
                user_gesture: Some(false),
                object_group: None,
                context_id: None,
                throw_on_side_effect: None,
                timeout: None,
                disable_breaks: None,
                repl_mode: None,
                allow_unsafe_eval_blocked_by_csp: None,
                unique_context_id: None,
                serialization_options: None,
            })
            .map_err(|e| format!("evaluating {expression:?}: {e:#}"))?;
        if let Some(exception) = result.exception_details {
            let what = exception
                .exception
                .and_then(|e| e.description)
                .unwrap_or(exception.text);
            return Err(format!("{expression:?} threw: {what}"));
        }
        let json = result
            .result
            .value
            .and_then(|v| v.as_str().map(str::to_string))
            .ok_or_else(|| format!("{expression:?} gave no JSON"))?;
        serde_json::from_str(&json).map_err(|e| format!("{expression:?} gave bad JSON: {e}"))
    }

    /// The page's visible text (`document.body.innerText`), cut to a few thousand characters:
    /// for failure messages.
    pub fn text(&self) -> String {
        match self.try_eval("document.body ? document.body.innerText : '(no body)'") {
            Ok(serde_json::Value::String(text)) => text.chars().take(TEXT_IN_FAILURES).collect(),
            Ok(other) => other.to_string(),
            Err(e) => format!("(cannot read the page's text: {e})"),
        }
    }

    /// Polls `condition` (a JavaScript expression) every 100 ms until it is true; panics after
    /// `timeout` with the condition, `what` and the page's text. An expression that throws
    /// (an element not there yet) counts as false.
    pub fn wait_for(&self, condition: &str, timeout: Duration, what: &str) {
        let start = Instant::now();
        loop {
            let last = match self.try_eval(&format!("!!({condition})")) {
                Ok(serde_json::Value::Bool(true)) => return,
                Ok(other) => other.to_string(),
                Err(e) => e,
            };
            if start.elapsed() > timeout {
                panic!(
                    "waited {timeout:?} for {what} ({condition}); last: {last}\npage text:\n{}",
                    self.text()
                );
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// Sets the files of the `<input type=file>` that `selector` finds, as a person picking
    /// them in the file chooser would (`DOM.setFileInputFiles`; the input fires its events).
    pub fn set_files(&self, selector: &str, files: &[&Path]) {
        let input = self
            .tab
            .find_element(selector)
            .unwrap_or_else(|e| panic!("no {selector:?}: {e:#}\npage text:\n{}", self.text()));
        let files = files
            .iter()
            .map(|f| {
                std::fs::canonicalize(f)
                    .unwrap_or_else(|e| panic!("{}: {e}", f.display()))
                    .to_str()
                    .expect("UTF-8 paths")
                    .to_string()
            })
            .collect();
        self.tab
            .call_method(DOM::SetFileInputFiles {
                files,
                node_id: None,
                backend_node_id: Some(input.backend_node_id),
                object_id: None,
            })
            .unwrap_or_else(|e| panic!("setting the files of {selector:?}: {e:#}"));
    }

    /// Clicks the middle of the element that `selector` finds with the mouse (scrolled into
    /// view first).
    pub fn click(&self, selector: &str) {
        self.tab
            .find_element(selector)
            .and_then(|e| e.click().map(|_| ()))
            .unwrap_or_else(|e| {
                panic!(
                    "cannot click {selector:?}: {e:#}\npage text:\n{}",
                    self.text()
                )
            });
    }

    /// Writes a PNG screenshot of the whole page (beyond the window's height) to `path`,
    /// making its directory.
    pub fn screenshot(&self, path: &Path) {
        let shot = self
            .tab
            .call_method(Cdp::CaptureScreenshot {
                format: Some(Cdp::CaptureScreenshotFormatOption::Png),
                quality: None,
                clip: None,
                from_surface: Some(true),
                capture_beyond_viewport: Some(true),
                optimize_for_speed: None,
            })
            .unwrap_or_else(|e| panic!("screenshot: {e:#}"));
        let png = base64ct::Base64::decode_vec(&shot.data).expect("the screenshot's base64");
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir).expect("the screenshot's directory");
        }
        std::fs::write(path, png).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    }

    /// Prints the page as the browser's print dialog would — print media, the browser's
    /// default paper and margins, no header or footer (`Page.printToPDF`) — and writes the PDF
    /// to `path`, making its directory.
    pub fn print_to_pdf(&self, path: &Path) {
        let pdf = self
            .tab
            .print_to_pdf(None)
            .unwrap_or_else(|e| panic!("printing to PDF: {e:#}\npage text:\n{}", self.text()));
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir).expect("the PDF's directory");
        }
        std::fs::write(path, pdf).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    }
}

impl Drop for Page {
    fn drop(&mut self) {
        // The crate kills and waits for the browser's main process; its helpers (renderer,
        // GPU, zygotes) may outlive it, and they all name the profile on their command line.
        drop(self.browser.take());
        end_profile_processes(self.profile.path());
    }
}

fn is_root() -> bool {
    use std::os::unix::fs::MetadataExt;
    // /proc/self belongs to the process's effective user.
    std::fs::metadata("/proc/self").is_ok_and(|m| m.uid() == 0)
}
