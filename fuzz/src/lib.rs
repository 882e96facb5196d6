//! Shared code of melli's fuzz targets and of the seed generator (`make_seeds`).
//!
//! - [`card_input`]: the input format of the `card_apdus` target, a sequence of operations
//!   (raw APDU, open the secure channel with the right keys, protected APDU, reset);
//! - [`harness`]: the cards every input starts from and the run of one input, with the
//!   invariants checked after every APDU;
//! - [`traffic`]: a recording transport and the conversion of recorded wire traffic into
//!   `card_apdus` inputs (the secure-messaging part is decrypted back to plain commands);
//! - [`leak`]: the search for 8-byte windows of secrets in responses;
//! - [`seed_data`]: the real data groups, root certificate and document signature that
//!   `make_seeds` writes to `fuzz/data/` and the parser targets verify against.

use std::path::PathBuf;

/// `fuzz/`.
pub fn fuzz_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// The melli repository (the parent of `fuzz/`).
pub fn repo_dir() -> PathBuf {
    fuzz_dir()
        .parent()
        .expect("fuzz/ has a parent")
        .to_path_buf()
}

/// The serial of every card the harness and the seed generator make.
pub const SERIAL: &str = "MCFUZZ000001";
/// The PIN of the personalized cards (it is in the seeds: a fuzzer that knows it may sign and
/// change it, which touches no invariant).
pub const PIN: &str = "246810";
/// The PUK of the seed generator's card. The harness's personalized card gets a random PUK
/// that no input can know: TERMINATE DF with the right PUK erases the keys (§6.16), which the
/// "no key changed" invariant would rightly call a break.
pub const SEED_PUK: &str = "1357924680";
/// The document the seed signature signs (its SHA-256 is what `cms_signed_data` checks).
pub const DOCUMENT: &[u8] = b"melli fuzz seed document\n";

pub fn document_digest() -> [u8; 32] {
    use sha2::Digest;
    sha2::Sha256::digest(DOCUMENT).into()
}

pub mod card_input {
    //! `card_apdus` inputs: byte 0 chooses the card (`% 3`: blank, personalizing,
    //! operational), then operations follow until the input ends. Each operation starts with
    //! one byte whose value `% 4` is its kind; raw and protected APDUs then carry a two-byte
    //! big-endian length and that many bytes (fewer if the input ends first).

    pub const START_BLANK: u8 = 0;
    pub const START_PERSONALIZING: u8 = 1;
    pub const START_OPERATIONAL: u8 = 2;

    /// More operations than this in one input are ignored (a personalization needs ~40).
    pub const MAX_OPS: usize = 256;

    const RAW: u8 = 0;
    const OPEN_CHANNEL: u8 = 1;
    const PROTECTED: u8 = 2;
    const RESET: u8 = 3;

    #[derive(Clone, Debug, PartialEq, Eq)]
    pub enum Op {
        /// These bytes, as they are, to the card.
        Raw(Vec<u8>),
        /// GET CHALLENGE and MUTUAL AUTHENTICATE with the card's real static keys (host side
        /// `melli::sm`); later `Protected` operations use the channel.
        OpenChannel,
        /// A plain command APDU, wrapped by the open channel (and chained if long) and its
        /// answer unwrapped; without a channel, or if the bytes are no command APDU, sent raw.
        Protected(Vec<u8>),
        /// Warm reset: the session (and the channel) is gone.
        Reset,
    }

    pub fn encode(start: u8, ops: &[Op]) -> Vec<u8> {
        let mut out = vec![start];
        let with_bytes = |kind: u8, bytes: &[u8], out: &mut Vec<u8>| {
            let len = u16::try_from(bytes.len()).expect("an APDU fits 64 KiB");
            out.push(kind);
            out.extend_from_slice(&len.to_be_bytes());
            out.extend_from_slice(bytes);
        };
        for op in ops {
            match op {
                Op::Raw(bytes) => with_bytes(RAW, bytes, &mut out),
                Op::Protected(bytes) => with_bytes(PROTECTED, bytes, &mut out),
                Op::OpenChannel => out.push(OPEN_CHANNEL),
                Op::Reset => out.push(RESET),
            }
        }
        out
    }

    pub fn decode(data: &[u8]) -> (u8, Vec<Op>) {
        let Some((&start, mut rest)) = data.split_first() else {
            return (START_BLANK, Vec::new());
        };
        let mut ops = Vec::new();
        while let Some((&kind, tail)) = rest.split_first() {
            if ops.len() == MAX_OPS {
                break;
            }
            rest = tail;
            let take = |rest: &mut &[u8]| {
                let len = match rest {
                    [hi, lo, ..] => usize::from(u16::from_be_bytes([*hi, *lo])),
                    _ => 0,
                };
                let body = rest.get(2.min(rest.len())..).unwrap_or_default();
                let (bytes, tail) = body.split_at(len.min(body.len()));
                *rest = tail;
                bytes.to_vec()
            };
            ops.push(match kind % 4 {
                RAW => Op::Raw(take(&mut rest)),
                OPEN_CHANNEL => Op::OpenChannel,
                PROTECTED => Op::Protected(take(&mut rest)),
                _ => Op::Reset,
            });
        }
        (start % 3, ops)
    }
}

pub mod leak {
    //! Is there an 8-byte window of a secret in a response?

    /// The secrets' 8-byte windows, with a 65 536-bit filter on their first two bytes so
    /// that scanning a 12 KB response costs some microseconds.
    pub struct Scanner {
        filter: Vec<u64>,
        windows: Vec<[u8; 8]>,
    }

    impl Default for Scanner {
        fn default() -> Self {
            Scanner {
                filter: vec![0; 1024],
                windows: Vec::new(),
            }
        }
    }

    impl Scanner {
        pub fn add(&mut self, secret: &[u8]) {
            for window in secret.windows(8) {
                let window: [u8; 8] = window.try_into().expect("8 bytes");
                if self.windows.contains(&window) {
                    continue;
                }
                let bit = usize::from(u16::from_be_bytes([window[0], window[1]]));
                self.filter[bit / 64] |= 1 << (bit % 64);
                self.windows.push(window);
            }
        }

        /// The offset of the first window of a secret in `bytes`.
        pub fn find(&self, bytes: &[u8]) -> Option<usize> {
            bytes.windows(8).position(|w| {
                let bit = usize::from(u16::from_be_bytes([w[0], w[1]]));
                self.filter[bit / 64] & (1 << (bit % 64)) != 0
                    && self.windows.iter().any(|s| s[..] == *w)
            })
        }
    }
}

pub mod harness {
    //! The cards each `card_apdus` input starts from, and the run of one input.

    use std::sync::OnceLock;

    use melli::apdu::{Command, Response};
    use melli::applet::Applet;
    use melli_card::{Card, FuzzingSnapshot};
    use melli::model::{Secret, SecretKind, ValidRecord};
    use melli::pki::Issuer;
    use melli::sm::{Authentication, SecureChannel, StaticKeys};
    use melli::spec;
    use melli::transport::{Capabilities, CardChannel, Transport, TransportError};
    use melli_testkit::InProcessCard;

    use super::card_input::{self, Op};
    use super::leak::Scanner;

    /// A valid enrolment record of the fixtures.
    pub fn record() -> ValidRecord {
        let path = super::repo_dir().join("fixtures/records/valid-1.json");
        ValidRecord::load(&path).expect("fixtures/records/valid-1.json validates")
    }

    /// A test issuer in a temporary directory (kept as long as the returned guard).
    pub fn issuer() -> (Issuer, tempfile::TempDir) {
        let dir = tempfile::tempdir().expect("temporary directory");
        let issuer = Issuer::init_plain(&dir.path().join("issuer")).expect("issuer init");
        (issuer, dir)
    }

    /// Personalizes the (blank) card behind `transport` in-process; returns the transport.
    pub fn personalize<T: Transport>(
        transport: T,
        issuer: &Issuer,
        record: &ValidRecord,
        pin: &Secret,
        puk: &Secret,
    ) -> T {
        let mut applet = Applet::select(transport).expect("select");
        melli::ops::personalize::personalize(&mut applet, record, issuer, pin, puk, &mut |_| {})
            .expect("personalization");
        applet.into_transport()
    }

    /// The three cards inputs start from, made once per process.
    pub struct World {
        pub keys: StaticKeys,
        cards: [Card; 3],
        _issuer_dir: tempfile::TempDir,
    }

    impl World {
        pub fn get() -> &'static World {
            static WORLD: OnceLock<World> = OnceLock::new();
            WORLD.get_or_init(World::build)
        }

        fn build() -> World {
            let (issuer, dir) = issuer();
            let melli::pki::MasterKey::Software(master) = issuer.master_key() else {
                unreachable!("a plain test issuer keeps its master key in a file")
            };
            let master: [u8; 16] = **master;
            let keys = StaticKeys::diversify(&master, super::SERIAL);
            let record = record();
            let blank = Card::manufacture(super::SERIAL, &master).expect("manufacture");

            // PERSONALIZING: a channel was opened once and DG1 written, then the card was
            // reset; the rest of personalization never came.
            let mut applet =
                Applet::select(InProcessCard::new(blank.fuzzing_clone())).expect("select");
            applet
                .open_secure_channel(&keys)
                .expect("secure channel")
                .write_file(spec::ef::IDENTITY, &record.identity_dg())
                .expect("write DG1");
            let mut personalizing = applet.into_transport().into_card();
            personalizing.reset();
            assert_eq!(personalizing.lifecycle(), spec::lifecycle::PERSONALIZING);

            let pin = Secret::parse(SecretKind::Pin, super::PIN).expect("PIN");
            let puk = Secret::generate(SecretKind::Puk, 10);
            let operational = personalize(
                InProcessCard::new(blank.fuzzing_clone()),
                &issuer,
                &record,
                &pin,
                &puk,
            )
            .into_card();
            assert_eq!(operational.lifecycle(), spec::lifecycle::OPERATIONAL);

            World {
                keys,
                cards: [blank, personalizing, operational],
                _issuer_dir: dir,
            }
        }

        /// A fresh, powered-on copy of card `start` (see [`card_input`]).
        pub fn card(&self, start: u8) -> Card {
            let mut card = self.cards[usize::from(start % 3)].fuzzing_clone();
            card.power_on();
            card
        }
    }

    /// The position of a lifecycle byte in §7's only-forward order.
    fn rank(lifecycle: u8) -> u8 {
        match lifecycle {
            spec::lifecycle::BLANK => 0,
            spec::lifecycle::PERSONALIZING => 1,
            spec::lifecycle::OPERATIONAL => 2,
            spec::lifecycle::TERMINATED => 3,
            other => panic!("unknown lifecycle byte {other:02X}"),
        }
    }

    fn add_keys(scanner: &mut Scanner, snapshot: &FuzzingSnapshot) {
        scanner.add(&snapshot.static_enc[..]);
        scanner.add(&snapshot.static_mac[..]);
        for key in [
            &snapshot.signing_key,
            &snapshot.chip_auth_key,
            &snapshot.auth_key,
        ]
            .into_iter()
            .flatten()
        {
            scanner.add(key);
        }
    }

    /// The card as the host sees it, checking the invariants after every APDU.
    struct Link {
        card: Card,
        initial: FuzzingSnapshot,
        rank: u8,
        /// The harness opened a secure channel with the right keys: files, keys and the
        /// lifecycle may legitimately change from here on.
        keyed: bool,
        scanner: Scanner,
        apdus: usize,
    }

    impl Link {
        fn new(card: Card) -> Link {
            let initial = card.fuzzing_snapshot();
            let mut scanner = Scanner::default();
            add_keys(&mut scanner, &initial);
            Link {
                rank: rank(initial.lifecycle),
                card,
                initial,
                keyed: false,
                scanner,
                apdus: 0,
            }
        }

        fn exchange(&mut self, apdu: &[u8]) -> Vec<u8> {
            self.apdus += 1;
            let response = self.card.process(apdu);
            let what = || format!("APDU #{} {}", self.apdus, hex::encode_upper(apdu));
            assert!(
                (2..=65_538).contains(&response.len()),
                "{}: response of {} bytes",
                what(),
                response.len()
            );
            let now = self.card.fuzzing_snapshot();
            add_keys(&mut self.scanner, &now);
            if let Some(at) = self.scanner.find(&response) {
                panic!("{}: the response holds a secret at offset {at}", what());
            }
            let rank = rank(now.lifecycle);
            assert!(
                rank >= self.rank,
                "{}: the lifecycle moved back to {:02X}",
                what(),
                now.lifecycle
            );
            self.rank = rank;
            if !self.keyed {
                // Every transition needs a key: MUTUAL AUTHENTICATE (BLANK), an open channel
                // (PERSONALIZING) or the PUK, which no input can know (OPERATIONAL).
                assert!(
                    now.lifecycle == self.initial.lifecycle,
                    "{}: the lifecycle moved to {:02X} without the keys",
                    what(),
                    now.lifecycle
                );
                for ((fid, before), (_, after)) in self.initial.files.iter().zip(&now.files) {
                    assert!(
                        before == after,
                        "{}: file {fid:04X} changed without the keys",
                        what()
                    );
                }
                assert!(
                    now.static_enc == self.initial.static_enc
                        && now.static_mac == self.initial.static_mac,
                    "{}: a static key changed",
                    what()
                );
                assert!(
                    now.signing_key == self.initial.signing_key,
                    "{}: the signing key changed without the keys",
                    what()
                );
                assert!(
                    now.chip_auth_key == self.initial.chip_auth_key,
                    "{}: the chip-authentication key changed without the keys",
                    what()
                );
                assert!(
                    now.auth_key == self.initial.auth_key,
                    "{}: the authentication key changed without the keys",
                    what()
                );
            }
            response
        }
    }

    impl Transport for Link {
        fn transmit(&mut self, command: &[u8]) -> Result<Vec<u8>, TransportError> {
            Ok(self.exchange(command))
        }
        fn atr(&self) -> &[u8] {
            self.card.atr()
        }
        fn reader(&self) -> &str {
            "fuzz"
        }
    }

    /// What became of one input.
    #[derive(Debug, Clone, Copy, PartialEq, Eq)]
    pub struct Outcome {
        pub lifecycle: u8,
        pub keyed: bool,
        pub apdus: usize,
    }

    /// Opens the secure channel with the right keys; `None` if the card refused.
    fn open_channel(link: &mut Link, keys: &StaticKeys) -> Option<SecureChannel> {
        let challenge = Response::parse(&link.exchange(&[0x00, 0x84, 0x00, 0x00, 0x10])).ok()?;
        let rnd_icc: [u8; 16] = challenge.data.as_slice().try_into().ok()?;
        if !challenge.sw.is_ok() {
            return None;
        }
        let auth = Authentication::new(&rnd_icc);
        let command = Command::new(spec::cla::PLAIN, spec::ins::MUTUAL_AUTHENTICATE, 0, 0)
            .data(auth.command_data(keys).to_vec())
            .expect(256);
        let bytes = command.to_bytes().ok()?;
        // The right keys are in this APDU: it may move the lifecycle (BLANK to PERSONALIZING).
        // If the card refuses it, the input is still without keys (and a change the refused
        // command made would show at the next APDU).
        let was_keyed = std::mem::replace(&mut link.keyed, true);
        let answer = Response::parse(&link.exchange(&bytes)).ok()?;
        if !answer.sw.is_ok() {
            link.keyed = was_keyed;
            return None;
        }
        auth.finish(keys, &answer.data).ok()
    }

    /// Runs one `card_apdus` input; panics when an invariant breaks.
    pub fn run(world: &World, data: &[u8]) -> Outcome {
        let (start, ops) = card_input::decode(data);
        let mut channel = CardChannel::new(Link::new(world.card(start)));
        channel.set_capabilities(Capabilities {
            extended: true,
            chaining: true,
            max_command_data: spec::MAX_COMMAND_DATA,
        });
        let mut sm: Option<SecureChannel> = None;
        for op in ops {
            match op {
                Op::Raw(bytes) => {
                    channel.transport_mut().exchange(&bytes);
                }
                Op::OpenChannel => sm = open_channel(channel.transport_mut(), &world.keys),
                Op::Protected(bytes) => match (sm.as_mut(), Command::parse(&bytes)) {
                    (Some(secure), Ok((command, _))) => {
                        let wrapped = secure.wrap(&command);
                        if let Ok(response) = channel.send(&wrapped) {
                            if let Ok(inner) = secure.unwrap(&response) {
                                let link = channel.transport();
                                if let Some(at) = link.scanner.find(&inner.data) {
                                    panic!(
                                        "the protected answer to {} holds a secret at {at}",
                                        hex::encode_upper(&bytes)
                                    );
                                }
                            }
                        }
                    }
                    _ => {
                        channel.transport_mut().exchange(&bytes);
                    }
                },
                Op::Reset => {
                    channel.transport_mut().card.reset();
                    sm = None;
                }
            }
        }
        let link = channel.into_transport();
        Outcome {
            lifecycle: link.card.lifecycle(),
            keyed: link.keyed,
            apdus: link.apdus,
        }
    }
}

pub mod traffic {
    //! Recording the APDUs of a real in-process session, and turning them into `card_apdus`
    //! inputs. Secure-messaging commands are decrypted back to the plain commands the host
    //! wrapped (the generator knows the issuer's master key, so it can follow the channel as
    //! applets-spec §10 defines it), so that the harness can wrap them again in a channel of
    //! its own.

    use aes::cipher::block_padding::NoPadding;
    use aes::cipher::{BlockDecryptMut, BlockEncrypt, KeyInit, KeyIvInit};
    use aes::Aes128;
    use cmac::{Cmac, Mac};
    use sha2::{Digest, Sha256};

    use melli::apdu::Command;
    use melli::spec::{ins, secure_channel as sc};
    use melli::transport::{Transport, TransportError};

    use super::card_input::Op;

    /// One command APDU and the card's response, as they crossed the transport.
    #[derive(Clone, Debug)]
    pub struct Exchange {
        pub command: Vec<u8>,
        pub response: Vec<u8>,
    }

    /// A transport that keeps a copy of everything it carries.
    pub struct Recorder<T> {
        pub inner: T,
        pub log: Vec<Exchange>,
    }

    impl<T: Transport> Recorder<T> {
        pub fn new(inner: T) -> Self {
            Recorder {
                inner,
                log: Vec::new(),
            }
        }
    }

    impl<T: Transport> Transport for Recorder<T> {
        fn transmit(&mut self, command: &[u8]) -> Result<Vec<u8>, TransportError> {
            let response = self.inner.transmit(command)?;
            self.log.push(Exchange {
                command: command.to_vec(),
                response: response.clone(),
            });
            Ok(response)
        }
        fn atr(&self) -> &[u8] {
            self.inner.atr()
        }
        fn reader(&self) -> &str {
            self.inner.reader()
        }
    }

    fn cmac(key: &[u8; 16], data: &[u8]) -> [u8; 16] {
        let mut mac = <Cmac<Aes128> as KeyInit>::new(key.into());
        mac.update(data);
        mac.finalize().into_bytes().into()
    }

    fn cbc_decrypt(key: &[u8; 16], iv: &[u8; 16], data: &mut [u8]) {
        cbc::Decryptor::<Aes128>::new(key.into(), iv.into())
            .decrypt_padded_mut::<NoPadding>(data)
            .expect("whole blocks");
    }

    /// The BER-TLV data objects of a protected command's data field: (tag, value).
    fn objects(mut data: &[u8]) -> Vec<(u8, &[u8])> {
        let mut out = Vec::new();
        while let [tag, first, rest @ ..] = data {
            let (len, rest) = match *first {
                0x81 => (usize::from(rest[0]), &rest[1..]),
                0x82 => (
                    usize::from(u16::from_be_bytes([rest[0], rest[1]])),
                    &rest[2..],
                ),
                n => (usize::from(n), rest),
            };
            out.push((*tag, &rest[..len]));
            data = &rest[len..];
        }
        out
    }

    /// Turns recorded traffic into operations: GET CHALLENGE + MUTUAL AUTHENTICATE become
    /// [`Op::OpenChannel`], protected commands (with their chain links and GET RESPONSEs)
    /// become [`Op::Protected`] with the plain command, everything else [`Op::Raw`].
    pub fn to_ops(log: &[Exchange], master_key: &[u8; 16], serial: &str) -> Vec<Op> {
        let diversify = |constant: u8| {
            let mut input = vec![constant];
            input.extend_from_slice(serial.as_bytes());
            cmac(master_key, &input)
        };
        let k_enc = diversify(sc::DIVERSIFY_ENC);
        let mut session: Option<([u8; 16], u128)> = None;
        let mut chained = Vec::new();
        let mut ops = Vec::new();
        let mut i = 0;
        while i < log.len() {
            let Exchange { command, response } = &log[i];
            let (cla, code) = (command[0], command[1]);
            let next_is_auth = log
                .get(i + 1)
                .is_some_and(|e| e.command[1] == ins::MUTUAL_AUTHENTICATE);
            if code == ins::GET_CHALLENGE && next_is_auth {
                let auth = &log[i + 1];
                let (host, _) = Command::parse(&auth.command).expect("MUTUAL AUTHENTICATE");
                let mut host_part = host.data_bytes()[..48].to_vec();
                let mut card_part = auth.response[..48].to_vec();
                cbc_decrypt(&k_enc, &[0; 16], &mut host_part);
                cbc_decrypt(&k_enc, &[0; 16], &mut card_part);
                let mut seed = [0u8; 16];
                for (j, byte) in seed.iter_mut().enumerate() {
                    *byte = host_part[32 + j] ^ card_part[32 + j];
                }
                let mut digest = Sha256::new();
                digest.update(seed);
                digest.update(sc::KDF_ENC.to_be_bytes());
                let ks_enc: [u8; 16] = digest.finalize()[..16].try_into().expect("16 bytes");
                session = Some((ks_enc, 0));
                ops.push(Op::OpenChannel);
                i += 2;
                continue;
            }
            if let (true, Some((ks_enc, ssc))) = (cla & 0x0C == 0x0C, session.as_mut()) {
                let (link, _) = Command::parse(command).expect("protected command");
                chained.extend_from_slice(link.data_bytes());
                i += 1;
                if cla & 0x10 != 0 {
                    continue; // a chain link: the card unwraps the whole chain at its end
                }
                *ssc += 1;
                let mut data = Vec::new();
                let mut ne = None;
                for (tag, value) in objects(&chained) {
                    match tag {
                        0x87 | 0x85 => {
                            let cryptogram = if tag == 0x87 { &value[1..] } else { value };
                            let mut block = ssc.to_be_bytes().into();
                            Aes128::new((&*ks_enc).into()).encrypt_block(&mut block);
                            let iv: [u8; 16] = block.into();
                            let mut plain = cryptogram.to_vec();
                            cbc_decrypt(&*ks_enc, &iv, &mut plain);
                            let end = plain.iter().rposition(|b| *b == 0x80).expect("padding");
                            plain.truncate(end);
                            data = plain;
                        }
                        0x97 => {
                            ne = Some(match value {
                                [0] => 256,
                                [n] => usize::from(*n),
                                [0, 0] => 65_536,
                                [hi, lo] => usize::from(u16::from_be_bytes([*hi, *lo])),
                                _ => panic!("Le object of {} bytes", value.len()),
                            });
                        }
                        _ => {}
                    }
                }
                chained.clear();
                let mut plain = Command::new(cla & !0x0C, link.ins, link.p1, link.p2).data(data);
                if let Some(ne) = ne {
                    plain = plain.expect(ne);
                }
                ops.push(Op::Protected(plain.to_bytes().expect("encodes").to_vec()));
                *ssc += 1; // the response
                           // GET RESPONSEs that fetched the rest of this answer belong to it.
                let mut last = response;
                while last.len() >= 2
                    && last[last.len() - 2] == 0x61
                    && log
                        .get(i)
                        .is_some_and(|e| e.command[1] == ins::GET_RESPONSE)
                {
                    last = &log[i].response;
                    i += 1;
                }
                continue;
            }
            ops.push(Op::Raw(command.clone()));
            i += 1;
        }
        ops
    }
}

pub mod seed_data {
    //! The real card data `make_seeds` writes to `fuzz/data/`: the issuer's root certificate,
    //! the card serial and the readable data groups. The security-object and signature
    //! targets verify against them, so that a seed passes every check and a mutation fails
    //! exactly where it breaks something.

    use std::path::PathBuf;
    use std::sync::OnceLock;

    use melli::pki::Certificate;

    pub struct SeedData {
        pub root: Certificate,
        pub serial: String,
        /// (data-group number, content) for DG1, DG2, DG4, DG5, DG6.
        pub groups: Vec<(u8, Vec<u8>)>,
    }

    pub const GROUPS: [u8; 5] = [1, 2, 4, 5, 6];

    pub fn dir() -> PathBuf {
        super::fuzz_dir().join("data")
    }

    pub fn get() -> &'static SeedData {
        static DATA: OnceLock<SeedData> = OnceLock::new();
        DATA.get_or_init(|| {
            let read = |name: &str| {
                std::fs::read(dir().join(name)).unwrap_or_else(|e| {
                    panic!("fuzz/data/{name}: {e} (run `cargo run --release --example make_seeds` in fuzz/)")
                })
            };
            let root = der::Decode::from_der(&read("root.der")).expect("root.der");
            let serial = String::from_utf8(read("serial.txt")).expect("serial");
            let groups = GROUPS
                .iter()
                .map(|n| (*n, read(&format!("dg{n}.bin"))))
                .collect();
            SeedData {
                root,
                serial: serial.trim().to_owned(),
                groups,
            }
        })
    }
}
