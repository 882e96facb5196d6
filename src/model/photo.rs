//! The face photo: a baseline JPEG of exactly 240x320 pixels in at most 15 000 bytes
//! (applets-spec §5, DG2).

use std::fmt;
use std::io::Cursor;

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

/// Why a photo was refused. `Display` says it without naming the field.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PhotoError {
    #[error("not a JPEG or PNG image")]
    NotJpegOrPng,
    #[error("the {format} image cannot be decoded ({reason})")]
    Decode {
        format: &'static str,
        reason: String,
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
    Encode { reason: String },
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
                    reason: "no frame header before the first scan".to_owned(),
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
        reason: e.to_string(),
    };
    if format == ImageFormat::Jpeg
        && !matches!(jpeg_frame(bytes), Some(JpegFrame { complete: true, .. }))
    {
        return Err(PhotoError::Decode {
            format: name,
            reason: "the file ends before the image does".to_owned(),
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
    let error = |reason: String| PhotoError::Decode {
        format: "JPEG",
        reason,
    };
    let end = match jpeg_frame(bytes) {
        Some(JpegFrame {
            complete: true,
            end,
            ..
        }) => end,
        _ => return Err(error("the file ends before the image does".to_owned())),
    };
    let bytes = &bytes[..end];
    let side = MAX_SOURCE_SIDE as usize;
    let options = DecoderOptions::default()
        .set_strict_mode(true)
        .set_max_width(side)
        .set_max_height(side);
    let mut headers = zune_jpeg::JpegDecoder::new_with_options(ZCursor::new(bytes), options);
    headers.decode_headers().map_err(|e| error(e.to_string()))?;
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
                error("its image data stop before the last row: the file was cut short".to_owned())
            }
            other => error(other.to_string()),
        }
    })?;
    let (w, h) = decoder
        .dimensions()
        .ok_or_else(|| error("no image size after decoding".to_owned()))?;
    let (w, h) = (
        u32::try_from(w).map_err(|_| error("image too wide".to_owned()))?,
        u32::try_from(h).map_err(|_| error("image too high".to_owned()))?,
    );
    let short = || error("the decoder returned too few pixels".to_owned());
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
            reason: e.to_string(),
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
mod tests {
    use super::*;
    use image::{ImageEncoder, Rgba, RgbaImage};

    /// A smooth synthetic picture: a gradient with a darker ellipse.
    fn picture(width: u32, height: u32) -> RgbImage {
        RgbImage::from_fn(width, height, |x, y| {
            let dx = (f64::from(x) - f64::from(width) / 2.0) / (f64::from(width) / 3.0);
            let dy = (f64::from(y) - f64::from(height) / 2.0) / (f64::from(height) / 3.0);
            if dx * dx + dy * dy < 1.0 {
                image::Rgb([200, 160, 130])
            } else {
                image::Rgb([(x * 255 / width) as u8, 200, (y * 255 / height) as u8])
            }
        })
    }

    fn png(image: &RgbImage) -> Vec<u8> {
        let mut out = Vec::new();
        image
            .write_to(&mut Cursor::new(&mut out), ImageFormat::Png)
            .unwrap();
        out
    }

    fn jpeg(image: &RgbImage, quality: u8) -> Vec<u8> {
        encode_jpeg(image, quality).unwrap()
    }

    fn decoded_size(bytes: &[u8]) -> (u32, u32) {
        let img = image::load_from_memory(bytes).unwrap();
        (img.width(), img.height())
    }

    #[test]
    fn any_shape_becomes_240x320_within_budget() {
        // Exactly 3:4 and shrunk by 2 (area averaging); too wide; exactly the card's size;
        // too tall and barely large enough (Lanczos).
        let cases = [
            (480, 640, true),
            (500, 400, false),
            (240, 320, true),
            (241, 1000, false),
        ];
        for (w, h, as_png) in cases {
            let bytes = if as_png {
                png(&picture(w, h))
            } else {
                jpeg(&picture(w, h), 95)
            };
            {
                let face = FaceImage::from_photo(&bytes).unwrap();
                assert_eq!(decoded_size(face.as_bytes()), (WIDTH, HEIGHT), "{w}x{h}");
                assert!(face.as_bytes().len() <= MAX_BYTES);
                let frame = jpeg_frame(face.as_bytes()).unwrap();
                assert_eq!((frame.coding, frame.complete), (0xC0, true), "baseline");
                assert!(face.quality().is_some());
                // What melli writes, melli accepts when it reads the card.
                let back = FaceImage::from_card_bytes(face.as_bytes()).unwrap();
                assert_eq!(back.as_bytes(), face.as_bytes());
                assert_eq!(back.quality(), None);
            }
        }
    }

    #[test]
    fn crop_keeps_the_centre() {
        // Left third red, middle third green, right third blue: the 3:4 crop of a wide image
        // must be mostly green.
        // (Shaded from top to bottom, so that no colour covers most of the photo.)
        let wide = RgbImage::from_fn(1200, 400, |x, y| {
            let v = (y / 2) as u8;
            match x / 400 {
                0 => image::Rgb([255, v / 4, v / 4]),
                1 => image::Rgb([v / 4, 255, v / 4]),
                _ => image::Rgb([v / 4, v / 4, 255]),
            }
        });
        let face = FaceImage::from_photo(&png(&wide)).unwrap();
        let img = image::load_from_memory(face.as_bytes()).unwrap().to_rgb8();
        let p = img.get_pixel(WIDTH / 2, HEIGHT / 2).0;
        assert!(p[1] > 200 && p[0] < 60 && p[2] < 60, "{p:?}");
    }

    #[test]
    fn portrait_crop_table() {
        assert_eq!(portrait_crop(600, 800), (600, 800));
        assert_eq!(portrait_crop(1000, 800), (600, 800));
        assert_eq!(portrait_crop(300, 1200), (300, 400));
        assert_eq!(portrait_crop(241, 1000), (241, 321));
    }

    #[test]
    fn transparency_goes_on_white() {
        // Transparent around an opaque shaded block in the middle.
        let clear = RgbaImage::from_fn(300, 400, |x, y| {
            if (75..225).contains(&x) && (100..300).contains(&y) {
                Rgba([(x % 200) as u8, (y % 200) as u8, 90, 255])
            } else {
                Rgba([0, 0, 0, 0])
            }
        });
        let mut bytes = Vec::new();
        image::codecs::png::PngEncoder::new(&mut bytes)
            .write_image(clear.as_raw(), 300, 400, image::ExtendedColorType::Rgba8)
            .unwrap();
        let face = FaceImage::from_photo(&bytes).unwrap();
        let img = image::load_from_memory(face.as_bytes()).unwrap().to_rgb8();
        assert!(img.get_pixel(10, 10).0.iter().all(|&c| c > 245));
    }

    #[test]
    fn noisy_photo_lowers_quality() {
        // Pseudo-random noise compresses badly: the quality must drop below 90.
        let mut state = 0x1234_5678u32;
        let noisy = RgbImage::from_fn(240, 320, |_, _| {
            state ^= state << 13;
            state ^= state >> 17;
            state ^= state << 5;
            let v = (state & 0x3F) as u8 + 96;
            image::Rgb([v, v, v])
        });
        match FaceImage::from_photo(&png(&noisy)) {
            Ok(face) => {
                assert!(face.quality().unwrap() < 90);
                assert!(face.as_bytes().len() <= MAX_BYTES);
            }
            Err(e) => assert!(matches!(e, PhotoError::OverBudget { .. }), "{e}"),
        }
    }

    #[test]
    fn errors() {
        let small = png(&picture(200, 300));
        let progressive_like = {
            // A baseline JPEG with its SOF0 marker relabelled as SOF2.
            let mut b = jpeg(&picture(240, 320), 80);
            let i = b.windows(2).position(|w| w == [0xFF, 0xC0]).unwrap();
            b[i + 1] = 0xC2;
            b
        };
        let cases: Vec<(&str, PhotoError, &str)> = vec![
            (
                "text",
                FaceImage::from_photo(b"hello, I am not a picture").unwrap_err(),
                "not a JPEG or PNG image",
            ),
            (
                "gif",
                FaceImage::from_photo(b"GIF89a\x01\x00\x01\x00").unwrap_err(),
                "not a JPEG or PNG image",
            ),
            (
                "empty",
                FaceImage::from_photo(b"").unwrap_err(),
                "not a JPEG or PNG image",
            ),
            (
                "small",
                FaceImage::from_photo(&small).unwrap_err(),
                "the image is 200x300 px; cropped to 3:4 it is 200x266, smaller than 240x320",
            ),
            (
                "card: png",
                FaceImage::from_card_bytes(&small).unwrap_err(),
                "the photo is not a JPEG image",
            ),
            (
                "card: wrong size",
                FaceImage::from_card_bytes(&jpeg(&picture(300, 400), 50)).unwrap_err(),
                "the photo is 300x400 px, the card holds 240x320",
            ),
            (
                "card: too many bytes",
                FaceImage::from_card_bytes(&[&[0xFF, 0xD8, 0xFF][..], &[0u8; 15_000]].concat())
                    .unwrap_err(),
                "the photo is 15003 bytes, more than 15000",
            ),
            (
                "card: progressive",
                FaceImage::from_card_bytes(&progressive_like).unwrap_err(),
                "the photo is not a baseline JPEG (it is coded as progressive)",
            ),
        ];
        for (name, err, message) in cases {
            assert_eq!(err.to_string(), message, "{name}");
            assert!(!err.hint().is_empty());
        }
    }

    #[test]
    fn truncated_images_are_decode_errors() {
        let bytes = jpeg(&picture(600, 800), 90);
        let err = FaceImage::from_photo(&bytes[..bytes.len() / 3]).unwrap_err();
        assert_eq!(
            err.to_string(),
            "the JPEG image cannot be decoded (the file ends before the image does)"
        );
        let err = FaceImage::from_photo(&bytes[..100]).unwrap_err();
        assert!(
            matches!(err, PhotoError::Decode { format: "JPEG", .. }),
            "{err}"
        );
        let bytes = png(&picture(600, 800));
        let err = FaceImage::from_photo(&bytes[..bytes.len() / 2]).unwrap_err();
        assert!(
            matches!(err, PhotoError::Decode { format: "PNG", .. }),
            "{err}"
        );
    }

    #[test]
    fn huge_dimensions_are_refused_before_decoding() {
        // A PNG claiming 20000x20000 pixels, with an empty image data chunk.
        let chunk = |kind: &[u8], data: &[u8]| {
            let mut c = (data.len() as u32).to_be_bytes().to_vec();
            c.extend_from_slice(kind);
            c.extend_from_slice(data);
            let crc = crc32(&c[4..]);
            c.extend_from_slice(&crc.to_be_bytes());
            c
        };
        let ihdr = [
            &20_000u32.to_be_bytes()[..],
            &20_000u32.to_be_bytes(),
            &[8, 2, 0, 0, 0],
        ]
        .concat();
        let header = [
            &b"\x89PNG\r\n\x1a\n"[..],
            &chunk(b"IHDR", &ihdr),
            &chunk(b"IDAT", &[]),
            &chunk(b"IEND", &[]),
        ]
        .concat();
        let err = FaceImage::from_photo(&header).unwrap_err();
        assert_eq!(
            err.to_string(),
            "20000 × 20000 pixels is larger than a photo may be (at most 4096 × 4096)"
        );
    }

    /// `png` with IHDR rewritten to say `width` x `height` (its CRC mended).
    fn with_ihdr_size(mut png: Vec<u8>, width: u32, height: u32) -> Vec<u8> {
        png[16..20].copy_from_slice(&width.to_be_bytes());
        png[20..24].copy_from_slice(&height.to_be_bytes());
        let crc = crc32(&png[12..29]);
        png[29..33].copy_from_slice(&crc.to_be_bytes());
        png
    }

    /// `jpeg` with its SOF0 rewritten to say `width` x `height`.
    fn with_sof_size(mut jpeg: Vec<u8>, width: u16, height: u16) -> Vec<u8> {
        let sof = jpeg.windows(2).position(|w| w == [0xFF, 0xC0]).unwrap();
        // FF C0, length (2), precision (1), height (2), width (2).
        jpeg[sof + 5..sof + 7].copy_from_slice(&height.to_be_bytes());
        jpeg[sof + 7..sof + 9].copy_from_slice(&width.to_be_bytes());
        jpeg
    }

    fn png16_rgba(width: u32, height: u32) -> Vec<u8> {
        let image = image::ImageBuffer::<Rgba<u16>, Vec<u16>>::from_pixel(
            width,
            height,
            Rgba([30_000, 20_000, 10_000, 65_535]),
        );
        let mut out = Vec::new();
        DynamicImage::ImageRgba16(image)
            .write_to(&mut Cursor::new(&mut out), ImageFormat::Png)
            .unwrap();
        out
    }

    #[test]
    fn decompression_bombs_are_refused_from_their_headers() {
        // A 240x320 JPEG whose frame header says 12000 x 12000: 432 MB of RGB if decoded.
        let bomb = with_sof_size(jpeg(&picture(240, 320), 80), 12_000, 12_000);
        assert!(bomb.len() < 20_000);
        assert_eq!(
            FaceImage::from_photo(&bomb).unwrap_err().to_string(),
            "12000 × 12000 pixels is larger than a photo may be (at most 4096 × 4096)"
        );
        // A 16-bit RGBA PNG that says 12000 x 12000: 1.15 GB.
        let bomb = with_ihdr_size(png16_rgba(64, 64), 12_000, 12_000);
        assert_eq!(
            FaceImage::from_photo(&bomb).unwrap_err().to_string(),
            "12000 × 12000 pixels is larger than a photo may be (at most 4096 × 4096)"
        );
        // Within the sides, but 16-bit RGBA of 4000 x 4000 is 128 MB.
        let heavy = with_ihdr_size(png16_rgba(64, 64), 4000, 4000);
        let err = FaceImage::from_photo(&heavy).unwrap_err();
        assert_eq!(
            err.to_string(),
            "4000 × 4000 pixels of 16-bit RGBA take 128000000 bytes once decoded, more than a photo may (at most 67108864)"
        );
        assert_eq!(
            err.hint(),
            "save it as an 8-bit JPEG or PNG (or scale it down)"
        );
    }

    #[test]
    fn a_16_bit_png_of_a_sane_size_is_a_photo() {
        let face = FaceImage::from_photo(&png16_rgba(300, 400));
        // One flat colour: refused as flat, which means it was decoded.
        assert!(matches!(face, Err(PhotoError::Flat { .. })), "{face:?}");
    }

    #[test]
    fn a_cut_jpeg_with_an_end_marker_put_back_is_refused() {
        let whole = jpeg(&picture(600, 800), 90);
        for keep in [whole.len() / 2, whole.len() * 9 / 10, whole.len() - 200] {
            let mut cut = whole[..keep].to_vec();
            cut.extend_from_slice(&[0xFF, 0xD9]);
            let err = match FaceImage::from_photo(&cut) {
                Ok(_) => panic!("{keep} of {}: accepted", whole.len()),
                Err(e) => e,
            };
            assert_eq!(
                err.to_string(),
                "the JPEG image cannot be decoded (its image data stop before the last row: the file was cut short)",
                "{keep}"
            );
        }
        let face = FaceImage::from_photo(&picture_jpeg_240()).unwrap();
        let mut cut = face.as_bytes()[..face.as_bytes().len() / 2].to_vec();
        cut.extend_from_slice(&[0xFF, 0xD9]);
        assert!(matches!(
            FaceImage::from_card_bytes(&cut),
            Err(PhotoError::Decode { .. })
        ));
    }

    #[test]
    fn whole_jpegs_with_flat_last_rows_decode_strictly() {
        // The strict check must not refuse a complete image whose last rows compress to
        // almost nothing: white below a picture, at the smallest sizes melli takes.
        for (w, h) in [(240, 320), (241, 322), (256, 336), (300, 400)] {
            let top = picture(w, h);
            let image = RgbImage::from_fn(w, h, |x, y| {
                if y > h / 2 {
                    image::Rgb([255, 255, 255])
                } else {
                    *top.get_pixel(x, y)
                }
            });
            for quality in [30, 75, 95] {
                let bytes = jpeg(&image, quality);
                let decoded = decode_jpeg_strictly(&bytes)
                    .unwrap_or_else(|e| panic!("{w}x{h} q{quality}: {e}"));
                assert_eq!((decoded.width(), decoded.height()), (w, h));
                let grey = DynamicImage::ImageRgb8(image.clone()).into_luma8();
                let mut g = Vec::new();
                JpegEncoder::new_with_quality(&mut g, quality)
                    .encode_image(&grey)
                    .unwrap();
                decode_jpeg_strictly(&g).unwrap_or_else(|e| panic!("grey {w}x{h}: {e}"));
            }
        }
    }

    fn picture_jpeg_240() -> Vec<u8> {
        jpeg(&picture(240, 320), 90)
    }

    #[test]
    fn a_flat_photo_is_refused_and_a_plain_background_is_not() {
        for (colour, shown) in [([128u8, 128, 128], "130 130 130"), ([0, 0, 0], "2 2 2")] {
            let flat = RgbImage::from_pixel(600, 800, image::Rgb(colour));
            let err = FaceImage::from_photo(&png(&flat)).unwrap_err();
            assert_eq!(
                err.to_string(),
                format!("100 % of its pixels are one flat colour (RGB about {shown}); more than 75 % is a blank or damaged image")
            );
        }
        // A face (the ellipse) on a pure white background that covers about 60 % of the photo.
        let portrait = RgbImage::from_fn(600, 800, |x, y| {
            let dx = (f64::from(x) - 300.0) / 200.0;
            let dy = (f64::from(y) - 400.0) / 320.0;
            if dx * dx + dy * dy < 1.0 {
                image::Rgb([200, (x % 50) as u8 + 120, (y % 40) as u8 + 100])
            } else {
                image::Rgb([255, 255, 255])
            }
        });
        assert!(FaceImage::from_photo(&png(&portrait)).is_ok());
    }

    #[test]
    fn a_greyscale_jpeg_is_a_photo() {
        let grey = image::GrayImage::from_fn(300, 400, |x, y| image::Luma([((x + y) % 256) as u8]));
        let mut bytes = Vec::new();
        JpegEncoder::new_with_quality(&mut bytes, 90)
            .encode_image(&grey)
            .unwrap();
        let face = FaceImage::from_photo(&bytes).unwrap();
        assert_eq!(decoded_size(face.as_bytes()), (WIDTH, HEIGHT));
    }

    fn crc32(data: &[u8]) -> u32 {
        let mut crc = 0xFFFF_FFFFu32;
        for &b in data {
            crc ^= u32::from(b);
            for _ in 0..8 {
                crc = if crc & 1 != 0 {
                    (crc >> 1) ^ 0xEDB8_8320
                } else {
                    crc >> 1
                };
            }
        }
        !crc
    }

    /// The photos `bench/check-memory.sh` measures `melli check` with, written into
    /// `$MELLI_BENCH_DIR`: a legitimate 4000 × 3000 JPEG and PNG, and the two bombs.
    #[test]
    #[ignore = "writes bench input; run by bench/check-memory.sh"]
    fn write_bench_photos() {
        let Some(dir) = std::env::var_os("MELLI_BENCH_DIR") else {
            return;
        };
        let dir = std::path::PathBuf::from(dir);
        // A shaded picture with grain, as a camera gives: not flat, compresses like a photo.
        let mut state = 0x9E37_79B9u32;
        let photo = RgbImage::from_fn(4000, 3000, |x, y| {
            state ^= state << 13;
            state ^= state >> 17;
            state ^= state << 5;
            let grain = (state & 0x0F) as u8;
            let dx = (f64::from(x) - 2000.0) / 900.0;
            let dy = (f64::from(y) - 1400.0) / 1200.0;
            if dx * dx + dy * dy < 1.0 {
                image::Rgb([190 + grain, 150 + grain, 120 + grain])
            } else {
                image::Rgb([
                    (x / 16) as u8 / 2 + grain,
                    170 + grain,
                    (y / 12) as u8 / 2 + grain,
                ])
            }
        });
        std::fs::write(dir.join("photo-4000x3000.jpg"), jpeg(&photo, 92)).unwrap();
        // The PNG without grain, so that it stays within the 16 MiB a photo file may be.
        let smooth = RgbImage::from_fn(4000, 3000, |x, y| {
            image::Rgb([(x / 16) as u8, 170, (y / 12) as u8])
        });
        std::fs::write(dir.join("photo-4000x3000.png"), png(&smooth)).unwrap();
        let small = jpeg(&picture(600, 800), 92);
        std::fs::write(
            dir.join("bomb-12000x12000.jpg"),
            with_sof_size(small, 12_000, 12_000),
        )
        .unwrap();
        std::fs::write(
            dir.join("bomb-12000x12000-rgba16.png"),
            with_ihdr_size(png16_rgba(64, 64), 12_000, 12_000),
        )
        .unwrap();
    }

    #[test]
    fn debug_hides_pixels() {
        let face = FaceImage::from_photo(&png(&picture(240, 320))).unwrap();
        let shown = format!("{face:?}");
        assert!(shown.starts_with("FaceImage { bytes: "), "{shown}");
    }
}
