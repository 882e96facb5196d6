//! The checks of a record's parts: capture, view headers, extended data and minutiae.

use super::{CaptureInfo, FingerView, FingerprintError, Minutia, IMPRESSION_TYPES};

pub(super) fn check_capture(c: &CaptureInfo) -> Result<(), FingerprintError> {
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

pub(super) fn check_view_header(n: usize, view: &FingerView) -> Result<(), FingerprintError> {
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
pub(super) fn check_extended_data(view: usize, data: &[u8]) -> Result<(), FingerprintError> {
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

pub(super) fn check_minutia(
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
