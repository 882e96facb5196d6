//! The holder's address and its data group DG4 (applets-spec §5.4).

use crate::spec::tag;

use super::data_group::{self, DataGroupError, Field};
use super::postal_code::PostalCode;
use super::text::AddressText;

/// Most bytes of the address file (EF 0104).
pub const MAX_DG_LEN: usize = 256;

const GROUP: &str = "address";

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

/// The contents of DG4: the postal code and, if given, the address text.
#[derive(Debug, Clone, PartialEq, Eq, Hash, serde::Serialize)]
pub struct Address {
    pub(crate) postal_code: PostalCode,
    pub(crate) text: Option<AddressText>,
}

impl Address {
    /// Both parts are already valid on their own, and any combination is a valid address.
    pub fn new(postal_code: PostalCode, text: Option<AddressText>) -> Self {
        Address { postal_code, text }
    }

    /// DG4 as written to EF 0104: `E4 { DF00 01 01, DF10 postal code, [DF11 address] }`.
    pub fn to_dg(&self) -> Vec<u8> {
        let mut fields = vec![
            (tag::FORMAT_VERSION, vec![data_group::FORMAT_VERSION]),
            (tag::POSTAL_CODE, self.postal_code.to_ascii().to_vec()),
        ];
        if let Some(text) = &self.text {
            fields.push((tag::ADDRESS_TEXT, text.as_str().as_bytes().to_vec()));
        }
        data_group::encode(tag::ADDRESS_TEMPLATE, &fields)
    }

    /// Parses DG4 as read from a card. Unknown tags are skipped; the postal code must be ten
    /// ASCII digits that pass the postal-code rules, the text normalized UTF-8.
    pub fn from_dg(bytes: &[u8]) -> Result<Self, DataGroupError> {
        let found = data_group::decode(bytes, GROUP, tag::ADDRESS_TEMPLATE, MAX_DG_LEN, &FIELDS)?;
        let postal = &FIELDS[1];
        let text = &FIELDS[2];
        let postal_code = PostalCode::from_card_bytes(data_group::required(&found, GROUP, postal)?)
            .map_err(|e| data_group::field_error(GROUP, postal, e))?;
        let text = match found.get(&tag::ADDRESS_TEXT) {
            None => None,
            Some(bytes) => Some(
                AddressText::from_normalized(data_group::utf8(bytes, GROUP, text)?)
                    .map_err(|e| data_group::field_error(GROUP, text, e))?,
            ),
        };
        Ok(Address { postal_code, text })
    }

    pub fn postal_code(&self) -> PostalCode {
        self.postal_code
    }

    pub fn text(&self) -> Option<&AddressText> {
        self.text.as_ref()
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn sample() -> Address {
        Address::new(
            PostalCode::parse("1345613478").unwrap(),
            Some(AddressText::parse("تهران، خیابان آزادی، کوچه ۱۲، پلاک ۳").unwrap()),
        )
    }

    #[test]
    fn round_trip() {
        let a = sample();
        assert_eq!(Address::from_dg(&a.to_dg()).unwrap(), a);
        let bare = Address::new(a.postal_code(), None);
        let dg = bare.to_dg();
        assert_eq!(
            dg,
            hex::decode("E411DF000101DF100A31333435363133343738").unwrap()
        );
        assert_eq!(Address::from_dg(&dg).unwrap(), bare);
        assert!(Address::from_dg(&dg).unwrap().text().is_none());
    }

    #[test]
    fn longest_address_fits_its_file() {
        let a = Address::new(
            PostalCode::parse("1345613478").unwrap(),
            Some(AddressText::parse(&"آ".repeat(100)).unwrap()),
        );
        let dg = a.to_dg();
        assert!(dg.len() <= MAX_DG_LEN, "{}", dg.len());
        assert_eq!(Address::from_dg(&dg).unwrap(), a);
    }

    #[test]
    fn errors() {
        let cases: [(&str, &str); 5] = [
            (
                "E411DF000101DF100A30333435363133343738",
                "address data group: DF10 (postal code) has the digit 0 at position 1; the first five digits are never 0 or 2",
            ),
            (
                "E410DF000101DF1009313334353631333437",
                "address data group: DF10 (postal code) has 9 digits, a postal code has 10",
            ),
            (
                "E415DF000101DF100A31333435363133343738DF1101FF",
                "address data group: DF11 (address) is not UTF-8",
            ),
            (
                "E416DF000101DF100A31333435363133343738DF11022020",
                "address data group: DF11 (address) is empty",
            ),
            (
                "E404DF000101",
                "address data group: DF10 (postal code) is missing",
            ),
        ];
        for (input, message) in cases {
            let err = Address::from_dg(&hex::decode(input).unwrap()).unwrap_err();
            assert_eq!(err.to_string(), message, "{input}");
        }
    }
}
