//! DG2 as the desk reads it: `FaceImage::from_card_bytes` (JPEG signature, size, SOF scan for
//! a baseline frame, then a full decode that must give 240x320).
#![no_main]

use libfuzzer_sys::fuzz_target;
use melli::model::FaceImage;

fuzz_target!(|data: &[u8]| {
    if let Ok(photo) = FaceImage::from_card_bytes(data) {
        assert_eq!(
            photo.as_bytes(),
            data,
            "the card's bytes are kept as they are"
        );
        assert_eq!(photo.quality(), None);
    }
});
