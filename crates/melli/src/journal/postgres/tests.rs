//! The shared journal against a real PostgreSQL server: a private cluster per test
//! (melli-testkit's harness).

use melli_testkit::postgres::Postgres;

use super::schema::{self, Migration, MIGRATION_LOCK};
use super::*;

fn target(url: &str) -> PgTarget {
    match JournalUrl::parse(url).expect("parses") {
        JournalUrl::Postgres(t) => t,
        other => panic!("not PostgreSQL: {other:?}"),
    }
}

fn tables(pg: &Postgres) -> Vec<String> {
    pg.superuser_sql(
        "SELECT tablename FROM pg_tables WHERE schemaname = 'public' ORDER BY tablename",
    )
    .lines()
    .map(str::to_string)
    .collect()
}

#[test]
fn migrate_makes_version_1_once_and_the_checks_hold() {
    let pg = Postgres::start_new();
    let t = target(&pg.url());
    let mut journal = PgJournal::connect(&t).expect("connect");
    assert_eq!(journal.version().expect("version"), None);
    assert!(matches!(
        PgJournal::open(&t),
        Err(PgError::NotMigrated { found: None, .. })
    ));
    let first = journal.migrate().expect("migrate");
    assert_eq!(
        first,
        Migrated {
            before: None,
            after: SCHEMA_VERSION
        }
    );
    assert_eq!(
        tables(&pg),
        [
            "events",
            "melli_schema",
            "records",
            "replacements",
            "stations"
        ]
    );
    let again = journal.migrate().expect("migrate again");
    assert_eq!(
        again,
        Migrated {
            before: Some(1),
            after: 1
        }
    );
    assert_eq!(
        pg.superuser_sql("SELECT count(*) FROM melli_schema").trim(),
        "1"
    );
    let mut open = PgJournal::open(&t).expect("a current journal opens");

    // The same rules as the SQLite journal: a card holds one record, a bound record names
    // its card, and only a done record has lost its content.
    let c = open.client();
    let key = vec![7u8; 32];
    let insert = "INSERT INTO records (tracking_code, national_code, birth_key, content_sha256, \
                  content, state, card_serial) VALUES ($1, '0081493721', $2, $2, $3, $4, $5)";
    let content: Option<Vec<u8>> = Some(b"{}".to_vec());
    c.execute(
        insert,
        &[&"A1", &key, &content, &"personalizing", &Some("S1")],
    )
    .expect("a bound record");
    let refused = |c: &mut Client, args: (&str, Option<Vec<u8>>, &str, Option<&str>)| {
        let e = c
            .execute(insert, &[&args.0, &key, &args.1, &args.2, &args.3])
            .expect_err("refused");
        assert!(e.as_db_error().is_some(), "{e}");
    };
    refused(c, ("A2", content.clone(), "personalizing", Some("S1")));
    refused(c, ("A3", content.clone(), "personalizing", None));
    refused(c, ("A4", content.clone(), "queued", Some("S2")));
    refused(c, ("A5", content.clone(), "done", Some("S5")));
    refused(c, ("A6", None, "queued", None));
    refused(c, ("A1", content.clone(), "queued", None));
    c.execute(
        insert,
        &[&"A7", &key, &None::<Vec<u8>>, &"done", &Some("S7")],
    )
    .expect("a done record without content");
    // A failed record gives its card back.
    c.execute(insert, &[&"A8", &key, &content, &"failed", &Some("S7")])
        .expect("a failed record on a card another record holds");
}

#[test]
fn two_stations_migrating_at_once_both_succeed_with_one_version() {
    let pg = Postgres::start_new();
    let url = pg.url();
    // Hold the lock so that both wait for it, then let them race.
    let mut holder = PgJournal::connect(&target(&url)).expect("connect");
    let mut tx = holder.client().transaction().expect("tx");
    tx.execute("SELECT pg_advisory_xact_lock($1)", &[&MIGRATION_LOCK])
        .expect("lock");
    let runs: Vec<_> = (0..2)
        .map(|_| {
            let url = url.clone();
            std::thread::spawn(move || {
                PgJournal::connect(&target(&url))
                    .expect("connect")
                    .migrate()
                    .expect("migrate")
            })
        })
        .collect();
    std::thread::sleep(std::time::Duration::from_millis(500));
    tx.commit().expect("release");
    let mut results: Vec<Migrated> = runs.into_iter().map(|r| r.join().expect("run")).collect();
    results.sort_by_key(|m| m.before);
    assert_eq!(
        results,
        [
            Migrated {
                before: None,
                after: 1
            },
            Migrated {
                before: Some(1),
                after: 1
            }
        ]
    );
    assert_eq!(
        pg.superuser_sql("SELECT version FROM melli_schema").trim(),
        "1"
    );
}

#[test]
fn steps_run_in_order_each_whole_or_not_at_all() {
    let pg = Postgres::start_new();
    let t = target(&pg.url());
    let mut journal = PgJournal::connect(&t).expect("connect");
    let v2 = Migration {
        version: 2,
        sql: "CREATE TABLE extra (n integer); ALTER TABLE records ADD COLUMN extra integer;",
    };
    let broken_v3 = Migration {
        version: 3,
        sql: "CREATE TABLE half (n integer); SELECT no_such_function();",
    };
    let steps = [schema::MIGRATIONS[0], v2];
    assert_eq!(
        journal.migrate_with(&steps).expect("two steps"),
        Migrated {
            before: None,
            after: 2
        }
    );
    assert_eq!(
        pg.superuser_sql("SELECT version FROM melli_schema ORDER BY applied_at, version"),
        "1\n2\n"
    );
    let e = journal
        .migrate_with(&[schema::MIGRATIONS[0], v2, broken_v3])
        .expect_err("a broken step");
    assert!(matches!(e, PgError::Sql { .. }), "{e}");
    assert!(e.to_string().contains("no_such_function"), "{e}");
    // Nothing of the broken step is left, and the version is still 2.
    assert!(!tables(&pg).contains(&"half".to_string()));
    assert_eq!(journal.version().expect("version"), Some(2));
    // This melli (which knows version 1) refuses the journal now.
    let e = journal.migrate().expect_err("too new");
    assert!(matches!(e, PgError::TooNew { found: 2, .. }), "{e}");
}

#[test]
fn a_newer_schema_and_another_programs_tables_are_refused_untouched() {
    let pg = Postgres::start_new();
    let t = target(&pg.url());
    let mut journal = PgJournal::connect(&t).expect("connect");
    journal.migrate().expect("migrate");
    journal
        .client()
        .execute("INSERT INTO melli_schema (version) VALUES (999)", &[])
        .expect("a newer version");
    let e = journal.migrate().expect_err("too new");
    assert_eq!(
        e.to_string(),
        format!(
            "the journal {t} has schema version 999, this melli knows up to 1: use a newer melli"
        )
    );
    assert!(matches!(
        PgJournal::open(&t),
        Err(PgError::TooNew { found: 999, .. })
    ));

    pg.superuser_sql("CREATE DATABASE other OWNER melli");
    let other_url = format!(
        "host={} port=5432 user=melli password={} dbname=other",
        pg.socket_dir().display(),
        pg.password()
    );
    let t2 = target(&other_url);
    let mut foreign = PgJournal::connect(&t2).expect("connect");
    foreign
        .client()
        .batch_execute("CREATE TABLE records (x integer)")
        .expect("another program's table");
    let e = foreign.migrate().expect_err("foreign");
    assert!(matches!(e, PgError::Foreign { .. }), "{e}");
    assert!(e.to_string().contains("(records)"), "{e}");
    assert_eq!(foreign.version().expect("version"), None);
}

#[test]
fn connection_failures_are_told_apart_and_never_show_the_password() {
    let pg = Postgres::start_new();
    let wrong = "wrong-password-1234";
    let t = target(&pg.url_with_password(wrong));
    let e = PgJournal::connect(&t).expect_err("wrong password");
    assert!(matches!(e, PgError::Refused { .. }), "{e}");
    let text = format!("{e} {e:?}");
    assert!(!text.contains(wrong), "{text}");
    assert!(text.contains("password authentication failed"), "{text}");

    let url = pg.url();
    let (server, _) = url.rsplit_once('/').expect("a database");
    let no_db = target(&format!("{server}/nodb"));
    let e = PgJournal::connect(&no_db).expect_err("no such database");
    assert!(matches!(e, PgError::Refused { .. }), "{e}");

    let right = target(&pg.url());
    pg.stop();
    let e = PgJournal::connect(&right).expect_err("server down");
    assert!(matches!(e, PgError::Unreachable { .. }), "{e}");
    let text = format!("{e} {e:?}");
    assert!(!text.contains(pg.password()), "{text}");
    assert!(text.contains(":***@"), "{text}");
}
