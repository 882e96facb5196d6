//! The application's elementary files (spec §5, §12.1): which exist on a card of a given
//! specification version, how they are addressed, their size limits and read rules, and their
//! contents.

use zeroize::Zeroize;

use crate::spec::{authentication, ef};

/// The fixed properties of one elementary file (§5).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) struct FileSpec {
    pub fid: u16,
    pub max_size: usize,
}

impl FileSpec {
    /// Every file of the application on a card implementing specification `version`, in
    /// data-group order: DG7 exists since version 1.1 (§12.1); a 1.0 card answers `6A82` for it.
    pub fn all(version: (u8, u8)) -> impl Iterator<Item = FileSpec> {
        ef::ALL
            .iter()
            .filter(move |(fid, _)| *fid != ef::AUTH_CERT || version >= authentication::SINCE)
            .map(|&(fid, max_size)| FileSpec { fid, max_size })
    }

    /// Short EF identifier: the low byte of the file identifier (§5).
    pub fn sfi(self) -> u8 {
        let [_, low] = self.fid.to_be_bytes();
        low
    }

    /// May READ BINARY return this file's bytes? The fingerprint templates never leave the
    /// card: they are used only for match-on-card (§5, DG3).
    pub fn readable(self) -> bool {
        self.fid != ef::FINGERPRINT
    }
}

/// The contents of every elementary file. Invariant: exactly the files of [`FileSpec::all`]
/// for one specification version, each no longer than its maximum size.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(super) struct Files {
    contents: Vec<(FileSpec, Vec<u8>)>,
}

/// A file content that does not fit the file.
#[derive(Debug, PartialEq, Eq)]
pub(super) struct TooLong {
    pub max_size: usize,
}

impl Files {
    /// Every file of a card implementing `version` empty, as on a freshly manufactured card.
    pub fn blank(version: (u8, u8)) -> Files {
        Files {
            contents: FileSpec::all(version)
                .map(|file| (file, Vec::new()))
                .collect(),
        }
    }

    /// The file with identifier `fid`, if the application has one (§5).
    pub fn by_fid(&self, fid: u16) -> Option<FileSpec> {
        self.specs().find(|file| file.fid == fid)
    }

    /// The file with short EF identifier `sfi` (§5: the low byte of the FID).
    pub fn by_sfi(&self, sfi: u8) -> Option<FileSpec> {
        self.specs().find(|file| file.sfi() == sfi)
    }

    /// Every file of the application, in data-group order.
    pub fn specs(&self) -> impl Iterator<Item = FileSpec> + '_ {
        self.contents.iter().map(|(file, _)| *file)
    }

    /// The current content of file `fid` (its length is the file's current length).
    pub fn content(&self, fid: u16) -> Option<&[u8]> {
        self.contents
            .iter()
            .find(|(file, _)| file.fid == fid)
            .map(|(_, content)| content.as_slice())
    }

    /// Replaces the content of file `fid`. `Ok(false)` if there is no such file.
    pub fn set_content(&mut self, fid: u16, content: Vec<u8>) -> Result<bool, TooLong> {
        let Some((file, slot)) = self.contents.iter_mut().find(|(file, _)| file.fid == fid) else {
            return Ok(false);
        };
        if content.len() > file.max_size {
            return Err(TooLong {
                max_size: file.max_size,
            });
        }
        *slot = content;
        Ok(true)
    }

    /// Empties file `fid`, overwriting its old content in memory first (DG3 on TERMINATE DF,
    /// §6.16). `false` if there is no such file.
    pub fn erase(&mut self, fid: u16) -> bool {
        let Some((_, slot)) = self.contents.iter_mut().find(|(file, _)| file.fid == fid) else {
            return false;
        };
        slot.zeroize();
        true
    }

    /// Every file with its content, in data-group order.
    pub fn iter(&self) -> impl Iterator<Item = (FileSpec, &[u8])> {
        self.contents
            .iter()
            .map(|(file, content)| (*file, content.as_slice()))
    }
}

/// The contents are overwritten when dropped: DG3 holds fingerprint templates, and copies of
/// the state are made for every command that may change it.
impl Drop for Files {
    fn drop(&mut self) {
        for (_, content) in &mut self.contents {
            content.zeroize();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const V1_0: (u8, u8) = (1, 0);
    const V1_1: (u8, u8) = (1, 1);

    #[test]
    fn files_are_found_by_fid_and_sfi() {
        let files = Files::blank(V1_1);
        assert_eq!(files.by_fid(ef::PHOTO).map(|f| f.max_size), Some(20_480));
        assert_eq!(files.by_sfi(0x1D).map(|f| f.fid), Some(ef::SECURITY_OBJECT));
        assert_eq!(files.by_sfi(0x03).map(|f| f.fid), Some(ef::FINGERPRINT));
        assert_eq!(files.by_sfi(0x07).map(|f| f.fid), Some(ef::AUTH_CERT));
        assert_eq!(files.by_fid(ef::AUTH_CERT).map(|f| f.max_size), Some(2048));
        assert_eq!(files.by_sfi(0x00), None);
        assert_eq!(files.by_sfi(0x08), None);
        assert_eq!(files.by_fid(0x3F00), None);
        let readable: Vec<u16> = files
            .specs()
            .filter(|f| !f.readable())
            .map(|f| f.fid)
            .collect();
        assert_eq!(readable, vec![ef::FINGERPRINT]);
    }

    /// §12.1: DG7 is a file of a 1.1 card only; the others are the same on both.
    #[test]
    fn dg7_exists_since_version_1_1() {
        let fids = |version| FileSpec::all(version).map(|f| f.fid).collect::<Vec<_>>();
        assert_eq!(
            fids(V1_0),
            vec![0x0101, 0x0102, 0x0103, 0x0104, 0x0105, 0x0106, 0x011D]
        );
        assert_eq!(
            fids(V1_1),
            vec![0x0101, 0x0102, 0x0103, 0x0104, 0x0105, 0x0106, 0x0107, 0x011D]
        );
        let old = Files::blank(V1_0);
        assert_eq!(old.by_sfi(0x07), None);
        assert_eq!(old.by_fid(ef::AUTH_CERT), None);
    }

    #[test]
    fn contents_respect_the_maximum_size() {
        let mut files = Files::blank(V1_0);
        assert_eq!(files.content(ef::ADDRESS), Some(&[][..]));
        assert_eq!(files.set_content(ef::ADDRESS, vec![1; 256]), Ok(true));
        assert_eq!(
            files.set_content(ef::ADDRESS, vec![1; 257]),
            Err(TooLong { max_size: 256 })
        );
        assert_eq!(files.content(ef::ADDRESS).map(<[u8]>::len), Some(256));
        assert_eq!(files.set_content(0x0107, vec![]), Ok(false));
        assert!(files.erase(ef::ADDRESS));
        assert_eq!(files.content(ef::ADDRESS), Some(&[][..]));
        assert!(!files.erase(0x0107));
    }
}
