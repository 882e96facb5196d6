//! Certificate profiles are allow lists (applets-spec §9.3.6).

use super::*;

/// With openssl alone, in `dir`: a P-256 key `NAME.key`, and `NAME.pem`, a certificate for it
/// with subject `subject` and the extensions of `ext` (an openssl extfile), issued by
/// `ca_cert` / `ca_key` (files in `dir`).
fn openssl_certificate(
    dir: &Path,
    name: &str,
    subject: &str,
    ext: &str,
    ca_cert: &str,
    ca_key: &str,
) -> Certificate {
    let key = format!("{name}.key");
    let csr = format!("{name}.csr");
    let pem = format!("{name}.pem");
    let extfile = format!("{name}.ext");
    fs::write(
        dir.join(&extfile),
        format!("{ext}\nsubjectKeyIdentifier = hash\nauthorityKeyIdentifier = keyid\n"),
    )
    .unwrap();
    for args in [
        vec![
            "genpkey",
            "-algorithm",
            "EC",
            "-pkeyopt",
            "ec_paramgen_curve:P-256",
            "-out",
            &key,
        ],
        vec![
            "req", "-new", "-utf8", "-key", &key, "-subj", subject, "-out", &csr,
        ],
        vec![
            "x509", "-req", "-in", &csr, "-CA", ca_cert, "-CAkey", ca_key, "-days", "30",
            "-sha256", "-extfile", &extfile, "-out", &pem,
        ],
    ] {
        let (ok, out) = openssl(dir, &args);
        assert!(ok, "openssl {args:?}: {out}");
    }
    cert::from_pem_or_der(&fs::read(dir.join(&pem)).unwrap()).unwrap()
}

/// Document signers made by openssl under the test root, one rule broken each: the security
/// object that openssl signs with each (applets-spec §9.2's informative command) fails the
/// document signer chain naming the rule, and nothing else; the good ones pass.
#[test]
fn document_signer_profile_is_an_allow_list() {
    let card = Card::new();
    let dir = card.dir();
    let content = crate::pki::security_object::encode_content(SERIAL, &card.group_refs()).unwrap();
    card.write("so.der", &content);
    const GOOD: &str = "basicConstraints = critical, CA:FALSE\n\
                        keyUsage = critical, digitalSignature";
    let cases: [(&str, String, Option<&str>); 11] = [
        ("good", GOOD.into(), None),
        (
            "no-basic-constraints",
            "keyUsage = critical, digitalSignature".into(),
            None,
        ),
        (
            "no-key-usage",
            "basicConstraints = critical, CA:FALSE".into(),
            Some("document signer certificate: keyUsage is missing"),
        ),
        (
            "key-usage-not-critical",
            "basicConstraints = critical, CA:FALSE\nkeyUsage = digitalSignature".into(),
            Some("document signer certificate: keyUsage is not critical"),
        ),
        (
            "extra-key-encipherment",
            "basicConstraints = critical, CA:FALSE\n\
             keyUsage = critical, digitalSignature, keyEncipherment"
                .into(),
            Some("document signer certificate: keyUsage has keyEncipherment"),
        ),
        (
            "extra-non-repudiation",
            "basicConstraints = critical, CA:FALSE\n\
             keyUsage = critical, digitalSignature, nonRepudiation"
                .into(),
            Some("document signer certificate: keyUsage has nonRepudiation"),
        ),
        (
            "server-auth",
            format!("{GOOD}\nextendedKeyUsage = serverAuth"),
            Some("document signer certificate: extendedKeyUsage is present (serverAuth)"),
        ),
        (
            "ocsp-signing",
            format!("{GOOD}\nextendedKeyUsage = OCSPSigning"),
            Some("document signer certificate: extendedKeyUsage is present (OCSPSigning)"),
        ),
        (
            "email-protection",
            format!("{GOOD}\nextendedKeyUsage = emailProtection"),
            Some("document signer certificate: extendedKeyUsage is present (emailProtection)"),
        ),
        (
            "ca-true",
            "basicConstraints = critical, CA:TRUE\nkeyUsage = critical, digitalSignature".into(),
            Some("document signer certificate is a CA certificate"),
        ),
        (
            "key-cert-sign",
            "basicConstraints = critical, CA:FALSE\n\
             keyUsage = critical, digitalSignature, keyCertSign"
                .into(),
            Some("document signer certificate: keyUsage has keyCertSign"),
        ),
    ];
    // The root key is kept apart, in the root directory beside the issuer's.
    let root_key = card.tmp.path().join("issuer-root").join(files::ROOT_KEY);
    let root_key = root_key.to_str().unwrap();
    for (name, ext, expected) in cases {
        openssl_certificate(
            &dir,
            name,
            &format!("/C=IR/O=melli test issuer/CN=DS {name}"),
            &ext,
            files::ROOT_CERT,
            root_key,
        );
        let so = format!("{name}.so.der");
        let (ok, out) = openssl(
            &dir,
            &[
                "cms",
                "-sign",
                "-binary",
                "-nodetach",
                "-nosmimecap",
                "-md",
                "sha256",
                "-econtent_type",
                crate::spec::oid::SECURITY_OBJECT,
                "-signer",
                &format!("{name}.pem"),
                "-inkey",
                &format!("{name}.key"),
                "-in",
                "so.der",
                "-outform",
                "DER",
                "-out",
                &so,
            ],
        );
        assert!(ok, "{name}: {out}");
        let verdict = card.verify(&fs::read(dir.join(&so)).unwrap(), &card.group_refs());
        let failures: Vec<String> = verdict
            .failures()
            .map(|c| format!("{}: {}", c.name, c.detail))
            .collect();
        match expected {
            None => assert!(verdict.passed(), "{name}: {verdict}"),
            Some(rule) => {
                assert_eq!(failures.len(), 1, "{name}: {verdict}");
                let want = format!("{}: {rule}", check::DOCUMENT_SIGNER);
                assert!(
                    failures[0].starts_with(&want),
                    "{name}: expected {want:?}, got {:?}",
                    failures[0]
                );
            }
        }
    }
}
