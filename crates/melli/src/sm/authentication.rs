//! Opening the channel: the host's half of mutual authentication (§10.2).

use super::{
    cbc_decrypt, cbc_encrypt, cmac, constant_time_eq, SecureChannel, SmError, StaticKeys, BLOCK,
};
use crate::spec::secure_channel as sc;
use zeroize::Zeroizing;

/// The host's half of mutual authentication, kept between GET CHALLENGE's answer and the
/// card's reply (§10.2).
pub struct Authentication {
    pub(super) rnd_icc: Zeroizing<[u8; sc::NONCE_LEN]>,
    pub(super) rnd_ifd: Zeroizing<[u8; sc::NONCE_LEN]>,
    pub(super) k_ifd: Zeroizing<[u8; sc::NONCE_LEN]>,
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
