//! `index.txt`: the issuer's database of issued and revoked certificates, as `openssl ca`
//! keeps it (see the module documentation).

use std::fs;
use std::io::Write;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use std::time::SystemTime;

use der::DateTime;
use x509_cert::Certificate;

use super::{Reason, Target, CRL_NUMBER, INDEX, INDEX_ATTR, INDEX_LOCK};
use crate::pki::error::PkiError;

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

    /// The serial of the card a holder certificate was issued for.
    pub fn card(&self) -> Option<&str> {
        self.file.strip_prefix("card-")
    }

    /// The holder's national code: the `serialNumber` of a holder certificate's subject.
    pub fn national_code(&self) -> Option<&str> {
        if !self.is_holder() {
            return None;
        }
        self.subject
            .split('/')
            .find_map(|part| part.strip_prefix("serialNumber="))
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
    use crate::pki::name::*;
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
pub(super) fn time_text(dt: &DateTime) -> String {
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

pub(super) fn parse_time_text(s: &str) -> Option<DateTime> {
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
        self.write(&entries)?;
        Ok(changed)
    }

    /// A card replaced: every holder certificate of `national_code` on a card other than
    /// `new_card` that is not revoked yet is revoked as `superseded` at `now`. Returns those
    /// entries (none when the holder had no other card, or its certificates were revoked
    /// already): running it again changes nothing.
    pub fn supersede(
        &self,
        national_code: &str,
        new_card: &str,
        now: SystemTime,
    ) -> Result<Vec<Entry>, PkiError> {
        let _lock = self.lock()?;
        let mut entries = self.entries()?;
        let date = time_text(&DateTime::from_system_time(now)?);
        let mut changed = Vec::new();
        for e in entries.iter_mut() {
            let other_card = e.card().is_some_and(|c| c != new_card);
            if other_card && e.national_code() == Some(national_code) && e.revoked.is_none() {
                e.status = 'R';
                e.revoked = Some((date.clone(), Some(Reason::Superseded)));
                changed.push(e.clone());
            }
        }
        if !changed.is_empty() {
            self.write(&entries)?;
        }
        Ok(changed)
    }

    fn write(&self, entries: &[Entry]) -> Result<(), PkiError> {
        let mut text = String::new();
        for e in entries {
            text.push_str(&e.line());
            text.push('\n');
        }
        let path = self.path();
        crate::files::replace(&path, text.as_bytes(), 0o644).map_err(self.io(path))
    }

    /// The next CRL number (and records it).
    pub(super) fn next_crl_number(&self) -> Result<u64, PkiError> {
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

    #[test]
    fn a_replaced_card_is_superseded_and_national_codes_are_targets() {
        let dir = tempfile::tempdir().expect("tempdir");
        let db = Database::new(dir.path());
        let lines = [
            "V\t361231235959Z\t\t01\tunknown\t/C=IR/O=x/CN=melli Signing CA",
            "V\t361231235959Z\t\t0A\tcard-MC01\t/C=IR/serialNumber=0012345679/SN=Niknam/GN=Ali/CN=Ali Niknam",
            "V\t361231235959Z\t\t0B\tcard-MC02\t/C=IR/serialNumber=0098765432/SN=Sadeghi/GN=Sara/CN=Sara Sadeghi",
            "V\t361231235959Z\t\t0C\tcard-MC03\t/C=IR/serialNumber=0012345679/SN=Niknam/GN=Ali/CN=Ali Niknam",
        ];
        std::fs::write(db.path(), lines.join("\n") + "\n").expect("write");
        let now = SystemTime::UNIX_EPOCH + std::time::Duration::from_secs(1_800_000_000);
        let changed = db.supersede("0012345679", "MC03", now).expect("supersede");
        assert_eq!(changed.len(), 1);
        assert_eq!(changed[0].card(), Some("MC01"));
        assert_eq!(
            changed[0].revoked.as_ref().and_then(|r| r.1),
            Some(Reason::Superseded)
        );
        // Again: nothing more to do; the new card and the other holder untouched.
        assert!(db
            .supersede("0012345679", "MC03", now)
            .expect("again")
            .is_empty());
        let entries = db.entries().expect("entries");
        assert_eq!(entries.iter().filter(|e| e.status == 'R').count(), 1);
        assert_eq!(
            entries[0].national_code(),
            None,
            "a CA has no national code"
        );
        // Revoking by national code reaches the new card (the old one is revoked already).
        let target = Target::NationalCode("0012345679".into());
        let changed = db
            .revoke(&target, Some(Reason::KeyCompromise), now)
            .expect("revoke");
        assert_eq!(
            changed.iter().map(|e| e.card()).collect::<Vec<_>>(),
            vec![Some("MC03")]
        );
    }
}
