//! How long a real contact chip would take to answer (`melli card serve --timing PROFILE`,
//! docs/card-timing.md): the virtual card works out, for every command APDU, the time the link
//! and the chip would have needed, and [`crate::vpcd`] sleeps that long before it answers.
//!
//! The model, from the APDU actually exchanged and the work the card actually did:
//!
//! - **link** (ISO/IEC 7816-3 T=1): every byte takes 11 etu (start bit, 8 data bits, parity,
//!   one guard etu), one etu being 1/`bit_rate` s. A message of n bytes (the command APDU to
//!   the card, the response APDU back) travels in b = max(1, ⌈n / IFSC⌉) I-blocks, each with
//!   a 3-byte prologue (NAD, PCB, LEN) and a 1-byte LRC; each of the b − 1 chained I-blocks
//!   is acknowledged by a 4-byte R-block from the other side. So n bytes cost
//!   n + 4·b + 4·(b − 1) characters. Left out (all small beside the above): the block guard
//!   time between two blocks in opposite directions, IFS negotiation at power-on, the ATR,
//!   and the reader's own USB (CCID) latency.
//! - **chip**: a fixed time per command APDU (dispatch, applet selection of the handler,
//!   the transaction commit), and then per operation the card carried out while answering:
//!   P-256 key generations, ECDSA signatures, AES blocks (CBC, CMAC, one-block), PIN/PUK
//!   comparisons, fingerprint matches, and bytes written to non-volatile memory (per started
//!   64-byte page).
//!
//! The card counts its operations as it does them ([`note`]); [`crate::Card::process`] hands
//! the count of each APDU over as a [`Work`].

use std::cell::Cell;
use std::time::Duration;

use serde::Deserialize;

/// What the card did while answering one command APDU: the operations whose time a real chip
/// would spend.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Work {
    /// P-256 key pairs generated.
    pub key_generations: u32,
    /// ECDSA P-256 signatures made.
    pub signatures: u32,
    /// AES-128 block operations (CBC either way, CMAC, a single block).
    pub aes_blocks: u32,
    /// PIN or PUK comparisons with the reference data.
    pub pin_checks: u32,
    /// Fingerprint template matches (match-on-card).
    pub finger_matches: u32,
    /// Bytes written into files by UPDATE BINARY.
    pub nvm_bytes: u32,
}

impl Work {
    fn plus(self, other: Work) -> Work {
        Work {
            key_generations: self.key_generations.saturating_add(other.key_generations),
            signatures: self.signatures.saturating_add(other.signatures),
            aes_blocks: self.aes_blocks.saturating_add(other.aes_blocks),
            pin_checks: self.pin_checks.saturating_add(other.pin_checks),
            finger_matches: self.finger_matches.saturating_add(other.finger_matches),
            nvm_bytes: self.nvm_bytes.saturating_add(other.nvm_bytes),
        }
    }
}

thread_local! {
    /// The work of the APDU being processed on this thread (a card is served by one thread).
    static LEDGER: Cell<Work> = const { Cell::new(Work {
        key_generations: 0,
        signatures: 0,
        aes_blocks: 0,
        pin_checks: 0,
        finger_matches: 0,
        nvm_bytes: 0,
    }) };
}

/// Counts `work` as done by the APDU being processed.
pub(crate) fn note(work: Work) {
    LEDGER.with(|ledger| ledger.set(ledger.get().plus(work)));
}

/// The work counted since the last call, and a fresh count.
pub(crate) fn take() -> Work {
    LEDGER.with(Cell::take)
}

/// AES blocks in `bytes` bytes of data: at least one (a CMAC of nothing still runs a block).
pub(crate) fn aes_blocks(bytes: usize) -> u32 {
    let blocks = bytes.div_ceil(16).max(1);
    u32::try_from(blocks).unwrap_or(u32::MAX)
}

/// The serial link of a contact card in T=1.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Link {
    /// Bits per second (1 etu = 1/bit_rate s): 9 600 at the default Fi/Di = 372/1 and a
    /// 3.5712 MHz clock; 115 200 with TA1 = 18 (372/12); 230 400 with TA1 = 95 (512/32) at
    /// 3.6864 MHz.
    pub bit_rate: u32,
    /// etu per character: 11 in T=1 (12 is the minimum in T=0).
    #[serde(default = "default_etu_per_byte")]
    pub etu_per_byte: u32,
    /// The most information bytes in one I-block (IFSC, and IFSD the other way): 254 at most.
    #[serde(default = "default_ifsc")]
    pub ifsc: u16,
}

fn default_etu_per_byte() -> u32 {
    11
}

fn default_ifsc() -> u16 {
    254
}

/// Prologue (NAD, PCB, LEN) and epilogue (LRC) of one T=1 block.
const BLOCK_FRAMING: u64 = 4;

impl Link {
    /// Characters on the wire for a message of `bytes` bytes, with its I-block framing and the
    /// R-blocks that acknowledge its chained blocks.
    pub fn characters(&self, bytes: usize) -> u64 {
        let bytes = u64::try_from(bytes).unwrap_or(u64::MAX);
        let ifsc = u64::from(self.ifsc.max(1));
        let blocks = bytes.div_ceil(ifsc).max(1);
        let acks = blocks.saturating_sub(1);
        bytes
            .saturating_add(blocks.saturating_mul(BLOCK_FRAMING))
            .saturating_add(acks.saturating_mul(BLOCK_FRAMING))
    }

    /// Time to send `characters` characters.
    fn time(&self, characters: u64) -> Duration {
        let etus = u128::from(characters).saturating_mul(u128::from(self.etu_per_byte));
        let nanos = etus
            .saturating_mul(1_000_000_000)
            .checked_div(u128::from(self.bit_rate))
            .unwrap_or(0);
        Duration::from_nanos(u64::try_from(nanos).unwrap_or(u64::MAX))
    }

    /// Time to carry a command APDU of `command` bytes to the card and a response APDU of
    /// `response` bytes back.
    pub fn exchange(&self, command: usize, response: usize) -> Duration {
        self.time(
            self.characters(command)
                .saturating_add(self.characters(response)),
        )
    }
}

/// The chip's own times, in microseconds (docs/card-timing.md names where each comes from).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Chip {
    /// Every command APDU: the operating system's dispatch and the applet's own checks.
    pub per_apdu_us: u32,
    /// One P-256 key pair generation.
    pub key_generation_us: u32,
    /// One ECDSA P-256 signature over a hash value.
    pub signature_us: u32,
    /// One AES-128 block.
    pub aes_block_us: u32,
    /// One PIN or PUK comparison, with the try-counter writes around it.
    pub pin_check_us: u32,
    /// One fingerprint match on the card.
    pub finger_match_us: u32,
    /// Each started 64-byte page written into a file.
    pub nvm_page_us: u32,
}

/// The bytes of one page of non-volatile memory.
const NVM_PAGE: u32 = 64;

impl Chip {
    /// No time at all.
    pub const NONE: Chip = Chip {
        per_apdu_us: 0,
        key_generation_us: 0,
        signature_us: 0,
        aes_block_us: 0,
        pin_check_us: 0,
        finger_match_us: 0,
        nvm_page_us: 0,
    };

    /// The figures of the built-in profiles: an NXP JCOP4 (P71) Java Card as measured by
    /// JCAlgTest, and estimates where no measurement was found (docs/card-timing.md).
    pub const JCOP4: Chip = Chip {
        per_apdu_us: 2_000,
        key_generation_us: 26_800,
        signature_us: 32_000,
        aes_block_us: 100,
        pin_check_us: 10_000,
        finger_match_us: 250_000,
        nvm_page_us: 1_000,
    };

    /// The chip's time for `work`, the fixed per-APDU time included.
    pub fn time(&self, work: &Work) -> Duration {
        let each = |count: u32, micros: u32| u64::from(count).saturating_mul(u64::from(micros));
        let pages = work.nvm_bytes.div_ceil(NVM_PAGE);
        let micros = [
            u64::from(self.per_apdu_us),
            each(work.key_generations, self.key_generation_us),
            each(work.signatures, self.signature_us),
            each(work.aes_blocks, self.aes_block_us),
            each(work.pin_checks, self.pin_check_us),
            each(work.finger_matches, self.finger_match_us),
            each(pages, self.nvm_page_us),
        ]
        .into_iter()
        .fold(0u64, u64::saturating_add);
        Duration::from_micros(micros)
    }
}

impl Default for Chip {
    fn default() -> Chip {
        Chip::JCOP4
    }
}

/// A timing profile: the link (none: the bytes take no time) and the chip.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Profile {
    #[serde(default)]
    pub link: Option<Link>,
    #[serde(default)]
    pub chip: Chip,
}

/// Why a profile file was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ProfileError {
    #[error("not a timing profile: {0}")]
    Syntax(String),
    #[error("link bit_rate {0}: give 1 200 to 1 000 000 bit/s")]
    BitRate(u32),
    #[error("link ifsc {0}: give 1 to 254 bytes")]
    Ifsc(u16),
    #[error("link etu_per_byte {0}: give 11 to 16")]
    EtuPerByte(u32),
}

impl Profile {
    /// No delay at all: the virtual card as fast as it is.
    pub const FAST: Profile = Profile {
        link: None,
        chip: Chip::NONE,
    };

    /// The built-in profiles, by name, with a one-line description each.
    pub const BUILT_IN: [(&'static str, &'static str); 4] = [
        ("fast", "no delay (the default)"),
        ("t1-9600", "T=1 at 9 600 bit/s and a JCOP4-class chip"),
        ("t1-115200", "T=1 at 115 200 bit/s and a JCOP4-class chip"),
        ("t1-230400", "T=1 at 230 400 bit/s and a JCOP4-class chip"),
    ];

    /// A contact chip on a T=1 link at `bit_rate`, with the [`Chip::JCOP4`] figures.
    pub const fn t1(bit_rate: u32) -> Profile {
        Profile {
            link: Some(Link {
                bit_rate,
                etu_per_byte: 11,
                ifsc: 254,
            }),
            chip: Chip::JCOP4,
        }
    }

    /// The built-in profile called `name`.
    pub fn built_in(name: &str) -> Option<Profile> {
        match name {
            "fast" => Some(Profile::FAST),
            "t1-9600" => Some(Profile::t1(9_600)),
            "t1-115200" => Some(Profile::t1(115_200)),
            "t1-230400" => Some(Profile::t1(230_400)),
            _ => None,
        }
    }

    /// A profile from its JSON text (docs/card-timing.md): `link` (`bit_rate`, and optionally
    /// `etu_per_byte`, `ifsc`) and `chip` (any of the `*_us` figures; the others keep the
    /// built-in ones).
    pub fn from_json(text: &str) -> Result<Profile, ProfileError> {
        let profile: Profile =
            serde_json::from_str(text).map_err(|e| ProfileError::Syntax(e.to_string()))?;
        if let Some(link) = profile.link {
            if !(1_200..=1_000_000).contains(&link.bit_rate) {
                return Err(ProfileError::BitRate(link.bit_rate));
            }
            if !(1..=254).contains(&link.ifsc) {
                return Err(ProfileError::Ifsc(link.ifsc));
            }
            if !(11..=16).contains(&link.etu_per_byte) {
                return Err(ProfileError::EtuPerByte(link.etu_per_byte));
            }
        }
        Ok(profile)
    }

    /// Whether this profile delays nothing.
    pub fn is_fast(&self) -> bool {
        *self == Profile::FAST
    }

    /// Link time for the exchange.
    pub fn link_time(&self, command: usize, response: usize) -> Duration {
        self.link
            .map_or(Duration::ZERO, |link| link.exchange(command, response))
    }

    /// The whole time a real card would take from the first byte of a command APDU of
    /// `command` bytes to the last byte of its `response`-byte answer, having done `work`.
    pub fn delay(&self, command: usize, response: usize, work: &Work) -> Duration {
        if self.is_fast() {
            return Duration::ZERO;
        }
        self.link_time(command, response)
            .saturating_add(self.chip.time(work))
    }
}

impl Default for Profile {
    fn default() -> Profile {
        Profile::FAST
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn link(bit_rate: u32) -> Link {
        Profile::t1(bit_rate).link.unwrap()
    }

    #[test]
    fn framing_adds_four_bytes_a_block_and_an_r_block_for_each_chained_one() {
        let l = link(115_200);
        assert_eq!(l.characters(0), 4, "an empty message is still one block");
        assert_eq!(l.characters(5), 9);
        assert_eq!(l.characters(254), 258);
        // 255 bytes: two I-blocks (254 + 1) and one R-block.
        assert_eq!(l.characters(255), 255 + 8 + 4);
        // An extended READ BINARY's answer, 1 024 data bytes and SW: 5 I-blocks, 4 R-blocks.
        assert_eq!(l.characters(1_026), 1_026 + 20 + 16);
    }

    #[test]
    fn a_short_read_binary_at_each_rate() {
        // 00 B0 00 00 00 (5 bytes) answered with 256 bytes and SW (258 bytes): 9 + (258 + 8 + 4)
        // = 279 characters of 11 etu = 3 069 etu.
        let expect = |rate: u64| Duration::from_nanos(3_069 * 1_000_000_000 / rate);
        assert_eq!(link(9_600).exchange(5, 258), expect(9_600));
        assert_eq!(link(115_200).exchange(5, 258), expect(115_200));
        assert_eq!(link(230_400).exchange(5, 258), expect(230_400));
        assert_eq!(
            link(9_600).exchange(5, 258).as_micros(),
            319_687,
            "a third of a second at 9 600 bit/s"
        );
        assert_eq!(link(115_200).exchange(5, 258).as_micros(), 26_640);
        assert_eq!(link(230_400).exchange(5, 258).as_micros(), 13_320);
    }

    #[test]
    fn a_select_at_115200() {
        // 00 A4 04 0C 07 F04D454C4C4901 (12 bytes) answered 9000: (12 + 4) + (2 + 4) = 22
        // characters, 242 etu, 2 100.694 µs; and 2 ms of chip.
        let profile = Profile::t1(115_200);
        let delay = profile.delay(12, 2, &Work::default());
        assert_eq!(
            delay,
            Duration::from_nanos(2_100_694) + Duration::from_millis(2)
        );
    }

    #[test]
    fn the_chip_time_adds_up_every_operation() {
        let chip = Chip::JCOP4;
        assert_eq!(chip.time(&Work::default()), Duration::from_millis(2));
        let generate = Work {
            key_generations: 1,
            nvm_bytes: 65,
            ..Work::default()
        };
        // 2 ms + 26.8 ms + two pages of 1 ms.
        assert_eq!(chip.time(&generate), Duration::from_micros(30_800));
        let sign = Work {
            signatures: 1,
            aes_blocks: 10,
            ..Work::default()
        };
        assert_eq!(
            chip.time(&sign),
            Duration::from_micros(2_000 + 32_000 + 1_000)
        );
        let verify = Work {
            pin_checks: 1,
            ..Work::default()
        };
        assert_eq!(chip.time(&verify), Duration::from_millis(12));
        let matched = Work {
            finger_matches: 1,
            ..Work::default()
        };
        assert_eq!(chip.time(&matched), Duration::from_millis(252));
    }

    #[test]
    fn fast_is_no_delay_at_all() {
        let work = Work {
            key_generations: 3,
            ..Work::default()
        };
        assert_eq!(Profile::FAST.delay(1_000, 1_000, &work), Duration::ZERO);
        assert_eq!(Profile::built_in("fast"), Some(Profile::FAST));
    }

    #[test]
    fn every_built_in_name_resolves() {
        for (name, _) in Profile::BUILT_IN {
            assert!(Profile::built_in(name).is_some(), "{name}");
        }
        assert_eq!(Profile::built_in("t1-57600"), None);
    }

    #[test]
    fn a_profile_file() {
        let profile = Profile::from_json(
            r#"{"link": {"bit_rate": 38400}, "chip": {"key_generation_us": 1000000}}"#,
        )
        .unwrap();
        assert_eq!(profile.link, Some(link(38_400)));
        assert_eq!(profile.chip.key_generation_us, 1_000_000);
        assert_eq!(profile.chip.signature_us, Chip::JCOP4.signature_us);

        let chip_only = Profile::from_json(r#"{"chip": {"per_apdu_us": 5000}}"#).unwrap();
        assert_eq!(chip_only.link, None);
        assert_eq!(chip_only.link_time(300, 300), Duration::ZERO);
    }

    #[test]
    fn bad_profile_files_are_refused() {
        for (text, what) in [
            ("", "not a timing profile"),
            (r#"{"link": {"bit_rate": 0}}"#, "bit_rate 0"),
            (r#"{"link": {"bit_rate": 9600, "ifsc": 255}}"#, "ifsc 255"),
            (
                r#"{"link": {"bit_rate": 9600, "etu_per_byte": 8}}"#,
                "etu_per_byte 8",
            ),
            (r#"{"chip": {"keygen_us": 1}}"#, "unknown field"),
            (r#"{"speed": 1}"#, "unknown field"),
        ] {
            let error = Profile::from_json(text).unwrap_err().to_string();
            assert!(error.contains(what), "{text}: {error}");
        }
    }

    #[test]
    fn the_ledger_counts_per_thread_and_starts_again_when_taken() {
        let _ = take();
        note(Work {
            signatures: 1,
            ..Work::default()
        });
        note(Work {
            aes_blocks: aes_blocks(33),
            ..Work::default()
        });
        let work = take();
        assert_eq!(work.signatures, 1);
        assert_eq!(work.aes_blocks, 3);
        assert_eq!(take(), Work::default());
        assert_eq!(aes_blocks(0), 1);
        assert_eq!(aes_blocks(16), 1);
    }
}
