//! Host-side BER-TLV encoding and decoding of the TLV data groups (DG1 identity, DG4 address),
//! with `iso7816-tlv` (applets-spec §5.1, §5.4).
//!
//! A data group is one constructed template (`E1`, `E4`) of primitive data objects with the
//! `DFxx` tags of `spec::tag`, in ascending tag order, each at most once, starting with the
//! format version `DF00 01 01`. Readers skip tags they do not know.

use std::collections::BTreeMap;
use std::fmt;

use iso7816_tlv::ber::{Tag, Tlv, Value};
use iso7816_tlv::TlvError;

use crate::spec::tag;

/// The format version this code writes and reads (`DF00`).
pub const FORMAT_VERSION: u8 = 1;

/// A data group read from a card breaks the specification.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{group} data group: {message}")]
pub struct DataGroupError {
    /// "identity" or "address".
    pub group: &'static str,
    pub message: String,
}

/// A data object tag with its name, for messages.
pub(crate) struct Field {
    pub tag: u16,
    pub name: &'static str,
    pub required: bool,
}

impl fmt::Display for Field {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:04X} ({})", self.tag, self.name)
    }
}

fn ber_tag(value: u64) -> Tag {
    // Every tag of the specification is a valid BER tag of one or two bytes (tested below);
    // nothing from outside reaches here.
    #[allow(clippy::expect_used)]
    Tag::try_from(value).expect("the specification's tags are valid BER tags")
}

/// Encodes `template { fields… }`. The fields must come in ascending tag order.
pub(crate) fn encode(template: u8, fields: &[(u16, Vec<u8>)]) -> Vec<u8> {
    let children = fields
        .iter()
        .map(|(t, v)| Tlv::new(ber_tag(u64::from(*t)), Value::Primitive(v.clone())))
        .collect::<Result<Vec<_>, _>>();
    let tlv = children.and_then(|c| Tlv::new(ber_tag(u64::from(template)), Value::Constructed(c)));
    // `Tlv::new` fails only when a tag's constructed bit disagrees with its value, which the
    // specification's tags never do (tested below).
    #[allow(clippy::expect_used)]
    tlv.expect("template tags are constructed, field tags primitive")
        .to_vec()
}

/// Decodes `template { fields… }`: the values of the known `fields`, by tag.
///
/// Refuses input longer than `max_len`, anything that is not exactly one BER-TLV object, a
/// different template tag, a known tag twice or out of order, a missing required tag, and a
/// format version other than [`FORMAT_VERSION`]. Unknown tags are skipped.
pub(crate) fn decode(
    bytes: &[u8],
    group: &'static str,
    template: u8,
    max_len: usize,
    fields: &[Field],
) -> Result<BTreeMap<u16, Vec<u8>>, DataGroupError> {
    let fail = |message: String| DataGroupError { group, message };
    if bytes.is_empty() {
        return Err(fail("is empty".to_owned()));
    }
    // The bound also bounds the parser's recursion into nested templates.
    if bytes.len() > max_len {
        return Err(fail(format!(
            "is {} bytes, more than the {max_len} its file holds",
            bytes.len()
        )));
    }
    let (parsed, rest) = Tlv::parse(bytes);
    let tlv =
        parsed.map_err(|e| fail(format!("is not well-formed BER-TLV: {}", tlv_problem(&e))))?;
    if !rest.is_empty() {
        let n = rest.len();
        let unit = if n == 1 { "byte" } else { "bytes" };
        return Err(fail(format!("has {n} {unit} after its template")));
    }
    let outer: u64 = tlv.tag().clone().into();
    if outer != u64::from(template) {
        return Err(fail(format!(
            "begins with tag {outer:02X}, expected the template {template:02X}"
        )));
    }
    let Value::Constructed(children) = tlv.value() else {
        return Err(fail(format!("template {template:02X} is not constructed")));
    };

    let mut found = BTreeMap::new();
    let mut last_index = None;
    for child in children {
        let t: u64 = child.tag().clone().into();
        let Some(index) = fields.iter().position(|f| u64::from(f.tag) == t) else {
            continue; // unknown tag: skipped, as the specification asks
        };
        let field = &fields[index];
        if last_index.is_some_and(|last| index <= last) {
            let problem = if index == last_index.unwrap_or(usize::MAX) {
                "appears twice"
            } else {
                "is out of order"
            };
            return Err(fail(format!("{field} {problem}")));
        }
        last_index = Some(index);
        let Value::Primitive(value) = child.value() else {
            return Err(fail(format!("{field} is constructed, expected a value")));
        };
        found.insert(field.tag, value.clone());
    }
    if let Some(missing) = fields
        .iter()
        .find(|f| f.required && !found.contains_key(&f.tag))
    {
        return Err(fail(format!("{missing} is missing")));
    }
    match found.get(&tag::FORMAT_VERSION).map(Vec::as_slice) {
        Some([FORMAT_VERSION]) => Ok(found),
        Some(other) => Err(fail(format!(
            "has format version {}, this melli reads version {FORMAT_VERSION}",
            hex::encode_upper(other)
        ))),
        None => Err(fail("has no format version (DF00)".to_owned())),
    }
}

fn tlv_problem(e: &TlvError) -> &'static str {
    match e {
        TlvError::InvalidInput | TlvError::ParseIntError => "it holds an invalid tag",
        TlvError::TagIsRFU => "it holds a tag longer than three bytes",
        TlvError::TruncatedInput => "it ends inside a data object",
        TlvError::Inconsistant => "a length disagrees with the data objects inside it",
        TlvError::InvalidLength => "it holds an invalid length",
    }
}

/// The value of a field, or `Err` when a required one is missing (checked in [`decode`]).
pub(crate) fn required<'a>(
    found: &'a BTreeMap<u16, Vec<u8>>,
    group: &'static str,
    field: &Field,
) -> Result<&'a [u8], DataGroupError> {
    found
        .get(&field.tag)
        .map(Vec::as_slice)
        .ok_or_else(|| DataGroupError {
            group,
            message: format!("{field} is missing"),
        })
}

/// A field's value as UTF-8.
pub(crate) fn utf8<'a>(
    bytes: &'a [u8],
    group: &'static str,
    field: &Field,
) -> Result<&'a str, DataGroupError> {
    std::str::from_utf8(bytes).map_err(|_| DataGroupError {
        group,
        message: format!("{field} is not UTF-8"),
    })
}

/// Wraps a field-level error into a [`DataGroupError`] naming the field.
pub(crate) fn field_error(
    group: &'static str,
    field: &Field,
    error: impl fmt::Display,
) -> DataGroupError {
    DataGroupError {
        group,
        message: format!("{field} {error}"),
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    const FIELDS: [Field; 3] = [
        Field {
            tag: tag::FORMAT_VERSION,
            name: "format version",
            required: true,
        },
        Field {
            tag: tag::POSTAL_CODE,
            name: "postal code",
            required: true,
        },
        Field {
            tag: tag::ADDRESS_TEXT,
            name: "address",
            required: false,
        },
    ];

    fn dec(bytes: &[u8]) -> Result<BTreeMap<u16, Vec<u8>>, DataGroupError> {
        decode(bytes, "address", 0xE4, 256, &FIELDS)
    }

    #[test]
    fn every_spec_tag_encodes() {
        for t in [
            tag::FORMAT_VERSION,
            tag::NATIONAL_CODE,
            tag::GIVEN_NAME_FA,
            tag::SURNAME_FA,
            tag::GIVEN_NAME_LATIN,
            tag::SURNAME_LATIN,
            tag::FATHER_NAME_FA,
            tag::FATHER_NAME_LATIN,
            tag::GENDER,
            tag::BIRTH_DATE,
            tag::BIRTH_PLACE_FA,
            tag::BIRTH_PLACE_LATIN,
            tag::CERTIFICATE_NUMBER,
            tag::ISSUE_DATE,
            tag::EXPIRY_DATE,
            tag::TRACKING_CODE,
            tag::POSTAL_CODE,
            tag::ADDRESS_TEXT,
        ] {
            for template in [tag::IDENTITY_TEMPLATE, tag::ADDRESS_TEMPLATE] {
                let bytes = encode(template, &[(t, vec![1, 2])]);
                assert_eq!(bytes, [template, 5, (t >> 8) as u8, t as u8, 2, 1, 2]);
            }
        }
    }

    #[test]
    fn long_values_use_long_lengths() {
        let bytes = encode(0xE4, &[(tag::ADDRESS_TEXT, vec![b'a'; 200])]);
        assert_eq!(&bytes[..6], &[0xE4, 0x81, 204, 0xDF, 0x11, 0x81]);
        assert_eq!(bytes[6], 200);
    }

    #[test]
    fn decode_table() {
        let good = hex::decode("E411DF000101DF100A31333435363133343738").unwrap();
        let found = dec(&good).unwrap();
        assert_eq!(found[&tag::POSTAL_CODE], b"1345613478");

        // An unknown tag (DF7F) and an unknown constructed object (A0) in the middle: skipped.
        let with_unknown =
            hex::decode("E41ADF000101DF7F0199A003800100DF100A31333435363133343738").unwrap();
        assert_eq!(
            dec(&with_unknown).unwrap()[&tag::POSTAL_CODE],
            b"1345613478"
        );

        let cases: [(&str, &str); 13] = [
            ("", "address data group: is empty"),
            ("E1 04 DF000101", "address data group: begins with tag E1, expected the template E4"),
            ("E4 04 DF000101", "address data group: DF10 (postal code) is missing"),
            ("E4 08 DF10 01 31 DF000101", "address data group: DF00 (format version) is out of order"),
            ("E4 08 DF000101 DF000101", "address data group: DF00 (format version) appears twice"),
            ("E4 08 DF000102 DF100131", "address data group: has format version 02, this melli reads version 1"),
            ("E4 05 DF000101", "address data group: is not well-formed BER-TLV: it ends inside a data object"),
            ("E4 04 DF000101 00", "address data group: has 1 byte after its template"),
            ("E4 04 DF000101 E4E4", "address data group: has 2 bytes after its template"),
            ("E4 03 DF000101", "address data group: is not well-formed BER-TLV: a length disagrees with the data objects inside it"),
            ("64 04 DF000101", "address data group: begins with tag 64, expected the template E4"),
            ("DF10 01 31", "address data group: begins with tag DF10, expected the template E4"),
            ("E4 06 DF000101 DF10", "address data group: is not well-formed BER-TLV: it ends inside a data object"),
        ];
        for (input, message) in cases {
            let bytes = hex::decode(input.replace(' ', "")).unwrap();
            assert_eq!(dec(&bytes).unwrap_err().to_string(), message, "{input}");
        }
        let too_long = vec![0u8; 257];
        assert_eq!(
            dec(&too_long).unwrap_err().to_string(),
            "address data group: is 257 bytes, more than the 256 its file holds"
        );
    }
}
