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
pub use fcp::{ApplicationControl, FileControl};
pub use holder::{PinCheckError, PinError, PinVerified, RetryCounters};
pub use lifecycle::Lifecycle;
pub use personalization::{Personalization, PublicPoint};
pub use public_key::parse_public_key;
pub use resume::PinSession;

use zeroize::Zeroizing;

use crate::apdu::{Command, StatusError, StatusWord, EXTENDED_MAX_NE, SHORT_MAX_NE};
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
    /// The FCP the card answered to [`Applet::select`] (§6.1); `None` for a handle that did
    /// not select ([`Applet::resume`]).
    selected: Option<Vec<u8>>,
}

/// A card serial as `DF01` and the application's FCP hold it (§6.1, §6.6): 1–16 characters
/// `0-9`, `A-Z`; `None` for anything else.
fn valid_serial(raw: &[u8]) -> Option<String> {
    let valid = (1..=16).contains(&raw.len())
        && raw
            .iter()
            .all(|b| b.is_ascii_digit() || b.is_ascii_uppercase());
    valid.then(|| String::from_utf8_lossy(raw).into_owned())
}

/// READ BINARY P1 b8: the file is named by the SFI in b5–b1, the offset is P2 (§6.2).
const READ_BY_SFI: u8 = 0x80;

/// The most READ BINARY answers [`Applet::read_file_by_sfi`] takes for one file of at most
/// `max` bytes: what short answers (256 bytes each) need, and one more. A card that gives
/// less at a time is not followed further.
fn answers_for(max: usize) -> usize {
    max.div_ceil(SHORT_MAX_NE) + 1
}

impl<T: Transport> Applet<T> {
    /// SELECT the melli application by its AID asking for its FCP (§6.1), which tells its
    /// lifecycle and, on a 1.1 card, its serial ([`Applet::selected_application`]), and use
    /// the specification's limits for everything sent after it.
    pub fn select(transport: T) -> Result<Self, AppletError> {
        let mut channel = CardChannel::new(transport);
        let select = Command::new(
            spec::cla::PLAIN,
            spec::ins::SELECT,
            spec::select::P1_BY_NAME,
            spec::select::P2_FCP,
        )
        .data(spec::AID.to_vec())
        .expect(SHORT_MAX_NE);
        let response = channel.send(&select)?;
        if !response.sw.is_ok() {
            return Err(AppletError::NotMelli(response.sw));
        }
        channel.set_capabilities(Capabilities {
            extended: true,
            chaining: true,
            max_command_data: spec::MAX_COMMAND_DATA,
        });
        Ok(Applet {
            channel,
            selected: Some(response.data.to_vec()),
        })
    }

    /// What the card said of its application when [`Applet::select`] selected it (§6.1): the
    /// lifecycle then, and on a 1.1 card the serial. `None` for a handle made by
    /// [`Applet::resume`], which sent no SELECT. An FCP that does not parse, or carries a
    /// serial `DF01` could not hold, is a malformed card.
    pub fn selected_application(&self) -> Result<Option<ApplicationControl>, AppletError> {
        self.selected
            .as_deref()
            .map(|fcp| {
                ApplicationControl::parse(fcp)
                    .map_err(|detail| AppletError::malformed("application FCP", detail))
            })
            .transpose()
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
        valid_serial(&raw).ok_or_else(|| {
            AppletError::malformed(
                "serial number",
                format!("{} bytes: {}", raw.len(), hex::encode_upper(&*raw)),
            )
        })
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

    /// Reads a whole elementary file by its short identifier, with no SELECT (§6.2): READ
    /// BINARY with P1 = `80` | SFI, offset 0 and Le = the file's maximum size (§5), extended
    /// when over 256. One APDU: the card answers every byte up to the current length, with
    /// `6282` when the file ended before Le (the usual case) or `9000` when it is full. Le
    /// `00` (256, DG4's maximum) is a wildcard, answered `9000` whatever the length: fewer
    /// bytes than 256 then mean the file ended. An empty file is `6282` with no data.
    ///
    /// Should a card answer `9000` with fewer bytes than an explicit Le — it ran out of room,
    /// not of file — the rest is read from where it stopped, on the EF the SFI made current
    /// (P1 b8 = 0), at most [`answers_for`] times. More bytes than asked is a malformed
    /// card.
    pub fn read_file_by_sfi(&mut self, fid: u16) -> Result<Zeroizing<Vec<u8>>, AppletError> {
        let max = spec::ef::ALL
            .iter()
            .find(|(f, _)| *f == fid)
            .map(|(_, max)| *max)
            .ok_or_else(|| AppletError::malformed("file", format!("no file {fid:04X} in §5")))?;
        let [_, sfi] = fid.to_be_bytes();
        let mut content = Zeroizing::new(Vec::new());
        for _ in 0..answers_for(max) {
            let offset = content.len();
            let want = max - offset;
            let apdu = if offset == 0 {
                Command::new(
                    spec::cla::PLAIN,
                    spec::ins::READ_BINARY,
                    READ_BY_SFI | sfi,
                    0,
                )
            } else {
                // `max` is at most 20 480: the offset fits P1-P2 with b8 = 0.
                let [p1, p2] = (offset as u16).to_be_bytes();
                Command::new(spec::cla::PLAIN, spec::ins::READ_BINARY, p1, p2)
            }
            .expect(want);
            let response = self.channel.send(&apdu)?;
            let ended = match response.sw.check() {
                Ok(()) => want == SHORT_MAX_NE && response.data.len() < want,
                Err(StatusError::EndOfFile) => true,
                Err(status) => {
                    return Err(AppletError::Status {
                        command: "READ BINARY",
                        status,
                    })
                }
            };
            if response.data.len() > want {
                return Err(AppletError::malformed(
                    "READ BINARY answer",
                    format!(
                        "file {fid:04X}: {} bytes at offset {offset}, more than the {want} \
                         asked (its maximum size is {max})",
                        response.data.len()
                    ),
                ));
            }
            content.extend_from_slice(&response.data);
            if ended || content.len() == max {
                return Ok(content);
            }
            if response.data.is_empty() {
                return Err(AppletError::malformed(
                    "READ BINARY answer",
                    format!("file {fid:04X}: no bytes at offset {offset}, and no end of file"),
                ));
            }
        }
        Err(AppletError::malformed(
            "READ BINARY answer",
            format!(
                "file {fid:04X}: still not ended after {} answers ({} bytes)",
                answers_for(max),
                content.len()
            ),
        ))
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
