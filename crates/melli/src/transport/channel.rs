//! The one place where command chaining, `61xx` (GET RESPONSE) and `6Cxx` (resend with the
//! right Le) are handled, for every transport (ISO/IEC 7816-4 §5.3.3, §5.6).

use zeroize::Zeroizing;

use super::{Transport, TransportError};
use crate::apdu::{Command, Response, SHORT_MAX_DATA, SHORT_MAX_NE};

/// GET RESPONSE instruction (ISO/IEC 7816-4 §11.5.6).
const INS_GET_RESPONSE: u8 = 0xC0;
/// CLA bit announcing that more commands of the chain follow.
const CLA_CHAINING: u8 = 0x10;
/// A card that keeps answering `61xx` past this many bytes is not answering sensibly.
const MAX_COLLECTED: usize = 1 << 20;

/// What the card says it can do with lengths, from its ATR (ISO/IEC 7816-4 §8.1.1.2.7, the
/// third software function table of the card capabilities) and, where known, its specification.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Capabilities {
    /// The card takes extended Lc/Le.
    pub extended: bool,
    /// The card takes command chaining.
    pub chaining: bool,
    /// Most data bytes the card takes in one command APDU.
    pub max_command_data: usize,
}

impl Capabilities {
    /// A card we know nothing about: short APDUs only.
    pub const BASIC: Capabilities = Capabilities {
        extended: false,
        chaining: false,
        max_command_data: SHORT_MAX_DATA,
    };

    /// Reads the card capabilities from the historical bytes of an ATR. Anything unreadable
    /// leaves the basic, short-only capabilities.
    pub fn from_atr(atr: &[u8]) -> Capabilities {
        let Some(caps) = historical_bytes(atr).and_then(card_capabilities) else {
            return Capabilities::BASIC;
        };
        let extended = caps & 0x40 != 0;
        Capabilities {
            extended,
            chaining: caps & 0x80 != 0,
            max_command_data: SHORT_MAX_DATA,
        }
    }
}

/// The historical bytes of an ATR (ISO/IEC 7816-3 §8.2): skips TS, T0 and the interface bytes.
fn historical_bytes(atr: &[u8]) -> Option<&[u8]> {
    let t0 = *atr.get(1)?;
    let count = usize::from(t0 & 0x0F);
    let mut y = t0 >> 4;
    let mut pos = 2;
    loop {
        let present = (y & 0x1) + ((y >> 1) & 0x1) + ((y >> 2) & 0x1);
        pos += usize::from(present);
        if y & 0x8 == 0 {
            break;
        }
        let td = *atr.get(pos)?;
        pos += 1;
        y = td >> 4;
    }
    atr.get(pos..pos.checked_add(count)?)
}

/// The third byte of the card-capabilities compact-TLV object (tag 7) when the historical bytes
/// start with category indicator `80` (compact-TLV objects follow).
fn card_capabilities(historical: &[u8]) -> Option<u8> {
    let (&category, mut rest) = historical.split_first()?;
    if category != 0x80 {
        return None;
    }
    while let Some((&tl, tail)) = rest.split_first() {
        let (tag, len) = (tl >> 4, usize::from(tl & 0x0F));
        let value = tail.get(..len)?;
        if tag == 0x7 && len == 3 {
            return value.get(2).copied();
        }
        rest = tail.get(len..)?;
    }
    None
}

/// Counters of what crossed the transport, for benchmarks and the `--verbose` summary.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize)]
pub struct Traffic {
    pub apdus: u64,
    pub bytes_sent: u64,
    pub bytes_received: u64,
}

/// A transport plus the APDU-level rules every command obeys.
pub struct CardChannel<T: Transport> {
    transport: T,
    caps: Capabilities,
    traffic: Traffic,
}

impl<T: Transport> CardChannel<T> {
    /// Wraps a transport, taking the card's capabilities from its ATR.
    pub fn new(transport: T) -> Self {
        let caps = Capabilities::from_atr(transport.atr());
        CardChannel {
            transport,
            caps,
            traffic: Traffic::default(),
        }
    }

    pub fn capabilities(&self) -> Capabilities {
        self.caps
    }

    /// Replaces the capabilities, e.g. with the limits a card's specification states.
    pub fn set_capabilities(&mut self, caps: Capabilities) {
        self.caps = caps;
    }

    pub fn transport(&self) -> &T {
        &self.transport
    }

    pub fn transport_mut(&mut self) -> &mut T {
        &mut self.transport
    }

    pub fn into_transport(self) -> T {
        self.transport
    }

    pub fn traffic(&self) -> Traffic {
        self.traffic
    }

    /// Sends a command and returns the card's final answer: chained if its data exceed what the
    /// card takes in one APDU, resent once with the right Le on `6Cxx`, and completed with GET
    /// RESPONSE on `61xx`. The status word is returned as the card gave it, not checked.
    pub fn send(&mut self, command: &Command) -> Result<Response, TransportError> {
        let data = command.data_bytes();
        let ne = command.ne().map(|ne| self.fit_ne(ne));
        let chunk = self.caps.max_command_data.max(1);
        if data.len() > chunk && self.caps.chaining {
            let mut chunks = data.chunks(chunk).peekable();
            while let Some(part) = chunks.next() {
                if chunks.peek().is_none() {
                    let last = command.with_cla_data_ne(command.cla, part, ne);
                    return self.send_single(&last);
                }
                let link = command.with_cla_data_ne(command.cla | CLA_CHAINING, part, None);
                let response = self.exchange(&link)?;
                if !response.sw.is_ok() {
                    return Ok(response);
                }
            }
        }
        self.send_single(&command.with_cla_data_ne(command.cla, data, ne))
    }

    /// Most Ne this card can be asked for in one APDU.
    fn fit_ne(&self, ne: usize) -> usize {
        if self.caps.extended {
            ne
        } else {
            ne.min(SHORT_MAX_NE)
        }
    }

    fn send_single(&mut self, command: &Command) -> Result<Response, TransportError> {
        let mut response = self.exchange(command)?;
        if response.sw.sw1() == 0x6C {
            let exact = match response.sw.sw2() {
                0 => SHORT_MAX_NE,
                n => usize::from(n),
            };
            let again = command.with_cla_data_ne(command.cla, command.data_bytes(), Some(exact));
            response = self.exchange(&again)?;
        }
        self.collect_remaining(response)
    }

    /// Follows `61xx` with GET RESPONSE until the card has given everything.
    fn collect_remaining(&mut self, first: Response) -> Result<Response, TransportError> {
        let mut response = first;
        if response.sw.sw1() != 0x61 {
            return Ok(response);
        }
        let mut data = Zeroizing::new(std::mem::take(&mut *response.data));
        while response.sw.sw1() == 0x61 {
            let ne = match response.sw.sw2() {
                0 => SHORT_MAX_NE,
                n => usize::from(n),
            };
            let get = Command::new(0x00, INS_GET_RESPONSE, 0, 0).expect(ne);
            response = self.exchange(&get)?;
            data.extend_from_slice(&response.data);
            if data.len() > MAX_COLLECTED {
                return Err(TransportError::MalformedResponse(data.len()));
            }
        }
        Ok(Response {
            data,
            sw: response.sw,
        })
    }

    /// One APDU on the wire, in the shortest form that holds it.
    fn exchange(&mut self, command: &Command) -> Result<Response, TransportError> {
        let bytes = command.to_bytes()?;
        let answer = Zeroizing::new(self.transport.transmit(&bytes)?);
        self.traffic.apdus += 1;
        self.traffic.bytes_sent += bytes.len() as u64;
        self.traffic.bytes_received += answer.len() as u64;
        Response::parse(&answer).map_err(|_| TransportError::MalformedResponse(answer.len()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::apdu::StatusWord;
    use std::collections::VecDeque;

    /// A transport that records what it was sent and answers from a script.
    struct Scripted {
        sent: Vec<Vec<u8>>,
        answers: VecDeque<Vec<u8>>,
        atr: Vec<u8>,
    }

    impl Scripted {
        fn new(atr: &[u8], answers: &[&str]) -> Self {
            Scripted {
                sent: Vec::new(),
                answers: answers
                    .iter()
                    .map(|a| hex::decode(a).expect("test hex"))
                    .collect(),
                atr: atr.to_vec(),
            }
        }
    }

    impl Transport for Scripted {
        fn transmit(&mut self, command: &[u8]) -> Result<Vec<u8>, TransportError> {
            self.sent.push(command.to_vec());
            self.answers
                .pop_front()
                .ok_or(TransportError::CardUnresponsive)
        }
        fn atr(&self) -> &[u8] {
            &self.atr
        }
        fn reader(&self) -> &str {
            "scripted"
        }
    }

    const MELLI_ATR: [u8; 16] = crate::spec::ATR;

    #[test]
    fn reads_capabilities_from_atr() {
        let caps = Capabilities::from_atr(&MELLI_ATR);
        assert!(caps.extended && caps.chaining);
        // Capabilities announcing chaining but short lengths only (third byte 80).
        let short_only = hex::decode("3B8580018073000080").expect("hex");
        let caps = Capabilities::from_atr(&short_only);
        assert!(caps.chaining && !caps.extended);
        assert_eq!(Capabilities::from_atr(&[0x3B]), Capabilities::BASIC);
        assert_eq!(Capabilities::from_atr(&[]), Capabilities::BASIC);
        assert_eq!(
            Capabilities::from_atr(&[0x3B, 0xFF, 0xFF]),
            Capabilities::BASIC
        );
    }

    #[test]
    fn follows_get_response() {
        let t = Scripted::new(&[0x3B, 0x00], &["AABB6103", "CCDDEE9000"]);
        let mut ch = CardChannel::new(t);
        let r = ch
            .send(&Command::new(0, 0xCA, 0xDF, 0x01).expect(256))
            .expect("sent");
        assert_eq!(&*r.data, &[0xAA, 0xBB, 0xCC, 0xDD, 0xEE]);
        assert!(r.sw.is_ok());
        assert_eq!(
            ch.transport().sent[1],
            hex::decode("00C0000003").expect("hex")
        );
        assert_eq!(ch.traffic().apdus, 2);
    }

    #[test]
    fn resends_with_the_exact_le() {
        let t = Scripted::new(
            &[0x3B, 0x00],
            &["6C20", &format!("{}9000", "11".repeat(32))],
        );
        let mut ch = CardChannel::new(t);
        let r = ch
            .send(&Command::new(0, 0x84, 0, 0).expect(256))
            .expect("sent");
        assert_eq!(r.data.len(), 32);
        assert_eq!(
            ch.transport().sent[1],
            hex::decode("0084000020").expect("hex")
        );
    }

    #[test]
    fn chains_long_data() {
        let t = Scripted::new(&MELLI_ATR, &["9000", "9000", "9000"]);
        let mut ch = CardChannel::new(t);
        ch.set_capabilities(Capabilities {
            extended: true,
            chaining: true,
            max_command_data: 100,
        });
        let r = ch
            .send(&Command::new(0x0C, 0xD6, 0, 0).data(vec![7; 250]))
            .expect("sent");
        assert!(r.sw.is_ok());
        let sent = &ch.transport().sent;
        assert_eq!(sent.len(), 3);
        assert_eq!(&sent[0][..5], &[0x1C, 0xD6, 0, 0, 100]);
        assert_eq!(&sent[1][..5], &[0x1C, 0xD6, 0, 0, 100]);
        assert_eq!(&sent[2][..5], &[0x0C, 0xD6, 0, 0, 50]);
    }

    #[test]
    fn stops_a_chain_the_card_refuses() {
        let t = Scripted::new(&MELLI_ATR, &["6A84"]);
        let mut ch = CardChannel::new(t);
        ch.set_capabilities(Capabilities {
            extended: true,
            chaining: true,
            max_command_data: 10,
        });
        let r = ch
            .send(&Command::new(0, 0xD6, 0, 0).data(vec![7; 25]))
            .expect("sent");
        assert_eq!(r.sw, StatusWord(0x6A84));
        assert_eq!(ch.transport().sent.len(), 1);
    }

    #[test]
    fn caps_ne_for_short_only_cards() {
        let t = Scripted::new(&[0x3B, 0x00], &["9000"]);
        let mut ch = CardChannel::new(t);
        ch.send(&Command::new(0, 0xB0, 0, 0).expect(4000))
            .expect("sent");
        assert_eq!(
            ch.transport().sent[0],
            hex::decode("00B0000000").expect("hex")
        );
    }

    #[test]
    fn rejects_a_one_byte_response() {
        let t = Scripted::new(&[0x3B, 0x00], &["90"]);
        let mut ch = CardChannel::new(t);
        assert!(matches!(
            ch.send(&Command::new(0, 0xB0, 0, 0).expect(1)),
            Err(TransportError::MalformedResponse(1))
        ));
    }
}
