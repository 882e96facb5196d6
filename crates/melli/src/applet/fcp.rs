//! File control parameters (FCP template `62`, ISO/IEC 7816-4 §7.4.3) as the card returns them
//! on SELECT, and the `53` wrapper of odd-INS READ BINARY answers.

use iso7816_tlv::ber::{Tag, Tlv, Value};

use crate::spec;

/// What SELECT tells about an elementary file (§6.1).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileControl {
    /// Bytes the file holds now (tag `80`).
    pub length: usize,
    /// Most bytes the file can hold (tag `81`), when given.
    pub max_size: Option<usize>,
    /// File identifier (tag `83`), when given.
    pub fid: Option<u16>,
    /// Life cycle status byte (tag `8A`), when given.
    pub lifecycle: Option<u8>,
}

fn tag(byte: u8) -> Result<Tag, String> {
    Tag::try_from(byte).map_err(|e| format!("tag {byte:02X}: {e}"))
}

fn number(bytes: &[u8]) -> Result<usize, String> {
    if bytes.is_empty() || bytes.len() > 4 {
        return Err(format!("a length of {} bytes", bytes.len()));
    }
    Ok(bytes.iter().fold(0usize, |n, b| (n << 8) | usize::from(*b)))
}

/// The value of the direct child `wanted` of a constructed TLV.
pub(super) fn child<'a>(parent: &'a Tlv, wanted: &Tag) -> Option<&'a [u8]> {
    match parent.value() {
        Value::Constructed(children) => children.iter().find_map(|c| match c.value() {
            Value::Primitive(v) if c.tag() == wanted => Some(v.as_slice()),
            _ => None,
        }),
        Value::Primitive(_) => None,
    }
}

impl FileControl {
    /// Parses an FCP template. Unknown tags are skipped; tag `80` is required.
    pub fn parse(bytes: &[u8]) -> Result<FileControl, String> {
        let fcp = Tlv::from_bytes(bytes).map_err(|e| format!("not one BER-TLV object: {e}"))?;
        if *fcp.tag() != tag(spec::tag::FCP)? {
            return Err(format!("template tag is not {:02X}", spec::tag::FCP));
        }
        let length = child(&fcp, &tag(0x80)?).ok_or("no file length (tag 80)")?;
        let max_size = child(&fcp, &tag(0x81)?).map(number).transpose()?;
        let fid = match child(&fcp, &tag(0x83)?) {
            Some([hi, lo]) => Some(u16::from_be_bytes([*hi, *lo])),
            Some(other) => return Err(format!("file identifier of {} bytes", other.len())),
            None => None,
        };
        let lifecycle = match child(&fcp, &tag(0x8A)?) {
            Some([lcs]) => Some(*lcs),
            Some(other) => return Err(format!("life cycle status of {} bytes", other.len())),
            None => None,
        };
        Ok(FileControl {
            length: number(length)?,
            max_size,
            fid,
            lifecycle,
        })
    }
}

/// The file bytes inside the `53` data object of an odd-INS READ BINARY answer (§6.2).
pub fn unwrap_discretionary(bytes: &[u8]) -> Result<Vec<u8>, String> {
    let (tlv, rest) = Tlv::parse(bytes);
    let tlv = tlv.map_err(|e| format!("not BER-TLV: {e}"))?;
    if !rest.is_empty() || *tlv.tag() != tag(spec::tag::DISCRETIONARY)? {
        return Err(format!(
            "not one {:02X} data object",
            spec::tag::DISCRETIONARY
        ));
    }
    match tlv.value() {
        Value::Primitive(value) => Ok(value.clone()),
        Value::Constructed(_) => Err("53 is constructed".to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_an_ef_fcp() {
        let fcp = hex::decode("6215800204008102500082010183020102880102 8A0105".replace(' ', ""))
            .expect("hex");
        let fc = FileControl::parse(&fcp).expect("fcp");
        assert_eq!(fc.length, 0x0400);
        assert_eq!(fc.max_size, Some(0x5000));
        assert_eq!(fc.fid, Some(0x0102));
        assert_eq!(fc.lifecycle, Some(5));
    }

    #[test]
    fn refuses_malformed_fcp() {
        assert!(FileControl::parse(&[]).is_err());
        assert!(FileControl::parse(&[0x62, 0x03, 0x83, 0x01, 0x01]).is_err());
        assert!(FileControl::parse(&[0x6F, 0x04, 0x80, 0x02, 0x00, 0x01]).is_err());
        assert!(FileControl::parse(&[0x62, 0x09, 0x80, 0x02, 0x00]).is_err());
        assert!(FileControl::parse(&[0x62, 0x07, 0x80, 0x05, 1, 2, 3, 4, 5]).is_err());
    }

    #[test]
    fn unwraps_53() {
        assert_eq!(
            unwrap_discretionary(&[0x53, 0x02, 0xAA, 0xBB]),
            Ok(vec![0xAA, 0xBB])
        );
        let long: Vec<u8> = [&[0x53, 0x82, 0x01, 0x00][..], &[7u8; 256][..]].concat();
        assert_eq!(unwrap_discretionary(&long).map(|v| v.len()), Ok(256));
        assert!(unwrap_discretionary(&[0x54, 0x01, 0x00]).is_err());
        assert!(unwrap_discretionary(&[0x53, 0x05, 0x00]).is_err());
    }
}
