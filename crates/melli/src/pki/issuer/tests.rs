use super::*;
use crate::pki::keys::no_secret;
use std::os::unix::fs::PermissionsExt;

const DAY: Duration = Duration::from_secs(24 * 60 * 60);

fn mode(p: &Path) -> u32 {
    fs::metadata(p).expect("metadata").permissions().mode() & 0o777
}

fn passphrase(
    pass: &'static str,
) -> impl FnMut(&SecretRequest<'_>) -> Result<Zeroizing<String>, PkiError> {
    move |_| Ok(Zeroizing::new(pass.to_string()))
}

#[test]
fn init_keeps_the_root_apart_with_private_modes_and_load_reads_it() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let dir = tmp.path().join("issuer");
    let issuer = Issuer::init_plain(&dir).expect("init");
    let root_dir = tmp.path().join("issuer-root");
    for f in ISSUER_FILES {
        assert!(dir.join(f).is_file(), "{f}");
    }
    assert!(
        !dir.join(files::ROOT_KEY).exists(),
        "the root key is kept apart"
    );
    for f in ROOT_FILES {
        assert!(root_dir.join(f).is_file(), "{f}");
    }
    for f in [
        files::DOCUMENT_SIGNER_KEY,
        files::SIGNING_CA_KEY,
        files::MASTER_KEY,
    ] {
        assert_eq!(mode(&dir.join(f)), 0o600, "{f}");
    }
    assert_eq!(mode(&root_dir.join(files::ROOT_KEY)), 0o600);
    assert_eq!(mode(&dir), 0o700);
    assert_eq!(mode(&root_dir), 0o700);

    let loaded = Issuer::load(&dir, &mut no_secret).expect("load");
    assert_eq!(loaded.root_certificate(), issuer.root_certificate());
    assert_eq!(
        loaded.document_signer_certificate(),
        issuer.document_signer_certificate()
    );
    let a = issuer.card_keys("MC1").expect("keys").to_card_keys();
    let b = loaded.card_keys("MC1").expect("keys").to_card_keys();
    assert_eq!((*a.0, *a.1), (*b.0, *b.1));
    let dbg = format!("{loaded:?}");
    assert!(dbg.contains("REDACTED"));
    let master = fs::read_to_string(dir.join(files::MASTER_KEY)).expect("read");
    assert!(!dbg.contains(master.trim()));
}

#[test]
fn a_key_file_others_can_read_is_refused() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let dir = tmp.path().join("i");
    Issuer::init_plain(&dir).expect("init");
    for f in [files::MASTER_KEY, files::SIGNING_CA_KEY] {
        let path = dir.join(f);
        fs::set_permissions(&path, fs::Permissions::from_mode(0o640)).expect("chmod");
        let err = Issuer::load(&dir, &mut no_secret)
            .expect_err("0640")
            .to_string();
        assert!(
            err.contains(&format!("chmod 600 {}", path.display())),
            "{f}: {err}"
        );
        fs::set_permissions(&path, fs::Permissions::from_mode(0o600)).expect("chmod");
    }
    Issuer::load(&dir, &mut no_secret).expect("0600 again");
}

#[test]
fn encrypted_files_need_the_passphrase() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let dir = tmp.path().join("i");
    let options = InitOptions {
        store: KeyStore::EncryptedFiles,
        root_dir: tmp.path().join("r"),
        root_store: KeyStore::EncryptedFiles,
        urls: RevocationUrls::default(),
    };
    let issuer = Issuer::init(&dir, &options, &mut passphrase("a long passphrase")).expect("init");
    for f in [files::DOCUMENT_SIGNER_KEY, files::SIGNING_CA_KEY] {
        let text = fs::read_to_string(dir.join(f)).expect("read");
        assert!(
            text.starts_with("-----BEGIN ENCRYPTED PRIVATE KEY-----"),
            "{f}"
        );
    }
    let err = Issuer::load(&dir, &mut passphrase("wrong")).expect_err("wrong");
    assert!(err.to_string().contains("wrong passphrase"), "{err}");
    let err = Issuer::load(&dir, &mut no_secret).expect_err("none");
    assert!(err.to_string().contains("passphrase"), "{err}");
    let loaded = Issuer::load(&dir, &mut passphrase("a long passphrase")).expect("load");
    assert_eq!(
        loaded.signing_ca_certificate(),
        issuer.signing_ca_certificate()
    );
    RootCa::load(&tmp.path().join("r"), &mut passphrase("a long passphrase"))
        .expect("the root opens with its passphrase");
}

#[test]
fn init_refuses_the_root_in_the_issuer_directory_or_token() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let dir = tmp.path().join("i");
    let same_dir = InitOptions {
        root_dir: dir.clone(),
        ..InitOptions::plain(&dir)
    };
    let err = Issuer::init(&dir, &same_dir, &mut no_secret).expect_err("same dir");
    assert!(err.to_string().contains("kept apart"), "{err}");
    let token = KeyStore::Pkcs11 {
        module: "/x.so".into(),
        token: "t".into(),
    };
    let same_token = InitOptions {
        store: token.clone(),
        root_dir: tmp.path().join("r"),
        root_store: token,
        urls: RevocationUrls::default(),
    };
    let err = Issuer::init(&dir, &same_token, &mut no_secret).expect_err("same token");
    assert!(err.to_string().contains("a token of its own"), "{err}");
    assert!(!dir.exists() || fs::read_dir(&dir).expect("dir").next().is_none());
}

#[test]
fn init_refuses_non_empty_dir_and_accepts_empty_one() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let full = tmp.path().join("full");
    fs::create_dir(&full).expect("mkdir");
    fs::write(full.join("x"), b"x").expect("write");
    let err = Issuer::init_plain(&full).expect_err("non-empty");
    assert!(matches!(err, PkiError::NotEmpty { .. }), "{err}");
    let empty = tmp.path().join("empty");
    fs::create_dir(&empty).expect("mkdir");
    fs::set_permissions(&empty, fs::Permissions::from_mode(0o755)).expect("chmod");
    let err = Issuer::init_plain(&empty).expect_err("mode 0755");
    assert!(
        err.to_string().ends_with(&format!(
            "mode 0755, but an issuer directory holds keys and must be mode 0700: run chmod 700 {}",
            empty.display()
        )),
        "{err}"
    );
    fs::set_permissions(&empty, fs::Permissions::from_mode(0o700)).expect("chmod");
    let issuer = Issuer::init_plain(&empty).expect("empty dir is fine");
    assert_eq!(issuer.dir(), empty);
    Issuer::load(&empty, &mut crate::pki::keys::no_secret).expect("loads");
    let file = tmp.path().join("file");
    fs::write(&file, b"x").expect("write");
    let err = Issuer::init_plain(&file).expect_err("a file");
    assert_eq!(
        err.to_string(),
        format!(
            "{}: is a file; issuer init needs a new or empty directory",
            file.display()
        )
    );
    // Nothing left beside: no temporary folder, no root of a refused run.
    let mut names: Vec<String> = fs::read_dir(tmp.path())
        .expect("list")
        .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    assert_eq!(names, ["empty", "empty-root", "file", "full"]);
}

#[test]
fn the_loser_of_two_inits_at_once_leaves_the_winners_issuer_whole() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let dir = tmp.path().join("issuer");
    let results: Vec<Result<Issuer, PkiError>> = std::thread::scope(|s| {
        let runs: Vec<_> = (0..2)
            .map(|_| s.spawn(|| Issuer::init_plain(&dir)))
            .collect();
        runs.into_iter().map(|r| r.join().expect("join")).collect()
    });
    let won = results.iter().filter(|r| r.is_ok()).count();
    assert_eq!(won, 1, "{results:?}");
    for r in &results {
        if let Err(e) = r {
            let text = e.to_string();
            assert!(
                text.contains("made by another run meanwhile") || text.contains("not empty"),
                "{text}"
            );
        }
    }
    Issuer::load(&dir, &mut crate::pki::keys::no_secret).expect("the winner's issuer loads");
    let names: Vec<String> = fs::read_dir(tmp.path())
        .expect("list")
        .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
        .collect();
    assert!(names.iter().all(|n| !n.contains(".tmp-")), "{names:?}");
}

#[test]
fn load_names_the_missing_or_bad_file() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let dir = tmp.path().join("i");
    Issuer::init_plain(&dir).expect("init");

    fs::write(dir.join(files::MASTER_KEY), "abc\n").expect("write");
    let err = Issuer::load(&dir, &mut no_secret)
        .expect_err("bad master key")
        .to_string();
    assert!(
        err.contains("master.key") && err.contains("32 hex digits"),
        "{err}"
    );

    fs::remove_file(dir.join(files::SIGNING_CA_KEY)).expect("rm");
    let err = Issuer::load(&dir, &mut no_secret)
        .expect_err("missing")
        .to_string();
    assert!(err.contains("signing-ca.key: missing"), "{err}");

    // The document signer's key swapped for the signing CA's: mismatch.
    fs::copy(
        dir.join(files::DOCUMENT_SIGNER_KEY),
        dir.join(files::SIGNING_CA_KEY),
    )
    .expect("copy");
    let err = Issuer::load(&dir, &mut no_secret)
        .expect_err("mismatch")
        .to_string();
    assert!(
        err.contains("signing-ca.key") && err.contains("does not match"),
        "{err}"
    );

    fs::write(dir.join(files::ROOT_CERT), "garbage").expect("write");
    let err = Issuer::load(&dir, &mut no_secret)
        .expect_err("bad cert")
        .to_string();
    assert!(
        err.contains("root.pem") && err.contains("not an X.509"),
        "{err}"
    );

    fs::write(
        dir.join(files::CONFIG),
        r#"{"format":"melli-issuer/9","keys":{"store":"plain-files"}}"#,
    )
    .expect("write");
    let err = Issuer::load(&dir, &mut no_secret)
        .expect_err("format")
        .to_string();
    assert!(
        err.contains("issuer.json") && err.contains("melli-issuer/9"),
        "{err}"
    );
    fs::remove_file(dir.join(files::CONFIG)).expect("rm");
    let err = Issuer::load(&dir, &mut no_secret)
        .expect_err("old layout")
        .to_string();
    assert!(err.contains("older melli"), "{err}");
}

#[test]
fn load_refuses_a_document_signer_from_another_root() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let (a, b) = (tmp.path().join("a"), tmp.path().join("b"));
    Issuer::init_plain(&a).expect("init a");
    Issuer::init_plain(&b).expect("init b");
    for f in [files::DOCUMENT_SIGNER_CERT, files::DOCUMENT_SIGNER_KEY] {
        fs::copy(b.join(f), a.join(f)).expect("copy");
    }
    let err = Issuer::load(&a, &mut no_secret)
        .expect_err("foreign DS")
        .to_string();
    assert!(err.contains("document-signer.pem"), "{err}");
}

#[test]
fn the_root_issues_a_new_document_signer_keeping_modes() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let dir = tmp.path().join("i");
    let mut issuer = Issuer::init_plain(&dir).expect("init");
    let root = RootCa::load(&tmp.path().join("i-root"), &mut no_secret).expect("root");
    let old = issuer.document_signer_certificate().clone();
    let past = SystemTime::UNIX_EPOCH + Duration::from_secs(1_600_000_000);
    root.issue_document_signer(&mut issuer, past, past + DAY, &mut no_secret)
        .expect("rotate");
    assert_ne!(&old, issuer.document_signer_certificate());
    assert_eq!(mode(&dir.join(files::DOCUMENT_SIGNER_KEY)), 0o600);
    let loaded = Issuer::load(&dir, &mut no_secret).expect("load");
    assert_eq!(
        loaded.document_signer_certificate(),
        issuer.document_signer_certificate()
    );
    // Another issuer's root cannot.
    let other_dir = tmp.path().join("o");
    Issuer::init_plain(&other_dir).expect("other");
    let other = RootCa::load(&tmp.path().join("o-root"), &mut no_secret).expect("root");
    let err = other
        .issue_document_signer(&mut issuer, past, past + DAY, &mut no_secret)
        .expect_err("foreign root");
    assert!(err.to_string().contains("not the root"), "{err}");
}

#[test]
fn an_expired_document_signer_makes_the_issuer_unusable() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let dir = tmp.path().join("i");
    let mut issuer = Issuer::init_plain(&dir).expect("init");
    let root = RootCa::load(&tmp.path().join("i-root"), &mut no_secret).expect("root");
    let now = SystemTime::now();
    issuer.check_usable(now).expect("a new issuer is usable");
    let past = SystemTime::UNIX_EPOCH + Duration::from_secs(1_600_000_000); // 2020-09-13
    root.issue_document_signer(&mut issuer, past, past + DAY, &mut no_secret)
        .expect("rotate");
    let err = issuer.check_usable(now).expect_err("expired").to_string();
    assert!(
        err.contains("document-signer.pem: document signer certificate expired on 2020-09-14"),
        "{err}"
    );
    // Not yet valid is refused as well.
    root.issue_document_signer(&mut issuer, now + DAY, now + 2 * DAY, &mut no_secret)
        .expect("rotate");
    let err = issuer.check_usable(now).expect_err("future").to_string();
    assert!(err.contains("not valid before"), "{err}");
}
