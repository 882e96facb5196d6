//! The face photo: a baseline JPEG of exactly 240x320 pixels in at most 15 000 bytes
//! (applets-spec §5, DG2).

use std::fmt;
use std::io::Cursor;

use crate::cause::Cause;
use image::codecs::jpeg::JpegEncoder;
use image::imageops::FilterType;
use image::{DynamicImage, ImageDecoder, ImageFormat, ImageReader, Limits, RgbImage};

/// Width of the photo on the card, in pixels.
pub const WIDTH: u32 = 240;
/// Height of the photo on the card, in pixels.
pub const HEIGHT: u32 = 320;
/// Most bytes the photo may take on the card.
pub const MAX_BYTES: usize = 15_000;
/// Largest side of a source photo melli decodes, in pixels; larger images are refused from their
/// header, before anything is decoded. 4096 takes the 12-megapixel photos of phones and
/// cameras (4000 × 3000, 4032 × 3024) and bounds what a small file can make melli allocate.
pub const MAX_SOURCE_SIDE: u32 = 4096;
/// Most bytes a source photo may take once decoded (width × height × bytes per pixel, as its
/// header declares): an 8-bit RGBA image of 4096 × 4096 pixels. A 16-bit image that large is
/// refused; an 8-bit one of the same size is not.
pub const MAX_DECODED_BYTES: u64 = 64 * 1024 * 1024;
/// A photo whose pixels are more than this share (in percent) of one colour — the same 4 × 4 × 4
/// cube of RGB values, each channel divided by 4 — once brought to 240 × 320 is refused: it is
/// blank, or mostly the flat grey or black a damaged or cut-off file decodes to. A portrait on a
/// plain background keeps well under it.
pub const MAX_FLAT_PERCENT: u32 = 75;

/// JPEG qualities tried in turn until the photo fits in [`MAX_BYTES`].
const QUALITIES: [u8; 13] = [90, 85, 80, 75, 70, 65, 60, 55, 50, 45, 40, 35, 30];
/// Memory the `image` decoders may allocate for one source photo (the image itself, at most
/// [`MAX_DECODED_BYTES`], and their working buffers).
const MAX_DECODE_ALLOC: u64 = 96 * 1024 * 1024;

/// A face photo as the card stores it: a baseline JPEG, 240x320 pixels, at most 15 000 bytes,
/// that decodes.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct FaceImage {
    jpeg: Vec<u8>,
    quality: Option<u8>,
}

impl fmt::Debug for FaceImage {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("FaceImage")
            .field("bytes", &self.jpeg.len())
            .field("quality", &self.quality)
            .finish()
    }
}

/// Why an image codec gave up: in melli's words, or the codec's own error (its `source`).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CodecFault {
    #[error("{0}")]
    Said(&'static str),
    #[error("{0}")]
    Codec(#[source] Cause),
}

impl CodecFault {
    fn codec(e: impl std::error::Error + Send + Sync + 'static) -> Self {
        CodecFault::Codec(Cause::new(e))
    }
}

/// Why a photo was refused. `Display` says it without naming the field.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PhotoError {
    #[error("not a JPEG or PNG image")]
    NotJpegOrPng,
    #[error("the {format} image cannot be decoded ({reason})")]
    Decode {
        format: &'static str,
        #[source]
        reason: CodecFault,
    },
    #[error("{width} × {height} pixels is larger than a photo may be (at most {MAX_SOURCE_SIDE} × {MAX_SOURCE_SIDE})")]
    TooLarge { width: u32, height: u32 },
    #[error("{width} × {height} pixels of {color} take {bytes} bytes once decoded, more than a photo may (at most {MAX_DECODED_BYTES})")]
    TooManyBytesDecoded {
        width: u32,
        height: u32,
        color: String,
        bytes: u64,
    },
    #[error("{percent} % of its pixels are one flat colour (RGB about {r} {g} {b}); more than {MAX_FLAT_PERCENT} % is a blank or damaged image")]
    Flat { percent: u32, r: u8, g: u8, b: u8 },
    #[error("the image is {width}x{height} px; cropped to 3:4 it is {crop_width}x{crop_height}, smaller than {WIDTH}x{HEIGHT}")]
    TooSmall {
        width: u32,
        height: u32,
        crop_width: u32,
        crop_height: u32,
    },
    #[error("even at JPEG quality 30 the photo takes {bytes} bytes, more than {MAX_BYTES}")]
    OverBudget { bytes: usize },
    #[error("JPEG encoding failed ({reason})")]
    Encode {
        #[source]
        reason: CodecFault,
    },
    #[error("the photo is not a JPEG image")]
    NotJpeg,
    #[error("the photo is not a baseline JPEG (it is coded as {kind})")]
    NotBaseline { kind: &'static str },
    #[error("the photo is {width}x{height} px, the card holds {WIDTH}x{HEIGHT}")]
    WrongSize { width: u32, height: u32 },
    #[error("the photo is {bytes} bytes, more than {MAX_BYTES}")]
    TooManyBytes { bytes: usize },
}

impl PhotoError {
    /// What the person fixing the record should do.
    pub fn hint(&self) -> &'static str {
        match self {
            PhotoError::NotJpegOrPng => "supply the face photo as a JPEG or PNG file",
            PhotoError::Decode { .. } => {
                "the file is damaged or cut short: copy or export the photo again"
            }
            PhotoError::TooLarge { .. } => "scale the photo down first",
            PhotoError::TooManyBytesDecoded { .. } => {
                "save it as an 8-bit JPEG or PNG (or scale it down)"
            }
            PhotoError::Flat { .. } => "supply the real face photo; this file is blank or damaged",
            PhotoError::TooSmall { .. } => "take or scan the photo at a higher resolution",
            PhotoError::OverBudget { .. } => {
                "take the photo against a plain background so that it compresses"
            }
            PhotoError::Encode { .. } => "report this as a bug in melli",
            PhotoError::NotJpeg
            | PhotoError::NotBaseline { .. }
            | PhotoError::WrongSize { .. }
            | PhotoError::TooManyBytes { .. } => "the card holds a photo that breaks the spec",
        }
    }
}

impl FaceImage {
    /// Brings any JPEG or PNG photo to the card's form: applies the EXIF orientation, puts
    /// transparent areas on white, crops the largest 3:4 (portrait) rectangle around the centre,
    /// scales it to exactly 240x320 (area averaging when shrinking by 2 or more, Lanczos
    /// otherwise) and encodes it as baseline JPEG, lowering the quality from
    /// 90 in steps of 5 (down to 30) until it fits in 15 000 bytes. The source must be at least
    /// 240x320 after cropping: melli does not enlarge photos.
    pub fn from_photo(bytes: &[u8]) -> Result<Self, PhotoError> {
        let (format, name) = match image::guess_format(bytes) {
            Ok(ImageFormat::Jpeg) => (ImageFormat::Jpeg, "JPEG"),
            Ok(ImageFormat::Png) => (ImageFormat::Png, "PNG"),
            _ => return Err(PhotoError::NotJpegOrPng),
        };
        let image = decode(bytes, format, name)?;
        let rgb = flatten_on_white(image);
        let (width, height) = rgb.dimensions();
        let (crop_width, crop_height) = portrait_crop(width, height);
        if crop_width < WIDTH || crop_height < HEIGHT {
            return Err(PhotoError::TooSmall {
                width,
                height,
                crop_width,
                crop_height,
            });
        }
        let x = (width - crop_width) / 2;
        let y = (height - crop_height) / 2;
        let cropped = image::imageops::crop_imm(&rgb, x, y, crop_width, crop_height).to_image();
        let scaled = if crop_width >= 2 * WIDTH {
            // Area averaging: fast, and free of aliasing when shrinking by 2 or more.
            image::imageops::thumbnail(&cropped, WIDTH, HEIGHT)
        } else {
            image::imageops::resize(&cropped, WIDTH, HEIGHT, FilterType::Lanczos3)
        };
        drop(cropped);
        check_not_flat(&scaled)?;

        let mut smallest = usize::MAX;
        for quality in QUALITIES {
            let jpeg = encode_jpeg(&scaled, quality)?;
            if jpeg.len() <= MAX_BYTES {
                return Ok(FaceImage {
                    jpeg,
                    quality: Some(quality),
                });
            }
            smallest = smallest.min(jpeg.len());
        }
        Err(PhotoError::OverBudget { bytes: smallest })
    }

    /// Checks a photo read from a card: a baseline JPEG of at most 15 000 bytes that decodes
    /// to 240x320 pixels. The bytes are kept as they are.
    pub fn from_card_bytes(bytes: &[u8]) -> Result<Self, PhotoError> {
        if !matches!(image::guess_format(bytes), Ok(ImageFormat::Jpeg)) {
            return Err(PhotoError::NotJpeg);
        }
        if bytes.len() > MAX_BYTES {
            return Err(PhotoError::TooManyBytes { bytes: bytes.len() });
        }
        match jpeg_frame(bytes) {
            Some(JpegFrame { coding: 0xC0, .. }) => {}
            Some(JpegFrame { coding, .. }) => {
                return Err(PhotoError::NotBaseline {
                    kind: coding_name(coding),
                })
            }
            None => {
                return Err(PhotoError::Decode {
                    format: "JPEG",
                    reason: CodecFault::Said("no frame header before the first scan"),
                })
            }
        }
        let image = decode(bytes, ImageFormat::Jpeg, "JPEG")?;
        if (image.width(), image.height()) != (WIDTH, HEIGHT) {
            return Err(PhotoError::WrongSize {
                width: image.width(),
                height: image.height(),
            });
        }
        Ok(FaceImage {
            jpeg: bytes.to_vec(),
            quality: None,
        })
    }

    /// The JPEG bytes, as written to the card.
    pub fn as_bytes(&self) -> &[u8] {
        &self.jpeg
    }

    pub fn into_bytes(self) -> Vec<u8> {
        self.jpeg
    }

    /// The JPEG quality melli chose, when the photo was made by [`from_photo`](Self::from_photo).
    pub fn quality(&self) -> Option<u8> {
        self.quality
    }
}

fn decode(
    bytes: &[u8],
    format: ImageFormat,
    name: &'static str,
) -> Result<DynamicImage, PhotoError> {
    let decode_error = |e: image::ImageError| PhotoError::Decode {
        format: name,
        reason: CodecFault::codec(e),
    };
    if format == ImageFormat::Jpeg
        && !matches!(jpeg_frame(bytes), Some(JpegFrame { complete: true, .. }))
    {
        return Err(PhotoError::Decode {
            format: name,
            reason: CodecFault::Said("the file ends before the image does"),
        });
    }
    // Read the header alone first, so that a huge image is refused before any allocation.
    let mut header = ImageReader::with_format(Cursor::new(bytes), format);
    header.no_limits();
    let (width, height) = header.into_dimensions().map_err(decode_error)?;
    if width > MAX_SOURCE_SIDE || height > MAX_SOURCE_SIDE {
        return Err(PhotoError::TooLarge { width, height });
    }
    let mut reader = ImageReader::with_format(Cursor::new(bytes), format);
    let mut limits = Limits::default();
    limits.max_image_width = Some(MAX_SOURCE_SIDE);
    limits.max_image_height = Some(MAX_SOURCE_SIDE);
    limits.max_alloc = Some(MAX_DECODE_ALLOC);
    reader.limits(limits);
    let mut decoder = reader.into_decoder().map_err(decode_error)?;
    let bytes_decoded = decoder.total_bytes();
    if bytes_decoded > MAX_DECODED_BYTES {
        return Err(PhotoError::TooManyBytesDecoded {
            width,
            height,
            color: color_name(decoder.color_type()),
            bytes: bytes_decoded,
        });
    }
    let orientation = decoder.orientation().map_err(decode_error)?;
    let mut image = if format == ImageFormat::Jpeg {
        drop(decoder);
        decode_jpeg_strictly(bytes)?
    } else {
        DynamicImage::from_decoder(decoder).map_err(decode_error)?
    };
    image.apply_orientation(orientation);
    Ok(image)
}

/// Decodes a JPEG with `zune-jpeg` in strict mode, the decoder `image` uses leniently, and
/// requires the entropy-coded data to run to the end-of-image marker. A decoder that meets
/// EOI before the last block fills the rest with grey, strict mode or not: so the image is
/// decoded *without* its EOI marker, and a scan that needs more data than the file holds runs
/// into the end of the input, which strict mode refuses ("premature end of buffer").
/// Greyscale stays greyscale; every other colour space comes out as RGB.
fn decode_jpeg_strictly(bytes: &[u8]) -> Result<DynamicImage, PhotoError> {
    use zune_core::bytestream::ZCursor;
    use zune_core::colorspace::ColorSpace;
    use zune_core::options::DecoderOptions;
    let error = |reason: CodecFault| PhotoError::Decode {
        format: "JPEG",
        reason,
    };
    let end = match jpeg_frame(bytes) {
        Some(JpegFrame {
            complete: true,
            end,
            ..
        }) => end,
        _ => {
            return Err(error(CodecFault::Said(
                "the file ends before the image does",
            )))
        }
    };
    let bytes = &bytes[..end];
    let side = MAX_SOURCE_SIDE as usize;
    let options = DecoderOptions::default()
        .set_strict_mode(true)
        .set_max_width(side)
        .set_max_height(side);
    let mut headers = zune_jpeg::JpegDecoder::new_with_options(ZCursor::new(bytes), options);
    headers
        .decode_headers()
        .map_err(|e| error(CodecFault::codec(e)))?;
    let grey = headers.input_colorspace() == Some(ColorSpace::Luma);
    let out = if grey {
        ColorSpace::Luma
    } else {
        ColorSpace::RGB
    };
    let mut decoder = zune_jpeg::JpegDecoder::new_with_options(
        ZCursor::new(bytes),
        options.jpeg_set_out_colorspace(out),
    );
    let pixels = decoder.decode().map_err(|e| {
        use zune_jpeg::errors::DecodeErrors;
        match e {
            DecodeErrors::FormatStatic("Premature end of buffer") | DecodeErrors::ExhaustedData => {
                error(CodecFault::Said(
                    "its image data stop before the last row: the file was cut short",
                ))
            }
            other => error(CodecFault::codec(other)),
        }
    })?;
    let (w, h) = decoder
        .dimensions()
        .ok_or_else(|| error(CodecFault::Said("no image size after decoding")))?;
    let (w, h) = (
        u32::try_from(w).map_err(|_| error(CodecFault::Said("image too wide")))?,
        u32::try_from(h).map_err(|_| error(CodecFault::Said("image too high")))?,
    );
    let short = || error(CodecFault::Said("the decoder returned too few pixels"));
    Ok(if grey {
        DynamicImage::ImageLuma8(image::GrayImage::from_raw(w, h, pixels).ok_or_else(short)?)
    } else {
        DynamicImage::ImageRgb8(RgbImage::from_raw(w, h, pixels).ok_or_else(short)?)
    })
}

fn color_name(color: image::ColorType) -> String {
    use image::ColorType::*;
    match color {
        L8 => "8-bit grey",
        La8 => "8-bit grey with alpha",
        Rgb8 => "8-bit RGB",
        Rgba8 => "8-bit RGBA",
        L16 => "16-bit grey",
        La16 => "16-bit grey with alpha",
        Rgb16 => "16-bit RGB",
        Rgba16 => "16-bit RGBA",
        _ => "floating-point or other samples",
    }
    .to_owned()
}

/// Refuses an image more than [`MAX_FLAT_PERCENT`] of whose pixels fall into one 4 × 4 × 4 cube
/// of RGB values.
fn check_not_flat(image: &RgbImage) -> Result<(), PhotoError> {
    let mut counts = vec![0u32; 64 * 64 * 64];
    for p in image.pixels() {
        let [r, g, b] = p.0;
        let cube = (usize::from(r >> 2) << 12) | (usize::from(g >> 2) << 6) | usize::from(b >> 2);
        counts[cube] += 1;
    }
    let (cube, &most) = counts
        .iter()
        .enumerate()
        .max_by_key(|&(_, n)| *n)
        .unwrap_or((0, &0));
    let total = u64::from(image.width()) * u64::from(image.height());
    let percent = (u64::from(most) * 100).checked_div(total).unwrap_or(0) as u32;
    if u64::from(most) * 100 > total * u64::from(MAX_FLAT_PERCENT) {
        // The middle of the cube, as the colour shown.
        let channel = |shift: u32| (((cube >> shift) & 63) as u8) * 4 + 2;
        return Err(PhotoError::Flat {
            percent,
            r: channel(12),
            g: channel(6),
            b: channel(0),
        });
    }
    Ok(())
}

/// RGB with any transparency composited on white. The decoded image is consumed, so an RGB
/// one is not copied.
fn flatten_on_white(image: DynamicImage) -> RgbImage {
    if !image.color().has_alpha() {
        return image.into_rgb8();
    }
    let rgba = image.to_rgba8();
    RgbImage::from_fn(rgba.width(), rgba.height(), |x, y| {
        let p = rgba.get_pixel(x, y).0;
        let a = u32::from(p[3]);
        let over = |c: u8| ((u32::from(c) * a + 255 * (255 - a) + 127) / 255) as u8;
        image::Rgb([over(p[0]), over(p[1]), over(p[2])])
    })
}

/// The largest 3:4 (width:height) rectangle inside a `width` x `height` image.
fn portrait_crop(width: u32, height: u32) -> (u32, u32) {
    let (w, h) = (u64::from(width), u64::from(height));
    if w * 4 > h * 3 {
        // Too wide: keep the height.
        ((h * 3 / 4) as u32, height)
    } else {
        (width, (w * 4 / 3) as u32)
    }
}

fn encode_jpeg(image: &RgbImage, quality: u8) -> Result<Vec<u8>, PhotoError> {
    let mut out = Vec::new();
    JpegEncoder::new_with_quality(&mut out, quality)
        .encode_image(image)
        .map_err(|e| PhotoError::Encode {
            reason: CodecFault::codec(e),
        })?;
    Ok(out)
}

/// What the marker segments of a JPEG stream say about its main image.
struct JpegFrame {
    /// The start-of-frame marker: `C0` baseline, `C1` extended, `C2` progressive, …
    coding: u8,
    /// Whether an end-of-image marker follows the first scan (the file is not cut short).
    complete: bool,
    /// Where that end-of-image marker begins: the entropy-coded data (and any later scans of a
    /// progressive image) end there.
    end: usize,
}

/// Walks the marker segments from SOI to the first scan (SOS), skipping application segments
/// such as an EXIF thumbnail by their lengths. `None` if the stream is malformed or has no
/// frame header before its first scan.
fn jpeg_frame(bytes: &[u8]) -> Option<JpegFrame> {
    if !bytes.starts_with(&[0xFF, 0xD8]) {
        return None;
    }
    let mut pos = 2;
    let mut coding = None;
    while pos + 4 <= bytes.len() {
        if bytes[pos] != 0xFF {
            return None;
        }
        let marker = bytes[pos + 1];
        if marker == 0xFF {
            pos += 1; // fill byte
            continue;
        }
        let len = usize::from(u16::from_be_bytes([bytes[pos + 2], bytes[pos + 3]]));
        if matches!(marker, 0xC0..=0xCF) && !matches!(marker, 0xC4 | 0xC8 | 0xCC) {
            coding.get_or_insert(marker);
        }
        if marker == 0xDA {
            let scan = pos.checked_add(2 + len)?;
            // In entropy-coded data FF is followed by 00 or a restart marker only, so the first
            // FF D9 after the scan header is the end of the image.
            let eoi = bytes
                .get(scan..)?
                .windows(2)
                .position(|w| w == [0xFF, 0xD9]);
            return coding.map(|coding| JpegFrame {
                coding,
                complete: eoi.is_some(),
                end: eoi.map_or(bytes.len(), |at| scan + at),
            });
        }
        if marker == 0xD9 {
            return None;
        }
        pos = pos.checked_add(2 + len)?;
    }
    None
}

fn coding_name(marker: u8) -> &'static str {
    match marker {
        0xC1 => "extended sequential",
        0xC2 => "progressive",
        0xC3 => "lossless",
        _ => "hierarchical or arithmetic",
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests;
