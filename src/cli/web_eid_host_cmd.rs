//! `melli web-eid-host`: the card for the Web eID browser extension. The browser starts this
//! as its native-messaging host and talks the Web eID native application protocol over stdin
//! and stdout (`melli::native_messaging` frames); the PIN is asked through a pinentry program
//! (`melli::pinentry`), since stdin and stdout belong to the browser.
//!
//! The protocol, as the Web eID application (web-eid-app) speaks it: at start the host writes
//! `{"version": …}`; then each request is `{"command": …, "arguments": {…}}` and gets one
//! answer, a result object or `{"error": {"code": "ERR_WEBEID_…", "message": …}}`:
//!
//! | command | arguments | answer |
//! |---|---|---|
//! | `authenticate` | `challengeNonce`, `origin` | the `web-eid:1.0` token (`unverifiedCertificate`, `algorithm`, `signature`, `format`, `appVersion`) |
//! | `get-signing-certificate` | `origin` | `certificate` (base64 DER), `supportedSignatureAlgorithms` |
//! | `sign` | `hash`, `hashFunction`, `certificate`, `origin` | `signature` (base64 `r ‖ s`), `signatureAlgorithm` |
//! | `quit` | — | `{}`, and the host ends |
//! | `status`, `get-certificate` | as above | the extension's own names (web-eid:status, get-certificate): the version again, and `get-signing-certificate` |
//!
//! Every command also takes an optional `lang` (ignored: the dialogs are in English). Unlike
//! web-eid-app, which answers one request and exits (`--one-request` does that), this host
//! keeps serving until the browser closes stdin; a frame that cannot be read (a bad length, more than 8 KiB, not JSON) is
//! answered and ends the host with exit code 2, since the stream cannot be trusted after it.

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

use base64ct::{Base64, Encoding};
use serde_json::{json, Map, Value};

use melli::applet::{Applet, PinError};
use melli::display::{escaped, escaped_cut};
use melli::model::{Secret, SecretKind};
use melli::native_messaging::{read_message, write_message};
use melli::ops::auth_token::{self, TokenError};
use melli::ops::sign::{sign_hash, signing_certificate, HashFunction, SignError};
use melli::pinentry::{self, PinRequest, PinentryError};
use melli::pki::HolderSubject;
use melli::spec;
use melli::transport::PcscTransport;

use crate::cli::{Failure, ReaderArg};

/// The version announced at start. The extension asks for a native application whose major
/// version is at least its own and the web page library's (2 today), so melli announces the
/// protocol generation it speaks, 2.0.0, with its own version as semver build metadata.
pub const VERSION: &str = concat!("2.0.0+melli.", env!("CARGO_PKG_VERSION"));

/// What the token's `appVersion` names.
const APP_VERSION: &str = concat!("melli/", env!("CARGO_PKG_VERSION"));

/// Web eID's bounds on the challenge nonce (web-eid-app: at least the base64 of 32 bytes).
const NONCE_MIN: usize = 44;
const NONCE_MAX: usize = 128;

/// Longest base64 certificate argument taken (the frame's own cap bounds it anyway).
const CERTIFICATE_MAX: usize = 6 * 1024;

/// How long the holder has to type the PIN (the extension itself gives up after 5 minutes).
const PIN_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(240);

/// Error codes of the Web eID protocol (web-eid.js `ErrorCode`).
mod code {
    pub const INVALID_ARGUMENT: &str = "ERR_WEBEID_NATIVE_INVALID_ARGUMENT";
    pub const FATAL: &str = "ERR_WEBEID_NATIVE_FATAL";
    pub const USER_CANCELLED: &str = "ERR_WEBEID_USER_CANCELLED";
    pub const USER_TIMEOUT: &str = "ERR_WEBEID_USER_TIMEOUT";
}

/// `melli web-eid-host --help`.
pub const LONG_HELP: &str = "\
The card for the Web eID browser extension: a native-messaging host. The browser starts it \
(not you) when a web page asks the extension to log in or to sign, and talks to it over stdin \
and stdout (a 4-byte length, then JSON). It answers the extension's handshake with its version \
and then `authenticate` (a web-eid:1.0 login token from the card's authentication key), \
`get-signing-certificate` and `sign` (the signing key signs the page's SHA-256/384/512 hash), \
until the browser closes the connection.

The PIN: stdin and stdout belong to the browser, so the PIN is asked in a pinentry dialog \
(GnuPG's: Debian's `pinentry` is pinentry-gnome3, -qt or -curses; choose with --pinentry or \
MELLI_PINENTRY). The dialog says what the PIN is for: log in to ORIGIN, or sign for ORIGIN. \
The signing key asks for the PIN at every signature; each request is a card session of its \
own. A wrong PIN is not retried: the page gets the error with the tries left.

Install (the browser starts the program a manifest names with arguments of its own, never \
ours, so a small script runs this):

  1. A script, e.g. /usr/local/bin/melli-web-eid-host (chmod 755):
       #!/bin/sh
       exec /usr/local/bin/melli web-eid-host --one-request --reader 'My Reader'

  2. The manifest, named after the host, eu.webeid.json:
     Chromium: ~/.config/chromium/NativeMessagingHosts/eu.webeid.json
     (Chrome: ~/.config/google-chrome/NativeMessagingHosts/)
       {
         \"name\": \"eu.webeid\",
         \"description\": \"melli: the national ID card for Web eID\",
         \"path\": \"/usr/local/bin/melli-web-eid-host\",
         \"type\": \"stdio\",
         \"allowed_origins\": [
           \"chrome-extension://ncibgoaomkmdpilpocfeponihegamlic/\",
           \"chrome-extension://gnmckgbandlkacikdndelhfghdejfido/\"
         ]
       }
     Firefox: ~/.mozilla/native-messaging-hosts/eu.webeid.json, the same with
       \"allowed_extensions\": [\"{89bcad3c-5c95-4a6c-a5a5-64da932f6bf7}\"]
     in place of allowed_origins.

  The name eu.webeid is the one the Web eID extension asks for: this replaces an installed \
web-eid-app for that browser user. More in docs/web-eid.md.

Without --one-request the host serves requests until the browser closes the connection; the \
extension, which waits for the application to end after each answer, then waits 5 seconds.

Exit codes: 0 when the browser closed the connection (or sent quit, or --one-request was \
answered), 2 when a message could not be read (its error is answered first).";

/// `melli web-eid-host`.
#[derive(Debug, clap::Args)]
pub struct WebEidHostArgs {
    #[command(flatten)]
    pub reader: ReaderArg,
    /// The pinentry program that asks the holder for the PIN (default: $MELLI_PINENTRY, else
    /// `pinentry` from PATH).
    #[arg(long, value_name = "PROGRAM")]
    pub pinentry: Option<PathBuf>,
    /// End after answering the first request, as web-eid-app does. The Web eID extension
    /// waits up to 5 seconds for the application to end after each answer before it goes on:
    /// use this in the browser's wrapper script.
    #[arg(long)]
    pub one_request: bool,
    /// What the browser adds when it starts a host (the extension's origin; Firefox also the
    /// manifest's path): accepted and ignored.
    #[arg(hide = true, value_name = "BROWSER-ARGS")]
    pub browser_args: Vec<String>,
}

/// An error answer.
#[derive(Debug)]
struct Refusal {
    code: &'static str,
    message: String,
}

impl Refusal {
    fn invalid(message: impl Into<String>) -> Self {
        Refusal {
            code: code::INVALID_ARGUMENT,
            message: message.into(),
        }
    }

    fn fatal(message: impl Into<String>) -> Self {
        Refusal {
            code: code::FATAL,
            message: message.into(),
        }
    }

    fn to_json(&self) -> Value {
        json!({ "error": { "code": self.code, "message": escaped(&self.message) } })
    }
}

impl From<Failure> for Refusal {
    fn from(f: Failure) -> Self {
        Refusal::fatal(f.message)
    }
}

pub fn web_eid_host(args: &WebEidHostArgs) -> Result<ExitCode, Failure> {
    let host = Host {
        reader: args.reader.reader.clone(),
        pinentry: pinentry::program(args.pinentry.as_deref()),
    };
    let mut input = std::io::stdin().lock();
    let mut output = std::io::stdout().lock();
    send(&mut output, &json!({ "version": VERSION }))?;
    loop {
        let message = match read_message(&mut input) {
            Ok(Some(message)) => message,
            Ok(None) => return Ok(ExitCode::SUCCESS),
            Err(e) => return Err(bad_frame(&mut output, &e.to_string(), &e)),
        };
        let request: Value = match serde_json::from_slice(&message) {
            Ok(value) => value,
            Err(e) => {
                let why = format!("a message is not JSON ({e})");
                return Err(bad_frame(&mut output, &why, &why));
            }
        };
        let (answer, quit) = match host.serve(&request) {
            Ok(Answer::Result(value)) => (value, false),
            Ok(Answer::Quit) => (json!({}), true),
            Err(refusal) => (refusal.to_json(), false),
        };
        send(&mut output, &answer)?;
        if quit || args.one_request {
            return Ok(ExitCode::SUCCESS);
        }
    }
}

/// Answers a frame that cannot be read, then gives the failure that ends the host.
fn bad_frame(output: &mut impl Write, message: &str, why: &dyn std::fmt::Display) -> Failure {
    let _ = send(output, &Refusal::invalid(message).to_json());
    Failure::bad_input(format!(
        "web-eid-host: {why} — the native-messaging stream is broken; the browser starts the \
         host again for its next request"
    ))
}

fn send(output: &mut impl Write, value: &Value) -> Result<(), Failure> {
    let bytes = serde_json::to_vec(value)
        .map_err(|e| Failure::bad_input(format!("web-eid-host: encoding an answer: {e}")))?;
    write_message(output, &bytes).map_err(|e| {
        Failure::bad_input(format!(
            "web-eid-host: writing to the browser: {e} — the browser closed the connection"
        ))
    })
}

enum Answer {
    Result(Value),
    Quit,
}

struct Host {
    reader: Option<String>,
    pinentry: PathBuf,
}

/// What the PIN is asked for, as the holder is told.
enum Purpose<'a> {
    Login { origin: &'a str },
    Signing { origin: &'a str, holder: String },
}

impl Host {
    fn serve(&self, request: &Value) -> Result<Answer, Refusal> {
        let Some(request) = request.as_object() else {
            return Err(Refusal::invalid(
                "a request is a JSON object {\"command\": …, \"arguments\": {…}}",
            ));
        };
        let command = match request.get("command") {
            Some(Value::String(c)) => c.as_str(),
            _ => {
                return Err(Refusal::invalid(
                    "a request names its \"command\" (a string): authenticate, \
                     get-signing-certificate (get-certificate), sign, status or quit",
                ))
            }
        };
        let empty = Map::new();
        let arguments = match request.get("arguments") {
            None => &empty,
            Some(Value::Object(a)) => a,
            Some(_) => return Err(Refusal::invalid("\"arguments\" is a JSON object")),
        };
        match command {
            "authenticate" => self.authenticate(arguments).map(Answer::Result),
            // The extension's own names for the same messages (web-eid:status, get-certificate),
            // for a caller that sends them as commands.
            "status" => Ok(Answer::Result(json!({ "version": VERSION }))),
            "get-signing-certificate" | "get-certificate" => {
                self.signing_certificate(arguments).map(Answer::Result)
            }
            "sign" => self.sign(arguments).map(Answer::Result),
            "quit" => Ok(Answer::Quit),
            other => Err(Refusal::invalid(format!(
                "command \"{}\" is not supported: the commands are authenticate, \
                 get-signing-certificate (get-certificate), sign, status and quit",
                escaped_cut(other, 64)
            ))),
        }
    }

    /// `authenticate`: a Web eID token from the authentication key.
    fn authenticate(&self, arguments: &Map<String, Value>) -> Result<Value, Refusal> {
        let [nonce, origin] = take(arguments, ["challengeNonce", "origin"])?;
        check_origin(origin)?;
        if !(NONCE_MIN..=NONCE_MAX).contains(&nonce.len()) {
            return Err(Refusal::invalid(format!(
                "challengeNonce is {} characters; Web eID takes {NONCE_MIN} to {NONCE_MAX} \
                 (the base64 of at least 32 random bytes)",
                nonce.len()
            )));
        }
        auth_token::check_nonce(nonce)
            .map_err(|why| Refusal::invalid(format!("challengeNonce: {why}")))?;
        let mut applet = self.open()?;
        if applet.spec_version().map_err(Failure::from)? < (1, 1) {
            return Err(Refusal::fatal(
                "this card has no authentication key: it was made before cards could log in \
                 — log in with a card issued since specification 1.1",
            ));
        }
        let pin = self.ask_pin(&mut applet, &Purpose::Login { origin })?;
        let token = auth_token::make_token(&mut applet, &pin, origin, nonce, APP_VERSION)
            .map_err(token_refusal)?;
        drop(pin);
        serde_json::to_value(&token).map_err(|e| Refusal::fatal(format!("encoding the token: {e}")))
    }

    /// `get-signing-certificate`: the holder's signing certificate; no PIN.
    fn signing_certificate(&self, arguments: &Map<String, Value>) -> Result<Value, Refusal> {
        let [origin] = take(arguments, ["origin"])?;
        check_origin(origin)?;
        let mut applet = self.open()?;
        let certificate = signing_certificate(&mut applet).map_err(sign_refusal)?;
        let der = der::Encode::to_der(&certificate)
            .map_err(|e| Refusal::fatal(format!("encoding the certificate: {e}")))?;
        let algorithms: Vec<Value> = HashFunction::ALL.into_iter().map(algorithm).collect();
        Ok(json!({
            "certificate": Base64::encode_string(&der),
            "supportedSignatureAlgorithms": algorithms,
        }))
    }

    /// `sign`: the signing key signs the page's hash, after its own PIN entry.
    fn sign(&self, arguments: &Map<String, Value>) -> Result<Value, Refusal> {
        let [hash, function, certificate, origin] =
            take(arguments, ["hash", "hashFunction", "certificate", "origin"])?;
        check_origin(origin)?;
        let function = HashFunction::from_name(function).ok_or_else(|| {
            Refusal::invalid(format!(
                "hashFunction \"{}\" is not one this card signs: SHA-256, SHA-384 or SHA-512",
                escaped_cut(function, 32)
            ))
        })?;
        let hash = decode("hash", hash, 128)?;
        if hash.len() != function.digest_len() {
            return Err(Refusal::invalid(format!(
                "a {} hash is {} bytes, this one is {}",
                function.name(),
                function.digest_len(),
                hash.len()
            )));
        }
        let given = decode("certificate", certificate, CERTIFICATE_MAX)?;
        let mut applet = self.open()?;
        let card_certificate = signing_certificate(&mut applet).map_err(sign_refusal)?;
        let der = der::Encode::to_der(&card_certificate)
            .map_err(|e| Refusal::fatal(format!("encoding the certificate: {e}")))?;
        if der != given {
            return Err(Refusal::invalid(
                "certificate is not the signing certificate of the card in the reader — get it \
                 again with get-signing-certificate",
            ));
        }
        let holder = HolderSubject::from_certificate(&card_certificate)
            .map(|h| {
                format!(
                    "{} {}, national code {}",
                    escaped_cut(&h.given_name, 64),
                    escaped_cut(&h.surname, 64),
                    escaped_cut(&h.national_code, 16)
                )
            })
            .unwrap_or_else(|_| "the card's holder".into());
        let pin = self.ask_pin(&mut applet, &Purpose::Signing { origin, holder })?;
        let signature = sign_hash(&mut applet, &pin, &card_certificate, function, &hash)
            .map_err(sign_refusal)?;
        drop(pin);
        Ok(json!({
            "signature": Base64::encode_string(&signature),
            "signatureAlgorithm": algorithm(function),
        }))
    }

    /// The card, selected, in a session of its own: a PIN verified for one request does not
    /// outlive it.
    fn open(&self) -> Result<Applet<PcscTransport>, Refusal> {
        let transport = PcscTransport::connect(self.reader.as_deref()).map_err(Failure::from)?;
        Ok(Applet::select(transport).map_err(Failure::from)?)
    }

    /// Asks the holder for the PIN through the pinentry, saying what for; refuses at once when
    /// the PIN is blocked, and tells how many tries are left when one was missed.
    fn ask_pin(
        &self,
        applet: &mut Applet<PcscTransport>,
        purpose: &Purpose,
    ) -> Result<Secret, Refusal> {
        let tries = applet.retry_counters().map_err(Failure::from)?.pin;
        if tries == 0 {
            return Err(pin_refusal(&PinError::Blocked("PIN")));
        }
        let mut description = match purpose {
            Purpose::Login { origin } => format!(
                "Log in to {}\nwith the authentication key of your national ID card.\n\nType \
                 your PIN only if you are logging in to this site now.",
                escaped_cut(origin, 200)
            ),
            Purpose::Signing { origin, holder } => format!(
                "Sign for {}\nwith the signing key of your national ID card ({holder}).\nThis \
                 signature carries legal weight.\n\nType your PIN only if you mean to sign now.",
                escaped_cut(origin, 200)
            ),
        };
        if tries < spec::pin::PIN_TRIES {
            description.push_str(&format!(
                "\n\n{tries} {} left before the PIN is blocked.",
                if tries == 1 { "try" } else { "tries" }
            ));
        }
        let request = PinRequest {
            title: match purpose {
                Purpose::Login { .. } => "melli: log in with the ID card".into(),
                Purpose::Signing { .. } => "melli: sign with the ID card".into(),
            },
            description,
            prompt: "PIN:".into(),
            error: None,
            timeout: Some(PIN_TIMEOUT),
        };
        let text = pinentry::ask(&self.pinentry, &request).map_err(|e| match e {
            PinentryError::Cancelled => Refusal {
                code: code::USER_CANCELLED,
                message: "the holder cancelled the PIN entry".into(),
            },
            PinentryError::TimedOut => Refusal {
                code: code::USER_TIMEOUT,
                message: "no PIN was entered in time".into(),
            },
            PinentryError::NotFound { .. } => Refusal::fatal(format!(
                "{e}: give it with --pinentry or MELLI_PINENTRY in the host's wrapper script"
            )),
            other => Refusal::fatal(other.to_string()),
        })?;
        Secret::parse(SecretKind::Pin, &text)
            .map_err(|e| Refusal::fatal(format!("{e} — no try was used; type the PIN again")))
    }
}

/// The required string arguments `names`, in that order: each present, a non-empty string;
/// nothing else but an optional `lang`.
fn take<'a, const N: usize>(
    arguments: &'a Map<String, Value>,
    names: [&'static str; N],
) -> Result<[&'a str; N], Refusal> {
    let expected = || {
        let mut list = names
            .iter()
            .map(|n| format!("\"{n}\""))
            .collect::<Vec<_>>()
            .join(", ");
        list.push_str(" and an optional \"lang\"");
        list
    };
    if let Some(extra) = arguments
        .keys()
        .find(|k| k.as_str() != "lang" && !names.contains(&k.as_str()))
    {
        return Err(Refusal::invalid(format!(
            "argument \"{}\" is not taken: the arguments are {}",
            escaped_cut(extra, 64),
            expected()
        )));
    }
    let mut values = [""; N];
    for (slot, name) in values.iter_mut().zip(names) {
        *slot = match arguments.get(name) {
            Some(Value::String(s)) if !s.is_empty() => s.as_str(),
            Some(Value::String(_)) => {
                return Err(Refusal::invalid(format!("argument \"{name}\" is empty")))
            }
            Some(_) => {
                return Err(Refusal::invalid(format!(
                    "argument \"{name}\" is not a string"
                )))
            }
            None => {
                return Err(Refusal::invalid(format!(
                    "argument \"{name}\" is missing: the arguments are {}",
                    expected()
                )))
            }
        };
    }
    Ok(values)
}

fn check_origin(origin: &str) -> Result<(), Refusal> {
    auth_token::check_origin(origin)
        .map_err(|why| Refusal::invalid(format!("origin {}: {why}", escaped_cut(origin, 200))))
}

/// Standard base64 of at most `max` characters.
fn decode(name: &str, text: &str, max: usize) -> Result<Vec<u8>, Refusal> {
    if text.len() > max {
        return Err(Refusal::invalid(format!(
            "argument \"{name}\" is longer than {max} characters"
        )));
    }
    Base64::decode_vec(text)
        .map_err(|_| Refusal::invalid(format!("argument \"{name}\" is not standard base64")))
}

/// A signature algorithm as Web eID describes it.
fn algorithm(function: HashFunction) -> Value {
    json!({
        "cryptoAlgorithm": "ECC",
        "hashFunction": function.name(),
        "paddingScheme": "NONE",
    })
}

fn pin_refusal(e: &PinError) -> Refusal {
    Refusal::fatal(crate::cli::pin_refused(e).message)
}

fn token_refusal(e: TokenError) -> Refusal {
    match e {
        TokenError::Pin(pin) => pin_refusal(&pin),
        TokenError::BadInput(why) => Refusal::invalid(why),
        other => Refusal::fatal(other.to_string()),
    }
}

fn sign_refusal(e: SignError) -> Refusal {
    match e {
        SignError::Pin(pin) => pin_refusal(&pin),
        SignError::HashLength { .. } => Refusal::invalid(e.to_string()),
        other => Refusal::fatal(other.to_string()),
    }
}
