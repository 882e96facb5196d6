//! The holder's photo for the page: the card's JPEG decoded here, within limits, and encoded
//! again as PNG. The browser gets only pixels melli produced, never the card's bytes, so a
//! hostile card cannot reach the browser's JPEG decoder; and the PNG is lossless, so the page
//! shows exactly the pixels `image` decodes from the card.

use std::io::Cursor;

use image::{ImageFormat, ImageReader, Limits};

/// Most bytes of a card's JPEG this decodes. The specification allows 15 000 bytes
/// (applets-spec §5, DG2); a little room above that lets the desk still show the photo of a
/// card whose photo verification fails for being too large, without decoding anything big.
pub const MAX_JPEG_BYTES: usize = 64 * 1024;
/// Largest side of the photo in pixels (the card's photo is 240 × 320).
pub const MAX_SIDE: u32 = 1024;
/// Most memory the decoder may allocate.
pub const MAX_ALLOC: u64 = 8 * 1024 * 1024;

/// Why the photo is not shown.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PhotoError {
    #[error("the photo on the card is {0} bytes, more than the {MAX_JPEG_BYTES} the desk shows")]
    TooLarge(usize),
    #[error("the photo on the card does not decode as JPEG: {0}")]
    Decode(String),
    #[error("the photo could not be encoded as PNG: {0}")]
    Encode(String),
}

/// The card's JPEG as PNG: decoded with `image` under [`Limits`] (sides at most [`MAX_SIDE`],
/// allocations at most [`MAX_ALLOC`]), after a cap on its bytes.
pub fn jpeg_to_png(jpeg: &[u8]) -> Result<Vec<u8>, PhotoError> {
    if jpeg.len() > MAX_JPEG_BYTES {
        return Err(PhotoError::TooLarge(jpeg.len()));
    }
    let mut limits = Limits::default();
    limits.max_image_width = Some(MAX_SIDE);
    limits.max_image_height = Some(MAX_SIDE);
    limits.max_alloc = Some(MAX_ALLOC);
    let mut reader = ImageReader::with_format(Cursor::new(jpeg), ImageFormat::Jpeg);
    reader.limits(limits);
    let image = reader
        .decode()
        .map_err(|e| PhotoError::Decode(e.to_string()))?;
    let mut png = Vec::new();
    image
        .write_to(&mut Cursor::new(&mut png), ImageFormat::Png)
        .map_err(|e| PhotoError::Encode(e.to_string()))?;
    Ok(png)
}

#[cfg(test)]
mod tests {
    use super::*;
    use image::codecs::jpeg::JpegEncoder;
    use image::{Rgb, RgbImage};

    fn jpeg(width: u32, height: u32) -> Vec<u8> {
        let img = RgbImage::from_fn(width, height, |x, y| Rgb([x as u8, y as u8, 128]));
        let mut out = Vec::new();
        JpegEncoder::new_with_quality(&mut out, 80)
            .encode_image(&img)
            .expect("encode");
        out
    }

    #[test]
    fn the_png_holds_the_pixels_image_decodes_from_the_jpeg() {
        let card = jpeg(240, 320);
        let png = jpeg_to_png(&card).expect("a card-sized photo");
        assert_eq!(&png[..4], b"\x89PNG");
        let from_png = image::load_from_memory_with_format(&png, ImageFormat::Png)
            .expect("png")
            .to_rgb8();
        let from_jpeg = image::load_from_memory_with_format(&card, ImageFormat::Jpeg)
            .expect("jpeg")
            .to_rgb8();
        assert_eq!(from_png.dimensions(), (240, 320));
        assert_eq!(from_png.as_raw(), from_jpeg.as_raw());
    }

    #[test]
    fn a_jpeg_that_declares_huge_sides_is_refused_from_its_header() {
        // A small file whose frame header claims 60000 × 60000 pixels: decoding it would ask
        // for gigabytes. Patch the SOF0 segment of a real JPEG.
        let mut hostile = jpeg(16, 16);
        let sof = hostile
            .windows(2)
            .position(|w| w == [0xFF, 0xC0])
            .expect("baseline SOF0");
        // FF C0, length (2), precision (1), height (2), width (2).
        hostile[sof + 5..sof + 7].copy_from_slice(&60000u16.to_be_bytes());
        hostile[sof + 7..sof + 9].copy_from_slice(&60000u16.to_be_bytes());
        assert!(hostile.len() < 2000);
        let err = jpeg_to_png(&hostile).expect_err("a bomb");
        assert!(matches!(err, PhotoError::Decode(_)), "{err:?}");
    }

    #[test]
    fn a_photo_too_large_in_bytes_is_refused_before_decoding() {
        let big = vec![0xFFu8; MAX_JPEG_BYTES + 1];
        assert_eq!(
            jpeg_to_png(&big),
            Err(PhotoError::TooLarge(MAX_JPEG_BYTES + 1))
        );
    }

    #[test]
    fn sides_over_the_limit_are_refused_even_when_small_in_bytes() {
        let wide = jpeg(MAX_SIDE + 8, 8);
        assert!(wide.len() <= MAX_JPEG_BYTES);
        assert!(matches!(jpeg_to_png(&wide), Err(PhotoError::Decode(_))));
    }

    #[test]
    fn garbage_is_an_error_not_a_panic() {
        for bytes in [&b""[..], b"\xFF\xD8\xFF", b"not a jpeg at all"] {
            assert!(matches!(jpeg_to_png(bytes), Err(PhotoError::Decode(_))));
        }
    }
}
