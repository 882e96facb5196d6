use super::*;
use melli::journal::NewRecord;

/// The issuer's status key, for tests.
fn test_key() -> StatusKey {
    StatusKey::from_bytes([9; 32])
}

fn args(journal: &Path, national_code: &str, birth_date: &str, json: bool) -> StatusArgs {
    StatusArgs {
        journal: Some(journal.to_string_lossy().into_owned()),
        issuer: None,
        tracking_code: None,
        national_code: Some(national_code.to_owned()),
        birth_date: Some(birth_date.to_owned()),
        json,
    }
}

fn run(args: &StatusArgs) -> (Vec<u8>, ExitCode) {
    let mut out = Vec::new();
    let code = status_to(args, Some(&test_key()), &mut out).unwrap();
    (out, code)
}

#[test]
fn a_wrong_birth_date_gives_the_same_bytes_and_exit_code_as_an_unknown_person() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("j.db");
    let mut journal = Journal::open(&path).unwrap();
    journal
        .enqueue(
            &[NewRecord {
                tracking_code: TrackingCode::parse("T1").unwrap(),
                national_code: NationalCode::parse("0081493721").unwrap(),
                birth_date: JalaliDate::parse("1368/06/15").unwrap(),
            }],
            &test_key(),
        )
        .unwrap();
    drop(journal);
    for json in [false, true] {
        let (known, code) = run(&args(&path, "0081493721", "1368/06/15", json));
        assert_eq!(code, ExitCode::SUCCESS);
        assert!(String::from_utf8(known)
            .unwrap()
            .contains("your card is waiting to be made"));
        let wrong_date = run(&args(&path, "0081493721", "1368/06/16", json));
        let unknown = run(&args(&path, "0013542419", "1368/06/15", json));
        assert_eq!(wrong_date, unknown, "json: {json}");
        assert_eq!(wrong_date.1, ExitCode::from(exit::CHECK_FAILED));
    }
    let by_code = StatusArgs {
        journal: Some(path.to_string_lossy().into_owned()),
        issuer: None,
        tracking_code: Some("T1".into()),
        national_code: None,
        birth_date: None,
        json: false,
    };
    assert_eq!(
        run(&by_code),
        (
            b"your card is waiting to be made\n".to_vec(),
            ExitCode::SUCCESS
        )
    );
}

#[test]
fn progress_counts_and_estimates() {
    assert!(ProgressStyle::with_template(BAR_TEMPLATE).is_ok());
    for terminal in [false, true] {
        let progress = Progress::new(4, terminal);
        let counts = Counts {
            queued: 2,
            personalizing: 0,
            done: 1,
            failed: 1,
        };
        let event = Event {
            reader: "r".into(),
            kind: EventKind::Done {
                serial: "S".into(),
                tracking_code: "T".into(),
                seconds: 1.0,
                recovered: false,
                counts,
            },
        };
        assert_eq!(progress.event(&event), Flow::Go);
        let tally = progress.update(None, false);
        assert!(tally.starts_with("done 1, failed 1, left 2, "), "{tally}");
        assert!(tally.contains("cards/min, ETA "), "{tally}");
        progress.finish();
    }
    assert_eq!(minutes_seconds(75.2), "1m 15s");
    assert_eq!(minutes_seconds(2.25), "2.2 s");
}

#[test]
fn bad_input_is_exit_2_and_a_missing_journal_too() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("j.db");
    Journal::open(&path).unwrap();
    let mut out = Vec::new();
    let bad = args(&path, "0081493724", "1368/06/15", false);
    let err = status_to(&bad, Some(&test_key()), &mut out).unwrap_err();
    assert_eq!(err.code, exit::BAD_INPUT);
    assert!(
        err.message.starts_with("--national-code: "),
        "{}",
        err.message
    );
    let missing = args(
        &dir.path().join("none.db"),
        "0081493721",
        "1368/06/15",
        false,
    );
    assert_eq!(
        status_to(&missing, Some(&test_key()), &mut out)
            .unwrap_err()
            .code,
        exit::BAD_INPUT
    );
    assert!(out.is_empty());
}
