//! The card's login key (applets-spec §12): the desk's checks of DG7, the authentication
//! certificate — that it chains to the trusted root with the authentication profile, and that
//! it is the issuer's for this chip, for the holder DG6 names.

use std::time::SystemTime;

use super::read::CardContents;
use super::verify::Basis;
use crate::pki::{verify_path, Certificate, Check, LeafPurpose};

/// Check names, as `melli verify` prints them.
pub mod check {
    pub const AUTHENTICATION_CERTIFICATE: &str = "authentication certificate";
    pub const AUTHENTICATION_BINDING: &str = "authentication certificate binding";
}

/// The checks of DG7, when the card has it: none on a card without (a version 1.0 card, or
/// one personalized without a login key), which cannot log in but whose data are no less the
/// issuer's — unless the card is known to be of version 1.1 (its FCP carried the serial,
/// §6.1) and its security object lists no DG7, which fails `authentication certificate`
/// (§12.7). `basis` is what binds DG7 to the chip ([`Basis`]).
pub fn authentication_checks(
    contents: &CardContents,
    root: &Certificate,
    at: SystemTime,
    basis: &Basis,
) -> Vec<Check> {
    let Some(parsed) = contents.parse_authentication() else {
        if contents.serial_from_fcp && !lists_dg7(contents) {
            return vec![Check::fail(
                check::AUTHENTICATION_CERTIFICATE,
                "the card is of version 1.1 (its FCP carries the serial) but its security \
                 object lists no DG7: its login certificate is not the issuer's",
            )];
        }
        return Vec::new();
    };
    let (login, cas) = match parsed {
        Ok(path) => path,
        Err(e) => {
            return vec![
                Check::fail(check::AUTHENTICATION_CERTIFICATE, e.to_string()),
                Check::fail(check::AUTHENTICATION_BINDING, e.to_string()),
            ]
        }
    };
    let chain = match verify_path(
        &login,
        "authentication certificate",
        LeafPurpose::ClientAuthentication,
        &cas,
        root,
        at,
    ) {
        Ok(_) => Check::pass(
            check::AUTHENTICATION_CERTIFICATE,
            "a clientAuth certificate that chains to the trusted root through the signing CA and is valid now",
        ),
        Err(e) => Check::fail(check::AUTHENTICATION_CERTIFICATE, e.to_string()),
    };
    vec![chain, binding(contents, &login, basis)]
}

/// Whether the security object lists DG7 (a security object that does not parse lists
/// nothing).
fn lists_dg7(contents: &CardContents) -> bool {
    crate::pki::security_object::SecurityObject::parse(&contents.security_object)
        .is_ok_and(|so| so.hash_of(7).is_some())
}

/// DG7 is for the holder of DG6 — the same subject as the holder certificate, byte for byte
/// (§12.5) — and the issuer's for this chip on `basis`: passive and chip authentication,
/// which alone let it pass.
fn binding(contents: &CardContents, login: &Certificate, basis: &Basis) -> Check {
    let name = check::AUTHENTICATION_BINDING;
    let holder = match contents.parse_certificates() {
        Ok((holder, _)) => holder,
        Err(e) => return Check::fail(name, e.to_string()),
    };
    if holder.tbs_certificate.subject != login.tbs_certificate.subject {
        return Check::fail(
            name,
            "the authentication certificate names another holder than the holder certificate",
        );
    }
    if let Some(refused) = basis.refusal(name, "DG7's authentication certificate") {
        return refused;
    }
    Check::pass(
        name,
        format!(
            "for the holder of DG6, and the issuer's for this chip: the document signer vouches \
             for it with DG5 for card {} and the chip proved it holds DG5's key, so it \
             certifies the login key the issuer saw this chip generate (§12.5; the key is not \
             read from the card)",
            contents.serial
        ),
    )
}
