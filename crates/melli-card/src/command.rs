//! Command APDU decoding on the card side: ISO/IEC 7816-4 §5.1, spec §4.1 (class) and §4.2
//! (lengths).
//!
//! This decoder is the card's own; it shares nothing with the host's encoder, so a bug on one
//! side cannot hide behind the same bug on the other. Decoding is split in three steps because
//! the checks on a command happen in a fixed order (§4.6): the header first (so CLA and INS can
//! be judged), then the body (Lc, data, Le).

use crate::spec::cla;

/// The four header bytes of a command APDU.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) struct Header {
    pub cla: u8,
    pub ins: u8,
    pub p1: u8,
    pub p2: u8,
}

impl Header {
    /// Splits an APDU into its header and its body (everything after P2). `None` when the APDU
    /// is shorter than the four header bytes (§4.2: answered 6700).
    pub fn split(apdu: &[u8]) -> Option<(Header, &[u8])> {
        match apdu {
            [cla, ins, p1, p2, body @ ..] => Some((
                Header {
                    cla: *cla,
                    ins: *ins,
                    p1: *p1,
                    p2: *p2,
                },
                body,
            )),
            _ => None,
        }
    }

    /// P1 and P2 read together as one big-endian number (a tag, a FID or an offset).
    pub fn p1p2(&self) -> u16 {
        u16::from_be_bytes([self.p1, self.p2])
    }
}

/// What the class byte says, for the four classes the card accepts (§4.1).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) struct Class {
    /// More commands of the same chain follow (§4.3).
    pub chaining: bool,
    /// The command is protected by secure messaging (§10).
    pub secure_messaging: bool,
}

impl Class {
    /// Decodes CLA `00`, `10`, `0C` or `1C`; any other class (proprietary classes, logical
    /// channels other than 0, other secure-messaging indications) is `None`, answered 6E00.
    pub fn decode(byte: u8) -> Option<Class> {
        let chaining = byte & cla::CHAINING != 0;
        let secure_messaging = match byte & !cla::CHAINING {
            cla::PLAIN => false,
            cla::SECURE_MESSAGING => true,
            _ => return None,
        };
        Some(Class {
            chaining,
            secure_messaging,
        })
    }
}

/// The Le field as it was encoded (§4.2, §4.4).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Le {
    /// No Le field: no response data expected (Ne = 0).
    Absent,
    /// One byte; `00` means 256.
    Short(u8),
    /// Two bytes; `0000` means 65 536.
    Extended(u16),
}

impl Le {
    /// Ne, the maximum number of response data bytes expected; `None` when Le is absent.
    pub fn ne(self) -> Option<usize> {
        match self {
            Le::Absent => None,
            Le::Short(0) => Some(256),
            Le::Short(n) => Some(usize::from(n)),
            Le::Extended(0) => Some(65_536),
            Le::Extended(n) => Some(usize::from(n)),
        }
    }

    /// True when Le names an exact count rather than "as many as possible" (`00` or `0000`).
    /// READ BINARY warns with 6282 only when an explicit count could not be met (§6.2).
    pub fn is_explicit(self) -> bool {
        matches!(self, Le::Short(n) if n != 0) || matches!(self, Le::Extended(n) if n != 0)
    }
}

/// A decoded command APDU (or a whole reassembled chain, §4.3).
#[derive(Clone, Copy, Debug)]
pub(super) struct Command<'a> {
    pub header: Header,
    pub class: Class,
    pub data: &'a [u8],
    pub le: Le,
}

impl<'a> Command<'a> {
    /// The same command with other data (the reassembled data of a chain).
    pub fn with_data<'b>(&self, data: &'b [u8]) -> Command<'b> {
        Command {
            header: self.header,
            class: self.class,
            data,
            le: self.le,
        }
    }

    pub fn p1(&self) -> u8 {
        self.header.p1
    }

    pub fn p2(&self) -> u8 {
        self.header.p2
    }

    pub fn p1p2(&self) -> u16 {
        self.header.p1p2()
    }

    /// Ne, or 0 when Le is absent (§4.4: a case 3 command gets no response data at once).
    pub fn ne(&self) -> usize {
        self.le.ne().unwrap_or(0)
    }
}

/// Decodes the body of a command APDU into its data field and Le, for the seven cases of
/// ISO/IEC 7816-4 §5.1: 1, 2S, 3S, 4S, 2E, 3E, 4E. `None` for any encoding whose length bytes
/// do not match the APDU's size (§4.2: answered 6700), including a short Lc of 0 followed by
/// more bytes and an extended Lc of 0.
pub(super) fn decode_body(body: &[u8]) -> Option<(&[u8], Le)> {
    match body {
        // Case 1.
        [] => Some((&[], Le::Absent)),
        // Case 2S (a lone 00 is Le = 256, not an Lc of 0).
        [le] => Some((&[], Le::Short(*le))),
        // Extended cases: a first body byte of 00 followed by at least two bytes.
        [0, rest @ ..] => decode_extended(rest),
        // Cases 3S and 4S.
        [lc, rest @ ..] => {
            let lc = usize::from(*lc);
            if rest.len() == lc {
                Some((rest, Le::Absent))
            } else {
                match rest.split_last() {
                    Some((le, data)) if data.len() == lc => Some((data, Le::Short(*le))),
                    _ => None,
                }
            }
        }
    }
}

/// The extended cases, given the body after its leading `00`.
fn decode_extended(rest: &[u8]) -> Option<(&[u8], Le)> {
    match rest {
        // Case 2E.
        [hi, lo] => Some((&[], Le::Extended(u16::from_be_bytes([*hi, *lo])))),
        // Cases 3E and 4E.
        [hi, lo, tail @ ..] => {
            let lc = usize::from(u16::from_be_bytes([*hi, *lo]));
            if lc == 0 {
                return None;
            }
            if tail.len() == lc {
                return Some((tail, Le::Absent));
            }
            let data = tail.get(..lc)?;
            match tail.get(lc..)? {
                [le_hi, le_lo] => Some((data, Le::Extended(u16::from_be_bytes([*le_hi, *le_lo])))),
                _ => None,
            }
        }
        // `00 xx`: neither a short nor an extended encoding.
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn body(hex: &str) -> Vec<u8> {
        hex::decode(hex).unwrap()
    }

    #[test]
    fn the_seven_cases_decode() {
        let cases: &[(&str, &[u8], Le)] = &[
            ("", &[], Le::Absent),
            ("00", &[], Le::Short(0)),
            ("10", &[], Le::Short(0x10)),
            ("02AABB", &[0xAA, 0xBB], Le::Absent),
            ("02AABB00", &[0xAA, 0xBB], Le::Short(0)),
            ("000000", &[], Le::Extended(0)),
            ("000102", &[], Le::Extended(0x0102)),
            ("000002AABB", &[0xAA, 0xBB], Le::Absent),
            ("000002AABB0100", &[0xAA, 0xBB], Le::Extended(0x0100)),
        ];
        for (hex, data, le) in cases {
            let bytes = body(hex);
            assert_eq!(decode_body(&bytes), Some((*data, *le)), "body {hex}");
        }
    }

    #[test]
    fn inconsistent_lengths_are_rejected() {
        for hex in [
            "0000",             // 00 then one byte
            "02AA",             // Lc 2, one byte
            "02AABBCCDD",       // Lc 2, three bytes after
            "00000000",         // extended Lc 0 with a byte after
            "000002AA",         // extended Lc 2, one byte
            "000002AABBCC",     // extended Lc 2, one byte after data (Le needs 2)
            "000002AABBCCDDEE", // extended Lc 2, three bytes after data
        ] {
            assert_eq!(decode_body(&body(hex)), None, "body {hex}");
        }
    }

    #[test]
    fn ne_and_explicit_le() {
        assert_eq!(Le::Absent.ne(), None);
        assert_eq!(Le::Short(0).ne(), Some(256));
        assert_eq!(Le::Extended(0).ne(), Some(65_536));
        assert_eq!(Le::Extended(7).ne(), Some(7));
        assert!(!Le::Short(0).is_explicit());
        assert!(!Le::Extended(0).is_explicit());
        assert!(Le::Short(1).is_explicit());
        assert!(Le::Extended(300).is_explicit());
        assert!(!Le::Absent.is_explicit());
    }

    #[test]
    fn only_four_classes_are_accepted() {
        let accepted: Vec<u8> = (0..=255).filter(|b| Class::decode(*b).is_some()).collect();
        assert_eq!(accepted, vec![0x00, 0x0C, 0x10, 0x1C]);
        assert_eq!(
            Class::decode(0x1C),
            Some(Class {
                chaining: true,
                secure_messaging: true
            })
        );
    }

    #[test]
    fn short_header_is_not_a_command() {
        assert!(Header::split(&[0x00, 0xA4, 0x04]).is_none());
        let (header, rest) = Header::split(&[0x00, 0xB0, 0x81, 0x02]).unwrap();
        assert_eq!(header.p1p2(), 0x8102);
        assert!(rest.is_empty());
    }
}
