//! A test host: the host's half of the secure channel (spec §10.2–§10.5), written here again on
//! the crates themselves, sharing nothing with the card's `secure_messaging` (nor with the
//! production host in `crate::sm`), and checked against the worked example of §10.7. The card
//! tests drive the card through it; a mistake in one of the two would show as a MAC failure.

use aes::cipher::block_padding::NoPadding;
use aes::cipher::{BlockDecryptMut, BlockEncrypt, BlockEncryptMut, KeyInit, KeyIvInit};
use aes::Aes128;
use cmac::{Cmac, Mac};
use rand_core::{OsRng, RngCore};
use sha2::{Digest, Sha256};

use super::*;
use crate::command::{decode_body, Header};

fn cmac(key: &[u8; 16], data: &[u8]) -> [u8; 16] {
    let mut mac = <Cmac<Aes128> as Mac>::new_from_slice(key).unwrap();
    mac.update(data);
    mac.finalize().into_bytes().into()
}

fn cbc(key: &[u8; 16], iv: &[u8; 16], data: &mut [u8], encrypt: bool) {
    let len = data.len();
    if encrypt {
        cbc::Encryptor::<Aes128>::new(key.into(), iv.into())
            .encrypt_padded_mut::<NoPadding>(data, len)
            .unwrap();
    } else {
        cbc::Decryptor::<Aes128>::new(key.into(), iv.into())
            .decrypt_padded_mut::<NoPadding>(data)
            .unwrap();
    }
}

fn pad(data: &[u8]) -> Vec<u8> {
    let mut out = data.to_vec();
    out.push(0x80);
    while !out.len().is_multiple_of(16) {
        out.push(0);
    }
    out
}

fn tlv(tag: u8, value: &[u8]) -> Vec<u8> {
    let mut out = vec![tag];
    match value.len() {
        n if n < 0x80 => out.push(n as u8),
        n if n < 0x100 => out.extend([0x81, n as u8]),
        n => out.extend([0x82, (n >> 8) as u8, n as u8]),
    }
    out.extend_from_slice(value);
    out
}

/// K_enc and K_mac from the master key and serial (§10.1).
pub(crate) fn static_keys(master: &[u8; 16], serial: &str) -> ([u8; 16], [u8; 16]) {
    let derive = |constant: u8| cmac(master, &[&[constant][..], serial.as_bytes()].concat());
    (derive(0x01), derive(0x02))
}

/// The host's view of an open channel.
pub(crate) struct Host {
    ks_enc: [u8; 16],
    ks_mac: [u8; 16],
    ssc: u128,
}

/// What the card answered to a protected command.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Answer {
    /// Protected: the inner data and status word (the channel is open).
    Protected(Vec<u8>, u16),
    /// A plain status word: the channel is closed (§10.6).
    Plain(u16),
}

impl Host {
    /// The session keys of §10.3 from the two key shares.
    pub(crate) fn from_shares(k_ifd: &[u8; 16], k_icc: &[u8; 16]) -> Host {
        let seed: Vec<u8> = k_ifd.iter().zip(k_icc).map(|(a, b)| a ^ b).collect();
        let kdf = |counter: u32| -> [u8; 16] {
            let digest = Sha256::new()
                .chain_update(&seed)
                .chain_update(counter.to_be_bytes())
                .finalize();
            digest[..16].try_into().unwrap()
        };
        Host {
            ks_enc: kdf(1),
            ks_mac: kdf(2),
            ssc: 0,
        }
    }

    /// GET CHALLENGE and MUTUAL AUTHENTICATE with keys derived from `master` (§10.2): the open
    /// channel, or the status word the card refused with.
    pub(crate) fn authenticate(card: &mut Card, master: &[u8; 16]) -> Result<Host, u16> {
        let (k_enc, k_mac) = static_keys(master, card.serial());
        let challenge = card.process(&hex::decode("0084000010").unwrap());
        if challenge.len() != 18 {
            // GET CHALLENGE refused: 6883 or 6700 when it lands in a pending chain of INS 84.
            return Err(u16::from_be_bytes([challenge[0], challenge[1]]));
        }
        let rnd_icc = &challenge[..16];
        let mut rnd_ifd = [0u8; 16];
        let mut k_ifd = [0u8; 16];
        OsRng.fill_bytes(&mut rnd_ifd);
        OsRng.fill_bytes(&mut k_ifd);
        let mut s = [&rnd_ifd[..], rnd_icc, &k_ifd].concat();
        cbc(&k_enc, &[0; 16], &mut s, true);
        let m_ifd = cmac(&k_mac, &s);
        let apdu = [
            &hex::decode("0082000038").unwrap(),
            &s[..],
            &m_ifd[..8],
            &[0],
        ]
        .concat();
        let response = card.process(&apdu);
        let (body, sw) = response.split_at(response.len() - 2);
        let sw = u16::from_be_bytes([sw[0], sw[1]]);
        if sw != 0x9000 {
            return Err(sw);
        }
        assert_eq!(body.len(), 56);
        assert_eq!(&cmac(&k_mac, &body[..48])[..8], &body[48..], "M_ICC");
        let mut r = body[..48].to_vec();
        cbc(&k_enc, &[0; 16], &mut r, false);
        assert_eq!(&r[..16], rnd_icc, "RND.ICC in R");
        assert_eq!(&r[16..32], &rnd_ifd, "RND.IFD in R");
        Ok(Host::from_shares(&k_ifd, r[32..48].try_into().unwrap()))
    }

    fn next_ssc(&mut self) -> [u8; 16] {
        self.ssc += 1;
        self.ssc.to_be_bytes()
    }

    fn iv(&self, ssc: &[u8; 16]) -> [u8; 16] {
        let mut block = (*ssc).into();
        Aes128::new((&self.ks_enc).into()).encrypt_block(&mut block);
        block.into()
    }

    /// Protects a plain command APDU (CLA `00`), §10.4; extended form when the objects need
    /// it or `extended` is asked for.
    pub(crate) fn wrap(&mut self, plain: &[u8], extended: bool) -> Vec<u8> {
        let (header, body) = Header::split(plain).unwrap();
        let (data, le) = decode_body(body).unwrap();
        let ssc = self.next_ssc();
        let odd = header.ins & 1 == 1;
        let mut objects = Vec::new();
        if !data.is_empty() {
            let mut c = pad(data);
            cbc(&self.ks_enc, &self.iv(&ssc), &mut c, true);
            if odd {
                objects.extend(tlv(0x85, &c));
            } else {
                objects.extend(tlv(0x87, &[&[0x01][..], &c].concat()));
            }
        }
        match le {
            Le::Absent => {}
            Le::Short(n) => objects.extend(tlv(0x97, &[n])),
            Le::Extended(n) => objects.extend(tlv(0x97, &n.to_be_bytes())),
        }
        let h = [0x0C, header.ins, header.p1, header.p2];
        let mut n = ssc.to_vec();
        n.extend(pad(&h));
        if !objects.is_empty() {
            n.extend(pad(&objects));
        }
        let mac = cmac(&self.ks_mac, &n);
        objects.extend(tlv(0x8E, &mac[..8]));
        let mut apdu = h.to_vec();
        if objects.len() > 255 || extended {
            apdu.push(0);
            apdu.extend((objects.len() as u16).to_be_bytes());
            apdu.extend(&objects);
            apdu.extend([0, 0]);
        } else {
            apdu.push(objects.len() as u8);
            apdu.extend(&objects);
            apdu.push(0);
        }
        apdu
    }

    /// Checks and opens the response to a protected command (§10.5), fetching any `61xx`
    /// remainder with plain GET RESPONSE first.
    pub(crate) fn unwrap(&mut self, card: &mut Card, response: Vec<u8>) -> Answer {
        let mut response = response;
        loop {
            let sw = &response[response.len() - 2..];
            if sw[0] != 0x61 {
                break;
            }
            let more = card.process(&[0x00, 0xC0, 0x00, 0x00, sw[1]]);
            response.truncate(response.len() - 2);
            response.extend(more);
        }
        let (body, sw) = response.split_at(response.len() - 2);
        let sw = u16::from_be_bytes([sw[0], sw[1]]);
        if body.is_empty() {
            return Answer::Plain(sw);
        }
        assert_eq!(sw, 0x9000, "outer status of a protected response");
        let ssc = self.next_ssc();
        let (cryptogram, rest) = match body[0] {
            0x87 | 0x85 => {
                let (len, skip) = match body[1] {
                    0x81 => (body[2] as usize, 3),
                    0x82 => (u16::from_be_bytes([body[2], body[3]]) as usize, 4),
                    n => (n as usize, 2),
                };
                let value = &body[skip..skip + len];
                let c = if body[0] == 0x87 {
                    assert_eq!(value[0], 0x01);
                    &value[1..]
                } else {
                    value
                };
                (Some(c.to_vec()), &body[skip + len..])
            }
            _ => (None, body),
        };
        assert_eq!(&rest[..2], &[0x99, 0x02], "DO99");
        assert_eq!(&rest[4..6], &[0x8E, 0x08], "DO8E");
        assert_eq!(rest.len(), 14);
        let inner = u16::from_be_bytes([rest[2], rest[3]]);
        let macced = &body[..body.len() - 10];
        let mac = cmac(&self.ks_mac, &[&ssc[..], &pad(macced)].concat());
        assert_eq!(&mac[..8], &rest[6..], "response MAC");
        let data = match cryptogram {
            None => Vec::new(),
            Some(mut c) => {
                cbc(&self.ks_enc, &self.iv(&ssc), &mut c, false);
                let end = c.iter().rposition(|b| *b == 0x80).unwrap();
                assert!(c[end + 1..].iter().all(|b| *b == 0));
                c.truncate(end);
                c
            }
        };
        Answer::Protected(data, inner)
    }

    /// Wraps, sends and unwraps one command written in hex.
    pub(crate) fn send(&mut self, card: &mut Card, plain: &str) -> Answer {
        let apdu = self.wrap(&hex::decode(compact(plain)).unwrap(), false);
        let response = card.process(&apdu);
        self.unwrap(card, response)
    }

    /// As [`Host::send`], expecting the inner status word `sw` (hex), or the plain one after
    /// `plain:`.
    #[track_caller]
    pub(crate) fn expect(&mut self, card: &mut Card, plain: &str, sw: &str) -> Vec<u8> {
        let answer = self.send(card, plain);
        match (sw.strip_prefix("plain:"), &answer) {
            (None, Answer::Protected(data, inner)) if format!("{inner:04X}") == sw => data.clone(),
            (Some(plain_sw), Answer::Plain(got)) if format!("{got:04X}") == plain_sw => Vec::new(),
            _ => panic!("{plain}: expected {sw}, got {answer:X?}"),
        }
    }

    /// Writes `content` to the file `fid` (hex): SELECT, ERASE, then UPDATE BINARY in chunks.
    pub(crate) fn write_file(&mut self, card: &mut Card, fid: &str, content: &[u8]) {
        self.expect(card, &format!("00A4020C02{fid}"), "9000");
        self.expect(card, "000E0000", "9000");
        for (i, chunk) in content.chunks(239).enumerate() {
            let offset = i * 239;
            let apdu = [
                &[
                    0x00,
                    0xD6,
                    (offset >> 8) as u8,
                    offset as u8,
                    chunk.len() as u8,
                ][..],
                chunk,
            ]
            .concat();
            self.expect(card, &hex::encode(apdu), "9000");
        }
    }
}
