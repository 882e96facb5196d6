//! Reading a card at the desk: every readable file once, whole, in as few APDUs as the
//! specification allows — the SELECT of the application tells the lifecycle and (1.1) the
//! serial, then one READ BINARY by SFI per file (applets-spec, "The desk check in the fewest
//! APDUs").

use zeroize::Zeroizing;

use crate::applet::{Applet, AppletError, Lifecycle};
use crate::model::{Address, DataGroupError, Identity};
use crate::pki::{Certificate, SecurityObject};
use crate::spec::ef;
use crate::transport::Transport;

/// Everything a reader can read from a card, as raw bytes: verification hashes exactly these.
#[derive(Debug, Clone)]
pub struct CardContents {
    pub serial: String,
    /// Whether the serial came from the application's FCP, which only a version 1.1 card
    /// fills (§6.1); otherwise from GET DATA `DF01` (a 1.0 card, or an applet handle that sent
    /// no SELECT).
    pub serial_from_fcp: bool,
    /// The lifecycle the card gave when its application was selected.
    pub lifecycle: Lifecycle,
    pub identity: Zeroizing<Vec<u8>>,
    pub photo: Zeroizing<Vec<u8>>,
    pub address: Zeroizing<Vec<u8>>,
    pub chip_auth_key: Zeroizing<Vec<u8>>,
    pub certificates: Zeroizing<Vec<u8>>,
    /// DG7, the authentication certificate path (applets-spec §12.1): `None` when the
    /// security object does not list it (a version 1.0 card, or one personalized without a
    /// login key) — it is not read then —, or the card has no EF `0107` or an empty one.
    pub authentication: Option<Zeroizing<Vec<u8>>>,
    pub security_object: Zeroizing<Vec<u8>>,
}

/// A data group that could not be understood.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{group} on the card is malformed: {reason}")]
pub struct GroupError {
    pub group: &'static str,
    #[source]
    pub reason: GroupFault,
}

/// What is wrong with a data group, as its decoder said it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum GroupFault {
    /// DG1 or DG4 do not decode.
    #[error(transparent)]
    Content(#[from] DataGroupError),
    /// DG6 is not DER certificates one after the other.
    #[error(transparent)]
    Der(#[from] der::Error),
    /// DG6 holds no certificate.
    #[error("empty")]
    Empty,
}

impl CardContents {
    /// The readable data groups by number, as the security object lists them (DG7 when the
    /// card has it).
    pub fn data_groups(&self) -> Vec<(u8, &[u8])> {
        let mut groups: Vec<(u8, &[u8])> = vec![
            (1, &self.identity),
            (2, &self.photo),
            (4, &self.address),
            (5, &self.chip_auth_key),
            (6, &self.certificates),
        ];
        if let Some(dg7) = &self.authentication {
            groups.push((7, dg7));
        }
        groups
    }

    pub fn parse_identity(&self) -> Result<Identity, GroupError> {
        Identity::from_dg(&self.identity).map_err(|e| GroupError {
            group: "DG1 identity",
            reason: e.into(),
        })
    }

    pub fn parse_address(&self) -> Result<Address, GroupError> {
        Address::from_dg(&self.address).map_err(|e| GroupError {
            group: "DG4 address",
            reason: e.into(),
        })
    }

    /// DG6 split into the holder certificate and the signing CA's (applets-spec §5.6).
    pub fn parse_certificates(&self) -> Result<(Certificate, Vec<Certificate>), GroupError> {
        split_certificate_path(&self.certificates)
    }

    /// DG7 split into the authentication certificate and the signing CA's (§12.1), when the
    /// card has DG7.
    pub fn parse_authentication(
        &self,
    ) -> Option<Result<(Certificate, Vec<Certificate>), GroupError>> {
        self.authentication
            .as_ref()
            .map(|dg7| split_authentication_path(dg7))
    }
}

/// DG6's certificate path: DER certificates one after the other, the holder's first.
pub fn split_certificate_path(dg6: &[u8]) -> Result<(Certificate, Vec<Certificate>), GroupError> {
    split_path(dg6, "DG6 holder certificate")
}

/// DG7's certificate path (§12.1): the authentication certificate first.
pub fn split_authentication_path(
    dg7: &[u8],
) -> Result<(Certificate, Vec<Certificate>), GroupError> {
    split_path(dg7, "DG7 authentication certificate")
}

/// A certificate path as DG6 and DG7 hold it: DER certificates one after the other, the
/// end entity's first.
fn split_path(
    bytes: &[u8],
    group: &'static str,
) -> Result<(Certificate, Vec<Certificate>), GroupError> {
    let bad = |reason: GroupFault| GroupError { group, reason };
    let mut reader = der::SliceReader::new(bytes).map_err(|e| bad(e.into()))?;
    let mut certs = Vec::new();
    while !der::Reader::is_finished(&reader) {
        let cert: Certificate = der::Decode::decode(&mut reader).map_err(|e| bad(e.into()))?;
        certs.push(cert);
    }
    let mut certs = certs.into_iter();
    let holder = certs.next().ok_or_else(|| bad(GroupFault::Empty))?;
    Ok((holder, certs.collect()))
}

/// Reads every readable file of the card behind `applet` (selected by [`Applet::select`]),
/// each once: the lifecycle and, on a 1.1 card, the serial from the FCP the SELECT answered
/// (a 1.0 card: GET DATA `DF01`, one APDU more), then one READ BINARY by SFI per file — the
/// security object first, so that DG7 is read only when it lists DG7 (or does not parse).
/// On a 1.1 card that is 8 APDUs with the SELECT.
pub fn read_card<T: Transport>(applet: &mut Applet<T>) -> Result<CardContents, AppletError> {
    let selected = applet.selected_application()?;
    let lifecycle = match &selected {
        Some(control) => control.lifecycle,
        None => applet.lifecycle()?,
    };
    let (serial, serial_from_fcp) = match selected.and_then(|control| control.serial) {
        Some(serial) => (serial, true),
        None => (applet.serial()?, false),
    };
    let security_object = applet.read_file_by_sfi(ef::SECURITY_OBJECT)?;
    let identity = applet.read_file_by_sfi(ef::IDENTITY)?;
    let photo = applet.read_file_by_sfi(ef::PHOTO)?;
    let address = applet.read_file_by_sfi(ef::ADDRESS)?;
    let chip_auth_key = applet.read_file_by_sfi(ef::CHIP_AUTH_KEY)?;
    let certificates = applet.read_file_by_sfi(ef::HOLDER_CERT)?;
    let authentication = match SecurityObject::parse(&security_object) {
        Ok(listed) if listed.hash_of(7).is_none() => None,
        // Listed, or no list to go by: passive authentication judges what is read.
        _ => read_optional(applet, ef::AUTH_CERT)?,
    };
    Ok(CardContents {
        serial,
        serial_from_fcp,
        lifecycle,
        identity,
        photo,
        address,
        chip_auth_key,
        certificates,
        authentication,
        security_object,
    })
}

/// A file a card may not have: `None` when it answers "file not found" (a version 1.0 card,
/// §12.7) or the file is empty.
pub(crate) fn read_optional<T: Transport>(
    applet: &mut Applet<T>,
    fid: u16,
) -> Result<Option<Zeroizing<Vec<u8>>>, AppletError> {
    match applet.read_file_by_sfi(fid) {
        Ok(bytes) if bytes.is_empty() => Ok(None),
        Ok(bytes) => Ok(Some(bytes)),
        Err(AppletError::Status {
            status: crate::apdu::StatusError::FileNotFound,
            ..
        }) => Ok(None),
        Err(e) => Err(e),
    }
}

#[cfg(test)]
mod tests;
