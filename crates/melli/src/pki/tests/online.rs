//! Revocation online through the library: a holder certificate whose OCSP responder and CRL
//! distribution point are a test HTTP server on 127.0.0.1, answering as each case needs; the
//! statuses `statuses` finds and the order it asks in.

use std::sync::{Arc, Mutex};

use melli_testkit::http_server::{HttpServer, Reply};
use p256::pkcs8::DecodePrivateKey;
use x509_ocsp::CertStatus as OcspStatus;

use super::*;
use crate::pki::issuer::{InitOptions, RevocationUrls, RootCa};
use crate::pki::keys::no_secret;
use crate::pki::revocation::ocsp::tests::Answer;
use crate::pki::revocation::{
    parse_crl, path_certs, statuses, CertStatus, CrlInput, Database, Reason, Sources, Target,
};

const HOUR: Duration = Duration::from_secs(3600);

/// What the server answers: the OCSP status (`None`: HTTP 500), and the CRL at `/ca.crl`
/// (`None`: 404).
#[derive(Clone, Default)]
struct Serve {
    ocsp: Option<OcspStatus>,
    crl: Option<Vec<u8>>,
}

fn server(dir: &Path, serve: Arc<Mutex<Serve>>) -> HttpServer {
    let dir = dir.to_path_buf();
    HttpServer::start(move |r| {
        let serve = serve.lock().unwrap().clone();
        match r.path.as_str() {
            "/ocsp" => {
                let Some(status) = serve.ocsp else {
                    return Reply::error(500, "down");
                };
                let ca = read_pem(&dir.join(files::SIGNING_CA_CERT));
                let pem = fs::read_to_string(dir.join(files::SIGNING_CA_KEY)).unwrap();
                let key = SigningKey::from_pkcs8_pem(&pem).unwrap();
                let answer = Answer::to(&r.body, &ca, &key, status).der();
                Reply::ok("application/ocsp-response", answer)
            }
            "/ca.crl" => match serve.crl {
                Some(crl) => Reply::ok("application/pkix-crl", crl),
                None => Reply::error(404, "not published"),
            },
            _ => Reply::error(404, "no"),
        }
    })
}

fn read_pem(path: &Path) -> Certificate {
    cert::from_pem_or_der(&fs::read(path).unwrap()).unwrap()
}

#[test]
fn ocsp_first_then_the_distribution_point_and_a_revocation_anywhere_counts() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("issuer");
    let serve = Arc::new(Mutex::new(Serve::default()));
    let http = server(&dir, Arc::clone(&serve));
    let options = InitOptions {
        urls: RevocationUrls {
            crl: Some(http.url("/ca.crl")),
            ocsp: Some(http.url("/ocsp")),
            ..RevocationUrls::default()
        },
        ..InitOptions::plain(&dir)
    };
    let issuer = Issuer::init(&dir, &options, &mut no_secret).unwrap();
    let key = SigningKey::random(&mut OsRng);
    let point = key.verifying_key().to_encoded_point(false);
    let holder = Certificate::from_der(
        &issuer
            .issue_holder_certificate(&HolderRequest {
                card_serial: Some("MC0000000077"),
                public_key: point.as_bytes(),
                subject: &subject(),
                card_expiry: GregorianDate {
                    year: 2032,
                    month: 3,
                    day: 20,
                },
            })
            .unwrap(),
    )
    .unwrap();
    let cas = vec![issuer.signing_ca_certificate().clone()];
    let root = issuer.root_certificate().clone();
    let certs = path_certs(&[(&holder, "holder certificate", &cas)], &root).unwrap();
    assert_eq!(certs.len(), 2, "holder and signing CA");
    let now = SystemTime::now();
    let root_ca =
        RootCa::load(&crate::pki::issuer::default_root_dir(&dir), &mut no_secret).unwrap();
    let root_crl = vec![CrlInput {
        label: "root.crl".into(),
        crl: parse_crl(&root_ca.crl(&issuer, now, HOUR).unwrap()).unwrap(),
    }];
    let online = |crls: &[CrlInput]| {
        statuses(
            &certs,
            &Sources {
                crls,
                online: true,
                ..Sources::default()
            },
            now,
        )
        .unwrap()
    };

    // OCSP answers for the holder; the signing CA names no responder: the root's CRL given.
    serve.lock().unwrap().ocsp = Some(OcspStatus::good());
    let got = online(&root_crl);
    assert_eq!(got[0], CertStatus::Good { by: "OCSP".into() });
    assert_eq!(
        got[1],
        CertStatus::Good {
            by: "fresh CRLs".into()
        }
    );
    // Without it the signing CA's status is unknown, and why.
    match &online(&[])[1] {
        CertStatus::Unknown(why) => assert_eq!(
            why,
            "it names no OCSP responder; it names no CRL distribution point"
        ),
        other => panic!("{other:?}"),
    }

    // The responder fails and nothing is published: unknown, each source's reason.
    serve.lock().unwrap().ocsp = None;
    match &online(&root_crl)[0] {
        CertStatus::Unknown(why) => {
            assert!(
                why.starts_with(&format!(
                    "OCSP responder {} answered HTTP 500; CRL distribution point {} answered HTTP 404",
                    http.url("/ocsp"),
                    http.url("/ca.crl")
                )),
                "{why}"
            );
        }
        other => panic!("{other:?}"),
    }
    // The distribution point's CRL answers instead.
    serve.lock().unwrap().crl = Some(issuer.signing_ca_crl(now, HOUR).unwrap());
    assert_eq!(
        online(&root_crl)[0],
        CertStatus::Good {
            by: "fresh CRLs".into()
        }
    );
    // A CRL at the distribution point that another CA signed is refused there.
    let other_dir = tmp.path().join("other");
    let other = Issuer::init_plain(&other_dir).unwrap();
    serve.lock().unwrap().crl = Some(other.signing_ca_crl(now, HOUR).unwrap());
    match &online(&root_crl)[0] {
        CertStatus::Unknown(why) => assert!(
            why.contains(&format!(
                "the CRL at {} is refused: its signature does not verify with the key of melli Signing CA",
                http.url("/ca.crl")
            )),
            "{why}"
        ),
        other => panic!("{other:?}"),
    }

    // Revoked on a CRL given, though the responder says good: revoked.
    Database::new(&dir)
        .revoke(
            &Target::Card("MC0000000077".into()),
            Some(Reason::Superseded),
            now,
        )
        .unwrap();
    serve.lock().unwrap().ocsp = Some(OcspStatus::good());
    let mut given = root_crl.clone();
    given.push(CrlInput {
        label: "ca.crl".into(),
        crl: parse_crl(&issuer.signing_ca_crl(now, HOUR).unwrap()).unwrap(),
    });
    assert!(matches!(
        &online(&given)[0],
        CertStatus::Revoked {
            reason: "superseded",
            ..
        }
    ));
    // Offline, the same sources without the network.
    let offline = statuses(
        &certs,
        &Sources {
            crls: &root_crl,
            ..Sources::default()
        },
        now,
    )
    .unwrap();
    assert!(
        matches!(&offline[0], CertStatus::Unknown(why) if why.contains("no CRL of melli Signing CA"))
    );
}
