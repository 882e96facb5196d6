//! Files from outside and the journal: `melli status` only reads (an empty file, another
//! program's database, a read-only journal, a batch holding the write lock), tracking codes typed
//! as people type them, `melli issuer init` run twice at once on one folder, and strings from
//! outside (card data, reader names, paths, journal contents) that must reach a terminal escaped.

use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant, SystemTime};

use melli::journal::{Journal, NewRecord};
use melli::model::{JalaliDate, NationalCode, TrackingCode};

use crate::common::{
    melli, personalized_card, read_state, root_pem, run, state_file_content, test_issuer,
    write_state, Output, VirtualCard, MELLI,
};

/// A journal with one queued record, `AB12CD`, written by the library as a batch writes it.
fn journal_with_a_record(dir: &Path) -> PathBuf {
    let path = dir.join("journal.db");
    let mut journal = Journal::open(&path).expect("journal");
    journal
        .enqueue(
            &[NewRecord {
                tracking_code: TrackingCode::parse("AB12CD").expect("code"),
                national_code: NationalCode::parse("0081493721").expect("national code"),
                birth_date: JalaliDate::parse("1368/06/15").expect("date"),
            }],
            &melli::pki::status_key::StatusKey::from_bytes([5; 32]),
        )
        .expect("enqueue");
    drop(journal);
    path
}

fn status(journal: &Path, code: &str) -> Output {
    melli(&[
        "status",
        "--journal",
        journal.to_str().expect("UTF-8 path"),
        "--tracking-code",
        code,
    ])
}

/// A hash of the bytes and the modification time of a file, and the names in its folder.
fn snapshot(path: &Path) -> (u64, SystemTime, Vec<String>) {
    use std::hash::{Hash, Hasher};
    let mut hasher = std::collections::hash_map::DefaultHasher::new();
    fs::read(path).expect("read").hash(&mut hasher);
    let bytes = hasher.finish();
    let mtime = fs::metadata(path)
        .and_then(|m| m.modified())
        .expect("mtime");
    let mut names: Vec<String> = fs::read_dir(path.parent().expect("folder"))
        .expect("folder")
        .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    (bytes, mtime, names)
}

fn journal_mode(path: &Path) -> String {
    let conn =
        rusqlite::Connection::open_with_flags(path, rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY)
            .expect("open");
    conn.pragma_query_value(None, "journal_mode", |r| r.get(0))
        .expect("journal_mode")
}

#[test]
fn status_does_not_make_a_journal_in_an_empty_file() {
    let dir = tempfile::tempdir().expect("tempdir");
    let empty = dir.path().join("empty.db");
    fs::write(&empty, b"").expect("write");
    let before = snapshot(&empty);
    let out = status(&empty, "AB12CD");
    assert_eq!(out.code, 2, "{out:?}");
    assert!(out.stdout.is_empty(), "{out:?}");
    assert_eq!(
        out.stderr.trim_end(),
        format!(
            "melli: {} is not a melli journal: give the journal a batch wrote, or a new file name",
            empty.display()
        )
    );
    assert_eq!(snapshot(&empty), before, "status changed the empty file");
}

#[test]
fn status_refuses_another_programs_database_and_leaves_it_as_it_was() {
    let dir = tempfile::tempdir().expect("tempdir");
    let other = dir.path().join("other.db");
    let conn = rusqlite::Connection::open(&other).expect("open");
    conn.execute_batch(
        "PRAGMA journal_mode = DELETE; CREATE TABLE notes (body TEXT); \
         INSERT INTO notes VALUES ('mine');",
    )
    .expect("make another program's database");
    drop(conn);
    assert_eq!(journal_mode(&other), "delete");
    let before = snapshot(&other);
    let out = status(&other, "AB12CD");
    assert_eq!(out.code, 2, "{out:?}");
    assert!(out.stderr.contains("is not a melli journal"), "{out:?}");
    assert_eq!(snapshot(&other), before, "status changed the database");
    assert_eq!(journal_mode(&other), "delete", "status switched it to WAL");
}

#[test]
fn status_leaves_a_journal_as_it_was() {
    let dir = tempfile::tempdir().expect("tempdir");
    let journal = journal_with_a_record(dir.path());
    let before = snapshot(&journal);
    let out = status(&journal, "AB12CD");
    assert_eq!(out.code, 0, "{out:?}");
    assert_eq!(out.stdout, "your card is waiting to be made\n");
    assert_eq!(
        snapshot(&journal),
        before,
        "status wrote beside or into the journal"
    );
}

#[test]
fn status_reads_a_read_only_journal_in_a_read_only_folder() {
    let dir = tempfile::tempdir().expect("tempdir");
    let journal = journal_with_a_record(dir.path());
    fs::set_permissions(&journal, fs::Permissions::from_mode(0o444)).expect("chmod 444");
    // Root may write anything: the lookup runs as nobody, who may only read the journal and
    // may not create a file beside it.
    fs::set_permissions(dir.path(), fs::Permissions::from_mode(0o555)).expect("chmod 555");
    let before = snapshot(&journal);
    // nobody must be able to run melli: a copy in a folder anyone may enter (the build's own
    // folder may sit where only root can go).
    let bin = tempfile::tempdir().expect("tempdir");
    fs::set_permissions(bin.path(), fs::Permissions::from_mode(0o755)).expect("chmod 755");
    let melli_copy = bin.path().join("melli");
    fs::copy(MELLI, &melli_copy).expect("copy melli");
    fs::set_permissions(&melli_copy, fs::Permissions::from_mode(0o755)).expect("chmod 755");
    let out = run(
        Command::new("setpriv")
            .args(["--reuid=65534", "--regid=65534", "--clear-groups"])
            .arg(&melli_copy)
            .args(["status", "--journal"])
            .arg(&journal)
            .args(["--tracking-code", "AB12CD"]),
        Duration::from_secs(60),
    );
    fs::set_permissions(dir.path(), fs::Permissions::from_mode(0o755)).expect("chmod back");
    assert_eq!(out.code, 0, "{out:?}");
    assert_eq!(out.stdout, "your card is waiting to be made\n");
    assert_eq!(snapshot(&journal), before);
    // As root too, with the file 0444.
    let out = status(&journal, "AB12CD");
    assert_eq!(out.code, 0, "{out:?}");
    assert_eq!(snapshot(&journal), before);
}

#[test]
fn status_answers_at_once_while_a_batch_holds_the_write_lock() {
    let dir = tempfile::tempdir().expect("tempdir");
    let journal = journal_with_a_record(dir.path());
    // The batch's connection, mid-transaction: WAL, write lock taken, a change not committed.
    let conn = rusqlite::Connection::open(&journal).expect("open");
    conn.execute_batch(
        "PRAGMA journal_mode = WAL; BEGIN IMMEDIATE; \
         UPDATE records SET state = 'failed', reason = 'uncommitted' WHERE tracking_code = 'AB12CD';",
    )
    .expect("hold the write lock");
    let started = Instant::now();
    let out = status(&journal, "AB12CD");
    let took = started.elapsed();
    conn.execute_batch("ROLLBACK").expect("rollback");
    assert_eq!(out.code, 0, "{out:?}");
    assert_eq!(out.stdout, "your card is waiting to be made\n");
    assert!(took < Duration::from_secs(5), "status took {took:?}");
}

#[test]
fn tracking_codes_are_found_as_people_type_them() {
    let dir = tempfile::tempdir().expect("tempdir");
    let journal = journal_with_a_record(dir.path());
    for typed in ["ab12cd", " Ab12-cd ", "AB 12 CD", "ab12-CD", "AB12CD"] {
        let out = status(&journal, typed);
        assert_eq!(out.code, 0, "{typed:?}: {out:?}");
        assert_eq!(out.stdout, "your card is waiting to be made\n", "{typed:?}");
    }
}

#[test]
fn status_with_a_birth_date_alone_asks_for_the_national_code() {
    let out = melli(&["status", "--journal", "j.db", "--birth-date", "1368/06/15"]);
    assert_eq!(out.code, 2, "{out:?}");
    assert!(
        out.stderr.contains("--national-code") && !out.stderr.contains("--tracking-code"),
        "{out:?}"
    );
}

#[test]
fn two_issuer_inits_at_once_on_one_folder_make_one_whole_issuer() {
    let dir = tempfile::tempdir().expect("tempdir");
    let issuer = dir.path().join("issuer");
    let spawn = || {
        Command::new(MELLI)
            .args(["issuer", "init", "--insecure-plain-keys"])
            .arg(&issuer)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn melli issuer init")
    };
    let runs = [spawn(), spawn()];
    let outputs: Vec<std::process::Output> = runs
        .into_iter()
        .map(|c| c.wait_with_output().expect("wait"))
        .collect();
    let codes: Vec<Option<i32>> = outputs.iter().map(|o| o.status.code()).collect();
    let winners = codes.iter().filter(|c| **c == Some(0)).count();
    assert_eq!(winners, 1, "{outputs:?}");
    let loser = outputs
        .iter()
        .find(|o| o.status.code() != Some(0))
        .expect("a loser");
    assert_eq!(loser.status.code(), Some(2), "{loser:?}");
    assert!(loser.stdout.is_empty(), "{loser:?}");
    let line = String::from_utf8_lossy(&loser.stderr);
    let shown = issuer.display().to_string();
    let root = format!("{shown}-root");
    assert!(
        line.lines().count() == 1
            && [
                format!("melli: {shown}: made by another run meanwhile"),
                format!("melli: {root}: made by another run meanwhile"),
                format!("melli: {shown}: not empty;"),
                format!("melli: {root}: not empty;"),
            ]
            .iter()
            .any(|start| line.starts_with(start.as_str())),
        "{line}"
    );
    // The winner's issuer is whole: a card can be made with it; nothing temporary is left.
    let state = dir.path().join("card.json");
    let out = melli(&[
        "card",
        "new",
        "--state",
        state.to_str().expect("UTF-8"),
        "--serial",
        "RACE1",
        "--issuer",
        issuer.to_str().expect("UTF-8"),
    ]);
    assert_eq!(out.code, 0, "{out:?}");
    let names: Vec<String> = fs::read_dir(dir.path())
        .expect("list")
        .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
        .collect();
    assert!(names.iter().all(|n| !n.contains(".tmp-")), "{names:?}");
}

/// Nothing that could forge a line, move the cursor or turn text around: no control character
/// but the line ends, no bidi control or invisible character but the isolates melli adds
/// around Persian text.
fn assert_terminal_safe(what: &str, text: &str) {
    for c in text.chars() {
        let isolate = matches!(c, '\u{2067}' | '\u{2069}');
        assert!(
            c == '\n' || (!c.is_control() && (isolate || !melli::display::is_hidden(c))),
            "{what}: raw {c:?} in {text:?}"
        );
    }
}

#[test]
fn names_on_a_card_that_would_forge_lines_or_turn_text_reach_the_terminal_escaped() {
    let (mut card, _mailer) = personalized_card();
    let reader = card.reader_name().to_string();
    let mut state = read_state(&card);
    let dg1 = state_file_content(&mut state, "0101");
    let mut hex = dg1.as_str().expect("hex").to_string();
    // Same lengths, so the data group's TLV stays well-formed: the Latin given name
    // "Alireza" and the Persian surname (10 bytes) become newlines, escapes and U+202E.
    for (from, to) in [
        ("Alireza", "Al\u{202E}\n\u{1b}"),
        ("محمدی", "\n\u{202E}ab\u{1b}[2J"),
    ] {
        assert_eq!(from.len(), to.len());
        let from_hex = hex::encode_upper(from.as_bytes());
        assert!(hex.to_uppercase().contains(&from_hex), "{from} not in DG1");
        hex = hex
            .to_uppercase()
            .replace(&from_hex, &hex::encode_upper(to.as_bytes()));
    }
    *dg1 = serde_json::Value::String(hex);
    card.kill();
    write_state(&card, &state);
    card.restart();
    let root = root_pem(test_issuer());
    for args in [
        vec!["read", "--reader", &reader],
        vec!["read", "--reader", &reader, "--json"],
        vec!["verify", "--trust", &root, "--reader", &reader],
        vec!["verify", "--trust", &root, "--reader", &reader, "--json"],
        vec!["info", "--reader", &reader],
    ] {
        let out = melli(&args);
        assert!(args[0] == "info" || out.code != 0, "{args:?}: {out:?}");
        assert_terminal_safe(&format!("{args:?} stdout"), &out.stdout);
        assert_terminal_safe(&format!("{args:?} stderr"), &out.stderr);
        assert!(out.stderr.lines().count() <= 1, "{args:?}: {out:?}");
    }
}

#[test]
fn reader_names_and_paths_from_the_user_are_shown_escaped() {
    let _card = VirtualCard::new();
    let hostile = "no\nsuch\u{1b}[2J\u{202E}reader";
    let out = melli(&["info", "--reader", hostile]);
    assert_eq!(out.code, 3, "{out:?}");
    assert_eq!(out.stderr.lines().count(), 1, "{out:?}");
    assert!(
        out.stderr.contains("no\\nsuch\\u{1B}[2J<U+202E>reader"),
        "{out:?}"
    );
    assert_terminal_safe("info --reader", &out.stderr);

    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("x\n\u{1b}[31mverdict: GENUINE\u{202E}.pem");
    let shown = path.to_str().expect("UTF-8");
    for args in [
        vec!["verify", "--trust", shown],
        vec!["status", "--journal", shown, "--tracking-code", "AB1"],
        vec!["issuer", "init", shown, "--root-dir", shown],
        vec!["batch", shown, "--issuer", shown, "--journal", shown],
    ] {
        let out = melli(&args);
        assert_eq!(out.code, 2, "{args:?}: {out:?}");
        assert_eq!(out.stderr.lines().count(), 1, "{args:?}: {out:?}");
        assert_terminal_safe(&format!("{args:?}"), &out.stderr);
    }
    // A journal whose stored reason would forge a line.
    let journal = journal_with_a_record(dir.path());
    let conn = rusqlite::Connection::open(&journal).expect("open");
    conn.execute(
        "UPDATE records SET state = 'failed', reason = ?1 WHERE tracking_code = 'AB12CD'",
        ["bad\n\u{1b}[1Ayour card is ready\u{202E}"],
    )
    .expect("update");
    drop(conn);
    for json in [false, true] {
        let mut args = vec![
            "status",
            "--journal",
            journal.to_str().expect("UTF-8"),
            "--tracking-code",
            "AB12CD",
        ];
        if json {
            args.push("--json");
        }
        let out = melli(&args);
        assert_eq!(out.code, 0, "{out:?}");
        assert_terminal_safe("status", &out.stdout);
        assert_eq!(
            out.stdout.lines().count(),
            if json { out.stdout.lines().count() } else { 1 }
        );
        assert!(out.stdout.contains("<U+202E>"), "{out:?}");
    }
}

/// A record's unknown key carrying a screen clear and a right-to-left override: `check` names
/// it, escaped, in its error line and in `--json`, and the terminal gets neither.
#[test]
fn check_shows_a_hostile_key_of_a_record_escaped() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut record: serde_json::Value = serde_json::from_str(
        &fs::read_to_string("fixtures/records/valid-1.json").expect("valid-1"),
    )
    .expect("JSON");
    record["evil\u{1b}[2J\u{202E}KEY"] = 1.into();
    for field in ["photo", "fingerprint"] {
        if let Some(rel) = record[field].as_str() {
            let abs = Path::new("fixtures/records").join(rel);
            record[field] = fs::canonicalize(abs)
                .expect("fixture")
                .to_str()
                .expect("utf-8")
                .into();
        }
    }
    let path = dir.path().join("evil.json");
    fs::write(&path, serde_json::to_string(&record).expect("JSON")).expect("write");
    let path = path.to_str().expect("utf-8");
    for args in [vec!["check", path], vec!["check", path, "--json"]] {
        let out = melli(&args);
        assert_eq!(out.code, 2, "{args:?}: {out:?}");
        let all = format!("{}{}", out.stdout, out.stderr);
        assert_terminal_safe("check", &all);
        let line = if args.contains(&"--json") {
            out.json()["errors"][0]
                .as_str()
                .expect("an error")
                .to_string()
        } else {
            out.stderr.clone()
        };
        assert!(
            line.contains("evil\\u{1B}[2J<U+202E>KEY"),
            "{args:?}: {line}"
        );
    }
}
