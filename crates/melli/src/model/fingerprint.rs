//! ISO/IEC 19794-2:2005 finger minutiae records ("FMR"), the format of the fingerprint data
//! group and of the live template sent for match-on-card (DESIGN §5, applets-spec §5).
//!
//! Layout (all integers big-endian):
//!
//! ```text
//! record header, 24 bytes
//!   4  format identifier "FMR\0"
//!   4  version " 20\0"
//!   4  length of the whole record in bytes
//!   2  capture equipment: certification (4 bits) | device type id (12 bits)
//!   2  image width in pixels      2  image height in pixels
//!   2  x resolution (pixels/cm)   2  y resolution (pixels/cm)
//!   1  number of finger views (≥ 1)
//!   1  reserved, 0
//! each finger view
//!   1  finger position (0 unknown, 1–5 right thumb…little, 6–10 left thumb…little)
//!   1  view number (high 4 bits) | impression type (low 4 bits)
//!   1  finger quality 0–100
//!   1  number of minutiae
//!   6  per minutia: type (2 bits: 00 other, 01 ridge ending, 10 bifurcation) | x (14 bits);
//!      reserved (2 bits, 0) | y (14 bits); angle (1 byte, units of 360/256 degrees,
//!      counter-clockwise); quality (1 byte, 0–100, 0 = not reported)
//!   2  extended data block length, then that many bytes (kept, not interpreted)
//! ```
//!
//! The 2005 edition always has a four-byte record length (ANSI INCITS 378's two-or-six-byte
//! length is a different format and is refused by the version check).
//!
//! Error messages number views and minutiae from 1, as a person counts.

use std::fmt;

/// The first four bytes of every record.
pub const FORMAT_ID: [u8; 4] = *b"FMR\0";
/// The version field of ISO/IEC 19794-2:2005.
pub const VERSION_2005: [u8; 4] = *b" 20\0";
/// Length of the record header.
pub const HEADER_LEN: usize = 24;
/// Length of a finger view header.
pub const VIEW_HEADER_LEN: usize = 4;
/// Length of one minutia.
pub const MINUTIA_LEN: usize = 6;
/// Largest coordinate a minutia can carry (14 bits).
pub const MAX_COORDINATE: u16 = 0x3FFF;
/// Impression types of the 2005 edition: live-scan plain, live-scan rolled, non-live plain,
/// non-live rolled, swipe, live-scan contactless.
pub const IMPRESSION_TYPES: [u8; 6] = [0, 1, 2, 3, 8, 9];

/// Kind of a minutia.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize)]
pub enum MinutiaKind {
    /// `00`: other (neither reported as ending nor as bifurcation).
    Other,
    /// `01`: ridge ending.
    RidgeEnding,
    /// `10`: ridge bifurcation.
    Bifurcation,
}

impl MinutiaKind {
    fn code(self) -> u16 {
        match self {
            MinutiaKind::Other => 0,
            MinutiaKind::RidgeEnding => 1,
            MinutiaKind::Bifurcation => 2,
        }
    }
}

/// One minutia: where a ridge ends or splits.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize)]
pub struct Minutia {
    pub kind: MinutiaKind,
    /// Column in pixels, from the left edge; less than the image width.
    pub x: u16,
    /// Row in pixels, from the top edge; less than the image height.
    pub y: u16,
    /// Ridge direction in units of 360/256 degrees (1.40625°), counter-clockwise from the x axis.
    pub angle: u8,
    /// 0–100; 0 means not reported.
    pub quality: u8,
}

impl Minutia {
    /// The ridge direction in degrees, 0 ≤ angle < 360.
    pub fn angle_degrees(&self) -> f64 {
        f64::from(self.angle) * 360.0 / 256.0
    }
}

/// One impression of one finger and its minutiae.
///
/// Plain data: [`FingerTemplate::new`] and [`FingerTemplate::parse`] check every field, and a
/// template hands out its views only by shared reference, so the views inside a template are
/// always valid.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct FingerView {
    /// 0 unknown; 1–5 right thumb, index, middle, ring, little; 6–10 the same on the left.
    pub finger_position: u8,
    /// 0–15; distinguishes several views of the same finger.
    pub view_number: u8,
    /// One of [`IMPRESSION_TYPES`].
    pub impression_type: u8,
    /// 0–100.
    pub quality: u8,
    /// At most 255.
    pub minutiae: Vec<Minutia>,
    /// The extended data block (ridge counts, core and delta, zonal quality), kept as it was;
    /// at most 65 535 bytes.
    pub extended_data: Vec<u8>,
}

impl fmt::Debug for FingerView {
    // Biometric data stay out of logs: only the shape of the view is shown.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("FingerView")
            .field("finger_position", &self.finger_position)
            .field("view_number", &self.view_number)
            .field("impression_type", &self.impression_type)
            .field("quality", &self.quality)
            .field("minutiae", &self.minutiae.len())
            .field("extended_data", &self.extended_data.len())
            .finish()
    }
}

/// The image the minutiae were found in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct CaptureInfo {
    /// Certification flags (high 4 bits) and capture device type id (low 12 bits); 0 when
    /// not reported.
    pub capture_equipment: u16,
    pub width: u16,
    pub height: u16,
    /// Pixels per centimetre (197 ≈ 500 dpi).
    pub x_resolution: u16,
    pub y_resolution: u16,
}

/// A well-formed ISO/IEC 19794-2:2005 finger minutiae record.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct FingerTemplate {
    capture: CaptureInfo,
    views: Vec<FingerView>,
}

impl fmt::Debug for FingerTemplate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("FingerTemplate")
            .field("capture", &self.capture)
            .field("views", &self.views)
            .finish()
    }
}

/// What is wrong with a finger minutiae record. `Display` says it without naming the field.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FingerprintError {
    #[error("the record is {len} bytes, shorter than the {HEADER_LEN}-byte header of a finger minutiae record")]
    TooShort { len: usize },
    #[error("the record does not begin with \"FMR\\0\" (it begins with {}), so it is not an ISO/IEC 19794-2 finger minutiae record", hex_bytes(found))]
    FormatId { found: [u8; 4] },
    #[error(
        "the record has version {}, only \" 20\\0\" (ISO/IEC 19794-2:2005) is supported",
        hex_bytes(found)
    )]
    Version { found: [u8; 4] },
    #[error("the record header says {declared} bytes but the record has {actual}")]
    LengthMismatch { declared: u64, actual: usize },
    #[error("the image size is {width}x{height}; width and height must not be 0")]
    ImageSize { width: u16, height: u16 },
    #[error("the resolution is {x}x{y} pixels/cm; it must not be 0")]
    Resolution { x: u16, y: u16 },
    #[error("the record has no finger views")]
    NoViews,
    #[error("the record has {count} finger views, at most 255 fit")]
    TooManyViews { count: usize },
    #[error("the reserved header byte is 0x{value:02X}, it must be 0")]
    ReservedByte { value: u8 },
    #[error("the record ends inside {what}")]
    Truncated { what: String },
    #[error("the record has {count} bytes after its last finger view")]
    TrailingBytes { count: usize },
    #[error("view {view} has finger position {value}; positions run from 0 (unknown) to 10")]
    FingerPosition { view: usize, value: u8 },
    #[error("view {view} has view number {value}; view numbers run from 0 to 15")]
    ViewNumber { view: usize, value: u8 },
    #[error("view {view} has impression type {value}; known types are 0, 1, 2, 3, 8 and 9")]
    ImpressionType { view: usize, value: u8 },
    #[error("view {view} has quality {value}; quality runs from 0 to 100")]
    ViewQuality { view: usize, value: u8 },
    #[error("view {view} repeats finger position {position} view number {number}")]
    DuplicateView {
        view: usize,
        position: u8,
        number: u8,
    },
    #[error("view {view} has {count} minutiae, at most 255 fit")]
    TooManyMinutiae { view: usize, count: usize },
    #[error("view {view} has {len} bytes of extended data, at most 65535 fit")]
    ExtendedDataTooLong { view: usize, len: usize },
    #[error("minutia {index} of view {view} has the reserved type 3")]
    MinutiaType { view: usize, index: usize },
    #[error("minutia {index} of view {view} has its reserved bits set")]
    MinutiaReserved { view: usize, index: usize },
    #[error(
        "minutia {index} of view {view} lies outside the {width}x{height} image (x {x}, y {y})"
    )]
    MinutiaOutside {
        view: usize,
        index: usize,
        x: u16,
        y: u16,
        width: u16,
        height: u16,
    },
    #[error("minutia {index} of view {view} has quality {value}; quality runs from 0 to 100")]
    MinutiaQuality {
        view: usize,
        index: usize,
        value: u8,
    },
    #[error("minutia {index} of view {view} is at the same place as minutia {earlier} (x {x}, y {y}); a finger has one minutia at a place")]
    DuplicateMinutia {
        view: usize,
        index: usize,
        earlier: usize,
        x: u16,
        y: u16,
    },
    #[error("the extended data of view {view} does not parse: {reason}")]
    ExtendedData { view: usize, reason: String },
}

impl FingerprintError {
    /// What the person fixing the record should do.
    pub fn hint(&self) -> &'static str {
        match self {
            FingerprintError::TooShort { .. }
            | FingerprintError::LengthMismatch { .. }
            | FingerprintError::Truncated { .. }
            | FingerprintError::TrailingBytes { .. } => {
                "the file is cut short or padded: export the template from the scanner again"
            }
            FingerprintError::FormatId { .. } | FingerprintError::Version { .. } => {
                "export the template as ISO/IEC 19794-2:2005 (FMR, version 20)"
            }
            _ => "the scanner software wrote an invalid template: capture the finger again",
        }
    }
}

fn hex_bytes(bytes: &[u8]) -> String {
    bytes
        .iter()
        .map(|b| format!("{b:02X}"))
        .collect::<Vec<_>>()
        .join(" ")
}

/// A cursor over the record that reports where it ran out.
struct Reader<'a> {
    bytes: &'a [u8],
    pos: usize,
}

impl<'a> Reader<'a> {
    fn take(
        &mut self,
        n: usize,
        what: impl FnOnce() -> String,
    ) -> Result<&'a [u8], FingerprintError> {
        let end = self
            .pos
            .checked_add(n)
            .filter(|&end| end <= self.bytes.len())
            .ok_or_else(|| FingerprintError::Truncated { what: what() })?;
        let out = &self.bytes[self.pos..end];
        self.pos = end;
        Ok(out)
    }

    fn u8(&mut self, what: impl FnOnce() -> String) -> Result<u8, FingerprintError> {
        Ok(self.take(1, what)?[0])
    }

    fn u16(&mut self, what: impl FnOnce() -> String) -> Result<u16, FingerprintError> {
        let b = self.take(2, what)?;
        Ok(u16::from_be_bytes([b[0], b[1]]))
    }
}

impl FingerTemplate {
    /// Builds a template from its parts, checking every field.
    pub fn new(capture: CaptureInfo, views: Vec<FingerView>) -> Result<Self, FingerprintError> {
        check_capture(&capture)?;
        if views.is_empty() {
            return Err(FingerprintError::NoViews);
        }
        if views.len() > 255 {
            return Err(FingerprintError::TooManyViews { count: views.len() });
        }
        for (i, view) in views.iter().enumerate() {
            let n = i + 1;
            check_view_header(n, view)?;
            if views[..i].iter().any(|earlier| {
                earlier.finger_position == view.finger_position
                    && earlier.view_number == view.view_number
            }) {
                return Err(FingerprintError::DuplicateView {
                    view: n,
                    position: view.finger_position,
                    number: view.view_number,
                });
            }
            if view.minutiae.len() > 255 {
                return Err(FingerprintError::TooManyMinutiae {
                    view: n,
                    count: view.minutiae.len(),
                });
            }
            if view.extended_data.len() > usize::from(u16::MAX) {
                return Err(FingerprintError::ExtendedDataTooLong {
                    view: n,
                    len: view.extended_data.len(),
                });
            }
            for (j, m) in view.minutiae.iter().enumerate() {
                check_minutia(&capture, n, j + 1, m)?;
                if let Some(k) = view.minutiae[..j]
                    .iter()
                    .position(|e| (e.x, e.y) == (m.x, m.y))
                {
                    return Err(FingerprintError::DuplicateMinutia {
                        view: n,
                        index: j + 1,
                        earlier: k + 1,
                        x: m.x,
                        y: m.y,
                    });
                }
            }
            check_extended_data(n, &view.extended_data)?;
        }
        Ok(FingerTemplate { capture, views })
    }

    /// Parses and checks a record.
    pub fn parse(bytes: &[u8]) -> Result<Self, FingerprintError> {
        if bytes.len() < HEADER_LEN {
            return Err(FingerprintError::TooShort { len: bytes.len() });
        }
        let mut r = Reader { bytes, pos: 0 };
        let found: [u8; 4] = field4(r.take(4, header)?);
        if found != FORMAT_ID {
            return Err(FingerprintError::FormatId { found });
        }
        let found: [u8; 4] = field4(r.take(4, header)?);
        if found != VERSION_2005 {
            return Err(FingerprintError::Version { found });
        }
        let declared = u32::from_be_bytes(field4(r.take(4, header)?));
        if u64::from(declared) != bytes.len() as u64 {
            return Err(FingerprintError::LengthMismatch {
                declared: u64::from(declared),
                actual: bytes.len(),
            });
        }
        let capture = CaptureInfo {
            capture_equipment: r.u16(header)?,
            width: r.u16(header)?,
            height: r.u16(header)?,
            x_resolution: r.u16(header)?,
            y_resolution: r.u16(header)?,
        };
        check_capture(&capture)?;
        let view_count = r.u8(header)?;
        let reserved = r.u8(header)?;
        if view_count == 0 {
            return Err(FingerprintError::NoViews);
        }
        if reserved != 0 {
            return Err(FingerprintError::ReservedByte { value: reserved });
        }

        let mut views = Vec::with_capacity(usize::from(view_count));
        for n in 1..=usize::from(view_count) {
            let view_header = r.take(VIEW_HEADER_LEN, || format!("the header of view {n}"))?;
            let minutia_count = usize::from(view_header[3]);
            let mut minutiae = Vec::with_capacity(minutia_count);
            for j in 1..=minutia_count {
                let m = r.take(MINUTIA_LEN, || format!("minutia {j} of view {n}"))?;
                let xw = u16::from_be_bytes([m[0], m[1]]);
                let yw = u16::from_be_bytes([m[2], m[3]]);
                let kind = match xw >> 14 {
                    0 => MinutiaKind::Other,
                    1 => MinutiaKind::RidgeEnding,
                    2 => MinutiaKind::Bifurcation,
                    _ => return Err(FingerprintError::MinutiaType { view: n, index: j }),
                };
                if yw >> 14 != 0 {
                    return Err(FingerprintError::MinutiaReserved { view: n, index: j });
                }
                minutiae.push(Minutia {
                    kind,
                    x: xw & MAX_COORDINATE,
                    y: yw & MAX_COORDINATE,
                    angle: m[4],
                    quality: m[5],
                });
            }
            let ext_len = r.u16(|| format!("the extended data length of view {n}"))?;
            let extended_data = r
                .take(usize::from(ext_len), || {
                    format!("the extended data of view {n}")
                })?
                .to_vec();
            views.push(FingerView {
                finger_position: view_header[0],
                view_number: view_header[1] >> 4,
                impression_type: view_header[1] & 0x0F,
                quality: view_header[2],
                minutiae,
                extended_data,
            });
        }
        if r.pos != bytes.len() {
            return Err(FingerprintError::TrailingBytes {
                count: bytes.len() - r.pos,
            });
        }
        Self::new(capture, views)
    }

    /// The record as ISO/IEC 19794-2:2005 bytes. `parse(t.to_bytes()) == t` for every template.
    pub fn to_bytes(&self) -> Vec<u8> {
        let len = self.encoded_len();
        let mut out = Vec::with_capacity(len);
        out.extend_from_slice(&FORMAT_ID);
        out.extend_from_slice(&VERSION_2005);
        // A template holds at most 255 views of at most 255 minutiae and 65 535 bytes of
        // extended data, so its length fits in 32 bits.
        out.extend_from_slice(&u32::try_from(len).unwrap_or(u32::MAX).to_be_bytes());
        let c = &self.capture;
        for v in [
            c.capture_equipment,
            c.width,
            c.height,
            c.x_resolution,
            c.y_resolution,
        ] {
            out.extend_from_slice(&v.to_be_bytes());
        }
        // At most 255 views (checked in `new`).
        out.push(self.views.len() as u8);
        out.push(0);
        for view in &self.views {
            out.push(view.finger_position);
            out.push(view.view_number << 4 | view.impression_type);
            out.push(view.quality);
            out.push(view.minutiae.len() as u8);
            for m in &view.minutiae {
                out.extend_from_slice(&(m.kind.code() << 14 | m.x).to_be_bytes());
                out.extend_from_slice(&m.y.to_be_bytes());
                out.push(m.angle);
                out.push(m.quality);
            }
            out.extend_from_slice(&(view.extended_data.len() as u16).to_be_bytes());
            out.extend_from_slice(&view.extended_data);
        }
        out
    }

    fn encoded_len(&self) -> usize {
        HEADER_LEN
            + self
                .views
                .iter()
                .map(|v| {
                    VIEW_HEADER_LEN + MINUTIA_LEN * v.minutiae.len() + 2 + v.extended_data.len()
                })
                .sum::<usize>()
    }

    /// The capture equipment, image size and resolution.
    pub fn capture(&self) -> CaptureInfo {
        self.capture
    }

    pub fn width(&self) -> u16 {
        self.capture.width
    }

    pub fn height(&self) -> u16 {
        self.capture.height
    }

    /// Horizontal resolution in pixels per centimetre.
    pub fn x_resolution(&self) -> u16 {
        self.capture.x_resolution
    }

    /// Vertical resolution in pixels per centimetre.
    pub fn y_resolution(&self) -> u16 {
        self.capture.y_resolution
    }

    /// The finger views, at least one.
    pub fn views(&self) -> &[FingerView] {
        &self.views
    }

    /// Every minutia of every view, in record order.
    pub fn minutiae(&self) -> impl Iterator<Item = &Minutia> {
        self.views.iter().flat_map(|v| v.minutiae.iter())
    }

    /// How many minutiae the record holds in all.
    pub fn minutia_count(&self) -> usize {
        self.views.iter().map(|v| v.minutiae.len()).sum()
    }
}

impl TryFrom<&[u8]> for FingerTemplate {
    type Error = FingerprintError;
    fn try_from(bytes: &[u8]) -> Result<Self, Self::Error> {
        Self::parse(bytes)
    }
}

fn header() -> String {
    String::from("the header")
}

fn field4(bytes: &[u8]) -> [u8; 4] {
    let mut out = [0u8; 4];
    out.copy_from_slice(&bytes[..4]);
    out
}

fn check_capture(c: &CaptureInfo) -> Result<(), FingerprintError> {
    if c.width == 0 || c.height == 0 {
        return Err(FingerprintError::ImageSize {
            width: c.width,
            height: c.height,
        });
    }
    if c.x_resolution == 0 || c.y_resolution == 0 {
        return Err(FingerprintError::Resolution {
            x: c.x_resolution,
            y: c.y_resolution,
        });
    }
    Ok(())
}

fn check_view_header(n: usize, view: &FingerView) -> Result<(), FingerprintError> {
    if view.finger_position > 10 {
        return Err(FingerprintError::FingerPosition {
            view: n,
            value: view.finger_position,
        });
    }
    if view.view_number > 15 {
        return Err(FingerprintError::ViewNumber {
            view: n,
            value: view.view_number,
        });
    }
    if !IMPRESSION_TYPES.contains(&view.impression_type) {
        return Err(FingerprintError::ImpressionType {
            view: n,
            value: view.impression_type,
        });
    }
    if view.quality > 100 {
        return Err(FingerprintError::ViewQuality {
            view: n,
            value: view.quality,
        });
    }
    Ok(())
}

/// Extended data area type of ridge counts (ISO/IEC 19794-2:2005 §7.5.2).
pub const EXTENDED_RIDGE_COUNTS: u16 = 0x0001;

/// The extended data block of a view is a run of areas, each `type (2) | length (2) | data`,
/// the length counting the whole area with its 4-byte header, and the areas filling the block
/// exactly; type 0 is reserved. A ridge-count area (type 1) holds an extraction method
/// (0 non-specific, 1 four-neighbour, 2 eight-neighbour) and then 3-byte entries. Other
/// areas (core and delta, zonal quality, vendor data) are kept without looking inside.
fn check_extended_data(view: usize, data: &[u8]) -> Result<(), FingerprintError> {
    let err = |reason: String| FingerprintError::ExtendedData { view, reason };
    let mut pos = 0;
    let mut n = 0;
    while pos < data.len() {
        n += 1;
        let left = data.len() - pos;
        if left < 4 {
            return Err(err(format!(
                "area {n} has {left} bytes, fewer than the 4 of an area header (type, length)"
            )));
        }
        let kind = u16::from_be_bytes([data[pos], data[pos + 1]]);
        let len = usize::from(u16::from_be_bytes([data[pos + 2], data[pos + 3]]));
        if kind == 0 {
            return Err(err(format!("area {n} has the reserved type 0x0000")));
        }
        if len < 4 || len > left {
            return Err(err(format!(
                "area {n} (type 0x{kind:04X}) says it is {len} bytes, but {left} are left and an area has at least 4"
            )));
        }
        let body = &data[pos + 4..pos + len];
        if kind == EXTENDED_RIDGE_COUNTS {
            match body.split_first() {
                None => {
                    return Err(err(format!(
                        "area {n} (ridge counts) has no extraction method"
                    )))
                }
                Some((&method, _)) if method > 2 => {
                    return Err(err(format!(
                        "area {n} (ridge counts) has extraction method {method}; methods are 0, 1 and 2"
                    )))
                }
                Some((_, entries)) if entries.len() % 3 != 0 => {
                    return Err(err(format!(
                        "area {n} (ridge counts) has {} bytes of entries, not a multiple of 3",
                        entries.len()
                    )))
                }
                Some(_) => {}
            }
        }
        pos += len;
    }
    Ok(())
}

fn check_minutia(
    c: &CaptureInfo,
    view: usize,
    index: usize,
    m: &Minutia,
) -> Result<(), FingerprintError> {
    if m.x >= c.width || m.y >= c.height {
        return Err(FingerprintError::MinutiaOutside {
            view,
            index,
            x: m.x,
            y: m.y,
            width: c.width,
            height: c.height,
        });
    }
    if m.quality > 100 {
        return Err(FingerprintError::MinutiaQuality {
            view,
            index,
            value: m.quality,
        });
    }
    Ok(())
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests;
