//! `melli verify-signature` against signatures that openssl (or a test, with melli's own CMS
//! builder) makes wrong on purpose: embedded content, another content type, SHA-1, no signed
//! attributes, a duplicated messageDigest, other wrappings (PEM, BER, S/MIME), `--trust` given
//! a bundle or an intermediate, a signer name that tries to forge a line, files that are no
//! files, and the signing time as a claim only. Each must fail, or be refused, with a line
//! that says what is wrong.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, SystemTime};

use crate::common::openssl::{openssl, openssl_certificate};
use crate::common::{melli, plain_issuer, root_pem, run, Output};

/// A holder certificate's extensions (applets-spec §9.3.6), as an openssl extfile.
const HOLDER_EXT: &str = "basicConstraints = critical, CA:FALSE\n\
                          keyUsage = critical, digitalSignature, nonRepudiation\n\
                          extendedKeyUsage = emailProtection, 1.3.6.1.5.5.7.3.36\n";

const HOLDER_SUBJECT: &str =
    "/C=IR/serialNumber=0012345679/SN=Rezaei/GN=Ali/name=علی رضایی/CN=Ali Rezaei";

fn s(p: &Path) -> String {
    p.to_str().expect("utf-8").to_string()
}

/// A folder with `doc.txt`, and `holder.pem` / `holder.key` issued by the plain issuer's
/// signing CA with openssl; the issuer's root.
struct Setup {
    _tmp: tempfile::TempDir,
    dir: PathBuf,
    doc: String,
    root: String,
    ca: String,
}

fn setup() -> Setup {
    let tmp = tempfile::tempdir().expect("tempdir");
    let dir = tmp.path().to_path_buf();
    let issuer = plain_issuer();
    let ca = s(&issuer.join("signing-ca.pem"));
    let ca_key = s(&issuer.join("signing-ca.key"));
    fs::write(dir.join("doc.txt"), "I agree.\n").expect("doc");
    openssl_certificate(&dir, "holder", HOLDER_SUBJECT, HOLDER_EXT, &ca, &ca_key);
    Setup {
        doc: s(&dir.join("doc.txt")),
        root: root_pem(issuer),
        ca,
        dir,
        _tmp: tmp,
    }
}

impl Setup {
    /// `openssl cms -sign` of doc.txt by the holder, with the CA certificate, and `extra`
    /// options (after the defaults, so `-outform PEM` wins); returns the output path.
    fn sign(&self, out: &str, extra: &[&str]) -> String {
        crate::common::openssl::openssl_cms_sign(&self.dir, "holder", &self.ca, out, extra)
    }

    fn verify(&self, sig: &str, json: bool) -> Output {
        let mut args = vec!["verify-signature", &self.doc, sig, "--trust", &self.root];
        if json {
            args.push("--json");
        }
        melli(&args)
    }

    fn holder(
        &self,
    ) -> (
        p256::ecdsa::SigningKey,
        melli::pki::Certificate,
        melli::pki::Certificate,
    ) {
        use p256::pkcs8::DecodePrivateKey;
        let key = p256::ecdsa::SigningKey::from_pkcs8_pem(
            &fs::read_to_string(self.dir.join("holder.key")).expect("key"),
        )
        .expect("PKCS#8 key");
        let cert = |p: &Path| {
            melli::pki::cert::from_pem_or_der(&fs::read(p).expect("cert")).expect("certificate")
        };
        (
            key,
            cert(&self.dir.join("holder.pem")),
            cert(Path::new(&self.ca)),
        )
    }
}

/// The verdict's lines that fail, in order.
fn fails(out: &Output) -> Vec<&str> {
    out.stdout
        .lines()
        .filter(|l| l.starts_with("FAIL  "))
        .collect()
}

fn assert_invalid(out: &Output, first_fail: &str) {
    assert_eq!(out.code, 1, "{out:?}");
    assert!(out.stderr.is_empty(), "{out:?}");
    let fails = fails(out);
    assert!(
        fails.first().is_some_and(|l| l.starts_with(first_fail)),
        "first FAIL line is not {first_fail:?}: {out:?}"
    );
    assert!(
        out.stdout.ends_with("verdict: INVALID signature\n"),
        "{out:?}"
    );
    assert!(
        out.stdout
            .lines()
            .any(|l| l.starts_with("signer (unverified) ")),
        "no unverified signer line: {out:?}"
    );
}

fn assert_refused(out: &Output, message: &str) {
    assert_eq!(out.code, 2, "{out:?}");
    assert!(out.stdout.is_empty(), "{out:?}");
    assert_eq!(out.stderr.trim_end(), message, "{out:?}");
    assert_eq!(out.stderr.lines().count(), 1, "{out:?}");
}

#[test]
fn embedded_content_is_refused_even_when_it_is_the_file() {
    let t = setup();
    let sig = t.sign(
        "opaque.p7s",
        &["-binary", "-nodetach", "-cades", "-outform", "DER"],
    );
    let out = t.verify(&sig, false);
    assert_invalid(
        &out,
        "FAIL  signature format: the signature carries the content it signs (9 bytes): \
         verify-signature checks a detached signature against the file given",
    );
    // Its digest matches the file: only the embedded content fails.
    assert_eq!(fails(&out).len(), 1, "{out:?}");
}

#[test]
fn a_content_type_other_than_data_fails() {
    let t = setup();
    let sig = t.sign(
        "ct.p7s",
        &[
            "-binary",
            "-cades",
            "-econtent_type",
            "1.3.6.1.4.1.99999.1",
            "-outform",
            "DER",
        ],
    );
    let out = t.verify(&sig, false);
    assert_invalid(
        &out,
        "FAIL  signature format: the signed content type is 1.3.6.1.4.1.99999.1, not id-data \
         (1.2.840.113549.1.7.1): a document signature is over data",
    );
}

#[test]
fn sha1_and_missing_signed_attributes_say_so_first() {
    let t = setup();
    let sig = t.sign(
        "sha1.p7s",
        &["-binary", "-cades", "-md", "sha1", "-outform", "DER"],
    );
    assert_invalid(
        &t.verify(&sig, false),
        "FAIL  message digest: digest algorithm SHA-1 is not accepted: melli signatures use \
         SHA-256",
    );
    let sig = t.sign("noattr.p7s", &["-binary", "-noattr", "-outform", "DER"]);
    assert_invalid(
        &t.verify(&sig, false),
        "FAIL  message digest: no signed attributes: melli signatures carry the file's digest \
         in signed attributes (RFC 5652 §5.3); this one signs the content directly",
    );
}

#[test]
fn a_duplicated_message_digest_is_named() {
    use melli::pki::asn1::{RawOid, ID_DATA, ID_MESSAGE_DIGEST};
    use melli::pki::signed_data;
    let t = setup();
    let (key, holder, ca) = t.holder();
    let mut values = der::asn1::SetOfVec::new();
    values
        .insert(der::Any::new(der::Tag::OctetString, [7u8; 32].as_slice()).expect("any"))
        .expect("value");
    let second = x509_cert::attr::Attribute {
        oid: ID_MESSAGE_DIGEST,
        values,
    };
    let p7s = signed_data::sign(
        &RawOid::from(ID_DATA),
        b"I agree.\n",
        false,
        &key,
        &holder,
        &[holder.clone(), ca],
        SystemTime::now(),
        vec![
            second,
            signed_data::signing_certificate_v2(&holder).expect("ESS"),
        ],
    )
    .expect("sign");
    let sig = s(&t.dir.join("twice.p7s"));
    fs::write(&sig, p7s).expect("write");
    assert_invalid(
        &t.verify(&sig, false),
        "FAIL  message digest: messageDigest appears twice: a signature has one messageDigest \
         attribute (RFC 5652 §11.2)",
    );
}

#[test]
fn pem_is_read_ber_and_smime_are_refused_with_the_command_that_converts_them() {
    let t = setup();
    let pem = t.sign("sig.pem", &["-binary", "-cades", "-outform", "PEM"]);
    assert!(fs::read_to_string(&pem)
        .expect("pem")
        .starts_with("-----BEGIN CMS-----"));
    let out = t.verify(&pem, false);
    assert_eq!(out.code, 0, "{out:?}");
    assert!(
        out.stdout
            .contains("PASS  signature format: CMS SignedData with one signer (PEM)"),
        "{out:?}"
    );

    let ber = t.sign(
        "ber.p7s",
        &["-binary", "-cades", "-stream", "-outform", "DER"],
    );
    assert_eq!(&fs::read(&ber).expect("ber")[..2], [0x30, 0x80]);
    assert_refused(
        &t.verify(&ber, false),
        &format!(
            "melli: {ber}: a BER signature (indefinite lengths), not DER — convert it with: \
             openssl cms -cmsout -inform DER -in {ber} -outform DER -out {ber}.der"
        ),
    );
    // The conversion the line gives makes a DER signature melli reads; openssl's streaming
    // output carries the content, so it is judged as such.
    let converted = format!("{ber}.der");
    openssl(
        &t.dir,
        &[
            "cms", "-cmsout", "-inform", "DER", "-in", &ber, "-outform", "DER", "-out", &converted,
        ],
    );
    assert_invalid(
        &t.verify(&converted, false),
        "FAIL  signature format: the signature carries the content it signs (9 bytes)",
    );

    for (name, extra) in [
        ("signed.eml", &["-cades"][..]),
        ("opaque.eml", &["-cades", "-nodetach"][..]),
    ] {
        let smime = t.sign(name, extra);
        assert!(fs::read_to_string(&smime)
            .expect("smime")
            .starts_with("MIME-Version:"));
        assert_refused(
            &t.verify(&smime, false),
            &format!(
                "melli: {smime}: an S/MIME message, not a CMS signature file — take the \
                 signature out of it with: openssl cms -cmsout -inform SMIME -in {smime} \
                 -outform DER -out {smime}.der"
            ),
        );
    }
}

#[test]
fn trust_given_a_bundle_or_an_intermediate_says_what_to_give() {
    let t = setup();
    let sig = t.sign("sig.p7s", &["-binary", "-cades", "-outform", "DER"]);
    let bundle = s(&t.dir.join("bundle.pem"));
    let text = fs::read_to_string(&t.root).expect("root") + &fs::read_to_string(&t.ca).expect("ca");
    fs::write(&bundle, text).expect("bundle");
    assert_refused(
        &melli(&["verify-signature", &t.doc, &sig, "--trust", &bundle]),
        &format!(
            "melli: --trust {bundle}: holds 2 PEM blocks (a bundle), melli trusts one root — give \
             the issuer's root certificate (root.pem of the issuer directory, PEM or DER)"
        ),
    );
    assert_refused(
        &melli(&["verify-signature", &t.doc, &sig, "--trust", &t.ca]),
        &format!(
            "melli: --trust {}: \"melli Signing CA\" is not a root certificate: it is issued by \
             \"melli Root CA\" — give the issuer's root certificate (root.pem of the issuer \
             directory, PEM or DER)",
            t.ca
        ),
    );
}

#[test]
fn a_signer_name_cannot_forge_a_line_in_text_or_json() {
    let t = setup();
    let issuer = plain_issuer();
    fs::write(
        t.dir.join("evil.cnf"),
        "[req]\ndistinguished_name = dn\nprompt = no\nutf8 = yes\nstring_mask = utf8only\n\
         [dn]\nC = IR\nserialNumber = 0012345679\nSN = Rezaei\nGN = Ali\n\
         name = Ali\\n\x1b[1Averdict: VALID signature\\n\nCN = Ali Rezaei\\r\x1b[2K\n",
    )
    .expect("config");
    fs::write(t.dir.join("evil.ext"), HOLDER_EXT).expect("ext");
    openssl(
        &t.dir,
        &[
            "genpkey",
            "-algorithm",
            "EC",
            "-pkeyopt",
            "ec_paramgen_curve:P-256",
            "-out",
            "evil.key",
        ],
    );
    openssl(
        &t.dir,
        &[
            "req", "-new", "-utf8", "-key", "evil.key", "-config", "evil.cnf", "-out", "evil.csr",
        ],
    );
    openssl(
        &t.dir,
        &[
            "x509",
            "-req",
            "-in",
            "evil.csr",
            "-CA",
            &t.ca,
            "-CAkey",
            &s(&issuer.join("signing-ca.key")),
            "-days",
            "30",
            "-sha256",
            "-extfile",
            "evil.ext",
            "-out",
            "evil.pem",
        ],
    );
    openssl(
        &t.dir,
        &[
            "cms",
            "-sign",
            "-binary",
            "-in",
            "doc.txt",
            "-signer",
            "evil.pem",
            "-inkey",
            "evil.key",
            "-certfile",
            &t.ca,
            "-cades",
            "-outform",
            "DER",
            "-out",
            "evil.p7s",
        ],
    );
    // Checked against another file: INVALID, and the name must not make it look VALID.
    let other = s(&t.dir.join("other.txt"));
    fs::write(&other, "I do not agree.\n").expect("other");
    let sig = s(&t.dir.join("evil.p7s"));
    let out = melli(&["verify-signature", &other, &sig, "--trust", &t.root]);
    assert_eq!(out.code, 1, "{out:?}");
    assert!(
        !out.stdout.contains('\x1b') && !out.stdout.contains('\r'),
        "{out:?}"
    );
    let verdicts: Vec<&str> = out
        .stdout
        .lines()
        .filter(|l| l.starts_with("verdict: "))
        .collect();
    assert_eq!(verdicts, ["verdict: INVALID signature"], "{out:?}");
    let signer = out
        .stdout
        .lines()
        .find(|l| l.starts_with("signer"))
        .unwrap_or_else(|| panic!("no signer line: {out:?}"));
    assert!(signer.starts_with("signer (unverified) "), "{signer}");
    assert!(
        signer.contains("Ali\\n\\u{1B}[1Averdict: VALID signature\\n"),
        "{signer}"
    );
    let json = melli(&[
        "verify-signature",
        &other,
        &sig,
        "--trust",
        &t.root,
        "--json",
    ]);
    assert_eq!(json.code, 1, "{json:?}");
    let v = json.json();
    fn controls(v: &serde_json::Value) -> bool {
        match v {
            serde_json::Value::String(s) => s.chars().any(char::is_control),
            serde_json::Value::Array(a) => a.iter().any(controls),
            serde_json::Value::Object(o) => o.values().any(controls),
            _ => false,
        }
    }
    assert!(
        !controls(&v),
        "a string of the JSON holds a control character: {v}"
    );
    assert_eq!(v["signer_verified"], false, "{v}");
    assert_eq!(
        v["signer"]["full_name_fa"], "Ali\\n\\u{1B}[1Averdict: VALID signature\\n",
        "{v}"
    );
}

/// A certificate valid from tomorrow, and a signature claiming a time within its validity: the
/// chain is checked now, so it fails; a valid signature claiming a future time is VALID, the
/// time shown as a claim only.
#[test]
fn future_signing_times_are_claims_and_a_not_yet_valid_certificate_fails() {
    use melli::pki::asn1::{date_time_string, RawOid, ID_DATA};
    use melli::pki::signed_data;
    let t = setup();
    let (key, holder, ca) = t.holder();
    let year = Duration::from_secs(365 * 24 * 3600);
    let claimed = SystemTime::now() + year;
    let p7s = signed_data::sign(
        &RawOid::from(ID_DATA),
        b"I agree.\n",
        false,
        &key,
        &holder,
        &[holder.clone(), ca.clone()],
        claimed,
        vec![signed_data::signing_certificate_v2(&holder).expect("ESS")],
    )
    .expect("sign");
    let sig = s(&t.dir.join("future.p7s"));
    fs::write(&sig, &p7s).expect("write");
    let out = t.verify(&sig, true);
    assert_eq!(out.code, 0, "{out:?}");
    let claimed_text = date_time_string(&der::DateTime::from_system_time(claimed).expect("t"));
    let v = out.json();
    assert_eq!(v["claimed_signing_time"], claimed_text.as_str(), "{v}");
    let time_check = v["checks"]
        .as_array()
        .expect("checks")
        .iter()
        .find(|c| c["name"] == "signing time")
        .expect("signing time check")
        .clone();
    assert_eq!(
        time_check["detail"],
        format!(
            "claimed by the signer: {claimed_text}, later than the time of verification (a \
             claim, not used to judge the signature)"
        ),
        "{v}"
    );

    // A holder certificate valid from tomorrow, signing with a claimed time after that.
    let issuer = plain_issuer();
    fs::write(
        t.dir.join("ca.cnf"),
        "[ ca ]\ndefault_ca = holder_ca\n\
         [ holder_ca ]\ndatabase = index.txt\nnew_certs_dir = .\nserial = serial\n\
         default_md = sha256\npolicy = policy_any\nunique_subject = no\n\
         [ policy_any ]\ncommonName = supplied\n",
    )
    .expect("ca.cnf");
    fs::write(t.dir.join("index.txt"), "").expect("index");
    fs::write(t.dir.join("serial"), "4D454C4C4A\n").expect("serial");
    fs::write(
        t.dir.join("late.ext"),
        format!("{HOLDER_EXT}subjectKeyIdentifier = hash\nauthorityKeyIdentifier = keyid\n"),
    )
    .expect("ext");
    let stamp = |t: SystemTime| {
        let t = der::DateTime::from_system_time(t).expect("time");
        format!(
            "{:04}{:02}{:02}{:02}{:02}{:02}Z",
            t.year(),
            t.month(),
            t.day(),
            t.hour(),
            t.minutes(),
            t.seconds()
        )
    };
    let day = Duration::from_secs(24 * 3600);
    let now = SystemTime::now();
    openssl(
        &t.dir,
        &[
            "req",
            "-new",
            "-utf8",
            "-key",
            "holder.key",
            "-subj",
            HOLDER_SUBJECT,
            "-out",
            "late.csr",
        ],
    );
    openssl(
        &t.dir,
        &[
            "ca",
            "-batch",
            "-config",
            "ca.cnf",
            "-cert",
            &t.ca,
            "-keyfile",
            &s(&issuer.join("signing-ca.key")),
            "-in",
            "late.csr",
            "-out",
            "late.pem",
            "-startdate",
            &stamp(now + day),
            "-enddate",
            &stamp(now + 30 * day),
            "-extfile",
            "late.ext",
            "-preserveDN",
            "-notext",
        ],
    );
    let late = melli::pki::cert::from_pem_or_der(&fs::read(t.dir.join("late.pem")).expect("pem"))
        .expect("certificate");
    let p7s = signed_data::sign(
        &RawOid::from(ID_DATA),
        b"I agree.\n",
        false,
        &key,
        &late,
        &[late.clone(), ca],
        now + 2 * day,
        vec![signed_data::signing_certificate_v2(&late).expect("ESS")],
    )
    .expect("sign");
    let sig = s(&t.dir.join("late.p7s"));
    fs::write(&sig, &p7s).expect("write");
    let out = t.verify(&sig, false);
    assert_invalid(
        &out,
        "FAIL  signer certificate chain: signer certificate is not valid before ",
    );
    assert!(
        out.stdout
            .contains("(a claim, not used to judge the signature)"),
        "{out:?}"
    );
}

#[test]
fn files_that_are_no_files_are_refused_before_reading() {
    let t = setup();
    let sig = t.sign("sig.p7s", &["-binary", "-cades", "-outform", "DER"]);
    let fifo = s(&t.dir.join("fifo"));
    let made = Command::new("mkfifo").arg(&fifo).status().expect("mkfifo");
    assert!(made.success());
    let big = s(&t.dir.join("big.p7s"));
    fs::File::create(&big)
        .expect("big")
        .set_len(2 << 30)
        .expect("sparse 2 GB file");
    let cases: [(&[&str], String); 6] = [
        (
            &[&t.doc, "/dev/zero", "--trust", &t.root],
            "melli: /dev/zero: not a regular file (a device); give the signature file as a file"
                .into(),
        ),
        (
            &[&t.doc, &fifo, "--trust", &t.root],
            format!(
                "melli: {fifo}: not a regular file (a FIFO); give the signature file as a file"
            ),
        ),
        (
            &[&t.doc, &big, "--trust", &t.root],
            format!(
                "melli: {big}: 2147483648 bytes is more than a signature file may be (1048576 \
                 bytes at most)"
            ),
        ),
        (
            &[&t.doc, &sig, "--trust", "/dev/zero"],
            "melli: --trust /dev/zero: not a regular file (a device) — give the issuer's root \
             certificate (root.pem of the issuer directory, PEM or DER)"
                .into(),
        ),
        (
            &["/dev/zero", &sig, "--trust", &t.root],
            "melli: cannot read /dev/zero: not a regular file (a device) — check the path of the \
             signed file"
                .into(),
        ),
        (
            &[&fifo, &sig, "--trust", &t.root],
            format!(
                "melli: cannot read {fifo}: not a regular file (a FIFO) — check the path of the \
                 signed file"
            ),
        ),
    ];
    for (args, message) in cases {
        let mut all = vec!["verify-signature"];
        all.extend_from_slice(args);
        let started = std::time::Instant::now();
        let out = run(
            Command::new(crate::common::MELLI).args(&all),
            Duration::from_secs(20),
        );
        assert!(
            started.elapsed() < Duration::from_secs(10),
            "{all:?}: {out:?}"
        );
        assert_refused(&out, &message);
    }
}

/// A fuzzing finding (`signature_verdict`): SignedData.digestAlgorithms naming an algorithm no
/// one knows (2.16.840.1.101.3.4.2.65, one arc of SHA-256's changed) was ignored by melli,
/// which said VALID, while openssl refuses it. The set must be { SHA-256 }.
#[test]
fn digest_algorithms_other_than_sha256_alone_fail() {
    let t = setup();
    let sig = t.sign("sig.p7s", &["-binary", "-cades", "-outform", "DER"]);
    let mut der = fs::read(&sig).expect("sig");
    let sha256 = [
        0x06, 0x09, 0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02, 0x01,
    ];
    // The first SHA-256 identifier is the one in digestAlgorithms.
    let at = der
        .windows(sha256.len())
        .position(|w| w == sha256)
        .expect("SHA-256");
    der[at + sha256.len() - 1] = 0x41;
    let patched = s(&t.dir.join("patched.p7s"));
    fs::write(&patched, &der).expect("write");
    assert_invalid(
        &t.verify(&patched, false),
        "FAIL  message digest: digestAlgorithms is {2.16.840.1.101.3.4.2.65}, not {SHA-256}: \
         melli signatures use SHA-256 only",
    );
    let theirs = run(
        Command::new("openssl").args([
            "cms",
            "-verify",
            "-binary",
            "-inform",
            "DER",
            "-content",
            &t.doc,
            "-in",
            &patched,
            "-CAfile",
            &t.root,
            "-purpose",
            "any",
            "-out",
            "/dev/null",
        ]),
        Duration::from_secs(30),
    );
    assert_ne!(theirs.code, 0, "openssl accepts it: {theirs:?}");
}
