//! Checking a protected response's data objects: `[87
//! 85] 99 8E` and nothing else (§10.5).

use super::{SmError, BLOCK};
use crate::spec::{secure_channel as sc, tag};
use iso7816_tlv::ber::{Tlv, Value};

/// The data objects of a protected response, taken apart in the only layout §10.5 allows.
pub(super) struct ResponseObjects<'a> {
    /// The cryptogram of `87` (without its padding indicator) or `85`, if there are data.
    pub(super) cryptogram: Option<&'a [u8]>,
    /// The value of `99`.
    pub(super) status: &'a [u8],
    /// The value of `8E`.
    pub(super) mac: &'a [u8],
    /// The bytes the MAC covers: every object before `8E`.
    pub(super) covered: &'a [u8],
}

impl<'a> ResponseObjects<'a> {
    /// `[87|85] 99 8E` and nothing else: each at most once, in this order, nothing after `8E`.
    pub(super) fn split(data: &'a [u8]) -> Result<ResponseObjects<'a>, SmError> {
        let objects = parse_objects(data)?;
        let mut objects = objects.iter().peekable();
        let cryptogram = match objects.peek() {
            Some(o) if o.tag == tag::SM_CRYPTOGRAM || o.tag == tag::SM_CRYPTOGRAM_ODD => {
                let o = objects
                    .next()
                    .ok_or(SmError::MalformedResponse("cryptogram"))?;
                let cryptogram = if o.tag == tag::SM_CRYPTOGRAM {
                    match o.value.split_first() {
                        Some((0x01, c)) => c,
                        _ => {
                            return Err(SmError::MalformedResponse(
                                "87 without padding indicator 01",
                            ))
                        }
                    }
                } else {
                    o.value
                };
                if cryptogram.is_empty() || cryptogram.len() % BLOCK != 0 {
                    return Err(SmError::MalformedResponse("cryptogram is not whole blocks"));
                }
                Some(cryptogram)
            }
            _ => None,
        };
        let status = match objects.next() {
            Some(o) if o.tag == tag::SM_STATUS => o.value,
            _ => return Err(SmError::MalformedResponse(
                "the objects are not [87|85] 99 8E in this order (no status 99 where it belongs)",
            )),
        };
        let (mac_at, mac) =
            match objects.next() {
                Some(o) if o.tag == tag::SM_MAC => (o.start, o.value),
                _ => return Err(SmError::MalformedResponse(
                    "the objects are not [87|85] 99 8E in this order (no MAC 8E after the status)",
                )),
            };
        if objects.next().is_some() {
            return Err(SmError::MalformedResponse("data after the MAC (8E)"));
        }
        if mac.len() != sc::MAC_LEN {
            return Err(SmError::MalformedResponse("MAC (8E) is not eight bytes"));
        }
        Ok(ResponseObjects {
            cryptogram,
            status,
            mac,
            covered: &data[..mac_at],
        })
    }
}

/// One secure-messaging data object found in a response.
struct Object<'a> {
    tag: u8,
    start: usize,
    value: &'a [u8],
}

/// Splits a response's data into single-byte-tag data objects; bytes that do not make a whole
/// object are an error.
fn parse_objects(data: &[u8]) -> Result<Vec<Object<'_>>, SmError> {
    let bad = || SmError::MalformedResponse("data objects do not parse");
    let mut out = Vec::new();
    let mut rest = data;
    while !rest.is_empty() {
        let start = data.len() - rest.len();
        let (parsed, after) = Tlv::parse(rest);
        let object = parsed.map_err(|_| bad())?;
        // Secure messaging uses single-byte primitive tags only (§10.5).
        let (tag, len) = match (object.tag().to_bytes(), object.value()) {
            ([tag], Value::Primitive(value)) => (*tag, value.len()),
            _ => return Err(bad()),
        };
        let whole = rest.len() - after.len();
        let value = rest.get(whole - len..whole).ok_or_else(bad)?;
        out.push(Object { tag, start, value });
        rest = after;
    }
    Ok(out)
}
