//! The TimeStampResp (RFC 3161 §2.4.2) to a [`TimestampRequest`].

use std::time::SystemTime;

use cmpv2::status::PkiStatus;
use der::{Decode, Encode};
use x509_tsp::TimeStampResp;

use super::request::TimestampRequest;
use super::token::{verify_token, TokenError, TokenInfo};
use crate::display::escaped_cut;

/// Why a TSA's reply gives no timestamp. One line each.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ReplyError {
    /// Not a DER TimeStampResp.
    #[error("the reply is not a DER TimeStampResp: {0}")]
    Malformed(#[source] der::Error),
    /// The TSA refused.
    #[error("the TSA refused: status {status}{text}")]
    Refused { status: &'static str, text: String },
    /// Granted, without a token.
    #[error("the TSA granted the request but sent no token")]
    NoToken,
    /// The token is not good.
    #[error(transparent)]
    Token(#[from] TokenError),
}

fn status_name(s: PkiStatus) -> &'static str {
    match s {
        PkiStatus::Accepted => "granted",
        PkiStatus::GrantedWithMods => "grantedWithMods",
        PkiStatus::Rejection => "rejection",
        PkiStatus::Waiting => "waiting",
        PkiStatus::RevocationWarning => "revocationWarning",
        PkiStatus::RevocationNotification => "revocationNotification",
        PkiStatus::KeyUpdateWarning => "keyUpdateWarning",
    }
}

/// The token of `reply` (its DER) and what it says, when the TSA granted `request` (status
/// granted or grantedWithMods) with a token that [`verify_token`] accepts for the request's
/// imprint and nonce at `now`. The TSA's free text, when it refused, is escaped.
pub fn accept_reply(
    reply: &[u8],
    request: &TimestampRequest,
    signature_value: &[u8],
    now: SystemTime,
) -> Result<(Vec<u8>, TokenInfo), ReplyError> {
    let resp = TimeStampResp::from_der(reply).map_err(ReplyError::Malformed)?;
    match resp.status.status {
        PkiStatus::Accepted | PkiStatus::GrantedWithMods => {}
        other => {
            let text: Vec<String> = resp
                .status
                .status_string
                .iter()
                .flatten()
                .map(|s| escaped_cut(s.as_str(), 200))
                .collect();
            return Err(ReplyError::Refused {
                status: status_name(other),
                text: if text.is_empty() {
                    String::new()
                } else {
                    format!(" ({})", text.join("; "))
                },
            });
        }
    }
    let token = resp.time_stamp_token.ok_or(ReplyError::NoToken)?;
    let der = token.to_der().map_err(ReplyError::Malformed)?;
    let info = verify_token(&der, signature_value, Some(&request.nonce), now)?;
    if info.certificates.is_empty() {
        return Err(TokenError::TsaCertificateMissing.into());
    }
    Ok((der, info))
}
