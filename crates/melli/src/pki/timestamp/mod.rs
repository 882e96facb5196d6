//! RFC 3161 timestamps of CMS signatures (CAdES-T): ask a time-stamping authority (TSA) for a
//! token over a signature's value, check the token it sends back, carry it in the signature
//! as the unsigned attribute id-aa-signatureTimeStampToken (RFC 3161 Appendix A), and check
//! such a token when verifying.
//!
//! - [`request`]: the TimeStampReq (SHA-256 imprint, a random nonce, certReq TRUE).
//! - [`reply`]: the TimeStampResp: granted, holding a token that passes [`verify_token`]
//!   for the request's imprint and nonce.
//! - [`token`]: a token on its own: TSTInfo in SignedData, the imprint of the signature value
//!   it is said to timestamp, the TSA's signature, its signing-certificate attribute
//!   (ESSCertIDv2 or ESSCertID) naming the TSA certificate in the token, and that
//!   certificate's profile (extendedKeyUsage id-kp-timeStamping alone, critical).
//! - [`trust`]: whether the TSA's certificate chains to a trusted TSA root.
//! - [`tst_info`]: `TSTInfo`, with a genTime that may have fractions of a second.
//! - [`attribute`]: putting a token into a signature's SignerInfo and taking it out.
//!
//! The structures are `x509-tsp`'s and `cms`'s; the TSA's signature is verified like every
//! other CMS signature here ([`SignedDataView`](crate::pki::SignedDataView)), so a TSA must
//! sign with ECDSA P-256 and SHA-256, as every signer melli checks.

pub mod attribute;
pub mod reply;
pub mod request;
pub mod token;
pub mod trust;
pub mod tst_info;

use der::asn1::ObjectIdentifier;

pub use attribute::{signature_timestamp_tokens, with_timestamp_token, AttributeError};
pub use reply::{accept_reply, ReplyError};
pub use request::TimestampRequest;
pub use token::{verify_token, TokenError, TokenInfo};
pub use trust::{trust_tsa, TrustError};

/// id-aa-signatureTimeStampToken (RFC 3161 Appendix A), the unsigned attribute of a
/// SignerInfo that holds a timestamp token over its signature value.
pub const ID_AA_SIGNATURE_TIME_STAMP_TOKEN: ObjectIdentifier =
    ObjectIdentifier::new_unwrap("1.2.840.113549.1.9.16.2.14");
/// id-ct-TSTInfo (RFC 3161 §2.4.2), the eContentType of a timestamp token.
pub const ID_CT_TST_INFO: ObjectIdentifier =
    ObjectIdentifier::new_unwrap("1.2.840.113549.1.9.16.1.4");
/// id-kp-timeStamping (RFC 3161 §2.3): the one purpose of a TSA's certificate.
pub use crate::pki::asn1::ID_KP_TIME_STAMPING;
/// id-aa-signingCertificate (RFC 2634 §5.4), ESSCertID with a SHA-1 hash, which `openssl ts`
/// writes by default.
pub const ID_AA_SIGNING_CERTIFICATE: ObjectIdentifier =
    ObjectIdentifier::new_unwrap("1.2.840.113549.1.9.16.2.12");

/// The MIME type of a TimeStampReq (RFC 3161 §3.4).
pub const QUERY_TYPE: &str = "application/timestamp-query";
/// The MIME type of a TimeStampResp (RFC 3161 §3.4).
pub const REPLY_TYPE: &str = "application/timestamp-reply";
/// The largest reply read: a token with a short chain is a few kilobytes.
pub const MAX_REPLY: u64 = 256 * 1024;
