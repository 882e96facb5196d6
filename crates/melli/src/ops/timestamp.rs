//! Timestamps of document signatures (RFC 3161, CAdES-T): `melli sign --tsa URL` asks a TSA
//! for a token over the new signature's value and carries it in the signature
//! ([`timestamp_signature`]); `melli verify-signature` checks a token it finds
//! ([`check_timestamp`]) and, when its TSA is trusted, checks the signer's certificates at
//! the token's genTime instead of now.

use std::time::SystemTime;

use x509_cert::Certificate;

use crate::net::{self, HttpError, Limits};
use crate::pki::signed_data::{CmsError, SignedDataView};
use crate::pki::timestamp::{
    self, accept_reply, signature_timestamp_tokens, trust_tsa, verify_token, with_timestamp_token,
    AttributeError, ReplyError, TimestampRequest, TokenError, TokenInfo, TrustError,
};
use crate::pki::Check;

/// The name of the check a timestamp token adds to a signature's verdict.
pub const CHECK: &str = "timestamp";

/// Why a signature could not be timestamped. Nothing is written when this happens.
#[derive(Debug, thiserror::Error)]
pub enum TimestampError {
    #[error("the signature to timestamp: {0}")]
    Signature(#[source] CmsError),
    #[error("building the timestamp request: {0}")]
    Request(#[source] der::Error),
    #[error("the TSA: {0}")]
    Http(#[from] HttpError),
    #[error("the TSA {url} sent no usable timestamp: {source}")]
    Reply {
        url: String,
        #[source]
        source: Box<ReplyError>,
    },
    #[error("adding the timestamp to the signature: {0}")]
    Embed(#[from] AttributeError),
}

/// `p7s` (a CMS SignedData with one signer, DER) with a token from the TSA at `url` over its
/// signature value, checked (granted; the imprint and nonce asked for; signed by the TSA
/// certificate it carries and names; that certificate a TSA's) before it is added as the
/// unsigned attribute id-aa-signatureTimeStampToken. `limits` bounds the exchange.
pub fn timestamp_signature(
    p7s: &[u8],
    url: &str,
    limits: Limits,
    now: SystemTime,
) -> Result<(Vec<u8>, TokenInfo), TimestampError> {
    let view = SignedDataView::parse(p7s).map_err(TimestampError::Signature)?;
    let value = view.signer_info().signature.as_bytes().to_vec();
    let request = TimestampRequest::over_signature(&value).map_err(TimestampError::Request)?;
    let reply = net::post(
        url,
        timestamp::QUERY_TYPE,
        &request.der,
        timestamp::REPLY_TYPE,
        limits,
    )?;
    let (token, info) =
        accept_reply(&reply, &request, &value, now).map_err(|source| TimestampError::Reply {
            url: crate::display::escaped_cut(url, 200),
            source: Box::new(source),
        })?;
    Ok((with_timestamp_token(p7s, &token)?, info))
}

/// The default limits of a TSA exchange: a few seconds, [`timestamp::MAX_REPLY`] bytes.
pub fn tsa_limits() -> Limits {
    Limits::new(timestamp::MAX_REPLY)
}

/// A timestamp whose TSA is trusted: the time the signature value is proven to have existed.
#[derive(Debug, Clone)]
pub struct TrustedTime {
    /// genTime.
    pub at: SystemTime,
    /// genTime, `YYYY-MM-DD HH:MM:SS UTC`.
    pub text: String,
    /// The TSA certificate's name (not escaped).
    pub tsa: String,
}

/// What a signature's timestamp token amounts to.
#[derive(Debug, Clone)]
pub struct TimestampOutcome {
    /// The "timestamp" check: FAIL when the token is not a good timestamp of this
    /// signature's value; PASS otherwise, saying whether it is trusted.
    pub check: Check,
    /// The token's genTime, when the token is good (trusted or not): a claim unless
    /// `trusted`.
    pub claimed: Option<String>,
    /// The TSA's name, when the token is good.
    pub tsa: Option<String>,
    /// Set when the token is good and its TSA trusted.
    pub trusted: Option<TrustedTime>,
}

/// The timestamp of the signature of `view`, checked at `now` against the TSA roots
/// `anchors`; `None` when the signature carries none. One token at most: more are refused.
pub fn check_timestamp(
    view: &SignedDataView,
    anchors: &[Certificate],
    now: SystemTime,
) -> Option<TimestampOutcome> {
    let tokens = signature_timestamp_tokens(view);
    let fail = |detail: String| TimestampOutcome {
        check: Check::fail(CHECK, detail),
        claimed: None,
        tsa: None,
        trusted: None,
    };
    let token = match tokens.as_slice() {
        [] => return None,
        [one] => one,
        more => {
            return Some(fail(format!(
                "{} timestamp tokens: melli checks a signature with one",
                more.len()
            )))
        }
    };
    let value = view.signer_info().signature.as_bytes();
    let info = match verify_token(token, value, None, now) {
        Ok(info) => info,
        Err(e @ TokenError::OtherData { .. }) => {
            return Some(fail(format!(
                "{e}: the timestamp of another signature, not of this one"
            )))
        }
        Err(e) => return Some(fail(format!("{e}: the signature is not timestamped by it"))),
    };
    let claim = format!(
        "a timestamp of {} by the TSA \"{}\"",
        info.gen_time_text, info.tsa_name
    );
    let (check, trusted) = match trust_tsa(&info, anchors, now) {
        Ok(path) => (
            Check::pass(
                CHECK,
                format!(
                    "trusted: {claim} over this signature ({}); the signer's certificates are \
                     checked at its time",
                    path.labels().join(" <- ")
                ),
            ),
            Some(TrustedTime {
                at: info.gen_time,
                text: info.gen_time_text.clone(),
                tsa: info.tsa_name.clone(),
            }),
        ),
        Err(TrustError::NoAnchor) => (
            Check::pass(
                CHECK,
                format!(
                    "{claim} over this signature, not trusted (no TSA root given): a claim, \
                     the signer's certificates are checked now"
                ),
            ),
            None,
        ),
        Err(TrustError::Untrusted(why)) => (
            Check::pass(
                CHECK,
                format!(
                    "{claim} over this signature, not trusted ({why}): a claim, the signer's \
                     certificates are checked now"
                ),
            ),
            None,
        ),
    };
    Some(TimestampOutcome {
        check,
        claimed: Some(info.gen_time_text),
        tsa: Some(info.tsa_name),
        trusted,
    })
}
