//! Files melli writes: made whole or not at all, with their mode from the start, and on the
//! disk (file and folder entry) before melli says they exist.

use std::fs;
use std::io::Write;
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt, PermissionsExt};
use std::path::Path;

/// Creates `path`, which must not exist yet, with `mode` from the first moment (so a private
/// file is never readable by others, even briefly), writes `bytes` and syncs the file and its
/// folder.
pub fn write_new(path: &Path, bytes: &[u8], mode: u32) -> std::io::Result<()> {
    let mut file = fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(mode)
        .open(path)?;
    file.write_all(bytes)?;
    file.sync_all()?;
    sync_folder_of(path)
}

/// Writes `bytes` to `path` through a temporary file in the same folder (mode `mode` before
/// anything is written) renamed over it: a reader sees the old file or the new one, never a
/// half-written one, and a crash leaves no partial file under the name.
pub fn replace(path: &Path, bytes: &[u8], mode: u32) -> std::io::Result<()> {
    let folder = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    };
    let mut tmp = tempfile::Builder::new()
        .prefix(".melli-")
        .tempfile_in(folder)?;
    tmp.as_file()
        .set_permissions(fs::Permissions::from_mode(mode))?;
    tmp.write_all(bytes)?;
    tmp.as_file().sync_all()?;
    tmp.persist(path).map_err(|e| e.error)?;
    sync_folder_of(path)
}

/// Moves a finished temporary file (written and synced by the caller, in `path`'s folder) to
/// `path`, replacing it, and syncs the folder: the file appears whole or not at all.
pub fn persist(tmp: tempfile::NamedTempFile, path: &Path) -> std::io::Result<()> {
    tmp.persist(path).map_err(|e| e.error)?;
    sync_folder_of(path)
}

/// Makes the folder `dir` (and its missing parents) readable by the user only (mode 0700),
/// unless it exists already.
pub fn create_private_dir(dir: &Path) -> std::io::Result<()> {
    if dir.is_dir() {
        return Ok(());
    }
    fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir)
}

fn sync_folder_of(path: &Path) -> std::io::Result<()> {
    match path.parent().filter(|d| !d.as_os_str().is_empty()) {
        Some(dir) => fs::File::open(dir)?.sync_all(),
        None => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn mode(p: &Path) -> u32 {
        fs::metadata(p).expect("metadata").permissions().mode() & 0o777
    }

    #[test]
    fn new_files_are_never_overwritten_and_keep_their_mode() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("secret");
        write_new(&path, b"one", 0o600).expect("new");
        assert_eq!(mode(&path), 0o600);
        let err = write_new(&path, b"two", 0o600).expect_err("exists");
        assert_eq!(err.kind(), std::io::ErrorKind::AlreadyExists);
        assert_eq!(fs::read(&path).expect("read"), b"one");
    }

    #[test]
    fn a_replaced_file_is_whole_and_leaves_no_temporary_file() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("out.p7s");
        replace(&path, b"first", 0o644).expect("first");
        replace(&path, b"second", 0o600).expect("second");
        assert_eq!(fs::read(&path).expect("read"), b"second");
        assert_eq!(mode(&path), 0o600);
        let names: Vec<_> = fs::read_dir(dir.path())
            .expect("list")
            .map(|e| e.expect("entry").file_name())
            .collect();
        assert_eq!(names, ["out.p7s"]);
    }
}
