//! Whether a TSA is trusted: its certificate chains to one of the TSA roots the verifier
//! trusts.
//!
//! The TSA's path is checked at the time of verification, and the TSA's certificate must also
//! have been valid at genTime. Nothing protects a TSA's key after its certificate expires or
//! is revoked (melli adds no archive timestamps, RFC 3161's long-term answer), so a token is
//! trusted only while its TSA's certificate is; TSA certificates live far longer than a
//! holder's, which is what keeps a timestamped signature verifiable after the holder's
//! certificate expired.

use std::time::SystemTime;

use x509_cert::Certificate;

use super::token::TokenInfo;
use crate::pki::cert;
use crate::pki::chain::{check_validity, verify_path, LeafPurpose, VerifiedPath};

/// Why a TSA is not trusted.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TrustError {
    /// No TSA root was given.
    #[error("no TSA is trusted")]
    NoAnchor,
    /// The TSA's certificate does not chain to any of the TSA roots, or is not valid now or
    /// at genTime.
    #[error("{0}")]
    Untrusted(String),
}

/// The TSA's certification path to one of `anchors`, valid at `now`, its certificate valid
/// at genTime too.
pub fn trust_tsa(
    info: &TokenInfo,
    anchors: &[Certificate],
    now: SystemTime,
) -> Result<VerifiedPath, TrustError> {
    if anchors.is_empty() {
        return Err(TrustError::NoAnchor);
    }
    let mut why = Vec::new();
    for anchor in anchors {
        match verify_path(
            &info.tsa_certificate,
            "TSA certificate",
            LeafPurpose::TimeStamping,
            &info.certificates,
            anchor,
            now,
        ) {
            Ok(path) => {
                return check_validity(
                    &info.tsa_certificate,
                    "TSA certificate (at the timestamp's time)",
                    info.gen_time,
                )
                .map(|()| path)
                .map_err(|e| TrustError::Untrusted(e.to_string()));
            }
            Err(e) => why.push(format!("{} ({e})", cert::label(anchor))),
        }
    }
    Err(TrustError::Untrusted(format!(
        "the TSA \"{}\" is not trusted by {}",
        info.tsa_name,
        why.join("; ")
    )))
}
