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

/// Whether the connection is encrypted, by the server's own account.
fn over_tls(journal: &mut PgJournal) -> bool {
    journal
        .client()
        .query_one(
            "SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()",
            &[],
        )
        .expect("pg_stat_ssl")
        .get(0)
}

fn tls_error(e: PgError) -> String {
    match e {
        PgError::Tls { .. } => e.to_string(),
        other => panic!("not a TLS error: {other}"),
    }
}

/// The message of a TLS set-up error (on this side, before anything is sent).
fn tls_setup_error(e: PgError) -> String {
    match e {
        PgError::TlsSetup { .. } => e.to_string(),
        other => panic!("not a TLS set-up error: {other}"),
    }
}

#[test]
fn verify_full_with_the_servers_ca_migrates_over_tls_and_another_ca_is_refused() {
    use melli_testkit::postgres::{make_ca, Options, Tcp};
    let pg = Postgres::start_with(Options {
        tcp: Tcp::Tls,
        ..Options::default()
    });
    let ca = pg.ca_cert();
    let ca = ca.to_str().expect("UTF-8");
    // The certificate names localhost and 127.0.0.1: both pass verify-full.
    for host in ["localhost", "127.0.0.1"] {
        let t = target(&pg.tcp_url(
            host,
            &format!("sslmode=verify-full&sslrootcert={ca}&connect_timeout=5"),
        ));
        assert_eq!(t.tls().mode, SslMode::VerifyFull);
        assert!(t.to_string().ends_with("/melli?sslmode=verify-full"), "{t}");
        let mut journal = PgJournal::connect(&t).expect("verify-full with the server's CA");
        assert!(over_tls(&mut journal));
        journal.migrate().expect("migrate over TLS");
    }
    assert_eq!(
        pg.superuser_sql("SELECT version FROM melli_schema").trim(),
        "1"
    );
    // No sslmode: libpq's prefer, and the server offers TLS.
    let mut journal = PgJournal::connect(&target(&pg.tcp_url("localhost", ""))).expect("prefer");
    assert!(over_tls(&mut journal));

    // Another CA: refused, naming the certificate problem, never the password.
    let dir = tempfile::tempdir().expect("tempdir");
    let other = make_ca(dir.path(), "other");
    let other = other.to_str().expect("UTF-8");
    let t = target(&pg.tcp_url(
        "localhost",
        &format!("sslmode=verify-full&sslrootcert={other}"),
    ));
    let e = PgJournal::connect(&t).expect_err("a certificate of another CA");
    let debug = format!("{e:?}");
    let text = format!("{debug} {}", tls_error(e));
    assert!(
        text.contains(&format!(
            "the server's certificate is not signed by the CA in sslrootcert ({other})"
        )),
        "{text}"
    );
    assert!(!text.contains(pg.password()), "{text}");
    assert!(text.contains(":***@localhost:"), "{text}");
    // verify-ca checks the CA just the same.
    let t = target(&pg.tcp_url(
        "localhost",
        &format!("sslmode=verify-ca&sslrootcert={other}"),
    ));
    let e = tls_error(PgJournal::connect(&t).expect_err("verify-ca, another CA"));
    assert!(e.contains("is not signed by the CA"), "{e}");

    // A host name the certificate does not hold: verify-full refuses, verify-ca (which checks
    // the CA only) and require (which checks nothing) connect.
    let by_name = |mode: &str| {
        target(&format!(
            "host=journal.example hostaddr=127.0.0.1 port={} user=melli password={} \
             dbname=melli sslmode={mode} sslrootcert='{ca}'",
            pg.port(),
            pg.password()
        ))
    };
    let e = tls_error(PgJournal::connect(&by_name("verify-full")).expect_err("wrong name"));
    assert!(
        e.contains("the server's certificate is not for the host journal.example"),
        "{e}"
    );
    assert!(!e.contains(pg.password()), "{e}");
    let mut journal = PgJournal::connect(&by_name("verify-ca")).expect("verify-ca");
    assert!(over_tls(&mut journal));
    let no_root = target(&format!(
        "host=journal.example hostaddr=127.0.0.1 port={} user=melli password={} dbname=melli \
         sslmode=require",
        pg.port(),
        pg.password()
    ));
    let mut journal = PgJournal::connect(&no_root).expect("require checks no certificate");
    assert!(over_tls(&mut journal));
    // The password login is bound to the TLS channel (SCRAM-SHA-256-PLUS): what keeps a
    // machine in the middle out when the certificate is not checked.
    let bound = target(&format!(
        "host=127.0.0.1 port={} user=melli password={} dbname=melli sslmode=require \
         channel_binding=require",
        pg.port(),
        pg.password()
    ));
    PgJournal::connect(&bound).expect("channel binding over TLS");

    // The server takes TLS only from here (hostssl): without it, pg_hba.conf refuses.
    let t = target(&pg.tcp_url("localhost", "sslmode=disable"));
    let e = tls_error(PgJournal::connect(&t).expect_err("plain to a TLS-only server"));
    assert!(e.contains("no pg_hba.conf entry"), "{e}");
    assert!(
        e.ends_with(
            "the server takes only TLS connections from here: use sslmode=require, verify-ca \
             or verify-full"
        ),
        "{e}"
    );
    assert!(!e.contains(pg.password()), "{e}");
}

#[test]
fn an_unusable_sslrootcert_is_a_clear_line_before_any_connection() {
    use melli_testkit::postgres::{Options, Tcp};
    let pg = Postgres::start_with(Options {
        tcp: Tcp::Tls,
        ..Options::default()
    });
    let dir = tempfile::tempdir().expect("tempdir");
    let not_pem = dir.path().join("not.pem");
    std::fs::write(&not_pem, b"this is no certificate\n").expect("write");
    let broken = dir.path().join("broken.pem");
    std::fs::write(
        &broken,
        b"-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n",
    )
    .expect("write");
    let huge = dir.path().join("huge.pem");
    std::fs::write(&huge, vec![b'A'; MAX_ROOT_CERT_BYTES as usize + 1]).expect("write");
    let cases = [
        (dir.path().join("none.pem"), "No such file or directory"),
        (dir.path().to_path_buf(), "not a regular file"),
        (not_pem, "holds no certificate"),
        (broken, "certificate 1 is unusable"),
        (huge, "larger than 1024 KiB"),
    ];
    for (path, why) in cases {
        let path = path.to_str().expect("UTF-8");
        let t = target(&pg.tcp_url(
            "localhost",
            &format!("sslmode=verify-full&sslrootcert={path}"),
        ));
        let e = tls_setup_error(PgJournal::connect(&t).expect_err("unusable sslrootcert"));
        assert!(
            e.contains(&format!("cannot use sslrootcert {path}: {why}")),
            "{e}"
        );
        assert!(e.contains("in PEM (-----BEGIN CERTIFICATE-----)"), "{e}");
        assert!(!e.contains(pg.password()), "{e}");
        assert!(!e.contains('\n'), "{e}");
    }
}

#[test]
fn require_against_a_server_without_tls_is_refused_and_prefer_goes_plain() {
    use melli_testkit::postgres::{Options, Tcp};
    let pg = Postgres::start_with(Options {
        tcp: Tcp::Plain,
        ..Options::default()
    });
    // A root certificate is read before anything is sent: one that is missing is said first.
    let ca = pg.socket_dir().join("no-such-ca.pem");
    let t = target(&pg.tcp_url(
        "127.0.0.1",
        &format!("sslmode=verify-full&sslrootcert={}", ca.display()),
    ));
    let e = tls_setup_error(PgJournal::connect(&t).expect_err("no root certificate"));
    assert!(e.contains("cannot use sslrootcert"), "{e}");
    let t = target(&pg.tcp_url("127.0.0.1", "sslmode=require"));
    let e = tls_error(PgJournal::connect(&t).expect_err("no TLS on the server"));
    assert!(
        e.contains("the server does not offer TLS, and sslmode=require needs it — turn ssl on"),
        "{e}"
    );
    assert!(!e.contains(pg.password()), "{e}");
    let mut journal =
        PgJournal::connect(&target(&pg.tcp_url("127.0.0.1", "sslmode=prefer"))).expect("prefer");
    assert!(!over_tls(&mut journal));
    journal.migrate().expect("migrate");
    // Without TLS there is no channel to bind the login to.
    let t = target(&format!(
        "host=127.0.0.1 port={} user=melli password={} dbname=melli channel_binding=require",
        pg.port(),
        pg.password()
    ));
    let e = PgJournal::connect(&t).expect_err("no channel binding without TLS");
    assert!(!e.to_string().contains(pg.password()), "{e}");
}

#[test]
fn the_peer_role_logs_in_on_the_socket_without_a_password() {
    use melli_testkit::postgres::{Options, PEER_ROLE};
    let pg = Postgres::start_with(Options {
        peer_role: true,
        ..Options::default()
    });
    let t = target(&pg.peer_key_value());
    assert!(t.config().get_password().is_none());
    let mut journal = PgJournal::connect(&t).expect("peer authentication");
    let user: String = journal
        .client()
        .query_one("SELECT current_user::text", &[])
        .expect("query")
        .get(0);
    assert_eq!(user, PEER_ROLE);
    journal.migrate().expect("migrate as the peer role");
    assert_eq!(journal.version().expect("version"), Some(SCHEMA_VERSION));
    // sslmode means nothing on a socket (as in libpq): even verify-full connects.
    let ca = pg.socket_dir().join("unused.pem");
    let t = target(&format!(
        "{} sslmode=verify-full sslrootcert={}",
        pg.peer_key_value(),
        ca.display()
    ));
    PgJournal::open(&t).expect("sslmode is ignored on a socket");
    // Peer maps this system user to the peer role only: as melli, a password is still asked.
    let t = target(&format!(
        "host={} port={} user=melli dbname=melli",
        pg.socket_dir().display(),
        pg.port()
    ));
    let e = PgJournal::connect(&t).expect_err("no password for melli");
    assert!(matches!(e, PgError::Refused { .. }), "{e}");
    assert!(
        e.to_string()
            .contains("the server asks for a password and the connection string has none"),
        "{e}"
    );
}
