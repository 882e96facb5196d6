//! The issuer's folders: made as temporary siblings and renamed into place, and the files in
//! them written whole.

use super::*;

/// Checks that `dir` is absent, or an empty folder of mode 0700 (a real folder, not a
/// symbolic link); says whether it is there.
pub(super) fn check_init_target(dir: &Path) -> Result<bool, PkiError> {
    let meta = match fs::symlink_metadata(dir) {
        Ok(meta) => meta,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(false),
        Err(e) => {
            return Err(PkiError::Io {
                path: dir.to_path_buf(),
                source: e,
            })
        }
    };
    if !meta.is_dir() {
        let what = if meta.file_type().is_symlink() {
            "is a symbolic link"
        } else if meta.is_file() {
            "is a file"
        } else {
            "is not a folder"
        };
        return Err(PkiError::bad_file(
            dir,
            format!("{what}; issuer init needs a new or empty directory"),
        ));
    }
    let mut entries = fs::read_dir(dir).map_err(|e| PkiError::Io {
        path: dir.to_path_buf(),
        source: e,
    })?;
    if entries.next().is_some() {
        return Err(PkiError::NotEmpty {
            path: dir.to_path_buf(),
        });
    }
    let mode = meta.permissions().mode() & 0o7777;
    if mode != 0o700 {
        return Err(PkiError::bad_file(
            dir,
            format!(
                "mode {mode:04o}, but an issuer directory holds keys and must be mode 0700: run chmod 700 {}",
                dir.display()
            ),
        ));
    }
    Ok(true)
}

/// Makes a new folder beside `dir`, `.NAME.tmp-PID-RANDOM`, mode 0700 (and `dir`'s parent
/// folders if they are missing).
pub(super) fn make_temp_sibling(dir: &Path) -> Result<PathBuf, PkiError> {
    let io = |path: &Path, e| PkiError::Io {
        path: path.to_path_buf(),
        source: e,
    };
    let parent = match dir.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    };
    let name = dir
        .file_name()
        .ok_or_else(|| PkiError::bad_file(dir, "names no folder; give a new or empty directory"))?;
    fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(&parent)
        .map_err(|e| io(&parent, e))?;
    let mut random = [0u8; 6];
    OsRng
        .try_fill_bytes(&mut random)
        .map_err(PkiError::Random)?;
    let mut tmp_name = std::ffi::OsString::from(".");
    tmp_name.push(name);
    tmp_name.push(format!(
        ".tmp-{}-{}",
        std::process::id(),
        hex::encode(random)
    ));
    let tmp = parent.join(tmp_name);
    fs::DirBuilder::new()
        .mode(0o700)
        .create(&tmp)
        .map_err(|e| io(&tmp, e))?;
    Ok(tmp)
}

/// Renames the finished `tmp` folder to `dir`, which must be absent or empty: a folder that
/// another run filled meanwhile is left alone.
pub(super) fn move_into_place(tmp: &Path, dir: &Path) -> Result<(), PkiError> {
    fs::rename(tmp, dir).map_err(|e| match e.raw_os_error() {
        Some(libc::ENOTEMPTY | libc::EEXIST | libc::ENOTDIR | libc::EISDIR) => PkiError::bad_file(
            dir,
            "made by another run meanwhile (this run left it as it is) — use that issuer, or give another directory",
        ),
        _ => PkiError::Io {
            path: dir.to_path_buf(),
            source: e,
        },
    })
}

/// Create `dir/name` (which must not exist) with `mode` from the start, and write `bytes`.
pub(super) fn write_new(dir: &Path, name: &str, bytes: &[u8], mode: u32) -> Result<(), PkiError> {
    let path = dir.join(name);
    crate::files::write_new(&path, bytes, mode).map_err(|source| PkiError::Io { path, source })
}

/// Replace `dir/name` atomically with `bytes`, mode `mode`.
pub(super) fn replace_file(
    dir: &Path,
    name: &str,
    bytes: &[u8],
    mode: u32,
) -> Result<(), PkiError> {
    let path = dir.join(name);
    crate::files::replace(&path, bytes, mode).map_err(|source| PkiError::Io { path, source })
}
