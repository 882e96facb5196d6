//! Command-line surface (DESIGN.md §9). Each subcommand lives in its own file; this one holds
//! the argument definitions and the error-to-exit-code rule.

mod apdu_cmd;
mod auth_token_cmd;
mod batch_cmd;
mod card_cmd;
mod check_cmd;
mod demo_cmd;
mod desk_cmd;
mod desk_screen_cmd;
mod issuer_cmd;
mod issuer_keys;
mod journal_cmd;
mod output;
mod personalize_cmd;
mod pin_cmd;
mod readers_cmd;
mod secret_input;
mod sign_cmd;
mod web_eid_host_cmd;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Args, Parser, Subcommand};

use melli::applet::{AppletError, PinError};
use melli::transport::TransportError;

/// Exit codes (DESIGN.md §9).
pub mod exit {
    pub const CHECK_FAILED: u8 = 1;
    pub const BAD_INPUT: u8 = 2;
    pub const CARD_ERROR: u8 = 3;
}

/// An error on its way to the user: one line and an exit code.
#[derive(Debug)]
pub struct Failure {
    pub code: u8,
    pub message: String,
}

impl Failure {
    pub fn bad_input(message: impl Into<String>) -> Self {
        Failure {
            code: exit::BAD_INPUT,
            message: message.into(),
        }
    }

    pub fn card(message: impl Into<String>) -> Self {
        Failure {
            code: exit::CARD_ERROR,
            message: message.into(),
        }
    }
}

/// Reader names (from pcscd) and card answers in these messages are made safe for a terminal.
impl From<TransportError> for Failure {
    fn from(e: TransportError) -> Self {
        Failure::card(with_next_step(&e.to_string(), transport_next_step(&e)))
    }
}

impl From<AppletError> for Failure {
    fn from(e: AppletError) -> Self {
        Failure::card(with_next_step(&e.to_string(), applet_next_step(&e)))
    }
}

/// The next step a library error leaves to the command line, which alone knows its options,
/// as it follows the error's message (its separator included: `: ` where the message names a
/// choice to make, ` — ` otherwise).
pub fn applet_next_step(e: &AppletError) -> Option<&'static str> {
    match e {
        AppletError::NotMelli(_) => {
            Some(" — insert a melli card, or choose its reader with --reader")
        }
        AppletError::KeysRefused => Some(
            " — use a blank card made for this issuer, or the --issuer directory the card was made for",
        ),
        AppletError::Transport(t) => transport_next_step(t),
        _ => None,
    }
}

fn transport_next_step(e: &TransportError) -> Option<&'static str> {
    match e {
        TransportError::SeveralCards(_) => Some(": choose one with --reader NAME"),
        TransportError::NoCard => Some(" (or start a virtual card with `melli card serve`)"),
        _ => None,
    }
}

/// A refused PIN or PUK as the holder should hear it (tries left, blocked), with the next step.
pub fn pin_refused(e: &PinError) -> Failure {
    let step = match e {
        PinError::Blocked("PIN") => ": unblock it with `melli pin unblock` and the PUK",
        _ => "",
    };
    Failure::card(format!("{e}{step}"))
}

/// `message`, escaped for the terminal, followed by its next step, if any.
pub fn with_next_step(message: &str, step: Option<&str>) -> String {
    let mut line = melli::display::escaped(message);
    line.push_str(step.unwrap_or_default());
    line
}

/// melli — personalize, read, verify and sign with the national smart ID card over PC/SC.
///
/// Every command that talks to a card takes --reader NAME (the full name, or any part of it that
/// matches one reader) and otherwise uses the only reader holding a card.
/// Exit codes: 0 success, 1 a check failed, 2 bad input or usage, 3 card or reader error (or a
/// journal server that does not answer or refuses the login).
#[derive(Debug, Parser)]
#[command(name = "melli", version, about, long_about)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// List the PC/SC readers and whether each holds a card.
    Readers {
        /// Print JSON instead of text.
        #[arg(long)]
        json: bool,
    },
    /// Show a melli card's reader, ATR, serial number, lifecycle state and specification version.
    Info {
        #[command(flatten)]
        reader: ReaderArg,
        /// Print JSON instead of text.
        #[arg(long)]
        json: bool,
    },
    /// Send raw command APDUs (hex) to the card in one session and show each answer.
    ///
    /// Chaining, 61xx (GET RESPONSE) and 6Cxx are handled as for every melli command. Spaces
    /// and colons inside an APDU are ignored. Example: melli apdu 00A4040C07F04D454C4C4901 00CADF0100
    Apdu {
        /// Command APDUs in hex, sent in order.
        #[arg(required = true, value_name = "HEX")]
        apdus: Vec<String>,
        #[command(flatten)]
        reader: ReaderArg,
        /// Print JSON instead of text.
        #[arg(long)]
        json: bool,
    },
    /// Make a test issuer: root CA, document signer, signing CA and personalization master key.
    #[command(subcommand)]
    Issuer(IssuerCommand),
    /// Validate an enrolment record without touching a card; lists every problem found.
    Check {
        /// The enrolment record (JSON; see fixtures/README.md).
        record: PathBuf,
        /// Print JSON instead of text.
        #[arg(long)]
        json: bool,
        /// Accept a record that is valid but draws warnings (exit 0 instead of 1).
        #[arg(long)]
        allow_warnings: bool,
    },
    /// Personalize a blank card from an enrolment record: secure channel, data groups, keys on
    /// the chip, holder certificate, security object, PIN and PUK, then lock.
    ///
    /// The record is validated completely before the card is touched. If the card is pulled
    /// midway, run the same command again: it finishes the card. The PIN and PUK are asked
    /// without echo, read from stdin (--secrets-stdin: PIN on the first line, PUK on the
    /// second), or generated into a PIN mailer file (--pin-mailer, mode 0600; an existing
    /// mailer for the same card is reused, so a resumed run keeps the same secrets).
    Personalize {
        /// The enrolment record (JSON).
        record: PathBuf,
        /// The issuer directory (made by `melli issuer init`, or handed over by the issuer).
        #[arg(long, value_name = "DIR")]
        issuer: PathBuf,
        #[command(flatten)]
        reader: ReaderArg,
        /// Generate PIN and PUK and write them to this new file (mode 0600).
        #[arg(long, value_name = "FILE", conflicts_with = "secrets_stdin")]
        pin_mailer: Option<PathBuf>,
        /// Read the PIN and the PUK from stdin, one per line.
        #[arg(long)]
        secrets_stdin: bool,
        /// Print the summary as JSON.
        #[arg(long)]
        json: bool,
    },
    /// Show the holder's data from the card: names (Persian and Latin), dates (Solar Hijri with
    /// the Gregorian date beside), national code, postal code, serial and lifecycle.
    Read {
        #[command(flatten)]
        reader: ReaderArg,
        /// Also write photo.jpg, holder.pem, signing-ca.pem, authentication.pem (a card with a
        /// login key) and identity.json into DIR.
        #[arg(long, value_name = "DIR")]
        out: Option<PathBuf>,
        /// With --out, also write the photo as photo.png.
        #[arg(long, requires = "out")]
        png: bool,
        /// Print JSON instead of text.
        #[arg(long)]
        json: bool,
    },
    /// Verify a card: the security object up to the trusted root, every data group's hash,
    /// chip authentication (anti-clone), the holder certificate and the card's expiry; with
    /// --finger, also match a live fingerprint on the card. Exit 0 only if every check passes,
    /// 1 if any fails.
    Verify {
        /// The trusted root certificate (PEM or DER).
        #[arg(long, value_name = "ROOT.pem")]
        trust: PathBuf,
        /// A live ISO/IEC 19794-2 fingerprint record to match on the card.
        #[arg(long, value_name = "LIVE.fmr")]
        finger: Option<PathBuf>,
        #[command(flatten)]
        revocation: RevocationArgs,
        #[command(flatten)]
        reader: ReaderArg,
        /// Also show the holder's data, as `melli read` does, above the verdict (with --json,
        /// as "holder"), from the same single reading of the card.
        #[arg(long)]
        show: bool,
        /// Print JSON instead of text.
        #[arg(long)]
        json: bool,
    },
    /// The desk screen: a local web page with each reader's card — the holder's photo and
    /// data and a green or red verdict (the checks of `verify`) — a fingerprint match and a
    /// printable record. Prints the page's URL first; runs until stopped.
    #[command(long_about = desk_screen_cmd::LONG_HELP)]
    Desk(desk_screen_cmd::DeskArgs),
    /// Sign a file with the card's key: a detached CMS signature (DER) that
    /// `openssl cms -verify -binary -inform DER -content FILE -in FILE.p7s -CAfile ROOT.pem`
    /// accepts; a PDF (a file starting with %PDF-) is signed inside instead (PAdES-B-B): the
    /// signed copy is the original followed by an incremental update that holds the
    /// signature, invisible, on page 1. The PIN is asked without echo, or read from stdin with
    /// --pin-stdin.
    Sign {
        /// The file to sign (hashed as a stream; any size; a PDF at most 512 MiB).
        file: PathBuf,
        /// Where to write the signature (default: FILE.p7s), or the signed PDF (default:
        /// NAME-signed.pdf beside NAME.pdf).
        #[arg(long, value_name = "FILE")]
        out: Option<PathBuf>,
        /// pdf: sign the PDF inside; cms: a detached signature of any file. Default: pdf for a
        /// file that starts with %PDF-, else cms.
        #[arg(long, value_enum)]
        format: Option<sign_cmd::Format>,
        /// Timestamp the signature at this RFC 3161 time-stamping authority (http or https):
        /// its token over the signature value is checked and added to the signature
        /// (CAdES-T). When the TSA is unreachable or its answer is not a good token, no
        /// signature is written.
        #[arg(long, value_name = "URL")]
        tsa: Option<String>,
        #[command(flatten)]
        reader: ReaderArg,
        /// Read the PIN from the first line of stdin (for scripts).
        #[arg(long)]
        pin_stdin: bool,
        /// Ask the signer certificate's OCSP responder right after signing and carry its good
        /// answer in the signature (RFC 5940), for verifiers without the network; for a PDF,
        /// in a document security store added by a second incremental update (PAdES-B-LT:
        /// /DSS with the certificates, the answer, the signing CA's CRL when its distribution
        /// point answers, and the signature's /VRI entry). Nothing is written when the
        /// responder gives no good answer.
        #[arg(long)]
        ocsp_embed: bool,
        /// PDF only: a visible signature box (200×60 pt) on page PAGE (from 1), its lower-left
        /// corner X,Y points from the page's lower-left, showing the holder's Persian and Latin
        /// names, national code and the signing time. Default: an invisible signature.
        #[arg(long, value_name = "PAGE,X,Y")]
        visible: Option<String>,
        /// Print JSON instead of text.
        #[arg(long)]
        json: bool,
    },
    /// Verify a detached CMS signature of a file: the file's digest, the signature, the signing
    /// certificate attribute, a timestamp token if the signature carries one, and the signer's
    /// certificate chain to the trusted root, checked now — or at the timestamp's time when
    /// its TSA is trusted with --tsa-trust (the signing time is only the signer's claim).
    /// Given a signed PDF alone, every signature in it, each also for its byte range and for
    /// changes after it was signed. Exit 0 valid (every signature), 1 not.
    VerifySignature {
        /// The signed file (a signed PDF alone carries its signatures).
        file: PathBuf,
        /// The detached signature (DER or PEM); none for a signed PDF.
        signature: Option<PathBuf>,
        /// The trusted root certificate (PEM or DER).
        #[arg(long, value_name = "ROOT.pem")]
        trust: PathBuf,
        /// A trusted root of time-stamping authorities (PEM or DER; repeatable). A timestamp
        /// whose TSA chains to one is trusted: the signer's certificates are checked at its
        /// time. Without it a timestamp is shown as an untrusted claim.
        #[arg(long, value_name = "TSA-ROOT.pem")]
        tsa_trust: Vec<PathBuf>,
        #[command(flatten)]
        revocation: RevocationArgs,
        /// Print JSON instead of text.
        #[arg(long)]
        json: bool,
    },
    /// Log in to a web service with the card: sign the service's origin and nonce with the
    /// card's authentication key (after the PIN) and print a Web eID token (`web-eid:1.0`
    /// JSON) for the service. Needs a card issued since specification 1.1.
    AuthToken(auth_token_cmd::AuthTokenArgs),
    /// Check a Web eID login token as a service does: its format, the authentication
    /// certificate up to the trusted root (clientAuth, valid now), and the signature over this
    /// origin and this nonce (a token made for another site or login fails). Exit 0 valid, 1
    /// not.
    VerifyAuthToken(auth_token_cmd::VerifyAuthTokenArgs),
    /// The card for the Web eID browser extension: the native-messaging host the browser
    /// starts (authenticate, get-signing-certificate, sign; the PIN in a pinentry dialog).
    /// --help shows how to install it.
    #[command(long_about = web_eid_host_cmd::LONG_HELP)]
    WebEidHost(web_eid_host_cmd::WebEidHostArgs),
    /// The holder's PIN: tries left, change, unblock with the PUK.
    Pin {
        #[arg(value_enum)]
        action: pin_cmd::PinAction,
        #[command(flatten)]
        reader: ReaderArg,
        /// Read the secrets from stdin, one per line, in the order they would be asked.
        #[arg(long)]
        pin_stdin: bool,
        /// Print JSON instead of text (status).
        #[arg(long)]
        json: bool,
    },
    /// The virtual card: manufacture one, or attach one to vpcd.
    #[command(subcommand)]
    Card(CardCommand),
    /// Personalize a file of enrolment records on every reader at once, journaled so that an
    /// interrupted batch is finished by running the same command again.
    ///
    /// Every line is validated first; if any is invalid, nothing is done (exit 2) unless
    /// --skip-invalid. Then one worker per reader waits for a blank card, takes the next record,
    /// personalizes the card, and waits for it to be taken out. A card pulled mid-way sends its
    /// record back to the queue; a killed run leaves each record bound to its card, and the card
    /// resumes it when it comes back (see `melli::ops::batch` for the full rule). PINs and PUKs
    /// go to one PIN mailer per record. Exit 0 when every record of the file is done, 3 when
    /// some failed or wait for their card.
    Batch(batch_cmd::BatchArgs),
    /// The batch journal itself: create or upgrade its schema (SQLite or PostgreSQL).
    #[command(subcommand)]
    Journal(journal_cmd::JournalCommand),
    /// Say where a card is, from a batch journal: by tracking code, or by national code and
    /// birth date together. Exit 0 when found, 1 when nothing matches.
    Status(batch_cmd::StatusArgs),
    /// The main job on virtual cards, each step shown: a test issuer, card feeders with blank
    /// virtual cards, a small batch, then one new card read, verified (with a live finger),
    /// used to sign a file, the signature verified, and the status lookup.
    ///
    /// Needs a running pcscd with a vpcd reader on each --vpcd port (`scripts/demo` starts a
    /// private one and runs this). Works in --dir, or in a temporary folder removed at the end.
    /// With --card javacard the same demo runs on the Java Card applet instead of the Rust
    /// virtual card (`scripts/demo --card javacard`).
    Demo {
        /// A vpcd reader's address; repeat for several readers (one card feeder each).
        #[arg(long, value_name = "HOST:PORT", default_value = "127.0.0.1:35963")]
        vpcd: Vec<String>,
        /// The reader each --vpcd address shows up as, in the same order (default: the
        /// reader that shows the feeder's first card).
        #[arg(long, value_name = "NAME")]
        reader: Vec<String>,
        /// How many records in the batch (each gets a card).
        #[arg(long, value_name = "N", default_value_t = 3)]
        cards: u32,
        /// Work here and keep everything (a new or empty folder).
        #[arg(long, value_name = "DIR")]
        dir: Option<PathBuf>,
        /// Which card the feeders hold: `rust`, melli's virtual card (in this process), or
        /// `javacard`, the Java Card applet of javacard/ in jCardSim: one launcher process per
        /// reader (--javacard-launcher) with a stack of blank cards, each leaving once issued;
        /// needs Java 17 and Maven (the launcher builds the applet the first time).
        #[arg(long, value_enum, value_name = "KIND", default_value = "rust")]
        card: demo_cmd::DemoCard,
        /// With --card javacard: the launcher to run (relative paths from the current folder).
        #[arg(long, value_name = "PATH", default_value = "scripts/javacard-card")]
        javacard_launcher: PathBuf,
    },
}

#[derive(Debug, Args)]
pub struct ReaderArg {
    /// Reader to use: its full name or a part that matches only one reader.
    #[arg(long, value_name = "NAME")]
    pub reader: Option<String>,
}

#[derive(Debug, Subcommand)]
pub enum IssuerCommand {
    /// Make an issuer in DIR and its root CA in a directory of its own (both new or empty).
    ///
    /// The root key is kept apart (DIR-root, or --root-dir): personalization never needs it.
    /// The issuer's keys go into an HSM token (--hsm MODULE --token LABEL; the master key and
    /// private keys are made inside it and never leave it), or into passphrase-encrypted
    /// PKCS#8 files. The token PIN or passphrase is asked without echo, or read from
    /// MELLI_ISSUER_PIN (and MELLI_ROOT_PIN for the root).
    ///
    /// Example with SoftHSM2:
    ///   softhsm2-util --init-token --free --label issuer --pin … --so-pin …
    ///   melli issuer init issuer --hsm /usr/lib/softhsm/libsofthsm2.so --token issuer
    Init {
        #[command(flatten)]
        args: issuer_keys::InitArgs,
        #[command(flatten)]
        urls: issuer_keys::UrlArgs,
    },
    /// Give the issuer a new document signer: a new key in the issuer's store, its
    /// certificate issued by the root (this needs the root directory and its key).
    ///
    /// Cards personalized from then on carry security objects signed by the new signer; cards
    /// already issued keep theirs.
    NewDocumentSigner(issuer_keys::NewSignerArgs),
    /// Revoke certificates in the issuer's database (index.txt, the format of `openssl ca`):
    /// every certificate issued for a card (--card), or one certificate by its serial number
    /// (--certificate, hex). --reason certificateHold puts it on hold; --remove-hold takes it
    /// off again. Needs no key: the next `melli issuer crl` publishes it.
    Revoke(issuer_cmd::RevokeArgs),
    /// Make CRLs from the issuer's database: --out, signed by the signing CA (holder
    /// certificates); --root-out, signed by the root (document signers, the signing CA; opens
    /// the root directory's key). DER, with CRL number, thisUpdate/nextUpdate, reason codes
    /// and authorityKeyIdentifier.
    Crl(issuer_cmd::CrlArgs),
    /// Certify an OCSP responder's key for `openssl ocsp`: the CA keys stay in their store,
    /// the responder signs with a key of its own, certified from its PKCS#10 request for OCSP
    /// signing only (extendedKeyUsage id-kp-OCSPSigning, id-pkix-ocsp-nocheck), for --days.
    ///
    /// Issued by the signing CA, it answers for holder certificates; with --root, issued by
    /// the root, for the signing CA and document signers. Example:
    ///   openssl ecparam -name prime256v1 -genkey -noout -out responder.key
    ///   openssl req -new -key responder.key -subj '/CN=melli OCSP responder' -out responder.csr
    ///   melli issuer ocsp-responder issuer --csr responder.csr --out responder.pem
    ///   openssl ocsp -index issuer/index.txt -port 8888 -rsigner responder.pem \
    ///       -rkey responder.key -CA issuer/signing-ca.pem
    OcspResponder(issuer_cmd::OcspResponderArgs),
}

/// Revocation checking: `--crl FILE…` (offline), `--online` and `--allow-unknown-revocation`.
#[derive(Debug, Clone, Default, clap::Args)]
#[command(group(clap::ArgGroup::new("revocation_source").multiple(true).args(["crl", "online"])))]
pub struct RevocationArgs {
    /// A CRL (DER or PEM) to check every certificate of the path against (repeatable: the
    /// signing CA's and the root's). Adds the check "revocation".
    #[arg(long, value_name = "FILE.crl")]
    pub crl: Vec<PathBuf>,
    /// Ask each certificate's OCSP responder (the URL in its authorityInfoAccess; 5 s at
    /// most), falling back to its CRL distribution point; a --crl given too counts. Adds the
    /// check "revocation": UNKNOWN when no fresh status can be had (an unreachable responder
    /// is named).
    #[arg(long)]
    pub online: bool,
    /// With --crl or --online: a certificate without a fresh status is shown as UNKNOWN
    /// without failing the verdict.
    #[arg(long, requires = "revocation_source")]
    pub allow_unknown_revocation: bool,
}

impl RevocationArgs {
    /// The sources these flags name, over `crls` (read from --crl).
    pub fn sources<'a>(
        &self,
        crls: &'a [melli::pki::revocation::CrlInput],
    ) -> melli::pki::revocation::Sources<'a> {
        melli::pki::revocation::Sources {
            crls,
            online: self.online,
            ..Default::default()
        }
    }
}

/// The remedy of an UNKNOWN "revocation" check, added to its detail.
pub fn revocation_remedy(verdict: &mut melli::pki::Verdict) {
    for check in &mut verdict.checks {
        if check.name == melli::pki::revocation::CHECK && check.unknown && !check.passed {
            check.detail.push_str(
                " — check the network or the responder, or give a fresh CRL with --crl; \
                 --allow-unknown-revocation accepts an unknown status",
            );
        }
    }
}

/// Where the PIN and PUK of a personalization come from.
#[derive(Debug)]
pub enum PinSource {
    Prompt,
    Stdin,
    Mailer(PathBuf),
}

#[derive(Debug, Subcommand)]
pub enum CardCommand {
    /// Manufacture a blank virtual card: a state file holding its serial number and its
    /// personalization keys, diversified from the issuer's master key.
    New {
        /// State file to create (it must not exist yet; written with mode 0600).
        #[arg(long, value_name = "FILE")]
        state: PathBuf,
        /// Card serial number: 1 to 16 characters, digits and capital letters.
        #[arg(long)]
        serial: String,
        /// A card factory's master key: a file with 32 hex digits, mode 0600.
        #[arg(
            long,
            value_name = "FILE",
            required_unless_present = "issuer",
            conflicts_with = "issuer"
        )]
        master_key: Option<PathBuf>,
        /// Or the issuer directory: its master key (in its HSM token or encrypted file)
        /// diversifies the card's keys, and never leaves its store.
        #[arg(long, value_name = "DIR")]
        issuer: Option<PathBuf>,
    },
    /// Attach a virtual card to vpcd (the virtual reader of pcscd) and serve APDUs until stopped.
    ///
    /// The card survives power-off, reset and lost connections (it reconnects), and keeps its
    /// state in the file after every change, so killing it loses nothing.
    Serve {
        /// State file made by `melli card new`.
        #[arg(long, value_name = "FILE")]
        state: PathBuf,
        /// Where vpcd listens (the reader's port; 35963 is vpcd's first reader).
        #[arg(long, value_name = "HOST:PORT", default_value = "127.0.0.1:35963")]
        vpcd: String,
        /// Testing: pull the card once, right after it processed its K-th command APDU (the
        /// answer is never sent), then put it back a second later.
        #[arg(long, value_name = "K", hide = true)]
        tear_at: Option<u64>,
        /// Milliseconds the card takes for each command APDU, like a real chip (0: at once).
        #[arg(long, value_name = "MS", default_value_t = 0)]
        apdu_delay_ms: u64,
        /// Take the time a real contact card would: before each answer the card sleeps the
        /// link time of the command and response bytes and the chip's time for what it did
        /// (key generation, signature, AES blocks, PIN check, file writes; docs/card-timing.md).
        /// PROFILE: `fast` (no delay), `t1-9600`, `t1-115200` or `t1-230400` (T=1 at that
        /// bit rate, 11 etu a byte, IFSC 254, JCOP4-class chip figures), or a JSON file such as
        /// {"link": {"bit_rate": 38400}, "chip": {"key_generation_us": 1000000}}.
        #[arg(long, value_name = "PROFILE", default_value = "fast")]
        timing: String,
        /// Testing only: the card commits this fault on purpose, to show what the host does
        /// with a card that lies. `foreign-dg5`: GENERATE of the chip-authentication key
        /// answers with the real key but writes another key into DG5.
        #[arg(long, value_name = "NAME", hide = true)]
        fault: Option<String>,
    },
    /// A card feeder for one vpcd reader: a stack of blank virtual cards, one in the reader at
    /// a time; an issued card leaves when the host lets go of it, and the next one goes in.
    ///
    /// What an issuance machine's hopper does, for `melli batch` on virtual readers. The cards
    /// are state files SERIAL.json in --dir, made blank when first needed; a feeder started
    /// again on the same folder goes on with the first card not yet issued. Stops when the
    /// stack is done. With --timing every card takes a real contact card's time for each APDU.
    ///
    /// Example: 50 cards that answer like a JCOP4-class chip on a 115 200 bit/s T=1 link:
    ///   melli card feed --dir cards --count 50 --issuer issuer --timing t1-115200
    Feed(card_cmd::FeedArgs),
}

/// Runs one parsed command line.
pub fn run(cli: Cli) -> Result<ExitCode, Failure> {
    match cli.command {
        Command::Readers { json } => readers_cmd::readers(json),
        Command::Info { reader, json } => readers_cmd::info(reader.reader.as_deref(), json),
        Command::Apdu {
            apdus,
            reader,
            json,
        } => apdu_cmd::apdu(&apdus, reader.reader.as_deref(), json),
        Command::Issuer(IssuerCommand::Init { args, urls }) => {
            issuer_cmd::issuer_init_with(&args, &urls)
        }
        Command::Issuer(IssuerCommand::Revoke(args)) => issuer_cmd::revoke(&args),
        Command::Issuer(IssuerCommand::Crl(args)) => issuer_cmd::crl(&args),
        Command::Issuer(IssuerCommand::OcspResponder(args)) => issuer_cmd::ocsp_responder(&args),
        Command::Issuer(IssuerCommand::NewDocumentSigner(args)) => {
            issuer_cmd::new_document_signer(&args)
        }
        Command::Check {
            record,
            json,
            allow_warnings,
        } => check_cmd::check_with(&record, json, allow_warnings),
        Command::Personalize {
            record,
            issuer,
            reader,
            pin_mailer,
            secrets_stdin,
            json,
        } => personalize_cmd::personalize(
            &record,
            &issuer,
            reader.reader.as_deref(),
            &personalize_cmd::mailer_path(pin_mailer, secrets_stdin),
            json,
        ),
        Command::Read {
            reader,
            out,
            png,
            json,
        } => desk_cmd::read(reader.reader.as_deref(), out.as_deref(), png, json),
        Command::Verify {
            trust,
            finger,
            revocation,
            reader,
            show,
            json,
        } => desk_cmd::verify_with(
            reader.reader.as_deref(),
            &trust,
            finger.as_deref(),
            &revocation,
            show,
            json,
        ),
        Command::Desk(args) => desk_screen_cmd::desk(&args),
        Command::Sign {
            file,
            out,
            format,
            tsa,
            reader,
            pin_stdin,
            ocsp_embed,
            visible,
            json,
        } => sign_cmd::sign(
            &file,
            out.as_deref(),
            format,
            tsa.as_deref(),
            reader.reader.as_deref(),
            pin_stdin,
            ocsp_embed,
            visible.as_deref(),
            json,
        ),
        Command::VerifySignature {
            file,
            signature,
            trust,
            tsa_trust,
            revocation,
            json,
        } => sign_cmd::verify_signature_with(
            &file,
            signature.as_deref(),
            &trust,
            &tsa_trust,
            &revocation,
            json,
        ),
        Command::AuthToken(args) => auth_token_cmd::auth_token(&args),
        Command::VerifyAuthToken(args) => auth_token_cmd::verify_auth_token(&args),
        Command::WebEidHost(args) => web_eid_host_cmd::web_eid_host(&args),
        Command::Pin {
            action,
            reader,
            pin_stdin,
            json,
        } => pin_cmd::pin(action, reader.reader.as_deref(), pin_stdin, json),
        Command::Card(CardCommand::New {
            state,
            serial,
            master_key,
            issuer,
        }) => card_cmd::new(&state, &serial, master_key.as_deref(), issuer.as_deref()),
        Command::Card(CardCommand::Serve {
            state,
            vpcd,
            tear_at,
            apdu_delay_ms,
            timing,
            fault,
        }) => card_cmd::serve(
            &state,
            &vpcd,
            tear_at,
            apdu_delay_ms,
            &timing,
            fault.as_deref(),
        ),
        Command::Card(CardCommand::Feed(args)) => card_cmd::feed(&args),
        Command::Batch(args) => batch_cmd::batch(&args),
        Command::Status(args) => batch_cmd::status(&args),
        Command::Journal(command) => journal_cmd::journal(&command),
        Command::Demo {
            vpcd,
            reader,
            cards,
            dir,
            card,
            javacard_launcher,
        } => demo_cmd::demo(&demo_cmd::DemoArgs {
            vpcd,
            readers: reader,
            cards,
            dir,
            card,
            javacard_launcher,
        }),
    }
}
