//! Revocation (RFC 5280 §5): the issuer's database of issued and revoked certificates, kept
//! in the format of `openssl ca`'s `index.txt`; CRLs built from it with `x509-cert`'s CRL
//! types and signed through [`IssuerKey`]; and the offline check of a certification path
//! against CRLs that `melli verify --crl` and `melli verify-signature --crl` make.
//!
//! # `index.txt`
//!
//! One line per certificate, six tab-separated columns, as `openssl ca` writes them (so that
//! `openssl ocsp -index index.txt` can serve it):
//!
//! ```text
//! V|R  expiry (YYMMDDHHMMSSZ)  revocation date[,reason] (empty when V)  serial (hex)  file  subject (/C=IR/O=…/CN=…)
//! ```
//!
//! The fifth column, which `openssl ca` fills with `unknown`, holds `card-SERIAL` for a holder
//! certificate (the card it was issued for: what `melli issuer revoke --card` looks for) and
//! `unknown` for the issuer's own certificates. Holder certificates are on the signing CA's
//! CRL, every other entry (document signers, the signing CA) on the root's.
//!
//! Every writer takes an advisory lock (`flock`) on `index.txt.lock` first: an issued
//! certificate is appended (one `write` of one line, synced), a revocation rewrites the file
//! through a temporary file renamed over it. The CRL number is kept in `crlnumber` (hex, as
//! `openssl ca`), shared by both CRLs, and grows by one with each CRL.

use std::fs;
use std::io::Write;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use der::asn1::{BitString, OctetString};
use der::{DateTime, Decode, Encode};
use p256::ecdsa::signature::Verifier;
use p256::ecdsa::{DerSignature, Signature};
use x509_cert::crl::{CertificateList, RevokedCert, TbsCertList};
use x509_cert::ext::pkix::crl::CrlNumber;
use x509_cert::ext::pkix::{AuthorityKeyIdentifier, CrlReason};
use x509_cert::ext::{AsExtension, Extension};
use x509_cert::serial_number::SerialNumber;
use x509_cert::Certificate;

use super::asn1::{self, ecdsa_sha256_algorithm};
use super::cert;
use super::error::PkiError;
use super::keys::IssuerKey;
use super::verdict::Check;

/// The database, in the issuer directory.
pub const INDEX: &str = "index.txt";
/// openssl's attributes of [`INDEX`]: `unique_subject = no`, since a holder whose card is
/// replaced, or a new document signer, has the same subject as before (without it `openssl
/// ocsp -index` and `openssl ca` refuse the index).
pub const INDEX_ATTR: &str = "index.txt.attr";
/// The lock every writer of [`INDEX`] and [`CRL_NUMBER`] takes.
pub const INDEX_LOCK: &str = "index.txt.lock";
/// The last CRL number issued, hex.
pub const CRL_NUMBER: &str = "crlnumber";
/// The name of the check `--crl` adds to a verdict.
pub const CHECK: &str = "revocation";

/// An RFC 5280 §5.3.1 reason code, by the names `openssl ca -crl_reason` uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reason {
    Unspecified,
    KeyCompromise,
    CaCompromise,
    AffiliationChanged,
    Superseded,
    CessationOfOperation,
    CertificateHold,
}

impl Reason {
    const ALL: [Reason; 7] = [
        Reason::Unspecified,
        Reason::KeyCompromise,
        Reason::CaCompromise,
        Reason::AffiliationChanged,
        Reason::Superseded,
        Reason::CessationOfOperation,
        Reason::CertificateHold,
    ];

    /// The name, as openssl writes it (`keyCompromise`, …).
    pub fn name(self) -> &'static str {
        match self {
            Reason::Unspecified => "unspecified",
            Reason::KeyCompromise => "keyCompromise",
            Reason::CaCompromise => "CACompromise",
            Reason::AffiliationChanged => "affiliationChanged",
            Reason::Superseded => "superseded",
            Reason::CessationOfOperation => "cessationOfOperation",
            Reason::CertificateHold => "certificateHold",
        }
    }

    /// The reason named `s` (case-insensitive).
    pub fn parse(s: &str) -> Option<Reason> {
        Self::ALL
            .into_iter()
            .find(|r| r.name().eq_ignore_ascii_case(s))
    }

    fn code(self) -> CrlReason {
        match self {
            Reason::Unspecified => CrlReason::Unspecified,
            Reason::KeyCompromise => CrlReason::KeyCompromise,
            Reason::CaCompromise => CrlReason::CaCompromise,
            Reason::AffiliationChanged => CrlReason::AffiliationChanged,
            Reason::Superseded => CrlReason::Superseded,
            Reason::CessationOfOperation => CrlReason::CessationOfOperation,
            Reason::CertificateHold => CrlReason::CertificateHold,
        }
    }
}

/// The name of a reason code read from a CRL.
fn code_name(code: CrlReason) -> &'static str {
    match code {
        CrlReason::Unspecified => "unspecified",
        CrlReason::KeyCompromise => "keyCompromise",
        CrlReason::CaCompromise => "CACompromise",
        CrlReason::AffiliationChanged => "affiliationChanged",
        CrlReason::Superseded => "superseded",
        CrlReason::CessationOfOperation => "cessationOfOperation",
        CrlReason::CertificateHold => "certificateHold",
        CrlReason::RemoveFromCRL => "removeFromCRL",
        CrlReason::PrivilegeWithdrawn => "privilegeWithdrawn",
        CrlReason::AaCompromise => "AACompromise",
    }
}

/// One line of `index.txt`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    /// `V` valid (or `E` expired, as openssl may write), `R` revoked.
    pub status: char,
    /// notAfter, `YYMMDDHHMMSSZ` (or `YYYYMMDDHHMMSSZ` from 2050).
    pub expiry: String,
    /// When revoked: the date (`YYMMDDHHMMSSZ`) and the reason, if any.
    pub revoked: Option<(String, Option<Reason>)>,
    /// Serial number, upper-case hex.
    pub serial: String,
    /// `card-SERIAL` for a holder certificate, else `unknown`.
    pub file: String,
    /// The subject in openssl's one-line form.
    pub subject: String,
}

impl Entry {
    /// The entry for a newly issued certificate.
    pub fn issued(c: &Certificate, card: Option<&str>) -> Entry {
        Entry {
            status: 'V',
            expiry: time_text(&c.tbs_certificate.validity.not_after.to_date_time()),
            revoked: None,
            serial: hex::encode_upper(c.tbs_certificate.serial_number.as_bytes()),
            file: card.map_or_else(|| "unknown".to_string(), |c| format!("card-{c}")),
            subject: oneline(&c.tbs_certificate.subject),
        }
    }

    /// Is it a holder certificate (on the signing CA's CRL)?
    pub fn is_holder(&self) -> bool {
        self.file.starts_with("card-")
    }

    /// The line, without its newline.
    pub fn line(&self) -> String {
        let revoked = match &self.revoked {
            None => String::new(),
            Some((date, None)) => date.clone(),
            Some((date, Some(r))) => format!("{date},{}", r.name()),
        };
        format!(
            "{}\t{}\t{}\t{}\t{}\t{}",
            self.status, self.expiry, revoked, self.serial, self.file, self.subject
        )
    }

    /// Parses one line.
    pub fn parse(line: &str) -> Result<Entry, String> {
        let cols: Vec<&str> = line.split('\t').collect();
        if cols.len() != 6 {
            return Err(format!("{} columns instead of 6", cols.len()));
        }
        let status = match cols[0] {
            "V" => 'V',
            "E" => 'E',
            "R" => 'R',
            other => return Err(format!("status '{other}' is none of V, E, R")),
        };
        parse_time_text(cols[1]).ok_or("a bad expiry date")?;
        let revoked = if status == 'R' {
            let (date, reason) = match cols[2].split_once(',') {
                Some((d, r)) => (
                    d,
                    Some(Reason::parse(r).ok_or_else(|| format!("unknown reason '{r}'"))?),
                ),
                None => (cols[2], None),
            };
            parse_time_text(date).ok_or("a bad revocation date")?;
            Some((date.to_string(), reason))
        } else {
            None
        };
        if cols[3].is_empty() || !cols[3].bytes().all(|b| b.is_ascii_hexdigit()) {
            return Err("a serial number that is not hex".into());
        }
        Ok(Entry {
            status,
            expiry: cols[1].into(),
            revoked,
            serial: cols[3].to_ascii_uppercase(),
            file: cols[4].into(),
            subject: cols[5].into(),
        })
    }
}

/// A name in openssl's one-line form: `/C=IR/O=melli test issuer/CN=melli Root CA`.
pub fn oneline(name: &x509_cert::name::Name) -> String {
    use super::name::*;
    let mut out = String::new();
    for rdn in name.0.iter() {
        for atv in rdn.0.iter() {
            let short = match atv.oid {
                o if o == COUNTRY => "C".to_string(),
                o if o == ORGANIZATION => "O".to_string(),
                o if o == COMMON_NAME => "CN".to_string(),
                o if o == SURNAME => "SN".to_string(),
                o if o == GIVEN_NAME => "GN".to_string(),
                o if o == SERIAL_NUMBER => "serialNumber".to_string(),
                o if o == NAME => "name".to_string(),
                o => o.to_string(),
            };
            let one = x509_cert::name::Name::from(x509_cert::name::RdnSequence(vec![
                x509_cert::name::RelativeDistinguishedName::from(
                    der::asn1::SetOfVec::try_from(vec![atv.clone()]).unwrap_or_default(),
                ),
            ]));
            let value = attribute_value(&one, atv.oid).unwrap_or_default();
            // Tabs and newlines would break the line; '/' the one-line form.
            let value: String = value
                .chars()
                .map(|c| if c.is_control() || c == '/' { '?' } else { c })
                .collect();
            out.push_str(&format!("/{short}={value}"));
        }
    }
    out
}

/// `YYMMDDHHMMSSZ` through 2049, `YYYYMMDDHHMMSSZ` after, as openssl writes index dates.
fn time_text(dt: &DateTime) -> String {
    let tail = format!(
        "{:02}{:02}{:02}{:02}{:02}Z",
        dt.month(),
        dt.day(),
        dt.hour(),
        dt.minutes(),
        dt.seconds()
    );
    if dt.year() < 2050 {
        format!("{:02}{tail}", dt.year() % 100)
    } else {
        format!("{:04}{tail}", dt.year())
    }
}

fn parse_time_text(s: &str) -> Option<DateTime> {
    let digits = s.strip_suffix('Z')?;
    if !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let n = |a: usize, b: usize| digits.get(a..b)?.parse::<u16>().ok();
    let (year, rest) = match digits.len() {
        12 => {
            let yy = n(0, 2)?;
            (if yy < 50 { 2000 + yy } else { 1900 + yy }, 2)
        }
        14 => (n(0, 4)?, 4),
        _ => return None,
    };
    DateTime::new(
        year,
        n(rest, rest + 2)? as u8,
        n(rest + 2, rest + 4)? as u8,
        n(rest + 4, rest + 6)? as u8,
        n(rest + 6, rest + 8)? as u8,
        n(rest + 8, rest + 10)? as u8,
    )
    .ok()
}

/// The issuer's database in `dir`.
#[derive(Debug, Clone)]
pub struct Database {
    dir: PathBuf,
}

/// Held while the database is written.
struct Lock(fs::File);

impl Drop for Lock {
    fn drop(&mut self) {
        let _ = self.0.unlock();
    }
}

impl Database {
    /// The database of the issuer directory `dir` (which need not hold `index.txt` yet).
    pub fn new(dir: &Path) -> Database {
        Database {
            dir: dir.to_path_buf(),
        }
    }

    /// Path of `index.txt`.
    pub fn path(&self) -> PathBuf {
        self.dir.join(INDEX)
    }

    fn io(&self, path: PathBuf) -> impl FnOnce(std::io::Error) -> PkiError {
        move |source| PkiError::Io { path, source }
    }

    fn lock(&self) -> Result<Lock, PkiError> {
        let path = self.dir.join(INDEX_LOCK);
        let file = fs::OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .mode(0o644)
            .open(&path)
            .map_err(self.io(path.clone()))?;
        file.lock().map_err(self.io(path))?;
        Ok(Lock(file))
    }

    /// Every entry; none when `index.txt` does not exist yet.
    pub fn entries(&self) -> Result<Vec<Entry>, PkiError> {
        let path = self.path();
        if !path.exists() {
            return Ok(Vec::new());
        }
        let bytes = crate::input::read(&path, crate::input::Kind::Database)
            .map_err(|e| PkiError::bad_file(&path, e.to_string()))?;
        let text =
            String::from_utf8(bytes).map_err(|_| PkiError::bad_file(&path, "not UTF-8 text"))?;
        text.lines()
            .enumerate()
            .filter(|(_, l)| !l.trim().is_empty())
            .map(|(i, l)| {
                Entry::parse(l)
                    .map_err(|e| PkiError::bad_file(&path, format!("line {}: {e}", i + 1)))
            })
            .collect()
    }

    /// Records newly issued certificates. When `index.txt` does not exist yet (an issuer made
    /// before it), `seed` (the issuer's own certificates) are recorded first.
    pub fn record(
        &self,
        seed: &[&Certificate],
        issued: &[(&Certificate, Option<&str>)],
    ) -> Result<(), PkiError> {
        let _lock = self.lock()?;
        let path = self.path();
        let mut text = String::new();
        let attr = self.dir.join(INDEX_ATTR);
        if !attr.exists() {
            crate::files::replace(&attr, b"unique_subject = no\n", 0o644)
                .map_err(self.io(attr.clone()))?;
        }
        if !path.exists() {
            for c in seed {
                text.push_str(&Entry::issued(c, None).line());
                text.push('\n');
            }
        }
        for (c, card) in issued {
            text.push_str(&Entry::issued(c, *card).line());
            text.push('\n');
        }
        let mut file = fs::OpenOptions::new()
            .append(true)
            .create(true)
            .mode(0o644)
            .open(&path)
            .map_err(self.io(path.clone()))?;
        file.write_all(text.as_bytes())
            .and_then(|_| file.sync_all())
            .map_err(self.io(path))
    }

    /// Makes sure `index.txt` exists, recording `seed` in it if it does not.
    pub fn ensure(&self, seed: &[&Certificate]) -> Result<(), PkiError> {
        if self.path().exists() {
            return Ok(());
        }
        self.record(seed, &[])
    }

    /// Revokes (or, with `reason` `None`, takes off hold) the certificates `target` names, at
    /// `now`. Returns the entries changed.
    pub fn revoke(
        &self,
        target: &Target,
        reason: Option<Reason>,
        now: SystemTime,
    ) -> Result<Vec<Entry>, PkiError> {
        let _lock = self.lock()?;
        let mut entries = self.entries()?;
        let matches: Vec<usize> = entries
            .iter()
            .enumerate()
            .filter(|(_, e)| target.matches(e))
            .map(|(i, _)| i)
            .collect();
        if matches.is_empty() {
            return Err(PkiError::invalid(
                "revoke",
                format!(
                    "no {} in {} — check the serial (holder certificates issued before melli kept index.txt are not in it)",
                    target.describe(),
                    self.path().display()
                ),
            ));
        }
        let date = time_text(&DateTime::from_system_time(now)?);
        let mut changed = Vec::new();
        for i in matches {
            let e = &mut entries[i];
            match (reason, &e.revoked) {
                (Some(r), None) => {
                    e.status = 'R';
                    e.revoked = Some((date.clone(), Some(r)));
                }
                // A certificate on hold may be revoked for good (RFC 5280 §5.3.1), keeping its date.
                (Some(r), Some((d, Some(Reason::CertificateHold))))
                    if r != Reason::CertificateHold =>
                {
                    e.revoked = Some((d.clone(), Some(r)));
                }
                (Some(_), Some(_)) => continue,
                (None, Some((_, Some(Reason::CertificateHold)))) => {
                    e.status = 'V';
                    e.revoked = None;
                }
                (None, _) => continue,
            }
            changed.push(e.clone());
        }
        if changed.is_empty() {
            let why = match reason {
                Some(_) => "is already revoked",
                None => "is not on hold",
            };
            return Err(PkiError::invalid(
                "revoke",
                format!("the {} {why}", target.describe()),
            ));
        }
        let mut text = String::new();
        for e in &entries {
            text.push_str(&e.line());
            text.push('\n');
        }
        let path = self.path();
        crate::files::replace(&path, text.as_bytes(), 0o644).map_err(self.io(path))?;
        Ok(changed)
    }

    /// The next CRL number (and records it).
    fn next_crl_number(&self) -> Result<u64, PkiError> {
        let _lock = self.lock()?;
        let path = self.dir.join(CRL_NUMBER);
        let last = if path.exists() {
            let bytes = crate::input::read(&path, crate::input::Kind::Small)
                .map_err(|e| PkiError::bad_file(&path, e.to_string()))?;
            let text = String::from_utf8_lossy(&bytes);
            u64::from_str_radix(text.trim(), 16)
                .map_err(|_| PkiError::bad_file(&path, "not a hex number"))?
        } else {
            0
        };
        let next = last + 1;
        crate::files::replace(&path, format!("{next:02X}\n").as_bytes(), 0o644)
            .map_err(self.io(path))?;
        Ok(next)
    }

    /// A CRL signed by `ca_cert`'s key `ca_key`, listing the revoked entries that `holders`
    /// selects (holder certificates for the signing CA, the others for the root), valid from
    /// `now` for `next_update`. DER.
    pub fn crl(
        &self,
        ca_cert: &Certificate,
        ca_key: &dyn IssuerKey,
        holders: bool,
        now: SystemTime,
        next_update: Duration,
    ) -> Result<Vec<u8>, PkiError> {
        let entries = self.entries()?;
        let mut revoked = Vec::new();
        for e in entries.iter().filter(|e| e.is_holder() == holders) {
            let Some((date, reason)) = &e.revoked else {
                continue;
            };
            let bytes = hex::decode(if e.serial.len() % 2 == 1 {
                format!("0{}", e.serial)
            } else {
                e.serial.clone()
            })
            .map_err(|_| PkiError::bad_file(self.path(), "a serial number that is not hex"))?;
            let dt = parse_time_text(date)
                .ok_or_else(|| PkiError::bad_file(self.path(), "a bad revocation date"))?;
            let extensions = match reason {
                None | Some(Reason::Unspecified) => None,
                Some(r) => Some(vec![Extension {
                    extn_id: ID_CE_CRL_REASONS,
                    critical: false,
                    extn_value: OctetString::new(r.code().to_der()?)?,
                }]),
            };
            revoked.push(RevokedCert {
                serial_number: SerialNumber::new(&bytes)?,
                revocation_date: asn1::x509_time_from(dt)?,
                crl_entry_extensions: extensions,
            });
        }
        let number = self.next_crl_number()?;
        let subject = &ca_cert.tbs_certificate.subject;
        let key_id = match cert::subject_key_identifier(ca_cert)? {
            Some(id) => id,
            None => cert::key_identifier(&ca_cert.tbs_certificate.subject_public_key_info)?,
        };
        let aki = AuthorityKeyIdentifier {
            key_identifier: Some(OctetString::new(key_id)?),
            authority_cert_issuer: None,
            authority_cert_serial_number: None,
        };
        let mut extensions = vec![aki.to_extension(subject, &[])?];
        let crl_number = CrlNumber(der::asn1::Uint::new(&number.to_be_bytes())?);
        extensions.push(crl_number.to_extension(subject, &extensions)?);
        let tbs = TbsCertList {
            version: x509_cert::Version::V2,
            signature: ecdsa_sha256_algorithm(),
            issuer: subject.clone(),
            this_update: asn1::x509_time(now)?,
            next_update: Some(asn1::x509_time(now + next_update)?),
            revoked_certificates: if revoked.is_empty() {
                None
            } else {
                Some(revoked)
            },
            crl_extensions: Some(extensions),
        };
        let signature: DerSignature = ca_key.try_sign(&tbs.to_der()?)?;
        let crl = CertificateList {
            tbs_cert_list: tbs,
            signature_algorithm: ecdsa_sha256_algorithm(),
            signature: BitString::from_bytes(signature.as_bytes())?,
        };
        Ok(crl.to_der()?)
    }
}

/// id-ce-cRLReasons (RFC 5280 §5.3.1).
const ID_CE_CRL_REASONS: der::asn1::ObjectIdentifier =
    der::asn1::ObjectIdentifier::new_unwrap("2.5.29.21");

/// What `melli issuer revoke` revokes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Target {
    /// Every certificate issued for the card with this serial.
    Card(String),
    /// The certificate with this serial number (hex).
    Certificate(String),
}

impl Target {
    fn matches(&self, e: &Entry) -> bool {
        match self {
            Target::Card(serial) => e.file == format!("card-{serial}"),
            Target::Certificate(hex) => {
                let norm = |s: &str| {
                    s.trim_start_matches("0x")
                        .trim_start_matches('0')
                        .to_ascii_uppercase()
                };
                norm(hex) == norm(&e.serial)
            }
        }
    }

    fn describe(&self) -> String {
        match self {
            Target::Card(s) => format!("certificate of card {s}"),
            Target::Certificate(s) => format!("certificate with serial number {s}"),
        }
    }
}

/// A CRL given to a verifier, with the name it is shown by.
#[derive(Debug, Clone)]
pub struct CrlInput {
    /// The file, as given (shown in messages).
    pub label: String,
    /// The CRL.
    pub crl: CertificateList,
}

/// A CRL that is not one a path's CAs signed: refused (bad input), with its reason.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("CRL {label}: {reason}")]
pub struct CrlRefused {
    pub label: String,
    pub reason: String,
}

/// Parses a CRL (DER, or PEM `X509 CRL`).
pub fn parse_crl(bytes: &[u8]) -> Result<CertificateList, String> {
    let start = bytes
        .iter()
        .position(|b| !b.is_ascii_whitespace())
        .unwrap_or(bytes.len());
    let parsed = if bytes[start..].starts_with(b"-----BEGIN") {
        let text = std::str::from_utf8(&bytes[start..]).map_err(|_| "PEM that is not text")?;
        match der::pem::decode_vec(text.as_bytes()) {
            Ok(("X509 CRL", der)) => CertificateList::from_der(&der),
            Ok((label, _)) => return Err(format!("PEM of a {label}, not of an X509 CRL")),
            Err(e) => Err(der::Error::from(e)),
        }
    } else {
        CertificateList::from_der(bytes)
    };
    let crl = parsed.map_err(|e| format!("not a DER or PEM CRL ({e})"))?;
    if crl.tbs_cert_list.version != x509_cert::Version::V2 {
        return Err("not a version 2 CRL".into());
    }
    Ok(crl)
}

/// One certificate of a path to check, the CA certificate that issued it, and what it is.
pub struct PathCert<'a> {
    pub certificate: &'a Certificate,
    pub issuer: &'a Certificate,
    pub role: String,
}

/// The certificates of the paths from each `(leaf, role, intermediates)` up to `root` (by
/// issuer name, as the chain checker builds them), each once, the root left out: what
/// [`check_path`] checks. A certificate whose issuer is not found makes the check UNKNOWN.
pub fn check_chains(
    chains: &[(&Certificate, &str, &[Certificate])],
    root: &Certificate,
    crls: &[CrlInput],
    now: SystemTime,
    allow_unknown: bool,
) -> Result<Check, CrlRefused> {
    let mut certs: Vec<PathCert<'_>> = Vec::new();
    for (leaf, role, cas) in chains {
        let mut current: &Certificate = leaf;
        let mut role = role.to_string();
        for _ in 0..6 {
            let issuer_name = &current.tbs_certificate.issuer;
            let issuer = if *issuer_name == root.tbs_certificate.subject {
                Some(root)
            } else {
                cas.iter()
                    .find(|c| c.tbs_certificate.subject == *issuer_name && *c != current)
            };
            let Some(issuer) = issuer else {
                return Ok(Check::unknown(
                    CHECK,
                    format!("cannot tell: the issuer of the {role} is not known"),
                    allow_unknown,
                ));
            };
            if !certs.iter().any(|p| p.certificate == current) {
                certs.push(PathCert {
                    certificate: current,
                    issuer,
                    role: role.clone(),
                });
            }
            if issuer == root {
                break;
            }
            role = format!("CA certificate {}", cert::label(issuer));
            current = issuer;
        }
    }
    check_path(&certs, crls, now, allow_unknown)
}

/// The "revocation" check of `certs` (every certificate of the path but the trust anchor)
/// against `crls`, at `now`: FAIL when one is revoked (`revoked on DATE: REASON`), UNKNOWN
/// when one has no fresh CRL (a pass only if `allow_unknown`), PASS otherwise. A CRL that
/// none of the path's CAs issued, or whose signature does not verify with its issuer's key,
/// is refused.
pub fn check_path(
    certs: &[PathCert<'_>],
    crls: &[CrlInput],
    now: SystemTime,
    allow_unknown: bool,
) -> Result<Check, CrlRefused> {
    let refused = |c: &CrlInput, reason: String| CrlRefused {
        label: c.label.clone(),
        reason,
    };
    // Every CRL: issued by a CA of the path, and signed by it.
    for c in crls {
        let tbs = &c.crl.tbs_cert_list;
        let Some(ca) = certs
            .iter()
            .map(|p| p.issuer)
            .find(|ca| ca.tbs_certificate.subject == tbs.issuer)
        else {
            return Err(refused(
                c,
                format!(
                    "issued by {}, which issued none of the certificates checked — give the CRLs of this card's issuer",
                    tbs.issuer
                ),
            ));
        };
        if c.crl.signature_algorithm != ecdsa_sha256_algorithm()
            || tbs.signature != ecdsa_sha256_algorithm()
        {
            return Err(refused(c, "not signed with ecdsa-with-SHA256".into()));
        }
        let good = (|| {
            let key = cert::verifying_key(ca).ok()?;
            let sig = Signature::from_der(c.crl.signature.as_bytes()?).ok()?;
            let tbs_der = tbs.to_der().ok()?;
            key.verify(&tbs_der, &sig).ok()
        })();
        if good.is_none() {
            return Err(refused(
                c,
                format!(
                    "its signature does not verify with the key of {} — a CRL of another issuer, or altered",
                    cert::label(ca)
                ),
            ));
        }
    }
    let now_unix = now
        .duration_since(SystemTime::UNIX_EPOCH)
        .unwrap_or_default();
    let mut unknown = Vec::new();
    let mut covered = Vec::new();
    for p in certs {
        let cert_tbs = &p.certificate.tbs_certificate;
        let mine: Vec<&CrlInput> = crls
            .iter()
            .filter(|c| c.crl.tbs_cert_list.issuer == cert_tbs.issuer)
            .collect();
        if mine.is_empty() {
            unknown.push(format!(
                "no CRL of {} for the {}",
                cert::label(p.issuer),
                p.role
            ));
            continue;
        }
        let mut fresh = None;
        let mut stale = Vec::new();
        for c in mine {
            let tbs = &c.crl.tbs_cert_list;
            let this = tbs.this_update.to_unix_duration();
            match tbs.next_update {
                Some(next)
                    if this <= now_unix + Duration::from_secs(300)
                        && next.to_unix_duration() >= now_unix =>
                {
                    fresh = Some(c);
                }
                Some(next) => stale.push(format!(
                    "CRL {} is stale: its nextUpdate {} has passed",
                    c.label,
                    asn1::date_time_string(&next.to_date_time())
                )),
                None => stale.push(format!("CRL {} has no nextUpdate", c.label)),
            }
        }
        let Some(c) = fresh else {
            unknown.push(format!("{} for the {}", stale.join("; "), p.role));
            continue;
        };
        let entry = c
            .crl
            .tbs_cert_list
            .revoked_certificates
            .iter()
            .flatten()
            .find(|r| r.serial_number == cert_tbs.serial_number);
        if let Some(r) = entry {
            let reason = r
                .crl_entry_extensions
                .iter()
                .flatten()
                .find(|e| e.extn_id == ID_CE_CRL_REASONS)
                .and_then(|e| CrlReason::from_der(e.extn_value.as_bytes()).ok());
            if reason != Some(CrlReason::RemoveFromCRL) {
                return Ok(Check::fail(
                    CHECK,
                    format!(
                        "{} revoked on {}: {}",
                        p.role,
                        asn1::date_time_string(&r.revocation_date.to_date_time()),
                        reason.map_or("unspecified", code_name)
                    ),
                ));
            }
        }
        covered.push(p.role.clone());
    }
    if !unknown.is_empty() {
        return Ok(Check::unknown(
            CHECK,
            format!("no fresh status: {}", unknown.join("; ")),
            allow_unknown,
        ));
    }
    Ok(Check::pass(
        CHECK,
        format!("not revoked: {} (fresh CRLs)", covered.join(", ")),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn index_lines_round_trip() {
        let line = "R\t361231235959Z\t261202090000Z,keyCompromise\t4A0B\tcard-MC0000000001\t/C=IR/CN=Ali Niknam";
        let e = Entry::parse(line).expect("parse");
        assert_eq!(
            e.revoked,
            Some(("261202090000Z".into(), Some(Reason::KeyCompromise)))
        );
        assert_eq!(e.line(), line);
        assert!(e.is_holder());
        let v = "V\t20510101000000Z\t\t0A\tunknown\t/C=IR/O=x/CN=y";
        assert_eq!(Entry::parse(v).expect("parse").line(), v);
        assert!(Entry::parse("X\t1\t\t0A\tunknown\t/C=IR").is_err());
        assert!(Entry::parse("V\t361231235959Z\t\tZZ\tunknown\t/C=IR").is_err());
    }

    #[test]
    fn reasons_by_name() {
        assert_eq!(Reason::parse("keycompromise"), Some(Reason::KeyCompromise));
        assert_eq!(
            Reason::parse("certificateHold"),
            Some(Reason::CertificateHold)
        );
        assert_eq!(Reason::parse("lost"), None);
    }

    #[test]
    fn times_as_openssl_writes_them() {
        let dt = DateTime::new(2036, 12, 31, 23, 59, 59).expect("dt");
        assert_eq!(time_text(&dt), "361231235959Z");
        assert_eq!(parse_time_text("361231235959Z"), Some(dt));
        let late = DateTime::new(2051, 1, 2, 3, 4, 5).expect("dt");
        assert_eq!(time_text(&late), "20510102030405Z");
        assert_eq!(parse_time_text("20510102030405Z"), Some(late));
    }
}
