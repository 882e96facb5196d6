//! The application's elementary files (spec §5): which exist, how they are addressed, their
//! size limits and read rules, and their contents.

use zeroize::Zeroize;

use crate::spec::ef;

/// The fixed properties of one elementary file (§5).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) struct FileSpec {
    pub fid: u16,
    pub max_size: usize,
}

impl FileSpec {
    /// Every file of the application, in data-group order.
    pub fn all() -> impl Iterator<Item = FileSpec> {
        ef::ALL
            .iter()
            .map(|&(fid, max_size)| FileSpec { fid, max_size })
    }

    /// The file with identifier `fid`, if the application has one (§5).
    pub fn by_fid(fid: u16) -> Option<FileSpec> {
        FileSpec::all().find(|file| file.fid == fid)
    }

    /// The file with short EF identifier `sfi` (§5: the low byte of the FID).
    pub fn by_sfi(sfi: u8) -> Option<FileSpec> {
        FileSpec::all().find(|file| file.sfi() == sfi)
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

/// The contents of every elementary file. Invariant: exactly the files of [`FileSpec::all`],
/// each no longer than its maximum size.
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
    /// Every file empty, as on a freshly manufactured card.
    pub fn blank() -> Files {
        Files {
            contents: FileSpec::all().map(|file| (file, Vec::new())).collect(),
        }
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

    #[test]
    fn files_are_found_by_fid_and_sfi() {
        assert_eq!(
            FileSpec::by_fid(ef::PHOTO).map(|f| f.max_size),
            Some(20_480)
        );
        assert_eq!(
            FileSpec::by_sfi(0x1D).map(|f| f.fid),
            Some(ef::SECURITY_OBJECT)
        );
        assert_eq!(FileSpec::by_sfi(0x03).map(|f| f.fid), Some(ef::FINGERPRINT));
        assert_eq!(FileSpec::by_sfi(0x00), None);
        assert_eq!(FileSpec::by_sfi(0x07), None);
        assert_eq!(FileSpec::by_fid(0x3F00), None);
        let readable: Vec<u16> = FileSpec::all()
            .filter(|f| !f.readable())
            .map(|f| f.fid)
            .collect();
        assert_eq!(readable, vec![ef::FINGERPRINT]);
    }

    #[test]
    fn contents_respect_the_maximum_size() {
        let mut files = Files::blank();
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
