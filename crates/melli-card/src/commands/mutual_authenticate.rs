//! MUTUAL AUTHENTICATE `00 82 00 00 38 E_IFD ‖ M_IFD 00` (spec §6.14, §10.2): the issuer proves
//! it knows the card's K_enc and K_mac, both sides contribute a key share, and a secure
//! channel opens (§10.3). The first success moves a BLANK card to PERSONALIZING (§7).
//!
//! The dispatcher has already closed any open channel and will consume the stored challenge
//! whatever the outcome (§6.14 step 1).

use rand_core::{OsRng, RngCore};
use zeroize::Zeroizing;

use crate::command::Command;
use crate::crypto::{self, BLOCK};
use crate::dispatch::{never, require_p1p2_zero, Ctx, Entry, Presence, Protection, Shape};
use crate::keys::StaticKeys;
use crate::response::{Reply, Status};
use crate::secure_messaging::Channel;
use crate::spec::ins;
use crate::spec::secure_channel::{MAC_LEN, NONCE_LEN};
use crate::state::Lifecycle;

pub(crate) const ENTRY: Entry = Entry {
    ins: ins::MUTUAL_AUTHENTICATE,
    check_shape,
    before_selection: false,
    when_terminated: never,
    run,
};

/// E_IFD (48) ‖ M_IFD (8).
const CRYPTOGRAM_LEN: usize = 3 * NONCE_LEN;
const DATA_LEN: usize = CRYPTOGRAM_LEN + MAC_LEN;

/// Exactly 56 data bytes; Le `00` (optional: without it the answer waits behind `61xx`).
fn check_shape(command: &Command<'_>) -> Result<(), Status> {
    Shape {
        data: Presence::Required,
        le: Presence::Optional,
    }
    .check(command)?;
    if command.data.len() != DATA_LEN {
        return Err(Status::WRONG_LENGTH);
    }
    Ok(())
}

/// P1-P2 (6A86), plain only (6A81), state BLANK or PERSONALIZING (6985), a stored 16-byte
/// challenge (6985), the host's cryptogram (6982); then the card's answer, BLANK →
/// PERSONALIZING persisted before it (6581, and no channel, if that fails), and the channel.
fn run(ctx: &mut Ctx<'_>, command: &Command<'_>) -> Result<Reply, Status> {
    require_p1p2_zero(command)?;
    ctx.secure_messaging(command, Protection::PlainOnly)?;
    let lifecycle = ctx.state().lifecycle;
    if !matches!(lifecycle, Lifecycle::Blank | Lifecycle::Personalizing) {
        return Err(Status::CONDITIONS_NOT_SATISFIED);
    }
    let challenge = ctx
        .session
        .challenge
        .take()
        .ok_or(Status::CONDITIONS_NOT_SATISFIED)?;
    let mut k_icc = Zeroizing::new([0u8; NONCE_LEN]);
    OsRng
        .try_fill_bytes(k_icc.as_mut_slice())
        .map_err(|_| Status::NO_PRECISE_DIAGNOSIS)?;
    let (answer, channel) =
        authenticate(&ctx.state().static_keys, &challenge, command.data, &k_icc)?;
    if lifecycle == Lifecycle::Blank {
        ctx.state_mut().lifecycle = Lifecycle::Personalizing;
        ctx.commit()?;
    }
    ctx.session.channel = Some(channel);
    Ok(Reply::data(answer))
}

/// The card's side of §10.2 steps 5 and 6, given the stored RND.ICC and the card's key share
/// K.ICC: checks M_IFD in constant time, decrypts S and checks that S[16..32] = RND.ICC (both
/// 6982), then answers E_ICC ‖ M_ICC and derives the channel (§10.3).
pub(crate) fn authenticate(
    keys: &StaticKeys,
    rnd_icc: &[u8; NONCE_LEN],
    data: &[u8],
    k_icc: &[u8; NONCE_LEN],
) -> Result<(Vec<u8>, Channel), Status> {
    let refused = Status::SECURITY_STATUS_NOT_SATISFIED;
    let (e_ifd, m_ifd) = data.split_at_checked(CRYPTOGRAM_LEN).ok_or(refused)?;
    if m_ifd.len() != MAC_LEN || !crypto::cmac_matches(&keys.mac, &[e_ifd], m_ifd) {
        return Err(refused);
    }
    let mut s = Zeroizing::new(e_ifd.to_vec());
    crypto::cbc_decrypt(&keys.enc, &[0; BLOCK], &mut s).map_err(|_| refused)?;
    let (rnd_ifd, rest) = s.split_at_checked(NONCE_LEN).ok_or(refused)?;
    let (echoed, k_ifd) = rest.split_at_checked(NONCE_LEN).ok_or(refused)?;
    if !crypto::constant_time_eq(echoed, rnd_icc) {
        return Err(refused);
    }
    let k_ifd: &[u8; NONCE_LEN] = k_ifd.try_into().map_err(|_| refused)?;

    let mut r = Zeroizing::new(Vec::with_capacity(CRYPTOGRAM_LEN));
    r.extend_from_slice(rnd_icc);
    r.extend_from_slice(rnd_ifd);
    r.extend_from_slice(k_icc);
    crypto::cbc_encrypt(&keys.enc, &[0; BLOCK], &mut r)
        .map_err(|_| Status::NO_PRECISE_DIAGNOSIS)?;
    let m_icc = crypto::cmac(&keys.mac, &[&r]);
    let mut answer = r.to_vec();
    answer.extend_from_slice(m_icc.get(..MAC_LEN).unwrap_or_default());
    Ok((answer, Channel::derive(k_ifd, k_icc)))
}
