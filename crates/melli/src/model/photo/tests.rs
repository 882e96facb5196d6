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
            let decoded =
                decode_jpeg_strictly(&bytes).unwrap_or_else(|e| panic!("{w}x{h} q{quality}: {e}"));
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
