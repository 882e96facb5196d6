//! The PKCS#11 module (`crates/melli-pkcs11`) and the peers that load it: where its shared
//! library is, and how to run pkcs11-tool, p11tool, openssl (pkcs11 engine) and NSS's tools
//! with it, each shown only the test's own reader (`MELLI_PKCS11_READERS`) so that the cards
//! of tests running beside it are never touched.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;
use std::time::Duration;

use super::{run, run_with_input, Output};

/// Debian's OpenSSL pkcs11 engine (libengine-pkcs11-openssl).
pub const ENGINE: &str = "/usr/lib/x86_64-linux-gnu/engines-3/pkcs11.so";

/// `libmelli_pkcs11.so` of this build: next to the test binary's `deps/` directory. Built
/// with cargo if it is not there (a `cargo test` of this package alone does not build it).
pub fn module_path() -> &'static Path {
    static PATH: OnceLock<PathBuf> = OnceLock::new();
    PATH.get_or_init(|| {
        let exe = std::env::current_exe().expect("the test binary's path");
        let profile_dir = exe
            .parent()
            .and_then(Path::parent)
            .expect("target/<profile>/deps/<test binary>");
        let module = profile_dir.join("libmelli_pkcs11.so");
        if !module.exists() {
            let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
            let out = run(
                Command::new(cargo)
                    .current_dir(env!("CARGO_MANIFEST_DIR"))
                    .args(["build", "--quiet", "-p", "melli-pkcs11"]),
                Duration::from_secs(600),
            );
            assert_eq!(out.code, 0, "cargo build -p melli-pkcs11: {out:?}");
        }
        assert!(module.exists(), "no {}", module.display());
        module
    })
}

pub fn module_str() -> &'static str {
    module_path().to_str().expect("a UTF-8 path")
}

/// A command that loads the module and sees only `reader`.
pub fn command(program: &str, reader: &str) -> Command {
    let mut c = Command::new(program);
    c.env("MELLI_PKCS11_READERS", reader);
    c
}

/// `pkcs11-tool --module MODULE ARGS…` seeing only `reader`.
pub fn pkcs11_tool(reader: &str, args: &[&str]) -> Output {
    run(
        command("pkcs11-tool", reader)
            .args(["--module", module_str()])
            .args(args),
        Duration::from_secs(60),
    )
}

/// [`pkcs11_tool`], panicking unless it succeeds.
pub fn pkcs11_tool_ok(reader: &str, args: &[&str]) -> Output {
    let out = pkcs11_tool(reader, args);
    assert_eq!(out.code, 0, "pkcs11-tool {args:?}: {out:?}");
    out
}

/// An OpenSSL configuration in `dir` that loads the pkcs11 engine with the module. The engine
/// logs in only when it cannot find a key without login, and the card's private key object is
/// visible without login: `FORCE_LOGIN` makes it log in with the URI's PIN first.
pub fn openssl_conf(dir: &Path) -> PathBuf {
    let conf = dir.join("openssl-pkcs11.cnf");
    std::fs::write(
        &conf,
        format!(
            "openssl_conf = openssl_init\n\n[openssl_init]\nengines = engine_section\n\n\
             [engine_section]\npkcs11 = pkcs11_section\n\n[pkcs11_section]\nengine_id = pkcs11\n\
             dynamic_path = {ENGINE}\nMODULE_PATH = {}\nFORCE_LOGIN = EMPTY\ninit = 0\n",
            module_str()
        ),
    )
    .expect("write the OpenSSL configuration");
    conf
}

/// openssl with the pkcs11 engine configured, seeing only `reader`, in `dir`.
pub fn openssl_engine(dir: &Path, reader: &str, args: &[&str]) -> Output {
    run(
        command("openssl", reader)
            .current_dir(dir)
            .env("OPENSSL_CONF", openssl_conf(dir))
            .args(args),
        Duration::from_secs(60),
    )
}

/// An NSS tool (modutil, certutil, cmsutil) seeing only `reader`, with `input` on stdin.
pub fn nss(program: &str, reader: &str, args: &[&str], input: Option<&str>) -> Output {
    run_with_input(
        command(program, reader).args(args),
        input,
        Duration::from_secs(60),
    )
}
