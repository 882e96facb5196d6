//! The card's login key (applets-spec §12): the desk's checks of DG7, the authentication
//! certificate — that it chains to the trusted root with the authentication profile, and that
//! it certifies the card's authentication key `03` for the holder DG6 names.

use std::time::SystemTime;

use super::read::CardContents;
use crate::applet::{Applet, AppletError};
use crate::pki::{verify_path, Certificate, Check, LeafPurpose};
use crate::spec::reference;
use crate::transport::Transport;

/// Check names, as `melli verify` prints them.
pub mod check {
    pub const AUTHENTICATION_CERTIFICATE: &str = "authentication certificate";
    pub const AUTHENTICATION_BINDING: &str = "authentication certificate binding";
}

/// The checks of DG7, when the card has it: none on a card without (a version 1.0 card, or
/// one personalized without a login key), which cannot log in but whose data are no less the
/// issuer's.
pub fn authentication_checks<T: Transport>(
    applet: &mut Applet<T>,
    contents: &CardContents,
    root: &Certificate,
    at: SystemTime,
) -> Result<Vec<Check>, AppletError> {
    let Some(parsed) = contents.parse_authentication() else {
        return Ok(Vec::new());
    };
    let (login, cas) = match parsed {
        Ok(path) => path,
        Err(e) => {
            return Ok(vec![
                Check::fail(check::AUTHENTICATION_CERTIFICATE, e.to_string()),
                Check::fail(check::AUTHENTICATION_BINDING, e.to_string()),
            ])
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
    Ok(vec![chain, binding(applet, contents, &login)?])
}

/// DG7 certifies the card's key `03` (GENERATE `00 47 81 03`, one APDU) for the holder of DG6:
/// the same subject as the holder certificate, byte for byte (§12.5).
fn binding<T: Transport>(
    applet: &mut Applet<T>,
    contents: &CardContents,
    login: &Certificate,
) -> Result<Check, AppletError> {
    let name = check::AUTHENTICATION_BINDING;
    let key = match applet.read_public_key(reference::AUTHENTICATION_KEY) {
        Ok(point) => point,
        Err(AppletError::Status { status, .. }) => {
            return Ok(Check::fail(
                name,
                format!("the card does not give its authentication key's public key ({status})"),
            ))
        }
        Err(e) => return Err(e),
    };
    let certified = login
        .tbs_certificate
        .subject_public_key_info
        .subject_public_key
        .raw_bytes();
    if certified != key.as_slice() {
        return Ok(Check::fail(
            name,
            "the authentication certificate certifies another key than the card's authentication key: DG7 does not belong to this card",
        ));
    }
    let holder = match contents.parse_certificates() {
        Ok((holder, _)) => holder,
        Err(e) => return Ok(Check::fail(name, e.to_string())),
    };
    if holder.tbs_certificate.subject != login.tbs_certificate.subject {
        return Ok(Check::fail(
            name,
            "the authentication certificate names another holder than the holder certificate",
        ));
    }
    Ok(Check::pass(
        name,
        "certifies the card's authentication key, for the holder of DG6",
    ))
}
