//! The certificate profiles of applets-spec §9.3.6: critical extensions, key usage, CA and leaf roles.

use super::{ChainError, LeafPurpose, PROFILES};
use crate::pki::asn1;
use crate::pki::cert::{self};
use der::asn1::ObjectIdentifier;
use der::flagset::FlagSet;
use x509_cert::ext::pkix::{BasicConstraints, KeyUsage, KeyUsages};
use x509_cert::Certificate;

pub(super) fn check_critical_extensions(c: &Certificate, what: &str) -> Result<(), ChainError> {
    const PROCESSED: [der::asn1::ObjectIdentifier; 6] = [
        cert::ID_CE_BASIC_CONSTRAINTS,
        cert::ID_CE_KEY_USAGE,
        cert::ID_CE_EXT_KEY_USAGE,
        cert::ID_CE_SUBJECT_KEY_IDENTIFIER,
        cert::ID_CE_AUTHORITY_KEY_IDENTIFIER,
        cert::ID_CE_SUBJECT_ALT_NAME,
    ];
    for ext in c.tbs_certificate.extensions.iter().flatten() {
        if ext.critical && !PROCESSED.contains(&ext.extn_id) {
            return Err(ChainError::UnknownCriticalExtension {
                what: what.to_owned(),
                oid: ext.extn_id.to_string(),
            });
        }
    }
    Ok(())
}

/// The keyUsage bits, in RFC 5280 §4.2.1.3 order, with their ASN.1 names.
const KEY_USAGE_NAMES: [(KeyUsages, &str); 9] = [
    (KeyUsages::DigitalSignature, "digitalSignature"),
    (KeyUsages::NonRepudiation, "nonRepudiation"),
    (KeyUsages::KeyEncipherment, "keyEncipherment"),
    (KeyUsages::DataEncipherment, "dataEncipherment"),
    (KeyUsages::KeyAgreement, "keyAgreement"),
    (KeyUsages::KeyCertSign, "keyCertSign"),
    (KeyUsages::CRLSign, "cRLSign"),
    (KeyUsages::EncipherOnly, "encipherOnly"),
    (KeyUsages::DecipherOnly, "decipherOnly"),
];

fn key_usage_names(set: FlagSet<KeyUsages>) -> String {
    let names: Vec<&str> = KEY_USAGE_NAMES
        .iter()
        .filter(|(bit, _)| set.contains(*bit))
        .map(|(_, name)| *name)
        .collect();
    names.join(", ")
}

/// The name of a key purpose, with the OID when it is not one of the usual ones.
fn key_purpose_name(oid: &ObjectIdentifier) -> String {
    let known = match oid.to_string().as_str() {
        "1.3.6.1.5.5.7.3.1" => "serverAuth",
        "1.3.6.1.5.5.7.3.2" => "clientAuth",
        "1.3.6.1.5.5.7.3.3" => "codeSigning",
        "1.3.6.1.5.5.7.3.4" => "emailProtection",
        "1.3.6.1.5.5.7.3.8" => "timeStamping",
        "1.3.6.1.5.5.7.3.9" => "OCSPSigning",
        "1.3.6.1.5.5.7.3.36" => "documentSigning",
        "2.5.29.37.0" => "anyExtendedKeyUsage",
        _ => return oid.to_string(),
    };
    known.to_owned()
}

/// keyUsage present, critical, with every bit of `required`, at least one of `one_of` (when
/// not empty), and no bit outside `allowed`. `rule` is the role's rule, for messages.
fn check_key_usage(
    c: &Certificate,
    what: &str,
    rule: &str,
    required: FlagSet<KeyUsages>,
    one_of: FlagSet<KeyUsages>,
    allowed: FlagSet<KeyUsages>,
) -> Result<(), ChainError> {
    let wrong = |reason: String| ChainError::WrongKeyUsage {
        what: what.to_owned(),
        reason: format!("{reason}: {rule} ({PROFILES})"),
    };
    let ku = cert::extension::<KeyUsage>(c, cert::ID_CE_KEY_USAGE)
        .map_err(decode_failure(what, "keyUsage"))?;
    let Some((critical, KeyUsage(bits))) = ku else {
        return Err(wrong("is missing".into()));
    };
    if !critical {
        return Err(wrong("is not critical".into()));
    }
    let extra = bits & !allowed;
    if !extra.is_empty() {
        return Err(wrong(format!("has {}", key_usage_names(extra))));
    }
    let missing = required & !bits;
    if !missing.is_empty() {
        return Err(wrong(format!("lacks {}", key_usage_names(missing))));
    }
    if !one_of.is_empty() && (bits & one_of).is_empty() {
        return Err(wrong(format!("has none of {}", key_usage_names(one_of))));
    }
    Ok(())
}

fn decode_failure(what: &str, item: &str) -> impl Fn(der::Error) -> ChainError {
    let what = what.to_owned();
    let item = item.to_owned();
    move |source| ChainError::ItemUndecodable {
        what: what.clone(),
        item: item.clone(),
        source,
    }
}

/// The CA profile (applets-spec §9.3.2, §9.3.4), for the trusted root and every CA on the
/// path: basicConstraints present, critical, cA TRUE; keyUsage present, critical, with
/// keyCertSign, and cRLSign as the only other bit allowed; no extendedKeyUsage.
pub(super) fn check_ca_profile(c: &Certificate, what: &str) -> Result<(), ChainError> {
    let bc = cert::extension::<BasicConstraints>(c, cert::ID_CE_BASIC_CONSTRAINTS)
        .map_err(decode_failure(what, "basicConstraints"))?;
    let rule = format!("a CA certificate has it critical, with cA TRUE ({PROFILES})");
    let wrong_bc = |reason: &str| ChainError::WrongBasicConstraints {
        what: what.to_owned(),
        reason: format!("{reason}: {rule}"),
    };
    match bc {
        None => return Err(wrong_bc("is missing")),
        Some((_, bc)) if !bc.ca => return Err(wrong_bc("has cA FALSE")),
        Some((false, _)) => return Err(wrong_bc("is not critical")),
        Some(_) => {}
    }
    check_key_usage(
        c,
        what,
        "a CA certificate has keyUsage keyCertSign, optionally cRLSign, nothing else, critical",
        KeyUsages::KeyCertSign.into(),
        FlagSet::default(),
        KeyUsages::KeyCertSign | KeyUsages::CRLSign,
    )?;
    check_no_extended_key_usage(c, what, "a CA certificate")
}

/// extendedKeyUsage absent, for the roles that have none.
fn check_no_extended_key_usage(c: &Certificate, what: &str, role: &str) -> Result<(), ChainError> {
    let eku = cert::extended_key_usage(c).map_err(decode_failure(what, "extendedKeyUsage"))?;
    match eku {
        None => Ok(()),
        Some(eku) => Err(ChainError::WrongExtendedKeyUsage {
            what: what.to_owned(),
            reason: format!(
                "is present ({}): {role} has none ({PROFILES})",
                eku.0
                    .iter()
                    .map(key_purpose_name)
                    .collect::<Vec<_>>()
                    .join(", "),
            ),
        }),
    }
}

/// The end-entity profiles of [`LeafPurpose`].
pub(super) fn check_purpose(
    leaf: &Certificate,
    what: &str,
    purpose: LeafPurpose,
) -> Result<(), ChainError> {
    if purpose == LeafPurpose::Any {
        return Ok(());
    }
    if cert::basic_constraints(leaf)
        .map_err(decode_failure(what, "basicConstraints"))?
        .is_some_and(|bc| bc.ca)
    {
        return Err(ChainError::LeafIsCa {
            what: what.to_owned(),
        });
    }
    match purpose {
        LeafPurpose::DocumentSigner => {
            let only = KeyUsages::DigitalSignature.into();
            check_key_usage(
                leaf,
                what,
                "a document signer certificate has keyUsage digitalSignature only, critical",
                only,
                FlagSet::default(),
                only,
            )?;
            check_no_extended_key_usage(leaf, what, "a document signer certificate")?;
        }
        LeafPurpose::DocumentSignature => {
            let signing = KeyUsages::DigitalSignature | KeyUsages::NonRepudiation;
            check_key_usage(
                leaf,
                what,
                "a holder certificate has keyUsage digitalSignature and/or nonRepudiation, \
                 nothing else, critical",
                FlagSet::default(),
                signing,
                signing,
            )?;
            check_extended_key_usage(
                leaf,
                what,
                &[asn1::ID_KP_DOCUMENT_SIGNING, asn1::ID_KP_EMAIL_PROTECTION],
                asn1::ID_KP_DOCUMENT_SIGNING,
                "a holder certificate has extendedKeyUsage documentSigning, optionally \
                 emailProtection, and nothing else",
            )?;
        }
        LeafPurpose::ClientAuthentication => {
            let only = KeyUsages::DigitalSignature.into();
            check_key_usage(
                leaf,
                what,
                "an authentication certificate has keyUsage digitalSignature only, critical",
                only,
                FlagSet::default(),
                only,
            )?;
            check_extended_key_usage(
                leaf,
                what,
                &[asn1::ID_KP_CLIENT_AUTH],
                asn1::ID_KP_CLIENT_AUTH,
                "an authentication certificate has extendedKeyUsage clientAuth and nothing else",
            )?;
        }
        LeafPurpose::Any => {}
    }
    Ok(())
}

/// extendedKeyUsage present, with `required`, and nothing outside `allowed` (applets-spec
/// §9.3.5: the holder's may add emailProtection, which openssl's S/MIME check wants; §12.5: the
/// authentication certificate has clientAuth alone).
fn check_extended_key_usage(
    leaf: &Certificate,
    what: &str,
    allowed: &[ObjectIdentifier],
    required: ObjectIdentifier,
    rule: &str,
) -> Result<(), ChainError> {
    let wrong = |reason: String| ChainError::WrongExtendedKeyUsage {
        what: what.to_owned(),
        reason: format!("{reason}: {rule} ({PROFILES})"),
    };
    let eku = cert::extended_key_usage(leaf).map_err(decode_failure(what, "extendedKeyUsage"))?;
    let Some(eku) = eku else {
        return Err(wrong("is missing".into()));
    };
    let foreign: Vec<String> = eku
        .0
        .iter()
        .filter(|o| !allowed.contains(o))
        .map(key_purpose_name)
        .collect();
    if !foreign.is_empty() {
        return Err(wrong(format!("has {}", foreign.join(", "))));
    }
    if !eku.0.contains(&required) {
        return Err(wrong(format!("lacks {}", key_purpose_name(&required))));
    }
    Ok(())
}
