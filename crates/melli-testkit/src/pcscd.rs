//! Our pcscd with sixteen vpcd readers (the measured recipe is `../shared/TEST-ENVIRONMENT.md`).
//!
//! - **One pcscd per test process, shared by its tests.** [`Pcscd::acquire`] starts it for the
//!   first test that needs it; it is stopped (SIGTERM, then SIGKILL, waited, files removed) when
//!   the last [`Arc<Pcscd>`] is dropped — also when a test panics, since unwinding drops it.
//! - **A private pcscd where possible.** pcscd's socket is fixed at `/run/pcscd/pcscd.comm`, so
//!   there can be only one per machine — unless it runs in its own mount namespace
//!   (`unshare -m`) with a directory of ours bind-mounted on `/run/pcscd`. Its clients (this
//!   process, `melli`, `opensc-tool`) then find it through `PCSCLITE_CSOCK_NAME`, which the
//!   client library reads. So a system pcscd, another engineer's, or a second test process never
//!   collides with ours. Where `unshare` is not allowed, the harness falls back to the system
//!   socket: it starts pcscd there when none runs (one test process at a time, by a lock file),
//!   and refuses with a clear message when a pcscd it did not start is already running.
//!   `MELLI_E2E_PCSCD=system|private` forces a mode.
//! - **Sixteen readers of our own.** Eight vpcd entries, each its own copy of the driver:
//!   vpcd keeps its sockets in a static array indexed by slot number only, so two entries that
//!   share one `LIBPATH` share the sockets too (the first entry's readers silently talk to the
//!   last entry's card). Entry `melli-test-P` gives readers `melli-test-P 00 00` on port P and
//!   `melli-test-P 00 01` on P + 1. A test process takes a block of 16 ports by a lock file.

use std::fs;
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Condvar, Mutex, MutexGuard, Weak};
use std::thread;
use std::time::{Duration, Instant};

use crate::lock_file::LockFile;
use crate::process::{note, process, root_dir, stop_child, Mode};
use crate::readers::{reader_statuses, wait_for_readers, POLL, READY_TIMEOUT};
use crate::run::run;

/// Readers per pcscd: eight vpcd entries of two slots (pcscd's limit is 16 readers).
const SLOTS: usize = 16;
const FIRST_PORT: u16 = 40100;
/// Port blocks a test process may take: 40100..=40611.
const BLOCKS: u16 = 32;

const VPCD_DRIVER: &str = "/usr/lib/pcsc/drivers/serial/libifdvpcd.so";
const SYSTEM_SOCKET: &str = "/run/pcscd/pcscd.comm";

/// Our pcscd with sixteen vpcd readers. Shared by the tests of a process: see [`Pcscd::acquire`].
pub struct Pcscd {
    child: Mutex<Child>,
    mode: Mode,
    dir: PathBuf,
    base_port: u16,
    log: PathBuf,
    slots: Mutex<SlotTable>,
    slots_changed: Condvar,
    // Dropped after the child is stopped (fields drop in order after `Drop::drop`).
    _system_lock: Option<LockFile>,
    _block_lock: LockFile,
}

#[derive(Default)]
struct SlotTable {
    taken: [bool; SLOTS],
    users: usize,
    exclusive: bool,
}

/// The pcscd this process's tests share while any holds it.
static SHARED_PCSCD: Mutex<Weak<Pcscd>> = Mutex::new(Weak::new());

/// What became of the shared pcscd, for a test that lost the PC/SC service.
pub(crate) fn pcscd_state() -> String {
    // `try_lock`: this may be asked while a pcscd is being started under the lock.
    let Ok(shared) = SHARED_PCSCD.try_lock() else {
        return "a pcscd is being started".into();
    };
    match shared.upgrade() {
        None => "no pcscd is held".into(),
        Some(p) => match p.exited() {
            None => format!("pcscd {} is running", p.pid()),
            Some(status) => format!(
                "pcscd {} exited ({status}); its log:\n{}",
                p.pid(),
                p.log_tail(30)
            ),
        },
    }
}

impl Pcscd {
    /// The process id of the pcscd (the process `unshare` became, in private mode).
    pub fn pid(&self) -> u32 {
        lock(&self.child).id()
    }

    /// How the pcscd ended, if it has.
    fn exited(&self) -> Option<std::process::ExitStatus> {
        lock(&self.child).try_wait().ok().flatten()
    }

    /// The running pcscd of this process, started if no test holds it now. It stops when the
    /// last holder drops it.
    pub fn acquire() -> Arc<Pcscd> {
        let mut shared = lock(&SHARED_PCSCD);
        if let Some(running) = shared.upgrade() {
            match running.exited() {
                None => return running,
                // A pcscd that died takes the tests holding it down with it; the tests that
                // come after get a new one instead of failing too.
                Some(status) => note(&format!(
                    "pcscd {} exited ({status}); starting another. Its log:\n{}",
                    running.pid(),
                    running.log_tail(30)
                )),
            }
        }
        // A previous pcscd may still be stopping (its last holder is in `Drop`): wait for it.
        let _lifecycle = lock(&LIFECYCLE);
        let started = Arc::new(Pcscd::start());
        *shared = Arc::downgrade(&started);
        started
    }

    fn start() -> Pcscd {
        let process = process();
        assert!(
            Path::new(VPCD_DRIVER).exists() && which("pcscd").is_some(),
            "pcscd or the vpcd driver is missing: run scripts/setup (Debian packages pcscd, \
             vsmartcard-vpcd)"
        );
        let system_lock = match process.mode {
            Mode::Private => None,
            Mode::System => Some(Self::claim_system_socket()),
        };
        let (block_lock, base_port) = Self::claim_port_block();
        let dir = process.work_dir().join(format!("pcscd-{base_port}"));
        let _ = fs::remove_dir_all(&dir);
        let conf = dir.join("reader.conf.d");
        let drivers = dir.join("drivers");
        fs::create_dir_all(&conf).expect("create pcscd config dir");
        fs::create_dir_all(&drivers).expect("create driver dir");
        let mut config = String::new();
        for entry in 0..SLOTS / 2 {
            let port = base_port + 2 * entry as u16;
            // A copy of the driver per entry: vpcd's sockets are per loaded library.
            let driver = drivers.join(format!("libifdvpcd-{port}.so"));
            fs::copy(VPCD_DRIVER, &driver).expect("copy the vpcd driver");
            config.push_str(&format!(
                "FRIENDLYNAME \"{}\"\nDEVICENAME   /dev/null:0x{port:X}\nLIBPATH      {}\nCHANNELID    0x{port:X}\n\n",
                entry_name(port),
                driver.display()
            ));
        }
        fs::write(conf.join("vpcd"), config).expect("write reader config");

        let log = dir.join("pcscd.log");
        let log_file = fs::File::create(&log).expect("create pcscd log");
        let mut command = match process.mode {
            Mode::Private => {
                let _ = fs::remove_dir_all(&process.run_dir);
                fs::create_dir_all(&process.run_dir).expect("create pcscd socket dir");
                // The mount point must exist; creating an empty /run/pcscd is harmless.
                let _ = fs::create_dir_all("/run/pcscd");
                private_pcscd(&process.run_dir, &conf)
            }
            Mode::System => {
                let mut c = Command::new("pcscd");
                c.arg("-f").arg("-c").arg(&conf);
                c
            }
        };
        let child = command
            .current_dir(&dir)
            .stdin(Stdio::null())
            .stdout(log_file.try_clone().expect("log handle"))
            .stderr(log_file)
            .spawn()
            .expect("start pcscd (is it installed? run scripts/setup)");
        let pcscd = Pcscd {
            child: Mutex::new(child),
            mode: process.mode,
            dir,
            base_port,
            log,
            slots: Mutex::new(SlotTable::default()),
            slots_changed: Condvar::new(),
            _system_lock: system_lock,
            _block_lock: block_lock,
        };
        pcscd.wait_ready();
        pcscd
    }

    /// Takes the system pcscd socket for this process (system mode only): one test process at a
    /// time, and never a pcscd that the harness did not start.
    fn claim_system_socket() -> LockFile {
        let lock = LockFile::acquire_waiting(
            &root_dir().join("system-pcscd.lock"),
            Duration::from_secs(600),
            "another test process uses the system pcscd socket",
        );
        if Path::new(SYSTEM_SOCKET).exists() {
            // A live pcscd accepts connections on its socket (it writes no pid file with -f).
            if std::os::unix::net::UnixStream::connect(SYSTEM_SOCKET).is_ok() {
                let pid = fs::read_to_string("/run/pcscd/pcscd.pid").unwrap_or_default();
                let pid = pid.trim_matches(|c: char| c.is_whitespace() || c == '\0');
                let pid = if pid.is_empty() { "unknown" } else { pid };
                panic!(
                    "a pcscd that these tests did not start is running (pid {pid}, socket \
                     {SYSTEM_SOCKET}), and this run cannot have a private pcscd (`unshare -m` is \
                     not allowed here: it needs root or CAP_SYS_ADMIN; or MELLI_E2E_PCSCD=system \
                     was set). Stop that pcscd and run the tests again: they start and stop \
                     their own."
                );
            }
            // A dead pcscd's leftovers: pcscd refuses to start while the socket exists.
            let _ = fs::remove_file(SYSTEM_SOCKET);
            let _ = fs::remove_file("/run/pcscd/pcscd.pid");
        }
        lock
    }

    /// Takes a block of 16 free TCP ports for the vpcd readers.
    fn claim_port_block() -> (LockFile, u16) {
        let root = root_dir();
        for block in 0..BLOCKS {
            let base = FIRST_PORT + block * SLOTS as u16;
            let Some(lock) = LockFile::try_acquire(&root.join(format!("ports-{base}.lock"))) else {
                continue;
            };
            let all_free =
                (base..base + SLOTS as u16).all(|p| TcpListener::bind(("0.0.0.0", p)).is_ok());
            if all_free {
                return (lock, base);
            }
        }
        panic!(
            "no block of 16 free TCP ports in {FIRST_PORT}..{} for the vpcd readers",
            FIRST_PORT + BLOCKS * SLOTS as u16
        );
    }

    fn wait_ready(&self) {
        let expected: Vec<String> = (0..SLOTS).map(|s| self.reader_name(s)).collect();
        let deadline = Instant::now() + READY_TIMEOUT;
        loop {
            if let Some(status) = lock(&self.child).try_wait().ok().flatten() {
                panic!(
                    "pcscd exited ({status}) before its readers appeared; its log:\n{}",
                    tail(&self.log, 40)
                );
            }
            if let Ok(readers) = reader_statuses() {
                if expected
                    .iter()
                    .all(|e| readers.iter().any(|r| &r.name == e))
                {
                    return;
                }
            }
            assert!(
                Instant::now() < deadline,
                "pcscd did not list its {SLOTS} vpcd readers within {READY_TIMEOUT:?}; its log:\n{}",
                tail(&self.log, 40)
            );
            thread::sleep(POLL);
        }
    }

    /// The reader name of a slot: `melli-test-PORT 00 00` / `… 00 01`.
    pub fn reader_name(&self, slot: usize) -> String {
        let entry_port = self.base_port + 2 * (slot / 2) as u16;
        format!("{} 00 {:02}", entry_name(entry_port), slot % 2)
    }

    /// The vpcd port of a slot.
    pub fn port(&self, slot: usize) -> u16 {
        self.base_port + slot as u16
    }

    /// Every reader name of this pcscd, in order.
    pub fn reader_names(&self) -> Vec<String> {
        (0..SLOTS).map(|s| self.reader_name(s)).collect()
    }

    /// Takes a free reader slot, waiting while all are in use or a test holds the pcscd
    /// exclusively.
    pub fn take_slot(self: &Arc<Self>) -> Slot {
        let mut table = lock(&self.slots);
        let deadline = Instant::now() + Duration::from_secs(300);
        loop {
            if !table.exclusive {
                if let Some(index) = table.taken.iter().position(|t| !t) {
                    table.taken[index] = true;
                    table.users += 1;
                    return Slot {
                        pcscd: Arc::clone(self),
                        index,
                    };
                }
            }
            assert!(Instant::now() < deadline, "no free reader slot for 300 s");
            table = self
                .slots_changed
                .wait_timeout(table, Duration::from_millis(100))
                .map(|(g, _)| g)
                .unwrap_or_else(|e| e.into_inner().0);
        }
    }

    /// Waits until no test of this process has a card in a reader, then keeps others from
    /// inserting one until the guard drops. For tests about "no card anywhere". (New slots are
    /// not held back while it waits: a test holding one slot may be waiting for a second.)
    /// The caller must not hold a slot itself.
    pub fn exclusive(self: &Arc<Self>) -> Exclusive {
        let mut table = lock(&self.slots);
        while table.users > 0 || table.exclusive {
            table = self
                .slots_changed
                .wait_timeout(table, Duration::from_millis(100))
                .map(|(g, _)| g)
                .unwrap_or_else(|e| e.into_inner().0);
        }
        table.exclusive = true;
        drop(table);
        // Cards of finished tests are gone once pcscd has noticed.
        let names = self.reader_names();
        wait_for_readers("every reader to be empty", READY_TIMEOUT, |readers| {
            readers
                .iter()
                .filter(|r| names.contains(&r.name))
                .all(|r| !r.card_present)
        });
        Exclusive {
            pcscd: Arc::clone(self),
        }
    }

    fn release_slot(&self, index: usize) {
        let mut table = lock(&self.slots);
        table.taken[index] = false;
        table.users -= 1;
        drop(table);
        self.slots_changed.notify_all();
    }

    /// The index of a reader in `opensc-tool -l`'s list.
    pub fn opensc_index(&self, reader: &str) -> usize {
        let out = run(
            Command::new("opensc-tool").arg("-l"),
            Duration::from_secs(30),
        );
        assert_eq!(out.code, 0, "opensc-tool -l failed: {out:?}");
        for line in out.stdout.lines() {
            let mut fields = line.split_whitespace();
            if let Some(index) = fields.next().and_then(|f| f.parse::<usize>().ok()) {
                if line.trim_end().ends_with(reader) {
                    return index;
                }
            }
        }
        panic!("opensc-tool -l does not list {reader:?}:\n{}", out.stdout);
    }

    /// The last lines of pcscd's log, for failure messages.
    pub fn log_tail(&self, lines: usize) -> String {
        tail(&self.log, lines)
    }
}

/// Serializes starting and stopping pcscd: a new one must not start while the last one is
/// still being torn down (they share the socket directory).
static LIFECYCLE: Mutex<()> = Mutex::new(());

impl Drop for Pcscd {
    fn drop(&mut self) {
        let _lifecycle = lock(&LIFECYCLE);
        let child = self.child.get_mut().unwrap_or_else(|e| e.into_inner());
        stop_child(child, Duration::from_secs(3));
        match self.mode {
            Mode::Private => {
                let _ = fs::remove_dir_all(&process().run_dir);
            }
            Mode::System => {
                // pcscd removes them on SIGTERM; after a SIGKILL they would block the next start.
                let ours = fs::read_to_string("/run/pcscd/pcscd.pid")
                    .ok()
                    .and_then(|s| s.trim().parse::<u32>().ok())
                    == Some(child.id());
                if ours {
                    let _ = fs::remove_file(SYSTEM_SOCKET);
                    let _ = fs::remove_file("/run/pcscd/pcscd.pid");
                }
            }
        }
        let _ = fs::remove_dir_all(&self.dir);
        // Leave nothing behind when the process is done; recreated if another test comes.
        let _ = fs::remove_dir(&process().dir);
    }
}

fn entry_name(port: u16) -> String {
    format!("melli-test-{port}")
}

/// A reader slot of the shared pcscd, held by one fixture; freed on drop.
pub struct Slot {
    pcscd: Arc<Pcscd>,
    index: usize,
}

impl Slot {
    pub fn reader_name(&self) -> String {
        self.pcscd.reader_name(self.index)
    }
    pub fn port(&self) -> u16 {
        self.pcscd.port(self.index)
    }
    pub fn pcscd(&self) -> &Arc<Pcscd> {
        &self.pcscd
    }
}

impl Drop for Slot {
    fn drop(&mut self) {
        self.pcscd.release_slot(self.index);
    }
}

/// Exclusive use of the shared pcscd: no other test of this process has a card inserted.
pub struct Exclusive {
    pcscd: Arc<Pcscd>,
}

impl Exclusive {
    pub fn pcscd(&self) -> &Arc<Pcscd> {
        &self.pcscd
    }
}

impl Drop for Exclusive {
    fn drop(&mut self) {
        lock(&self.pcscd.slots).exclusive = false;
        self.pcscd.slots_changed.notify_all();
    }
}

fn which(program: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .chain([PathBuf::from("/usr/sbin"), PathBuf::from("/sbin")])
        .map(|d| d.join(program))
        .find(|p| p.is_file())
}

fn tail(path: &Path, lines: usize) -> String {
    let text = fs::read_to_string(path).unwrap_or_default();
    let all: Vec<&str> = text.lines().collect();
    all[all.len().saturating_sub(lines)..].join("\n")
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(|e| e.into_inner())
}

/// The command that starts pcscd in a mount namespace of its own, with `run_dir` bound on
/// `/run/pcscd` (its socket lands there; clients find it through `PCSCLITE_CSOCK_NAME`) and
/// its readers from `conf_dir`: a pcscd nobody else on the machine sees or disturbs.
pub fn private_pcscd(run_dir: &Path, conf_dir: &Path) -> Command {
    let mut command = Command::new("unshare");
    command
        .args([
            "-m",
            "--propagation",
            "private",
            "sh",
            "-c",
            "mount --bind \"$1\" /run/pcscd && exec pcscd -f -c \"$2\"",
            "sh",
        ])
        .arg(run_dir)
        .arg(conf_dir);
    command
}
