//! Secure messaging on the card side (spec §10.3–§10.6): the session keys and send sequence
//! counter of an open channel, the unwrapping of a protected command and the protection of its
//! response.
//!
//! This is the card's own implementation of §10; it shares no code with the host's, so that
//! the interop tests judge two readings of the specification.
//!
//! - **Command** (§10.4, §10.6 rows 3–5): the data field must be `[87|85] [97] 8E` in that
//!   order and nothing else (6987); SSC + 1; the MAC over SSC ‖ pad(header `0C INS P1 P2`) ‖
//!   pad(the objects before `8E`) must match in constant time (6988); the cryptogram is
//!   decrypted with IV = AES(KS_enc, SSC) and its padding must be `80 00…` (6988).
//! - **Response** (§10.5): SSC + 1; `[87|85] ‖ 99 02 SW ‖ 8E 08 MAC`, the MAC over SSC ‖
//!   pad(the objects before `8E`).

use std::fmt;

use zeroize::Zeroizing;

use super::command::{Class, Command, Header, Le};
use super::crypto::{self, BLOCK};
use super::keys::AesKey;
use super::response::Status;
use super::tlv;
use crate::spec::secure_channel::{KDF_ENC, KDF_MAC, KEY_LEN, MAC_LEN, NONCE_LEN};
use crate::spec::{cla, tag};

/// The padding-content indicator that starts DO87: ISO/IEC 9797-1 padding method 2 (§10.4).
const PADDING_INDICATOR: u8 = 0x01;

/// An open secure channel (§8.4: session state, RAM only): KS_enc, KS_mac and the SSC. The
/// keys are wiped when the channel is dropped, that is, whenever it closes.
pub(super) struct Channel {
    ks_enc: AesKey,
    ks_mac: AesKey,
    /// The send sequence counter, a 16-byte big-endian number (§10.3).
    ssc: u128,
}

impl fmt::Debug for Channel {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Channel")
            .field("keys", &"REDACTED")
            .field("ssc", &self.ssc)
            .finish()
    }
}

/// KS = SHA-256(K_seed ‖ counter as 4 bytes big-endian)[0..16] (§10.3, ICAO 9303-11 §9.7.1).
fn session_key(seed: &[u8; KEY_LEN], counter: u32) -> AesKey {
    let digest = Zeroizing::new(crypto::sha256(&[seed, &counter.to_be_bytes()]));
    let mut key = Zeroizing::new([0u8; KEY_LEN]);
    for (out, byte) in key.iter_mut().zip(digest.iter()) {
        *out = *byte;
    }
    key
}

impl Channel {
    /// Opens a channel from the two key shares of MUTUAL AUTHENTICATE (§10.3): K_seed = K.IFD
    /// ⊕ K.ICC, the two session keys, and SSC = 0.
    pub fn derive(k_ifd: &[u8; NONCE_LEN], k_icc: &[u8; NONCE_LEN]) -> Channel {
        let mut seed = Zeroizing::new([0u8; KEY_LEN]);
        for ((out, a), b) in seed.iter_mut().zip(k_ifd).zip(k_icc) {
            *out = a ^ b;
        }
        Channel {
            ks_enc: session_key(&seed, KDF_ENC),
            ks_mac: session_key(&seed, KDF_MAC),
            ssc: 0,
        }
    }

    /// The session keys, for the test that no response ever contains them.
    #[cfg(test)]
    pub fn keys(&self) -> [[u8; KEY_LEN]; 2] {
        [*self.ks_enc, *self.ks_mac]
    }

    /// SSC + 1, before each command and each response (§10.3). The counter cannot run out in
    /// practice; if it did, the channel would be unusable (6988).
    fn next_ssc(&mut self) -> Result<[u8; BLOCK], Status> {
        self.ssc = self.ssc.checked_add(1).ok_or(Status::SM_DATA_INCORRECT)?;
        Ok(self.ssc.to_be_bytes())
    }

    /// IV = AES-ECB(KS_enc, SSC) (§10.4 step 3).
    fn iv(&self, ssc: &[u8; BLOCK]) -> [u8; BLOCK] {
        crypto::encrypt_block(&self.ks_enc, ssc)
    }

    /// Unwraps a protected command (§10.6 rows 3 to 5): 6987 for malformed SM data objects,
    /// 6988 for a wrong MAC (a replayed or reordered command included) or wrong padding. The
    /// caller closes the channel on any error.
    pub fn unwrap_command<'c>(&mut self, command: &Command<'c>) -> Result<Unwrapped<'c>, Status> {
        let objects = SmObjects::parse(command.data, command.header.ins)?;
        let ssc = self.next_ssc()?;
        let Header { ins, p1, p2, .. } = command.header;
        let header = crypto::pad(&[cla::SECURE_MESSAGING, ins, p1, p2]);
        let mac_right = if objects.macced.is_empty() {
            crypto::cmac_matches(&self.ks_mac, &[&ssc, &header], objects.mac)
        } else {
            let macced = crypto::pad(objects.macced);
            crypto::cmac_matches(&self.ks_mac, &[&ssc, &header, &macced], objects.mac)
        };
        if !mac_right {
            return Err(Status::SM_DATA_INCORRECT);
        }
        let data = match objects.cryptogram {
            None => Zeroizing::new(Vec::new()),
            Some(cryptogram) => {
                let mut buffer = Zeroizing::new(cryptogram.to_vec());
                crypto::cbc_decrypt(&self.ks_enc, &self.iv(&ssc), &mut buffer)
                    .map_err(|_| Status::SM_DATA_INCORRECT)?;
                let plain = crypto::unpad(&buffer).ok_or(Status::SM_DATA_INCORRECT)?;
                Zeroizing::new(plain.to_vec())
            }
        };
        Ok(Unwrapped {
            header: command.header,
            class: command.class,
            data: Data::Deciphered(data),
            le: objects.le.unwrap_or(Le::Absent),
        })
    }

    /// Protects the response of an unwrapped command (§10.5): `data` (possibly none) in DO87,
    /// or DO85 for an odd INS, the status word in DO99, then DO8E. The result is the whole
    /// response data field; its outer status word is `9000`.
    pub fn wrap_response(
        &mut self,
        ins: u8,
        data: &[u8],
        status: Status,
    ) -> Result<Vec<u8>, Status> {
        let ssc = self.next_ssc()?;
        let mut objects = Vec::new();
        if !data.is_empty() {
            let mut cryptogram = crypto::pad(data);
            crypto::cbc_encrypt(&self.ks_enc, &self.iv(&ssc), &mut cryptogram)
                .map_err(|_| Status::NO_PRECISE_DIAGNOSIS)?;
            if is_odd(ins) {
                tlv::push(&mut objects, tag::SM_CRYPTOGRAM_ODD.into(), &cryptogram);
            } else {
                let mut value = Vec::with_capacity(cryptogram.len().saturating_add(1));
                value.push(PADDING_INDICATOR);
                value.extend_from_slice(&cryptogram);
                tlv::push(&mut objects, tag::SM_CRYPTOGRAM.into(), &value);
            }
        }
        tlv::push(&mut objects, tag::SM_STATUS.into(), &status.0.to_be_bytes());
        let mac = crypto::cmac(&self.ks_mac, &[&ssc, &crypto::pad(&objects)]);
        tlv::push(
            &mut objects,
            tag::SM_MAC.into(),
            mac.get(..MAC_LEN).unwrap_or_default(),
        );
        Ok(objects)
    }
}

fn is_odd(ins: u8) -> bool {
    ins & 0x01 == 0x01
}

/// A command as its handler sees it after step 6 of §4.6: the plain command itself, or the
/// unwrapped form of a protected one (plaintext data, Le from DO97).
pub(super) struct Unwrapped<'c> {
    header: Header,
    class: Class,
    data: Data<'c>,
    le: Le,
}

enum Data<'c> {
    /// The data field as it arrived (a plain command).
    Sent(&'c [u8]),
    /// The decrypted cryptogram of a protected command, wiped when dropped.
    Deciphered(Zeroizing<Vec<u8>>),
}

impl<'c> Unwrapped<'c> {
    /// A plain command, which needs no unwrapping.
    pub fn plain(command: &Command<'c>) -> Unwrapped<'c> {
        Unwrapped {
            header: command.header,
            class: command.class,
            data: Data::Sent(command.data),
            le: command.le,
        }
    }

    /// The command to carry out.
    pub fn command(&self) -> Command<'_> {
        let data = match &self.data {
            Data::Sent(data) => data,
            Data::Deciphered(data) => data.as_slice(),
        };
        Command {
            header: self.header,
            class: self.class,
            data,
            le: self.le,
        }
    }
}

/// The secure messaging data objects of a protected command (§10.4 step 7).
struct SmObjects<'a> {
    /// The cryptogram of DO87 (without its padding-content indicator) or DO85.
    cryptogram: Option<&'a [u8]>,
    /// DO97.
    le: Option<Le>,
    /// The bytes the MAC covers: every object before DO8E.
    macced: &'a [u8],
    /// DO8E's value.
    mac: &'a [u8],
}

impl<'a> SmObjects<'a> {
    /// Parses `[87 | 85] [97] 8E` exactly (§10.6 row 3), else 6987: DO87 only on an even INS,
    /// starting with `01`; DO85 only on an odd INS; a non-empty cryptogram of whole blocks;
    /// DO97 of 1 or 2 bytes; DO8E of 8 bytes, last; nothing unknown, repeated or after it.
    fn parse(data: &'a [u8], ins: u8) -> Result<SmObjects<'a>, Status> {
        let malformed = Status::SM_DATA_MISSING;
        let mut next = data;
        let mut object = read_object(next).ok_or(malformed)?;

        let mut cryptogram = None;
        let cryptogram_tag = if is_odd(ins) {
            tag::SM_CRYPTOGRAM_ODD
        } else {
            tag::SM_CRYPTOGRAM
        };
        if object.tag == cryptogram_tag {
            let blocks = if is_odd(ins) {
                object.value
            } else {
                match object.value.split_first() {
                    Some((&PADDING_INDICATOR, blocks)) => blocks,
                    _ => return Err(malformed),
                }
            };
            if blocks.is_empty() || blocks.len() % BLOCK != 0 {
                return Err(malformed);
            }
            cryptogram = Some(blocks);
            next = object.rest;
            object = read_object(next).ok_or(malformed)?;
        }

        let mut le = None;
        if object.tag == tag::SM_LE {
            le = Some(match *object.value {
                [short] => Le::Short(short),
                [high, low] => Le::Extended(u16::from_be_bytes([high, low])),
                _ => return Err(malformed),
            });
            next = object.rest;
            object = read_object(next).ok_or(malformed)?;
        }

        if object.tag != tag::SM_MAC || object.value.len() != MAC_LEN || !object.rest.is_empty() {
            return Err(malformed);
        }
        let macced_len = data.len().saturating_sub(next.len());
        Ok(SmObjects {
            cryptogram,
            le,
            macced: data.get(..macced_len).ok_or(malformed)?,
            mac: object.value,
        })
    }
}

/// One data object: its (first) tag byte, its value, and what follows it.
struct Object<'a> {
    tag: u8,
    value: &'a [u8],
    rest: &'a [u8],
}

/// Reads one data object with a definite length in its shortest form, 1 to 3 bytes (spec
/// README, Conventions). A two-byte tag is read as its first byte, which is no SM tag.
fn read_object(data: &[u8]) -> Option<Object<'_>> {
    let (&tag, rest) = data.split_first()?;
    let (&first, rest) = rest.split_first()?;
    let (length, rest) = match first {
        0x00..=0x7F => (usize::from(first), rest),
        0x81 => match rest {
            [length @ 0x80..=0xFF, rest @ ..] => (usize::from(*length), rest),
            _ => return None,
        },
        0x82 => match rest {
            [high, low, rest @ ..] if *high != 0 => {
                (usize::from(u16::from_be_bytes([*high, *low])), rest)
            }
            _ => return None,
        },
        _ => return None,
    };
    Some(Object {
        tag,
        value: rest.get(..length)?,
        rest: rest.get(length..)?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn h(text: &str) -> Vec<u8> {
        hex::decode(text.split_whitespace().collect::<String>()).unwrap()
    }

    fn key(text: &str) -> [u8; 16] {
        h(text).try_into().unwrap()
    }

    /// §10.7: the session keys of the worked example.
    fn example_channel() -> Channel {
        Channel::derive(
            &key("0B 79 52 40 CB 70 49 B0 1C 19 B3 3E 32 80 4F 0B"),
            &key("0B 4F 80 32 3E B3 19 1C B0 49 70 CB 40 52 79 0B"),
        )
    }

    fn protected(apdu: &[u8]) -> (Header, Vec<u8>, Le) {
        let (header, body) = Header::split(apdu).unwrap();
        let (data, le) = super::super::command::decode_body(body).unwrap();
        (header, data.to_vec(), le)
    }

    fn unwrap(channel: &mut Channel, apdu: &str) -> Result<(Vec<u8>, Le), Status> {
        let bytes = h(apdu);
        let (header, data, le) = protected(&bytes);
        let command = Command {
            header,
            class: Class::decode(header.cla).unwrap(),
            data: &data,
            le,
        };
        channel
            .unwrap_command(&command)
            .map(|u| (u.command().data.to_vec(), u.command().le))
    }

    #[test]
    fn session_keys_of_the_worked_example() {
        let channel = example_channel();
        assert_eq!(
            *channel.ks_enc,
            key("2C 0D 95 41 B9 3A 77 A7 29 18 12 AA 85 C3 8F E5")
        );
        assert_eq!(
            *channel.ks_mac,
            key("26 59 4B 2A 91 80 34 45 01 E0 DA 10 F8 4D B6 5E")
        );
        assert_eq!(channel.ssc, 0);
        assert!(!format!("{channel:?}").contains("2C"));
    }

    /// §10.7 commands 1 to 3 and the replay, at the level of this module.
    #[test]
    fn the_worked_example_unwraps_and_wraps() {
        let mut channel = example_channel();
        let select = "0C A4 02 0C 1D 87 11 01 4E 2D 87 DD 7F F8 63 59 D8 C0 4D C7 8B 4F E6 1C
                      8E 08 06 04 66 FA 44 C7 3D AA 00";
        assert_eq!(unwrap(&mut channel, select), Ok((h("01 01"), Le::Absent)));
        assert_eq!(
            channel.wrap_response(0xA4, &[], Status::OK).unwrap(),
            h("99 02 90 00 8E 08 B9 38 D4 98 58 FD A7 1F")
        );

        let update = "0C D6 00 00 2D 87 21 01 CA 14 C9 68 EE C8 43 F2 86 0D B8 F8 37 E3 CE 0B
                      E9 27 A0 3F 98 38 56 6C C5 00 B9 16 F0 F4 4B F3 8E 08 56 4E E7 48 76 5C
                      15 BA 00";
        assert_eq!(
            unwrap(&mut channel, update),
            Ok((
                h("E1 81 9C DF 00 01 01 DF 01 0A 30 34 39 39 33 37"),
                Le::Absent
            ))
        );
        assert_eq!(
            channel.wrap_response(0xD6, &[], Status::OK).unwrap(),
            h("99 02 90 00 8E 08 8E EE 27 81 09 AF C2 5D")
        );

        let read = "0C B0 00 00 0D 97 01 08 8E 08 4C C6 43 20 E4 26 18 4F 00";
        assert_eq!(unwrap(&mut channel, read), Ok((vec![], Le::Short(8))));
        assert_eq!(
            channel
                .wrap_response(0xB0, &h("E1 81 9C DF 00 01 01 DF"), Status::OK)
                .unwrap(),
            h(
                "87 11 01 19 CF 54 41 20 76 FA 96 88 73 05 CD A7 29 76 5E 99 02 90 00
               8E 08 AF F2 14 62 63 8C 7E 83"
            )
        );

        // The replay: SSC 7 no longer matches the MAC made with SSC 5.
        assert_eq!(unwrap(&mut channel, read), Err(Status::SM_DATA_INCORRECT));
    }

    #[test]
    fn malformed_objects_are_6987() {
        let mac = "8E08 0102030405060708";
        let block = "00".repeat(16);
        for (ins, data) in [
            (0xB0, String::new()),                             // no data field at all
            (0xB0, "8E07 01020304050607".into()),              // MAC of 7 bytes
            (0xB0, format!("{mac} 00")),                       // something after 8E
            (0xB0, "970100".into()),                           // no 8E
            (0xB0, format!("970100 970100 {mac}")),            // 97 twice
            (0xB0, format!("9703000000 {mac}")),               // 97 of 3 bytes
            (0xB0, format!("9700 {mac}")),                     // 97 empty
            (0xB0, format!("{mac} 970100")),                   // wrong order
            (0xB0, format!("970100 8711 01{block} {mac}")),    // wrong order
            (0xD6, format!("8711 02{block} {mac}")),           // indicator not 01
            (0xD6, format!("8701 01 {mac}")),                  // empty cryptogram
            (0xD6, format!("8709 0100000000000000 00 {mac}")), // not whole blocks
            (0xD6, format!("8510 {block} {mac}")),             // 85 on an even INS
            (0xD7, format!("8711 01{block} {mac}")),           // 87 on an odd INS
            (0xD6, format!("8100 {mac}")),                     // unknown tag
            (0xD6, format!("5F2000 {mac}")),                   // two-byte tag
            (0xD6, format!("8781 1101{block} {mac}")),         // non-minimal length
            (0xD6, format!("8783 000011 01{block} {mac}")),    // four-byte length
            (0xD6, format!("8780 {mac}")),                     // indefinite length
            (0xD6, "8E0801020304".into()),                     // truncated
        ] {
            let bytes = h(&data);
            assert!(
                matches!(SmObjects::parse(&bytes, ins), Err(Status::SM_DATA_MISSING)),
                "{ins:02X} {data}"
            );
        }
        let bytes = h(&format!("8711 01{block} 970200FF {mac}"));
        let objects = SmObjects::parse(&bytes, 0xD6).unwrap();
        assert_eq!(objects.cryptogram.map(<[u8]>::len), Some(16));
        assert_eq!(objects.le, Some(Le::Extended(0xFF)));
        assert_eq!(objects.macced.len(), 19 + 4);
        let bytes = h(&format!("8510 {block} {mac}"));
        assert!(SmObjects::parse(&bytes, 0xB1).is_ok());
    }

    #[test]
    fn wrong_padding_is_6988() {
        let mut sender = example_channel();
        let mut card = example_channel();
        // A well-MACed cryptogram whose plaintext does not end in 80 00…: the block of zeros.
        let ssc = sender.next_ssc().unwrap();
        let mut cryptogram = vec![0u8; 16];
        crypto::cbc_encrypt(&sender.ks_enc, &sender.iv(&ssc), &mut cryptogram).unwrap();
        let mut objects = vec![0x87, 0x11, 0x01];
        objects.extend(&cryptogram);
        let header = crypto::pad(&[0x0C, 0xD6, 0x00, 0x00]);
        let mac = crypto::cmac(&sender.ks_mac, &[&ssc, &header, &crypto::pad(&objects)]);
        objects.extend([0x8E, 0x08]);
        objects.extend(&mac[..8]);
        let command = Command {
            header: Header {
                cla: 0x0C,
                ins: 0xD6,
                p1: 0,
                p2: 0,
            },
            class: Class::decode(0x0C).unwrap(),
            data: &objects,
            le: Le::Short(0),
        };
        assert!(matches!(
            card.unwrap_command(&command),
            Err(Status::SM_DATA_INCORRECT)
        ));
    }

    #[test]
    fn odd_instructions_answer_in_do85() {
        let mut channel = example_channel();
        let wrapped = channel
            .wrap_response(0xB1, &[1, 2, 3], Status(0x6282))
            .unwrap();
        assert_eq!(&wrapped[..2], &[0x85, 0x10]);
        assert_eq!(&wrapped[18..22], &[0x99, 0x02, 0x62, 0x82]);
        assert_eq!(wrapped.len(), 18 + 4 + 10);
    }
}
