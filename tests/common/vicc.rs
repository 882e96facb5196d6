//! vsmartcard's own Python card in one of our readers: a card that nobody here wrote, for
//! melli's generic ISO 7816 layer and for "not a melli card".

use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;

use melli_testkit::pcscd::{Pcscd, Slot};
use melli_testkit::readers::{stop_leaving_reader_empty, wait_card_of};

use super::process;

/// vsmartcard's own Python card (`vicc -t iso7816`), attached to one of our readers. Handles
/// Debian bookworm's packaging traps: Debian's python3, the module path one level too deep, and
/// `Crypto` provided as a link to `Cryptodome`.
pub struct Vicc {
    child: Option<Child>,
    dir: tempfile::TempDir,
    slot: Slot,
    reader: String,
    log: PathBuf,
}

impl Vicc {
    pub const ATR: &'static str = "3B951381018073FF01000B";

    pub fn new() -> Vicc {
        const VICC: &str = "/usr/bin/vicc";
        const MODULES: &str = "/usr/lib/python3/site-packages/virtualsmartcard";
        const CRYPTODOME: &str = "/usr/lib/python3/dist-packages/Cryptodome";
        assert!(
            Path::new(VICC).exists()
                && Path::new(MODULES).exists()
                && Path::new(CRYPTODOME).exists(),
            "vsmartcard's vicc is missing: run scripts/setup (Debian packages vsmartcard-vpicc, \
             python3-virtualsmartcard, python3-pycryptodome)"
        );
        let pcscd = Pcscd::acquire();
        let slot = pcscd.take_slot();
        let dir = tempfile::Builder::new()
            .prefix("vicc-")
            .tempdir_in(process().work_dir())
            .expect("vicc temp dir");
        let shim = dir.path().join("python");
        fs::create_dir_all(&shim).expect("python shim dir");
        std::os::unix::fs::symlink(CRYPTODOME, shim.join("Crypto")).expect("Crypto symlink");
        let log = dir.path().join("vicc.log");
        let log_file = fs::File::create(&log).expect("vicc log");
        let child = Command::new("/usr/bin/python3")
            .arg(VICC)
            .args(["-t", "iso7816", "-P"])
            .arg(slot.port().to_string())
            .env("PYTHONPATH", format!("{MODULES}:{}", shim.display()))
            .env("PYTHONUNBUFFERED", "1")
            .current_dir(dir.path())
            .stdin(Stdio::null())
            .stdout(log_file.try_clone().expect("log handle"))
            .stderr(log_file)
            .spawn()
            .expect("spawn vicc");
        let mut vicc = Vicc {
            child: Some(child),
            reader: slot.reader_name(),
            slot,
            log,
            dir,
        };
        let pcscd = Arc::clone(vicc.pcscd());
        wait_card_of(&mut vicc.child, &vicc.reader, "vicc", &vicc.log, &pcscd);
        vicc
    }

    pub fn reader_name(&self) -> &str {
        &self.reader
    }

    pub fn pcscd(&self) -> &Arc<Pcscd> {
        self.slot.pcscd()
    }

    pub fn log(&self) -> String {
        fs::read_to_string(&self.log).unwrap_or_default()
    }
}

impl Default for Vicc {
    fn default() -> Self {
        Vicc::new()
    }
}

impl Drop for Vicc {
    fn drop(&mut self) {
        stop_leaving_reader_empty(&mut self.child, &self.reader);
    }
}
