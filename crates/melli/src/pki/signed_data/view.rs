//! Taking a SignedData apart to verify it: one signer, its certificate, signature and attributes.

use super::{
    algorithm_name, signed_attributes_der, single_attribute, CmsError, SignedData,
    SigningCertificateV2, SmimeEncryptionKeyPreference,
};
use crate::pki::asn1::{self, RawOid};
use crate::pki::cert;
use cms::cert::CertificateChoices;
use cms::content_info::ContentInfo;
use cms::signed_data::{SignerIdentifier, SignerInfo};
use der::asn1::{GeneralizedTime, UtcTime};
use der::{DateTime, Decode, Encode, Tag, Tagged};
use p256::ecdsa::signature::Verifier;
use p256::ecdsa::Signature;
use sha2::{Digest, Sha256};
use x509_cert::ext::pkix::name::GeneralName;
use x509_cert::Certificate;

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
            .flat_map(|set| set.iter())
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

    /// The one value of the signed attribute `oid` (called `name` in messages), `None` when
    /// absent; an error when it appears twice or has other than one value (RFC 5652 §5.3).
    pub fn signed_attribute(
        &self,
        oid: der::asn1::ObjectIdentifier,
        name: &str,
    ) -> Result<Option<&der::Any>, CmsError> {
        let Some(attrs) = self.signer_info().signed_attrs.as_ref() else {
            return Ok(None);
        };
        if !attrs.iter().any(|a| a.oid == oid) {
            return Ok(None);
        }
        single_attribute(attrs, oid, name).map(Some)
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

    /// Check that a signed attribute names `signer`, the certificate that verifies the
    /// signature, and say which one did. The SignerInfo's sid is not signed: without a signed
    /// reference to the certificate, a signature could be presented with another certificate
    /// for the same key.
    ///
    /// signingCertificateV2 (RFC 5035), which melli writes in every document signature, decides
    /// whenever it is present: the first ESSCertIDv2's certHash is the SHA-256 of `signer`'s
    /// DER, and its issuerSerial, when present, is `signer`'s issuer and serial number. Any
    /// other hash algorithm is refused.
    ///
    /// Without it, one smimeEncryptionKeyPreference attribute (RFC 8551 §2.5.3, what NSS's
    /// `cmsutil -S -Y NICK` writes) with one value, the issuerAndSerialNumber choice, naming
    /// `signer`'s issuer and serial number, binds the certificate as ESSCertIDv2's issuerSerial
    /// does: a CA never issues two certificates with one serial number (RFC 5280 §4.1.2.2).
    /// Anything else fails.
    pub fn check_signing_certificate(
        &self,
        signer: &Certificate,
    ) -> Result<CertificateBinding, CmsError> {
        let attrs = self
            .signer_info()
            .signed_attrs
            .as_ref()
            .ok_or(CmsError::NoSignedAttributes)?;
        if !attrs
            .iter()
            .any(|a| a.oid == asn1::ID_SIGNING_CERTIFICATE_V2)
        {
            return check_encryption_key_preference(attrs, signer);
        }
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
        Ok(CertificateBinding::SigningCertificateV2)
    }
}

/// Which signed attribute bound the signature to its signer's certificate.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CertificateBinding {
    /// signingCertificateV2 (RFC 5035): the certificate's hash.
    SigningCertificateV2,
    /// smimeEncryptionKeyPreference (RFC 8551 §2.5.3), without signingCertificateV2: the
    /// certificate's issuer and serial number.
    EncryptionKeyPreference,
}

impl CertificateBinding {
    /// What bound the certificate, for a verdict.
    pub fn detail(self) -> &'static str {
        match self {
            CertificateBinding::SigningCertificateV2 => {
                "signingCertificateV2 names the signer's certificate"
            }
            CertificateBinding::EncryptionKeyPreference => {
                "smimeEncryptionKeyPreference names the signer's certificate by issuer and \
                 serial number (no signingCertificateV2)"
            }
        }
    }
}

/// Without signingCertificateV2: the one smimeEncryptionKeyPreference names `signer` by its
/// issuer and serial number (see [`SignedDataView::check_signing_certificate`]).
fn check_encryption_key_preference(
    attrs: &cms::signed_data::SignedAttributes,
    signer: &Certificate,
) -> Result<CertificateBinding, CmsError> {
    const NAME: &str = "smimeEncryptionKeyPreference";
    if !attrs
        .iter()
        .any(|a| a.oid == asn1::ID_ENCRYPTION_KEY_PREFERENCE)
    {
        return Err(CmsError::BadAttribute(
            "signingCertificateV2 is missing, and there is no smimeEncryptionKeyPreference \
             naming the signer's certificate in its place"
                .into(),
        ));
    }
    let missing = |e: CmsError| match e {
        CmsError::BadAttribute(m) => {
            CmsError::BadAttribute(format!("{m} (signingCertificateV2 is missing)"))
        }
        other => other,
    };
    let value =
        single_attribute(attrs, asn1::ID_ENCRYPTION_KEY_PREFERENCE, NAME).map_err(missing)?;
    let preference = SmimeEncryptionKeyPreference::from_der(&value.to_der()?).map_err(|e| {
        CmsError::BadAttribute(format!(
            "{NAME} is malformed: {e} (signingCertificateV2 is missing)"
        ))
    })?;
    let named = match preference {
        SmimeEncryptionKeyPreference::IssuerAndSerialNumber(named) => named,
        other => {
            let choice = match other {
                SmimeEncryptionKeyPreference::RecipientKeyId(_) => "receipentKeyId",
                _ => "subjectAltKeyIdentifier",
            };
            return Err(CmsError::BadAttribute(format!(
                "{NAME} names a key by {choice}, not a certificate by issuer and serial \
                 number, and signingCertificateV2 is missing"
            )));
        }
    };
    let tbs = &signer.tbs_certificate;
    if named.issuer.to_der()? != tbs.issuer.to_der()? {
        return Err(CmsError::EncryptionKeyPreferenceMismatch(format!(
            "it names a certificate of issuer \"{}\", the signer's is of \"{}\"",
            crate::pki::name::display_name(&named.issuer),
            crate::pki::name::display_name(&tbs.issuer)
        )));
    }
    if named.serial_number != tbs.serial_number {
        return Err(CmsError::EncryptionKeyPreferenceMismatch(format!(
            "it names serial number {}, the signer's certificate has {}",
            hex::encode(named.serial_number.as_bytes()),
            hex::encode(tbs.serial_number.as_bytes())
        )));
    }
    Ok(CertificateBinding::EncryptionKeyPreference)
}
