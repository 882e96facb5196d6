//! The token's objects and their attributes, as the bytes PKCS#11 hands out: for each key of
//! the card (the signing key, and on a version 1.1 card the authentication key) its
//! certificate, its public key and its private key object (which has no value, ever), labelled
//! "Digital Signature" and "Authentication"; and the CA certificate(s). Nothing here talks to
//! the card.

use cryptoki_sys::*;

use crate::card::{CertObject, KeyObject, TokenData};
use crate::keys::Key;

/// DER of the named curve P-256 (prime256v1, 1.2.840.10045.3.1.7): CKA_EC_PARAMS.
pub(crate) const P256_PARAMS: [u8; 10] =
    [0x06, 0x08, 0x2A, 0x86, 0x48, 0xCE, 0x3D, 0x03, 0x01, 0x07];

/// The mechanisms of the token's keys.
pub(crate) const MECHANISMS: [CK_MECHANISM_TYPE; 2] = [CKM_ECDSA, CKM_ECDSA_SHA256];

/// Which object a handle names, below the token's generation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    PrivateKey(Key),
    PublicKey(Key),
    /// The certificate of a key: DG6's first (signing), DG7's first (authentication).
    Cert(Key),
    /// The n-th CA certificate of DG6 and DG7.
    CaCert(usize),
}

/// Handles carry the token generation so that a handle of a card that left never names an
/// object of the card that came after it.
const KINDS_PER_TOKEN: u64 = 64;
const FIRST_CA: u64 = 8;

pub(crate) fn handle(generation: u64, kind: Kind) -> CK_OBJECT_HANDLE {
    let index = match kind {
        Kind::PrivateKey(Key::Signing) => 1,
        Kind::PublicKey(Key::Signing) => 2,
        Kind::Cert(Key::Signing) => 3,
        Kind::PrivateKey(Key::Authentication) => 4,
        Kind::PublicKey(Key::Authentication) => 5,
        Kind::Cert(Key::Authentication) => 6,
        Kind::CaCert(n) => FIRST_CA + n as u64,
    };
    (generation * KINDS_PER_TOKEN + index) as CK_OBJECT_HANDLE
}

/// The object a handle names on the token of `generation`, if any.
pub(crate) fn kind_of(
    token: &TokenData,
    generation: u64,
    handle: CK_OBJECT_HANDLE,
) -> Option<Kind> {
    let handle = handle as u64;
    if handle / KINDS_PER_TOKEN != generation {
        return None;
    }
    let auth = token.authentication.is_some();
    match handle % KINDS_PER_TOKEN {
        1 => Some(Kind::PrivateKey(Key::Signing)),
        2 => Some(Kind::PublicKey(Key::Signing)),
        3 => Some(Kind::Cert(Key::Signing)),
        4 if auth => Some(Kind::PrivateKey(Key::Authentication)),
        5 if auth => Some(Kind::PublicKey(Key::Authentication)),
        6 if auth => Some(Kind::Cert(Key::Authentication)),
        n if n >= FIRST_CA && ((n - FIRST_CA) as usize) < token.cas.len() => {
            Some(Kind::CaCert((n - FIRST_CA) as usize))
        }
        _ => None,
    }
}

/// Every object of the token, in a stable order: the authentication key's objects first, so
/// that an application that takes the first key it finds logs in with the login key, then the
/// signing key's, then the CA certificates.
pub(crate) fn all(token: &TokenData) -> Vec<Kind> {
    let mut kinds = Vec::new();
    for key in [Key::Authentication, Key::Signing] {
        if token.key(key).is_some() {
            kinds.extend([Kind::Cert(key), Kind::PublicKey(key), Kind::PrivateKey(key)]);
        }
    }
    kinds.extend((0..token.cas.len()).map(Kind::CaCert));
    kinds
}

/// An attribute's value, or why it has none.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Value {
    Bytes(Vec<u8>),
    /// The object has the attribute, but it is never revealed (CKA_VALUE of the private key).
    Sensitive,
    /// Not an attribute of this object.
    Invalid,
}

fn ulong(v: CK_ULONG) -> Value {
    Value::Bytes(v.to_ne_bytes().to_vec())
}

fn boolean(v: bool) -> Value {
    Value::Bytes(vec![if v { CK_TRUE } else { CK_FALSE }])
}

fn bytes(v: &[u8]) -> Value {
    Value::Bytes(v.to_vec())
}

/// CKA_EC_POINT: the uncompressed point in a DER OCTET STRING.
fn ec_point(point: &[u8]) -> Vec<u8> {
    let mut out = vec![0x04, point.len() as u8];
    out.extend_from_slice(point);
    out
}

/// The value of attribute `attribute` of object `kind` on `token`.
pub(crate) fn attribute(token: &TokenData, kind: Kind, attribute: CK_ATTRIBUTE_TYPE) -> Value {
    // Common to every object: storage attributes. Nothing is modifiable, copyable or
    // destroyable. Every object is visible without login; the private key says CKA_PRIVATE
    // all the same, as OpenSC's keys do, because using it needs the PIN: applications
    // (OpenSSL's pkcs11 engine) take that as the sign to log in before they sign.
    match attribute {
        CKA_TOKEN => return boolean(true),
        CKA_PRIVATE => return boolean(matches!(kind, Kind::PrivateKey(_))),
        CKA_MODIFIABLE | CKA_COPYABLE | CKA_DESTROYABLE => return boolean(false),
        _ => {}
    }
    match kind {
        Kind::Cert(k) => match token.key(k) {
            Some(object) => {
                certificate(&object.cert, CK_CERTIFICATE_CATEGORY_TOKEN_USER, attribute)
            }
            None => Value::Invalid,
        },
        Kind::CaCert(n) => match token.cas.get(n) {
            Some(ca) => certificate(ca, CK_CERTIFICATE_CATEGORY_AUTHORITY, attribute),
            None => Value::Invalid,
        },
        Kind::PublicKey(k) | Kind::PrivateKey(k) => match token.key(k) {
            Some(object) => key(k, object, matches!(kind, Kind::PrivateKey(_)), attribute),
            None => Value::Invalid,
        },
    }
}

const CK_CERTIFICATE_CATEGORY_TOKEN_USER: CK_ULONG = 1;
const CK_CERTIFICATE_CATEGORY_AUTHORITY: CK_ULONG = 2;

fn certificate(cert: &CertObject, category: CK_ULONG, attribute: CK_ATTRIBUTE_TYPE) -> Value {
    match attribute {
        CKA_CLASS => ulong(CKO_CERTIFICATE),
        CKA_CERTIFICATE_TYPE => ulong(CKC_X_509),
        CKA_LABEL => bytes(cert.label.as_bytes()),
        CKA_ID => bytes(&cert.id),
        CKA_VALUE => bytes(&cert.der),
        CKA_SUBJECT => bytes(&cert.subject),
        CKA_ISSUER => bytes(&cert.issuer),
        CKA_SERIAL_NUMBER => bytes(&cert.serial),
        CKA_TRUSTED => boolean(false),
        CKA_CERTIFICATE_CATEGORY => ulong(category),
        CKA_JAVA_MIDP_SECURITY_DOMAIN => ulong(0),
        CKA_URL
        | CKA_HASH_OF_SUBJECT_PUBLIC_KEY
        | CKA_HASH_OF_ISSUER_PUBLIC_KEY
        | CKA_START_DATE
        | CKA_END_DATE => bytes(&[]),
        _ => Value::Invalid,
    }
}

fn key(k: Key, object: &KeyObject, private: bool, attribute: CK_ATTRIBUTE_TYPE) -> Value {
    match attribute {
        CKA_CLASS => ulong(if private {
            CKO_PRIVATE_KEY
        } else {
            CKO_PUBLIC_KEY
        }),
        CKA_KEY_TYPE => ulong(CKK_EC),
        CKA_LABEL => bytes(k.label().as_bytes()),
        CKA_ID => bytes(&object.cert.id),
        CKA_SUBJECT => bytes(&object.cert.subject),
        CKA_EC_PARAMS => bytes(&P256_PARAMS),
        CKA_EC_POINT => bytes(&ec_point(&object.point)),
        CKA_PUBLIC_KEY_INFO => bytes(&object.spki),
        // Generated on the chip (applets-spec §6.11, §12.2) and never left it.
        CKA_LOCAL => boolean(true),
        CKA_KEY_GEN_MECHANISM => ulong(CKM_EC_KEY_PAIR_GEN),
        CKA_START_DATE | CKA_END_DATE => bytes(&[]),
        CKA_DERIVE => boolean(false),
        CKA_ALLOWED_MECHANISMS => {
            Value::Bytes(MECHANISMS.iter().flat_map(|m| m.to_ne_bytes()).collect())
        }
        // Public key only.
        CKA_VERIFY if !private => boolean(true),
        CKA_ENCRYPT | CKA_VERIFY_RECOVER | CKA_WRAP | CKA_TRUSTED if !private => boolean(false),
        // Private key only: it signs, and nothing of it can be read or taken out. The signing
        // key wants the PIN for every signature (applets-spec §12.4).
        CKA_SIGN if private => boolean(true),
        CKA_ALWAYS_AUTHENTICATE if private => boolean(k.always_authenticate()),
        CKA_DECRYPT | CKA_SIGN_RECOVER | CKA_UNWRAP | CKA_WRAP_WITH_TRUSTED if private => {
            boolean(false)
        }
        CKA_SENSITIVE | CKA_ALWAYS_SENSITIVE | CKA_NEVER_EXTRACTABLE if private => boolean(true),
        CKA_EXTRACTABLE if private => boolean(false),
        CKA_VALUE if private => Value::Sensitive,
        _ => Value::Invalid,
    }
}

/// Whether `kind` matches every attribute of a search template.
pub(crate) fn matches(
    token: &TokenData,
    kind: Kind,
    template: &[(CK_ATTRIBUTE_TYPE, Vec<u8>)],
) -> bool {
    template
        .iter()
        .all(|(t, want)| attribute(token, kind, *t) == Value::Bytes(want.clone()))
}

#[cfg(test)]
mod tests {
    use std::sync::OnceLock;

    use der::Encode;

    use super::*;
    use crate::card::token_data;

    /// Certificates of a test issuer, DER: (end entity 1, end entity 2, signing CA). Which
    /// certificates stand for the card's does not matter to the attributes.
    fn certs() -> &'static (Vec<u8>, Vec<u8>, Vec<u8>) {
        static CERTS: OnceLock<(Vec<u8>, Vec<u8>, Vec<u8>)> = OnceLock::new();
        CERTS.get_or_init(|| {
            let dir =
                std::env::temp_dir().join(format!("melli-pkcs11-objects-{}", std::process::id()));
            let _ = std::fs::remove_dir_all(&dir);
            let issuer = melli::pki::Issuer::init_plain(&dir).expect("a test issuer");
            let der = |c: &x509_cert::Certificate| c.to_der().expect("DER");
            let out = (
                der(issuer.document_signer_certificate()),
                der(issuer.root_certificate()),
                der(issuer.signing_ca_certificate()),
            );
            let _ = std::fs::remove_dir_all(&dir);
            out
        })
    }

    fn token(dg7: Option<&[u8]>) -> TokenData {
        let (signing, _, ca) = certs();
        let dg6 = [signing.as_slice(), ca.as_slice()].concat();
        token_data("S1".into(), (1, 1), &dg6, dg7).expect("token")
    }

    fn dg7() -> Vec<u8> {
        let (_, auth, ca) = certs();
        [auth.as_slice(), ca.as_slice()].concat()
    }

    fn text(token: &TokenData, kind: Kind, attribute: CK_ATTRIBUTE_TYPE) -> String {
        match super::attribute(token, kind, attribute) {
            Value::Bytes(b) => String::from_utf8(b).expect("UTF-8"),
            other => panic!("{attribute:#x} of {kind:?}: {other:?}"),
        }
    }

    #[test]
    fn a_version_1_1_card_shows_two_keys_with_their_certificates() {
        let dg7 = dg7();
        let token = token(Some(&dg7));
        let kinds = all(&token);
        // Two keys × (certificate, public, private), the signing CA once.
        assert_eq!(kinds.len(), 7, "{kinds:?}");
        assert_eq!(kinds[0], Kind::Cert(Key::Authentication));
        for key in [Key::Authentication, Key::Signing] {
            let id = super::attribute(&token, Kind::Cert(key), CKA_ID);
            for kind in [Kind::Cert(key), Kind::PublicKey(key), Kind::PrivateKey(key)] {
                assert_eq!(text(&token, kind, CKA_LABEL), key.label());
                assert_eq!(super::attribute(&token, kind, CKA_ID), id, "{kind:?}");
            }
        }
        assert_ne!(
            super::attribute(&token, Kind::Cert(Key::Signing), CKA_ID),
            super::attribute(&token, Kind::Cert(Key::Authentication), CKA_ID)
        );
        assert_eq!(
            super::attribute(
                &token,
                Kind::PrivateKey(Key::Signing),
                CKA_ALWAYS_AUTHENTICATE
            ),
            boolean(true)
        );
        assert_eq!(
            super::attribute(
                &token,
                Kind::PrivateKey(Key::Authentication),
                CKA_ALWAYS_AUTHENTICATE
            ),
            boolean(false)
        );
        for key in [Key::Authentication, Key::Signing] {
            let private = Kind::PrivateKey(key);
            assert_eq!(super::attribute(&token, private, CKA_SIGN), boolean(true));
            assert_eq!(
                super::attribute(&token, private, CKA_VALUE),
                Value::Sensitive
            );
            // CKA_ALWAYS_AUTHENTICATE is a private key's attribute only.
            assert_eq!(
                super::attribute(&token, Kind::PublicKey(key), CKA_ALWAYS_AUTHENTICATE),
                Value::Invalid
            );
        }
        // Every object has a handle that names it again, and no other.
        for generation in [1, 7] {
            for kind in &kinds {
                let h = handle(generation, *kind);
                assert_eq!(kind_of(&token, generation, h), Some(*kind));
                assert_eq!(kind_of(&token, generation + 1, h), None);
            }
        }
        // A search for the signing key by its label finds its three objects.
        let template = [(CKA_LABEL, b"Digital Signature".to_vec())];
        let found: Vec<Kind> = kinds
            .iter()
            .copied()
            .filter(|k| matches(&token, *k, &template))
            .collect();
        assert_eq!(found.len(), 3, "{found:?}");
    }

    #[test]
    fn a_version_1_0_card_shows_only_the_signing_key() {
        let (_, _, ca) = certs();
        for dg7 in [None, Some(&b"not a certificate"[..]), Some(&ca[..5])] {
            let token = token(dg7);
            assert!(token.authentication.is_none());
            let kinds = all(&token);
            assert_eq!(
                kinds,
                vec![
                    Kind::Cert(Key::Signing),
                    Kind::PublicKey(Key::Signing),
                    Kind::PrivateKey(Key::Signing),
                    Kind::CaCert(0)
                ]
            );
            for n in 4..=6 {
                assert_eq!(kind_of(&token, 3, 3 * KINDS_PER_TOKEN + n), None);
            }
            assert_eq!(
                text(&token, Kind::PrivateKey(Key::Signing), CKA_LABEL),
                "Digital Signature"
            );
            assert_eq!(
                super::attribute(&token, Kind::Cert(Key::Authentication), CKA_VALUE),
                Value::Invalid
            );
        }
    }
}
