//! The personalization secure channel, host side (applets-spec §10): per-card key
//! diversification, mutual authentication, session keys, and ISO/IEC 7816-4 secure messaging
//! with AES as ICAO 9303-11 §9.8 constructs it (AES-CBC encryption, AES-CMAC, send sequence
//! counter).
//!
//! The card side implements the same specification in `card::` on its own; the two share no
//! code, only the constants of `spec`.

use std::fmt;

use aes::cipher::block_padding::NoPadding;
use aes::cipher::{BlockDecryptMut, BlockEncrypt, BlockEncryptMut, KeyInit, KeyIvInit};
use aes::Aes128;
use cmac::{Cmac, Mac};
use sha2::{Digest, Sha256};
use zeroize::{Zeroize, Zeroizing};

use iso7816_tlv::ber::{Tlv, Value};

use crate::apdu::{push_ber_len, Command, Response, StatusWord, EXTENDED_MAX_NE, SHORT_MAX_NE};
use crate::spec::{secure_channel as sc, tag};

type Key = Zeroizing<[u8; sc::KEY_LEN]>;
const BLOCK: usize = 16;

/// Why secure messaging failed on the host side.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SmError {
    #[error("the card's authentication cryptogram is wrong: this card was not made with this issuer's master key")]
    CardNotAuthenticated,
    #[error("the card's answer to mutual authentication is malformed ({0} bytes)")]
    MalformedAuthentication(usize),
    #[error(
        "the card's secure-messaging answer has a wrong MAC: the channel is no longer trustworthy"
    )]
    ResponseMac,
    #[error("the card's secure-messaging answer is malformed: {0}")]
    MalformedResponse(&'static str),
    #[error("the card refused secure messaging with status {0}")]
    Refused(StatusWord),
}

/// The card's two static personalization keys, diversified from the issuer's master key and
/// the card serial (§8, §10.1): `K = AES-CMAC(MK, constant || serial)`.
pub struct StaticKeys {
    enc: Key,
    mac: Key,
}

impl fmt::Debug for StaticKeys {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("StaticKeys(REDACTED)")
    }
}

fn cmac(key: &[u8; sc::KEY_LEN], parts: &[&[u8]]) -> Zeroizing<[u8; BLOCK]> {
    // A 16-byte key always fits AES-128, so new_from_slice cannot fail here.
    let mut mac = <Cmac<Aes128> as KeyInit>::new(key.into());
    for part in parts {
        mac.update(part);
    }
    Zeroizing::new(mac.finalize().into_bytes().into())
}

impl StaticKeys {
    /// The input of one diversification: `constant || serial` (§10.1). An issuer whose master
    /// key lives in an HSM has the token compute the AES-CMAC over it.
    pub fn diversification_input(constant: u8, serial: &str) -> Vec<u8> {
        let mut input = Vec::with_capacity(1 + serial.len());
        input.push(constant);
        input.extend_from_slice(serial.as_bytes());
        input
    }

    /// Keys diversified elsewhere (an HSM's AES-CMAC over [`Self::diversification_input`]
    /// with [`sc::DIVERSIFY_ENC`] and [`sc::DIVERSIFY_MAC`]).
    pub fn from_diversified(enc: [u8; sc::KEY_LEN], mac: [u8; sc::KEY_LEN]) -> StaticKeys {
        StaticKeys {
            enc: Zeroizing::new(enc),
            mac: Zeroizing::new(mac),
        }
    }

    /// The two keys, for a card factory that writes them into a new card (`melli card new
    /// --issuer`): `(K_enc, K_mac)`.
    pub fn to_card_keys(&self) -> (Key, Key) {
        (self.enc.clone(), self.mac.clone())
    }

    pub fn diversify(master: &[u8; sc::KEY_LEN], serial: &str) -> StaticKeys {
        let derive =
            |constant: u8| Zeroizing::new(*cmac(master, &[&[constant], serial.as_bytes()]));
        StaticKeys {
            enc: derive(sc::DIVERSIFY_ENC),
            mac: derive(sc::DIVERSIFY_MAC),
        }
    }
}

/// ISO/IEC 9797-1 padding method 2: `80` then zeros up to a whole block.
fn pad(data: &mut Vec<u8>) {
    data.push(0x80);
    while !data.len().is_multiple_of(BLOCK) {
        data.push(0x00);
    }
}

/// Removes method-2 padding, or `None` if it is malformed.
fn unpad(data: &[u8]) -> Option<&[u8]> {
    let end = data.iter().rposition(|b| *b != 0)?;
    (data.get(end) == Some(&0x80) && data.len() - end <= BLOCK).then(|| &data[..end])
}

fn cbc_encrypt(key: &[u8; sc::KEY_LEN], iv: &[u8; BLOCK], data: &mut [u8]) {
    let len = data.len();
    // `data` is a whole number of blocks, so NoPadding cannot fail.
    let _ = cbc::Encryptor::<Aes128>::new(key.into(), iv.into())
        .encrypt_padded_mut::<NoPadding>(data, len);
}

fn cbc_decrypt(key: &[u8; sc::KEY_LEN], iv: &[u8; BLOCK], data: &mut [u8]) -> Option<()> {
    cbc::Decryptor::<Aes128>::new(key.into(), iv.into())
        .decrypt_padded_mut::<NoPadding>(data)
        .ok()
        .map(|_| ())
}

/// Appends the data object `tag`/`value` with its length in the shortest form, as the
/// specification's conventions require (the card refuses any other). Written here rather than
/// with `iso7816-tlv`, whose 0.4 encoder writes a 127-byte length as `81 7F`.
fn tlv(tag: u8, value: &[u8], out: &mut Vec<u8>) {
    out.push(tag);
    push_ber_len(value.len(), out);
    out.extend_from_slice(value);
}

/// The host's half of mutual authentication, kept between GET CHALLENGE's answer and the
/// card's reply (§10.2).
pub struct Authentication {
    rnd_icc: Zeroizing<[u8; sc::NONCE_LEN]>,
    rnd_ifd: Zeroizing<[u8; sc::NONCE_LEN]>,
    k_ifd: Zeroizing<[u8; sc::NONCE_LEN]>,
}

impl Authentication {
    /// Starts authentication from the card's 16-byte challenge with fresh host randoms.
    pub fn new(rnd_icc: &[u8; sc::NONCE_LEN]) -> Authentication {
        use rand_core::{OsRng, RngCore};
        let mut rnd_ifd = Zeroizing::new([0u8; sc::NONCE_LEN]);
        let mut k_ifd = Zeroizing::new([0u8; sc::NONCE_LEN]);
        OsRng.fill_bytes(&mut *rnd_ifd);
        OsRng.fill_bytes(&mut *k_ifd);
        Authentication {
            rnd_icc: Zeroizing::new(*rnd_icc),
            rnd_ifd,
            k_ifd,
        }
    }

    /// The MUTUAL AUTHENTICATE command data: `E_IFD || M_IFD` where
    /// `E_IFD = AES-CBC(K_enc, 0, RND.IFD || RND.ICC || K.IFD)` and `M_IFD = CMAC(K_mac, E_IFD)[..8]`.
    pub fn command_data(&self, keys: &StaticKeys) -> Zeroizing<Vec<u8>> {
        let mut s = Zeroizing::new(Vec::with_capacity(3 * sc::NONCE_LEN + sc::MAC_LEN));
        s.extend_from_slice(&*self.rnd_ifd);
        s.extend_from_slice(&*self.rnd_icc);
        s.extend_from_slice(&*self.k_ifd);
        cbc_encrypt(&keys.enc, &[0; BLOCK], &mut s);
        let mac = cmac(&keys.mac, &[&s]);
        s.extend_from_slice(&mac[..sc::MAC_LEN]);
        s
    }

    /// Checks the card's answer `E_ICC || M_ICC` and derives the session.
    pub fn finish(self, keys: &StaticKeys, answer: &[u8]) -> Result<SecureChannel, SmError> {
        let expected_len = 3 * sc::NONCE_LEN + sc::MAC_LEN;
        if answer.len() != expected_len {
            return Err(SmError::MalformedAuthentication(answer.len()));
        }
        let (cryptogram, mac) = answer.split_at(3 * sc::NONCE_LEN);
        let expected = cmac(&keys.mac, &[cryptogram]);
        if !constant_time_eq(&expected[..sc::MAC_LEN], mac) {
            return Err(SmError::CardNotAuthenticated);
        }
        let mut r = Zeroizing::new(cryptogram.to_vec());
        cbc_decrypt(&keys.enc, &[0; BLOCK], &mut r).ok_or(SmError::CardNotAuthenticated)?;
        let (rnd_icc, rest) = r.split_at(sc::NONCE_LEN);
        let (rnd_ifd, k_icc) = rest.split_at(sc::NONCE_LEN);
        if !constant_time_eq(rnd_icc, &*self.rnd_icc) || !constant_time_eq(rnd_ifd, &*self.rnd_ifd)
        {
            return Err(SmError::CardNotAuthenticated);
        }
        let mut seed = Zeroizing::new([0u8; sc::NONCE_LEN]);
        for (i, byte) in seed.iter_mut().enumerate() {
            *byte = self.k_ifd[i] ^ k_icc[i];
        }
        Ok(SecureChannel::from_seed(&seed))
    }
}

/// Equal bytes, compared in constant time (`subtle`; lengths are public).
fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    bool::from(subtle::ConstantTimeEq::ct_eq(a, b))
}

/// An open secure channel: session keys and the send sequence counter (§10.3, §10.4).
pub struct SecureChannel {
    ks_enc: Key,
    ks_mac: Key,
    ssc: u128,
}

impl fmt::Debug for SecureChannel {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SecureChannel")
            .field("keys", &"REDACTED")
            .field("ssc", &self.ssc)
            .finish()
    }
}

impl SecureChannel {
    /// `KS = SHA-256(K_seed || counter)[..16]`; SSC starts at zero.
    fn from_seed(seed: &[u8; sc::NONCE_LEN]) -> SecureChannel {
        let derive = |counter: u32| {
            let mut digest = Sha256::new();
            digest.update(seed);
            digest.update(counter.to_be_bytes());
            let mut out = digest.finalize();
            let mut key = Zeroizing::new([0u8; sc::KEY_LEN]);
            key.copy_from_slice(&out[..sc::KEY_LEN]);
            out.zeroize();
            key
        };
        SecureChannel {
            ks_enc: derive(sc::KDF_ENC),
            ks_mac: derive(sc::KDF_MAC),
            ssc: 0,
        }
    }

    fn iv(&self) -> [u8; BLOCK] {
        let mut block = self.ssc.to_be_bytes().into();
        Aes128::new((&*self.ks_enc).into()).encrypt_block(&mut block);
        block.into()
    }

    /// `CMAC(KS_mac, SSC ‖ parts)[..8]`. The input is padded only when data objects follow the
    /// (already padded) header: a command with neither `87` nor `97` MACs `SSC ‖ pad(header)`
    /// as it is (§10.4 step 5).
    fn mac(&self, parts: &[&[u8]]) -> [u8; sc::MAC_LEN] {
        let mut input = self.ssc.to_be_bytes().to_vec();
        for part in parts {
            input.extend_from_slice(part);
        }
        if parts.last().is_some_and(|objects| !objects.is_empty()) {
            pad(&mut input);
        }
        let full = cmac(&self.ks_mac, &[&input]);
        let mut out = [0u8; sc::MAC_LEN];
        out.copy_from_slice(&full[..sc::MAC_LEN]);
        out
    }

    /// Protects a command (§10.4): encrypted data in `87` (`85` for odd INS), Le in `97`, MAC
    /// in `8E` over the counter, the padded header and both objects.
    pub fn wrap(&mut self, command: &Command) -> Command {
        self.ssc = self.ssc.wrapping_add(1);
        let cla = command.cla | crate::spec::cla::SECURE_MESSAGING;
        let mut header = vec![cla, command.ins, command.p1, command.p2];
        pad(&mut header);
        let mut objects = Vec::new();
        if !command.data_bytes().is_empty() {
            let mut plain = Zeroizing::new(command.data_bytes().to_vec());
            pad(&mut plain);
            cbc_encrypt(&self.ks_enc, &self.iv(), &mut plain);
            if command.ins & 1 == 1 {
                tlv(tag::SM_CRYPTOGRAM_ODD, &plain, &mut objects);
            } else {
                let mut value = Vec::with_capacity(plain.len() + 1);
                value.push(0x01);
                value.extend_from_slice(&plain);
                tlv(tag::SM_CRYPTOGRAM, &value, &mut objects);
            }
        }
        if let Some(ne) = command.ne() {
            // Le as in an unprotected APDU: 00 means 256, 0000 means 65 536.
            let le: Vec<u8> = if ne <= SHORT_MAX_NE {
                vec![(ne % 256) as u8]
            } else {
                ((ne % EXTENDED_MAX_NE) as u16).to_be_bytes().to_vec()
            };
            tlv(tag::SM_LE, &le, &mut objects);
        }
        let mac = self.mac(&[&header, &objects]);
        tlv(tag::SM_MAC, &mac, &mut objects);
        // The answer carries the inner data plus 87/99/8E overhead.
        let ne = match command.ne() {
            Some(n) if n > 200 => EXTENDED_MAX_NE,
            _ => SHORT_MAX_NE,
        };
        Command::new(cla, command.ins, command.p1, command.p2)
            .data(objects)
            .expect(ne)
    }

    /// Checks and opens a protected response (§10.5): the data objects must be exactly
    /// `[87|85] 99 8E` in that order with nothing after `8E` (a man in the middle may not add,
    /// drop, repeat or move one), then the MAC over the counter and everything before `8E`;
    /// returns the inner data and status word.
    pub fn unwrap(&mut self, response: &Response) -> Result<Response, SmError> {
        self.ssc = self.ssc.wrapping_add(1);
        if !response.sw.is_ok() {
            // The card answers in plain only when secure messaging itself failed (6987/6988);
            // it has closed the channel.
            return Err(SmError::Refused(response.sw));
        }
        let parts = ResponseObjects::split(&response.data)?;
        if !constant_time_eq(&self.mac(&[parts.covered]), parts.mac) {
            return Err(SmError::ResponseMac);
        }
        let sw = match parts.status {
            [sw1, sw2] => StatusWord(u16::from_be_bytes([*sw1, *sw2])),
            _ => return Err(SmError::MalformedResponse("status (99) is not two bytes")),
        };
        let data = match parts.cryptogram {
            Some(cryptogram) => {
                let mut plain = Zeroizing::new(cryptogram.to_vec());
                cbc_decrypt(&self.ks_enc, &self.iv(), &mut plain)
                    .ok_or(SmError::MalformedResponse("cryptogram"))?;
                let inner = unpad(&plain).ok_or(SmError::MalformedResponse("padding"))?;
                Zeroizing::new(inner.to_vec())
            }
            None => Zeroizing::new(Vec::new()),
        };
        Ok(Response { data, sw })
    }
}

/// The data objects of a protected response, taken apart in the only layout §10.5 allows.
struct ResponseObjects<'a> {
    /// The cryptogram of `87` (without its padding indicator) or `85`, if there are data.
    cryptogram: Option<&'a [u8]>,
    /// The value of `99`.
    status: &'a [u8],
    /// The value of `8E`.
    mac: &'a [u8],
    /// The bytes the MAC covers: every object before `8E`.
    covered: &'a [u8],
}

impl<'a> ResponseObjects<'a> {
    /// `[87|85] 99 8E` and nothing else: each at most once, in this order, nothing after `8E`.
    fn split(data: &'a [u8]) -> Result<ResponseObjects<'a>, SmError> {
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

#[cfg(test)]
mod tests {
    //! Against the worked example of applets-spec §10.7.
    use super::*;

    fn h(s: &str) -> Vec<u8> {
        hex::decode(s.replace([' ', '\n'], "")).expect("test hex")
    }

    fn arr<const N: usize>(s: &str) -> [u8; N] {
        h(s).try_into().expect("length")
    }

    fn example_channel() -> (StaticKeys, SecureChannel) {
        let keys =
            StaticKeys::diversify(&arr("2B7E151628AED2A6ABF7158809CF4F3C"), "MELLI0000000001");
        assert_eq!(*keys.enc, arr::<16>("94089710C4EBB044A03782FE8CC92546"));
        assert_eq!(*keys.mac, arr::<16>("20CEDCC3427D61AA598974A075991E08"));
        let auth = Authentication {
            rnd_icc: Zeroizing::new(arr("4608F91988702212AE2F1B5C6D7E8F90")),
            rnd_ifd: Zeroizing::new(arr("781723860C06C2264608F919887022AB")),
            k_ifd: Zeroizing::new(arr("0B795240CB7049B01C19B33E32804F0B")),
        };
        assert_eq!(
            *auth.command_data(&keys),
            h(
                "9421A049F45762B47AB8E4AAD60583EE2FC53C0FB077525713F1620F4467D9E1
               6CC26BBAD91F3DE3036404416C330409A53FD04A0DF7F4A9"
            )
        );
        let channel = auth
            .finish(
                &keys,
                &h(
                    "2C6A8C502D174EB643A4C73DE82B00150B74ECB22CB61EB568464F630DD1732E
                    A08415B774192A9A0EC022A8E7EB89724C81F8AA79F8B6BF",
                ),
            )
            .expect("card authenticated");
        (keys, channel)
    }

    #[test]
    fn matches_the_specification_example() {
        let (_, mut channel) = example_channel();
        assert_eq!(
            *channel.ks_enc,
            arr::<16>("2C0D9541B93A77A7291812AA85C38FE5")
        );
        assert_eq!(
            *channel.ks_mac,
            arr::<16>("26594B2A9180344501E0DA10F84DB65E")
        );

        let select = Command::new(0, 0xA4, 0x02, 0x0C).data(vec![0x01, 0x01]);
        let wrapped = channel.wrap(&select);
        assert_eq!(
            *wrapped.to_bytes().expect("encodes"),
            h("0CA4020C1D8711014E2D87DD7FF86359D8C04DC78B4FE61C8E08060466FA44C73DAA00")
        );
        let answer = Response::parse(&h("990290008E08B938D49858FDA71F9000")).expect("response");
        let inner = channel.unwrap(&answer).expect("valid MAC");
        assert!(inner.sw.is_ok() && inner.data.is_empty());

        let update = Command::new(0, 0xD6, 0, 0).data(h("E1819CDF000101DF010A303439393337"));
        assert_eq!(
            *channel.wrap(&update).to_bytes().expect("encodes"),
            h(
                "0CD600002D872101CA14C968EEC843F2860DB8F837E3CE0BE927A03F9838566C
               C500B916F0F44BF38E08564EE748765C15BA00"
            )
        );
        let answer = Response::parse(&h("990290008E088EEE278109AFC25D9000")).expect("response");
        channel.unwrap(&answer).expect("valid MAC");

        let read = Command::new(0, 0xB0, 0, 0).expect(8);
        assert_eq!(
            *channel.wrap(&read).to_bytes().expect("encodes"),
            h("0CB000000D9701088E084CC64320E426184F00")
        );
        let answer = Response::parse(&h(
            "87110119CF54412076FA96887305CDA729765E990290008E08AFF21462638C7E839000",
        ))
        .expect("response");
        let inner = channel.unwrap(&answer).expect("valid MAC");
        assert_eq!(&*inner.data, &h("E1819CDF000101DF")[..]);
    }

    #[test]
    fn rejects_a_wrong_card_answer() {
        let (keys, _) = example_channel();
        let auth = Authentication::new(&[7; 16]);
        assert_eq!(
            auth.finish(&keys, &[0u8; 56]).err(),
            Some(SmError::CardNotAuthenticated)
        );
    }

    /// The example channel after command 1 went out (SSC = 1): `forge` builds, with the
    /// session keys, what a man in the middle could only build if he knew them — so that each
    /// test below is refused for the layout of its objects, never for a wrong MAC.
    struct Forger {
        channel: SecureChannel,
    }

    impl Forger {
        fn new() -> Forger {
            let (_, mut channel) = example_channel();
            channel.wrap(&Command::new(0, 0xA4, 0x02, 0x0C).data(vec![0x01, 0x01]));
            Forger { channel }
        }

        /// `87 L 01 ‖ AES-CBC(KS_enc, IV(SSC = 2), pad(plain))`: a cryptogram that decrypts
        /// and unpads cleanly under the response's counter.
        fn cryptogram(&mut self, plain: &[u8]) -> Vec<u8> {
            self.channel.ssc += 1;
            let mut data = plain.to_vec();
            pad(&mut data);
            cbc_encrypt(&self.channel.ks_enc, &self.channel.iv(), &mut data);
            self.channel.ssc -= 1;
            let mut value = vec![0x01];
            value.extend_from_slice(&data);
            let mut out = Vec::new();
            tlv(tag::SM_CRYPTOGRAM, &value, &mut out);
            out
        }

        /// `covered ‖ 8E 08 MAC(SSC = 2, covered) ‖ after ‖ 90 00`.
        fn response(&mut self, covered: &[u8], after: &[u8]) -> Response {
            self.channel.ssc += 1;
            let mac = self.channel.mac(&[covered]);
            self.channel.ssc -= 1;
            let mut bytes = covered.to_vec();
            tlv(tag::SM_MAC, &mac, &mut bytes);
            bytes.extend_from_slice(after);
            bytes.extend_from_slice(&[0x90, 0x00]);
            Response::parse(&bytes).expect("response")
        }

        fn unwrap(mut self, response: &Response) -> Result<Response, SmError> {
            self.channel.unwrap(response)
        }
    }

    const STATUS_OK: [u8; 4] = [0x99, 0x02, 0x90, 0x00];

    #[test]
    fn the_forger_builds_what_the_card_sends() {
        let mut forger = Forger::new();
        let mut covered = forger.cryptogram(b"data");
        covered.extend_from_slice(&STATUS_OK);
        let answer = forger.response(&covered, &[]);
        let inner = forger.unwrap(&answer).expect("well-formed");
        assert_eq!(&*inner.data, b"data");
    }

    #[test]
    fn refuses_a_cryptogram_after_the_mac() {
        // The data-less answer `99 8E` is genuine; a `87` appended after the MAC is covered by
        // nothing and must not become the command's answer.
        let mut forger = Forger::new();
        let appended = forger.cryptogram(b"forged");
        let answer = forger.response(&STATUS_OK, &appended);
        assert!(
            matches!(forger.unwrap(&answer), Err(SmError::MalformedResponse(_))),
            "a 87 after 8E was accepted"
        );
    }

    #[test]
    fn refuses_the_status_before_the_cryptogram() {
        let mut forger = Forger::new();
        let mut covered = STATUS_OK.to_vec();
        covered.extend_from_slice(&forger.cryptogram(b"data"));
        let answer = forger.response(&covered, &[]);
        assert!(
            matches!(forger.unwrap(&answer), Err(SmError::MalformedResponse(_))),
            "99 87 8E was accepted"
        );
    }

    #[test]
    fn refuses_the_mac_before_the_status() {
        let mut forger = Forger::new();
        let answer = forger.response(&[], &STATUS_OK);
        assert!(
            matches!(forger.unwrap(&answer), Err(SmError::MalformedResponse(_))),
            "8E 99 was accepted"
        );
    }

    #[test]
    fn refuses_a_duplicated_status() {
        let mut forger = Forger::new();
        let mut covered = STATUS_OK.to_vec();
        covered.extend_from_slice(&[0x99, 0x02, 0x6A, 0x82]);
        let answer = forger.response(&covered, &[]);
        assert!(
            matches!(forger.unwrap(&answer), Err(SmError::MalformedResponse(_))),
            "99 99 8E was accepted"
        );
    }

    #[test]
    fn refuses_a_duplicated_cryptogram() {
        let mut forger = Forger::new();
        let mut covered = forger.cryptogram(b"one");
        covered.extend_from_slice(&forger.cryptogram(b"two"));
        covered.extend_from_slice(&STATUS_OK);
        let answer = forger.response(&covered, &[]);
        assert!(
            matches!(forger.unwrap(&answer), Err(SmError::MalformedResponse(_))),
            "87 87 99 8E was accepted"
        );
    }

    #[test]
    fn refuses_an_unknown_object() {
        let mut forger = Forger::new();
        let mut covered = vec![0x97, 0x01, 0x00];
        covered.extend_from_slice(&STATUS_OK);
        let answer = forger.response(&covered, &[]);
        assert!(
            matches!(forger.unwrap(&answer), Err(SmError::MalformedResponse(_))),
            "97 99 8E was accepted"
        );
    }

    #[test]
    fn refuses_anything_after_the_mac() {
        // A stray byte, and a whole (empty) data object.
        for after in [&[0x00][..], &[0x00, 0x00][..], &STATUS_OK[..]] {
            let mut forger = Forger::new();
            let answer = forger.response(&STATUS_OK, after);
            assert!(
                matches!(forger.unwrap(&answer), Err(SmError::MalformedResponse(_))),
                "{} after 8E was accepted",
                hex::encode_upper(after)
            );
        }
    }

    #[test]
    fn refuses_a_mac_that_is_not_eight_bytes() {
        let mut forger = Forger::new();
        forger.channel.ssc += 1;
        let mac = forger.channel.mac(&[&STATUS_OK]);
        forger.channel.ssc -= 1;
        let mut bytes = STATUS_OK.to_vec();
        tlv(tag::SM_MAC, &[&mac[..], &[0]].concat(), &mut bytes);
        bytes.extend_from_slice(&[0x90, 0x00]);
        let answer = Response::parse(&bytes).expect("response");
        assert!(forger.unwrap(&answer).is_err(), "a 9-byte 8E was accepted");
    }

    #[test]
    fn rejects_a_tampered_response() {
        let (_, mut channel) = example_channel();
        channel.wrap(&Command::new(0, 0xA4, 0x02, 0x0C).data(vec![0x01, 0x01]));
        let answer = Response::parse(&h("990290008E08B938D49858FDA71F9001")).expect("response");
        assert!(matches!(channel.unwrap(&answer), Err(SmError::Refused(_))));
        let mut other = example_channel().1;
        other.wrap(&Command::new(0, 0xA4, 0x02, 0x0C).data(vec![0x01, 0x01]));
        let forged = Response::parse(&h("990290008E08B938D49858FDA71E9000")).expect("response");
        assert_eq!(other.unwrap(&forged).err(), Some(SmError::ResponseMac));
    }
}
