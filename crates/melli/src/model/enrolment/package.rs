//! A validated record as the shared journal keeps it between import and personalization: the
//! four data groups the card will hold, nothing else, in one BER-TLV object
//!
//! ```text
//! 70 { DF00 01 01 (format), DF01 DG1 identity, DF02 DG2 photo, DF03 DG3 fingerprint,
//!      DF04 DG4 address }
//! ```
//!
//! Read back, every group is checked again as a card's would be (the database is outside
//! melli, and so hostile): the identity and address by their parsers, the photo as a card
//! JPEG, the fingerprint as an ISO/IEC 19794-2 record, and the tracking code must be the
//! identity's own.

use super::ValidRecord;
use crate::model::data_group::{self, DataGroupError, Field};
use crate::model::fingerprint::FingerTemplate;
use crate::model::identity::Identity;
use crate::model::photo::{FaceImage, MAX_BYTES as PHOTO_MAX_BYTES};
use crate::model::Address;
use crate::spec::tag;

const TEMPLATE: u8 = 0x70;
const IDENTITY: u16 = 0xDF01;
const PHOTO: u16 = 0xDF02;
const FINGERPRINT: u16 = 0xDF03;
const ADDRESS: u16 = 0xDF04;

/// Largest package read back: the photo's budget, the fingerprint file and room for the
/// identity and address groups.
pub const MAX_PACKAGE: usize = PHOTO_MAX_BYTES + super::FINGERPRINT_CAPACITY + 4096;

const FIELDS: &[Field] = &[
    Field {
        tag: tag::FORMAT_VERSION,
        name: "format version",
        required: true,
    },
    Field {
        tag: IDENTITY,
        name: "identity",
        required: true,
    },
    Field {
        tag: PHOTO,
        name: "photo",
        required: true,
    },
    Field {
        tag: FINGERPRINT,
        name: "fingerprint",
        required: true,
    },
    Field {
        tag: ADDRESS,
        name: "address",
        required: true,
    },
];

/// A stored record that cannot be made into a card.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("the stored enrolment record is damaged: {0}")]
pub struct PackageError(String);

impl ValidRecord {
    /// The record as the shared journal stores it.
    pub fn to_package(&self) -> Vec<u8> {
        data_group::encode(
            TEMPLATE,
            &[
                (tag::FORMAT_VERSION, vec![data_group::FORMAT_VERSION]),
                (IDENTITY, self.identity_dg()),
                (PHOTO, self.photo_dg().to_vec()),
                (FINGERPRINT, self.fingerprint_dg()),
                (ADDRESS, self.address_dg()),
            ],
        )
    }

    /// A record read back from the shared journal, every part checked again.
    pub fn from_package(bytes: &[u8]) -> Result<ValidRecord, PackageError> {
        let group = |e: DataGroupError| PackageError(e.to_string());
        let found =
            data_group::decode(bytes, "package", TEMPLATE, MAX_PACKAGE, FIELDS).map_err(group)?;
        let part = |t: u16| found.get(&t).map_or(&[][..], Vec::as_slice);
        let identity = Identity::from_dg(part(IDENTITY)).map_err(group)?;
        let tracking_code = identity
            .tracking_code()
            .cloned()
            .ok_or_else(|| PackageError("the identity has no tracking code".to_owned()))?;
        let photo = FaceImage::from_card_bytes(part(PHOTO))
            .map_err(|e| PackageError(format!("photo: {e}")))?;
        let fingerprint = FingerTemplate::parse(part(FINGERPRINT))
            .map_err(|e| PackageError(format!("fingerprint: {e}")))?;
        let address = Address::from_dg(part(ADDRESS)).map_err(group)?;
        Ok(ValidRecord {
            tracking_code,
            identity,
            address,
            photo,
            fingerprint,
            warnings: Vec::new(),
        })
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    fn fixture() -> super::ValidRecord {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../../fixtures/records/valid-1.json");
        super::ValidRecord::load(&path).unwrap()
    }

    #[test]
    fn a_package_gives_back_the_same_card_data() {
        let record = fixture();
        let package = record.to_package();
        let back = super::ValidRecord::from_package(&package).unwrap();
        assert_eq!(back.identity_dg(), record.identity_dg());
        assert_eq!(back.photo_dg(), record.photo_dg());
        assert_eq!(back.fingerprint_dg(), record.fingerprint_dg());
        assert_eq!(back.address_dg(), record.address_dg());
        assert_eq!(back.tracking_code(), record.tracking_code());
        assert_eq!(back.to_package(), package);
    }

    #[test]
    fn a_damaged_package_is_refused() {
        let package = fixture().to_package();
        assert!(super::ValidRecord::from_package(&package[..package.len() - 1]).is_err());
        assert!(super::ValidRecord::from_package(&[]).is_err());
        let mut other = package.clone();
        other[0] = 0x71;
        assert!(super::ValidRecord::from_package(&other).is_err());
    }
}
