//! ISO/IEC 19794-2:2005 finger minutiae records (`FingerTemplate::parse`, the DG3 of the
//! enrolment record and the live template sent for match-on-card); a parsed record must
//! serialize to bytes that parse to the same record.
#![no_main]

use libfuzzer_sys::fuzz_target;
use melli::model::FingerTemplate;

fuzz_target!(|data: &[u8]| {
    if let Ok(template) = FingerTemplate::parse(data) {
        let bytes = template.to_bytes();
        let again = FingerTemplate::parse(&bytes).expect("to_bytes of a parsed record parses");
        assert!(again == template, "the record changed through to_bytes");
        let _ = (template.width(), template.height());
        let _ = (template.x_resolution(), template.y_resolution());
        for minutia in template.minutiae() {
            let _ = minutia.angle_degrees();
        }
        assert_eq!(template.minutiae().count(), template.minutia_count());
    }
});
