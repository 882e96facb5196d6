//! The card's own reader of ISO/IEC 19794-2:2005 finger minutiae records (spec §11.1) and of
//! the live template of VERIFY P2 `83`, `7F2E { 81 <record> }` (spec §11.2).
//!
//! It accepts exactly the well-formed records of §11.1 — every field within its accepted values,
//! the views and their extended data ending exactly at the record length — and answers a
//! [`RecordError`] for anything else. It never panics and reads at most
//! [`MAX_RECORD_LEN`] bytes of record.

use crate::spec::biometric::{
    MAX_IMAGE_SIZE, MAX_MINUTIAE, MAX_RECORD_LEN, MAX_VIEWS, MIN_MINUTIAE, RESOLUTION,
};
use crate::spec::tag;

/// Format identifier, "FMR\0". §11.1.
const FORMAT_ID: [u8; 4] = *b"FMR\0";
/// Version of ISO/IEC 19794-2:2005, " 20\0". §11.1.
const VERSION_2005: [u8; 4] = *b" 20\0";
/// Length of the record header.
const HEADER_LEN: usize = 24;
/// Highest finger position (10, left little finger). §11.1.
const MAX_FINGER_POSITION: u8 = 10;
/// Impression types of the 2005 edition. §11.1.
const IMPRESSION_TYPES: [u8; 6] = [0, 1, 2, 3, 8, 9];
/// Highest finger or minutia quality. §11.1.
const MAX_QUALITY: u8 = 100;
/// DO `81` (standard biometric data) inside `7F2E`. §11.2.
const STANDARD_BIOMETRIC_DATA: u8 = 0x81;

/// One minutia as the matcher sees it (§11.1). Type and quality are checked on reading but the
/// matcher does not use them (§11.4).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Minutia {
    /// Column in pixels from the left edge, below the image width.
    pub(super) x: u16,
    /// Row in pixels from the top edge, below the image height.
    pub(super) y: u16,
    /// Direction in units of 360/256 degrees, counterclockwise from the x axis.
    pub(super) angle: u8,
}

/// One finger view: its finger position and its 12–128 minutiae, in record order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct View {
    pub(super) finger_position: u8,
    pub(super) minutiae: Vec<Minutia>,
}

impl View {
    /// Finger position, 0 (unknown) to 10 (left little). §11.1.
    pub(crate) fn finger_position(&self) -> u8 {
        self.finger_position
    }

    /// Number of minutiae, 12–128.
    pub(crate) fn minutia_count(&self) -> usize {
        self.minutiae.len()
    }
}

/// A well-formed ISO/IEC 19794-2:2005 record (§11.1): 1–10 views, or exactly 1 for a live
/// template. Only [`parse_record`] and [`parse_live_template`] make one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Record {
    pub(super) views: Vec<View>,
}

impl Record {
    /// The finger views, in record order (never empty).
    pub(crate) fn views(&self) -> &[View] {
        &self.views
    }

    /// Finger position of the first view, which GET DATA `7F61` describes (§11.3).
    pub(crate) fn first_finger_position(&self) -> u8 {
        self.views.first().map_or(0, |view| view.finger_position)
    }

    /// Biometric subtype of the BIT (`82 01 xx` in `7F61`, §11.3), from the first view.
    pub(crate) fn biometric_subtype(&self) -> u8 {
        biometric_subtype(self.first_finger_position())
    }
}

/// The ISO/IEC 19785-3 / 7816-11 biometric subtype of a 19794-2 finger position (§11.3 table):
/// bit 1 right, bit 2 left, bits 3–5 the finger; `00` for 0 (unknown) or any other value.
pub(crate) fn biometric_subtype(finger_position: u8) -> u8 {
    match finger_position {
        1 => 0x05,
        2 => 0x09,
        3 => 0x0D,
        4 => 0x11,
        5 => 0x15,
        6 => 0x06,
        7 => 0x0A,
        8 => 0x0E,
        9 => 0x12,
        10 => 0x16,
        _ => 0x00,
    }
}

/// Why a record or a live template is not accepted. Views and minutiae are numbered from 0, in
/// record order. Every variant means "not well-formed": VERIFY answers `6A80` for a live
/// template, `6981` for the enrolled one; GET DATA `7F61` answers `6A88` (§11.1, §11.2).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub(crate) enum RecordError {
    #[error("live template is not exactly one 7F2E holding exactly one 81")]
    TemplateStructure,
    #[error("record ends at {len} bytes, a field at offset {offset} needs more")]
    Truncated { offset: usize, len: usize },
    #[error("format identifier is not \"FMR\\0\"")]
    FormatIdentifier,
    #[error("version is not \" 20\\0\" (ISO/IEC 19794-2:2005)")]
    Version,
    #[error("record length field says {declared} bytes, its container holds {actual}")]
    LengthMismatch { declared: u32, actual: usize },
    #[error("record is {len} bytes, more than {MAX_RECORD_LEN}")]
    TooLong { len: usize },
    #[error("image size {width}×{height} is outside 1–{MAX_IMAGE_SIZE}")]
    ImageSize { width: u16, height: u16 },
    #[error("resolution {x}×{y} px/cm is not {RESOLUTION}×{RESOLUTION}")]
    Resolution { x: u16, y: u16 },
    #[error("{count} finger views, {min}–{max} allowed")]
    ViewCount { count: u8, min: u8, max: u8 },
    #[error("reserved header byte is {0:02X}, not 00")]
    ReservedByte(u8),
    #[error("view {view}: finger position {value} is not 0–10")]
    FingerPosition { view: usize, value: u8 },
    #[error("view {view}: impression type {value} is not 0, 1, 2, 3, 8 or 9")]
    ImpressionType { view: usize, value: u8 },
    #[error("view {view}: finger quality {value} is above 100")]
    FingerQuality { view: usize, value: u8 },
    #[error("view {view}: {count} minutiae, {MIN_MINUTIAE}–{MAX_MINUTIAE} allowed")]
    MinutiaCount { view: usize, count: u8 },
    #[error("view {view}, minutia {minutia}: type 11 is reserved")]
    MinutiaType { view: usize, minutia: usize },
    #[error("view {view}, minutia {minutia}: reserved bits of y are not 00")]
    MinutiaReserved { view: usize, minutia: usize },
    #[error("view {view}, minutia {minutia}: ({x}, {y}) lies outside the image")]
    MinutiaPosition {
        view: usize,
        minutia: usize,
        x: u16,
        y: u16,
    },
    #[error("view {view}, minutia {minutia}: quality {value} is above 100")]
    MinutiaQuality {
        view: usize,
        minutia: usize,
        value: u8,
    },
    #[error("{extra} bytes after the last view")]
    TrailingBytes { extra: usize },
}

/// Reads an enrolled record: `bytes` is the whole container (DG3's current content), whose
/// length the record length field must equal. 1–10 views.
pub(crate) fn parse_record(bytes: &[u8]) -> Result<Record, RecordError> {
    parse(bytes, MAX_VIEWS)
}

/// Reads the command data of VERIFY P2 `83`: exactly `7F2E { 81 <record> }`, nothing before,
/// between or after, the record well-formed with exactly one view (§11.2).
pub(crate) fn parse_live_template(data: &[u8]) -> Result<Record, RecordError> {
    let template = single_object(data, tag::BIOMETRIC_DATA.to_be_bytes().as_slice())
        .ok_or(RecordError::TemplateStructure)?;
    let record = single_object(template, &[STANDARD_BIOMETRIC_DATA])
        .ok_or(RecordError::TemplateStructure)?;
    parse(record, 1)
}

/// The value of `data` when `data` is exactly one data object with tag bytes `tag` (BER length
/// in short form or long form with 1–3 length bytes, as the card's TLV reader accepts).
fn single_object<'a>(data: &'a [u8], tag: &[u8]) -> Option<&'a [u8]> {
    let rest = data.strip_prefix(tag)?;
    let (first, rest) = rest.split_first()?;
    let (len, value) = if *first < 0x80 {
        (usize::from(*first), rest)
    } else {
        let count = usize::from(*first & 0x7F);
        if !(1..=3).contains(&count) {
            return None;
        }
        let (len_bytes, value) = (rest.get(..count)?, rest.get(count..)?);
        let len = len_bytes
            .iter()
            .fold(0usize, |acc, b| (acc << 8) | usize::from(*b));
        (len, value)
    };
    (value.len() == len).then_some(value)
}

/// A forward-only reader over the record that reports where it ran out.
struct Reader<'a> {
    data: &'a [u8],
    pos: usize,
}

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize) -> Result<&'a [u8], RecordError> {
        let truncated = RecordError::Truncated {
            offset: self.pos,
            len: self.data.len(),
        };
        let end = self.pos.checked_add(n).ok_or(truncated.clone())?;
        let bytes = self.data.get(self.pos..end).ok_or(truncated)?;
        self.pos = end;
        Ok(bytes)
    }

    fn array<const N: usize>(&mut self) -> Result<[u8; N], RecordError> {
        let mut out = [0u8; N];
        out.copy_from_slice(self.take(N)?);
        Ok(out)
    }

    fn u8(&mut self) -> Result<u8, RecordError> {
        Ok(u8::from_be_bytes(self.array()?))
    }

    fn u16(&mut self) -> Result<u16, RecordError> {
        Ok(u16::from_be_bytes(self.array()?))
    }

    fn u32(&mut self) -> Result<u32, RecordError> {
        Ok(u32::from_be_bytes(self.array()?))
    }

    fn remaining(&self) -> usize {
        self.data.len().saturating_sub(self.pos)
    }
}

/// Reads a record of 1 to `max_views` views that must fill `bytes` exactly.
fn parse(bytes: &[u8], max_views: u8) -> Result<Record, RecordError> {
    let mut r = Reader {
        data: bytes,
        pos: 0,
    };
    if r.array::<4>()? != FORMAT_ID {
        return Err(RecordError::FormatIdentifier);
    }
    if r.array::<4>()? != VERSION_2005 {
        return Err(RecordError::Version);
    }
    let declared = r.u32()?;
    if usize::try_from(declared).ok() != Some(bytes.len()) {
        return Err(RecordError::LengthMismatch {
            declared,
            actual: bytes.len(),
        });
    }
    if bytes.len() > MAX_RECORD_LEN {
        return Err(RecordError::TooLong { len: bytes.len() });
    }
    let _capture_equipment = r.u16()?;
    let (width, height) = (r.u16()?, r.u16()?);
    let size_ok = |s: u16| (1..=MAX_IMAGE_SIZE).contains(&s);
    if !size_ok(width) || !size_ok(height) {
        return Err(RecordError::ImageSize { width, height });
    }
    let (x_res, y_res) = (r.u16()?, r.u16()?);
    if x_res != RESOLUTION || y_res != RESOLUTION {
        return Err(RecordError::Resolution { x: x_res, y: y_res });
    }
    let view_count = r.u8()?;
    if !(1..=max_views).contains(&view_count) {
        return Err(RecordError::ViewCount {
            count: view_count,
            min: 1,
            max: max_views,
        });
    }
    let reserved = r.u8()?;
    if reserved != 0 {
        return Err(RecordError::ReservedByte(reserved));
    }
    debug_assert_eq!(r.pos, HEADER_LEN);
    let mut views = Vec::with_capacity(usize::from(view_count));
    for view in 0..usize::from(view_count) {
        views.push(parse_view(&mut r, view, width, height)?);
    }
    match r.remaining() {
        0 => Ok(Record { views }),
        extra => Err(RecordError::TrailingBytes { extra }),
    }
}

fn parse_view(r: &mut Reader, view: usize, width: u16, height: u16) -> Result<View, RecordError> {
    let finger_position = r.u8()?;
    if finger_position > MAX_FINGER_POSITION {
        return Err(RecordError::FingerPosition {
            view,
            value: finger_position,
        });
    }
    // View number: bits 7–4, any of 0–15. Impression type: bits 3–0.
    let impression_type = r.u8()? & 0x0F;
    if !IMPRESSION_TYPES.contains(&impression_type) {
        return Err(RecordError::ImpressionType {
            view,
            value: impression_type,
        });
    }
    let quality = r.u8()?;
    if quality > MAX_QUALITY {
        return Err(RecordError::FingerQuality {
            view,
            value: quality,
        });
    }
    let count = r.u8()?;
    if !(MIN_MINUTIAE..=MAX_MINUTIAE).contains(&count) {
        return Err(RecordError::MinutiaCount { view, count });
    }
    let mut minutiae = Vec::with_capacity(usize::from(count));
    for minutia in 0..usize::from(count) {
        let (type_x, reserved_y, angle, quality) = (r.u16()?, r.u16()?, r.u8()?, r.u8()?);
        if type_x >> 14 == 0b11 {
            return Err(RecordError::MinutiaType { view, minutia });
        }
        if reserved_y >> 14 != 0 {
            return Err(RecordError::MinutiaReserved { view, minutia });
        }
        let (x, y) = (type_x & 0x3FFF, reserved_y & 0x3FFF);
        if x >= width || y >= height {
            return Err(RecordError::MinutiaPosition {
                view,
                minutia,
                x,
                y,
            });
        }
        if quality > MAX_QUALITY {
            return Err(RecordError::MinutiaQuality {
                view,
                minutia,
                value: quality,
            });
        }
        minutiae.push(Minutia { x, y, angle });
    }
    let extended = r.u16()?;
    r.take(usize::from(extended))?;
    Ok(View {
        finger_position,
        minutiae,
    })
}

#[cfg(test)]
pub(super) mod tests;
