//! Headless Chromium as the citizen's browser (Debian's `chromium`):
//! - its NSS database in a home of its own, with the melli PKCS#11 module registered by NSS's
//!   `modutil` and the test server's CA trusted by `certutil`, as the README tells a citizen;
//! - a managed policy (`AutoSelectCertificateForUrls`) that picks the client certificate for
//!   one site, since a headless browser shows no certificate chooser;
//! - the PIN asked by the module's own dialog (`MELLI_PINENTRY`), since it shows no PIN prompt
//!   either: the test's pinentry stands in for the holder.
//!
//! Chromium reads policies only from `/etc/chromium/policies/managed` (the tests run as root,
//! as pcscd needs), and of one policy set in two files it takes one: so the tests share one
//! file, `melli-e2e.json`, that picks certificates of the test issuers' signing CA for
//! `https://localhost` (any port), written while a browser of this process needs it and
//! removed when the last one is dropped.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Mutex;
use std::time::Duration;

use super::pkcs11::nss_add_module;
use super::{path_str, run, Output};

const POLICY_DIR: &str = "/etc/chromium/policies/managed";
const POLICY_FILE: &str = "melli-e2e.json";
/// The test servers' origin (nginx's certificate names localhost); any port.
pub const ORIGIN: &str = "https://localhost";

/// Browsers of this process that use the policy file.
static POLICY_USERS: Mutex<usize> = Mutex::new(0);

pub struct Browser {
    home: PathBuf,
    reader: String,
    pinentry: PathBuf,
    uses_policy: bool,
}

impl Browser {
    /// A browser whose home is `dir/browser`, with the module registered in its NSS database,
    /// seeing only `reader`, asking PINs through `pinentry`.
    pub fn new(dir: &Path, reader: &str, pinentry: &Path) -> Browser {
        let home = dir.join("browser");
        let nssdb = home.join(".pki/nssdb");
        fs::create_dir_all(&nssdb).expect("make the browser's NSS database directory");
        let db = format!("sql:{}", path_str(&nssdb));
        tool("certutil", &["-N", "-d", &db, "--empty-password"]);
        let added = nss_add_module(&db, reader);
        assert_eq!(added.code, 0, "modutil -add: {added:?}");
        Browser {
            home,
            reader: reader.to_string(),
            pinentry: pinentry.to_path_buf(),
            uses_policy: false,
        }
    }

    fn db(&self) -> String {
        format!("sql:{}", path_str(&self.home.join(".pki/nssdb")))
    }

    /// The modules of the browser's NSS database, as `modutil -list` shows them.
    pub fn modules(&self) -> String {
        tool("modutil", &["-dbdir", &self.db(), "-list"]).stdout
    }

    /// Trusts `ca` (PEM) for web servers.
    pub fn trust_server_ca(&self, ca: &Path) {
        tool(
            "certutil",
            &[
                "-A",
                "-d",
                &self.db(),
                "-n",
                "test server CA",
                "-t",
                "C,,",
                "-i",
                path_str(ca),
            ],
        );
    }

    /// The policy that picks the card's certificate for [`ORIGIN`] on its own (what a
    /// citizen would otherwise click in the certificate chooser a headless browser lacks).
    pub fn auto_select_certificate(&mut self) {
        let rule = serde_json::json!({
            "pattern": ORIGIN,
            "filter": { "ISSUER": { "CN": "melli Signing CA" } },
        })
        .to_string();
        let policy = serde_json::json!({ "AutoSelectCertificateForUrls": [rule] });
        let mut users = POLICY_USERS.lock().unwrap_or_else(|e| e.into_inner());
        if *users == 0 {
            fs::create_dir_all(POLICY_DIR).expect("make Chromium's managed policy directory");
            fs::write(Path::new(POLICY_DIR).join(POLICY_FILE), policy.to_string())
                .expect("write the browser policy");
        }
        *users += 1;
        self.uses_policy = true;
    }

    /// Loads `url` headless and returns the page's DOM (`--dump-dom`) as stdout. Chromium's
    /// helper processes that outlive its main one (and may still hold the module's card
    /// session) are ended before this returns.
    pub fn page(&self, url: &str) -> Output {
        let profile = self.home.join("profile");
        let out = run(
            Command::new("chromium")
                .env("HOME", &self.home)
                .env("MELLI_PKCS11_READERS", &self.reader)
                .env("MELLI_PINENTRY", &self.pinentry)
                .args([
                    "--headless",
                    // Root (the tests run as root) has no user namespace sandbox here.
                    "--no-sandbox",
                    "--disable-gpu",
                    "--no-first-run",
                    &format!("--user-data-dir={}", path_str(&profile)),
                    "--dump-dom",
                    url,
                ]),
            Duration::from_secs(90),
        );
        end_profile_processes(&profile);
        out
    }
}

impl Drop for Browser {
    fn drop(&mut self) {
        if self.uses_policy {
            let mut users = POLICY_USERS.lock().unwrap_or_else(|e| e.into_inner());
            *users -= 1;
            if *users == 0 {
                let _ = fs::remove_file(Path::new(POLICY_DIR).join(POLICY_FILE));
            }
        }
    }
}

/// Kills every process of the browser whose profile is `profile`: each of them names its
/// profile directory on its command line.
pub fn end_profile_processes(profile: &Path) {
    let _ = Command::new("pkill")
        .args(["-KILL", "-f", path_str(profile)])
        .status();
}

fn tool(program: &str, args: &[&str]) -> Output {
    let out = run(Command::new(program).args(args), Duration::from_secs(30));
    assert_eq!(out.code, 0, "{program} {args:?}: {out:?}");
    out
}
