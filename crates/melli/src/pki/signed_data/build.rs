//! Building a SignedData: the signed attributes, the parts put together, and signing.

use super::{CmsError, EncapContentInfo, SignedData};
use crate::pki::asn1::{self, RawOid};
use crate::pki::cert;
use crate::pki::keys::EcdsaSigner;
use cms::cert::{CertificateChoices, IssuerAndSerialNumber};
use cms::content_info::{CmsVersion, ContentInfo};
use cms::signed_data::{
    CertificateSet, SignedAttributes, SignerIdentifier, SignerInfo, SignerInfos,
};
use der::asn1::{OctetString, SetOfVec};
use der::{Any, Decode, Encode, Sequence, Tag};
use p256::ecdsa::DerSignature;
use sha2::{Digest, Sha256};
use std::time::SystemTime;
use x509_cert::attr::Attribute;
use x509_cert::Certificate;

/// The signed attributes contentType, messageDigest and signingTime (RFC 5652 §11.1–11.3;
/// none when `signing_time` is `None`, as PAdES wants: the time is in the PDF's `/M`), plus
/// `extra` (for example [`signing_certificate_v2`]), as a DER-ordered SET.
pub fn signed_attributes(
    content_type: &RawOid,
    message_digest: &[u8],
    signing_time: Option<SystemTime>,
    extra: Vec<Attribute>,
) -> Result<SignedAttributes, CmsError> {
    let single = |oid, value: Any| -> Result<Attribute, CmsError> {
        let mut values = SetOfVec::new();
        values.insert(value)?;
        Ok(Attribute { oid, values })
    };
    let mut attrs = vec![
        single(
            asn1::ID_CONTENT_TYPE,
            Any::new(Tag::ObjectIdentifier, content_type.as_bytes())?,
        )?,
        single(
            asn1::ID_MESSAGE_DIGEST,
            Any::new(Tag::OctetString, message_digest)?,
        )?,
    ];
    if let Some(signing_time) = signing_time {
        // RFC 5652 §11.3: UTCTime 1950–2049, GeneralizedTime otherwise; as X.509 Time does.
        let time = asn1::x509_time(signing_time)?;
        attrs.push(single(
            asn1::ID_SIGNING_TIME,
            Any::from_der(&time.to_der()?)?,
        )?);
    }
    attrs.extend(extra);
    Ok(SetOfVec::try_from(attrs)?)
}

/// The bytes a signer signs: the DER of the signed attributes with the SET OF tag (RFC 5652
/// §5.4), not the `[0] IMPLICIT` tag they carry inside SignerInfo.
pub fn signed_attributes_der(attrs: &SignedAttributes) -> Result<Vec<u8>, CmsError> {
    Ok(attrs.to_der()?)
}

/// The signingCertificateV2 attribute (RFC 5035 §3) naming `cert` by its SHA-256 hash
/// (ESSCertIDv2 with the default hashAlgorithm and no issuerSerial).
pub fn signing_certificate_v2(cert: &Certificate) -> Result<Attribute, CmsError> {
    #[derive(Sequence)]
    struct EssCertIdV2 {
        cert_hash: OctetString,
    }
    #[derive(Sequence)]
    struct SigningCertificateV2 {
        certs: Vec<EssCertIdV2>,
    }
    let hash = Sha256::digest(cert.to_der()?);
    let value = SigningCertificateV2 {
        certs: vec![EssCertIdV2 {
            cert_hash: OctetString::new(hash.as_slice())?,
        }],
    };
    let mut values = SetOfVec::new();
    values.insert(Any::from_der(&value.to_der()?)?)?;
    Ok(Attribute {
        oid: asn1::ID_SIGNING_CERTIFICATE_V2,
        values,
    })
}

/// Put a SignedData together from parts: eContentType, eContent (`None`: detached), the
/// certificates to carry (the signer's first), the signer's certificate, the signed
/// attributes and the DER ECDSA signature over [`signed_attributes_der`] (a card that returns
/// raw `r || s` needs `p256::ecdsa::Signature::from_slice(..)?.to_der()` first). Returns the
/// DER of the ContentInfo.
pub fn assemble(
    econtent_type: &RawOid,
    econtent: Option<&[u8]>,
    certificates: &[Certificate],
    signer: &Certificate,
    signed_attrs: SignedAttributes,
    signature_der: &[u8],
) -> Result<Vec<u8>, CmsError> {
    let signer_info = SignerInfo {
        // RFC 5652 §5.3: version 1 with issuerAndSerialNumber.
        version: CmsVersion::V1,
        sid: SignerIdentifier::IssuerAndSerialNumber(IssuerAndSerialNumber {
            issuer: signer.tbs_certificate.issuer.clone(),
            serial_number: signer.tbs_certificate.serial_number.clone(),
        }),
        digest_alg: asn1::sha256_algorithm(),
        signed_attrs: Some(signed_attrs),
        signature_algorithm: asn1::ecdsa_sha256_algorithm(),
        signature: OctetString::new(signature_der)?,
        unsigned_attrs: None,
    };
    let certificate_set = CertificateSet::try_from(
        certificates
            .iter()
            .cloned()
            .map(CertificateChoices::Certificate)
            .collect::<Vec<_>>(),
    )?;
    let mut digest_algorithms = SetOfVec::new();
    digest_algorithms.insert(asn1::sha256_algorithm())?;
    let is_data = econtent_type == &RawOid::from(asn1::ID_DATA);
    let signed_data = SignedData {
        // RFC 5652 §5.1: 3 if eContentType is not id-data, else 1 (v1 signer infos, X.509
        // certificates only).
        version: if is_data {
            CmsVersion::V1
        } else {
            CmsVersion::V3
        },
        digest_algorithms,
        encap_content_info: EncapContentInfo {
            econtent_type: econtent_type.clone(),
            econtent: econtent.map(OctetString::new).transpose()?,
        },
        certificates: if certificates.is_empty() {
            None
        } else {
            Some(certificate_set.into())
        },
        crls: None,
        signer_infos: SignerInfos::try_from(vec![signer_info])?,
    };
    let content_info = ContentInfo {
        content_type: asn1::ID_SIGNED_DATA,
        content: Any::encode_from(&signed_data)?,
    };
    Ok(content_info.to_der()?)
}

/// Sign `content` with `key` (whose certificate is `signer`): encapsulated when `attached`,
/// else detached. Signed attributes: contentType, messageDigest, signingTime, `extra`.
#[allow(clippy::too_many_arguments)]
pub fn sign<S: EcdsaSigner + ?Sized>(
    econtent_type: &RawOid,
    content: &[u8],
    attached: bool,
    key: &S,
    signer: &Certificate,
    certificates: &[Certificate],
    signing_time: SystemTime,
    extra: Vec<Attribute>,
) -> Result<Vec<u8>, CmsError> {
    let digest: [u8; 32] = Sha256::digest(content).into();
    let parts = Signing {
        econtent_type,
        econtent: attached.then_some(content),
        signer,
        certificates,
        signing_time: Some(signing_time),
        extra,
    };
    sign_digest(&parts, &digest, key)
}

/// What a SignedData says besides its signature: see [`sign_digest`].
#[derive(Debug)]
pub struct Signing<'a> {
    /// eContentType (id-data for a document).
    pub econtent_type: &'a RawOid,
    /// The content when encapsulated; `None` for a detached signature.
    pub econtent: Option<&'a [u8]>,
    /// The signer's certificate.
    pub signer: &'a Certificate,
    /// The certificates to carry, the signer's first.
    pub certificates: &'a [Certificate],
    /// signingTime (the signer's claim); `None` leaves the attribute out (PAdES: the time
    /// is the PDF signature dictionary's `/M`).
    pub signing_time: Option<SystemTime>,
    /// Further signed attributes (signingCertificateV2 for a document signature).
    pub extra: Vec<Attribute>,
}

/// A SignedData over content whose SHA-256 is `content_digest` (a file hashed as it streams),
/// its signed attributes signed by `key` — any [`EcdsaSigner`]: a key in memory, a key in an
/// HSM, the card's signing key after its PIN. The signature is checked against the signer's
/// certificate before the SignedData is made.
pub fn sign_digest<S: EcdsaSigner + ?Sized>(
    parts: &Signing<'_>,
    content_digest: &[u8; 32],
    key: &S,
) -> Result<Vec<u8>, CmsError> {
    let attrs = signed_attributes(
        parts.econtent_type,
        content_digest,
        parts.signing_time,
        parts.extra.clone(),
    )?;
    let to_sign = signed_attributes_der(&attrs)?;
    let signature: DerSignature = key
        .try_sign(&to_sign)
        .map_err(|e| CmsError::Signer(crate::cause::Cause::new(e)))?;
    let certified = cert::verifying_key(parts.signer)
        .map_err(|e| CmsError::Signing(format!("the signer's certificate: {e}")))?;
    if certified != key.verifying_key() {
        return Err(CmsError::Signing(
            "the key signing is not the key of the signer's certificate".into(),
        ));
    }
    assemble(
        parts.econtent_type,
        parts.econtent,
        parts.certificates,
        parts.signer,
        attrs,
        signature.as_bytes(),
    )
}
