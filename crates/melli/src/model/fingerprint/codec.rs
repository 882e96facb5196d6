//! Reading and writing the ISO/IEC 19794-2:2005 record, each fault named with its place.

use super::checks::{check_capture, check_extended_data, check_minutia, check_view_header};
use super::{
    CaptureInfo, FingerTemplate, FingerView, FingerprintError, Minutia, MinutiaKind, FORMAT_ID,
    HEADER_LEN, MAX_COORDINATE, MINUTIA_LEN, VERSION_2005, VIEW_HEADER_LEN,
};

pub(super) fn hex_bytes(bytes: &[u8]) -> String {
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
