//! Distinguished names (RFC 5280 §4.1.2.4): build them attribute by attribute with the string
//! type RFC 5280 asks for, and read attributes back.

use der::asn1::{
    Ia5StringRef, ObjectIdentifier, PrintableStringRef, TeletexStringRef, Utf8StringRef,
};
use der::{Any, Tag, Tagged};
use x509_cert::attr::AttributeTypeAndValue;
use x509_cert::name::{Name, RdnSequence, RelativeDistinguishedName};

/// countryName (X.520; RFC 5280 §4.1.2.4: PrintableString, two letters).
pub const COUNTRY: ObjectIdentifier = ObjectIdentifier::new_unwrap("2.5.4.6");
/// organizationName.
pub const ORGANIZATION: ObjectIdentifier = ObjectIdentifier::new_unwrap("2.5.4.10");
/// commonName.
pub const COMMON_NAME: ObjectIdentifier = ObjectIdentifier::new_unwrap("2.5.4.3");
/// surname.
pub const SURNAME: ObjectIdentifier = ObjectIdentifier::new_unwrap("2.5.4.4");
/// givenName.
pub const GIVEN_NAME: ObjectIdentifier = ObjectIdentifier::new_unwrap("2.5.4.42");
/// serialNumber (X.520 §6.2.9; PrintableString). Holds the holder's national code.
pub const SERIAL_NUMBER: ObjectIdentifier = ObjectIdentifier::new_unwrap("2.5.4.5");
/// name (X.520 §6.2.1), the supertype of the naming attributes; openssl prints it as `name=`.
/// Holds the holder's full name in Persian script.
pub const NAME: ObjectIdentifier = ObjectIdentifier::new_unwrap("2.5.4.41");

/// How an attribute value is encoded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StringKind {
    /// PrintableString: `A-Z a-z 0-9 '()+,-./:=?` and space.
    Printable,
    /// UTF8String (RFC 5280 §4.1.2.4: the default DirectoryString choice).
    Utf8,
}

/// Builds a [`Name`] one single-valued RDN at a time, most significant first.
#[derive(Debug, Default, Clone)]
pub struct NameBuilder {
    rdns: Vec<RelativeDistinguishedName>,
}

impl NameBuilder {
    /// An empty name.
    pub fn new() -> Self {
        Self::default()
    }

    /// Append `oid = value`; fails when the value is empty, too long, or not valid for `kind`.
    pub fn push(
        mut self,
        oid: ObjectIdentifier,
        kind: StringKind,
        value: &str,
    ) -> Result<Self, der::Error> {
        if value.is_empty() || value.len() > 256 {
            return Err(der::ErrorKind::Length {
                tag: Tag::Utf8String,
            }
            .into());
        }
        let any = match kind {
            StringKind::Printable => Any::from(PrintableStringRef::new(value)?),
            StringKind::Utf8 => Any::from(Utf8StringRef::new(value)?),
        };
        let atv = AttributeTypeAndValue { oid, value: any };
        self.rdns
            .push(RelativeDistinguishedName::try_from(vec![atv])?);
        Ok(self)
    }

    /// The finished name.
    pub fn build(self) -> Name {
        RdnSequence(self.rdns)
    }
}

/// Every value of attribute `oid` in `name`, in order, decoded from any of the string types
/// RFC 5280 allows. Values of other string types are skipped.
pub fn attribute_values(name: &Name, oid: ObjectIdentifier) -> Vec<String> {
    name.0
        .iter()
        .flat_map(|rdn| rdn.0.iter())
        .filter(|atv| atv.oid == oid)
        .filter_map(|atv| any_to_string(&atv.value))
        .collect()
}

/// The first value of attribute `oid`, if any.
pub fn attribute_value(name: &Name, oid: ObjectIdentifier) -> Option<String> {
    attribute_values(name, oid).into_iter().next()
}

/// The common name, else the RFC 4514 string of the whole name; for messages.
pub fn display_name(name: &Name) -> String {
    attribute_value(name, COMMON_NAME).unwrap_or_else(|| name.to_string())
}

fn any_to_string(any: &Any) -> Option<String> {
    match any.tag() {
        Tag::Utf8String => Utf8StringRef::try_from(any)
            .ok()
            .map(|s| s.as_str().to_owned()),
        Tag::PrintableString => PrintableStringRef::try_from(any)
            .ok()
            .map(|s| s.as_str().to_owned()),
        Tag::Ia5String => Ia5StringRef::try_from(any)
            .ok()
            .map(|s| s.as_str().to_owned()),
        Tag::TeletexString => TeletexStringRef::try_from(any)
            .ok()
            .map(|s| s.as_str().to_owned()),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn builds_and_reads_back() {
        let name = NameBuilder::new()
            .push(COUNTRY, StringKind::Printable, "IR")
            .and_then(|b| b.push(NAME, StringKind::Utf8, "علی رضایی"))
            .and_then(|b| b.push(COMMON_NAME, StringKind::Utf8, "Ali Rezaei"))
            .expect("name")
            .build();
        assert_eq!(attribute_value(&name, COUNTRY).as_deref(), Some("IR"));
        assert_eq!(attribute_value(&name, NAME).as_deref(), Some("علی رضایی"));
        assert_eq!(display_name(&name), "Ali Rezaei");
        assert_eq!(attribute_value(&name, SURNAME), None);
    }

    #[test]
    fn refuses_bad_values() {
        assert!(NameBuilder::new()
            .push(COUNTRY, StringKind::Printable, "")
            .is_err());
        assert!(NameBuilder::new()
            .push(COUNTRY, StringKind::Printable, "I*R")
            .is_err());
    }
}
