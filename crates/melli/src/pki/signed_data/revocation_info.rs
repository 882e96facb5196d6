//! SignedData's `crls` field (RFC 5652 §10.2.1): CRLs, or revocation information of another
//! format — here an OCSP response (RFC 5940 §4.1, id-ri-ocsp-response), the signer's status
//! when it signed, which a later verifier can use without asking the responder.
//!
//! `cms` 0.2 models `OtherRevocationInfoFormat.otherRevInfoFormat` as an AlgorithmIdentifier
//! (a SEQUENCE); RFC 5652 has an OBJECT IDENTIFIER there, so both types are defined here.

use std::cmp::Ordering;

use der::asn1::{ObjectIdentifier, SetOfVec};
use der::{Any, Choice, Decode, Encode, Sequence, ValueOrd};
use x509_cert::crl::CertificateList;

use cms::content_info::ContentInfo;

use super::{CmsError, SignedData};
use crate::pki::asn1;

/// id-ri-ocsp-response (RFC 5940 §4.1): otherRevInfo is a DER OCSPResponse.
pub const ID_RI_OCSP_RESPONSE: ObjectIdentifier =
    ObjectIdentifier::new_unwrap("1.3.6.1.5.5.7.16.2");

/// `OtherRevocationInfoFormat` (RFC 5652 §10.2.1).
#[derive(Clone, Debug, Eq, PartialEq, Sequence)]
pub struct OtherRevocationInfoFormat {
    /// otherRevInfoFormat.
    pub format: ObjectIdentifier,
    /// otherRevInfo.
    pub info: Any,
}

/// `RevocationInfoChoice` (RFC 5652 §10.2.1).
#[derive(Clone, Debug, Eq, PartialEq, Choice)]
#[allow(clippy::large_enum_variant)]
pub enum RevocationInfo {
    /// A CRL.
    Crl(CertificateList),
    /// `other [1] IMPLICIT OtherRevocationInfoFormat`.
    #[asn1(context_specific = "1", tag_mode = "IMPLICIT", constructed = "true")]
    Other(OtherRevocationInfoFormat),
}

// A SET OF is ordered by its elements' encodings (X.690 §11.6).
impl ValueOrd for RevocationInfo {
    fn value_cmp(&self, other: &Self) -> der::Result<Ordering> {
        Ok(self.to_der()?.cmp(&other.to_der()?))
    }
}

/// `RevocationInfoChoices`: `SET OF RevocationInfoChoice`.
pub type RevocationInfos = SetOfVec<RevocationInfo>;

/// The OCSP responses (DER) carried as id-ri-ocsp-response in `signed_data`'s crls.
pub fn ocsp_responses(signed_data: &SignedData) -> Vec<Vec<u8>> {
    signed_data
        .crls
        .iter()
        .flat_map(|set| set.iter())
        .filter_map(|r| match r {
            RevocationInfo::Other(o) if o.format == ID_RI_OCSP_RESPONSE => o.info.to_der().ok(),
            _ => None,
        })
        .collect()
}

/// The signature `p7s` (DER ContentInfo of SignedData) with the DER OCSPResponse `response`
/// added to its crls. The crls are not signed: the signature stays valid.
pub fn with_ocsp_response(p7s: &[u8], response: &[u8]) -> Result<Vec<u8>, CmsError> {
    let content_info = ContentInfo::from_der(p7s).map_err(CmsError::Malformed)?;
    if content_info.content_type != asn1::ID_SIGNED_DATA {
        return Err(CmsError::NotSignedData(
            content_info.content_type.to_string(),
        ));
    }
    let inner = content_info.content.to_der().map_err(CmsError::Malformed)?;
    let mut signed_data = SignedData::from_der(&inner).map_err(CmsError::Malformed)?;
    let mut crls = signed_data.crls.take().unwrap_or_default();
    crls.insert(RevocationInfo::Other(OtherRevocationInfoFormat {
        format: ID_RI_OCSP_RESPONSE,
        info: Any::from_der(response).map_err(CmsError::Malformed)?,
    }))?;
    signed_data.crls = Some(crls);
    let content_info = ContentInfo {
        content_type: asn1::ID_SIGNED_DATA,
        content: Any::encode_from(&signed_data)?,
    };
    Ok(content_info.to_der()?)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use std::time::SystemTime;

    use p256::ecdsa::SigningKey;
    use rand_core::OsRng;
    use x509_cert::Certificate;

    use super::*;
    use crate::pki::asn1::RawOid;
    use crate::pki::cert::{self, CertProfile, CertRequest, IssuerRef};
    use crate::pki::name::{NameBuilder, StringKind, COMMON_NAME};
    use crate::pki::signed_data::{sign, SignedDataView};

    fn signer(key: &SigningKey) -> Certificate {
        let now = SystemTime::now();
        cert::issue(
            &CertRequest {
                profile: CertProfile::RootCa,
                subject: NameBuilder::new()
                    .push(COMMON_NAME, StringKind::Utf8, "signer")
                    .unwrap()
                    .build(),
                public_key: cert::spki_of(key).unwrap(),
                not_before: now,
                not_after: now + std::time::Duration::from_secs(3600),
                extra_extensions: Vec::new(),
            },
            IssuerRef {
                certificate: None,
                key,
            },
        )
        .unwrap()
    }

    #[test]
    fn an_ocsp_response_is_carried_and_found_and_the_signature_still_verifies() {
        let key = SigningKey::random(&mut OsRng);
        let c = signer(&key);
        let p7s = sign(
            &RawOid::from(asn1::ID_DATA),
            b"doc",
            false,
            &key,
            &c,
            std::slice::from_ref(&c),
            SystemTime::now(),
            Vec::new(),
        )
        .unwrap();
        let view = SignedDataView::parse(&p7s).unwrap();
        assert!(ocsp_responses(view.signed_data()).is_empty());
        // Any DER value stands for the response here: the format is what is checked.
        let response = x509_ocsp::OcspResponse::try_later().to_der().unwrap();
        let with = with_ocsp_response(&p7s, &response).unwrap();
        let view = SignedDataView::parse(&with).unwrap();
        assert_eq!(ocsp_responses(view.signed_data()), vec![response.clone()]);
        view.verify_signature(&c).unwrap();
        // The crls are SignedData's [1]: RFC 5652's OtherRevocationInfoFormat, an OID first.
        let crls = view.signed_data().crls.as_ref().unwrap();
        let der = crls.get(0).unwrap().to_der().unwrap();
        assert_eq!(der[0], 0xA1, "[1] IMPLICIT, constructed");
        assert_eq!(der[2], 0x06, "otherRevInfoFormat is an OBJECT IDENTIFIER");
        // A second answer joins the first.
        let twice = with_ocsp_response(
            &with,
            &x509_ocsp::OcspResponse::internal_error().to_der().unwrap(),
        )
        .unwrap();
        let view = SignedDataView::parse(&twice).unwrap();
        assert_eq!(ocsp_responses(view.signed_data()).len(), 2);
        assert!(with_ocsp_response(b"not cms", &response).is_err());
    }
}
