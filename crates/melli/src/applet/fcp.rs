//! File control parameters (FCP template `62`, ISO/IEC 7816-4 §7.4.3) as the card returns them
//! on SELECT, and the `53` wrapper of odd-INS READ BINARY answers.

use iso7816_tlv::ber::{Tag, Tlv, Value};

use super::Lifecycle;
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

/// What SELECT of the application by its AID tells (§6.1): its lifecycle and, on a card of
/// version 1.1, its serial.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApplicationControl {
    /// The application's life cycle status (tag `8A`, §7), as it was when the card answered.
    pub lifecycle: Lifecycle,
    /// The card serial (tag `85`, proprietary information), exactly as GET DATA `DF01` gives
    /// it: a 1.1 card puts it in its FCP, a 1.0 card does not (`None`).
    pub serial: Option<String>,
}

/// The value of the one direct child `wanted` of a constructed TLV: `None` when absent, an
/// error when it appears more than once (two serials would leave the host to pick one).
fn only_child(parent: &Tlv, wanted: u8) -> Result<Option<&[u8]>, String> {
    let wanted_tag = tag(wanted)?;
    let Value::Constructed(children) = parent.value() else {
        return Err("the template is not constructed".to_string());
    };
    let mut found = children.iter().filter(|c| *c.tag() == wanted_tag);
    let first = found.next();
    if found.next().is_some() {
        return Err(format!("tag {wanted:02X} appears more than once"));
    }
    match first.map(Tlv::value) {
        None => Ok(None),
        Some(Value::Primitive(v)) => Ok(Some(v.as_slice())),
        Some(Value::Constructed(_)) => Err(format!("tag {wanted:02X} is constructed")),
    }
}

impl ApplicationControl {
    /// Parses the application's FCP template: `62 { 82 01 38; 84 AID; [85 serial;] 8A LCS }`.
    /// Unknown tags are skipped; `8A` is required, `84`, when present, must be the AID, and
    /// a serial must be what `DF01` may hold (1–16 characters `0-9`, `A-Z`).
    pub fn parse(bytes: &[u8]) -> Result<ApplicationControl, String> {
        let fcp = Tlv::from_bytes(bytes).map_err(|e| format!("not one BER-TLV object: {e}"))?;
        if *fcp.tag() != tag(spec::tag::FCP)? {
            return Err(format!("template tag is not {:02X}", spec::tag::FCP));
        }
        if let Some(name) = only_child(&fcp, 0x84)? {
            if name != spec::AID {
                return Err(format!(
                    "DF name {} is not the melli AID",
                    hex::encode_upper(name)
                ));
            }
        }
        let lifecycle = match only_child(&fcp, 0x8A)? {
            Some([byte]) => Lifecycle::try_from(*byte)
                .map_err(|b| format!("unknown life cycle status {b:02X}"))?,
            Some(other) => return Err(format!("life cycle status of {} bytes", other.len())),
            None => return Err("no life cycle status (tag 8A)".to_string()),
        };
        let serial = only_child(&fcp, spec::tag::FCP_SERIAL)?
            .map(|raw| {
                super::valid_serial(raw).ok_or_else(|| {
                    format!(
                        "serial (tag 85) of {} bytes: {}",
                        raw.len(),
                        hex::encode_upper(raw)
                    )
                })
            })
            .transpose()?;
        Ok(ApplicationControl { lifecycle, serial })
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

    /// The FCP of a 1.1 card as §6.1 shows it: "MELLI0000000001", OPERATIONAL.
    const FCP_1_1: &str =
        "6220 820138 8407F04D454C4C4901 850F4D454C4C4930303030303030303031 8A0105";

    fn fcp(text: &str) -> Vec<u8> {
        hex::decode(text.replace(' ', "")).expect("hex")
    }

    #[test]
    fn parses_the_application_fcp() {
        let control = ApplicationControl::parse(&fcp(FCP_1_1)).expect("1.1 FCP");
        assert_eq!(control.lifecycle, Lifecycle::Operational);
        assert_eq!(control.serial.as_deref(), Some("MELLI0000000001"));
        // A 1.0 card: no serial.
        let control = ApplicationControl::parse(&fcp("620F 820138 8407F04D454C4C4901 8A0101"))
            .expect("1.0 FCP");
        assert_eq!(control.lifecycle, Lifecycle::Blank);
        assert_eq!(control.serial, None);
        // Unknown tags are skipped, the order does not matter.
        let control = ApplicationControl::parse(&fcp("620B 8A010C 8503414243 C60100"))
            .expect("reordered FCP");
        assert_eq!(control.lifecycle, Lifecycle::Terminated);
        assert_eq!(control.serial.as_deref(), Some("ABC"));
    }

    #[test]
    fn refuses_a_hostile_application_fcp() {
        for (bad, why) in [
            // A lower-case letter, a control character, 17 characters, none at all.
            ("6208 8503616263 8A0105", "serial"),
            ("6208 85034D1B4D 8A0105", "serial"),
            (
                "6216 85114D454C4C49303030303030303030303030 8A0105",
                "serial",
            ),
            ("6205 8500 8A0105", "serial"),
            ("6209 850141 850142 8A0105", "more than once"),
            ("6206 850141 820138", "no life cycle"),
            ("6203 8A0142", "life cycle status 42"),
            ("620C 8407F04D454C4C4902 8A0105", "not the melli AID"),
            ("6F03 8A0105", "template tag"),
            ("6205 8A0105", "BER-TLV"),
            ("", "BER-TLV"),
        ] {
            let error = ApplicationControl::parse(&fcp(bad)).expect_err(bad);
            assert!(error.contains(why), "{bad}: {error}");
        }
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
