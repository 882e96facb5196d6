//! CMS SignedData (RFC 5652 §5) for one ECDSA P-256 / SHA-256 signer with signed attributes:
//! build it ([`sign`], or [`signed_attributes`] + [`assemble`] when someone else — the card —
//! makes the signature), and take it apart to verify ([`SignedDataView`]).
//!
//! The structures are `cms` 0.2's, except that `EncapsulatedContentInfo.eContentType` is a
//! [`RawOid`]: `cms` types it as a `const-oid` identifier, whose 32-bit arcs cannot hold
//! melli's UUID-based security-object OID. Both attached content (the security object) and
//! detached content (document signatures, `eContent` absent) are handled.

use std::time::SystemTime;

use super::keys::EcdsaSigner;
use cms::cert::{CertificateChoices, IssuerAndSerialNumber};
use cms::content_info::{CmsVersion, ContentInfo};
use cms::revocation::RevocationInfoChoices;
use cms::signed_data::{
    CertificateSet, DigestAlgorithmIdentifiers, SignedAttributes, SignerIdentifier, SignerInfo,
    SignerInfos,
};
use der::asn1::{GeneralizedTime, OctetString, SetOfVec, UtcTime};
use der::{Any, DateTime, Decode, Encode, Sequence, Tag, Tagged};
use p256::ecdsa::signature::Verifier;
use p256::ecdsa::{DerSignature, Signature};
use sha2::{Digest, Sha256};
use spki::AlgorithmIdentifierOwned;
use x509_cert::attr::Attribute;
use x509_cert::ext::pkix::certpolicy::PolicyInformation;
use x509_cert::ext::pkix::name::{GeneralName, GeneralNames};
use x509_cert::serial_number::SerialNumber;
use x509_cert::Certificate;

use super::asn1::{self, RawOid};
use super::cert;

/// `EncapsulatedContentInfo` (RFC 5652 §5.2) with a raw eContentType.
#[derive(Clone, Debug, Eq, PartialEq, Sequence)]
pub struct EncapContentInfo {
    /// eContentType.
    pub econtent_type: RawOid,
    /// eContent, absent for detached signatures.
    #[asn1(context_specific = "0", tag_mode = "EXPLICIT", optional = "true")]
    pub econtent: Option<OctetString>,
}

/// `SignedData` (RFC 5652 §5.1), as `cms::signed_data::SignedData` but with
/// [`EncapContentInfo`].
#[derive(Clone, Debug, Eq, PartialEq, Sequence)]
pub struct SignedData {
    /// CMSVersion: 3 when eContentType is not id-data, else 1 (RFC 5652 §5.1).
    pub version: CmsVersion,
    /// digestAlgorithms.
    pub digest_algorithms: DigestAlgorithmIdentifiers,
    /// encapContentInfo.
    pub encap_content_info: EncapContentInfo,
    /// certificates `[0] IMPLICIT`.
    #[asn1(
        context_specific = "0",
        tag_mode = "IMPLICIT",
        constructed = "true",
        optional = "true"
    )]
    pub certificates: Option<CertificateSet>,
    /// crls `[1] IMPLICIT`.
    #[asn1(
        context_specific = "1",
        tag_mode = "IMPLICIT",
        constructed = "true",
        optional = "true"
    )]
    pub crls: Option<RevocationInfoChoices>,
    /// signerInfos.
    pub signer_infos: SignerInfos,
}

/// `IssuerSerial` (RFC 5035 §4): the issuer's name and the serial number of a certificate.
#[derive(Clone, Debug, Eq, PartialEq, Sequence)]
pub struct IssuerSerial {
    /// The issuer, as GeneralNames holding its directoryName.
    pub issuer: GeneralNames,
    /// The certificate's serial number.
    pub serial_number: SerialNumber,
}

/// `ESSCertIDv2` (RFC 5035 §4), as a verifier reads it: `hashAlgorithm` is DEFAULT id-sha256,
/// so absent when it is SHA-256.
#[derive(Clone, Debug, Eq, PartialEq, Sequence)]
pub struct EssCertIdV2 {
    /// hashAlgorithm; `None` means id-sha256.
    pub hash_algorithm: Option<AlgorithmIdentifierOwned>,
    /// The hash of the whole DER certificate.
    pub cert_hash: OctetString,
    /// Which certificate, by issuer and serial number; optional.
    pub issuer_serial: Option<IssuerSerial>,
}

/// `SigningCertificateV2` (RFC 5035 §3), the value of the signingCertificateV2 attribute.
#[derive(Clone, Debug, Eq, PartialEq, Sequence)]
pub struct SigningCertificateV2 {
    /// The certificates; the first is the signer's (RFC 5035 §5.4).
    pub certs: Vec<EssCertIdV2>,
    /// Policies; not used by melli.
    pub policies: Option<Vec<PolicyInformation>>,
}

/// A CMS structure is malformed, unsupported, or does not verify. One line each.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum CmsError {
    /// The bytes are not a DER ContentInfo holding SignedData.
    #[error("not a DER CMS SignedData: {0}")]
    Malformed(#[source] der::Error),
    /// ContentInfo holds something else.
    #[error("ContentInfo holds {0}, not SignedData")]
    NotSignedData(String),
    /// Not exactly one SignerInfo.
    #[error("expected one signer, found {0}")]
    SignerCount(usize),
    /// An algorithm other than SHA-256 / ECDSA.
    #[error("unsupported {0}")]
    Unsupported(String),
    /// The SignerInfo's digest algorithm is not SHA-256.
    #[error("digest algorithm {0} is not accepted: melli signatures use SHA-256")]
    DigestAlgorithm(String),
    /// SignedData.digestAlgorithms is not exactly { id-sha256 }.
    #[error("digestAlgorithms is {{{0}}}, not {{SHA-256}}: melli signatures use SHA-256 only")]
    DigestAlgorithms(String),
    /// The SignerInfo's signature algorithm is not ECDSA with SHA-256.
    #[error("signature algorithm {0} is not accepted: melli signatures use ecdsa-with-SHA256")]
    SignatureAlgorithm(String),
    /// No signed attributes (RFC 5652 §5.3 allows it; melli requires them).
    #[error(
        "no signed attributes: melli signatures carry the file's digest in signed attributes \
         (RFC 5652 §5.3); this one signs the content directly"
    )]
    NoSignedAttributes,
    /// A required signed attribute is missing or malformed.
    #[error("signed attribute {0}")]
    BadAttribute(String),
    /// A signed attribute that appears once appears more than once (RFC 5652 §5.3, §11).
    #[error("{name} appears twice: a signature has one {name} attribute ({rule})")]
    AppearsTwice { name: String, rule: &'static str },
    /// The contentType attribute differs from eContentType (RFC 5652 §11.1).
    #[error(
        "signed contentType attribute ({attribute}) differs from eContentType ({econtent_type})"
    )]
    ContentTypeMismatch {
        attribute: String,
        econtent_type: String,
    },
    /// The signer's certificate is not in the SignedData.
    #[error("the signer's certificate is not included")]
    SignerCertificateMissing,
    /// The signer's certificate key is not P-256.
    #[error("the signer's certificate does not hold a P-256 key")]
    SignerKey,
    /// The signature does not verify over the signed attributes.
    #[error("signature does not verify over the signed attributes")]
    BadSignature,
    /// messageDigest differs from the content's SHA-256.
    #[error("messageDigest does not match the content (signed {signed}, content has {actual})")]
    DigestMismatch { signed: String, actual: String },
    /// eContent is absent where it is needed.
    #[error("no encapsulated content")]
    NoContent,
    /// signingCertificateV2 names another certificate than the one that verifies the
    /// signature (RFC 5035 §5.4).
    #[error("signingCertificateV2 names another certificate than the signer's: {0}")]
    SigningCertificateMismatch(String),
    /// Building failed.
    #[error("CMS encoding failed: {0}")]
    Encoding(String),
    /// Signing failed.
    #[error("signing failed: {0}")]
    Signing(String),
}

impl From<der::Error> for CmsError {
    fn from(e: der::Error) -> Self {
        CmsError::Encoding(e.to_string())
    }
}

/// The signed attributes contentType, messageDigest and signingTime (RFC 5652 §11.1–11.3),
/// plus `extra` (for example [`signing_certificate_v2`]), as a DER-ordered SET.
pub fn signed_attributes(
    content_type: &RawOid,
    message_digest: &[u8],
    signing_time: SystemTime,
    extra: Vec<Attribute>,
) -> Result<SignedAttributes, CmsError> {
    let single = |oid, value: Any| -> Result<Attribute, CmsError> {
        let mut values = SetOfVec::new();
        values.insert(value)?;
        Ok(Attribute { oid, values })
    };
    // RFC 5652 §11.3: UTCTime 1950–2049, GeneralizedTime otherwise; as X.509 Time does.
    let time = asn1::x509_time(signing_time)?;
    let mut attrs = vec![
        single(
            asn1::ID_CONTENT_TYPE,
            Any::new(Tag::ObjectIdentifier, content_type.as_bytes())?,
        )?,
        single(
            asn1::ID_MESSAGE_DIGEST,
            Any::new(Tag::OctetString, message_digest)?,
        )?,
        single(asn1::ID_SIGNING_TIME, Any::from_der(&time.to_der()?)?)?,
    ];
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
            Some(certificate_set)
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
        signing_time,
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
    /// signingTime (the signer's claim).
    pub signing_time: SystemTime,
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
        .map_err(|e| CmsError::Signing(e.to_string()))?;
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

/// A parsed SignedData with exactly one signer, for verification.
#[derive(Debug, Clone)]
pub struct SignedDataView {
    signed_data: SignedData,
    certificates: Vec<Certificate>,
}

impl SignedDataView {
    /// Parse the DER of a ContentInfo holding SignedData with exactly one SignerInfo.
    pub fn parse(der: &[u8]) -> Result<Self, CmsError> {
        let content_info = ContentInfo::from_der(der).map_err(CmsError::Malformed)?;
        if content_info.content_type != asn1::ID_SIGNED_DATA {
            return Err(CmsError::NotSignedData(
                content_info.content_type.to_string(),
            ));
        }
        let inner = content_info.content.to_der().map_err(CmsError::Malformed)?;
        let signed_data = SignedData::from_der(&inner).map_err(CmsError::Malformed)?;
        let count = signed_data.signer_infos.0.len();
        if count != 1 {
            return Err(CmsError::SignerCount(count));
        }
        let certificates = signed_data
            .certificates
            .iter()
            .flat_map(|set| set.0.iter())
            .filter_map(|c| match c {
                CertificateChoices::Certificate(c) => Some(c.clone()),
                CertificateChoices::Other(_) => None,
            })
            .collect();
        Ok(SignedDataView {
            signed_data,
            certificates,
        })
    }

    /// The whole SignedData.
    pub fn signed_data(&self) -> &SignedData {
        &self.signed_data
    }

    /// eContentType.
    pub fn econtent_type(&self) -> &RawOid {
        &self.signed_data.encap_content_info.econtent_type
    }

    /// eContent's octets, if encapsulated.
    pub fn econtent(&self) -> Option<&[u8]> {
        self.signed_data
            .encap_content_info
            .econtent
            .as_ref()
            .map(|o| o.as_bytes())
    }

    /// The X.509 certificates carried.
    pub fn certificates(&self) -> &[Certificate] {
        &self.certificates
    }

    /// The one SignerInfo.
    pub fn signer_info(&self) -> &SignerInfo {
        // `parse` guarantees exactly one.
        &self.signed_data.signer_infos.0.as_slice()[0]
    }

    /// The carried certificate that the SignerInfo's sid names (RFC 5652 §5.3).
    pub fn signer_certificate(&self) -> Result<&Certificate, CmsError> {
        let sid = &self.signer_info().sid;
        self.certificates
            .iter()
            .find(|c| match sid {
                SignerIdentifier::IssuerAndSerialNumber(ias) => {
                    ias.serial_number == c.tbs_certificate.serial_number
                        && ias.issuer.to_der().ok() == c.tbs_certificate.issuer.to_der().ok()
                }
                SignerIdentifier::SubjectKeyIdentifier(ski) => {
                    cert::subject_key_identifier(c).ok().flatten().as_deref()
                        == Some(ski.0.as_bytes())
                }
            })
            .ok_or(CmsError::SignerCertificateMissing)
    }

    /// Verify the signature over the signed attributes with `signer`'s key (RFC 5652 §5.4,
    /// §5.6), after checking the algorithms (SHA-256; ecdsa-with-SHA256, or id-ecPublicKey
    /// as some producers write) and that the contentType attribute equals eContentType
    /// (RFC 5652 §11.1).
    pub fn verify_signature(&self, signer: &Certificate) -> Result<(), CmsError> {
        let si = self.signer_info();
        self.check_digest_algorithm()?;
        let sig_alg = si.signature_algorithm.oid;
        if sig_alg != asn1::ECDSA_WITH_SHA256 && sig_alg != asn1::ID_EC_PUBLIC_KEY {
            return Err(CmsError::SignatureAlgorithm(algorithm_name(&sig_alg)));
        }
        let attrs = si
            .signed_attrs
            .as_ref()
            .ok_or(CmsError::NoSignedAttributes)?;
        let content_type = single_attribute(attrs, asn1::ID_CONTENT_TYPE, "contentType")?;
        if content_type.tag() != Tag::ObjectIdentifier
            || content_type.value() != self.econtent_type().as_bytes()
        {
            let attribute = RawOid::from_content(content_type.value())
                .map(|o| o.to_string())
                .unwrap_or_else(|_| "malformed".into());
            return Err(CmsError::ContentTypeMismatch {
                attribute,
                econtent_type: self.econtent_type().to_string(),
            });
        }
        let key = cert::verifying_key(signer).map_err(|_| CmsError::SignerKey)?;
        let signature =
            Signature::from_der(si.signature.as_bytes()).map_err(|_| CmsError::BadSignature)?;
        let message = signed_attributes_der(attrs)?;
        key.verify(&message, &signature)
            .map_err(|_| CmsError::BadSignature)
    }

    /// The signed messageDigest attribute's octets.
    pub fn message_digest(&self) -> Result<Vec<u8>, CmsError> {
        let attrs = self
            .signer_info()
            .signed_attrs
            .as_ref()
            .ok_or(CmsError::NoSignedAttributes)?;
        let md = single_attribute(attrs, asn1::ID_MESSAGE_DIGEST, "messageDigest")?;
        if md.tag() != Tag::OctetString {
            return Err(CmsError::BadAttribute(
                "messageDigest is not an OCTET STRING".into(),
            ));
        }
        Ok(md.value().to_vec())
    }

    /// SignedData.digestAlgorithms is exactly { id-sha256 } (applets-spec §9.6). The set only
    /// announces the digests the signers use, but a verifier such as openssl refuses a
    /// signature whose set names an algorithm it does not know: melli must not call VALID what
    /// others refuse.
    pub fn check_digest_algorithms(&self) -> Result<(), CmsError> {
        match self.signed_data.digest_algorithms.as_slice() {
            [one] if asn1::is_sha256(one) => Ok(()),
            algs => Err(CmsError::DigestAlgorithms(
                algs.iter()
                    .map(|a| algorithm_name(&a.oid))
                    .collect::<Vec<_>>()
                    .join(", "),
            )),
        }
    }

    /// The SignerInfo's digest algorithm is SHA-256 (parameters absent or NULL).
    pub fn check_digest_algorithm(&self) -> Result<(), CmsError> {
        let alg = &self.signer_info().digest_alg;
        if asn1::is_sha256(alg) {
            Ok(())
        } else {
            Err(CmsError::DigestAlgorithm(algorithm_name(&alg.oid)))
        }
    }

    /// Check the signed messageDigest against `digest`, the SHA-256 of the content (for
    /// detached content the caller hashes it, in a stream if large): the digest algorithm is
    /// SHA-256 (the SignerInfo's, and digestAlgorithms is { SHA-256 }), there are signed
    /// attributes, and exactly one messageDigest, equal to `digest`.
    pub fn check_message_digest(&self, digest: &[u8]) -> Result<(), CmsError> {
        self.check_digest_algorithm()?;
        self.check_digest_algorithms()?;
        let signed = self.message_digest()?;
        if signed == digest {
            Ok(())
        } else {
            Err(CmsError::DigestMismatch {
                signed: hex::encode(&signed),
                actual: hex::encode(digest),
            })
        }
    }

    /// Check the signed messageDigest against the encapsulated content.
    pub fn check_encapsulated_digest(&self) -> Result<(), CmsError> {
        let content = self.econtent().ok_or(CmsError::NoContent)?;
        self.check_message_digest(&Sha256::digest(content))
    }

    /// The signingTime attribute, if present (RFC 5652 §11.3): one attribute with one value,
    /// UTCTime for the years 1950–2049 and GeneralizedTime otherwise; anything else is an
    /// error. It is what the signer claims, and proves nothing about when it signed.
    pub fn signing_time(&self) -> Result<Option<DateTime>, CmsError> {
        let Some(attrs) = self.signer_info().signed_attrs.as_ref() else {
            return Ok(None);
        };
        if !attrs.iter().any(|a| a.oid == asn1::ID_SIGNING_TIME) {
            return Ok(None);
        }
        let v = single_attribute(attrs, asn1::ID_SIGNING_TIME, "signingTime")?;
        let bad = |e: der::Error| CmsError::BadAttribute(format!("signingTime is malformed: {e}"));
        let (dt, utc) = match v.tag() {
            Tag::UtcTime => (v.decode_as::<UtcTime>().map_err(bad)?.to_date_time(), true),
            Tag::GeneralizedTime => (
                v.decode_as::<GeneralizedTime>()
                    .map_err(bad)?
                    .to_date_time(),
                false,
            ),
            other => {
                return Err(CmsError::BadAttribute(format!(
                    "signingTime is malformed: a {other}, not a time"
                )))
            }
        };
        if utc != (1950..2050).contains(&dt.year()) {
            return Err(CmsError::BadAttribute(format!(
                "signingTime is malformed: {} must be a {} (RFC 5652 §11.3)",
                asn1::date_time_string(&dt),
                if utc { "GeneralizedTime" } else { "UTCTime" }
            )));
        }
        Ok(Some(dt))
    }

    /// Check that the signingCertificateV2 attribute (RFC 5035) names `signer`, the
    /// certificate that verifies the signature: the first ESSCertIDv2's certHash is the
    /// SHA-256 of `signer`'s DER, and its issuerSerial, when present, is `signer`'s issuer and
    /// serial number. The attribute is required: melli writes it in every document signature,
    /// and without it a signature could be presented with another certificate for the same
    /// key (the SignerInfo's sid is not signed). Any other hash algorithm is refused.
    pub fn check_signing_certificate(&self, signer: &Certificate) -> Result<(), CmsError> {
        let attrs = self
            .signer_info()
            .signed_attrs
            .as_ref()
            .ok_or(CmsError::NoSignedAttributes)?;
        let value = single_attribute(
            attrs,
            asn1::ID_SIGNING_CERTIFICATE_V2,
            "signingCertificateV2",
        )?;
        let sc = value.decode_as::<SigningCertificateV2>().map_err(|e| {
            CmsError::BadAttribute(format!("signingCertificateV2 is malformed: {e}"))
        })?;
        let Some(id) = sc.certs.first() else {
            return Err(CmsError::BadAttribute(
                "signingCertificateV2 names no certificate".into(),
            ));
        };
        if let Some(alg) = &id.hash_algorithm {
            if !asn1::is_sha256(alg) {
                return Err(CmsError::Unsupported(format!(
                    "signingCertificateV2 hash algorithm {} (only SHA-256)",
                    alg.oid
                )));
            }
        }
        let hash = Sha256::digest(signer.to_der()?);
        if id.cert_hash.as_bytes() != hash.as_slice() {
            return Err(CmsError::SigningCertificateMismatch(format!(
                "its certHash {} is not the SHA-256 of the signer's certificate ({})",
                hex::encode(id.cert_hash.as_bytes()),
                hex::encode(hash)
            )));
        }
        if let Some(issuer_serial) = &id.issuer_serial {
            let issuer = signer.tbs_certificate.issuer.to_der()?;
            let names_issuer = match issuer_serial.issuer.as_slice() {
                [GeneralName::DirectoryName(name)] => name.to_der()? == issuer,
                _ => false,
            };
            if !names_issuer || issuer_serial.serial_number != signer.tbs_certificate.serial_number
            {
                return Err(CmsError::SigningCertificateMismatch(
                    "its issuerSerial is not the issuer and serial number of the signer's \
                     certificate"
                        .into(),
                ));
            }
        }
        Ok(())
    }
}

/// A digest or signature algorithm by its name where melli knows it, else its OID.
pub fn algorithm_name(oid: &der::asn1::ObjectIdentifier) -> String {
    let name = match oid.to_string().as_str() {
        "1.3.14.3.2.26" => "SHA-1",
        "1.2.840.113549.2.5" => "MD5",
        "2.16.840.1.101.3.4.2.1" => "SHA-256",
        "2.16.840.1.101.3.4.2.2" => "SHA-384",
        "2.16.840.1.101.3.4.2.3" => "SHA-512",
        "2.16.840.1.101.3.4.2.4" => "SHA-224",
        "1.2.840.10045.4.1" => "ecdsa-with-SHA1",
        "1.2.840.10045.4.3.1" => "ecdsa-with-SHA224",
        "1.2.840.10045.4.3.2" => "ecdsa-with-SHA256",
        "1.2.840.10045.4.3.3" => "ecdsa-with-SHA384",
        "1.2.840.10045.4.3.4" => "ecdsa-with-SHA512",
        "1.2.840.113549.1.1.1" => "rsaEncryption",
        "1.2.840.113549.1.1.5" => "sha1WithRSAEncryption",
        "1.2.840.113549.1.1.11" => "sha256WithRSAEncryption",
        other => return other.to_string(),
    };
    name.to_string()
}

/// The one value of the one attribute `oid` (RFC 5652 §5.3: signed attributes of these types
/// are single-valued and appear once).
fn single_attribute<'a>(
    attrs: &'a SignedAttributes,
    oid: der::asn1::ObjectIdentifier,
    name: &str,
) -> Result<&'a Any, CmsError> {
    let mut found = attrs.iter().filter(|a| a.oid == oid);
    let attr = found
        .next()
        .ok_or_else(|| CmsError::BadAttribute(format!("{name} is missing")))?;
    if found.next().is_some() {
        let rule = match name {
            "contentType" => "RFC 5652 §11.1",
            "messageDigest" => "RFC 5652 §11.2",
            "signingTime" => "RFC 5652 §11.3",
            "signingCertificateV2" => "RFC 5035 §3",
            _ => "RFC 5652 §5.3",
        };
        return Err(CmsError::AppearsTwice {
            name: name.to_string(),
            rule,
        });
    }
    let mut values = attr.values.iter();
    match (values.next(), values.next()) {
        (Some(v), None) => Ok(v),
        _ => Err(CmsError::BadAttribute(format!(
            "{name} does not have exactly one value"
        ))),
    }
}
