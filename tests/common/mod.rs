//! The end-to-end test environment: a real pcscd with vpcd readers, virtual cards attached to
//! them, and helpers that run `melli` and peer tools with a timeout.
//!
//! What it does, and why (the measured recipe is `../shared/TEST-ENVIRONMENT.md`):
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
//! - **Clean-up of crashed runs.** Everything a test process starts runs inside
//!   `$TMPDIR/melli-e2e/<pid>/`; a later run kills the leftovers of a dead process (found by
//!   that directory in their command line or working directory) before they can pose as cards.
//! - Readiness is always polled (reader list, card presence), never slept for.
#![allow(dead_code)]

pub mod feeder;
pub mod openssl;
pub mod pkcs11;

use std::fs;
use std::io::{self, Read, Write};
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard, OnceLock, Weak};
use std::thread;
use std::time::{Duration, Instant};

/// The melli binary under test.
pub const MELLI: &str = env!("CARGO_BIN_EXE_melli");

/// The ATR of a melli card (applets-spec §3), as `melli` prints it.
pub const MELLI_ATR: &str = "3B8B800180739001C0554D454C4C49BC";
/// SELECT of the melli application, no response data.
pub const SELECT_MELLI: &str = "00A4040C07F04D454C4C4901";
/// The user PIN of every test token (SoftHSM2, in this process's work directory).
pub const TOKEN_PIN: &str = "melli-e2e-token-pin";
/// The security officer's PIN of every test token.
const TOKEN_SO_PIN: &str = "melli-e2e-so-pin";
/// Debian's SoftHSM2 PKCS#11 module.
pub const SOFTHSM_MODULE: &str = "/usr/lib/softhsm/libsofthsm2.so";

/// The issuer master key written for every test card.
pub const TEST_MASTER_KEY: &str = "000102030405060708090A0B0C0D0E0F";

/// Readers per pcscd: eight vpcd entries of two slots (pcscd's limit is 16 readers).
const SLOTS: usize = 16;
const FIRST_PORT: u16 = 40100;
/// Port blocks a test process may take: 40100..=40611.
const BLOCKS: u16 = 32;
const READY_TIMEOUT: Duration = Duration::from_secs(30);
const POLL: Duration = Duration::from_millis(10);

const VPCD_DRIVER: &str = "/usr/lib/pcsc/drivers/serial/libifdvpcd.so";
const SYSTEM_SOCKET: &str = "/run/pcscd/pcscd.comm";

// ---------------------------------------------------------------------------------------------
// Process-wide setup
// ---------------------------------------------------------------------------------------------

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Mode {
    /// Our own pcscd in its own mount namespace; clients use `PCSCLITE_CSOCK_NAME`.
    Private,
    /// pcscd on the system socket.
    System,
}

struct Process {
    mode: Mode,
    /// `$TMPDIR/melli-e2e/<pid>`: everything this process starts lives in here.
    dir: PathBuf,
    /// The pcscd socket directory (private mode): fixed for the life of the process, because
    /// the client library reads `PCSCLITE_CSOCK_NAME` once.
    run_dir: PathBuf,
}

impl Process {
    /// This process's work directory, created if a finished pcscd removed it.
    fn work_dir(&self) -> &Path {
        fs::create_dir_all(&self.dir).expect("create this process's work directory");
        &self.dir
    }
}

fn root_dir() -> PathBuf {
    std::env::temp_dir().join("melli-e2e")
}

/// Sets up this process once: chooses the mode, points the PC/SC client library at our pcscd
/// and clears away what crashed runs left behind. Every helper calls it before anything talks
/// to PC/SC, so the environment variable is in place before the client library first reads it.
fn process() -> &'static Process {
    static PROCESS: OnceLock<Process> = OnceLock::new();
    PROCESS.get_or_init(|| {
        let root = root_dir();
        fs::create_dir_all(&root).expect("create the e2e work directory");
        sweep_dead_runs(&root);
        let dir = root.join(std::process::id().to_string());
        fs::create_dir_all(&dir).expect("create this process's work directory");
        let run_dir = dir.join("run");
        let mode = choose_mode();
        if mode == Mode::Private {
            // Before any PC/SC call in this process (all of them go through `process()`).
            std::env::set_var("PCSCLITE_CSOCK_NAME", run_dir.join("pcscd.comm"));
        }
        // The issuers' HSM: a SoftHSM2 of this process's own (configuration and tokens in its
        // work directory), found by every melli it starts — and by melli's library in this
        // process — through SOFTHSM2_CONF; the tokens' user PIN through MELLI_ISSUER_PIN and
        // MELLI_ROOT_PIN. Set before anything loads the module.
        let conf = melli::pki::token::softhsm_config(&dir.join("softhsm"))
            .expect("make this process's SoftHSM2");
        std::env::set_var("SOFTHSM2_CONF", &conf);
        std::env::set_var("MELLI_ISSUER_PIN", TOKEN_PIN);
        std::env::set_var("MELLI_ROOT_PIN", TOKEN_PIN);
        Process { mode, dir, run_dir }
    })
}

fn choose_mode() -> Mode {
    match std::env::var("MELLI_E2E_PCSCD").as_deref() {
        Ok("system") => return Mode::System,
        Ok("private") => return Mode::Private,
        _ => {}
    }
    // The whole trick must work: a mount namespace, and a bind mount inside it (a container
    // may allow the first and not the second).
    let probe = root_dir().join(format!("probe-{}", std::process::id()));
    let (from, to) = (probe.join("from"), probe.join("to"));
    let _ = fs::create_dir_all(&from);
    let _ = fs::create_dir_all(&to);
    let unshare_works = Command::new("unshare")
        .args(["-m", "--propagation", "private", "mount", "--bind"])
        .arg(&from)
        .arg(&to)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .map(|s| s.success())
        .unwrap_or(false);
    let _ = fs::remove_dir_all(&probe);
    if unshare_works {
        Mode::Private
    } else {
        Mode::System
    }
}

/// Kills what dead test processes left running and removes their directories.
fn sweep_dead_runs(root: &Path) {
    let Ok(entries) = fs::read_dir(root) else {
        return;
    };
    for entry in entries.flatten() {
        let Some(pid) = entry
            .file_name()
            .to_str()
            .and_then(|n| n.parse::<u32>().ok())
        else {
            continue;
        };
        if pid == std::process::id() || pid_alive(pid) {
            continue;
        }
        let dir = entry.path();
        for orphan in processes_using(&dir) {
            kill_pid(orphan, "KILL");
        }
        let _ = fs::remove_dir_all(&dir);
    }
}

/// Processes whose command line or working directory mentions `dir`.
fn processes_using(dir: &Path) -> Vec<u32> {
    let needle = dir.to_string_lossy().into_owned();
    let mut found = Vec::new();
    let Ok(procs) = fs::read_dir("/proc") else {
        return found;
    };
    for p in procs.flatten() {
        let Some(pid) = p.file_name().to_str().and_then(|n| n.parse::<u32>().ok()) else {
            continue;
        };
        let cmdline = fs::read(p.path().join("cmdline"))
            .map(|b| String::from_utf8_lossy(&b).replace('\0', " "))
            .unwrap_or_default();
        let cwd = fs::read_link(p.path().join("cwd"))
            .map(|c| c.to_string_lossy().into_owned())
            .unwrap_or_default();
        if cmdline.contains(&needle) || cwd.starts_with(&needle) {
            found.push(pid);
        }
    }
    found
}

/// Whether a process exists and is not a zombie.
fn pid_alive(pid: u32) -> bool {
    match fs::read_to_string(format!("/proc/{pid}/stat")) {
        Ok(stat) => {
            let state = stat
                .rsplit_once(')')
                .and_then(|(_, rest)| rest.split_whitespace().next());
            !matches!(state, Some("Z") | Some("X") | None)
        }
        Err(_) => false,
    }
}

/// Sends a signal by process id (through `sh`'s built-in `kill`: no procps needed).
fn kill_pid(pid: u32, signal: &str) {
    let _ = Command::new("sh")
        .args([
            "-c",
            "kill -s \"$1\" \"$2\" 2>/dev/null",
            "sh",
            signal,
            &pid.to_string(),
        ])
        .stdin(Stdio::null())
        .status();
}

/// Stops a child: SIGTERM, up to `grace` to exit, then SIGKILL; always waited for.
fn stop_child(child: &mut Child, grace: Duration) {
    if matches!(child.try_wait(), Ok(Some(_))) {
        return;
    }
    if !grace.is_zero() {
        kill_pid(child.id(), "TERM");
        let deadline = Instant::now() + grace;
        while Instant::now() < deadline {
            if matches!(child.try_wait(), Ok(Some(_))) {
                return;
            }
            thread::sleep(POLL);
        }
    }
    let _ = child.kill();
    let _ = child.wait();
}

// ---------------------------------------------------------------------------------------------
// Lock files (cross-process)
// ---------------------------------------------------------------------------------------------

/// A lock file holding the owner's pid, created atomically (hard link of a complete file) and
/// taken over when its owner is dead. Removed on drop.
struct LockFile {
    path: PathBuf,
}

impl LockFile {
    fn try_acquire(path: &Path) -> Option<LockFile> {
        let pid = std::process::id();
        let tmp = path.with_extension(format!("tmp.{pid}.{}", next_id()));
        fs::write(&tmp, pid.to_string()).expect("write a lock file");
        let result = loop {
            match fs::hard_link(&tmp, path) {
                Ok(()) => {
                    break Some(LockFile {
                        path: path.to_path_buf(),
                    })
                }
                Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {
                    let owner = fs::read_to_string(path)
                        .ok()
                        .and_then(|s| s.trim().parse().ok());
                    match owner {
                        Some(owner) if owner == pid || pid_alive(owner) => break None,
                        _ => {
                            // Stale: move it aside (atomically, so only one taker wins) and retry.
                            let aside = path.with_extension(format!("stale.{pid}.{}", next_id()));
                            if fs::rename(path, &aside).is_ok() {
                                let _ = fs::remove_file(&aside);
                            }
                        }
                    }
                }
                Err(e) => panic!("cannot create lock file {}: {e}", path.display()),
            }
        };
        let _ = fs::remove_file(&tmp);
        result
    }

    fn acquire_waiting(path: &Path, timeout: Duration, what: &str) -> LockFile {
        let deadline = Instant::now() + timeout;
        loop {
            if let Some(lock) = LockFile::try_acquire(path) {
                return lock;
            }
            let owner = fs::read_to_string(path).unwrap_or_default();
            assert!(
                Instant::now() < deadline,
                "{what}: still held by process {} after {timeout:?} ({})",
                owner.trim(),
                path.display()
            );
            thread::sleep(Duration::from_millis(200));
        }
    }
}

impl Drop for LockFile {
    fn drop(&mut self) {
        let _ = fs::remove_file(&self.path);
    }
}

fn next_id() -> u32 {
    static NEXT: AtomicU32 = AtomicU32::new(0);
    NEXT.fetch_add(1, Ordering::Relaxed)
}

// ---------------------------------------------------------------------------------------------
// Reader state through PC/SC (the `pcsc` crate, independent of melli's own transport)
// ---------------------------------------------------------------------------------------------

/// A reader as pcscd reports it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReaderStatus {
    pub name: String,
    pub card_present: bool,
    pub atr: Vec<u8>,
}

/// Every reader of the pcscd this process uses, in pcscd's order.
pub fn reader_statuses() -> Result<Vec<ReaderStatus>, pcsc::Error> {
    process();
    let ctx = pcsc::Context::establish(pcsc::Scope::User)?;
    let names = match ctx.list_readers_owned() {
        Ok(names) => names,
        Err(pcsc::Error::NoReadersAvailable) => return Ok(Vec::new()),
        Err(e) => return Err(e),
    };
    let mut states: Vec<pcsc::ReaderState> = names
        .into_iter()
        .map(|n| pcsc::ReaderState::new(n, pcsc::State::UNAWARE))
        .collect();
    if !states.is_empty() {
        ctx.get_status_change(Duration::ZERO, &mut states)?;
    }
    Ok(states
        .iter()
        .map(|s| ReaderStatus {
            name: s.name().to_string_lossy().into_owned(),
            card_present: s.event_state().contains(pcsc::State::PRESENT),
            atr: s.atr().to_vec(),
        })
        .collect())
}

/// Polls until `check` holds for the reader list, or panics after `timeout` with `what`.
pub fn wait_for_readers(
    what: &str,
    timeout: Duration,
    mut check: impl FnMut(&[ReaderStatus]) -> bool,
) -> Vec<ReaderStatus> {
    let deadline = Instant::now() + timeout;
    loop {
        let last = reader_statuses();
        if let Ok(readers) = &last {
            if check(readers) {
                return readers.clone();
            }
        }
        assert!(
            Instant::now() < deadline,
            "timed out after {timeout:?} waiting for {what}; readers: {last:?}; {}",
            pcscd_state()
        );
        thread::sleep(POLL);
    }
}

fn card_present_in(readers: &[ReaderStatus], reader: &str) -> bool {
    readers.iter().any(|r| r.name == reader && r.card_present)
}

fn card_absent_from(readers: &[ReaderStatus], reader: &str) -> bool {
    readers.iter().any(|r| r.name == reader && !r.card_present)
}

// ---------------------------------------------------------------------------------------------
// pcscd
// ---------------------------------------------------------------------------------------------

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
fn pcscd_state() -> String {
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
                let mut c = Command::new("unshare");
                c.args([
                    "-m",
                    "--propagation",
                    "private",
                    "sh",
                    "-c",
                    "mount --bind \"$1\" /run/pcscd && exec pcscd -f -c \"$2\"",
                    "sh",
                ])
                .arg(&process.run_dir)
                .arg(&conf);
                c
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

// ---------------------------------------------------------------------------------------------
// Virtual cards
// ---------------------------------------------------------------------------------------------

/// Which implementation of applets-spec the tests' cards are: the Rust virtual card
/// (`melli card serve`) or the Java Card applet in jCardSim (`scripts/javacard-card`). Chosen
/// for the whole test process by `MELLI_E2E_CARD=rust|javacard` (default `rust`): `scripts/test`
/// runs the end-to-end suite once per kind, the same tests against both cards.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CardKind {
    Rust,
    JavaCard,
}

/// The card kind of this test process (see [`CardKind`]).
pub fn card_kind() -> CardKind {
    static KIND: OnceLock<CardKind> = OnceLock::new();
    *KIND.get_or_init(|| match std::env::var("MELLI_E2E_CARD").as_deref() {
        Err(_) | Ok("") | Ok("rust") => CardKind::Rust,
        Ok("javacard") => CardKind::JavaCard,
        Ok(other) => panic!("MELLI_E2E_CARD={other:?}: expected rust or javacard"),
    })
}

/// The Java Card applet's launcher (builds the applet with Maven when it is not built yet).
const JAVACARD_CARD: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/scripts/javacard-card");

/// A melli virtual card: its own state file, made by `melli card new`, served to one of our
/// readers by `melli card serve`. The card process is killed and waited for on drop.
pub struct VirtualCard {
    // Field order matters on drop: the child is stopped in `Drop`, then the directory is
    // removed, then the slot is freed (which may stop pcscd and tidy the process directory).
    child: Option<Child>,
    /// The Java Card launcher's control input (`pull`, `insert`): jCardSim keeps the card's
    /// persistent memory in its process, so the card is pulled out of its reader and put back
    /// instead of being killed and started again.
    control: Option<std::process::ChildStdin>,
    dir: tempfile::TempDir,
    slot: Slot,
    reader: String,
    serial: String,
    state: PathBuf,
    log: PathBuf,
    tear_at: Option<u64>,
    fault: Option<String>,
}

/// How to make a [`VirtualCard`]; `Default` is a blank card with [`TEST_MASTER_KEY`].
#[derive(Debug, Clone, Default)]
pub struct CardOptions {
    /// The serial; unique to this run when `None`.
    pub serial: Option<String>,
    /// A master key file instead of [`TEST_MASTER_KEY`].
    pub master_key: Option<PathBuf>,
    /// An issuer directory whose master key (in its token) makes the card's keys.
    pub issuer: Option<PathBuf>,
    /// `melli card serve --tear-at K`: the card drops the connection on its K-th command APDU
    /// (counted from the start of each serve process) and comes back 1 s later.
    pub tear_at: Option<u64>,
    /// `melli card serve --fault NAME`: a card that lies on purpose (e.g. "foreign-dg5").
    pub fault: Option<String>,
}

fn unique_serial() -> String {
    format!(
        "E2E{:05}{:03}",
        std::process::id() % 100_000,
        next_id() % 1000
    )
}

impl VirtualCard {
    /// A blank card with a serial unique to this test run.
    pub fn new() -> VirtualCard {
        VirtualCard::with_options(CardOptions::default())
    }

    /// A blank card with the given serial, inserted and ready.
    pub fn with_serial(serial: &str) -> VirtualCard {
        VirtualCard::with_options(CardOptions {
            serial: Some(serial.to_string()),
            ..CardOptions::default()
        })
    }

    /// A blank card whose personalization master key is the test issuer's (see
    /// [`test_issuer`]), so `melli personalize --issuer` works on it.
    pub fn for_issuer(issuer: &Path) -> VirtualCard {
        VirtualCard::with_options(CardOptions {
            issuer: Some(issuer.to_path_buf()),
            ..CardOptions::default()
        })
    }

    /// A blank card made and served as `options` say.
    pub fn with_options(options: CardOptions) -> VirtualCard {
        let serial = options.serial.clone().unwrap_or_else(unique_serial);
        let serial = serial.as_str();
        let pcscd = Pcscd::acquire();
        let slot = pcscd.take_slot();
        let dir = tempfile::Builder::new()
            .prefix("card-")
            .tempdir_in(process().work_dir())
            .expect("card temp dir");
        let key_args = match (&options.issuer, &options.master_key) {
            (Some(issuer), _) => ["--issuer".to_string(), path_str(issuer).to_string()],
            (None, Some(key)) => ["--master-key".to_string(), path_str(key).to_string()],
            (None, None) => {
                let key = dir.path().join("master.key");
                write_private(&key, &format!("{TEST_MASTER_KEY}\n"));
                ["--master-key".to_string(), path_str(&key).to_string()]
            }
        };
        let state = dir.path().join("card.state.json");
        let made = melli(&[
            "card",
            "new",
            "--state",
            path_str(&state),
            "--serial",
            serial,
            &key_args[0],
            &key_args[1],
        ]);
        assert_eq!(made.code, 0, "melli card new failed: {made:?}");
        let mut card = VirtualCard {
            child: None,
            control: None,
            reader: slot.reader_name(),
            slot,
            serial: serial.to_string(),
            state,
            log: dir.path().join("serve.log"),
            tear_at: options.tear_at,
            fault: options.fault.clone(),
            dir,
        };
        card.restart();
        // A reader that an earlier test left in a bad state (a card killed at the wrong
        // moment) can show the new card without letting it answer: put it in again until it
        // does. Not for a card that tears itself: the probe would count as one of its APDUs.
        if card.tear_at.is_none() {
            for _ in 0..3 {
                if card.answers() {
                    break;
                }
                note(&format!(
                    "the card in {} did not answer; putting it in again",
                    card.reader
                ));
                card.restart();
            }
        }
        card
    }

    /// Whether the card answers SELECT of the melli application with 9000.
    fn answers(&self) -> bool {
        use melli::transport::{PcscTransport, Transport};
        let Ok(select) = hex::decode(SELECT_MELLI) else {
            return false;
        };
        PcscTransport::connect(Some(&self.reader))
            .and_then(|mut t| t.transmit(&select))
            .is_ok_and(|answer| answer.ends_with(&[0x90, 0x00]))
    }

    pub fn reader_name(&self) -> &str {
        &self.reader
    }

    pub fn serial(&self) -> &str {
        &self.serial
    }

    /// The card's own temporary directory (removed on drop): a place for per-test files.
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    /// Serves the card again without `--tear-at` from now on (takes effect at the next
    /// [`VirtualCard::restart`]).
    pub fn clear_tear(&mut self) {
        self.tear_at = None;
    }

    pub fn state_path(&self) -> &Path {
        &self.state
    }

    pub fn port(&self) -> u16 {
        self.slot.port()
    }

    pub fn pcscd(&self) -> &Arc<Pcscd> {
        self.slot.pcscd()
    }

    /// The card's own log (stderr of `melli card serve`).
    pub fn log(&self) -> String {
        fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// Kills the card process (SIGKILL: no chance to tidy up) and waits until pcscd sees the
    /// reader empty.
    pub fn kill(&mut self) {
        self.kill_no_wait();
        wait_for_readers("the card to leave its reader", READY_TIMEOUT, |r| {
            card_absent_from(r, &self.reader)
        });
    }

    /// Kills the card process without waiting for pcscd to notice. A Java card is pulled out of
    /// its reader instead (the same power loss for the card), so that it keeps its memory.
    pub fn kill_no_wait(&mut self) {
        if let Some(control) = self.control.as_mut() {
            if control
                .write_all(b"pull\n")
                .and_then(|()| control.flush())
                .is_ok()
            {
                return;
            }
        }
        self.control = None;
        if let Some(mut child) = self.child.take() {
            stop_child(&mut child, Duration::ZERO);
        }
    }

    /// Starts `melli card serve` on the same state file (killing a running one first) and
    /// waits until the reader shows the card.
    pub fn restart(&mut self) {
        // A vpcd slot that an earlier card left at a bad moment can take the card's connection
        // and never power it on (pcscd: "Card not transacted"): take the card out and put it
        // in again, a few times, before calling it a failure.
        for _ in 0..3 {
            self.start_serving();
            if wait_card_quietly(&mut self.child, &self.reader, Duration::from_secs(8)) {
                return;
            }
            note(&format!(
                "the card in {} did not appear; putting it in again",
                self.reader
            ));
        }
        self.start_serving();
        self.wait_present();
    }

    fn start_serving(&mut self) {
        if card_kind() == CardKind::JavaCard && self.insert_java_card() {
            return;
        }
        if self.child.is_some() {
            self.kill();
        }
        let log = fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.log)
            .expect("card log");
        let tear = self
            .tear_at
            .map(|k| vec!["--tear-at".to_string(), k.to_string()])
            .unwrap_or_default();
        let mut command = match card_kind() {
            CardKind::Rust => {
                let mut command = Command::new(MELLI);
                command
                    .args(["card", "serve", "--state"])
                    .arg(&self.state)
                    .args(self.fault.iter().flat_map(|f| ["--fault", f.as_str()]))
                    .stdin(Stdio::null());
                command
            }
            CardKind::JavaCard => {
                assert!(
                    self.fault.is_none(),
                    "the Java Card applet has no test faults; this test is for the Rust card only"
                );
                let mut command = Command::new(JAVACARD_CARD);
                command.arg("--card").arg(&self.state).stdin(Stdio::piped());
                command
            }
        };
        let mut child = command
            .arg("--vpcd")
            .arg(format!("127.0.0.1:{}", self.port()))
            .args(tear)
            .current_dir(self.dir.path())
            .stdout(log.try_clone().expect("log handle"))
            .stderr(log)
            .spawn()
            .expect("spawn the virtual card");
        self.control = child.stdin.take();
        self.child = Some(child);
    }

    /// Puts a pulled Java card back in its reader; false when there is no running launcher to
    /// ask.
    fn insert_java_card(&mut self) -> bool {
        let running = matches!(self.child.as_mut().map(Child::try_wait), Some(Ok(None)));
        match self.control.as_mut() {
            Some(control) if running => control
                .write_all(b"insert\n")
                .and_then(|()| control.flush())
                .is_ok(),
            _ => false,
        }
    }

    /// After a `--tear-at` tear: waits until the card process has connected to vpcd again
    /// (its log says so after the "card pulled" line) and pcscd shows the card.
    pub fn wait_reinserted(&mut self) {
        let deadline = Instant::now() + READY_TIMEOUT;
        loop {
            let log = self.log();
            let back = log
                .find("card pulled")
                .is_some_and(|at| log[at..].contains("connected to vpcd"));
            if back {
                break;
            }
            assert!(
                Instant::now() < deadline,
                "the card did not come back after its tear within {READY_TIMEOUT:?}; its log:\n{log}"
            );
            thread::sleep(POLL);
        }
        self.wait_present();
    }

    fn wait_present(&mut self) {
        let pcscd = Arc::clone(self.pcscd());
        wait_card_of(
            &mut self.child,
            &self.reader,
            "melli card serve",
            &self.log,
            &pcscd,
        );
    }
}

/// For `Drop`: kills the card's process, if it runs, and waits up to 10 s for `reader` to show
/// no card, so the slot is empty for the next test. Never panics.
fn stop_leaving_reader_empty(child: &mut Option<Child>, reader: &str) {
    if let Some(mut child) = child.take() {
        stop_child(&mut child, Duration::ZERO);
        let deadline = Instant::now() + Duration::from_secs(10);
        while Instant::now() < deadline {
            if matches!(reader_statuses(), Ok(r) if card_absent_from(&r, reader)) {
                break;
            }
            thread::sleep(POLL);
        }
    }
}

/// Waits until `reader` shows a card, the one the process `child` (`what`, logging to `log`)
/// serves; panics if the process exits first or the card never comes.
/// Whether the card of `child` shows in `reader` within `patience` (false also when the process
/// ended first).
fn wait_card_quietly(child: &mut Option<Child>, reader: &str, patience: Duration) -> bool {
    let deadline = Instant::now() + patience;
    while Instant::now() < deadline {
        if let Some(Ok(Some(_))) = child.as_mut().map(Child::try_wait) {
            return false;
        }
        if matches!(reader_statuses(), Ok(r) if card_present_in(&r, reader)) {
            return true;
        }
        thread::sleep(POLL);
    }
    false
}

fn wait_card_of(child: &mut Option<Child>, reader: &str, what: &str, log: &Path, pcscd: &Pcscd) {
    let deadline = Instant::now() + READY_TIMEOUT;
    loop {
        if let Some(Ok(Some(status))) = child.as_mut().map(Child::try_wait) {
            panic!(
                "{what} exited ({status}) before its card appeared; its log:\n{}",
                fs::read_to_string(log).unwrap_or_default()
            );
        }
        if matches!(reader_statuses(), Ok(r) if card_present_in(&r, reader)) {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "the card of {what} did not appear in {reader} within {READY_TIMEOUT:?}; its log:\n{}\npcscd log:\n{}",
            fs::read_to_string(log).unwrap_or_default(),
            pcscd.log_tail(20)
        );
        thread::sleep(POLL);
    }
}

impl Default for VirtualCard {
    fn default() -> Self {
        VirtualCard::new()
    }
}

impl Drop for VirtualCard {
    fn drop(&mut self) {
        // A card killed while it is out after a `--tear-at` pull leaves vpcd's slot powered
        // off, and the next card in that reader fails its reset: let it come back first.
        let deadline = Instant::now() + Duration::from_secs(5);
        while Instant::now() < deadline {
            let log = self.log();
            match log.rfind("card pulled") {
                Some(at) if !log[at..].contains("connected to vpcd") => thread::sleep(POLL),
                _ => break,
            }
        }
        stop_leaving_reader_empty(&mut self.child, &self.reader);
    }
}

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

// ---------------------------------------------------------------------------------------------
// Running programs
// ---------------------------------------------------------------------------------------------

/// What a finished program gave: exit code (-1 when killed by a signal), stdout, stderr.
#[derive(Debug, Clone)]
pub struct Output {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

impl Output {
    /// Parses stdout as JSON, with the whole output in the panic message if it is not.
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_str(&self.stdout)
            .unwrap_or_else(|e| panic!("stdout is not JSON ({e}): {self:?}"))
    }
}

/// Runs `melli ARGS…` against this process's pcscd, with a 60 s timeout.
pub fn melli(args: &[&str]) -> Output {
    let mut command = Command::new(MELLI);
    command.args(args);
    run(&mut command, Duration::from_secs(60))
}

/// Runs `melli ARGS…` with `input` on its stdin, with a 60 s timeout.
pub fn melli_stdin(args: &[&str], input: &str) -> Output {
    let mut command = Command::new(MELLI);
    command.args(args);
    run_with_input(&mut command, Some(input), Duration::from_secs(60))
}

/// A test issuer made once per test process by `melli issuer init` (root CA, document signer,
/// signing CA, master key). Lives in this process's work directory, which a later run sweeps
/// away once this process is gone.
pub fn test_issuer() -> &'static Path {
    static ISSUER: OnceLock<PathBuf> = OnceLock::new();
    ISSUER.get_or_init(|| make_issuer("issuer"))
}

/// An issuer with plain key files (`--insecure-plain-keys`), made once per process, for tests
/// whose peer (`openssl x509 -CAkey`, `openssl ca -keyfile`) signs with the issuer's own keys
/// as files. Its root key is in `<dir>-root/root.key` ([`plain_root_key`]).
pub fn plain_issuer() -> &'static Path {
    static ISSUER: OnceLock<PathBuf> = OnceLock::new();
    ISSUER.get_or_init(|| make_plain_issuer("plain-issuer"))
}

/// The root key file of an issuer made with plain key files.
pub fn plain_root_key(issuer: &Path) -> PathBuf {
    melli::pki::issuer::default_root_dir(issuer).join("root.key")
}

/// A second, unrelated issuer (its own root and master key), made once per process.
pub fn other_issuer() -> &'static Path {
    static ISSUER: OnceLock<PathBuf> = OnceLock::new();
    ISSUER.get_or_init(|| make_issuer("other-issuer"))
}

/// A new issuer made by `melli issuer init` in this process's work directory, its keys in a
/// SoftHSM2 token of its own and its root key in another (initialized here with
/// `softhsm2-util`), for a test that changes it (the shared [`test_issuer`] must stay as it
/// is). `name` must be unique per test. The root directory is `<dir>-root`.
///
/// The tokens are made and filled in a staging SoftHSM2 of their own and then moved into this
/// process's token directory whole (a rename): SoftHSM2's file store is shared safely by
/// processes that use it, but a process that starts while another is still creating a token
/// can trip over the half-made token directory.
pub fn make_issuer(name: &str) -> PathBuf {
    let dir = fresh_issuer_dir(name);
    let id = next_id();
    // Labels that are not prefixes of each other: pkcs11-tool --token-label matches a prefix.
    let label = format!("i{id}");
    let root_label = format!("r{id}");
    let staging = process()
        .work_dir()
        .join("softhsm")
        .join(format!("staging-{id}"));
    let conf = melli::pki::token::softhsm_config(&staging).expect("a staging SoftHSM2");
    let tokens = staging.join("tokens");
    for l in [&label, &root_label] {
        init_token(&conf, l);
    }
    let out = run(
        Command::new(MELLI)
            .env("SOFTHSM2_CONF", &conf)
            .args(["issuer", "init", path_str(&dir), "--hsm", SOFTHSM_MODULE])
            .args(["--token", &label, "--root-token", &root_label]),
        Duration::from_secs(60),
    );
    assert_eq!(out.code, 0, "melli issuer init failed: {out:?}");
    let shared = process().work_dir().join("softhsm").join("tokens");
    for entry in fs::read_dir(&tokens).expect("staged tokens") {
        let entry = entry.expect("staged token");
        fs::rename(entry.path(), shared.join(entry.file_name())).expect("move a staged token");
    }
    let _ = fs::remove_dir_all(&staging);
    dir
}

/// A new issuer with plain key files (`melli issuer init --insecure-plain-keys`), for tests
/// that change it in this process through the library (a new document signer).
pub fn make_plain_issuer(name: &str) -> PathBuf {
    let dir = fresh_issuer_dir(name);
    let out = melli(&["issuer", "init", path_str(&dir), "--insecure-plain-keys"]);
    assert_eq!(out.code, 0, "melli issuer init failed: {out:?}");
    dir
}

fn fresh_issuer_dir(name: &str) -> PathBuf {
    let base = process().work_dir().join("issuers");
    let dir = base.join(name);
    let _ = fs::remove_dir_all(&dir);
    let _ = fs::remove_dir_all(base.join(format!("{name}-root")));
    fs::create_dir_all(&base).expect("issuer base dir");
    dir
}

/// Initializes a SoftHSM2 token labelled `label` in the SoftHSM2 that `conf` configures, with
/// [`TOKEN_PIN`] — by `softhsm2-util`, the tool an HSM operator would use.
fn init_token(conf: &Path, label: &str) {
    let out = run(
        Command::new("softhsm2-util")
            .env("SOFTHSM2_CONF", conf)
            .args([
                "--init-token",
                "--free",
                "--label",
                label,
                "--pin",
                TOKEN_PIN,
                "--so-pin",
                TOKEN_SO_PIN,
            ]),
        Duration::from_secs(30),
    );
    assert_eq!(out.code, 0, "softhsm2-util --init-token failed: {out:?}");
}

/// Loads the issuer in `dir` through melli's library, in this process (a bench: a test
/// process must not load SoftHSM2 itself, since a module loaded once never sees the tokens
/// made after it).
pub fn load_issuer(dir: &Path) -> melli::pki::Issuer {
    melli::pki::Issuer::load(dir, &mut |_| {
        Ok(zeroize::Zeroizing::new(TOKEN_PIN.to_string()))
    })
    .expect("load the issuer")
}

/// Gives the issuer in `dir` a new document signer valid from `not_before` to `not_after`
/// (`melli issuer new-document-signer`: issued by its root in `<dir>-root`, the key made in
/// the issuer's token), to the second.
pub fn issue_document_signer(
    dir: &Path,
    not_before: std::time::SystemTime,
    not_after: std::time::SystemTime,
) {
    let rfc3339 = |t| {
        der::DateTime::from_system_time(t)
            .expect("a time der can hold")
            .to_string()
    };
    let out = melli(&[
        "issuer",
        "new-document-signer",
        path_str(dir),
        "--not-before",
        &rfc3339(not_before),
        "--not-after",
        &rfc3339(not_after),
    ]);
    assert_eq!(
        out.code, 0,
        "melli issuer new-document-signer failed: {out:?}"
    );
}

/// This process's turn at its SoftHSM2 store, as melli processes take it (an advisory lock on
/// `$SOFTHSM2_CONF.melli-lock`; see `melli::pki::token`): for a peer tool such as
/// `pkcs11-tool` that logs in — a login rewrites the token, which SoftHSM2 does not protect
/// from other processes reading it.
pub fn softhsm_turn() -> fs::File {
    process();
    let path = melli::pki::token::softhsm_lock_path();
    let file = fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(path)
        .expect("the SoftHSM2 lock file");
    file.lock().expect("SoftHSM2's turn");
    file
}

/// Writes a new file readable by its owner alone (a key file).
pub fn write_private(path: &Path, text: &str) {
    use std::os::unix::fs::OpenOptionsExt;
    let mut f = fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)
        .expect("create a private file");
    f.write_all(text.as_bytes()).expect("write a private file");
}

/// Runs a program to completion with a timeout (then it is killed and the test fails), stdin
/// closed, output captured.
pub fn run(command: &mut Command, timeout: Duration) -> Output {
    run_with_input(command, None, timeout)
}

/// [`run`], with `input` written to the program's stdin (then closed) when given.
pub fn run_with_input(command: &mut Command, input: Option<&str>, timeout: Duration) -> Output {
    process();
    let mut child = command
        .stdin(if input.is_some() {
            Stdio::piped()
        } else {
            Stdio::null()
        })
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("cannot run {command:?}: {e}"));
    if let (Some(input), Some(mut stdin)) = (input, child.stdin.take()) {
        let input = input.to_string();
        thread::spawn(move || {
            let _ = stdin.write_all(input.as_bytes());
        });
    }
    let stdout = reader_thread(child.stdout.take());
    let stderr = reader_thread(child.stderr.take());
    let deadline = Instant::now() + timeout;
    let status = loop {
        if let Some(status) = child.try_wait().expect("wait for child") {
            break status;
        }
        if Instant::now() >= deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!(
                "{command:?} did not finish within {timeout:?}; stdout so far:\n{}\nstderr:\n{}",
                stdout.join().unwrap_or_default(),
                stderr.join().unwrap_or_default()
            );
        }
        thread::sleep(Duration::from_millis(2));
    };
    Output {
        code: status.code().unwrap_or(-1),
        stdout: stdout.join().unwrap_or_default(),
        stderr: stderr.join().unwrap_or_default(),
    }
}

fn reader_thread(pipe: Option<impl Read + Send + 'static>) -> thread::JoinHandle<String> {
    thread::spawn(move || {
        let mut text = Vec::new();
        if let Some(mut pipe) = pipe {
            let _ = pipe.read_to_end(&mut text);
        }
        String::from_utf8_lossy(&text).into_owned()
    })
}

/// One APDU exchange as `opensc-tool -s` prints it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OpenscExchange {
    /// The command, hex without spaces.
    pub sent: String,
    /// The status word, e.g. "9000".
    pub sw: String,
    /// The response data, hex without spaces.
    pub data: String,
}

/// Runs `opensc-tool -r INDEX -s APDU…` and parses each exchange.
pub fn opensc_send(index: usize, apdus: &[&str]) -> (Output, Vec<OpenscExchange>) {
    let mut command = Command::new("opensc-tool");
    command.arg("-r").arg(index.to_string());
    for apdu in apdus {
        command.arg("-s").arg(apdu);
    }
    let out = run(&mut command, Duration::from_secs(120));
    let mut exchanges: Vec<OpenscExchange> = Vec::new();
    // Data lines come from util_hex_dump_asc: "XX " per byte (16 a line), then the printable
    // bytes as ASCII; the first line is not padded (3n + n characters), later ones are padded
    // to 48 before the ASCII column.
    let mut data_line = 0;
    for line in out.stdout.lines() {
        if let Some(sent) = line.strip_prefix("Sending: ") {
            exchanges.push(OpenscExchange {
                sent: sent.split_whitespace().collect(),
                sw: String::new(),
                data: String::new(),
            });
            data_line = usize::MAX;
        } else if let Some(rest) = line.strip_prefix("Received (SW1=0x") {
            // "Received (SW1=0x90, SW2=0x00)", with ":" when data lines follow.
            let sw1 = rest.get(..2).unwrap_or_default();
            let sw2 = rest
                .split("SW2=0x")
                .nth(1)
                .and_then(|s| s.get(..2))
                .unwrap_or_default();
            if let Some(last) = exchanges.last_mut() {
                last.sw = format!("{sw1}{sw2}").to_uppercase();
            }
            data_line = 0;
        } else if data_line != usize::MAX && line.is_ascii() && !line.is_empty() {
            let Some(last) = exchanges.last_mut() else {
                continue;
            };
            let hex_part = if data_line == 0 {
                &line[..3 * (line.len() / 4)]
            } else {
                &line[..line.len().min(48)]
            };
            last.data
                .extend(hex_part.split_whitespace().map(str::to_uppercase));
            data_line += 1;
        }
    }
    (out, exchanges)
}

fn which(program: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .chain([PathBuf::from("/usr/sbin"), PathBuf::from("/sbin")])
        .map(|d| d.join(program))
        .find(|p| p.is_file())
}

fn path_str(path: &Path) -> &str {
    path.to_str().expect("temp paths are UTF-8")
}

fn tail(path: &Path, lines: usize) -> String {
    let text = fs::read_to_string(path).unwrap_or_default();
    let all: Vec<&str> = text.lines().collect();
    all[all.len().saturating_sub(lines)..].join("\n")
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(|e| e.into_inner())
}

/// Writes to stderr without interleaving with other test threads' lines.
pub fn note(message: &str) {
    let _ = writeln!(io::stderr().lock(), "{message}");
}

// ---------------------------------------------------------------------------------------------
// Personalized cards
// ---------------------------------------------------------------------------------------------

/// The PIN and PUK of a PIN mailer file.
#[derive(Debug, Clone)]
pub struct Mailer {
    pub serial: String,
    pub pin: String,
    pub puk: String,
}

/// Parses a PIN mailer: "melli PIN mailer", "card: SERIAL", "PIN: …", "PUK: …".
pub fn read_mailer(path: &Path) -> Mailer {
    let text = fs::read_to_string(path)
        .unwrap_or_else(|e| panic!("cannot read the PIN mailer {}: {e}", path.display()));
    let field = |name: &str| {
        text.lines()
            .find_map(|l| l.strip_prefix(name))
            .map(|v| v.trim().to_string())
            .unwrap_or_else(|| panic!("no {name:?} line in the PIN mailer:\n{text}"))
    };
    assert_eq!(text.lines().next(), Some("melli PIN mailer"), "{text}");
    Mailer {
        serial: field("card:"),
        pin: field("PIN:"),
        puk: field("PUK:"),
    }
}

/// The PIN mailer path used for a card by [`personalize`].
pub fn mailer_path(card: &VirtualCard) -> PathBuf {
    card.dir().join("pin-mailer.txt")
}

/// `melli personalize RECORD --issuer ISSUER --reader R --pin-mailer CARD_DIR/pin-mailer.txt
/// --json`.
pub fn personalize_with(card: &VirtualCard, record: &str, issuer: &Path) -> Output {
    let mailer = mailer_path(card);
    melli(&[
        "personalize",
        record,
        "--issuer",
        path_str(issuer),
        "--reader",
        card.reader_name(),
        "--pin-mailer",
        path_str(&mailer),
        "--json",
    ])
}

/// A card personalized with `fixtures/records/valid-1.json` by [`test_issuer`]; panics unless
/// that worked. Returns the card and its PIN mailer.
pub fn personalized_card() -> (VirtualCard, Mailer) {
    personalized_card_of(test_issuer())
}

/// A card personalized by `issuer` from `fixtures/records/valid-1.json`, and its PIN mailer.
pub fn personalized_card_of(issuer: &Path) -> (VirtualCard, Mailer) {
    let card = VirtualCard::for_issuer(issuer);
    let out = personalize_with(&card, "fixtures/records/valid-1.json", issuer);
    assert_eq!(
        out.code,
        0,
        "personalize failed: {out:?}\ncard log:\n{}",
        card.log()
    );
    let mailer = read_mailer(&mailer_path(&card));
    (card, mailer)
}

/// Panics if `secret` appears in any of the outputs (stdout or stderr).
pub fn assert_secret_absent(secret: &str, outputs: &[&Output]) {
    for out in outputs {
        assert!(
            !out.stdout.contains(secret) && !out.stderr.contains(secret),
            "a secret appears in a command's output: {out:?}"
        );
    }
}

/// The test issuer's root certificate, as a string path.
pub fn root_pem(issuer: &Path) -> String {
    path_str(&issuer.join("root.pem")).to_string()
}

/// `melli verify --trust ROOT --reader R --json [extra…]`: the exit code and the checks by name.
pub fn verify_card(
    card: &VirtualCard,
    issuer: &Path,
    extra: &[&str],
) -> (Output, Vec<(String, bool, String)>) {
    let root = root_pem(issuer);
    let mut args = vec![
        "verify",
        "--trust",
        root.as_str(),
        "--reader",
        card.reader_name(),
        "--json",
    ];
    args.extend_from_slice(extra);
    let out = melli(&args);
    assert!(
        out.code == 0 || out.code == 1,
        "melli verify did not run: {out:?}\ncard log:\n{}",
        card.log()
    );
    let json = out.json();
    assert_eq!(
        json["passed"].as_bool(),
        Some(out.code == 0),
        "exit code and \"passed\" disagree: {out:?}"
    );
    let checks = json["checks"]
        .as_array()
        .unwrap_or_else(|| panic!("no checks list: {out:?}"))
        .iter()
        .map(|c| {
            (
                c["name"].as_str().unwrap_or_default().to_string(),
                c["passed"].as_bool().unwrap_or(false),
                c["detail"].as_str().unwrap_or_default().to_string(),
            )
        })
        .collect();
    (out, checks)
}

/// The card's state file as JSON.
pub fn read_state(card: &VirtualCard) -> serde_json::Value {
    let text = fs::read_to_string(card.state_path()).expect("state file");
    serde_json::from_str(&text).expect("state file is JSON")
}

/// Writes a changed state file sealed again, as someone who read applets-spec §8.7 would (the
/// card refuses an unsealed edit): the `mac` member is HMAC-SHA256 under
/// K_file = HMAC-SHA256(device_secret, "melli-card state file v2") of the file's compact JSON
/// without `mac`, members sorted by name (serde_json's `Value` keeps them sorted).
pub fn write_state(card: &VirtualCard, state: &serde_json::Value) {
    use hmac::{Hmac, Mac};
    let hmac = |key: &[u8], data: &[u8]| {
        let mut mac = <Hmac<sha2::Sha256> as Mac>::new_from_slice(key).expect("HMAC key");
        mac.update(data);
        mac.finalize().into_bytes().to_vec()
    };
    let mut state = state.clone();
    let members = state
        .as_object_mut()
        .expect("a state file is a JSON object");
    members.remove("mac");
    let secret = hex::decode(members["device_secret"].as_str().expect("device_secret"))
        .expect("device_secret is hex");
    let file_key = hmac(&secret, b"melli-card state file v2");
    let canonical = serde_json::to_vec(&state).expect("serialize state");
    state["mac"] = hex::encode_upper(hmac(&file_key, &canonical)).into();
    fs::write(
        card.state_path(),
        serde_json::to_string_pretty(&state).expect("serialize state"),
    )
    .expect("write state file");
}

/// The hex content of elementary file `fid` ("0101" …) in a state file, as a mutable JSON value.
pub fn state_file_content<'a>(
    state: &'a mut serde_json::Value,
    fid: &str,
) -> &'a mut serde_json::Value {
    state["files"]
        .as_array_mut()
        .expect("a files list in the state")
        .iter_mut()
        .find(|f| f["fid"].as_str().map(|s| s.eq_ignore_ascii_case(fid)) == Some(true))
        .map(|f| &mut f["content"])
        .unwrap_or_else(|| panic!("no file {fid} in the card state"))
}
