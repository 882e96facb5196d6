//! The token's objects and their attributes, as the bytes PKCS#11 hands out: the holder
//! certificate, the signing CA certificate(s), the holder's public key and the private key
//! object (which has no value, ever). Nothing here talks to the card.

use cryptoki_sys::*;

use crate::card::{CertObject, TokenData};

/// DER of the named curve P-256 (prime256v1, 1.2.840.10045.3.1.7): CKA_EC_PARAMS.
pub(crate) const P256_PARAMS: [u8; 10] =
    [0x06, 0x08, 0x2A, 0x86, 0x48, 0xCE, 0x3D, 0x03, 0x01, 0x07];

/// The mechanisms of the token's key.
pub(crate) const MECHANISMS: [CK_MECHANISM_TYPE; 2] = [CKM_ECDSA, CKM_ECDSA_SHA256];

/// Which object a handle names, below the token's generation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    PrivateKey,
    PublicKey,
    HolderCert,
    /// The n-th CA certificate of DG6.
    CaCert(usize),
}

/// Handles carry the token generation so that a handle of a card that left never names an
/// object of the card that came after it.
const KINDS_PER_TOKEN: u64 = 64;

pub(crate) fn handle(generation: u64, kind: Kind) -> CK_OBJECT_HANDLE {
    let index = match kind {
        Kind::PrivateKey => 1,
        Kind::PublicKey => 2,
        Kind::HolderCert => 3,
        Kind::CaCert(n) => 4 + n as u64,
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
    match handle % KINDS_PER_TOKEN {
        1 => Some(Kind::PrivateKey),
        2 => Some(Kind::PublicKey),
        3 => Some(Kind::HolderCert),
        n if n >= 4 && ((n - 4) as usize) < token.cas.len() => Some(Kind::CaCert((n - 4) as usize)),
        _ => None,
    }
}

/// Every object of the token, in a stable order.
pub(crate) fn all(token: &TokenData) -> Vec<Kind> {
    let mut kinds = vec![Kind::HolderCert, Kind::PublicKey, Kind::PrivateKey];
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
        CKA_PRIVATE => return boolean(kind == Kind::PrivateKey),
        CKA_MODIFIABLE | CKA_COPYABLE | CKA_DESTROYABLE => return boolean(false),
        _ => {}
    }
    match kind {
        Kind::HolderCert => {
            certificate(&token.holder, CK_CERTIFICATE_CATEGORY_TOKEN_USER, attribute)
        }
        Kind::CaCert(n) => certificate(&token.cas[n], CK_CERTIFICATE_CATEGORY_AUTHORITY, attribute),
        Kind::PublicKey | Kind::PrivateKey => key(token, kind, attribute),
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

fn key(token: &TokenData, kind: Kind, attribute: CK_ATTRIBUTE_TYPE) -> Value {
    let private = kind == Kind::PrivateKey;
    match attribute {
        CKA_CLASS => ulong(if private {
            CKO_PRIVATE_KEY
        } else {
            CKO_PUBLIC_KEY
        }),
        CKA_KEY_TYPE => ulong(CKK_EC),
        CKA_LABEL => bytes(token.holder_name.as_bytes()),
        CKA_ID => bytes(&token.holder.id),
        CKA_SUBJECT => bytes(&token.holder.subject),
        CKA_EC_PARAMS => bytes(&P256_PARAMS),
        CKA_EC_POINT => bytes(&ec_point(&token.point)),
        CKA_PUBLIC_KEY_INFO => bytes(&token.spki),
        // Generated on the chip (applets-spec §6.14) and never left it.
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
        // Private key only: it signs, and nothing of it can be read or taken out.
        CKA_SIGN if private => boolean(true),
        CKA_DECRYPT
        | CKA_SIGN_RECOVER
        | CKA_UNWRAP
        | CKA_WRAP_WITH_TRUSTED
        | CKA_ALWAYS_AUTHENTICATE
            if private =>
        {
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
