//! The card behind a slot: a shared PC/SC connection, one transaction per card operation, and
//! what the module reads from the card once per insertion (serial, certificates, public key).

use std::ffi::CStr;

use melli::apdu::StatusError;
use melli::applet::{Applet, AppletError, Lifecycle};
use melli::pki::{cert, Certificate, HolderSubject};
use melli::spec::ef;
use melli::transport::{transmit_on, Transport, TransportError};
use pcsc::{Card, Context, Disposition, Protocols, ShareMode};
use zeroize::Zeroizing;

use crate::keys::Key;

/// One APDU at a time to a card inside a PC/SC transaction the caller holds.
pub(crate) struct TxTransport<'c> {
    card: &'c Card,
    reader: &'c str,
    atr: &'c [u8],
    buffer: Vec<u8>,
}

impl Transport for TxTransport<'_> {
    fn transmit(&mut self, command: &[u8]) -> Result<Vec<u8>, TransportError> {
        transmit_on(self.card, command, &mut self.buffer)
    }

    fn atr(&self) -> &[u8] {
        self.atr
    }

    fn reader(&self) -> &str {
        self.reader
    }
}

/// A card connected in shared mode, its application selected once (a later SELECT would end
/// the card session and with it a verified PIN).
pub(crate) struct Connection {
    card: Option<Card>,
    reader: String,
    atr: Vec<u8>,
}

/// Why a card operation did not happen.
#[derive(Debug)]
pub(crate) enum CardError {
    /// The card left the reader (or stopped answering).
    Removed,
    /// Another program reset the card: its session (a verified PIN) is gone. The connection
    /// was picked up again and the application selected anew.
    Reset,
    /// Another program holds the card exclusively.
    Busy,
    /// The card answered, but not with success.
    Applet(AppletError),
}

impl From<AppletError> for CardError {
    fn from(e: AppletError) -> Self {
        match e {
            AppletError::Transport(t) => t.into(),
            other => CardError::Applet(other),
        }
    }
}

impl From<TransportError> for CardError {
    fn from(e: TransportError) -> Self {
        match e {
            TransportError::CardReset => CardError::Reset,
            TransportError::CardInUse => CardError::Busy,
            TransportError::CardRemoved
            | TransportError::NoCard
            | TransportError::NoCardInReader(_)
            | TransportError::CardUnresponsive => CardError::Removed,
            other => CardError::Applet(AppletError::Transport(other)),
        }
    }
}

impl From<pcsc::Error> for CardError {
    fn from(e: pcsc::Error) -> Self {
        TransportError::from(e).into()
    }
}

impl Connection {
    /// Connects to the card in `reader` (shared: other programs may use it between our
    /// operations) and selects the melli application.
    pub(crate) fn open(ctx: &Context, reader: &CStr) -> Result<Connection, CardError> {
        let mut connection = Connection::connect(ctx, reader)?;
        connection.select()?;
        Ok(connection)
    }

    /// Connects without sending anything: the first operation must select the application
    /// ([`Connection::select_then`]).
    pub(crate) fn connect(ctx: &Context, reader: &CStr) -> Result<Connection, CardError> {
        let card = ctx.connect(reader, ShareMode::Shared, Protocols::ANY)?;
        let atr = card.status2_owned()?.atr().to_vec();
        Ok(Connection {
            card: Some(card),
            reader: reader.to_string_lossy().into_owned(),
            atr,
        })
    }

    /// SELECT of the application: a fresh card session (no PIN verified).
    pub(crate) fn select(&mut self) -> Result<(), CardError> {
        self.select_then(|_| Ok(()))
    }

    /// SELECT of the application (a fresh card session) and then `op`, in one transaction.
    pub(crate) fn select_then<R>(
        &mut self,
        op: impl FnOnce(&mut Applet<TxTransport<'_>>) -> Result<R, CardError>,
    ) -> Result<R, CardError> {
        self.with_card(|card, reader, atr| {
            let transport = TxTransport {
                card,
                reader,
                atr,
                buffer: vec![0; pcsc::MAX_BUFFER_SIZE_EXTENDED],
            };
            let mut applet = Applet::select(transport).map_err(CardError::from)?;
            op(&mut applet)
        })
    }

    /// Runs one card operation inside one PC/SC transaction, on the application selected
    /// earlier on this connection.
    pub(crate) fn transact<R>(
        &mut self,
        op: impl FnOnce(&mut Applet<TxTransport<'_>>) -> Result<R, CardError>,
    ) -> Result<R, CardError> {
        self.with_card(|card, reader, atr| {
            let mut applet = Applet::resume(TxTransport {
                card,
                reader,
                atr,
                buffer: vec![0; pcsc::MAX_BUFFER_SIZE_EXTENDED],
            });
            op(&mut applet)
        })
    }

    fn with_card<R>(
        &mut self,
        op: impl FnOnce(&Card, &str, &[u8]) -> Result<R, CardError>,
    ) -> Result<R, CardError> {
        let card = self.card.as_mut().ok_or(CardError::Removed)?;
        match card.transaction2() {
            Ok(transaction) => {
                let result = op(&transaction, &self.reader, &self.atr);
                // Ending the transaction fails only when the card is gone, which `result` says.
                let _ = transaction.end(Disposition::LeaveCard);
                return result;
            }
            Err((card, pcsc::Error::ResetCard)) => {
                // Another program reset the card: pick the connection up again, select the
                // application again, and tell the caller the session is gone.
                card.reconnect(ShareMode::Shared, Protocols::ANY, Disposition::LeaveCard)?;
            }
            Err((_, e)) => return Err(e.into()),
        }
        self.select()?;
        Err(CardError::Reset)
    }

    /// Lets go of the card; `reset` ends its session so that a verified PIN does not outlive
    /// the module's login.
    pub(crate) fn close(mut self, reset: bool) {
        if let Some(card) = self.card.take() {
            let how = if reset {
                Disposition::ResetCard
            } else {
                Disposition::LeaveCard
            };
            let _ = card.disconnect(how);
        }
    }
}

impl Drop for Connection {
    fn drop(&mut self) {
        if let Some(card) = self.card.take() {
            let _ = card.disconnect(Disposition::ResetCard);
        }
    }
}

/// What the module shows of a card: read once per insertion.
#[derive(Debug, Clone)]
pub(crate) struct TokenData {
    pub serial: String,
    /// The holder's name in Latin letters, as the certificate's subject says it.
    pub holder_name: String,
    pub spec_version: (u8, u8),
    /// The signing key `01` and its certificate (DG6).
    pub signing: KeyObject,
    /// The authentication key `03` and its certificate (DG7), on a version 1.1 card that has
    /// them (applets-spec §12).
    pub authentication: Option<KeyObject>,
    /// The CA certificates of DG6 and DG7, each once.
    pub cas: Vec<CertObject>,
}

impl TokenData {
    /// The key objects of `key`, when the card has that key.
    pub(crate) fn key(&self, key: Key) -> Option<&KeyObject> {
        match key {
            Key::Signing => Some(&self.signing),
            Key::Authentication => self.authentication.as_ref(),
        }
    }
}

/// A key pair of the card as PKCS#11 shows it: its certificate and its public key.
#[derive(Debug, Clone)]
pub(crate) struct KeyObject {
    pub cert: CertObject,
    /// The point, uncompressed (65 bytes).
    pub point: Vec<u8>,
    pub public: p256::ecdsa::VerifyingKey,
    /// SubjectPublicKeyInfo DER.
    pub spki: Vec<u8>,
}

impl KeyObject {
    fn new(cert: &Certificate, key: Key) -> Result<KeyObject, String> {
        use der::Encode;
        let public = cert::verifying_key(cert).map_err(|e| e.to_string())?;
        Ok(KeyObject {
            cert: CertObject::new(cert, key.label().to_string())?,
            point: public.to_encoded_point(false).as_bytes().to_vec(),
            public,
            spki: cert
                .tbs_certificate
                .subject_public_key_info
                .to_der()
                .map_err(|e| e.to_string())?,
        })
    }
}

/// A certificate as PKCS#11 shows it.
#[derive(Debug, Clone)]
pub(crate) struct CertObject {
    pub der: Vec<u8>,
    pub subject: Vec<u8>,
    pub issuer: Vec<u8>,
    pub serial: Vec<u8>,
    pub label: String,
    /// CKA_ID: the key identifier of the certificate's public key (RFC 5280 §4.2.1.2 (1)).
    pub id: Vec<u8>,
}

impl CertObject {
    fn new(cert: &Certificate, label: String) -> Result<CertObject, String> {
        use der::Encode;
        let der = cert.to_der().map_err(|e| e.to_string())?;
        let tbs = &cert.tbs_certificate;
        Ok(CertObject {
            subject: tbs.subject.to_der().map_err(|e| e.to_string())?,
            issuer: tbs.issuer.to_der().map_err(|e| e.to_string())?,
            serial: tbs.serial_number.to_der().map_err(|e| e.to_string())?,
            id: cert::key_identifier(&tbs.subject_public_key_info).map_err(|e| e.to_string())?,
            der,
            label,
        })
    }
}

/// Whether a card is a token, and what it shows if it is.
pub(crate) enum Probe {
    Token(Box<TokenData>),
    /// A card, but not an operational melli card (blank, being personalized, terminated, or
    /// another card altogether).
    NotToken,
}

/// Selects the application and reads what a token shows, in one transaction.
pub(crate) fn probe(connection: &mut Connection) -> Result<Probe, CardError> {
    connection.select_then(|applet| {
        match applet.lifecycle() {
            Ok(Lifecycle::Operational) => {}
            Ok(_) => return Ok(Probe::NotToken),
            Err(AppletError::Transport(t)) => return Err(t.into()),
            Err(_) => return Ok(Probe::NotToken),
        }
        let serial = applet.serial()?;
        let spec_version = applet.spec_version()?;
        let dg6 = applet.read_file(ef::HOLDER_CERT)?;
        let dg7 = if spec_version >= (1, 1) {
            read_optional(applet, ef::AUTH_CERT)?
        } else {
            None
        };
        Ok(
            match token_data(
                serial,
                spec_version,
                &dg6,
                dg7.as_ref().map(|d| d.as_slice()),
            ) {
                Ok(token) => Probe::Token(Box::new(token)),
                Err(_) => Probe::NotToken,
            },
        )
    })
}

/// DG7, which a card may not have: `None` when it answers "file not found" or the file is
/// empty (a 1.1 card personalized without an online identity, applets-spec §12.2).
fn read_optional(
    applet: &mut Applet<TxTransport<'_>>,
    fid: u16,
) -> Result<Option<Zeroizing<Vec<u8>>>, CardError> {
    match applet.read_file(fid) {
        Ok(bytes) if bytes.is_empty() => Ok(None),
        Ok(bytes) => Ok(Some(bytes)),
        Err(AppletError::Status {
            status: StatusError::FileNotFound,
            ..
        }) => Ok(None),
        Err(e) => Err(e.into()),
    }
}

/// The objects of a card from DG6 and, on a version 1.1 card, DG7. A DG7 that does not parse
/// shows no authentication objects (the signing key stays usable); a DG6 that does not parse
/// is no token.
pub(crate) fn token_data(
    serial: String,
    spec_version: (u8, u8),
    dg6: &[u8],
    dg7: Option<&[u8]>,
) -> Result<TokenData, String> {
    let (holder, mut chain) =
        melli::ops::read::split_certificate_path(dg6).map_err(|e| e.to_string())?;
    let holder_name = HolderSubject::from_certificate(&holder)
        .map(|s| s.common_name())
        .unwrap_or_else(|_| cert::label(&holder));
    let signing = KeyObject::new(&holder, Key::Signing)?;
    let authentication = match dg7.map(melli::ops::read::split_authentication_path) {
        Some(Ok((auth, auth_chain))) => match KeyObject::new(&auth, Key::Authentication) {
            Ok(object) => {
                chain.extend(auth_chain);
                Some(object)
            }
            Err(_) => None,
        },
        _ => None,
    };
    let mut cas: Vec<CertObject> = Vec::new();
    for ca in &chain {
        let object = CertObject::new(ca, cert::label(ca))?;
        if !cas.iter().any(|c| c.der == object.der) {
            cas.push(object);
        }
    }
    Ok(TokenData {
        serial,
        holder_name,
        spec_version,
        signing,
        authentication,
        cas,
    })
}
