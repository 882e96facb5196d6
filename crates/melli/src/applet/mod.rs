//! Host-side commands of the melli applet (`applets-spec/`), one method per card command, each
//! citing the specification section it implements.

mod card_signer;
mod desk;
mod fcp;
mod holder;
mod lifecycle;
mod personalization;
mod public_key;
mod resume;

pub use card_signer::{CardSignatureError, CardSigner};
pub use desk::FingerMatch;
pub use fcp::FileControl;
pub use holder::{PinCheckError, PinError, PinVerified, RetryCounters};
pub use lifecycle::Lifecycle;
pub use personalization::{Personalization, PublicPoint};
pub use public_key::parse_public_key;
pub use resume::PinSession;

use zeroize::Zeroizing;

use crate::apdu::{Command, StatusError, StatusWord, EXTENDED_MAX_NE};
use crate::spec;
use crate::transport::{Capabilities, CardChannel, Traffic, Transport, TransportError};

/// What can go wrong talking to a melli card.
#[derive(Debug, thiserror::Error)]
pub enum AppletError {
    #[error(transparent)]
    Transport(#[from] TransportError),
    #[error("{command}: {status}")]
    Status {
        command: &'static str,
        status: StatusError,
    },
    #[error("the card's {what} is malformed ({detail}): it may not be a genuine melli card")]
    Malformed { what: &'static str, detail: String },
    /// The same, with the decoder's error that said so.
    #[error("the card's {what} is malformed ({source}): it may not be a genuine melli card")]
    MalformedBecause {
        what: &'static str,
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },
    #[error("secure channel: {0}")]
    SecureMessaging(crate::sm::SmError),
    #[error("this card is not a melli card: it has no melli application (SELECT answered {0})")]
    NotMelli(StatusWord),
    /// MUTUAL AUTHENTICATE answered `6982`: the card's K_enc/K_mac are not the ones diversified
    /// from this issuer's master key (§6.14, §8.5).
    #[error(
        "the card refused the issuer's keys (MUTUAL AUTHENTICATE answered 6982): it was made for \
         another issuer's master key"
    )]
    KeysRefused,
    /// PSO answered `6983`: ten wrong PUKs blocked the signing key for good (§8.1).
    #[error(
        "the card's signing key is blocked for good (the PUK was entered wrong ten times): \
         the holder needs a new card"
    )]
    SigningKeyBlocked,
}

impl AppletError {
    fn malformed(what: &'static str, detail: impl Into<String>) -> Self {
        AppletError::Malformed {
            what,
            detail: detail.into(),
        }
    }
}

/// Facts about a card, as `melli info` shows them.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct CardInfo {
    pub reader: String,
    /// ATR, hex.
    pub atr: String,
    pub serial: String,
    pub lifecycle: Lifecycle,
    /// Specification version, "major.minor".
    pub spec_version: String,
}

/// A melli card whose application is selected.
pub struct Applet<T: Transport> {
    channel: CardChannel<T>,
}

impl<T: Transport> Applet<T> {
    /// SELECT the melli application by its AID (§6.1) and use the specification's limits for
    /// everything sent after it.
    pub fn select(transport: T) -> Result<Self, AppletError> {
        let mut channel = CardChannel::new(transport);
        let select = Command::new(
            spec::cla::PLAIN,
            spec::ins::SELECT,
            spec::select::P1_BY_NAME,
            spec::select::P2_NO_DATA,
        )
        .data(spec::AID.to_vec());
        let response = channel.send(&select)?;
        if !response.sw.is_ok() {
            return Err(AppletError::NotMelli(response.sw));
        }
        channel.set_capabilities(Capabilities {
            extended: true,
            chaining: true,
            max_command_data: spec::MAX_COMMAND_DATA,
        });
        Ok(Applet { channel })
    }

    pub fn channel(&mut self) -> &mut CardChannel<T> {
        &mut self.channel
    }

    pub fn traffic(&self) -> Traffic {
        self.channel.traffic()
    }

    pub fn into_transport(self) -> T {
        self.channel.into_transport()
    }

    /// Sends a command and returns its data when the card says `9000`.
    fn run(
        &mut self,
        command: &'static str,
        apdu: &Command,
    ) -> Result<Zeroizing<Vec<u8>>, AppletError> {
        let response = self.channel.send(apdu)?;
        response
            .into_data()
            .map_err(|status| AppletError::Status { command, status })
    }

    /// GET DATA (§6.6): the value of a card data object.
    pub fn get_data(&mut self, tag: u16) -> Result<Zeroizing<Vec<u8>>, AppletError> {
        let [p1, p2] = tag.to_be_bytes();
        let apdu = Command::new(spec::cla::PLAIN, spec::ins::GET_DATA, p1, p2).expect(256);
        self.run("GET DATA", &apdu)
    }

    /// The card serial number (GET DATA `DF01`).
    pub fn serial(&mut self) -> Result<String, AppletError> {
        let raw = self.get_data(spec::data_object::SERIAL)?;
        let valid = !raw.is_empty()
            && raw.len() <= 16
            && raw
                .iter()
                .all(|b| b.is_ascii_digit() || b.is_ascii_uppercase());
        if !valid {
            return Err(AppletError::malformed(
                "serial number",
                format!("{} bytes: {}", raw.len(), hex::encode_upper(&*raw)),
            ));
        }
        Ok(String::from_utf8_lossy(&raw).into_owned())
    }

    /// The lifecycle state (GET DATA `DF02`, §7).
    pub fn lifecycle(&mut self) -> Result<Lifecycle, AppletError> {
        match self.get_data(spec::data_object::LIFECYCLE)?.as_slice() {
            [byte] => Lifecycle::try_from(*byte)
                .map_err(|b| AppletError::malformed("lifecycle state", format!("{b:02X}"))),
            other => Err(AppletError::malformed(
                "lifecycle state",
                format!("{} bytes", other.len()),
            )),
        }
    }

    /// The specification version the card implements (GET DATA `DF03`).
    pub fn spec_version(&mut self) -> Result<(u8, u8), AppletError> {
        match self.get_data(spec::data_object::SPEC_VERSION)?.as_slice() {
            [major, minor] => Ok((*major, *minor)),
            other => Err(AppletError::malformed(
                "specification version",
                format!("{} bytes", other.len()),
            )),
        }
    }

    /// Serial, lifecycle and specification version together, with the reader and ATR.
    pub fn info(&mut self) -> Result<CardInfo, AppletError> {
        let serial = self.serial()?;
        let lifecycle = self.lifecycle()?;
        let (major, minor) = self.spec_version()?;
        let transport = self.channel.transport();
        Ok(CardInfo {
            reader: transport.reader().to_string(),
            atr: hex::encode_upper(transport.atr()),
            serial,
            lifecycle,
            spec_version: format!("{major}.{minor}"),
        })
    }

    /// GET CHALLENGE (§6.7): `len` random bytes from the card, 1..=32.
    pub fn challenge(&mut self, len: usize) -> Result<Zeroizing<Vec<u8>>, AppletError> {
        let apdu = Command::new(spec::cla::PLAIN, spec::ins::GET_CHALLENGE, 0, 0).expect(len);
        let data = self.run("GET CHALLENGE", &apdu)?;
        if data.len() != len {
            return Err(AppletError::malformed(
                "challenge",
                format!("{} bytes instead of {len}", data.len()),
            ));
        }
        Ok(data)
    }

    /// SELECT an elementary file by identifier (§6.1) and return its control parameters.
    pub fn select_file(&mut self, fid: u16) -> Result<FileControl, AppletError> {
        select_file_with(&mut |command, apdu| self.run(command, apdu), fid)
    }

    /// Reads a whole elementary file: SELECT it to learn its length, then READ BINARY with
    /// extended Le, as few APDUs as the card allows (§6.2). Offsets above 32 767 use the
    /// odd-INS form.
    pub fn read_file(&mut self, fid: u16) -> Result<Zeroizing<Vec<u8>>, AppletError> {
        read_file_with(
            &mut |command, apdu| self.run(command, apdu),
            fid,
            spec::MAX_RESPONSE_DATA,
        )
    }
}

/// Sends one command and returns its data when the card says `9000`: plain, or through the
/// secure channel, so that file reading is written once for both.
type Run<'r> = dyn FnMut(&'static str, &Command) -> Result<Zeroizing<Vec<u8>>, AppletError> + 'r;

/// SELECT an elementary file by identifier (§6.1) with `run`; its control parameters.
fn select_file_with(run: &mut Run<'_>, fid: u16) -> Result<FileControl, AppletError> {
    let apdu = Command::new(
        spec::cla::PLAIN,
        spec::ins::SELECT,
        spec::select::P1_EF_UNDER_DF,
        spec::select::P2_FCP,
    )
    .data(fid.to_be_bytes().to_vec())
    .expect(256);
    let fcp = run("SELECT FILE", &apdu)?;
    FileControl::parse(&fcp)
        .map_err(|detail| AppletError::malformed("file control parameters", detail))
}

/// Reads a whole elementary file with `run`: SELECT for its length, then READ BINARY of at
/// most `chunk` bytes at a time.
fn read_file_with(
    run: &mut Run<'_>,
    fid: u16,
    chunk: usize,
) -> Result<Zeroizing<Vec<u8>>, AppletError> {
    let control = select_file_with(run, fid)?;
    let mut content = Zeroizing::new(Vec::with_capacity(control.length));
    while content.len() < control.length {
        let offset = content.len();
        let want = (control.length - offset).min(chunk);
        let part = read_binary_with(run, offset, want)?;
        if part.is_empty() {
            return Err(AppletError::malformed(
                "file length",
                format!(
                    "file {fid:04X} ended at {offset} of {} bytes",
                    control.length
                ),
            ));
        }
        content.extend_from_slice(&part);
    }
    Ok(content)
}

/// READ BINARY of the current file at `offset`, up to `len` bytes, with `run`.
fn read_binary_with(
    run: &mut Run<'_>,
    offset: usize,
    len: usize,
) -> Result<Zeroizing<Vec<u8>>, AppletError> {
    if let Ok(short_offset) = u16::try_from(offset) {
        if short_offset <= 0x7FFF {
            let [p1, p2] = short_offset.to_be_bytes();
            let apdu = Command::new(spec::cla::PLAIN, spec::ins::READ_BINARY, p1, p2)
                .expect(len.min(EXTENDED_MAX_NE));
            return run("READ BINARY", &apdu);
        }
    }
    let offset_bytes = (offset as u32).to_be_bytes();
    let significant = offset_bytes
        .iter()
        .position(|b| *b != 0)
        .unwrap_or(offset_bytes.len() - 1);
    let offset_value = &offset_bytes[significant..];
    let mut data = vec![spec::tag::OFFSET, offset_value.len() as u8];
    data.extend_from_slice(offset_value);
    // The answer is wrapped in `53 L`: ask for room for the header too.
    let apdu = Command::new(spec::cla::PLAIN, spec::ins::READ_BINARY_ODD, 0, 0)
        .data(data)
        .expect((len + 4).min(EXTENDED_MAX_NE));
    let wrapped = run("READ BINARY", &apdu)?;
    fcp::unwrap_discretionary(&wrapped)
        .map(Zeroizing::new)
        .map_err(|detail| AppletError::malformed("READ BINARY answer", detail))
}
