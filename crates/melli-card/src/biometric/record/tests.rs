use proptest::prelude::*;

use super::*;

/// A fixture file from `fixtures/fingerprints/`.
pub(in crate::biometric) fn fixture(name: &str) -> Vec<u8> {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../fixtures/fingerprints")
        .join(name);
    std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// Bytes from a spaced hex string.
pub(in crate::biometric) fn hex(s: &str) -> Vec<u8> {
    let compact: String = s.split_whitespace().collect();
    ::hex::decode(compact).unwrap()
}

/// One finger view to encode: finger position and (x, y, angle) minutiae.
pub(in crate::biometric) struct TestView {
    pub(in crate::biometric) position: u8,
    pub(in crate::biometric) minutiae: Vec<(u16, u16, u8)>,
}

/// Encodes a record of `views` on a `width`×`height` image (ridge endings, quality 60,
/// no extended data).
pub(in crate::biometric) fn encode(width: u16, height: u16, views: &[TestView]) -> Vec<u8> {
    let mut out = Vec::new();
    out.extend_from_slice(b"FMR\0 20\0");
    out.extend_from_slice(&[0; 4]);
    out.extend_from_slice(&[0, 0]);
    out.extend_from_slice(&width.to_be_bytes());
    out.extend_from_slice(&height.to_be_bytes());
    out.extend_from_slice(&197u16.to_be_bytes());
    out.extend_from_slice(&197u16.to_be_bytes());
    out.push(u8::try_from(views.len()).unwrap());
    out.push(0);
    for view in views {
        out.extend_from_slice(&[view.position, 0, 80]);
        out.push(u8::try_from(view.minutiae.len()).unwrap());
        for &(x, y, angle) in &view.minutiae {
            out.extend_from_slice(&(0x4000 | x).to_be_bytes());
            out.extend_from_slice(&y.to_be_bytes());
            out.extend_from_slice(&[angle, 60]);
        }
        out.extend_from_slice(&[0, 0]);
    }
    let len = u32::try_from(out.len()).unwrap().to_be_bytes();
    out[8..12].copy_from_slice(&len);
    out
}

/// `7F2E { 81 <record> }` with the shortest lengths.
pub(in crate::biometric) fn template(record: &[u8]) -> Vec<u8> {
    fn length(n: usize) -> Vec<u8> {
        match n {
            0..=0x7F => vec![u8::try_from(n).unwrap()],
            0x80..=0xFF => vec![0x81, u8::try_from(n).unwrap()],
            _ => {
                let [a, b] = u16::try_from(n).unwrap().to_be_bytes();
                vec![0x82, a, b]
            }
        }
    }
    let mut inner = vec![0x81];
    inner.extend(length(record.len()));
    inner.extend_from_slice(record);
    let mut out = vec![0x7F, 0x2E];
    out.extend(length(inner.len()));
    out.extend(inner);
    out
}

/// Sets the record length field to the record's length.
fn fix_length(bytes: &mut [u8]) {
    let len = u32::try_from(bytes.len()).unwrap().to_be_bytes();
    bytes[8..12].copy_from_slice(&len);
}

/// finger-1.fmr with one byte changed.
fn finger_1_with(offset: usize, value: u8) -> Vec<u8> {
    finger_1_with_all(&[(offset, value)])
}

/// finger-1.fmr with bytes changed.
fn finger_1_with_all(edits: &[(usize, u8)]) -> Vec<u8> {
    let mut bytes = fixture("finger-1.fmr");
    for &(offset, value) in edits {
        bytes[offset] = value;
    }
    bytes
}

#[test]
fn reads_the_fixtures() {
    let one = parse_record(&fixture("finger-1.fmr")).unwrap();
    assert_eq!(one.views().len(), 1);
    assert_eq!(one.views()[0].finger_position(), 2);
    assert_eq!(one.views()[0].minutia_count(), 40);
    assert_eq!(one.first_finger_position(), 2);
    assert_eq!(one.biometric_subtype(), 0x09);
    // First minutia: 40 D5 01 4B 9B 4C → ending at (213, 331), angle 0x9B.
    assert_eq!(
        one.views()[0].minutiae[0],
        Minutia {
            x: 213,
            y: 331,
            angle: 0x9B
        }
    );
    let live = parse_record(&fixture("finger-1-live.fmr")).unwrap();
    assert_eq!(live.views()[0].minutia_count(), 39);
    let two = parse_record(&fixture("finger-2.fmr")).unwrap();
    assert_eq!(two.views()[0].minutia_count(), 38);
    assert_eq!(two.biometric_subtype(), 0x0A);
}

#[test]
fn refuses_the_truncated_fixture() {
    assert_eq!(
        parse_record(&fixture("truncated.fmr")),
        Err(RecordError::LengthMismatch {
            declared: 270,
            actual: 120
        })
    );
    assert!(parse_live_template(&template(&fixture("truncated.fmr"))).is_err());
}

#[test]
fn reads_the_live_template_of_the_specification() {
    // §11.2: the whole command data field of the example VERIFY.
    let data = hex("7F 2E 6E 81 6C
         46 4D 52 00 20 32 30 00 00 00 00 6C 00 00 01 00 01 68 00 C5 00 C5 01 00
         02 00 37 0D
         80 A5 00 46 27 48  40 4E 00 3E E8 42  40 43 00 AC E3 2B  40 D5 00 DA 7B 2A
         40 90 00 F6 46 4C  40 7D 00 51 28 4F  80 85 01 22 AA 45  40 93 00 B7 66 54
         80 C8 00 A9 B9 56  80 28 00 5C B8 54  80 A9 01 19 2D 2D  40 C2 00 2F A8 51
         40 E6 00 BB F6 3E
         00 00");
    assert_eq!(data.len(), 0x71);
    let live = parse_live_template(&data).unwrap();
    assert_eq!(live.views()[0].minutia_count(), 13);
    assert_eq!(live.first_finger_position(), 2);
    assert_eq!(
        live.views()[0].minutiae[0],
        Minutia {
            x: 0xA5,
            y: 0x46,
            angle: 0x27
        }
    );
    // The record alone is not a template, and a template is not a record.
    assert_eq!(
        parse_live_template(&data[5..]),
        Err(RecordError::TemplateStructure)
    );
    assert!(parse_record(&data).is_err());
    assert!(parse_record(&data[5..]).is_ok());
}

#[test]
fn template_structure_is_exact() {
    let record = fixture("finger-1-live.fmr"); // 264 bytes: long-form lengths
    let good = template(&record);
    assert_eq!(&good[..7], &[0x7F, 0x2E, 0x82, 0x01, 0x0C, 0x81, 0x82]);
    assert!(parse_live_template(&good).is_ok());

    let structure = Err(RecordError::TemplateStructure);
    let mut wrong_outer = good.clone();
    wrong_outer[1] = 0x2F;
    assert_eq!(parse_live_template(&wrong_outer), structure);
    let mut wrong_inner = good.clone();
    wrong_inner[5] = 0x82;
    assert_eq!(parse_live_template(&wrong_inner), structure);
    let mut after = good.clone();
    after.push(0);
    assert_eq!(parse_live_template(&after), structure);
    let mut before = vec![0x00];
    before.extend_from_slice(&good);
    assert_eq!(parse_live_template(&before), structure);
    // A second DO inside 7F2E.
    let mut inner = good[5..].to_vec();
    inner.extend_from_slice(&[0x82, 0x00]);
    let mut two_dos = vec![0x7F, 0x2E, 0x82];
    two_dos.extend_from_slice(&u16::try_from(inner.len()).unwrap().to_be_bytes());
    two_dos.extend(inner);
    assert_eq!(parse_live_template(&two_dos), structure);
    // Empty, bare tags, indefinite or oversized length forms.
    for bad in [
        &[][..],
        &[0x7F][..],
        &[0x7F, 0x2E][..],
        &[0x7F, 0x2E, 0x00][..],
        &[0x7F, 0x2E, 0x02, 0x81, 0x00][..],
        &[0x7F, 0x2E, 0x80, 0x81, 0x00, 0x00, 0x00][..],
        &[0x7F, 0x2E, 0x84, 0, 0, 0, 2, 0x81, 0x00][..],
    ] {
        assert!(parse_live_template(bad).is_err(), "{bad:02X?}");
    }
    // Non-minimal long-form lengths are BER and accepted, as by the card's TLV reader.
    let mut long = vec![0x7F, 0x2E, 0x83, 0x00, 0x01, 0x0C, 0x81, 0x82, 0x01, 0x08];
    long.extend_from_slice(&record);
    assert!(parse_live_template(&long).is_ok());
}

#[test]
fn live_template_has_exactly_one_view() {
    let view = |position| TestView {
        position,
        minutiae: (0..12).map(|i| (10 * i, 20, 0)).collect(),
    };
    let two = encode(200, 200, &[view(2), view(2)]);
    assert!(parse_record(&two).is_ok());
    assert_eq!(
        parse_live_template(&template(&two)),
        Err(RecordError::ViewCount {
            count: 2,
            min: 1,
            max: 1
        })
    );
    let ten: Vec<TestView> = (0..10).map(view).collect();
    assert_eq!(
        parse_record(&encode(200, 200, &ten)).unwrap().views().len(),
        10
    );
    let eleven: Vec<TestView> = (0..11).map(|_| view(0)).collect();
    assert!(matches!(
        parse_record(&encode(200, 200, &eleven)),
        Err(RecordError::ViewCount { count: 11, .. })
    ));
}

#[test]
fn minutia_count_is_12_to_128() {
    for (count, ok) in [
        (11u16, false),
        (12, true),
        (128, true),
        (129, false),
        (0, false),
    ] {
        let minutiae = (0..count).map(|i| (i, i, 0)).collect();
        let bytes = encode(
            300,
            300,
            &[TestView {
                position: 0,
                minutiae,
            }],
        );
        assert_eq!(parse_record(&bytes).is_ok(), ok, "{count}");
        assert_eq!(
            parse_live_template(&template(&bytes)).is_ok(),
            ok,
            "{count}"
        );
    }
    // 128 minutiae and no extended data: 798 bytes (§11.2).
    let minutiae = (0..128).map(|i| (i, i, 0)).collect();
    assert_eq!(
        encode(
            300,
            300,
            &[TestView {
                position: 0,
                minutiae
            }]
        )
        .len(),
        798
    );
}

#[test]
fn every_field_is_checked() {
    // finger-1: 500×500, one view at 24, first minutia at 28.
    let cases: Vec<(Vec<u8>, RecordError)> = vec![
        (finger_1_with(0, b'X'), RecordError::FormatIdentifier),
        (finger_1_with(5, b'3'), RecordError::Version),
        (
            finger_1_with(11, 0x0F),
            RecordError::LengthMismatch {
                declared: 271,
                actual: 270,
            },
        ),
        (
            finger_1_with_all(&[(14, 0), (15, 0)]),
            RecordError::ImageSize {
                width: 0,
                height: 500,
            },
        ),
        (
            finger_1_with(16, 0x40),
            RecordError::ImageSize {
                width: 500,
                height: 0x40F4,
            },
        ),
        (
            finger_1_with(19, 0xC4),
            RecordError::Resolution { x: 196, y: 197 },
        ),
        (
            finger_1_with(21, 0x76),
            RecordError::Resolution { x: 197, y: 118 },
        ),
        (
            finger_1_with(22, 0),
            RecordError::ViewCount {
                count: 0,
                min: 1,
                max: 10,
            },
        ),
        (finger_1_with(23, 1), RecordError::ReservedByte(1)),
        (
            finger_1_with(24, 11),
            RecordError::FingerPosition { view: 0, value: 11 },
        ),
        (
            finger_1_with(25, 0xF4),
            RecordError::ImpressionType { view: 0, value: 4 },
        ),
        (
            finger_1_with(26, 101),
            RecordError::FingerQuality {
                view: 0,
                value: 101,
            },
        ),
        (
            finger_1_with(28, 0xC0),
            RecordError::MinutiaType {
                view: 0,
                minutia: 0,
            },
        ),
        (
            finger_1_with(30, 0x41),
            RecordError::MinutiaReserved {
                view: 0,
                minutia: 0,
            },
        ),
        (
            finger_1_with_all(&[(28, 0x41), (29, 0xF4)]),
            RecordError::MinutiaPosition {
                view: 0,
                minutia: 0,
                x: 500,
                y: 331,
            },
        ),
        (
            finger_1_with(33, 101),
            RecordError::MinutiaQuality {
                view: 0,
                minutia: 0,
                value: 101,
            },
        ),
    ];
    for (bytes, expected) in cases {
        assert_eq!(parse_record(&bytes), Err(expected.clone()), "{expected}");
        // A live template allows exactly one view, and says so.
        let expected_live = match expected {
            RecordError::ViewCount { count, min, .. } => {
                RecordError::ViewCount { count, min, max: 1 }
            }
            other => other,
        };
        let live = parse_live_template(&template(&bytes));
        assert_eq!(live, Err(expected_live.clone()), "{expected_live}");
    }
    // View number and impression type share a byte: any view number is fine.
    assert!(parse_record(&finger_1_with(25, 0xF9)).is_ok());
}

#[test]
fn views_must_end_exactly_at_the_record_length() {
    let good = fixture("finger-1.fmr");
    // One byte more, with the length field following: trailing byte.
    let mut longer = good.clone();
    longer.push(0);
    fix_length(&mut longer);
    assert_eq!(
        parse_record(&longer),
        Err(RecordError::TrailingBytes { extra: 1 })
    );
    // One byte less: the extended data length is cut.
    let mut shorter = good.clone();
    shorter.pop();
    fix_length(&mut shorter);
    assert!(matches!(
        parse_record(&shorter),
        Err(RecordError::Truncated { .. })
    ));
    // An extended data block that is there is skipped; one that is not is truncation.
    let mut extended = good.clone();
    let n = extended.len();
    extended[n - 1] = 3;
    extended.extend_from_slice(&[1, 2, 3]);
    fix_length(&mut extended);
    assert!(parse_record(&extended).is_ok());
    extended.pop();
    fix_length(&mut extended);
    assert!(matches!(
        parse_record(&extended),
        Err(RecordError::Truncated { .. })
    ));
    // Every proper prefix, with or without the length field adjusted, is refused.
    for cut in 0..good.len() {
        let mut prefix = good[..cut].to_vec();
        assert!(parse_record(&prefix).is_err(), "{cut}");
        if cut >= 12 {
            fix_length(&mut prefix);
            assert!(parse_record(&prefix).is_err(), "{cut}");
        }
    }
}

#[test]
fn records_above_4096_bytes_are_refused() {
    let mut big = fixture("finger-1.fmr");
    let n = big.len();
    let extra = 4097 - n;
    big[n - 2..].copy_from_slice(&u16::try_from(extra).unwrap().to_be_bytes());
    big.resize(4097, 0);
    fix_length(&mut big);
    assert_eq!(parse_record(&big), Err(RecordError::TooLong { len: 4097 }));
    let mut exact = fixture("finger-1.fmr");
    let n = exact.len();
    exact[n - 2..].copy_from_slice(&u16::try_from(4096 - n).unwrap().to_be_bytes());
    exact.resize(4096, 0);
    fix_length(&mut exact);
    assert!(parse_record(&exact).is_ok());
    assert!(parse_live_template(&template(&exact)).is_ok());
}

#[test]
fn subtypes_follow_the_table() {
    let table = [
        0x00, 0x05, 0x09, 0x0D, 0x11, 0x15, 0x06, 0x0A, 0x0E, 0x12, 0x16,
    ];
    for (position, subtype) in (0u8..).zip(table) {
        assert_eq!(biometric_subtype(position), subtype);
    }
    assert_eq!(biometric_subtype(11), 0);
}

proptest! {
    #[test]
    fn random_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..1200)) {
        let _ = parse_record(&bytes);
        let _ = parse_live_template(&bytes);
        let _ = parse_live_template(&template(&bytes));
    }

    #[test]
    fn damaged_records_never_panic(
        edits in proptest::collection::vec((0usize..300, any::<u8>()), 1..6),
        cut in 0usize..300,
        fix in any::<bool>(),
    ) {
        let mut bytes = fixture("finger-1-live.fmr");
        for (at, value) in edits {
            if let Some(b) = bytes.get_mut(at % 264) {
                *b = value;
            }
        }
        bytes.truncate(cut.max(12));
        if fix {
            fix_length(&mut bytes);
        }
        if let Ok(record) = parse_record(&bytes) {
            // Whatever is accepted is within the limits the matcher relies on, and matches.
            for view in record.views() {
                prop_assert!((12..=128).contains(&view.minutia_count()));
            }
            let enrolled = parse_record(&fixture("finger-1.fmr")).unwrap();
            let _ = super::super::matches(&enrolled, &record);
            let _ = super::super::matches(&record, &enrolled);
        }
        let _ = parse_live_template(&template(&bytes));
    }
}
