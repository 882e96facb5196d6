//! Documents signed with a card and their signatures checked, as the end-to-end tests of
//! signing, revocation, OCSP and timestamps run `melli sign` and `melli verify-signature`.

use super::{melli_stdin, path_str, Output, VirtualCard};

/// `melli sign CARD_DIR/NAME --pin-stdin --reader R --out CARD_DIR/NAME.p7s [extra…]` for a new
/// document `name`: the output, the document and its signature.
pub fn sign_document(
    card: &VirtualCard,
    pin: &str,
    name: &str,
    extra: &[&str],
) -> (Output, String, String) {
    let file = card.dir().join(name);
    std::fs::write(&file, format!("{name}: a contract\n")).expect("write document");
    let sig = card.dir().join(format!("{name}.p7s"));
    let mut args = vec![
        "sign",
        path_str(&file),
        "--pin-stdin",
        "--reader",
        card.reader_name(),
        "--out",
        path_str(&sig),
    ];
    args.extend_from_slice(extra);
    let out = melli_stdin(&args, &format!("{pin}\n"));
    (out, path_str(&file).to_string(), path_str(&sig).to_string())
}

/// [`sign_document`] of `contract.txt`, which must succeed: the document and its signature.
pub fn sign_contract(card: &VirtualCard, pin: &str) -> (String, String) {
    let (out, file, sig) = sign_document(card, pin, "contract.txt", &[]);
    assert_eq!(out.code, 0, "melli sign: {out:?}");
    (file, sig)
}

/// The arguments of `melli verify-signature FILE SIG --trust ROOT --json [extra…]`.
pub fn verify_signature_args<'a>(
    root: &'a str,
    file: &'a str,
    sig: &'a str,
    extra: &[&'a str],
) -> Vec<&'a str> {
    let mut args = vec!["verify-signature", file, sig, "--trust", root, "--json"];
    args.extend_from_slice(extra);
    args
}

/// The checks of a `--json` verdict that failed, each as `"name": "detail"`.
pub fn failed_checks(out: &Output) -> Vec<String> {
    out.json()["checks"]
        .as_array()
        .expect("checks")
        .iter()
        .filter(|c| c["passed"] == false)
        .map(|c| format!("{}: {}", c["name"], c["detail"]))
        .collect()
}

/// The check named `name` of a `--json` verdict.
pub fn named_check(out: &Output, name: &str) -> serde_json::Value {
    out.json()["checks"]
        .as_array()
        .and_then(|checks| checks.iter().find(|c| c["name"] == name).cloned())
        .unwrap_or_else(|| panic!("no {name} check: {out:?}"))
}
