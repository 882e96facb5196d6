//! `melli desk`: the desk screen — a web page on this machine that shows the holder's photo, data
//! and a green or red verdict for the card in each reader. The server is `melli_desk`; this
//! file loads what the command line names (trust anchor, CRLs), prints the URL, opens a browser,
//! and checks each card put in exactly as `melli verify` does (`desk_cmd::check_card`).

use std::io::Write;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::{ExitCode, Stdio};
use std::sync::Arc;

use melli::applet::Applet;
use melli::display::escaped;
use melli::pki::revocation::CrlInput;
use melli::pki::Certificate;
use melli::transport::PcscTransport;
use melli_desk::{Bound, CardChecker, Checked, Config};

use crate::cli::desk_cmd::{check_card, read_crls, trust_anchor};
use crate::cli::{Failure, RevocationArgs};

/// `melli desk --help`.
pub const LONG_HELP: &str = "\
The desk screen: a web page that shows, for every card reader, the holder's photo, names \
(Persian and Latin), national code, dates (Solar Hijri with the Gregorian date beside), postal \
code and address, and a verdict banner — green GENUINE when every check of `melli verify` \
passed, red NOT GENUINE with the failed checks named. Put a card in: its panel fills in a \
moment; take it out: the panel clears within a second. A staff member can match the holder's \
live fingerprint on the card (a scanner's ISO/IEC 19794-2 record) and print a verification \
record (date and time, desk, reader, holder, national code, verdict and checks).

The server listens on this machine only (127.0.0.1, a free port) unless --listen names another \
address. The first line it prints is the page's URL, which holds a random secret: only who has \
the URL can see the page; every other request is refused. The page is opened in the browser \
when there is a display (DISPLAY or WAYLAND_DISPLAY), unless --no-open. It runs until stopped \
(Ctrl-C).

Example:
  melli desk --trust issuer/root.pem --crl signing-ca.crl --crl root.crl --desk-name \"Post office 12, desk 3\"";

/// The arguments of `melli desk`.
#[derive(Debug, clap::Args)]
pub struct DeskArgs {
    /// The trusted root certificate (PEM or DER): the issuer's root.pem.
    #[arg(long, value_name = "ROOT.pem")]
    pub trust: PathBuf,
    #[command(flatten)]
    pub revocation: RevocationArgs,
    /// Where the page is served. Default: this machine only, on a free port. Another address
    /// lets other machines reach the page over plain HTTP (a warning says so).
    #[arg(long, value_name = "ADDR:PORT", default_value = "127.0.0.1:0")]
    pub listen: SocketAddr,
    /// The desk's name, printed on the verification record (default: the machine's name).
    #[arg(long, value_name = "NAME")]
    pub desk_name: Option<String>,
    /// Watch only these readers (comma-separated; each the full name or a part of it).
    /// Default: every reader, including readers connected later.
    #[arg(long, value_name = "A,B", value_delimiter = ',')]
    pub readers: Vec<String>,
    /// Do not open the page in a browser; only print its URL.
    #[arg(long)]
    pub no_open: bool,
}

/// Checks each card put in as `melli verify` does, with the root and CRLs loaded once.
struct VerifyChecker {
    root: Certificate,
    crls: Vec<CrlInput>,
    revocation: RevocationArgs,
}

impl CardChecker for VerifyChecker {
    fn check(&self, reader: &str) -> Result<Checked, String> {
        // The library's own words for a card that cannot be reached or is no melli card: the
        // command line's next steps name options of other commands.
        let transport =
            PcscTransport::connect(Some(reader)).map_err(|e| escaped(&e.to_string()))?;
        let mut applet = Applet::select(transport).map_err(|e| escaped(&e.to_string()))?;
        let (contents, verdict) =
            check_card(&mut applet, &self.root, &self.crls, &self.revocation, None)
                .map_err(|f| f.message)?;
        Ok(Checked {
            applet,
            contents,
            verdict,
        })
    }
}

/// The machine's name, for the record when --desk-name is not given.
fn machine_name() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .ok()
        .map(|name| name.trim().to_string())
        .filter(|name| !name.is_empty())
        .unwrap_or_else(|| "desk".to_string())
}

/// Opens `url` in the desktop's browser when there is a desktop; failing to is no error (the
/// URL is printed anyway).
fn open_browser(url: &str) {
    let desktop = ["DISPLAY", "WAYLAND_DISPLAY"]
        .iter()
        .any(|v| std::env::var_os(v).is_some_and(|value| !value.is_empty()));
    if !desktop {
        return;
    }
    let child = std::process::Command::new("xdg-open")
        .arg(url)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn();
    match child {
        // Reaped on a thread of its own, so it leaves no zombie behind.
        Ok(mut child) => {
            std::thread::spawn(move || child.wait());
        }
        Err(e) => {
            eprintln!("melli desk: could not open a browser (xdg-open: {e}); open the URL above")
        }
    }
}

pub fn desk(args: &DeskArgs) -> Result<ExitCode, Failure> {
    let root = trust_anchor(&args.trust)?;
    let crls = read_crls(&args.revocation.crl)?;
    // pcscd must answer before the page promises to show readers.
    melli::transport::list_readers()?;
    let bound = Bound::bind(Config {
        listen: args.listen,
        desk_name: args.desk_name.clone().unwrap_or_else(machine_name),
        readers: args.readers.clone(),
    })
    .map_err(|e| {
        Failure::bad_input(format!(
            "{} — choose another --listen address or port",
            escaped(&e.to_string())
        ))
    })?;
    let url = bound.url();
    {
        // The first line of stdout is the URL and nothing else: scripts and tests read it.
        let mut out = std::io::stdout().lock();
        writeln!(out, "{url}")
            .and_then(|()| out.flush())
            .map_err(|e| Failure::bad_input(format!("cannot write the URL to stdout: {e}")))?;
    }
    let addr = bound.local_addr();
    if !addr.ip().is_loopback() {
        eprintln!(
            "melli desk: warning: listening on {addr}, which other machines can reach: the page \
             is plain HTTP, and whoever has the URL sees the holders' data"
        );
    }
    if !args.no_open {
        open_browser(&url);
    }
    eprintln!("melli desk: showing the readers at the URL above; Ctrl-C stops");
    let checker = VerifyChecker {
        root,
        crls,
        revocation: args.revocation.clone(),
    };
    bound
        .serve(Arc::new(checker))
        .map_err(|e| Failure::card(format!("the desk stopped: {}", escaped(&e.to_string()))))?;
    Ok(ExitCode::SUCCESS)
}
