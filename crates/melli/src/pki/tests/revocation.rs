//! Revocation through the library: an issuer with CRL and OCSP URLs, a holder certificate
//! recorded in index.txt, revoked, CRLs, and the offline check (fresh, revoked, stale,
//! foreign).

use super::*;
use crate::pki::issuer::{InitOptions, RevocationUrls, RootCa};
use crate::pki::keys::no_secret;
use crate::pki::revocation::{check_chains, parse_crl, CrlInput, Database, Reason, Target};

const HOUR: Duration = Duration::from_secs(3600);

fn issuer_with_urls(dir: &Path) -> Issuer {
    let options = InitOptions {
        urls: RevocationUrls {
            crl: Some("http://127.0.0.1:8080/signing-ca.crl".into()),
            ocsp: Some("http://127.0.0.1:8081".into()),
            ..RevocationUrls::default()
        },
        ..InitOptions::plain(dir)
    };
    Issuer::init(dir, &options, &mut no_secret).unwrap()
}

fn holder(issuer: &Issuer, card: &str) -> Certificate {
    let key = SigningKey::random(&mut OsRng);
    let point = key.verifying_key().to_encoded_point(false);
    let der = issuer
        .issue_holder_certificate(&HolderRequest {
            card_serial: Some(card),
            public_key: point.as_bytes(),
            subject: &subject(),
            card_expiry: GregorianDate {
                year: 2032,
                month: 3,
                day: 20,
            },
        })
        .unwrap();
    Certificate::from_der(&der).unwrap()
}

fn crls(issuer: &Issuer, dir: &Path, at: SystemTime) -> Vec<CrlInput> {
    let root = RootCa::load(&issuer::default_root_dir(dir), &mut no_secret).unwrap();
    vec![
        CrlInput {
            label: "ca.crl".into(),
            crl: parse_crl(&issuer.signing_ca_crl(at, HOUR).unwrap()).unwrap(),
        },
        CrlInput {
            label: "root.crl".into(),
            crl: parse_crl(&root.crl(issuer, at, HOUR).unwrap()).unwrap(),
        },
    ]
}

use crate::pki::issuer;

#[test]
fn a_revoked_holder_fails_and_stale_or_foreign_crls_do_not_count() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("issuer");
    let issuer = issuer_with_urls(&dir);
    assert!(!dir.join("index.txt").exists(), "made when first needed");
    let cert = holder(&issuer, "MC0000000042");
    let cas = vec![issuer.signing_ca_certificate().clone()];
    let root = issuer.root_certificate().clone();
    let now = SystemTime::now();

    // The URLs are in the certificate, and the verifier's profile accepts them.
    let ext_ids: Vec<_> = cert
        .tbs_certificate
        .extensions
        .iter()
        .flatten()
        .map(|e| (e.extn_id, e.critical))
        .collect();
    assert!(ext_ids.contains(&(cert::ID_CE_CRL_DISTRIBUTION_POINTS, false)));
    assert!(ext_ids.contains(&(cert::ID_PE_AUTHORITY_INFO_ACCESS, false)));
    verify_path(
        &cert,
        "holder certificate",
        LeafPurpose::DocumentSignature,
        &cas,
        &root,
        now,
    )
    .unwrap();

    assert_eq!(
        fs::read_to_string(dir.join("index.txt.attr")).unwrap(),
        "unique_subject = no\n"
    );
    // index.txt: the issuer's own two certificates, then the holder's.
    let entries = Database::new(&dir).entries().unwrap();
    assert_eq!(entries.len(), 3);
    assert_eq!(entries[2].file, "card-MC0000000042");
    assert_eq!(
        entries[2].serial,
        hex::encode_upper(cert.tbs_certificate.serial_number.as_bytes())
    );
    assert!(entries[2]
        .subject
        .starts_with("/C=IR/serialNumber=0012345679/SN=Rezaei/GN=Ali/"));

    let chains = |crls: &[CrlInput], at| {
        check_chains(
            &[(&cert, "holder certificate", &cas)],
            &root,
            crls,
            at,
            false,
        )
    };
    let fresh = crls(&issuer, &dir, now);
    let check = chains(&fresh, now).unwrap();
    assert!(check.passed && !check.unknown, "{check}");

    // Only the signing CA's CRL: the signing CA's own status is unknown.
    let check = chains(&fresh[..1], now).unwrap();
    assert!(!check.passed && check.unknown, "{check}");
    assert!(check.detail.contains("no CRL of melli Root CA"), "{check}");

    Database::new(&dir)
        .revoke(
            &Target::Card("MC0000000042".into()),
            Some(Reason::KeyCompromise),
            now,
        )
        .unwrap();
    let after = crls(&issuer, &dir, now);
    assert_ne!(
        after[0].crl.tbs_cert_list.crl_extensions, fresh[0].crl.tbs_cert_list.crl_extensions,
        "a new CRL number"
    );
    let check = chains(&after, now).unwrap();
    assert!(!check.passed && !check.unknown, "{check}");
    assert!(
        check.detail.starts_with("holder certificate revoked on "),
        "{check}"
    );
    assert!(check.detail.ends_with(": keyCompromise"), "{check}");

    // Two hours later the CRLs are stale: unknown, not a pass.
    let later = now + 2 * HOUR;
    let check = chains(&after, later).unwrap();
    assert!(!check.passed && check.unknown, "{check}");
    assert!(check.detail.contains("is stale"), "{check}");

    // Another issuer's CRLs (same names, other keys) are refused.
    let other_dir = tmp.path().join("other");
    let other = Issuer::init_plain(&other_dir).unwrap();
    let foreign = crls(&other, &other_dir, now);
    let err = chains(&foreign, now).unwrap_err();
    assert!(
        err.reason
            .contains("does not verify with the key of melli Signing CA"),
        "{err}"
    );
}

#[test]
fn urls_must_be_http() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("issuer");
    let options = InitOptions {
        urls: RevocationUrls {
            crl: Some("ldap://x y".into()),
            ocsp: None,
            ..RevocationUrls::default()
        },
        ..InitOptions::plain(&dir)
    };
    let err = Issuer::init(&dir, &options, &mut no_secret).unwrap_err();
    assert!(err.to_string().contains("not an http"), "{err}");
}
