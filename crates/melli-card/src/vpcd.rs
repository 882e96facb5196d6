//! The link to vsmartcard's vpcd reader driver (shared/TEST-ENVIRONMENT.md): the card is a TCP
//! client of vpcd, which listens (port 35963 for its first reader).
//!
//! Every message, both ways, is a two-byte big-endian length and then that many bytes. From
//! vpcd, a one-byte message is a control — `00` power off, `01` power on, `02` reset, `04` send
//! the ATR (the only one answered) — and a longer one a command APDU, answered with the
//! response APDU.
//!
//! Fault injection ([`serve_with`], [`Options::tear_at`]): the card can be "pulled" right
//! after it has processed the k-th command APDU — its state saved, as a real chip that finished
//! its write — without the answer being sent: the connection drops, the card powers off, and
//! after [`Options::reinsert_after`] it connects again as a re-inserted card (a fresh session)
//! and serves normally from then on. This is how the resume tests of personalization pull the
//! card at every step.
//!
//! Timing ([`Options::timing`], `melli card serve --timing`): a card with a profile other than
//! `fast` sleeps, before each answer, what [`crate::timing`] models for the APDU, and logs one
//! line `timing: C + R bytes, modelled D us` for it (lengths only, never content).
//!
//! Latency: vpcd writes the length and the APDU in separate segments; with delayed ACKs on our
//! side, Nagle's algorithm in vpcd holds the second one back for ~40 ms. Re-arming
//! `TCP_QUICKACK` (not sticky on Linux) before every read removes that: 0.14 ms per APDU
//! instead of 44 ms.

use std::io::{self, Read, Write};
use std::net::{SocketAddr, TcpStream, ToSocketAddrs};
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread;
use std::time::{Duration, Instant};

use super::timing::Profile;
use super::{Card, CardError};
use crate::spec::lifecycle;

/// vpcd's port for its first reader.
pub const DEFAULT_ADDR: &str = "127.0.0.1:35963";

/// Pause between two connection attempts.
const RETRY_INTERVAL: Duration = Duration::from_millis(150);
/// How long one read waits, so that `stop` is noticed within this time.
const READ_TIMEOUT: Duration = Duration::from_millis(200);
/// A vpcd that does not take our response within this time is treated as gone.
const WRITE_TIMEOUT: Duration = Duration::from_secs(5);
const CONNECT_TIMEOUT: Duration = Duration::from_secs(1);

/// Control messages from vpcd.
mod control {
    pub const POWER_OFF: u8 = 0x00;
    pub const POWER_ON: u8 = 0x01;
    pub const RESET: u8 = 0x02;
    pub const ATR: u8 = 0x04;
}

/// How [`serve_with`] behaves beyond plain serving.
#[derive(Clone, Copy, Debug)]
pub struct Options {
    /// Pull the card after the k-th command APDU (counted from 1 since `serve_with` started,
    /// across reconnections; vpcd's control messages do not count): APDU k is processed
    /// completely and its state change saved, then the connection is dropped without the
    /// answer. Only once. `None` (the default): never.
    pub tear_at: Option<u64>,
    /// How long a pulled card stays out before it connects again. The default, 1 s, is more
    /// than twice pcscd's 400 ms polling interval, so that pcscd sees the card removed and
    /// inserted again.
    pub reinsert_after: Duration,
    /// Leave the reader for good once issued: a card in OPERATIONAL state (or later) that vpcd
    /// powers off or resets (the host has let go of it) drops its connection, and
    /// [`serve_with`] returns [`Served::Ejected`]. What a card feeder does with finished cards.
    pub eject_issued: bool,
    /// Time the card takes for each command APDU before it answers, like a real chip's
    /// processing time (tens of milliseconds for a write or a key generation). Zero: at once.
    pub apdu_delay: Duration,
    /// How long a real contact chip would take ([`crate::timing`]): before it answers, the
    /// card sleeps what the profile gives for this APDU's bytes and the work the card did,
    /// less the time it already spent (after `apdu_delay`). [`Profile::FAST`]: no delay.
    pub timing: Profile,
}

/// Why [`serve_with`] returned.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Served {
    /// `stop` was set.
    Stopped,
    /// The card was issued and the host let go of it (see [`Options::eject_issued`]).
    Ejected,
}

impl Default for Options {
    fn default() -> Options {
        Options {
            tear_at: None,
            reinsert_after: Duration::from_secs(1),
            eject_issued: false,
            apdu_delay: Duration::ZERO,
            timing: Profile::FAST,
        }
    }
}

/// Serves `card` to the vpcd at `addr` (`HOST:PORT`) until `stop` becomes true.
///
/// Connects, answers vpcd's messages, and when the connection is refused or drops, tries again
/// every 150 ms; a dropped connection powers the card off (the session ends, the persistent
/// state stays). Reports connections, disconnections, power events and failed state saves
/// through `log`, one line each, and never the content of an APDU. Fails only when `addr`
/// cannot be resolved.
pub fn serve(
    card: &mut Card,
    addr: &str,
    stop: &AtomicBool,
    log: impl FnMut(&str),
) -> Result<(), CardError> {
    serve_with(card, addr, stop, log, Options::default()).map(|_| ())
}

/// [`serve`], with the fault injection of `options`: a pulled card is logged as "card pulled
/// after command APDU k (its answer not sent)".
pub fn serve_with(
    card: &mut Card,
    addr: &str,
    stop: &AtomicBool,
    mut log: impl FnMut(&str),
    options: Options,
) -> Result<Served, CardError> {
    let targets = resolve(addr)?;
    let mut told_unreachable = false;
    let mut tear = Tear {
        at: options.tear_at,
        commands: 0,
    };
    while !stop.load(Ordering::Relaxed) {
        match connect(&targets) {
            Ok((stream, peer)) => {
                told_unreachable = false;
                log(&format!("connected to vpcd at {peer}"));
                let end = Link::new(card, stream, stop, &mut log, &mut tear, &options).run();
                card.power_off();
                match end {
                    End::Stopped => log("disconnected from vpcd: stopping"),
                    End::Closed => log("disconnected from vpcd: connection closed"),
                    End::Failed(error) => log(&format!("disconnected from vpcd: {error}")),
                    End::Ejected => {
                        log("issued and let go by the host: out of the reader");
                        return Ok(Served::Ejected);
                    }
                    End::Torn(k) => {
                        log(&format!(
                            "card pulled after command APDU {k} (its answer not sent); \
                             reinserting in {} ms",
                            options.reinsert_after.as_millis()
                        ));
                        pause(options.reinsert_after, stop);
                    }
                }
            }
            Err(error) => {
                if !told_unreachable {
                    log(&format!(
                        "vpcd at {addr} not reachable ({error}); retrying every {} ms",
                        RETRY_INTERVAL.as_millis()
                    ));
                    told_unreachable = true;
                }
            }
        }
        if !stop.load(Ordering::Relaxed) {
            thread::sleep(RETRY_INTERVAL);
        }
    }
    Ok(Served::Stopped)
}

/// Sleeps for `duration`, or less if `stop` is set meanwhile.
fn pause(duration: Duration, stop: &AtomicBool) {
    let started = Instant::now();
    while !stop.load(Ordering::Relaxed) {
        let left = duration.saturating_sub(started.elapsed());
        if left.is_zero() {
            break;
        }
        thread::sleep(left.min(READ_TIMEOUT));
    }
}

/// The fault-injection counter: command APDUs seen so far, and when to pull the card.
struct Tear {
    at: Option<u64>,
    commands: u64,
}

impl Tear {
    /// Counts one command APDU; true if the card is to be pulled after it (once only).
    fn count(&mut self) -> bool {
        self.commands = self.commands.saturating_add(1);
        if self.at == Some(self.commands) {
            self.at = None;
            true
        } else {
            false
        }
    }
}

fn resolve(addr: &str) -> Result<Vec<SocketAddr>, CardError> {
    let error = |reason: String| CardError::VpcdAddress {
        addr: addr.to_owned(),
        reason,
    };
    let targets: Vec<SocketAddr> = addr
        .to_socket_addrs()
        .map_err(|e| error(e.to_string()))?
        .collect();
    if targets.is_empty() {
        return Err(error("it resolves to no address".to_owned()));
    }
    Ok(targets)
}

fn connect(targets: &[SocketAddr]) -> io::Result<(TcpStream, SocketAddr)> {
    let mut last = io::Error::new(io::ErrorKind::NotFound, "no address to connect to");
    for target in targets {
        match TcpStream::connect_timeout(target, CONNECT_TIMEOUT) {
            Ok(stream) => return Ok((stream, *target)),
            Err(error) => last = error,
        }
    }
    Err(last)
}

/// How a connection ended.
enum End {
    Stopped,
    Closed,
    Failed(io::Error),
    /// The card was pulled after this command APDU (fault injection).
    Torn(u64),
    /// The card was issued and let go of: it left the reader.
    Ejected,
}

/// What to do after a message from vpcd.
enum Action {
    Send(Vec<u8>),
    Nothing,
    /// Drop the connection without an answer: the card is pulled.
    Tear(u64),
    /// Drop the connection: the card leaves the reader for good.
    Eject,
}

/// Why no message was read.
enum NoMessage {
    /// Nothing arrived within the read timeout: a chance to look at `stop`.
    Idle,
    /// The connection ended (or `stop` was set in the middle of a message).
    End(End),
}

/// One connection to vpcd.
struct Link<'a, L: FnMut(&str)> {
    card: &'a mut Card,
    stream: TcpStream,
    stop: &'a AtomicBool,
    log: &'a mut L,
    tear: &'a mut Tear,
    options: &'a Options,
}

impl<'a, L: FnMut(&str)> Link<'a, L> {
    fn new(
        card: &'a mut Card,
        stream: TcpStream,
        stop: &'a AtomicBool,
        log: &'a mut L,
        tear: &'a mut Tear,
        options: &'a Options,
    ) -> Self {
        Link {
            card,
            stream,
            stop,
            log,
            tear,
            options,
        }
    }

    /// Whether the card leaves the reader now that the host let go of it.
    fn leaves(&self) -> bool {
        self.options.eject_issued && self.card.lifecycle() >= lifecycle::OPERATIONAL
    }

    fn run(mut self) -> End {
        if let Err(error) = self.configure() {
            return End::Failed(error);
        }
        loop {
            if self.stop.load(Ordering::Relaxed) {
                return End::Stopped;
            }
            let message = match self.read_message() {
                Ok(message) => message,
                Err(NoMessage::Idle) => continue,
                Err(NoMessage::End(end)) => return end,
            };
            match self.answer(&message) {
                Action::Send(reply) => {
                    if let Err(error) = self.send(&reply) {
                        return End::Failed(error);
                    }
                }
                Action::Nothing => {}
                Action::Tear(k) => {
                    let _ = self.stream.shutdown(std::net::Shutdown::Both);
                    return End::Torn(k);
                }
                Action::Eject => {
                    let _ = self.stream.shutdown(std::net::Shutdown::Both);
                    return End::Ejected;
                }
            }
        }
    }

    fn configure(&self) -> io::Result<()> {
        self.stream.set_nodelay(true)?;
        self.stream.set_read_timeout(Some(READ_TIMEOUT))?;
        self.stream.set_write_timeout(Some(WRITE_TIMEOUT))
    }

    /// Handles one message from vpcd: what to send back, if anything, or whether to pull the
    /// card instead.
    fn answer(&mut self, message: &[u8]) -> Action {
        match *message {
            [] => Action::Nothing,
            [control::POWER_OFF] => {
                self.card.power_off();
                (self.log)("power off");
                if self.leaves() {
                    Action::Eject
                } else {
                    Action::Nothing
                }
            }
            [control::POWER_ON] => {
                self.card.power_on();
                (self.log)("power on");
                Action::Nothing
            }
            [control::RESET] => {
                self.card.reset();
                (self.log)("reset");
                if self.leaves() {
                    Action::Eject
                } else {
                    Action::Nothing
                }
            }
            [control::ATR] => Action::Send(self.card.atr().to_vec()),
            [other] => {
                (self.log)(&format!("ignored unknown vpcd control byte {other:02X}"));
                Action::Nothing
            }
            _ => {
                if !self.options.apdu_delay.is_zero() {
                    thread::sleep(self.options.apdu_delay);
                }
                let started = Instant::now();
                let response = self.card.process(message);
                let modelled = self.options.timing.delay(
                    message.len(),
                    response.len(),
                    &self.card.last_work(),
                );
                let left = modelled.saturating_sub(started.elapsed());
                if !left.is_zero() {
                    thread::sleep(left);
                }
                if !self.options.timing.is_fast() {
                    // Lengths and times only, never the content of an APDU.
                    (self.log)(&format!(
                        "timing: {} + {} bytes, modelled {} us",
                        message.len(),
                        response.len(),
                        modelled.as_micros()
                    ));
                }
                if let Some(error) = self.card.take_storage_failure() {
                    (self.log)(&format!("card state not saved, answered 6581: {error}"));
                }
                if self.tear.count() {
                    Action::Tear(self.tear.commands)
                } else {
                    Action::Send(response)
                }
            }
        }
    }

    /// Reads one whole message. Idle only if not a single byte of it has arrived yet: once a
    /// message has begun, read timeouts are waited through, so the framing never slips.
    fn read_message(&mut self) -> Result<Vec<u8>, NoMessage> {
        let mut header = [0u8; 2];
        self.read_exact(&mut header, true)?;
        let mut body = vec![0u8; usize::from(u16::from_be_bytes(header))];
        self.read_exact(&mut body, false)?;
        Ok(body)
    }

    /// Fills `buffer`, re-arming quick ACKs before every read.
    fn read_exact(&mut self, buffer: &mut [u8], may_idle: bool) -> Result<(), NoMessage> {
        let mut filled = 0usize;
        while let Some(free) = buffer.get_mut(filled..).filter(|free| !free.is_empty()) {
            arm_quickack(&self.stream);
            match self.stream.read(free) {
                Ok(0) => return Err(NoMessage::End(End::Closed)),
                Ok(n) => filled = filled.saturating_add(n),
                Err(e) if is_timeout(&e) => {
                    if may_idle && filled == 0 {
                        return Err(NoMessage::Idle);
                    }
                    if self.stop.load(Ordering::Relaxed) {
                        return Err(NoMessage::End(End::Stopped));
                    }
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(NoMessage::End(End::Failed(e))),
            }
        }
        Ok(())
    }

    /// Sends one message, length and bytes in a single write.
    fn send(&mut self, bytes: &[u8]) -> io::Result<()> {
        // A response is at most 65 533 data bytes and a status word, so it always fits the
        // length field; should it not, the card answers 6F00 rather than break the framing.
        let fallback = crate::spec::sw::NO_PRECISE_DIAGNOSIS.to_be_bytes();
        let (length, bytes) = match u16::try_from(bytes.len()) {
            Ok(length) => (length, bytes),
            Err(_) => (2, &fallback[..]),
        };
        let mut frame = Vec::with_capacity(bytes.len().saturating_add(2));
        frame.extend_from_slice(&length.to_be_bytes());
        frame.extend_from_slice(bytes);
        self.stream.write_all(&frame)?;
        self.stream.flush()
    }
}

fn is_timeout(error: &io::Error) -> bool {
    matches!(
        error.kind(),
        io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
    )
}

/// Asks the kernel to acknowledge the next segment at once (Linux; not sticky, so before every
/// read). A failure costs latency only, never correctness.
#[cfg(any(target_os = "linux", target_os = "android", target_os = "fuchsia"))]
fn arm_quickack(stream: &TcpStream) {
    let _ = socket2::SockRef::from(stream).set_quickack(true);
}

/// Other systems have no such option (nor the delayed-ACK trap it works around).
#[cfg(not(any(target_os = "linux", target_os = "android", target_os = "fuchsia")))]
fn arm_quickack(_: &TcpStream) {}

#[cfg(test)]
mod tests;
