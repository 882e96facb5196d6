//! Certificate assembly and inspection (RFC 5280 §4): one function, [`issue`], builds every
//! certificate of the issuer PKI from a [`CertProfile`], plus readers for the extensions and
//! keys that the chain checker and the verifiers need.
//!
//! The certificate is assembled from `x509-cert` types and the TBSCertificate is signed by the
//! issuer's key ([`IssuerKey`]: in memory or in an HSM token); `x509_cert::builder::CertificateBuilder` is not used because its profiles
//! fix keyUsage (a document signer must have digitalSignature only) and cannot add an
//! extendedKeyUsage without the `hazmat` feature.

use std::time::SystemTime;

use der::asn1::{BitString, ObjectIdentifier, OctetString};
use der::referenced::OwnedToRef;
use der::{Decode, DecodePem, Encode, EncodePem};
use p256::ecdsa::{DerSignature, SigningKey, VerifyingKey};
use rand_core::{OsRng, RngCore};
use spki::SubjectPublicKeyInfoOwned;
use x509_cert::certificate::{TbsCertificate, Version};
use x509_cert::ext::pkix::{
    AuthorityKeyIdentifier, BasicConstraints, ExtendedKeyUsage, KeyUsage, KeyUsages,
    SubjectKeyIdentifier,
};
use x509_cert::ext::{AsExtension, Extension};
use x509_cert::name::Name;
use x509_cert::serial_number::SerialNumber;
use x509_cert::time::Validity;
use x509_cert::Certificate;

use super::asn1::{self, ecdsa_sha256_algorithm};
use super::error::PkiError;
use super::keys::IssuerKey;

/// id-ce-basicConstraints (RFC 5280 §4.2.1.9).
pub const ID_CE_BASIC_CONSTRAINTS: ObjectIdentifier = ObjectIdentifier::new_unwrap("2.5.29.19");
/// id-ce-keyUsage (RFC 5280 §4.2.1.3).
pub const ID_CE_KEY_USAGE: ObjectIdentifier = ObjectIdentifier::new_unwrap("2.5.29.15");
/// id-ce-extKeyUsage (RFC 5280 §4.2.1.12).
pub const ID_CE_EXT_KEY_USAGE: ObjectIdentifier = ObjectIdentifier::new_unwrap("2.5.29.37");
/// id-ce-subjectKeyIdentifier (RFC 5280 §4.2.1.2).
pub const ID_CE_SUBJECT_KEY_IDENTIFIER: ObjectIdentifier =
    ObjectIdentifier::new_unwrap("2.5.29.14");
/// id-ce-authorityKeyIdentifier (RFC 5280 §4.2.1.1).
pub const ID_CE_AUTHORITY_KEY_IDENTIFIER: ObjectIdentifier =
    ObjectIdentifier::new_unwrap("2.5.29.35");
/// id-ce-subjectAltName (RFC 5280 §4.2.1.6).
pub const ID_CE_SUBJECT_ALT_NAME: ObjectIdentifier = ObjectIdentifier::new_unwrap("2.5.29.17");

/// What a certificate is for; fixes its extensions.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CertProfile {
    /// Self-signed root: basicConstraints cA (critical), keyUsage keyCertSign + cRLSign
    /// (critical).
    RootCa,
    /// Subordinate CA: as the root, with pathLenConstraint.
    SubCa {
        /// How many CA certificates may follow this one in a path (RFC 5280 §4.2.1.9).
        path_len: u8,
    },
    /// Document signer: basicConstraints cA false (critical), keyUsage digitalSignature
    /// (critical), no extendedKeyUsage (so openssl's default S/MIME purpose accepts it).
    DocumentSigner,
    /// Holder signing certificate: basicConstraints cA false (critical), keyUsage
    /// digitalSignature + nonRepudiation (critical), extendedKeyUsage emailProtection +
    /// documentSigning (not critical).
    Holder,
    /// Delegated OCSP responder (RFC 6960 §4.2.2.2): basicConstraints cA false (critical),
    /// keyUsage digitalSignature (critical), extendedKeyUsage id-kp-OCSPSigning (not
    /// critical), id-pkix-ocsp-nocheck (not critical: nobody asks for its own status, so its
    /// validity is kept short).
    OcspResponder,
    /// Holder authentication (login) certificate, DG7 (§12.5): basicConstraints cA false
    /// (critical), keyUsage digitalSignature (critical), extendedKeyUsage clientAuth (not
    /// critical).
    Authentication,
}

/// Everything [`issue`] needs besides the issuer.
#[derive(Debug, Clone)]
pub struct CertRequest {
    /// The profile.
    pub profile: CertProfile,
    /// Subject distinguished name.
    pub subject: Name,
    /// Subject public key.
    pub public_key: SubjectPublicKeyInfoOwned,
    /// Start of validity.
    pub not_before: SystemTime,
    /// End of validity (inclusive, RFC 5280 §4.1.2.5).
    pub not_after: SystemTime,
    /// Non-critical extensions added after the profile's (CRL distribution points,
    /// authority information access).
    pub extra_extensions: Vec<Extension>,
}

/// The issuer of a certificate: its certificate (`None` for a self-signed root) and its key.
#[derive(Clone, Copy)]
pub struct IssuerRef<'a> {
    /// The issuing CA's certificate; `None` when the new certificate is self-signed.
    pub certificate: Option<&'a Certificate>,
    /// The issuing CA's private key, wherever it is kept.
    pub key: &'a dyn IssuerKey,
}

/// Build and sign a certificate (RFC 5280 §4.1): version 3, a random positive serial number,
/// ecdsa-with-SHA256, the profile's extensions plus subject and authority key identifiers.
pub fn issue(req: &CertRequest, issuer: IssuerRef<'_>) -> Result<Certificate, PkiError> {
    if req.not_after <= req.not_before {
        return Err(PkiError::invalid(
            "certificate validity",
            "notAfter is not after notBefore",
        ));
    }
    let subject_key_id = key_identifier(&req.public_key)?;
    let (issuer_name, authority_key_id) = match issuer.certificate {
        Some(ca) => {
            let id = match subject_key_identifier(ca)? {
                Some(id) => id,
                None => key_identifier(&ca.tbs_certificate.subject_public_key_info)?,
            };
            (ca.tbs_certificate.subject.clone(), id)
        }
        None => {
            let own = SubjectPublicKeyInfoOwned::from_key(issuer.key.verifying_key())?;
            if own != req.public_key {
                return Err(PkiError::invalid(
                    "self-signed certificate",
                    "the signing key is not the subject's key",
                ));
            }
            (req.subject.clone(), subject_key_id.clone())
        }
    };

    let mut tbs = TbsCertificate {
        version: Version::V3,
        serial_number: random_serial()?,
        signature: ecdsa_sha256_algorithm(),
        issuer: issuer_name,
        validity: Validity {
            not_before: asn1::x509_time(req.not_before)?,
            not_after: asn1::x509_time(req.not_after)?,
        },
        subject: req.subject.clone(),
        subject_public_key_info: req.public_key.clone(),
        issuer_unique_id: None,
        subject_unique_id: None,
        extensions: None,
    };
    tbs.extensions = Some(extensions(req, &subject_key_id, &authority_key_id)?);

    let tbs_der = tbs.to_der()?;
    let signature: DerSignature = issuer.key.try_sign(&tbs_der)?;
    Ok(Certificate {
        tbs_certificate: tbs,
        signature_algorithm: ecdsa_sha256_algorithm(),
        signature: BitString::from_bytes(signature.as_bytes())?,
    })
}

fn extensions(
    req: &CertRequest,
    subject_key_id: &[u8],
    authority_key_id: &[u8],
) -> Result<Vec<Extension>, PkiError> {
    let subject = &req.subject;
    let mut out: Vec<Extension> = Vec::new();
    let (ca, path_len, usage) = match req.profile {
        CertProfile::RootCa => (true, None, KeyUsages::KeyCertSign | KeyUsages::CRLSign),
        CertProfile::SubCa { path_len } => (
            true,
            Some(path_len),
            KeyUsages::KeyCertSign | KeyUsages::CRLSign,
        ),
        CertProfile::DocumentSigner | CertProfile::OcspResponder => {
            (false, None, KeyUsages::DigitalSignature.into())
        }
        CertProfile::Holder => (
            false,
            None,
            KeyUsages::DigitalSignature | KeyUsages::NonRepudiation,
        ),
        CertProfile::Authentication => (false, None, KeyUsages::DigitalSignature.into()),
    };
    // RFC 5280 §4.2.1.9: critical in CA certificates; x509-cert marks it critical always.
    let bc = BasicConstraints {
        ca,
        path_len_constraint: path_len,
    };
    out.push(bc.to_extension(subject, &out)?);
    // RFC 5280 §4.2.1.3: SHOULD be critical.
    out.push(KeyUsage(usage).to_extension(subject, &out)?);
    let purposes = match req.profile {
        CertProfile::Holder => vec![asn1::ID_KP_EMAIL_PROTECTION, asn1::ID_KP_DOCUMENT_SIGNING],
        CertProfile::Authentication => vec![asn1::ID_KP_CLIENT_AUTH],
        CertProfile::OcspResponder => vec![super::revocation::ocsp::ID_KP_OCSP_SIGNING],
        _ => Vec::new(),
    };
    if !purposes.is_empty() {
        // Not critical: x509-cert would mark it critical, but relying parties that do not
        // know documentSigning must still accept the certificate (RFC 5280 §4.2.1.12 leaves
        // criticality to the issuer).
        let eku = ExtendedKeyUsage(purposes);
        out.push(Extension {
            extn_id: ID_CE_EXT_KEY_USAGE,
            critical: false,
            extn_value: OctetString::new(eku.to_der()?)?,
        });
    }
    if req.profile == CertProfile::OcspResponder {
        out.push(Extension {
            extn_id: super::revocation::ocsp::ID_PKIX_OCSP_NOCHECK,
            critical: false,
            extn_value: OctetString::new(der::asn1::Null.to_der()?)?,
        });
    }
    let ski = SubjectKeyIdentifier(OctetString::new(subject_key_id)?);
    out.push(ski.to_extension(subject, &out)?);
    let aki = AuthorityKeyIdentifier {
        key_identifier: Some(OctetString::new(authority_key_id)?),
        authority_cert_issuer: None,
        authority_cert_serial_number: None,
    };
    out.push(aki.to_extension(subject, &out)?);
    out.extend(req.extra_extensions.iter().cloned());
    Ok(out)
}

/// id-pe-authorityInfoAccess (RFC 5280 §4.2.2.1).
pub const ID_PE_AUTHORITY_INFO_ACCESS: ObjectIdentifier =
    ObjectIdentifier::new_unwrap("1.3.6.1.5.5.7.1.1");
/// id-ce-cRLDistributionPoints (RFC 5280 §4.2.1.13).
pub const ID_CE_CRL_DISTRIBUTION_POINTS: ObjectIdentifier =
    ObjectIdentifier::new_unwrap("2.5.29.31");
/// id-ad-ocsp (RFC 5280 §4.2.2.1).
pub const ID_AD_OCSP: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.3.6.1.5.5.7.48.1");

/// The non-critical extensions that say where a certificate's status is published: a CRL
/// distribution point with `crl_url`, an authorityInfoAccess with the OCSP responder
/// `ocsp_url`.
pub fn revocation_extensions(
    crl_url: Option<&str>,
    ocsp_url: Option<&str>,
) -> Result<Vec<Extension>, PkiError> {
    use x509_cert::ext::pkix::crl::dp::DistributionPoint;
    use x509_cert::ext::pkix::name::{DistributionPointName, GeneralName};
    use x509_cert::ext::pkix::{
        AccessDescription, AuthorityInfoAccessSyntax, CrlDistributionPoints,
    };
    let uri = |u: &str| -> Result<GeneralName, PkiError> {
        Ok(GeneralName::UniformResourceIdentifier(
            der::asn1::Ia5String::new(u)?,
        ))
    };
    let mut out = Vec::new();
    if let Some(url) = crl_url {
        let dp = CrlDistributionPoints(vec![DistributionPoint {
            distribution_point: Some(DistributionPointName::FullName(vec![uri(url)?])),
            reasons: None,
            crl_issuer: None,
        }]);
        out.push(Extension {
            extn_id: ID_CE_CRL_DISTRIBUTION_POINTS,
            critical: false,
            extn_value: OctetString::new(dp.to_der()?)?,
        });
    }
    if let Some(url) = ocsp_url {
        let aia = AuthorityInfoAccessSyntax(vec![AccessDescription {
            access_method: ID_AD_OCSP,
            access_location: uri(url)?,
        }]);
        out.push(Extension {
            extn_id: ID_PE_AUTHORITY_INFO_ACCESS,
            critical: false,
            extn_value: OctetString::new(aia.to_der()?)?,
        });
    }
    Ok(out)
}

/// A random positive serial number of 16 octets, 126 bits of it random (RFC 5280 §4.1.2.2).
pub fn random_serial() -> Result<SerialNumber, PkiError> {
    let mut bytes = [0u8; 16];
    OsRng.try_fill_bytes(&mut bytes).map_err(PkiError::Random)?;
    // Top bit clear: positive. Next bit set: no leading zero octet, always 16 octets.
    bytes[0] = (bytes[0] & 0x3F) | 0x40;
    Ok(SerialNumber::new(&bytes)?)
}

/// Key identifier by RFC 5280 §4.2.1.2 method (1): SHA-1 of the subjectPublicKey bits.
pub fn key_identifier(spki: &SubjectPublicKeyInfoOwned) -> Result<Vec<u8>, PkiError> {
    let ski = SubjectKeyIdentifier::try_from(spki.owned_to_ref())?;
    Ok(ski.0.as_bytes().to_vec())
}

/// The extension with `oid`, decoded, with its criticality; `None` when absent.
pub fn extension<T: for<'a> Decode<'a>>(
    cert: &Certificate,
    oid: ObjectIdentifier,
) -> Result<Option<(bool, T)>, der::Error> {
    let Some(exts) = &cert.tbs_certificate.extensions else {
        return Ok(None);
    };
    let mut found = exts.iter().filter(|e| e.extn_id == oid);
    let Some(ext) = found.next() else {
        return Ok(None);
    };
    if found.next().is_some() {
        // RFC 5280 §4.2: a certificate MUST NOT include more than one instance of an extension.
        return Err(der::ErrorKind::Value {
            tag: der::Tag::Sequence,
        }
        .into());
    }
    Ok(Some((
        ext.critical,
        T::from_der(ext.extn_value.as_bytes())?,
    )))
}

/// The subjectKeyIdentifier, if present.
pub fn subject_key_identifier(cert: &Certificate) -> Result<Option<Vec<u8>>, der::Error> {
    Ok(
        extension::<SubjectKeyIdentifier>(cert, ID_CE_SUBJECT_KEY_IDENTIFIER)?
            .map(|(_, ski)| ski.0.as_bytes().to_vec()),
    )
}

/// The keyIdentifier of the authorityKeyIdentifier, if present.
pub fn authority_key_identifier(cert: &Certificate) -> Result<Option<Vec<u8>>, der::Error> {
    Ok(
        extension::<AuthorityKeyIdentifier>(cert, ID_CE_AUTHORITY_KEY_IDENTIFIER)?
            .and_then(|(_, aki)| aki.key_identifier.map(|id| id.as_bytes().to_vec())),
    )
}

/// basicConstraints, if present.
pub fn basic_constraints(cert: &Certificate) -> Result<Option<BasicConstraints>, der::Error> {
    Ok(extension::<BasicConstraints>(cert, ID_CE_BASIC_CONSTRAINTS)?.map(|(_, bc)| bc))
}

/// keyUsage, if present.
pub fn key_usage(cert: &Certificate) -> Result<Option<KeyUsage>, der::Error> {
    Ok(extension::<KeyUsage>(cert, ID_CE_KEY_USAGE)?.map(|(_, ku)| ku))
}

/// extendedKeyUsage, if present.
pub fn extended_key_usage(cert: &Certificate) -> Result<Option<ExtendedKeyUsage>, der::Error> {
    Ok(extension::<ExtendedKeyUsage>(cert, ID_CE_EXT_KEY_USAGE)?.map(|(_, eku)| eku))
}

/// The certificate's P-256 public key (RFC 5480 §2: id-ecPublicKey, namedCurve secp256r1).
pub fn public_key(cert: &Certificate) -> Result<p256::PublicKey, spki::Error> {
    p256::PublicKey::try_from(cert.tbs_certificate.subject_public_key_info.owned_to_ref())
}

/// The certificate's P-256 verifying key.
pub fn verifying_key(cert: &Certificate) -> Result<VerifyingKey, spki::Error> {
    Ok(VerifyingKey::from(public_key(cert)?))
}

/// SubjectPublicKeyInfo of an uncompressed SEC1 P-256 point (`04 || X || Y`, 65 bytes), as
/// the card returns it in `7F49/86`. The point is checked to be on the curve.
pub fn spki_from_sec1(point: &[u8]) -> Result<SubjectPublicKeyInfoOwned, PkiError> {
    if point.len() != 65 || point[0] != 0x04 {
        return Err(PkiError::invalid(
            "public key",
            format!(
                "expected an uncompressed P-256 point (65 bytes starting 04), got {} bytes",
                point.len()
            ),
        ));
    }
    let key = p256::PublicKey::from_sec1_bytes(point)
        .map_err(|_| PkiError::invalid("public key", "not a point on the P-256 curve"))?;
    Ok(SubjectPublicKeyInfoOwned::from_key(key)?)
}

/// SubjectPublicKeyInfo of a signing key's public half.
pub fn spki_of(key: &SigningKey) -> Result<SubjectPublicKeyInfoOwned, PkiError> {
    Ok(SubjectPublicKeyInfoOwned::from_key(*key.verifying_key())?)
}

/// PEM (`-----BEGIN CERTIFICATE-----`) of a certificate.
pub fn to_pem(cert: &Certificate) -> Result<String, der::Error> {
    cert.to_pem(der::pem::LineEnding::LF)
}

/// A certificate from PEM or DER bytes.
pub fn from_pem_or_der(bytes: &[u8]) -> Result<Certificate, der::Error> {
    let start = bytes
        .iter()
        .position(|b| !b.is_ascii_whitespace())
        .unwrap_or(bytes.len());
    if bytes[start..].starts_with(b"-----BEGIN") {
        let text = std::str::from_utf8(&bytes[start..])
            .map_err(|_| der::Error::from(der::ErrorKind::Failed))?;
        Certificate::from_pem(text)
    } else {
        Certificate::from_der(bytes)
    }
}

/// Subject common name of a certificate (else its RFC 4514 name), for messages.
pub fn label(cert: &Certificate) -> String {
    super::name::display_name(&cert.tbs_certificate.subject)
}
