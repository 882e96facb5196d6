//! The unsigned attribute id-aa-signatureTimeStampToken (RFC 3161 Appendix A) of a SignerInfo.

use cms::content_info::ContentInfo;
use cms::signed_data::SignerInfos;
use der::asn1::SetOfVec;
use der::{Any, Decode, Encode};
use x509_cert::attr::Attribute;

use super::ID_AA_SIGNATURE_TIME_STAMP_TOKEN;
use crate::pki::asn1;
use crate::pki::signed_data::{CmsError, SignedData, SignedDataView};

/// Why a token cannot be added to a signature.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AttributeError {
    #[error("{0}")]
    Cms(#[from] CmsError),
    #[error("the signature already carries a timestamp")]
    AlreadyTimestamped,
}

impl From<der::Error> for AttributeError {
    fn from(e: der::Error) -> Self {
        AttributeError::Cms(CmsError::Encoding(e))
    }
}

/// The DER of every timestamp token in the signer's unsigned attributes, in order.
pub fn signature_timestamp_tokens(view: &SignedDataView) -> Vec<Vec<u8>> {
    view.signer_info()
        .unsigned_attrs
        .iter()
        .flat_map(|attrs| attrs.iter())
        .filter(|a| a.oid == ID_AA_SIGNATURE_TIME_STAMP_TOKEN)
        .flat_map(|a| a.values.iter())
        .filter_map(|v| v.to_der().ok())
        .collect()
}

/// `p7s` (the DER of a ContentInfo holding SignedData with one signer) with `token` added as
/// the signer's id-aa-signatureTimeStampToken. Everything signed stays byte for byte as it
/// was: the result is checked to carry the same signed attributes and signature.
pub fn with_timestamp_token(p7s: &[u8], token: &[u8]) -> Result<Vec<u8>, AttributeError> {
    let before = SignedDataView::parse(p7s)?;
    if !signature_timestamp_tokens(&before).is_empty() {
        return Err(AttributeError::AlreadyTimestamped);
    }
    let content_info = ContentInfo::from_der(p7s).map_err(CmsError::Malformed)?;
    let mut signed_data =
        SignedData::from_der(&content_info.content.to_der()?).map_err(CmsError::Malformed)?;
    let mut infos = signed_data.signer_infos.0.into_vec();
    let Some(info) = infos.first_mut() else {
        return Err(CmsError::SignerCount(0).into());
    };
    let mut values = SetOfVec::new();
    values.insert(Any::from_der(token)?)?;
    let attribute = Attribute {
        oid: ID_AA_SIGNATURE_TIME_STAMP_TOKEN,
        values,
    };
    let mut attrs = info.unsigned_attrs.take().unwrap_or_default();
    attrs.insert(attribute)?;
    info.unsigned_attrs = Some(attrs);
    signed_data.signer_infos = SignerInfos::try_from(infos)?;
    let out = ContentInfo {
        content_type: asn1::ID_SIGNED_DATA,
        content: Any::encode_from(&signed_data)?,
    }
    .to_der()?;
    let after = SignedDataView::parse(&out)?;
    let (b, a) = (before.signer_info(), after.signer_info());
    if a.signed_attrs != b.signed_attrs || a.signature != b.signature {
        return Err(CmsError::Signing("the signed part changed when re-encoded".into()).into());
    }
    Ok(out)
}
