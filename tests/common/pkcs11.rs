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

/// `modutil -dbdir DB -add melli -libfile MODULE -force`: the module registered in the NSS
/// database `db` (`sql:DIR`), as a citizen registers it for Firefox or Chromium.
pub fn nss_add_module(db: &str, reader: &str) -> Output {
    nss(
        "modutil",
        reader,
        &[
            "-dbdir",
            db,
            "-add",
            "melli",
            "-libfile",
            module_str(),
            "-force",
        ],
        None,
    )
}

/// A word for `sh -c`, quoted.
pub fn sh_quote(word: &str) -> String {
    format!("'{}'", word.replace('\'', r"'\''"))
}

/// [`openssl_engine`] on a terminal of its own (util-linux `script`), typing `pin` on it when
/// libp11 asks for it. libp11 makes the context-specific login of a CKA_ALWAYS_AUTHENTICATE key
/// (the card's signing key) with a PIN it asks OpenSSL's UI for, before every signature, and
/// that UI reads the terminal, whatever `-passin` or the key URI say. The PIN is typed only once
/// the prompt is there (echo off), so it never shows in the output.
pub fn openssl_engine_tty(dir: &Path, reader: &str, args: &[&str], pin: &str) -> Output {
    let line = std::iter::once("openssl")
        .chain(args.iter().copied())
        .map(sh_quote)
        .collect::<Vec<_>>()
        .join(" ");
    engine_tty_sh(dir, reader, &line, pin)
}

/// [`openssl_engine_tty`] for any shell command line `line` (its words quoted with
/// [`sh_quote`]): a program that loads the pkcs11 engine through `OPENSSL_CONF`, such as curl,
/// or `openssl s_client` with its request piped in (OpenSSL's UI reads the PIN from /dev/tty,
/// not from stdin).
pub fn engine_tty_sh(dir: &Path, reader: &str, line: &str, pin: &str) -> Output {
    use std::io::{Read, Write};
    use std::process::Stdio;
    use std::time::Instant;

    let mut child = command("script", reader)
        .current_dir(dir)
        .env("OPENSSL_CONF", openssl_conf(dir))
        .args(["-qec", line, "/dev/null"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start script");
    let mut stdin = child.stdin.take().expect("stdin");
    let mut stdout = child.stdout.take().expect("stdout");
    let (tx, rx) = std::sync::mpsc::channel::<Vec<u8>>();
    let reader_thread = std::thread::spawn(move || {
        let mut buf = [0u8; 4096];
        while let Ok(n) = stdout.read(&mut buf) {
            if n == 0 || tx.send(buf[..n].to_vec()).is_err() {
                break;
            }
        }
    });
    let mut seen = Vec::new();
    let deadline = Instant::now() + Duration::from_secs(60);
    let mut typed = 0;
    loop {
        match rx.recv_timeout(Duration::from_millis(100)) {
            Ok(bytes) => seen.extend(bytes),
            Err(std::sync::mpsc::RecvTimeoutError::Disconnected) => break,
            Err(std::sync::mpsc::RecvTimeoutError::Timeout) => {}
        }
        let prompts = String::from_utf8_lossy(&seen)
            .matches("Enter PKCS#11 key PIN")
            .count();
        if prompts > typed {
            // Let the UI turn echo off after its prompt.
            std::thread::sleep(Duration::from_millis(300));
            let _ = writeln!(stdin, "{pin}");
            typed = prompts;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            break;
        }
    }
    let status = child.wait().expect("script ends");
    drop(stdin);
    let _ = reader_thread.join();
    let mut stderr = String::new();
    if let Some(mut e) = child.stderr.take() {
        let _ = e.read_to_string(&mut stderr);
    }
    Output {
        code: status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&seen).into_owned(),
        stderr,
    }
}
