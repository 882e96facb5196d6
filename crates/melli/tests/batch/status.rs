//! `melli status` answers: plain words for each state; a wrong birth date is an unknown person.

use super::*;
use melli::journal::NewRecord;
use melli::model::NationalCode;
use melli::ops::batch::status::{lookup, Query, StatusAnswer, NOT_FOUND};

/// The issuer's status key, for tests.
fn status_key() -> melli::pki::status_key::StatusKey {
    melli::pki::status_key::StatusKey::from_bytes([9; 32])
}

fn person(national_code: &str, birth_date: &str) -> Query {
    Query::Person {
        national_code: NationalCode::parse(national_code).unwrap(),
        birth_date: JalaliDate::parse(birth_date).unwrap(),
    }
}

fn by_code(code: &str) -> Query {
    Query::TrackingCode(TrackingCode::parse(code).unwrap())
}

fn journal_with_every_state(dir: &Path) -> Journal {
    let mut j = Journal::open(&dir.join("j.db")).unwrap();
    let keys: Vec<NewRecord> = (1..=4)
        .map(|i| NewRecord {
            tracking_code: TrackingCode::parse(&tracking_code(i)).unwrap(),
            national_code: NationalCode::parse(&national_code(u32::try_from(i).unwrap())).unwrap(),
            birth_date: JalaliDate::parse("1368/06/15").unwrap(),
        })
        .collect();
    j.enqueue(&keys, &status_key()).unwrap();
    j.scope(["T0002", "T0003", "T0004"]).unwrap();
    j.claim_next("C1", "r").unwrap(); // T0002
    j.claim_next("C2", "r").unwrap(); // T0003
    j.mark_done("T0003", "C2", "").unwrap();
    j.claim_next("C3", "r").unwrap(); // T0004
    j.refuse("T0004", "C3", "open the secure channel: 6982", 1)
        .unwrap();
    j
}

#[test]
fn says_each_state_in_plain_words() {
    let dir = tempfile::tempdir().unwrap();
    let j = journal_with_every_state(dir.path());
    let message = |q: Query| lookup(&j, &q, &status_key()).unwrap().message;
    assert_eq!(message(by_code("T0001")), "your card is waiting to be made");
    assert_eq!(message(by_code("T0002")), "your card is being made");
    let done = lookup(&j, &by_code("T0003"), &status_key()).unwrap();
    let today = melli::journal::jalali_date(melli::journal::now()).unwrap();
    assert_eq!(
        done.message,
        format!("your card is ready (card serial C2, finished {today})")
    );
    assert_eq!(done.card_serial.as_deref(), Some("C2"));
    assert_eq!(
        message(by_code("T0004")),
        "making your card failed: open the secure channel: 6982; it will be made again"
    );
    assert_eq!(
        message(person(&national_code(3), "1368/06/15")),
        done.message
    );
    assert_eq!(message(by_code("T9999")), NOT_FOUND);
}

#[test]
fn a_wrong_birth_date_answers_exactly_as_an_unknown_national_code() {
    let dir = tempfile::tempdir().unwrap();
    let j = journal_with_every_state(dir.path());
    let known = national_code(3);
    let right = lookup(&j, &person(&known, "1368/06/15"), &status_key()).unwrap();
    assert!(right.found);
    let wrong_date = lookup(&j, &person(&known, "1368/06/16"), &status_key()).unwrap();
    let unknown = lookup(&j, &person(&national_code(77), "1368/06/15"), &status_key()).unwrap();
    assert_eq!(wrong_date, unknown);
    assert!(!unknown.found);
    let json = |a: &StatusAnswer| serde_json::to_vec_pretty(a).unwrap();
    assert_eq!(json(&wrong_date), json(&unknown));
    assert_eq!(
        String::from_utf8(json(&unknown)).unwrap(),
        format!("{{\n  \"found\": false,\n  \"message\": \"{NOT_FOUND}\"\n}}")
    );
}
