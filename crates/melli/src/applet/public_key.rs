//! The public key data object `7F49 { 86 point }` (ISO/IEC 7816-8) that GENERATE ASYMMETRIC
//! KEY PAIR returns (§6.11).

use iso7816_tlv::ber::{Tag, Tlv};

use super::personalization::PublicPoint;
use super::AppletError;
use crate::spec;

pub fn parse_public_key(bytes: &[u8]) -> Result<PublicPoint, AppletError> {
    let bad = |detail: &str| AppletError::Malformed {
        what: "public key",
        detail: detail.to_string(),
    };
    let outer = Tlv::from_bytes(bytes).map_err(|_| bad("not one BER-TLV object"))?;
    let expected_outer = Tag::try_from(spec::tag::PUBLIC_KEY).map_err(|_| bad("tag 7F49"))?;
    if *outer.tag() != expected_outer {
        return Err(bad("not a 7F49 object"));
    }
    let point_tag = Tag::try_from(spec::tag::EC_POINT).map_err(|_| bad("tag 86"))?;
    let point = super::fcp::child(&outer, &point_tag).ok_or_else(|| bad("no EC point (86)"))?;
    let point: PublicPoint = point
        .try_into()
        .map_err(|_| bad("EC point is not 65 bytes"))?;
    if point[0] != 0x04 {
        return Err(bad("EC point is not uncompressed"));
    }
    // Reject points not on the curve now, before anything is certified.
    p256::PublicKey::from_sec1_bytes(&point).map_err(|_| bad("EC point is not on P-256"))?;
    Ok(point)
}
