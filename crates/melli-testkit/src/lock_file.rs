//! Lock files (cross-process): the system pcscd socket and the blocks of vpcd ports are taken
//! by one test process at a time.

use std::fs;
use std::io;
use std::path::{Path, PathBuf};
use std::thread;
use std::time::{Duration, Instant};

use crate::process::{next_id, pid_alive};

/// A lock file holding the owner's pid, created atomically (hard link of a complete file) and
/// taken over when its owner is dead. Removed on drop.
pub struct LockFile {
    path: PathBuf,
}

impl LockFile {
    /// Takes the lock at `path`, or `None` while a live process (this one included) holds it.
    pub fn try_acquire(path: &Path) -> Option<LockFile> {
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

    /// Takes the lock at `path`, waiting up to `timeout` while another process holds it; panics
    /// then, with `what` and the owner's pid.
    pub fn acquire_waiting(path: &Path, timeout: Duration, what: &str) -> LockFile {
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
