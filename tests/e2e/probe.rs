use crate::common::*;
#[test]
fn probe() {
    let issuer = test_issuer();
    let card = VirtualCard::for_issuer(issuer);
    let r = card.reader_name();
    let mailer = card.dir().join("mailer");
    let iss = issuer.to_str().unwrap();
    let m = mailer.to_str().unwrap();
    let out = melli(&["personalize", "fixtures/records/valid-1.json", "--issuer", iss, "--reader", r, "--pin-mailer", m, "--json"]);
    note(&format!("PERSO {out:#?}"));
    note(&std::fs::read_to_string(&mailer).unwrap());
    note(&std::fs::read_to_string(card.state_path()).unwrap());
    note(&format!("{:#?}", melli(&["read", "--reader", r, "--json"])));
    note(&format!("{:#?}", melli(&["verify", "--reader", r, "--trust", &format!("{iss}/root.pem"), "--json"])));
    note(&format!("{:#?}", melli(&["pin", "status", "--reader", r, "--json"])));
    note(&format!("{:#?}", melli(&["personalize", "fixtures/records/valid-1.json", "--issuer", iss, "--reader", r, "--pin-mailer", m])));
    note(&format!("{:#?}", melli(&["apdu", "--reader", r, "--json", SELECT_MELLI, "00D6810003414243", "0047800100", "0082000000"])));
    note(&format!("{:?}", std::fs::read_dir(issuer).unwrap().map(|e| e.unwrap().path()).collect::<Vec<_>>()));
}
