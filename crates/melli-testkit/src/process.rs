//! This test process: its work directory, the pcscd mode it chose, and clean-up of crashed runs.
//!
//! - **Clean-up of crashed runs.** Everything a test process starts runs inside
//!   `$TMPDIR/melli-e2e/<pid>/`; a later run kills the leftovers of a dead process (found by
//!   that directory in their command line or working directory) before they can pose as cards.
//! - **The mode** — our own pcscd in a mount namespace, or the system socket (see
//!   [`crate::pcscd`]) — is chosen once, and in private mode `PCSCLITE_CSOCK_NAME` is set
//!   before anything in this process talks to PC/SC.

use std::fs;
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::OnceLock;
use std::thread;
use std::time::{Duration, Instant};

use crate::readers::POLL;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Mode {
    /// Our own pcscd in its own mount namespace; clients use `PCSCLITE_CSOCK_NAME`.
    Private,
    /// pcscd on the system socket.
    System,
}

/// This test process, as [`process`] set it up.
pub struct Process {
    pub(crate) mode: Mode,
    /// `$TMPDIR/melli-e2e/<pid>`: everything this process starts lives in here.
    pub(crate) dir: PathBuf,
    /// The pcscd socket directory (private mode): fixed for the life of the process, because
    /// the client library reads `PCSCLITE_CSOCK_NAME` once.
    pub(crate) run_dir: PathBuf,
}

impl Process {
    /// This process's work directory, created if a finished pcscd removed it.
    pub fn work_dir(&self) -> &Path {
        fs::create_dir_all(&self.dir).expect("create this process's work directory");
        &self.dir
    }
}

/// `$TMPDIR/melli-e2e`: the work directories of every test process, and the lock files.
pub(crate) fn root_dir() -> PathBuf {
    std::env::temp_dir().join("melli-e2e")
}

/// Sets up this process once: chooses the mode, points the PC/SC client library at our pcscd
/// and clears away what crashed runs left behind. Every helper calls it before anything talks
/// to PC/SC, so the environment variable is in place before the client library first reads it.
pub fn process() -> &'static Process {
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
pub fn pid_alive(pid: u32) -> bool {
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
pub fn kill_pid(pid: u32, signal: &str) {
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
pub fn stop_child(child: &mut Child, grace: Duration) {
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

/// A number unique in this process (0, 1, 2 …): for names of files, serials, labels.
pub fn next_id() -> u32 {
    static NEXT: AtomicU32 = AtomicU32::new(0);
    NEXT.fetch_add(1, Ordering::Relaxed)
}

/// Writes to stderr without interleaving with other test threads' lines.
pub fn note(message: &str) {
    let _ = writeln!(io::stderr().lock(), "{message}");
}
