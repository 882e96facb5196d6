//! Files from outside, read whole: regular files only, each kind capped in size.
//!
//! `/dev/zero`, a FIFO nobody writes to, or a multi-gigabyte file given where a certificate or a
//! record is meant must not make melli read until memory runs out or wait for ever. So every
//! file melli reads whole goes through [`read`]: it opens the file, checks on the open handle
//! that it is a regular file no larger than its kind allows, and reads at most that much (a
//! file that grows while it is read is refused too). A document to sign or verify is streamed
//! instead (`ops::sign::hash_file`), with the same regular-file rule.

use std::fs::File;
use std::io::Read;
use std::path::{Path, PathBuf};

/// What a file is meant to hold, and so how large it may be.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// An X.509 certificate or a PEM bundle of a few (`--trust`, issuer certificates).
    Certificate,
    /// A CMS signature (`.p7s`), detached.
    Signature,
    /// An enrolment record (JSON) or a JSON-lines file of records.
    Record,
    /// A file of many enrolment records (`batch`), one per line.
    Records,
    /// A photo (JPEG or PNG) to be brought to the card's size.
    Photo,
    /// An ISO/IEC 19794-2 finger minutiae record.
    Fingerprint,
    /// A key file, a PIN mailer, a small configuration (`issuer.json`).
    Small,
    /// A certificate revocation list (`--crl`): a national CRL of many revoked cards.
    Crl,
    /// The issuer's database of issued certificates (`index.txt`).
    Database,
    /// A PDF to sign or verify: read whole once (its objects are parsed), so capped.
    Pdf,
    /// A document to sign or verify: streamed, never read whole, so not capped — but a
    /// regular file, never a device or a FIFO that would be read for ever.
    Document,
}

impl Kind {
    /// The largest file of this kind, in bytes.
    pub const fn cap(self) -> u64 {
        match self {
            Kind::Certificate => 256 * 1024,
            Kind::Signature => 1024 * 1024,
            Kind::Record => 1024 * 1024,
            Kind::Records => 256 * 1024 * 1024,
            Kind::Photo => 16 * 1024 * 1024,
            Kind::Fingerprint => 64 * 1024,
            Kind::Small => 64 * 1024,
            Kind::Crl => 128 * 1024 * 1024,
            Kind::Database => 1024 * 1024 * 1024,
            Kind::Pdf => 512 * 1024 * 1024,
            Kind::Document => u64::MAX,
        }
    }

    /// The kind in words, for messages.
    pub const fn what(self) -> &'static str {
        match self {
            Kind::Certificate => "certificate file",
            Kind::Signature => "signature file",
            Kind::Record => "enrolment record",
            Kind::Records => "file of enrolment records",
            Kind::Photo => "photo",
            Kind::Fingerprint => "fingerprint record",
            Kind::Small => "file",
            Kind::Crl => "CRL",
            Kind::Database => "issuer database",
            Kind::Pdf => "PDF",
            Kind::Document => "document",
        }
    }
}

/// Why a file was not read.
#[derive(Debug, thiserror::Error)]
pub enum InputError {
    /// Opening or reading failed (missing, no permission, …).
    #[error("{}: {source}", crate::display::escaped(&path.display().to_string()))]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// A directory, FIFO, socket or device where a file is meant.
    #[error("{}: not a regular file ({found}); give the {what} as a file", crate::display::escaped(&path.display().to_string()))]
    NotRegular {
        path: PathBuf,
        found: &'static str,
        what: &'static str,
    },
    /// Larger than its kind allows.
    #[error("{}: {size} bytes is more than a {what} may be ({cap} bytes at most)", crate::display::escaped(&path.display().to_string()))]
    TooLarge {
        path: PathBuf,
        size: u64,
        cap: u64,
        what: &'static str,
    },
}

impl InputError {
    /// The file the error is about.
    pub fn path(&self) -> &Path {
        match self {
            InputError::Io { path, .. }
            | InputError::NotRegular { path, .. }
            | InputError::TooLarge { path, .. } => path,
        }
    }
}

/// Opens `path` for reading, refusing anything but a regular file. It is opened non-blocking
/// (a FIFO with no writer would otherwise hold the open for ever) and checked on the open
/// handle, so a path swapped after a check cannot slip through.
pub fn open_regular(path: &Path, kind: Kind) -> Result<(File, u64), InputError> {
    use std::os::unix::fs::OpenOptionsExt;
    let io = |source| InputError::Io {
        path: path.to_path_buf(),
        source,
    };
    let file = std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NONBLOCK)
        .open(path)
        .map_err(io)?;
    let meta = file.metadata().map_err(io)?;
    let file_type = meta.file_type();
    if !file_type.is_file() {
        use std::os::unix::fs::FileTypeExt;
        let found = if file_type.is_dir() {
            "a directory"
        } else if file_type.is_fifo() {
            "a FIFO"
        } else if file_type.is_socket() {
            "a socket"
        } else if file_type.is_char_device() || file_type.is_block_device() {
            "a device"
        } else {
            "not a file"
        };
        return Err(InputError::NotRegular {
            path: path.to_path_buf(),
            found,
            what: kind.what(),
        });
    }
    Ok((file, meta.len()))
}

/// Reads the whole regular file at `path`, at most `kind.cap()` bytes.
pub fn read(path: &Path, kind: Kind) -> Result<Vec<u8>, InputError> {
    let (file, size) = open_regular(path, kind)?;
    let cap = kind.cap();
    let too_large = |size| InputError::TooLarge {
        path: path.to_path_buf(),
        size,
        cap,
        what: kind.what(),
    };
    if size > cap {
        return Err(too_large(size));
    }
    let mut bytes = Vec::with_capacity(usize::try_from(size).unwrap_or(0));
    file.take(cap + 1)
        .read_to_end(&mut bytes)
        .map_err(|source| InputError::Io {
            path: path.to_path_buf(),
            source,
        })?;
    if bytes.len() as u64 > cap {
        return Err(too_large(bytes.len() as u64));
    }
    Ok(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn devices_fifos_and_directories_are_refused_by_what_they_are() {
        let err = read(Path::new("/dev/zero"), Kind::Signature).expect_err("device");
        assert_eq!(
            err.to_string(),
            "/dev/zero: not a regular file (a device); give the signature file as a file"
        );
        let dir = tempfile::tempdir().expect("tempdir");
        let err = read(dir.path(), Kind::Record).expect_err("directory");
        assert!(err.to_string().contains("(a directory)"), "{err}");
        let fifo = dir.path().join("fifo");
        let made = std::process::Command::new("mkfifo")
            .arg(&fifo)
            .status()
            .expect("mkfifo");
        assert!(made.success());
        // No writer: a blocking open would wait for ever.
        let err = read(&fifo, Kind::Certificate).expect_err("fifo");
        assert!(err.to_string().contains("(a FIFO)"), "{err}");
    }

    #[test]
    fn a_file_over_its_kinds_cap_is_refused_with_both_sizes() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("big.fmr");
        std::fs::write(&path, vec![0u8; 64 * 1024 + 1]).expect("write");
        let err = read(&path, Kind::Fingerprint).expect_err("too large");
        assert!(
            err.to_string().ends_with(
                "65537 bytes is more than a fingerprint record may be (65536 bytes at most)"
            ),
            "{err}"
        );
        std::fs::write(&path, b"FMR\0").expect("write");
        assert_eq!(read(&path, Kind::Fingerprint).expect("small"), b"FMR\0");
    }
}
