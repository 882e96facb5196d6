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

mod checks;
mod codec;

pub use checks::EXTENDED_RIDGE_COUNTS;

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

impl FingerTemplate {
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

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests;
use codec::hex_bytes;
