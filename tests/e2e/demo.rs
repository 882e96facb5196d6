//! `melli demo`, the README's main job, on two of our readers.

use std::process::Command;
use std::time::Duration;

use crate::common::{run, Pcscd, MELLI};

/// The Java Card applet's launcher, which `melli demo --card javacard` runs once per reader.
const JAVACARD_LAUNCHER: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/scripts/javacard-card");

#[test]
fn the_demo_runs_the_main_job_on_two_readers() {
    demo_on_two_readers(&[]);
}

#[test]
fn the_demo_runs_the_main_job_on_two_readers_with_the_java_card_applet() {
    demo_on_two_readers(&[
        "--card",
        "javacard",
        "--javacard-launcher",
        JAVACARD_LAUNCHER,
    ]);
}

/// `melli demo` with four records on two of our readers, `extra` added to its arguments.
fn demo_on_two_readers(extra: &[&str]) {
    let pcscd = Pcscd::acquire();
    let slots = [pcscd.take_slot(), pcscd.take_slot()];
    let dir = tempfile::tempdir().expect("tempdir");
    let work = dir.path().join("demo");
    let mut command = Command::new(MELLI);
    command
        .arg("demo")
        .arg("--dir")
        .arg(&work)
        .args(["--cards", "4"])
        .args(extra);
    for slot in &slots {
        command
            .args(["--vpcd", &format!("127.0.0.1:{}", slot.port())])
            .args(["--reader", &slot.reader_name()]);
    }
    let out = run(&mut command, Duration::from_secs(300));
    assert_eq!(out.code, 0, "{out:?}");
    for step in 1..=8 {
        assert!(
            out.stdout.contains(&format!("── step {step}/8")),
            "step {step} missing: {}",
            out.stdout
        );
    }
    for said in [
        "4 records — 4 done (4 in this run), 0 failed, 0 left",
        "verdict: GENUINE — every check passed",
        "PASS  fingerprint match",
        "verdict: VALID signature",
        "your card is ready",
        "keys in token 'melli-demo'",
        "the root CA's key is in",
    ] {
        assert!(
            out.stdout.contains(said),
            "{said:?} missing: {}",
            out.stdout
        );
    }
    // Both readers took cards.
    for slot in &slots {
        assert!(
            out.stderr
                .contains(&format!("[{}] card DEMO", slot.reader_name())),
            "{} made no card: {}",
            slot.reader_name(),
            out.stderr
        );
    }
    // The issuer's keys are in the demo's own SoftHSM2, not in files.
    for entry in std::fs::read_dir(work.join("issuer")).expect("issuer folder") {
        let name = entry.expect("entry").file_name();
        let name = name.to_string_lossy();
        assert!(
            !name.ends_with(".key"),
            "a key file {name} in the demo's issuer"
        );
    }
    assert!(
        work.join("softhsm").join("tokens").is_dir(),
        "no SoftHSM2 tokens"
    );
    // What it leaves is real: openssl accepts the signature, the PIN was never printed.
    let theirs = run(
        Command::new("openssl").current_dir(&work).args([
            "cms",
            "-verify",
            "-binary",
            "-inform",
            "DER",
            "-content",
            "contract.txt",
            "-in",
            "contract.txt.p7s",
            "-CAfile",
            "issuer/root.pem",
            "-out",
            "/dev/null",
        ]),
        Duration::from_secs(30),
    );
    assert_eq!(theirs.code, 0, "{theirs:?}");
    for mailer in std::fs::read_dir(work.join("pin-mailers")).expect("mailers") {
        let text = std::fs::read_to_string(mailer.expect("entry").path()).expect("mailer");
        for line in text.lines() {
            if let Some(pin) = line.strip_prefix("PIN: ") {
                crate::common::assert_secret_absent(pin.trim(), &[&out]);
            }
        }
    }
}

/// A launcher that stops at once (here: a script that says why and exits 3) stops the demo
/// within moments with one line naming it and its log, not after the launcher's patience.
#[test]
fn the_demo_stops_with_one_line_when_the_java_card_launcher_stops() {
    let pcscd = Pcscd::acquire();
    let slot = pcscd.take_slot();
    let dir = tempfile::tempdir().expect("tempdir");
    let launcher = dir.path().join("launcher");
    std::fs::write(
        &launcher,
        "#!/bin/sh\necho 'launcher: no Java here' >&2\nexit 3\n",
    )
    .expect("launcher");
    std::fs::set_permissions(
        &launcher,
        <std::fs::Permissions as std::os::unix::fs::PermissionsExt>::from_mode(0o755),
    )
    .expect("chmod");
    let started = std::time::Instant::now();
    let out = run(
        Command::new(MELLI)
            .arg("demo")
            .arg("--dir")
            .arg(dir.path().join("demo"))
            .args(["--cards", "1", "--card", "javacard"])
            .arg("--javacard-launcher")
            .arg(&launcher)
            .args(["--vpcd", &format!("127.0.0.1:{}", slot.port())])
            .args(["--reader", &slot.reader_name()]),
        Duration::from_secs(120),
    );
    assert_eq!(out.code, 3, "{out:?}");
    assert!(
        out.stderr
            .contains("the Java Card launcher stopped (exit status: 3): launcher: no Java here"),
        "{out:?}"
    );
    assert!(out.stderr.contains("feeder-1.log"), "{out:?}");
    assert!(started.elapsed() < Duration::from_secs(60), "{out:?}");
}
