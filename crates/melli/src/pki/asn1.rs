//! ASN.1 odds and ends: object identifiers, algorithm identifiers, X.509 times, and
//! [`RawOid`] for OIDs whose arcs do not fit in 32 bits.

use std::fmt;
use std::time::SystemTime;

use der::asn1::{GeneralizedTime, ObjectIdentifier, UtcTime};
use der::{
    DateTime, DecodeValue, EncodeValue, FixedTag, Header, Length, Reader, Tag, Tagged, Writer,
};
use spki::AlgorithmIdentifierOwned;
use x509_cert::time::Time;

/// id-sha256 (RFC 5754 §2.2; NIST).
pub const ID_SHA256: ObjectIdentifier = ObjectIdentifier::new_unwrap("2.16.840.1.101.3.4.2.1");
/// ecdsa-with-SHA256 (RFC 5758 §3.2).
pub const ECDSA_WITH_SHA256: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.10045.4.3.2");
/// id-ecPublicKey (RFC 5480 §2.1.1). Some CMS producers put it in signatureAlgorithm.
pub const ID_EC_PUBLIC_KEY: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.10045.2.1");
/// id-signedData (RFC 5652 §5.1).
pub const ID_SIGNED_DATA: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.7.2");
/// id-data (RFC 5652 §4).
pub const ID_DATA: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.7.1");
/// id-contentType signed attribute (RFC 5652 §11.1).
pub const ID_CONTENT_TYPE: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.9.3");
/// id-messageDigest signed attribute (RFC 5652 §11.2).
pub const ID_MESSAGE_DIGEST: ObjectIdentifier =
    ObjectIdentifier::new_unwrap("1.2.840.113549.1.9.4");
/// id-signingTime signed attribute (RFC 5652 §11.3).
pub const ID_SIGNING_TIME: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.9.5");
/// id-aa-signingCertificateV2 signed attribute (RFC 5035 §3).
pub const ID_SIGNING_CERTIFICATE_V2: ObjectIdentifier =
    ObjectIdentifier::new_unwrap("1.2.840.113549.1.9.16.2.47");
/// id-aa-encrypKeyPref, the smimeEncryptionKeyPreference signed attribute (RFC 8551 §2.5.3).
pub const ID_ENCRYPTION_KEY_PREFERENCE: ObjectIdentifier =
    ObjectIdentifier::new_unwrap("1.2.840.113549.1.9.16.2.11");
/// id-kp-emailProtection (RFC 5280 §4.2.1.12).
pub const ID_KP_EMAIL_PROTECTION: ObjectIdentifier =
    ObjectIdentifier::new_unwrap("1.3.6.1.5.5.7.3.4");
/// id-kp-clientAuth (RFC 5280 §4.2.1.12): TLS client authentication, the login certificate.
pub const ID_KP_CLIENT_AUTH: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.3.6.1.5.5.7.3.2");
/// id-kp-documentSigning (RFC 9336 §3.1).
pub const ID_KP_DOCUMENT_SIGNING: ObjectIdentifier =
    ObjectIdentifier::new_unwrap("1.3.6.1.5.5.7.3.36");
/// anyExtendedKeyUsage (RFC 5280 §4.2.1.12).
pub const ANY_EXTENDED_KEY_USAGE: ObjectIdentifier = ObjectIdentifier::new_unwrap("2.5.29.37.0");

/// The security object's eContentType (applets-spec §9), [`crate::spec::oid::SECURITY_OBJECT`].
pub fn security_object_oid() -> RawOid {
    // A fixed, valid constant of the spec; a test pins its encoding.
    RawOid::from_dotted(crate::spec::oid::SECURITY_OBJECT).expect("the spec's OID is valid")
}

/// `AlgorithmIdentifier` for SHA-256, parameters absent (RFC 5754 §2).
pub fn sha256_algorithm() -> AlgorithmIdentifierOwned {
    AlgorithmIdentifierOwned {
        oid: ID_SHA256,
        parameters: None,
    }
}

/// `AlgorithmIdentifier` for ecdsa-with-SHA256, parameters absent (RFC 5758 §3.2).
pub fn ecdsa_sha256_algorithm() -> AlgorithmIdentifierOwned {
    AlgorithmIdentifierOwned {
        oid: ECDSA_WITH_SHA256,
        parameters: None,
    }
}

/// True if `alg` is SHA-256 with absent or NULL parameters (RFC 5754 §2 allows both).
pub fn is_sha256(alg: &AlgorithmIdentifierOwned) -> bool {
    alg.oid == ID_SHA256 && params_absent_or_null(alg)
}

fn params_absent_or_null(alg: &AlgorithmIdentifierOwned) -> bool {
    match &alg.parameters {
        None => true,
        Some(any) => any.tag() == Tag::Null && any.value().is_empty(),
    }
}

/// An X.509 `Time` for `t`: UTCTime through 2049, GeneralizedTime from 2050 (RFC 5280
/// §4.1.2.5). Sub-second precision is dropped.
pub fn x509_time(t: SystemTime) -> Result<Time, der::Error> {
    let dt = DateTime::from_system_time(t)?;
    x509_time_from(dt)
}

/// As [`x509_time`], from a calendar date-time.
pub fn x509_time_from(dt: DateTime) -> Result<Time, der::Error> {
    if dt.year() < 2050 {
        Ok(Time::UtcTime(UtcTime::from_date_time(dt)?))
    } else {
        Ok(Time::GeneralTime(GeneralizedTime::from_date_time(dt)))
    }
}

/// `YYYY-MM-DD` of a date-time, for messages.
pub fn date_string(dt: &DateTime) -> String {
    format!("{:04}-{:02}-{:02}", dt.year(), dt.month(), dt.day())
}

/// `YYYY-MM-DD HH:MM:SS UTC` of a date-time, for messages.
pub fn date_time_string(dt: &DateTime) -> String {
    format!(
        "{} {:02}:{:02}:{:02} UTC",
        date_string(dt),
        dt.hour(),
        dt.minutes(),
        dt.seconds()
    )
}

/// An OBJECT IDENTIFIER kept as its encoded content octets (X.690 §8.19).
///
/// `const-oid` 0.9 limits arcs to 32 bits, but UUID-based OIDs under `2.25` (ITU-T X.667), such
/// as melli's, carry a 128-bit arc. This type encodes, decodes and compares such OIDs without
/// interpreting the arcs; [`RawOid::from_dotted`] and `Display` handle arcs up to 128 bits.
#[derive(Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct RawOid(Vec<u8>);

/// A dotted OID string could not be encoded.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid object identifier {0:?}")]
pub struct BadOid(pub String);

impl RawOid {
    /// Encode a dotted-decimal OID (arcs up to 128 bits).
    pub fn from_dotted(s: &str) -> Result<Self, BadOid> {
        let bad = || BadOid(s.to_owned());
        let arcs = s
            .split('.')
            .map(|a| {
                if a.is_empty() || !a.bytes().all(|b| b.is_ascii_digit()) {
                    return Err(bad());
                }
                a.parse::<u128>().map_err(|_| bad())
            })
            .collect::<Result<Vec<u128>, BadOid>>()?;
        if arcs.len() < 2 || arcs[0] > 2 || (arcs[0] < 2 && arcs[1] > 39) {
            return Err(bad());
        }
        let first = arcs[0]
            .checked_mul(40)
            .and_then(|v| v.checked_add(arcs[1]))
            .ok_or_else(bad)?;
        let mut out = Vec::new();
        for arc in std::iter::once(first).chain(arcs[2..].iter().copied()) {
            push_base128(&mut out, arc);
        }
        Ok(RawOid(out))
    }

    /// Wrap encoded content octets after checking them (X.690 §8.19.2: each subidentifier is
    /// minimal, the last octet ends a subidentifier).
    pub fn from_content(bytes: &[u8]) -> Result<Self, der::Error> {
        let malformed = || der::Error::from(der::ErrorKind::OidMalformed);
        let last = bytes.last().ok_or_else(malformed)?;
        if last & 0x80 != 0 {
            return Err(malformed());
        }
        let mut start_of_arc = true;
        for b in bytes {
            if start_of_arc && *b == 0x80 {
                return Err(malformed());
            }
            start_of_arc = b & 0x80 == 0;
        }
        Ok(RawOid(bytes.to_vec()))
    }

    /// The encoded content octets (no tag, no length).
    pub fn as_bytes(&self) -> &[u8] {
        &self.0
    }

    /// The same OID as a `const-oid` identifier, when every arc fits in 32 bits.
    pub fn to_object_identifier(&self) -> Option<ObjectIdentifier> {
        ObjectIdentifier::from_bytes(&self.0).ok()
    }
}

impl From<ObjectIdentifier> for RawOid {
    fn from(oid: ObjectIdentifier) -> Self {
        RawOid(oid.as_bytes().to_vec())
    }
}

fn push_base128(out: &mut Vec<u8>, mut v: u128) {
    let mut groups = vec![(v & 0x7F) as u8];
    v >>= 7;
    while v > 0 {
        groups.push((v & 0x7F) as u8 | 0x80);
        v >>= 7;
    }
    out.extend(groups.iter().rev());
}

impl fmt::Display for RawOid {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut arcs: Vec<u128> = Vec::new();
        let mut acc: u128 = 0;
        for b in &self.0 {
            match acc.checked_mul(128) {
                Some(v) => acc = v | u128::from(b & 0x7F),
                None => return write!(f, "OID {}", hex::encode(&self.0)),
            }
            if b & 0x80 == 0 {
                arcs.push(acc);
                acc = 0;
            }
        }
        let Some((first, rest)) = arcs.split_first() else {
            return write!(f, "empty OID");
        };
        let (a, b) = match *first {
            v if v < 40 => (0, v),
            v if v < 80 => (1, v - 40),
            v => (2, v - 80),
        };
        write!(f, "{a}.{b}")?;
        for arc in rest {
            write!(f, ".{arc}")?;
        }
        Ok(())
    }
}

impl fmt::Debug for RawOid {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "RawOid({self})")
    }
}

impl FixedTag for RawOid {
    const TAG: Tag = Tag::ObjectIdentifier;
}

impl<'a> DecodeValue<'a> for RawOid {
    fn decode_value<R: Reader<'a>>(reader: &mut R, header: Header) -> der::Result<Self> {
        let bytes = reader.read_vec(header.length)?;
        RawOid::from_content(&bytes)
    }
}

impl EncodeValue for RawOid {
    fn value_len(&self) -> der::Result<Length> {
        Length::try_from(self.0.len())
    }

    fn encode_value(&self, writer: &mut impl Writer) -> der::Result<()> {
        writer.write(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use der::{Decode, Encode};

    #[test]
    fn melli_oid_encodes_as_openssl_does() {
        // `openssl asn1parse -genstr OBJECT:2.25.224329670668073827233975672526393257656.1`
        let expected = hex::decode("06156982d1c4a9aca4b6e298819ca5f68ada95acdd3801").expect("hex");
        let oid = security_object_oid();
        assert_eq!(oid.to_der().expect("encode"), expected);
        assert_eq!(RawOid::from_der(&expected).expect("decode"), oid);
        assert_eq!(oid.to_string(), crate::spec::oid::SECURITY_OBJECT);
        assert!(oid.to_object_identifier().is_none());
    }

    #[test]
    fn small_oids_round_trip_with_const_oid() {
        for oid in [
            ID_SHA256,
            ECDSA_WITH_SHA256,
            ID_DATA,
            ANY_EXTENDED_KEY_USAGE,
        ] {
            let raw = RawOid::from_dotted(&oid.to_string()).expect("dotted");
            assert_eq!(raw, RawOid::from(oid));
            assert_eq!(raw.to_string(), oid.to_string());
            assert_eq!(raw.to_object_identifier(), Some(oid));
        }
    }

    #[test]
    fn bad_oids_are_refused() {
        for s in ["", "1", "3.1", "1.40", "1..2", "1.2.x", "1.2.-3"] {
            assert!(RawOid::from_dotted(s).is_err(), "{s}");
        }
        assert!(RawOid::from_content(&[]).is_err());
        assert!(RawOid::from_content(&[0x2A, 0x86]).is_err());
        assert!(RawOid::from_content(&[0x2A, 0x80, 0x01]).is_err());
    }

    #[test]
    fn x509_time_switches_to_generalized_time_in_2050() {
        let t = x509_time_from(DateTime::new(2049, 12, 31, 23, 59, 59).expect("dt")).expect("t");
        assert!(matches!(t, Time::UtcTime(_)));
        let t = x509_time_from(DateTime::new(2050, 1, 1, 0, 0, 0).expect("dt")).expect("t");
        assert!(matches!(t, Time::GeneralTime(_)));
    }
}
