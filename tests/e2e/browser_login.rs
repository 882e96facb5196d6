//! TLS client login in a real browser (issue 17): headless Chromium with melli's PKCS#11 module
//! in its NSS database logs in to nginx (`ssl_verify_client on`, the issuer's CAs) with the
//! card's Authentication key, and the page shows the holder's national code. The PIN is asked
//! by the module's own dialog (`MELLI_PINENTRY`): a headless browser shows none.

use crate::common::chromium::Browser;
use crate::common::nginx::{Nginx, ServerCa};
use crate::common::pinentry::TestPinentry;
use crate::common::{melli, personalized_card, test_issuer, VirtualCard};

/// The national code and the Authentication certificate's subject as `melli read` gives them.
fn holder(card: &VirtualCard) -> String {
    let out = melli(&["read", "--reader", card.reader_name(), "--json"]);
    assert_eq!(out.code, 0, "{out:?}");
    out.json()["identity"]["national_code"]
        .as_str()
        .expect("a national code")
        .to_string()
}

/// nginx trusting the test issuer, and a browser with the module that picks a certificate
/// for that server on its own.
fn service_and_browser(card: &VirtualCard, pinentry: &TestPinentry) -> (Nginx, Browser) {
    let dir = card.dir();
    let server = ServerCa::create(&dir.join("server-ca"));
    let nginx = Nginx::for_issuer(dir, "clients", &server, test_issuer(), &[]);
    let mut browser = Browser::new(dir, card.reader_name(), &pinentry.program());
    assert!(
        browser
            .modules()
            .contains(crate::common::pkcs11::module_str()),
        "the module is not in the browser's NSS database: {}",
        browser.modules()
    );
    browser.trust_server_ca(&server.ca_pem);
    browser.auto_select_certificate();
    (nginx, browser)
}

#[test]
fn headless_chromium_logs_in_with_the_card_and_sees_the_national_code() {
    let (card, mailer) = personalized_card();
    let national_code = holder(&card);
    let pinentry = TestPinentry::new(&card.dir().join("pinentry"), &mailer.pin);
    let (nginx, browser) = service_and_browser(&card, &pinentry);

    let page = browser.page(&nginx.url());
    assert_eq!(page.code, 0, "{page:?}\nnginx: {}", nginx.log());
    assert!(
        page.stdout
            .contains(&format!("serialNumber={national_code}"))
            && page.stdout.contains("verify: SUCCESS"),
        "the page does not show a verified login of {national_code}: {page:?}\nnginx: {}",
        nginx.log()
    );
    // The login key: asked for once, for a login, never for a signature with legal weight.
    let asked = pinentry.descriptions();
    assert_eq!(asked.len(), 1, "PIN dialogs: {asked:?}");
    assert!(asked[0].contains("log in"), "{asked:?}");
    assert!(!page.stdout.contains(&mailer.pin) && !page.stderr.contains(&mailer.pin));
}

#[test]
fn a_cancelled_pin_dialog_logs_nobody_in_and_costs_no_try() {
    let (card, _mailer) = personalized_card();
    let pinentry = TestPinentry::new(&card.dir().join("pinentry"), "cancel");
    let (nginx, browser) = service_and_browser(&card, &pinentry);

    let page = browser.page(&nginx.url());
    assert!(
        !page.stdout.contains("serialNumber="),
        "a login without the PIN: {page:?}"
    );
    assert_eq!(
        pinentry.descriptions().len(),
        1,
        "the dialog was not shown once"
    );
    let status = melli(&["pin", "status", "--reader", card.reader_name(), "--json"]);
    assert_eq!(status.code, 0, "{status:?}");
    assert_eq!(status.json()["pin"], 3, "{status:?}");
}
