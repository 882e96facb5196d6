//! `melli journal migrate` against a real PostgreSQL server (a private cluster of the test kit,
//! on a Unix socket, password authentication) and on SQLite files: the schema made once, left
//! alone when current, made once by two stations at once, a newer one refused, and the password
//! never in anything melli prints. The one-line errors are rows of docs/bad-input.md
//! (`tests/e2e/bad_input.rs`).

use std::process::Command;
use std::thread;
use std::time::Duration;

use melli_testkit::postgres::Postgres;

use crate::common::{assert_secret_absent, melli, Output, MELLI};

fn migrate(url: &str) -> Output {
    melli(&["journal", "migrate", "--journal", url, "--json"])
}

fn versions(pg: &Postgres) -> String {
    pg.superuser_sql("SELECT version FROM melli_schema ORDER BY version")
}

#[test]
fn migrate_creates_version_1_once_and_never_prints_the_password() {
    let pg = Postgres::start_new();
    let url = pg.url();
    let first = migrate(&url);
    assert_eq!(first.code, 0, "{first:?}");
    let report = first.json();
    assert_eq!(report["engine"], "postgresql");
    assert_eq!(report["before"], serde_json::Value::Null);
    assert_eq!(report["after"], 1);
    assert_eq!(report["changed"], true);
    assert_eq!(
        report["journal"],
        format!(
            "postgres://melli:***@{}:5432/melli",
            pg.encoded_socket_dir()
        )
    );
    assert_eq!(versions(&pg), "1\n");
    let tables = pg.superuser_sql(
        "SELECT tablename FROM pg_tables WHERE schemaname = 'public' ORDER BY tablename",
    );
    assert_eq!(
        tables,
        "events\nmelli_schema\nrecords\nreplacements\nstations\n"
    );

    // Again: nothing to do, nothing changed. In text this time, and by the key-value form.
    let schema_before = pg.superuser_sql("SELECT applied_at FROM melli_schema");
    let again = melli(&["journal", "migrate", "--journal", &pg.key_value()]);
    assert_eq!(again.code, 0, "{again:?}");
    assert_eq!(
        again.stdout,
        format!(
            "journal postgres://melli:***@{}:5432/melli (postgresql): schema version 1 \
             (before: 1) — up to date\n",
            pg.encoded_socket_dir()
        )
    );
    assert_eq!(
        pg.superuser_sql("SELECT applied_at FROM melli_schema"),
        schema_before
    );
    assert_secret_absent(pg.password(), &[&first, &again]);
}

#[test]
fn two_stations_migrating_at_once_both_succeed_with_one_version() {
    let pg = Postgres::start_new();
    let runs: Vec<_> = (0..2)
        .map(|_| {
            let url = pg.url();
            thread::spawn(move || migrate(&url))
        })
        .collect();
    let outs: Vec<Output> = runs.into_iter().map(|r| r.join().expect("run")).collect();
    for out in &outs {
        assert_eq!(out.code, 0, "{out:?}");
        assert_eq!(out.json()["after"], 1, "{out:?}");
    }
    let changed: Vec<bool> = outs
        .iter()
        .map(|o| o.json()["changed"].as_bool().expect("changed"))
        .collect();
    assert_eq!(
        changed.iter().filter(|c| **c).count(),
        1,
        "exactly one of the two made the schema: {outs:?}"
    );
    assert_eq!(versions(&pg), "1\n");
    assert_secret_absent(pg.password(), &outs.iter().collect::<Vec<_>>());
}

#[test]
fn melli_journal_names_the_journal_when_journal_is_not_given() {
    let pg = Postgres::start_new();
    let run = |env: Option<&str>| {
        let mut command = Command::new(MELLI);
        command.args(["journal", "migrate", "--json"]);
        command.env_remove("MELLI_JOURNAL");
        if let Some(value) = env {
            command.env("MELLI_JOURNAL", value);
        }
        crate::common::run(&mut command, Duration::from_secs(60))
    };
    let out = run(Some(&pg.url()));
    assert_eq!(out.code, 0, "{out:?}");
    assert_eq!(out.json()["after"], 1);
    assert_eq!(versions(&pg), "1\n");
    assert_secret_absent(pg.password(), &[&out]);

    // --journal wins over the environment.
    let dir = tempfile::tempdir().expect("tempdir");
    let file = dir.path().join("journal.db");
    let mut command = Command::new(MELLI);
    command
        .args(["journal", "migrate", "--json", "--journal"])
        .arg(&file)
        .env("MELLI_JOURNAL", pg.url());
    let out = crate::common::run(&mut command, Duration::from_secs(60));
    assert_eq!(out.code, 0, "{out:?}");
    assert_eq!(out.json()["engine"], "sqlite");
    assert!(file.exists());

    // Neither: one line saying what to give.
    let out = run(None);
    assert_eq!(out.code, 2, "{out:?}");
    assert_eq!(
        out.stderr,
        "melli: no journal: give --journal URL or FILE.db, or set MELLI_JOURNAL\n"
    );
    assert!(out.stdout.is_empty());
}

#[test]
fn migrate_on_a_sqlite_file_makes_the_batch_journal() {
    let dir = tempfile::tempdir().expect("tempdir");
    let file = dir.path().join("journal.db");
    let path = file.to_str().expect("UTF-8");
    let first = migrate(path);
    assert_eq!(first.code, 0, "{first:?}");
    let report = first.json();
    assert_eq!(report["engine"], "sqlite");
    assert_eq!(report["before"], serde_json::Value::Null);
    assert_eq!(report["after"], melli::journal::SCHEMA_VERSION);
    let again = migrate(path);
    assert_eq!(again.code, 0, "{again:?}");
    assert_eq!(again.json()["before"], melli::journal::SCHEMA_VERSION);
    assert_eq!(again.json()["changed"], false);
    // The file is a journal a batch (and `melli status`) reads.
    let status = melli(&["status", "--journal", path, "--tracking-code", "AB12CD"]);
    assert_eq!(status.code, 1, "{status:?}");
}

#[test]
fn migrate_with_the_issuer_replaces_the_birth_dates_of_an_older_sqlite_journal() {
    let dir = tempfile::tempdir().expect("tempdir");
    let file = dir.path().join("journal.db");
    let path = file.to_str().expect("UTF-8");
    assert_eq!(migrate(path).code, 0);
    // As a melli of schema 2 wrote it: the birth date in clear.
    let conn = rusqlite::Connection::open(&file).expect("open");
    conn.execute_batch(
        "DROP INDEX records_by_person_key; ALTER TABLE records DROP COLUMN birth_key;
         INSERT INTO records (tracking_code, national_code, birth_date, created_at, updated_at)
         VALUES ('OLD1', '2710079194', '1368/06/15', 0, 0);
         PRAGMA user_version = 2;",
    )
    .expect("downgrade");
    drop(conn);
    let plain = migrate(path);
    assert_eq!(plain.code, 0, "{plain:?}");
    assert_eq!(plain.json()["after"], melli::journal::SCHEMA_VERSION);
    assert_eq!(plain.json()["clear_birth_dates"], 1, "{plain:?}");
    let text = melli(&["journal", "migrate", "--journal", path]);
    assert!(
        text.stderr
            .contains("1 record(s) keep their birth date in clear"),
        "{text:?}"
    );
    let issuer = crate::common::path_str(crate::common::test_issuer());
    let hashed = melli(&[
        "journal",
        "migrate",
        "--journal",
        path,
        "--issuer",
        issuer,
        "--json",
    ]);
    assert_eq!(hashed.code, 0, "{hashed:?}");
    assert_eq!(hashed.json()["hashed"], 1, "{hashed:?}");
    assert_eq!(hashed.json()["clear_birth_dates"], 0, "{hashed:?}");
    let dates = rusqlite::Connection::open(&file)
        .expect("open")
        .query_row("SELECT birth_date FROM records", [], |r| {
            r.get::<_, String>(0)
        })
        .expect("row");
    assert_eq!(dates, "");
    // Still found by the person, with the issuer's key.
    let found = melli(&[
        "status",
        "--journal",
        path,
        "--issuer",
        issuer,
        "--national-code",
        "2710079194",
        "--birth-date",
        "1368/06/15",
    ]);
    assert_eq!(found.code, 0, "{found:?}");
}

#[test]
fn a_server_killed_and_restarted_is_migrated_after_recovery() {
    let pg = Postgres::start_new();
    pg.kill();
    let down = migrate(&pg.url());
    assert_eq!(down.code, 3, "{down:?}");
    assert!(
        down.stderr
            .starts_with("melli: cannot reach the PostgreSQL server of the journal "),
        "{down:?}"
    );
    assert_secret_absent(pg.password(), &[&down]);
    pg.start();
    let up = migrate(&pg.url());
    assert_eq!(up.code, 0, "{up:?}");
    assert_eq!(versions(&pg), "1\n");
}

#[test]
fn migrate_over_tls_with_verify_full_and_the_servers_ca_never_prints_the_password() {
    use melli_testkit::postgres::{make_ca, Options, Tcp};
    let pg = Postgres::start_with(Options {
        tcp: Tcp::Tls,
        ..Options::default()
    });
    let shown = format!(
        "postgres://melli:***@localhost:{}/melli?sslmode=verify-full",
        pg.port()
    );
    let url = pg.tcp_url(
        "localhost",
        &format!("sslmode=verify-full&sslrootcert={}", pg.ca_cert().display()),
    );
    let out = migrate(&url);
    assert_eq!(out.code, 0, "{out:?}");
    let report = out.json();
    assert_eq!(report["engine"], "postgresql");
    assert_eq!(report["journal"], shown.as_str());
    assert_eq!(report["after"], 1);
    assert_eq!(report["changed"], true);
    assert_eq!(versions(&pg), "1\n");

    // A CA that did not sign the server's certificate: refused in one line that says so.
    let dir = tempfile::tempdir().expect("tempdir");
    let other = make_ca(dir.path(), "other");
    let url = pg.tcp_url(
        "localhost",
        &format!("sslmode=verify-full&sslrootcert={}", other.display()),
    );
    let refused = migrate(&url);
    assert_eq!(refused.code, 3, "{refused:?}");
    assert_eq!(
        refused.stderr,
        format!(
            "melli: TLS with the PostgreSQL server of the journal {shown}: the server's \
             certificate is not signed by the CA in sslrootcert ({}) — give the CA that signed \
             it, or check that this is the journal's server\n",
            other.display()
        )
    );
    assert!(refused.stdout.is_empty(), "{refused:?}");
    assert_secret_absent(pg.password(), &[&out, &refused]);
}
