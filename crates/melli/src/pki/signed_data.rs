//! CMS SignedData (RFC 5652 §5) for one ECDSA P-256 / SHA-256 signer with signed attributes:
//! build it ([`sign`], or [`signed_attributes`] + [`assemble`] when someone else — the card —
//! makes the signature), and take it apart to verify ([`SignedDataView`]).
//!
//! The structures are `cms` 0.2's, except that `EncapsulatedContentInfo.eContentType` is a
//! [`RawOid`]: `cms` types it as a `const-oid` identifier, whose 32-bit arcs cannot hold
//! melli's UUID-based security-object OID. Both attached content (the security object) and
//! detached content (document signatures, `eContent` absent) are handled.

use cms::cert::{CertificateChoices, IssuerAndSerialNumber};
use cms::content_info::CmsVersion;
use cms::enveloped_data::RecipientKeyIdentifier;
use cms::signed_data::{CertificateSet, DigestAlgorithmIdentifiers, SignedAttributes, SignerInfos};
use der::asn1::{OctetString, SetOfVec};
use der::{
    Any, Choice, Decode, DecodeValue, Encode, EncodeValue, FixedTag, Header, Length, Reader,
    Sequence, Tag, Writer,
};
use spki::AlgorithmIdentifierOwned;
use x509_cert::ext::pkix::certpolicy::PolicyInformation;
use x509_cert::ext::pkix::name::GeneralNames;
use x509_cert::ext::pkix::SubjectKeyIdentifier;
use x509_cert::serial_number::SerialNumber;

use super::asn1::RawOid;

mod build;
mod revocation_info;
mod view;

pub use build::{
    assemble, sign, sign_digest, signed_attributes, signed_attributes_der, signing_certificate_v2,
    Signing,
};
pub use revocation_info::{
    ocsp_responses, with_ocsp_response, OtherRevocationInfoFormat, RevocationInfo, RevocationInfos,
    ID_RI_OCSP_RESPONSE,
};
pub use view::{CertificateBinding, SignedDataView};

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
    pub certificates: Option<CarriedCertificates>,
    /// crls `[1] IMPLICIT`.
    #[asn1(
        context_specific = "1",
        tag_mode = "IMPLICIT",
        constructed = "true",
        optional = "true"
    )]
    pub crls: Option<RevocationInfos>,
    /// signerInfos.
    pub signer_infos: SignerInfos,
}

/// `CertificateSet` (RFC 5652 §10.2.3) as a SignedData carries it, where the same certificate
/// may be carried twice, byte for byte: NSS's `cmsutil -S -Y NICK` adds the certificate that its
/// smimeEncryptionKeyPreference names although it is already the signer's. DER allows equal
/// elements in a SET OF (X.690 §11.6 orders them, it does not forbid them), but `der`'s
/// `SetOfVec` refuses them; here an element identical to an earlier one, byte for byte, is
/// dropped, so the certificate counts once. Two different certificates are all kept, and
/// every element is decoded as before.
#[derive(Clone, Debug, Eq, PartialEq)]
pub struct CarriedCertificates(pub CertificateSet);

impl CarriedCertificates {
    /// The certificates, once each.
    pub fn iter(&self) -> impl Iterator<Item = &CertificateChoices> {
        self.0 .0.iter()
    }
}

impl From<CertificateSet> for CarriedCertificates {
    fn from(set: CertificateSet) -> Self {
        CarriedCertificates(set)
    }
}

impl FixedTag for CarriedCertificates {
    const TAG: Tag = Tag::Set;
}

impl<'a> DecodeValue<'a> for CarriedCertificates {
    fn decode_value<R: Reader<'a>>(reader: &mut R, header: Header) -> der::Result<Self> {
        reader.read_nested(header.length, |reader| {
            let mut elements: Vec<Any> = Vec::new();
            while !reader.is_finished() {
                let element = Any::decode(reader)?;
                // Tag, length and value equal: the same bytes.
                if !elements.contains(&element) {
                    elements.push(element);
                }
            }
            let choices = elements
                .iter()
                .map(|e| CertificateChoices::from_der(&e.to_der()?))
                .collect::<der::Result<Vec<_>>>()?;
            Ok(CarriedCertificates(CertificateSet(SetOfVec::try_from(
                choices,
            )?)))
        })
    }
}

impl EncodeValue for CarriedCertificates {
    fn value_len(&self) -> der::Result<Length> {
        self.0 .0.value_len()
    }

    fn encode_value(&self, writer: &mut impl Writer) -> der::Result<()> {
        self.0 .0.encode_value(writer)
    }
}

/// `SMIMEEncryptionKeyPreference` (RFC 8551 §2.5.3), the value of the signed attribute
/// id-aa-encrypKeyPref: which certificate or key the signer prefers others to encrypt to. The
/// S/MIME module has IMPLICIT TAGS. NSS's `cmsutil -S -Y NICK` writes the
/// issuerAndSerialNumber choice; melli reads it as the signer's signed reference to its own
/// certificate when there is no signingCertificateV2.
#[derive(Clone, Debug, Eq, PartialEq, Choice)]
pub enum SmimeEncryptionKeyPreference {
    /// `issuerAndSerialNumber [0] IssuerAndSerialNumber`.
    #[asn1(context_specific = "0", tag_mode = "IMPLICIT", constructed = "true")]
    IssuerAndSerialNumber(IssuerAndSerialNumber),
    /// `receipentKeyId [1] RecipientKeyIdentifier` (sic, RFC 8551).
    #[asn1(context_specific = "1", tag_mode = "IMPLICIT", constructed = "true")]
    RecipientKeyId(RecipientKeyIdentifier),
    /// `subjectAltKeyIdentifier [2] SubjectKeyIdentifier`.
    #[asn1(context_specific = "2", tag_mode = "IMPLICIT")]
    SubjectAltKeyIdentifier(SubjectKeyIdentifier),
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
    /// There is no signingCertificateV2, and smimeEncryptionKeyPreference (RFC 8551 §2.5.3),
    /// which stands in for it, names another certificate than the one that verifies the
    /// signature.
    #[error(
        "signingCertificateV2 is missing, and smimeEncryptionKeyPreference names another \
         certificate than the signer's: {0}"
    )]
    EncryptionKeyPreferenceMismatch(String),
    /// Building failed.
    #[error("CMS encoding failed: {0}")]
    Encoding(#[source] der::Error),
    /// Signing failed.
    #[error("signing failed: {0}")]
    Signing(String),
    /// The signer failed (a token, the card).
    #[error("signing failed: {0}")]
    Signer(#[source] crate::cause::Cause),
}

impl From<der::Error> for CmsError {
    fn from(e: der::Error) -> Self {
        CmsError::Encoding(e)
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
            "smimeEncryptionKeyPreference" => "RFC 8551 §2.5",
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
