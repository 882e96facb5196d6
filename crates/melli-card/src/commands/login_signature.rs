//! INTERNAL AUTHENTICATE `00 88 00 03` (spec §12.3, version 1.1): client authentication. The
//! card signs, with the authentication key `03`, a digest the host computed (32, 48 or 64
//! bytes: SHA-256, SHA-384 or SHA-512), taking its leftmost 32 bytes as the hash value as
//! FIPS 186-5 does for a digest longer than the curve order. No prefix: the key exists to sign
//! what a login protocol hashes (TLS CertificateVerify, a Web eID token), which is why it is
//! not the signing key `01` (§12.6). Needs the PIN verified in this card session.

use crate::command::Command;
use crate::dispatch::{require_lifecycle, Ctx, Protection};
use crate::key_pairs;
use crate::response::{Reply, Status};
use crate::spec::PSO_DIGEST_LEN;
use crate::state::Lifecycle;

/// The checks of §12.3 after the first (Nc 32/48/64, 6700, judged with the length in
/// `internal_authenticate::check_shape`), in their order: P1 `00` (6A86; P2 is `03`, the
/// caller chose this function by it), plain only (6A81), OPERATIONAL (6985), key `03`
/// generated (6A88), PIN verified in this session (6982); then the signature r ‖ s.
pub(super) fn run(ctx: &mut Ctx<'_>, command: &Command<'_>) -> Result<Reply, Status> {
    if command.p1() != 0x00 {
        return Err(Status::INCORRECT_P1P2);
    }
    ctx.secure_messaging(command, Protection::PlainOnly)?;
    require_lifecycle(ctx, Lifecycle::Operational)?;
    let key = ctx
        .state()
        .auth_key
        .as_ref()
        .ok_or(Status::REFERENCE_NOT_FOUND)?;
    if !ctx.session.app.pin_verified {
        return Err(Status::SECURITY_STATUS_NOT_SATISFIED);
    }
    key_pairs::sign_digest(key, &hash_value(command.data)?).map(Reply::data)
}

/// e: the leftmost 32 bytes of the digest (§12.3).
fn hash_value(digest: &[u8]) -> Result<[u8; PSO_DIGEST_LEN], Status> {
    digest
        .get(..PSO_DIGEST_LEN)
        .and_then(|left| left.try_into().ok())
        .ok_or(Status::WRONG_LENGTH)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::spec::authentication::DIGEST_LENS;

    #[test]
    fn the_hash_value_is_the_leftmost_32_bytes() {
        let digest: Vec<u8> = (0..64).collect();
        for len in DIGEST_LENS {
            assert_eq!(hash_value(&digest[..len]).unwrap().to_vec(), digest[..32]);
        }
        assert_eq!(hash_value(&digest[..31]), Err(Status::WRONG_LENGTH));
    }
}
