//! The open channel: session keys, command protection and response opening (§10.3–§10.5).

use super::{
    cbc_decrypt, cbc_encrypt, cmac, constant_time_eq, pad, tlv, unpad, Key, ResponseObjects,
    SmError, BLOCK,
};
use crate::apdu::{Command, Response, StatusWord, EXTENDED_MAX_NE, SHORT_MAX_NE};
use crate::spec::{secure_channel as sc, tag};
use aes::cipher::{BlockEncrypt, KeyInit};
use aes::Aes128;
use sha2::{Digest, Sha256};
use std::fmt;
use zeroize::{Zeroize, Zeroizing};

/// An open secure channel: session keys and the send sequence counter (§10.3, §10.4).
pub struct SecureChannel {
    pub(super) ks_enc: Key,
    pub(super) ks_mac: Key,
    pub(super) ssc: u128,
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
    pub(super) fn from_seed(seed: &[u8; sc::NONCE_LEN]) -> SecureChannel {
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

    pub(super) fn iv(&self) -> [u8; BLOCK] {
        let mut block = self.ssc.to_be_bytes().into();
        Aes128::new((&*self.ks_enc).into()).encrypt_block(&mut block);
        block.into()
    }

    /// `CMAC(KS_mac, SSC ‖ parts)[..8]`. The input is padded only when data objects follow the
    /// (already padded) header: a command with neither `87` nor `97` MACs `SSC ‖ pad(header)`
    /// as it is (§10.4 step 5).
    pub(super) fn mac(&self, parts: &[&[u8]]) -> [u8; sc::MAC_LEN] {
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
