use super::*;
use proptest::prelude::*;

fn capture() -> CaptureInfo {
    CaptureInfo {
        capture_equipment: 0,
        width: 500,
        height: 500,
        x_resolution: 197,
        y_resolution: 197,
    }
}

fn minutia(x: u16, y: u16) -> Minutia {
    Minutia {
        kind: MinutiaKind::RidgeEnding,
        x,
        y,
        angle: 64,
        quality: 60,
    }
}

fn view(minutiae: Vec<Minutia>) -> FingerView {
    FingerView {
        finger_position: 2,
        view_number: 0,
        impression_type: 0,
        quality: 80,
        minutiae,
        extended_data: vec![],
    }
}

fn sample() -> FingerTemplate {
    let ms = (0..8).map(|i| minutia(10 + i * 50, 20 + i * 40)).collect();
    FingerTemplate::new(capture(), vec![view(ms)]).unwrap()
}

#[test]
fn layout_is_exact() {
    let t = FingerTemplate::new(
        CaptureInfo {
            capture_equipment: 0x1234,
            ..capture()
        },
        vec![FingerView {
            finger_position: 7,
            view_number: 1,
            impression_type: 8,
            quality: 90,
            minutiae: vec![Minutia {
                kind: MinutiaKind::Bifurcation,
                x: 0x0102,
                y: 0x0103,
                angle: 0xAB,
                quality: 55,
            }],
            extended_data: vec![0x00, 0x05, 0x00, 0x06, 0xEE, 0xFF],
        }],
    )
    .unwrap();
    let expected: Vec<u8> = [
        &b"FMR\0 20\0"[..],
        &[0, 0, 0, 42],
        &[
            0x12, 0x34, 0x01, 0xF4, 0x01, 0xF4, 0x00, 0xC5, 0x00, 0xC5, 1, 0,
        ],
        &[7, 0x18, 90, 1],
        &[0x81, 0x02, 0x01, 0x03, 0xAB, 55],
        &[0, 6, 0x00, 0x05, 0x00, 0x06, 0xEE, 0xFF],
    ]
    .concat();
    assert_eq!(t.to_bytes(), expected);
    assert_eq!(FingerTemplate::parse(&expected).unwrap(), t);
}

#[test]
fn round_trip_and_accessors() {
    let t = sample();
    let bytes = t.to_bytes();
    assert_eq!(
        bytes.len(),
        HEADER_LEN + VIEW_HEADER_LEN + 8 * MINUTIA_LEN + 2
    );
    let back = FingerTemplate::try_from(bytes.as_slice()).unwrap();
    assert_eq!(back, t);
    assert_eq!(back.width(), 500);
    assert_eq!(back.height(), 500);
    assert_eq!(back.x_resolution(), 197);
    assert_eq!(back.y_resolution(), 197);
    assert_eq!(back.capture().capture_equipment, 0);
    assert_eq!(back.views().len(), 1);
    assert_eq!(back.minutia_count(), 8);
    assert_eq!(back.minutiae().next().unwrap(), &minutia(10, 20));
    assert!((minutia(0, 0).angle_degrees() - 90.0).abs() < 1e-9);
}

#[test]
fn debug_hides_minutiae() {
    let shown = format!("{:?}", sample());
    assert!(shown.contains("minutiae: 8"), "{shown}");
    assert!(!shown.contains("RidgeEnding"), "{shown}");
}

/// Byte offsets into `sample().to_bytes()`.
const VIEW0: usize = HEADER_LEN;
const M1: usize = VIEW0 + VIEW_HEADER_LEN;

fn corrupt(f: impl FnOnce(&mut Vec<u8>)) -> String {
    let mut bytes = sample().to_bytes();
    f(&mut bytes);
    FingerTemplate::parse(&bytes).unwrap_err().to_string()
}

fn set_len(b: &mut [u8]) {
    let len = b.len() as u32;
    b[8..12].copy_from_slice(&len.to_be_bytes());
}

#[test]
fn parse_errors() {
    let full = sample().to_bytes();
    let cases: Vec<(&str, String, &str)> = vec![
        (
            "empty",
            FingerTemplate::parse(&[]).unwrap_err().to_string(),
            "the record is 0 bytes, shorter than the 24-byte header of a finger minutiae record",
        ),
        (
            "truncated file",
            FingerTemplate::parse(&full[..40]).unwrap_err().to_string(),
            "the record header says 78 bytes but the record has 40",
        ),
        (
            "format id",
            corrupt(|b| b[..4].copy_from_slice(b"JPEG")),
            "the record does not begin with \"FMR\\0\" (it begins with 4A 50 45 47), so it is not an ISO/IEC 19794-2 finger minutiae record",
        ),
        (
            "version",
            corrupt(|b| b[4..8].copy_from_slice(b"030\0")),
            "the record has version 30 33 30 00, only \" 20\\0\" (ISO/IEC 19794-2:2005) is supported",
        ),
        (
            "length too big",
            corrupt(|b| b[11] += 1),
            "the record header says 79 bytes but the record has 78",
        ),
        (
            "zero width",
            corrupt(|b| b[14..16].copy_from_slice(&[0, 0])),
            "the image size is 0x500; width and height must not be 0",
        ),
        (
            "zero resolution",
            corrupt(|b| b[20..22].copy_from_slice(&[0, 0])),
            "the resolution is 197x0 pixels/cm; it must not be 0",
        ),
        ("no views", corrupt(|b| b[22] = 0), "the record has no finger views"),
        (
            "reserved byte",
            corrupt(|b| b[23] = 5),
            "the reserved header byte is 0x05, it must be 0",
        ),
        (
            "two views announced, one present",
            corrupt(|b| b[22] = 2),
            "the record ends inside the header of view 2",
        ),
        (
            "more minutiae announced than present",
            corrupt(|b| b[VIEW0 + 3] = 9),
            "the record ends inside minutia 9 of view 1",
        ),
        (
            "fewer minutiae announced than present",
            corrupt(|b| b[VIEW0 + 3] = 7),
            "the record ends inside the extended data of view 1",
        ),
        (
            "extended data length cut",
            corrupt(|b| {
                b.pop();
                set_len(b);
            }),
            "the record ends inside the extended data length of view 1",
        ),
        (
            "extended data announced, absent",
            corrupt(|b| {
                let n = b.len();
                b[n - 1] = 4;
            }),
            "the record ends inside the extended data of view 1",
        ),
        (
            "trailing bytes",
            corrupt(|b| {
                b.extend_from_slice(&[0, 0, 0]);
                set_len(b);
            }),
            "the record has 3 bytes after its last finger view",
        ),
        (
            "finger position",
            corrupt(|b| b[VIEW0] = 11),
            "view 1 has finger position 11; positions run from 0 (unknown) to 10",
        ),
        (
            "impression type",
            corrupt(|b| b[VIEW0 + 1] = 0x04),
            "view 1 has impression type 4; known types are 0, 1, 2, 3, 8 and 9",
        ),
        (
            "view quality",
            corrupt(|b| b[VIEW0 + 2] = 101),
            "view 1 has quality 101; quality runs from 0 to 100",
        ),
        (
            "minutia type",
            corrupt(|b| b[M1 + 6 * 2] |= 0xC0),
            "minutia 3 of view 1 has the reserved type 3",
        ),
        (
            "minutia reserved bits",
            corrupt(|b| b[M1 + 6 * 2 + 2] |= 0x40),
            "minutia 3 of view 1 has its reserved bits set",
        ),
        (
            "minutia outside",
            corrupt(|b| b[M1 + 6 * 6..M1 + 6 * 6 + 2].copy_from_slice(&[0x41, 0xF4])),
            "minutia 7 of view 1 lies outside the 500x500 image (x 500, y 260)",
        ),
        (
            "minutia quality",
            corrupt(|b| b[M1 + 6 * 7 + 5] = 200),
            "minutia 8 of view 1 has quality 200; quality runs from 0 to 100",
        ),
        (
            "minutia repeated",
            corrupt(|b| b.copy_within(M1 + 6 * 2..M1 + 6 * 3, M1 + 6 * 5)),
            "minutia 6 of view 1 is at the same place as minutia 3 (x 110, y 100); a finger has one minutia at a place",
        ),
        (
            "impression type 5",
            corrupt(|b| b[VIEW0 + 1] = 0x05),
            "view 1 has impression type 5; known types are 0, 1, 2, 3, 8 and 9",
        ),
    ];
    for (name, got, expected) in cases {
        assert_eq!(got, expected, "{name}");
    }
}

/// `sample()` with `ext` as the extended data of its view.
fn with_extended(ext: &[u8]) -> Result<FingerTemplate, FingerprintError> {
    let mut bytes = sample().to_bytes();
    let n = bytes.len();
    bytes[n - 2..].copy_from_slice(&(ext.len() as u16).to_be_bytes());
    bytes.extend_from_slice(ext);
    set_len(&mut bytes);
    FingerTemplate::parse(&bytes)
}

#[test]
fn extended_data_must_parse() {
    assert!(with_extended(&[0, 1, 0, 5, 0]).is_ok());
    assert!(with_extended(&[0, 2, 0, 4, 0x12, 0x34, 0, 5, 1]).is_ok());
    let cases: &[(&[u8], &str)] = &[
        (
            &[0xEE, 0xFF],
            "area 1 has 2 bytes, fewer than the 4 of an area header (type, length)",
        ),
        (&[0, 0, 0, 4], "area 1 has the reserved type 0x0000"),
        (
            &[0, 2, 0, 9, 1, 2],
            "area 1 (type 0x0002) says it is 9 bytes, but 6 are left and an area has at least 4",
        ),
        (
            &[0, 2, 0, 2, 1, 2],
            "area 1 (type 0x0002) says it is 2 bytes, but 6 are left and an area has at least 4",
        ),
        (
            &[0, 2, 0, 4, 0, 1],
            "area 2 has 2 bytes, fewer than the 4 of an area header (type, length)",
        ),
        (
            &[0, 1, 0, 4],
            "area 1 (ridge counts) has no extraction method",
        ),
        (
            &[0, 1, 0, 5, 3],
            "area 1 (ridge counts) has extraction method 3; methods are 0, 1 and 2",
        ),
        (
            &[0, 1, 0, 7, 1, 1, 2],
            "area 1 (ridge counts) has 2 bytes of entries, not a multiple of 3",
        ),
    ];
    for (ext, reason) in cases {
        assert_eq!(
            with_extended(ext).unwrap_err().to_string(),
            format!("the extended data of view 1 does not parse: {reason}"),
            "{ext:02X?}"
        );
    }
}

#[test]
fn new_checks_what_parse_cannot_see() {
    let too_many = FingerTemplate::new(
        capture(),
        vec![view((0..256).map(|i| minutia(i, i)).collect())],
    );
    assert_eq!(
        too_many.unwrap_err().to_string(),
        "view 1 has 256 minutiae, at most 255 fit"
    );
    let dup = FingerTemplate::new(capture(), vec![view(vec![]), view(vec![])]);
    assert_eq!(
        dup.unwrap_err().to_string(),
        "view 2 repeats finger position 2 view number 0"
    );
    let mut v = view(vec![]);
    v.view_number = 16;
    assert_eq!(
        FingerTemplate::new(capture(), vec![v])
            .unwrap_err()
            .to_string(),
        "view 1 has view number 16; view numbers run from 0 to 15"
    );
    let mut v = view(vec![]);
    v.extended_data = vec![0; 65_536];
    assert_eq!(
        FingerTemplate::new(capture(), vec![v])
            .unwrap_err()
            .to_string(),
        "view 1 has 65536 bytes of extended data, at most 65535 fit"
    );
    assert_eq!(
        FingerTemplate::new(capture(), vec![view(vec![]); 256])
            .unwrap_err()
            .to_string(),
        "the record has 256 finger views, at most 255 fit"
    );
    assert_eq!(
        FingerTemplate::new(capture(), vec![]).unwrap_err(),
        FingerprintError::NoViews
    );
    let edge = FingerTemplate::new(capture(), vec![view(vec![minutia(499, 499)])]);
    assert!(edge.is_ok());
}

#[test]
fn several_views_round_trip() {
    let mut second = view(vec![minutia(5, 5)]);
    second.finger_position = 7;
    // Ridge counts (method 1, one entry) and a vendor area.
    second.extended_data = vec![0, 1, 0, 8, 1, 1, 2, 9, 0x01, 0x00, 0, 6, 7, 7];
    let t = FingerTemplate::new(capture(), vec![view(vec![minutia(1, 2)]), second]).unwrap();
    assert_eq!(FingerTemplate::parse(&t.to_bytes()).unwrap(), t);
}

#[test]
fn hints() {
    assert!(FingerprintError::Truncated {
        what: String::new()
    }
    .hint()
    .contains("cut short"));
    assert!(FingerprintError::Version { found: [0; 4] }
        .hint()
        .contains("19794-2:2005"));
    assert!(FingerprintError::NoViews.hint().contains("capture"));
}

fn arb_minutia(w: u16, h: u16) -> impl Strategy<Value = Minutia> {
    (0..3u8, 0..w, 0..h, any::<u8>(), 0..=100u8).prop_map(|(k, x, y, angle, quality)| Minutia {
        kind: [
            MinutiaKind::Other,
            MinutiaKind::RidgeEnding,
            MinutiaKind::Bifurcation,
        ][usize::from(k)],
        x,
        y,
        angle,
        quality,
    })
}

proptest! {
    #[test]
    fn any_valid_template_round_trips(
        ms in proptest::collection::vec(arb_minutia(400, 600), 0..60),
        ext in proptest::collection::vec(any::<u8>(), 0..20),
        position in 0..=10u8,
    ) {
        let c = CaptureInfo { width: 400, height: 600, ..capture() };
        // One minutia per place, and the random bytes as one vendor area.
        let mut ms = ms;
        let mut seen = std::collections::HashSet::new();
        ms.retain(|m| seen.insert((m.x, m.y)));
        let mut v = view(ms);
        v.finger_position = position;
        v.extended_data = if ext.is_empty() {
            ext
        } else {
            [&[0x01, 0x00][..], &(ext.len() as u16 + 4).to_be_bytes(), &ext].concat()
        };
        let t = FingerTemplate::new(c, vec![v]).unwrap();
        prop_assert_eq!(FingerTemplate::parse(&t.to_bytes()).unwrap(), t);
    }

    #[test]
    fn parse_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..200)) {
        let _ = FingerTemplate::parse(&bytes);
    }

    #[test]
    fn parse_of_mutated_record_never_panics(i in 0usize..78, v in any::<u8>()) {
        let mut bytes = sample().to_bytes();
        bytes[i] = v;
        if let Ok(t) = FingerTemplate::parse(&bytes) {
            prop_assert_eq!(t.to_bytes(), bytes);
        }
    }
}
