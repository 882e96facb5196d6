//! The work the card counts for `--timing` ([`crate::timing`]): each APDU's own operations,
//! and nothing left over from the APDU before.

use super::*;
use crate::timing::Work;

#[test]
fn each_apdu_counts_the_operations_it_carried_out() {
    let (mut card, mut host) = personalizing();
    // MUTUAL AUTHENTICATE (in `personalizing`) was the last APDU: CMAC over E.IFD (3 blocks),
    // its decryption (3), R's encryption (3) and CMAC (3).
    assert_eq!(
        card.last_work(),
        Work {
            aes_blocks: 12,
            ..Work::default()
        }
    );

    host.expect(&mut card, "00478001 00", "9000");
    let generate = card.last_work();
    assert_eq!(generate.key_generations, 1);
    assert_eq!(generate.signatures, 0);
    assert!(generate.aes_blocks > 0, "protected: {generate:?}");

    host.expect(&mut card, "00A4020C020101", "9000");
    host.expect(&mut card, "00D60000 04 01020304", "9000");
    assert_eq!(card.last_work().nvm_bytes, 4);

    let mut card = personalized();
    script(&mut card, &[(SELECT_AID, "9000")]);
    assert_eq!(card.last_work(), Work::default(), "a plain SELECT: nothing");
    script(&mut card, &[(&format!("00200081 10 {WRONG_PIN}"), "63C2")]);
    assert_eq!(
        card.last_work(),
        Work {
            pin_checks: 1,
            ..Work::default()
        }
    );
    script(&mut card, &[(&format!("00200081 10 {PIN}"), "9000")]);
    assert_eq!(card.last_work().pin_checks, 1);
    let digest = "3B78FC0C837DFD466858E75D0598CC78C5A263298498E931820BA8A153C7B924";
    script(&mut card, &[(&format!("002A9E9A 20 {digest} 00"), "*9000")]);
    assert_eq!(
        card.last_work(),
        Work {
            signatures: 1,
            ..Work::default()
        }
    );
    script(&mut card, &[("00CADF0100", "*9000")]);
    assert_eq!(card.last_work(), Work::default(), "nothing carried over");
}
