//! The holder's signing certificate, issued by the signing CA for the key the card generated.
//!
//! # Subject
//!
//! `C=IR, serialNumber=<national code>, SN=<Latin surname>, GN=<Latin given name>,
//! name=<Persian full name>, CN=<Latin given name> <Latin surname>`
//!
//! - `serialNumber` (2.5.4.5, PrintableString) holds the 10-digit national code.
//! - `surname` (2.5.4.4), `givenName` (2.5.4.42) and `commonName` (2.5.4.3) hold the Latin
//!   forms, UTF8String.
//! - The Persian full name is in the X.520 `name` attribute (2.5.4.41), UTF8String. `name` is
//!   the supertype of the naming attributes, so it says what the value is without pretending to
//!   be a second common name (software that shows "the" CN keeps the Latin one) or a pseudonym
//!   (which would claim the holder is *not* identified by it). openssl prints it as
//!   `name=علی رضایی` with `-nameopt utf8` (or `-nameopt oneline,-esc_msb`).
//!
//! # Extensions
//!
//! basicConstraints cA false (critical); keyUsage digitalSignature + nonRepudiation
//! (critical); extendedKeyUsage id-kp-emailProtection + id-kp-documentSigning (RFC 9336),
//! not critical; subject and authority key identifiers. emailProtection is there because
//! `openssl cms -verify` checks the signer against the S/MIME signing purpose by default, which
//! refuses an extendedKeyUsage without it; with it, `openssl cms -verify -binary -inform DER
//! -content FILE -in FILE.p7s -CAfile root.pem` accepts a document signature with no
//! `-purpose` flag (tested). documentSigning states the real purpose for software that knows
//! RFC 9336.
//!
//! # Validity
//!
//! notBefore is the time of issue; notAfter is the card's expiry date at 23:59:59 UTC (both
//! inclusive, RFC 5280 §4.1.2.5). A card expiry after the signing CA's own notAfter is refused.

use std::time::SystemTime;

use super::keys::IssuerKey;
use der::DateTime;
use x509_cert::name::Name;
use x509_cert::Certificate;

use super::asn1;
use super::cert::{self, CertProfile, CertRequest, IssuerRef};
use super::error::PkiError;
use super::issuer::{Issuer, ISSUER_COUNTRY};
use super::name::{
    attribute_value, NameBuilder, StringKind, COMMON_NAME, COUNTRY, GIVEN_NAME, NAME,
    SERIAL_NUMBER, SURNAME,
};

/// A date in the Gregorian calendar (the card's expiry, converted from Solar Hijri).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct GregorianDate {
    pub year: u16,
    pub month: u8,
    pub day: u8,
}

impl GregorianDate {
    /// The last second of this day, UTC.
    pub fn end_of_day(self) -> Result<DateTime, PkiError> {
        DateTime::new(self.year, self.month, self.day, 23, 59, 59).map_err(|_| {
            PkiError::invalid(
                "card expiry",
                format!(
                    "{:04}-{:02}-{:02} is not a date",
                    self.year, self.month, self.day
                ),
            )
        })
    }
}

/// Who the holder is, as the certificate's subject says it.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct HolderSubject {
    /// Given name in Latin letters.
    pub given_name: String,
    /// Surname in Latin letters.
    pub surname: String,
    /// National code (کد ملی), 10 digits.
    pub national_code: String,
    /// Full name in Persian script, normalized by the caller.
    pub full_name_fa: String,
}

impl HolderSubject {
    /// The common name: "GIVEN SURNAME" in Latin letters.
    pub fn common_name(&self) -> String {
        format!("{} {}", self.given_name, self.surname)
    }

    /// The subject distinguished name (see the module documentation).
    pub fn to_name(&self) -> Result<Name, PkiError> {
        check_text("holder given name", &self.given_name, 64)?;
        check_text("holder surname", &self.surname, 64)?;
        check_text("holder Persian name", &self.full_name_fa, 128)?;
        if self.national_code.len() != 10 || !self.national_code.bytes().all(|b| b.is_ascii_digit())
        {
            return Err(PkiError::invalid(
                "holder national code",
                "expected 10 digits",
            ));
        }
        let cn = self.common_name();
        check_text("holder common name", &cn, 64)?;
        let name = NameBuilder::new()
            .push(COUNTRY, StringKind::Printable, ISSUER_COUNTRY)?
            .push(SERIAL_NUMBER, StringKind::Printable, &self.national_code)?
            .push(SURNAME, StringKind::Utf8, &self.surname)?
            .push(GIVEN_NAME, StringKind::Utf8, &self.given_name)?
            .push(NAME, StringKind::Utf8, &self.full_name_fa)?
            .push(COMMON_NAME, StringKind::Utf8, &cn)?
            .build();
        Ok(name)
    }

    /// Read the subject of a holder certificate back.
    pub fn from_name(name: &Name) -> Result<Self, PkiError> {
        let get = |what: &'static str, oid| {
            attribute_value(name, oid).ok_or_else(|| {
                PkiError::invalid("holder certificate subject", format!("no {what}"))
            })
        };
        Ok(HolderSubject {
            given_name: get("givenName", GIVEN_NAME)?,
            surname: get("surname", SURNAME)?,
            national_code: get("serialNumber (national code)", SERIAL_NUMBER)?,
            full_name_fa: get("name (Persian full name)", NAME)?,
        })
    }

    /// Read the subject of a holder certificate.
    pub fn from_certificate(cert: &Certificate) -> Result<Self, PkiError> {
        Self::from_name(&cert.tbs_certificate.subject)
    }
}

fn check_text(what: &'static str, s: &str, max_chars: usize) -> Result<(), PkiError> {
    if s.trim().is_empty() {
        return Err(PkiError::invalid(what, "empty"));
    }
    if s.chars().any(char::is_control) {
        return Err(PkiError::invalid(what, "contains control characters"));
    }
    if s.chars().count() > max_chars {
        return Err(PkiError::invalid(
            what,
            format!("longer than {max_chars} characters"),
        ));
    }
    Ok(())
}

/// What the signing CA needs to issue a holder certificate.
#[derive(Debug, Clone)]
pub struct HolderRequest<'a> {
    /// The card's P-256 signing public key: the uncompressed SEC1 point from `7F49/86`.
    pub public_key: &'a [u8],
    /// The holder.
    pub subject: &'a HolderSubject,
    /// The card's expiry date; the certificate is valid through its last second (UTC).
    pub card_expiry: GregorianDate,
    /// The serial of the card it is issued for, recorded beside it in the issuer's database
    /// (`index.txt`) so that `melli issuer revoke --card` finds it.
    pub card_serial: Option<&'a str>,
}

impl Issuer {
    /// Issue the holder's signing certificate from the signing CA, valid from now, and record
    /// it in the issuer's database (`index.txt`, [`super::revocation`]) before it is given
    /// out; DER.
    pub fn issue_holder_certificate(&self, req: &HolderRequest<'_>) -> Result<Vec<u8>, PkiError> {
        self.issue_for_card(CertProfile::Holder, req)
    }

    /// Issue the holder's authentication (login) certificate (DG7, §12.5) from the signing
    /// CA for the card's authentication key `req.public_key`, valid from now, and record it in
    /// the issuer's database beside the card's holder certificate; DER.
    pub fn issue_authentication_certificate(
        &self,
        req: &HolderRequest<'_>,
    ) -> Result<Vec<u8>, PkiError> {
        self.issue_for_card(CertProfile::Authentication, req)
    }

    /// A certificate of `profile` for the holder of a card, with where its status is
    /// published, recorded in `index.txt` before it is given out; DER.
    fn issue_for_card(
        &self,
        profile: CertProfile,
        req: &HolderRequest<'_>,
    ) -> Result<Vec<u8>, PkiError> {
        let urls = self.revocation_urls();
        let c = issue_certificate(
            profile,
            self.signing_ca_certificate(),
            self.signing_ca_key(),
            req,
            SystemTime::now(),
            cert::revocation_extensions(urls.crl.as_deref(), urls.ocsp.as_deref())?,
        )?;
        let der = der::Encode::to_der(&c)?;
        self.record_issued(&c, Some(req.card_serial.unwrap_or("")))?;
        Ok(der)
    }

    /// Whether a card expiring on `card_expiry` can have a holder certificate issued at `now`
    /// (the checks of [`issue_holder_certificate`] that depend on the date alone), so that a
    /// personalization can refuse it before the card is touched.
    pub fn check_card_expiry(
        &self,
        card_expiry: GregorianDate,
        now: SystemTime,
    ) -> Result<(), PkiError> {
        certificate_end(self.signing_ca_certificate(), card_expiry, now).map(|_| ())
    }
}

/// notAfter of a holder certificate for a card expiring on `card_expiry`: the end of that day,
/// refused when it is not after `now` or after the signing CA's own notAfter.
fn certificate_end(
    ca_cert: &Certificate,
    card_expiry: GregorianDate,
    now: SystemTime,
) -> Result<SystemTime, PkiError> {
    let not_after_dt = card_expiry.end_of_day()?;
    let not_after = not_after_dt.to_system_time();
    if not_after <= now {
        return Err(PkiError::invalid(
            "card expiry",
            format!("{} is in the past", asn1::date_string(&not_after_dt)),
        ));
    }
    let ca_not_after = ca_cert.tbs_certificate.validity.not_after;
    if not_after > ca_not_after.to_system_time() {
        return Err(PkiError::invalid(
            "card expiry",
            format!(
                "{} is after the signing CA certificate expires ({})",
                asn1::date_string(&not_after_dt),
                asn1::date_string(&ca_not_after.to_date_time())
            ),
        ));
    }
    Ok(not_after)
}

/// Issue a holder certificate from `ca_cert` / `ca_key`, valid from `now` to the end of the
/// card's expiry day.
pub fn issue_holder_certificate(
    ca_cert: &Certificate,
    ca_key: &dyn IssuerKey,
    req: &HolderRequest<'_>,
    now: SystemTime,
) -> Result<Certificate, PkiError> {
    issue_holder_certificate_with(ca_cert, ca_key, req, now, Vec::new())
}

/// As [`issue_holder_certificate`], with `extra` non-critical extensions (where its status
/// is published: [`cert::revocation_extensions`]).
pub fn issue_holder_certificate_with(
    ca_cert: &Certificate,
    ca_key: &dyn IssuerKey,
    req: &HolderRequest<'_>,
    now: SystemTime,
    extra: Vec<x509_cert::ext::Extension>,
) -> Result<Certificate, PkiError> {
    issue_certificate(CertProfile::Holder, ca_cert, ca_key, req, now, extra)
}

/// A certificate of the holder of `profile` (the signing certificate, or the authentication
/// certificate): the holder's subject, valid from `now` to the end of the card's expiry day.
fn issue_certificate(
    profile: CertProfile,
    ca_cert: &Certificate,
    ca_key: &dyn IssuerKey,
    req: &HolderRequest<'_>,
    now: SystemTime,
    extra: Vec<x509_cert::ext::Extension>,
) -> Result<Certificate, PkiError> {
    let public_key = cert::spki_from_sec1(req.public_key)?;
    let subject = req.subject.to_name()?;
    let not_after = certificate_end(ca_cert, req.card_expiry, now)?;
    cert::issue(
        &CertRequest {
            profile,
            subject,
            public_key,
            not_before: now,
            not_after,
            extra_extensions: extra,
        },
        IssuerRef {
            certificate: Some(ca_cert),
            key: ca_key,
        },
    )
}
