//! Issuers for the tests, made by `melli issuer init`, their keys in this process's own
//! SoftHSM2 (configuration and tokens in its work directory).

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;
use std::time::Duration;

use melli_testkit::process::next_id;

use super::{melli, path_str, process, run, MELLI};

/// The user PIN of every test token (SoftHSM2, in this process's work directory).
pub const TOKEN_PIN: &str = "melli-e2e-token-pin";
/// The security officer's PIN of every test token.
const TOKEN_SO_PIN: &str = "melli-e2e-so-pin";
/// Debian's SoftHSM2 PKCS#11 module.
pub const SOFTHSM_MODULE: &str = "/usr/lib/softhsm/libsofthsm2.so";

/// Sets up the issuers' HSM in this process's work directory `dir`, once; called by
/// [`super::process`].
pub(super) fn softhsm_setup(dir: &Path) {
    static SOFTHSM: OnceLock<()> = OnceLock::new();
    SOFTHSM.get_or_init(|| {
        // The issuers' HSM: a SoftHSM2 of this process's own (configuration and tokens in its
        // work directory), found by every melli it starts — and by melli's library in this
        // process — through SOFTHSM2_CONF; the tokens' user PIN through MELLI_ISSUER_PIN and
        // MELLI_ROOT_PIN. Set before anything loads the module.
        let conf = melli::pki::token::softhsm_config(&dir.join("softhsm"))
            .expect("make this process's SoftHSM2");
        std::env::set_var("SOFTHSM2_CONF", &conf);
        std::env::set_var("MELLI_ISSUER_PIN", TOKEN_PIN);
        std::env::set_var("MELLI_ROOT_PIN", TOKEN_PIN);
    });
}

/// A test issuer made once per test process by `melli issuer init` (root CA, document signer,
/// signing CA, master key). Lives in this process's work directory, which a later run sweeps
/// away once this process is gone.
pub fn test_issuer() -> &'static Path {
    static ISSUER: OnceLock<PathBuf> = OnceLock::new();
    ISSUER.get_or_init(|| make_issuer("issuer"))
}

/// An issuer with plain key files (`--insecure-plain-keys`), made once per process, for tests
/// whose peer (`openssl x509 -CAkey`, `openssl ca -keyfile`) signs with the issuer's own keys
/// as files. Its root key is in `<dir>-root/root.key` ([`plain_root_key`]).
pub fn plain_issuer() -> &'static Path {
    static ISSUER: OnceLock<PathBuf> = OnceLock::new();
    ISSUER.get_or_init(|| make_plain_issuer("plain-issuer"))
}

/// The root key file of an issuer made with plain key files.
pub fn plain_root_key(issuer: &Path) -> PathBuf {
    melli::pki::issuer::default_root_dir(issuer).join("root.key")
}

/// A second, unrelated issuer (its own root and master key), made once per process.
pub fn other_issuer() -> &'static Path {
    static ISSUER: OnceLock<PathBuf> = OnceLock::new();
    ISSUER.get_or_init(|| make_issuer("other-issuer"))
}

/// A new issuer made by `melli issuer init` in this process's work directory, its keys in a
/// SoftHSM2 token of its own and its root key in another (initialized here with
/// `softhsm2-util`), for a test that changes it (the shared [`test_issuer`] must stay as it
/// is). `name` must be unique per test. The root directory is `<dir>-root`.
///
/// The tokens are made and filled in a staging SoftHSM2 of their own and then moved into this
/// process's token directory whole (a rename): SoftHSM2's file store is shared safely by
/// processes that use it, but a process that starts while another is still creating a token
/// can trip over the half-made token directory.
pub fn make_issuer(name: &str) -> PathBuf {
    make_issuer_with(name, &[])
}

/// [`make_issuer`], with more arguments for `melli issuer init` (`--crl-url URL`, …).
pub fn make_issuer_with(name: &str, extra: &[&str]) -> PathBuf {
    let dir = fresh_issuer_dir(name);
    let id = next_id();
    // Labels that are not prefixes of each other: pkcs11-tool --token-label matches a prefix.
    let label = format!("i{id}");
    let root_label = format!("r{id}");
    let staging = process()
        .work_dir()
        .join("softhsm")
        .join(format!("staging-{id}"));
    let conf = melli::pki::token::softhsm_config(&staging).expect("a staging SoftHSM2");
    let tokens = staging.join("tokens");
    for l in [&label, &root_label] {
        init_token(&conf, l);
    }
    let out = run(
        Command::new(MELLI)
            .env("SOFTHSM2_CONF", &conf)
            .args(["issuer", "init", path_str(&dir), "--hsm", SOFTHSM_MODULE])
            .args(["--token", &label, "--root-token", &root_label])
            .args(extra),
        Duration::from_secs(60),
    );
    assert_eq!(out.code, 0, "melli issuer init failed: {out:?}");
    let shared = process().work_dir().join("softhsm").join("tokens");
    for entry in fs::read_dir(&tokens).expect("staged tokens") {
        let entry = entry.expect("staged token");
        fs::rename(entry.path(), shared.join(entry.file_name())).expect("move a staged token");
    }
    let _ = fs::remove_dir_all(&staging);
    dir
}

/// A new issuer with plain key files (`melli issuer init --insecure-plain-keys`), for tests
/// that change it in this process through the library (a new document signer).
pub fn make_plain_issuer(name: &str) -> PathBuf {
    let dir = fresh_issuer_dir(name);
    let out = melli(&["issuer", "init", path_str(&dir), "--insecure-plain-keys"]);
    assert_eq!(out.code, 0, "melli issuer init failed: {out:?}");
    dir
}

fn fresh_issuer_dir(name: &str) -> PathBuf {
    let base = process().work_dir().join("issuers");
    let dir = base.join(name);
    let _ = fs::remove_dir_all(&dir);
    let _ = fs::remove_dir_all(base.join(format!("{name}-root")));
    fs::create_dir_all(&base).expect("issuer base dir");
    dir
}

/// Initializes a SoftHSM2 token labelled `label` in the SoftHSM2 that `conf` configures, with
/// [`TOKEN_PIN`] — by `softhsm2-util`, the tool an HSM operator would use.
fn init_token(conf: &Path, label: &str) {
    let out = run(
        Command::new("softhsm2-util")
            .env("SOFTHSM2_CONF", conf)
            .args([
                "--init-token",
                "--free",
                "--label",
                label,
                "--pin",
                TOKEN_PIN,
                "--so-pin",
                TOKEN_SO_PIN,
            ]),
        Duration::from_secs(30),
    );
    assert_eq!(out.code, 0, "softhsm2-util --init-token failed: {out:?}");
}

/// Loads the issuer in `dir` through melli's library, in this process (a bench: a test
/// process must not load SoftHSM2 itself, since a module loaded once never sees the tokens
/// made after it).
pub fn load_issuer(dir: &Path) -> melli::pki::Issuer {
    melli::pki::Issuer::load(dir, &mut |_| {
        Ok(zeroize::Zeroizing::new(TOKEN_PIN.to_string()))
    })
    .expect("load the issuer")
}

/// Gives the issuer in `dir` a new document signer valid from `not_before` to `not_after`
/// (`melli issuer new-document-signer`: issued by its root in `<dir>-root`, the key made in
/// the issuer's token), to the second.
pub fn issue_document_signer(
    dir: &Path,
    not_before: std::time::SystemTime,
    not_after: std::time::SystemTime,
) {
    let rfc3339 = |t| {
        der::DateTime::from_system_time(t)
            .expect("a time der can hold")
            .to_string()
    };
    let out = melli(&[
        "issuer",
        "new-document-signer",
        path_str(dir),
        "--not-before",
        &rfc3339(not_before),
        "--not-after",
        &rfc3339(not_after),
    ]);
    assert_eq!(
        out.code, 0,
        "melli issuer new-document-signer failed: {out:?}"
    );
}

/// This process's turn at its SoftHSM2 store, as melli processes take it (an advisory lock on
/// `$SOFTHSM2_CONF.melli-lock`; see `melli::pki::token`): for a peer tool such as
/// `pkcs11-tool` that logs in — a login rewrites the token, which SoftHSM2 does not protect
/// from other processes reading it.
pub fn softhsm_turn() -> fs::File {
    process();
    let path = melli::pki::token::softhsm_lock_path();
    let file = fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(path)
        .expect("the SoftHSM2 lock file");
    file.lock().expect("SoftHSM2's turn");
    file
}

/// `melli issuer crl ISSUER --out DIR/NAME-ca.crl --root-out DIR/NAME-root.crl [extra…]`: the
/// signing CA's and the root's CRLs, published into `dir`.
pub fn publish_crls(issuer: &Path, dir: &Path, name: &str, extra: &[&str]) -> (String, String) {
    let ca = dir.join(format!("{name}-ca.crl"));
    let root = dir.join(format!("{name}-root.crl"));
    let mut args = vec![
        "issuer",
        "crl",
        path_str(issuer),
        "--out",
        path_str(&ca),
        "--root-out",
        path_str(&root),
    ];
    args.extend_from_slice(extra);
    let out = melli(&args);
    assert_eq!(out.code, 0, "melli issuer crl: {out:?}");
    (path_str(&ca).to_string(), path_str(&root).to_string())
}

/// `melli issuer revoke ISSUER --card SERIAL --reason REASON [extra…]`.
pub fn revoke_card(issuer: &Path, serial: &str, reason: &str, extra: &[&str]) -> super::Output {
    let mut args = vec![
        "issuer",
        "revoke",
        path_str(issuer),
        "--card",
        serial,
        "--reason",
        reason,
    ];
    args.extend_from_slice(extra);
    melli(&args)
}
