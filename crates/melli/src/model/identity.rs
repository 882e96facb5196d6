//! The holder's identity (birth-certificate data) and its data group DG1 (applets-spec §5.1).

use std::fmt;

use crate::spec::tag;

use super::certificate_number::CertificateNumber;
use super::data_group::{self, DataGroupError, Field};
use super::jalali::JalaliDate;
use super::national_code::NationalCode;
use super::text::{LatinName, PersianText};
use super::tracking_code::TrackingCode;

/// Most bytes of the identity file (EF 0101).
pub const MAX_DG_LEN: usize = 1024;

const GROUP: &str = "identity";

/// The holder's gender as the birth certificate records it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
pub enum Gender {
    #[serde(rename = "F")]
    Female,
    #[serde(rename = "M")]
    Male,
}

/// Why a gender was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("is {found:?}; write \"M\" or \"F\"")]
pub struct GenderError {
    pub found: String,
}

impl Gender {
    /// `"M"` or `"F"` (either case; surrounding white space ignored).
    pub fn parse(text: &str) -> Result<Self, GenderError> {
        match text.trim() {
            "M" | "m" => Ok(Gender::Male),
            "F" | "f" => Ok(Gender::Female),
            other => Err(GenderError {
                found: other.to_owned(),
            }),
        }
    }

    /// The on-card byte: ASCII `M` or `F`.
    pub fn as_byte(self) -> u8 {
        match self {
            Gender::Male => b'M',
            Gender::Female => b'F',
        }
    }

    fn from_byte(byte: &[u8]) -> Result<Self, GenderError> {
        match byte {
            b"M" => Ok(Gender::Male),
            b"F" => Ok(Gender::Female),
            other => Err(GenderError {
                found: String::from_utf8_lossy(other).into_owned(),
            }),
        }
    }
}

impl fmt::Display for Gender {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Gender::Male => "M",
            Gender::Female => "F",
        })
    }
}

/// The contents of DG1: who the holder is, as the birth certificate and the registry say.
///
/// Made only by [`EnrolmentRecord::validate`](super::enrolment::EnrolmentRecord::validate) or
/// by [`Identity::from_dg`], so every field is valid and birth < issue < expiry.
#[derive(Debug, Clone, PartialEq, Eq, Hash, serde::Serialize)]
pub struct Identity {
    pub(crate) national_code: NationalCode,
    pub(crate) given_name_fa: PersianText,
    pub(crate) surname_fa: PersianText,
    pub(crate) given_name_latin: LatinName,
    pub(crate) surname_latin: LatinName,
    pub(crate) father_name_fa: PersianText,
    pub(crate) father_name_latin: LatinName,
    pub(crate) gender: Gender,
    pub(crate) birth_date: JalaliDate,
    pub(crate) birth_place_fa: PersianText,
    pub(crate) birth_place_latin: Option<LatinName>,
    pub(crate) certificate_number: CertificateNumber,
    pub(crate) issue_date: JalaliDate,
    pub(crate) expiry_date: JalaliDate,
    pub(crate) tracking_code: Option<TrackingCode>,
}

const FIELDS: [Field; 16] = [
    field(tag::FORMAT_VERSION, "format version", true),
    field(tag::NATIONAL_CODE, "national code", true),
    field(tag::GIVEN_NAME_FA, "given name, Persian", true),
    field(tag::SURNAME_FA, "surname, Persian", true),
    field(tag::GIVEN_NAME_LATIN, "given name, Latin", true),
    field(tag::SURNAME_LATIN, "surname, Latin", true),
    field(tag::FATHER_NAME_FA, "father's name, Persian", true),
    field(tag::FATHER_NAME_LATIN, "father's name, Latin", true),
    field(tag::GENDER, "gender", true),
    field(tag::BIRTH_DATE, "birth date", true),
    field(tag::BIRTH_PLACE_FA, "birth place, Persian", true),
    field(tag::BIRTH_PLACE_LATIN, "birth place, Latin", false),
    field(tag::CERTIFICATE_NUMBER, "birth-certificate number", true),
    field(tag::ISSUE_DATE, "issue date", true),
    field(tag::EXPIRY_DATE, "expiry date", true),
    field(tag::TRACKING_CODE, "tracking code", false),
];

const fn field(tag: u16, name: &'static str, required: bool) -> Field {
    Field {
        tag,
        name,
        required,
    }
}

fn spec_field(t: u16) -> &'static Field {
    // Only called with tags from FIELDS.
    FIELDS.iter().find(|f| f.tag == t).unwrap_or(&FIELDS[0])
}

impl Identity {
    /// DG1 as written to EF 0101: `E1 { DF00 01 01, DF01 … DF0F }`, tags in ascending order,
    /// optional ones (DF0B, DF0F) only when present.
    pub fn to_dg(&self) -> Vec<u8> {
        let mut fields: Vec<(u16, Vec<u8>)> = vec![
            (tag::FORMAT_VERSION, vec![data_group::FORMAT_VERSION]),
            (tag::NATIONAL_CODE, self.national_code.to_ascii().to_vec()),
            (tag::GIVEN_NAME_FA, text(self.given_name_fa.as_str())),
            (tag::SURNAME_FA, text(self.surname_fa.as_str())),
            (tag::GIVEN_NAME_LATIN, text(self.given_name_latin.as_str())),
            (tag::SURNAME_LATIN, text(self.surname_latin.as_str())),
            (tag::FATHER_NAME_FA, text(self.father_name_fa.as_str())),
            (
                tag::FATHER_NAME_LATIN,
                text(self.father_name_latin.as_str()),
            ),
            (tag::GENDER, vec![self.gender.as_byte()]),
            (tag::BIRTH_DATE, self.birth_date.to_card_bytes().to_vec()),
            (tag::BIRTH_PLACE_FA, text(self.birth_place_fa.as_str())),
        ];
        if let Some(place) = &self.birth_place_latin {
            fields.push((tag::BIRTH_PLACE_LATIN, text(place.as_str())));
        }
        fields.extend([
            (
                tag::CERTIFICATE_NUMBER,
                text(self.certificate_number.as_str()),
            ),
            (tag::ISSUE_DATE, self.issue_date.to_card_bytes().to_vec()),
            (tag::EXPIRY_DATE, self.expiry_date.to_card_bytes().to_vec()),
        ]);
        if let Some(code) = &self.tracking_code {
            fields.push((tag::TRACKING_CODE, text(code.as_str())));
        }
        data_group::encode(tag::IDENTITY_TEMPLATE, &fields)
    }

    /// Parses DG1 as read from a card. Unknown tags are skipped; everything else must follow
    /// the specification exactly: each known tag at most once and in order, the required ones
    /// present, every value in its on-card form (text already normalized), and
    /// birth < issue < expiry.
    pub fn from_dg(bytes: &[u8]) -> Result<Self, DataGroupError> {
        let found = data_group::decode(bytes, GROUP, tag::IDENTITY_TEMPLATE, MAX_DG_LEN, &FIELDS)?;
        let get = |t: u16| data_group::required(&found, GROUP, spec_field(t));
        let err = |t: u16, e: &dyn fmt::Display| data_group::field_error(GROUP, spec_field(t), e);
        let persian = |t: u16| -> Result<PersianText, DataGroupError> {
            let s = data_group::utf8(get(t)?, GROUP, spec_field(t))?;
            PersianText::from_normalized(s).map_err(|e| err(t, &e))
        };
        let latin_from = |t: u16, bytes: &[u8]| -> Result<LatinName, DataGroupError> {
            let s = data_group::utf8(bytes, GROUP, spec_field(t))?;
            LatinName::from_normalized(s).map_err(|e| err(t, &e))
        };
        let latin = |t: u16| latin_from(t, get(t)?);
        let date = |t: u16| JalaliDate::from_card_bytes(get(t)?).map_err(|e| err(t, &e));

        let identity = Identity {
            national_code: NationalCode::from_card_bytes(get(tag::NATIONAL_CODE)?)
                .map_err(|e| err(tag::NATIONAL_CODE, &e))?,
            given_name_fa: persian(tag::GIVEN_NAME_FA)?,
            surname_fa: persian(tag::SURNAME_FA)?,
            given_name_latin: latin(tag::GIVEN_NAME_LATIN)?,
            surname_latin: latin(tag::SURNAME_LATIN)?,
            father_name_fa: persian(tag::FATHER_NAME_FA)?,
            father_name_latin: latin(tag::FATHER_NAME_LATIN)?,
            gender: Gender::from_byte(get(tag::GENDER)?).map_err(|e| err(tag::GENDER, &e))?,
            birth_date: date(tag::BIRTH_DATE)?,
            birth_place_fa: persian(tag::BIRTH_PLACE_FA)?,
            birth_place_latin: found
                .get(&tag::BIRTH_PLACE_LATIN)
                .map(|b| latin_from(tag::BIRTH_PLACE_LATIN, b))
                .transpose()?,
            certificate_number: CertificateNumber::from_card_bytes(get(tag::CERTIFICATE_NUMBER)?)
                .map_err(|e| err(tag::CERTIFICATE_NUMBER, &e))?,
            issue_date: date(tag::ISSUE_DATE)?,
            expiry_date: date(tag::EXPIRY_DATE)?,
            tracking_code: found
                .get(&tag::TRACKING_CODE)
                .map(|b| TrackingCode::from_card_bytes(b).map_err(|e| err(tag::TRACKING_CODE, &e)))
                .transpose()?,
        };
        if identity.issue_date <= identity.birth_date {
            return Err(err(
                tag::ISSUE_DATE,
                &format!(
                    "{} is not after the birth date {}",
                    identity.issue_date, identity.birth_date
                ),
            ));
        }
        if identity.expiry_date <= identity.issue_date {
            return Err(err(
                tag::EXPIRY_DATE,
                &format!(
                    "{} is not after the issue date {}",
                    identity.expiry_date, identity.issue_date
                ),
            ));
        }
        Ok(identity)
    }

    pub fn national_code(&self) -> NationalCode {
        self.national_code
    }
    pub fn given_name_fa(&self) -> &PersianText {
        &self.given_name_fa
    }
    pub fn surname_fa(&self) -> &PersianText {
        &self.surname_fa
    }
    pub fn given_name_latin(&self) -> &LatinName {
        &self.given_name_latin
    }
    pub fn surname_latin(&self) -> &LatinName {
        &self.surname_latin
    }
    pub fn father_name_fa(&self) -> &PersianText {
        &self.father_name_fa
    }
    pub fn father_name_latin(&self) -> &LatinName {
        &self.father_name_latin
    }
    pub fn gender(&self) -> Gender {
        self.gender
    }
    pub fn birth_date(&self) -> JalaliDate {
        self.birth_date
    }
    pub fn birth_place_fa(&self) -> &PersianText {
        &self.birth_place_fa
    }
    pub fn birth_place_latin(&self) -> Option<&LatinName> {
        self.birth_place_latin.as_ref()
    }
    pub fn certificate_number(&self) -> &CertificateNumber {
        &self.certificate_number
    }
    pub fn issue_date(&self) -> JalaliDate {
        self.issue_date
    }
    pub fn expiry_date(&self) -> JalaliDate {
        self.expiry_date
    }
    pub fn tracking_code(&self) -> Option<&TrackingCode> {
        self.tracking_code.as_ref()
    }
}

fn text(s: &str) -> Vec<u8> {
    s.as_bytes().to_vec()
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
pub(crate) mod tests {
    use super::*;

    pub(crate) fn sample() -> Identity {
        Identity {
            national_code: NationalCode::parse("0012345679").unwrap(),
            given_name_fa: PersianText::parse("علی‌رضا").unwrap(),
            surname_fa: PersianText::parse("محمدی").unwrap(),
            given_name_latin: LatinName::parse("Alireza").unwrap(),
            surname_latin: LatinName::parse("Mohammadi").unwrap(),
            father_name_fa: PersianText::parse("حسین").unwrap(),
            father_name_latin: LatinName::parse("Hossein").unwrap(),
            gender: Gender::Male,
            birth_date: JalaliDate::parse("1368/06/15").unwrap(),
            birth_place_fa: PersianText::parse("تهران").unwrap(),
            birth_place_latin: Some(LatinName::parse("Tehran").unwrap()),
            certificate_number: CertificateNumber::parse("4821").unwrap(),
            issue_date: JalaliDate::parse("1403/09/10").unwrap(),
            expiry_date: JalaliDate::parse("1410/09/10").unwrap(),
            tracking_code: Some(TrackingCode::parse("140309100001").unwrap()),
        }
    }

    /// Re-encodes `sample()` with one field's value replaced (or removed with `None`).
    fn with(tag_to_change: u16, value: Option<&[u8]>) -> Vec<u8> {
        let dg = sample().to_dg();
        let found =
            data_group::decode(&dg, GROUP, tag::IDENTITY_TEMPLATE, MAX_DG_LEN, &FIELDS).unwrap();
        let fields: Vec<(u16, Vec<u8>)> = found
            .into_iter()
            .filter_map(|(t, v)| {
                if t == tag_to_change {
                    value.map(|v| (t, v.to_vec()))
                } else {
                    Some((t, v))
                }
            })
            .collect();
        data_group::encode(tag::IDENTITY_TEMPLATE, &fields)
    }

    #[test]
    fn round_trip() {
        let id = sample();
        let dg = id.to_dg();
        assert_eq!(Identity::from_dg(&dg).unwrap(), id);

        let mut minimal = sample();
        minimal.birth_place_latin = None;
        minimal.tracking_code = None;
        let dg = minimal.to_dg();
        assert_eq!(Identity::from_dg(&dg).unwrap(), minimal);
    }

    #[test]
    fn exact_encoding_prefix() {
        let dg = sample().to_dg();
        assert_eq!(dg[0], 0xE1);
        // E1 81 LL (more than 127 bytes of content), then DF00 01 01, DF01 0A "0012345679".
        assert_eq!(dg[1], 0x81);
        assert_eq!(usize::from(dg[2]), dg.len() - 3);
        assert_eq!(&dg[3..7], &[0xDF, 0x00, 0x01, 0x01]);
        assert_eq!(&dg[7..10], &[0xDF, 0x01, 0x0A]);
        assert_eq!(&dg[10..20], b"0012345679");
    }

    #[test]
    fn tags_come_in_ascending_order() {
        let dg = sample().to_dg();
        let mut tags = Vec::new();
        let mut i = 3;
        while i < dg.len() {
            tags.push(u16::from_be_bytes([dg[i], dg[i + 1]]));
            let len = usize::from(dg[i + 2]);
            i += 3 + len;
        }
        assert_eq!(tags, (0xDF00..=0xDF0F).collect::<Vec<u16>>());
    }

    #[test]
    fn unknown_tags_are_skipped() {
        let dg = sample().to_dg();
        let found =
            data_group::decode(&dg, GROUP, tag::IDENTITY_TEMPLATE, MAX_DG_LEN, &FIELDS).unwrap();
        let mut fields: Vec<(u16, Vec<u8>)> = found.into_iter().collect();
        fields.insert(3, (0xDF50, b"future".to_vec()));
        fields.push((0xDF7E, vec![]));
        let extended = data_group::encode(tag::IDENTITY_TEMPLATE, &fields);
        assert_eq!(Identity::from_dg(&extended).unwrap(), sample());
    }

    #[test]
    fn malformed_fields() {
        let cases: Vec<(u16, Option<&[u8]>, &str)> = vec![
            (
                tag::NATIONAL_CODE,
                Some(b"0012345673"),
                "identity data group: DF01 (national code) check digit is 3, expected 9",
            ),
            (
                tag::NATIONAL_CODE,
                None,
                "identity data group: DF01 (national code) is missing",
            ),
            (
                tag::GIVEN_NAME_FA,
                Some("علي".as_bytes()),
                "identity data group: DF02 (given name, Persian) is not in normalized form (expected \"علی\")",
            ),
            (
                tag::SURNAME_FA,
                Some(b"\xff\xfe"),
                "identity data group: DF03 (surname, Persian) is not UTF-8",
            ),
            (
                tag::GIVEN_NAME_LATIN,
                Some(b"Ali2"),
                "identity data group: DF04 (given name, Latin) contains '2' (U+0032); only the Latin letters A-Z, a-z, space, hyphen and apostrophe are allowed",
            ),
            (
                tag::GENDER,
                Some(b"X"),
                "identity data group: DF08 (gender) is \"X\"; write \"M\" or \"F\"",
            ),
            (
                tag::GENDER,
                Some(b"m"),
                "identity data group: DF08 (gender) is \"m\"; write \"M\" or \"F\"",
            ),
            (
                tag::BIRTH_DATE,
                Some(b"14041230"),
                "identity data group: DF09 (birth date) 1404/12/30 does not exist: Esfand 1404 has 29 days (it is not a leap year)",
            ),
            (
                tag::BIRTH_DATE,
                Some(b"1368/6/1"),
                "identity data group: DF09 (birth date) is \"1368/6/1\", not a date written as eight digits YYYYMMDD",
            ),
            (
                tag::BIRTH_PLACE_LATIN,
                Some(b""),
                "identity data group: DF0B (birth place, Latin) is empty",
            ),
            (
                tag::CERTIFICATE_NUMBER,
                Some(b"12345678901"),
                "identity data group: DF0C (birth-certificate number) has 11 digits, at most 10",
            ),
            (
                tag::ISSUE_DATE,
                Some(b"13680615"),
                "identity data group: DF0D (issue date) 1368/06/15 is not after the birth date 1368/06/15",
            ),
            (
                tag::EXPIRY_DATE,
                Some(b"14030910"),
                "identity data group: DF0E (expiry date) 1403/09/10 is not after the issue date 1403/09/10",
            ),
            (
                tag::TRACKING_CODE,
                Some(b"14-03"),
                "identity data group: DF0F (tracking code) contains '-'; a tracking code has Latin letters and digits only",
            ),
            (
                tag::FORMAT_VERSION,
                Some(&[2]),
                "identity data group: has format version 02, this melli reads version 1",
            ),
        ];
        for (t, value, message) in cases {
            let err = Identity::from_dg(&with(t, value)).unwrap_err();
            assert_eq!(err.to_string(), message, "{t:04X}");
        }
    }

    #[test]
    fn structure_errors() {
        let mut dg = sample().to_dg();
        dg[0] = 0xE4;
        assert_eq!(
            Identity::from_dg(&dg).unwrap_err().to_string(),
            "identity data group: begins with tag E4, expected the template E1"
        );
        let dg = sample().to_dg();
        assert!(Identity::from_dg(&dg[..dg.len() - 1]).is_err());
        assert!(Identity::from_dg(&[dg.as_slice(), &[0]].concat()).is_err());
        assert!(Identity::from_dg(&vec![0xE1; MAX_DG_LEN + 1]).is_err());
    }

    #[test]
    fn gender_table() {
        assert_eq!(Gender::parse("M").unwrap(), Gender::Male);
        assert_eq!(Gender::parse(" f ").unwrap(), Gender::Female);
        assert_eq!(
            Gender::parse("male").unwrap_err().to_string(),
            "is \"male\"; write \"M\" or \"F\""
        );
        assert_eq!(Gender::Female.to_string(), "F");
        assert_eq!(serde_json::to_string(&Gender::Male).unwrap(), "\"M\"");
    }

    #[test]
    fn largest_identity_fits_its_file() {
        let name = PersianText::parse(&"م".repeat(48)).unwrap();
        let latin = LatinName::parse(&"A".repeat(96)).unwrap();
        let id = Identity {
            given_name_fa: name.clone(),
            surname_fa: name.clone(),
            father_name_fa: name.clone(),
            birth_place_fa: name,
            given_name_latin: latin.clone(),
            surname_latin: latin.clone(),
            father_name_latin: latin.clone(),
            birth_place_latin: Some(latin),
            certificate_number: CertificateNumber::parse("1234567890").unwrap(),
            tracking_code: Some(TrackingCode::parse(&"A".repeat(32)).unwrap()),
            ..sample()
        };
        let dg = id.to_dg();
        assert!(dg.len() <= MAX_DG_LEN, "{}", dg.len());
        assert_eq!(Identity::from_dg(&dg).unwrap(), id);
    }
}
