//! Writes the seed corpora (`fuzz/seeds/<target>/`) and the reference data (`fuzz/data/`)
//! from real traffic: a blank in-process card is personalized with `melli::ops::personalize`,
//! then read and verified (`melli::ops::read`, `melli::ops::verify`) and made to sign a
//! document (`melli::ops::sign`), every APDU recorded. The recordings become `card_apdus`
//! inputs (the secure-messaging part decrypted back to plain commands, see
//! `melli_fuzz::traffic`), each replayed through the harness before it is written; the data
//! groups, certificates, security object, signature and responses seed the parser targets.
//!
//! Run from `fuzz/`: `cargo run --release --example make_seeds`. It replaces `seeds/` and `data/`.

use std::collections::BTreeSet;
use std::fs;
use std::path::Path;
use std::time::SystemTime;

use melli::applet::Applet;
use melli_card::Card;
use melli::model::{Secret, SecretKind};
use melli::ops::{read, sign, verify};
use melli_testkit::InProcessCard;
use melli_fuzz::card_input::{self, Op, START_BLANK, START_OPERATIONAL, START_PERSONALIZING};
use melli_fuzz::harness::{self, World};
use melli_fuzz::traffic::{to_ops, Exchange, Recorder};
use melli_fuzz::{document_digest, fuzz_dir, repo_dir, seed_data, PIN, SEED_PUK, SERIAL};

fn write(target: &str, name: &str, bytes: &[u8]) {
    let dir = fuzz_dir().join("seeds").join(target);
    fs::create_dir_all(&dir).expect("seeds directory");
    fs::write(dir.join(name), bytes).expect("write seed");
}

fn files_in(dir: &Path, ext: &str) -> Vec<(String, Vec<u8>)> {
    let mut out: Vec<_> = fs::read_dir(dir)
        .expect("fixture directory")
        .map(|e| e.expect("entry").path())
        .filter(|p| p.extension().is_some_and(|e| e == ext))
        .map(|p| {
            let name = p.file_name().expect("name").to_string_lossy().into_owned();
            (name, fs::read(&p).expect("fixture"))
        })
        .collect();
    out.sort();
    out
}

/// Writes a `card_apdus` seed after replaying it through the harness.
fn card_seed(name: &str, start: u8, ops: &[Op], expect_lifecycle: u8, expect_keyed: bool) {
    let bytes = card_input::encode(start, ops);
    assert_eq!(card_input::decode(&bytes), (start, ops.to_vec()), "{name}");
    let outcome = harness::run(World::get(), &bytes);
    assert_eq!(outcome.lifecycle, expect_lifecycle, "{name}: {outcome:?}");
    assert_eq!(outcome.keyed, expect_keyed, "{name}: {outcome:?}");
    println!(
        "card_apdus/{name}: {} operations, {} APDUs, {} bytes, ends in lifecycle {:02X}",
        ops.len(),
        outcome.apdus,
        bytes.len(),
        outcome.lifecycle
    );
    write("card_apdus", name, &bytes);
}

fn main() {
    let seeds = fuzz_dir().join("seeds");
    if seeds.exists() {
        fs::remove_dir_all(&seeds).expect("remove old seeds");
    }
    let (issuer, _issuer_dir) = harness::issuer();
    let melli::pki::MasterKey::Software(master) = issuer.master_key() else {
        unreachable!("a plain test issuer keeps its master key in a file")
    };
    let master: [u8; 16] = **master;
    let record = harness::record();
    let pin = Secret::parse(SecretKind::Pin, PIN).expect("PIN");
    let puk = Secret::parse(SecretKind::Puk, SEED_PUK).expect("PUK");

    // Personalization.
    let card = Card::manufacture(SERIAL, &master).expect("manufacture");
    let recorder = harness::personalize(
        Recorder::new(InProcessCard::new(card)),
        &issuer,
        &record,
        &pin,
        &puk,
    );
    let personalization = recorder.log;

    // Read and verify at the desk, with a live fingerprint.
    let mut applet = Applet::select(Recorder::new(recorder.inner)).expect("select");
    let contents = read::read_card(&mut applet).expect("read");
    let live = fs::read(repo_dir().join("fixtures/fingerprints/finger-1-live.fmr")).expect("fmr");
    let verdict = verify::verify_card(
        &mut applet,
        &contents,
        issuer.root_certificate(),
        Some(&live),
        SystemTime::now(),
    )
    .expect("verify");
    assert!(verdict.passed(), "{verdict:?}");
    let recorder = applet.into_transport();
    let read_verify = recorder.log;

    // Sign a document.
    let mut applet = Applet::select(Recorder::new(recorder.inner)).expect("select");
    let p7s =
        sign::sign_digest(&mut applet, &pin, &document_digest(), SystemTime::now()).expect("sign");
    let recorder = applet.into_transport();
    let signing = recorder.log;
    let mut card = recorder.inner.into_card();
    card.reset();

    // Reference data for the security-object, certificate and signature targets.
    let data_dir = seed_data::dir();
    fs::create_dir_all(&data_dir).expect("data directory");
    let root_der = der::Encode::to_der(issuer.root_certificate()).expect("root DER");
    fs::write(data_dir.join("root.der"), &root_der).expect("root.der");
    fs::write(data_dir.join("serial.txt"), SERIAL).expect("serial.txt");
    for (number, content) in contents.data_groups() {
        fs::write(data_dir.join(format!("dg{number}.bin")), content).expect("data group");
    }

    // card_apdus: the recordings as inputs.
    let personalization_ops = to_ops(&personalization, &master, SERIAL);
    let operational = melli::spec::lifecycle::OPERATIONAL;
    card_seed(
        "personalize",
        START_BLANK,
        &personalization_ops,
        operational,
        true,
    );
    card_seed(
        "personalize-resume",
        START_PERSONALIZING,
        &personalization_ops,
        operational,
        true,
    );
    let plain = |log: &[Exchange]| to_ops(log, &master, SERIAL);
    card_seed(
        "read-verify",
        START_OPERATIONAL,
        &plain(&read_verify),
        operational,
        false,
    );
    card_seed(
        "sign",
        START_OPERATIONAL,
        &plain(&signing),
        operational,
        false,
    );
    let mut everything = plain(&read_verify);
    everything.push(Op::Reset);
    everything.extend(plain(&signing));
    card_seed(
        "read-verify-sign",
        START_OPERATIONAL,
        &everything,
        operational,
        false,
    );
    // The desk's commands on a blank and on a half-personalized card, without keys.
    card_seed(
        "read-blank",
        START_BLANK,
        &plain(&read_verify),
        melli::spec::lifecycle::BLANK,
        false,
    );
    card_seed(
        "read-personalizing",
        START_PERSONALIZING,
        &plain(&read_verify),
        melli::spec::lifecycle::PERSONALIZING,
        false,
    );
    // The personalization's commands replayed without the channel: every one sent raw.
    let unkeyed: Vec<Op> = personalization_ops
        .iter()
        .filter(|op| !matches!(op, Op::OpenChannel))
        .cloned()
        .collect();
    card_seed(
        "personalize-without-keys",
        START_BLANK,
        &unkeyed,
        melli::spec::lifecycle::BLANK,
        false,
    );

    // apdu_response: every command and response seen (mode 0), the responses as a script
    // for the channel (mode 1), and the protected responses for unwrapping (mode 2).
    let all: Vec<&Exchange> = personalization
        .iter()
        .chain(&read_verify)
        .chain(&signing)
        .collect();
    let mut singles = BTreeSet::new();
    for exchange in &all {
        singles.insert(exchange.command.clone());
        singles.insert(exchange.response.clone());
    }
    for (i, bytes) in singles.iter().enumerate() {
        write(
            "apdu_response",
            &format!("parse-{i:03}"),
            &[&[0][..], bytes].concat(),
        );
    }
    for (i, window) in all.windows(3).enumerate().step_by(3) {
        let mut script = vec![1, melli::spec::ATR.len() as u8];
        script.extend_from_slice(&melli::spec::ATR);
        script.push(i as u8);
        for exchange in window {
            let len = u16::try_from(exchange.response.len()).expect("response length");
            script.extend_from_slice(&len.to_be_bytes());
            script.extend_from_slice(&exchange.response);
        }
        write("apdu_response", &format!("channel-{i:03}"), &script);
    }
    for (i, exchange) in personalization
        .iter()
        .filter(|e| e.command[0] & 0x0C == 0x0C && e.command[0] & 0x10 == 0)
        .enumerate()
    {
        write(
            "apdu_response",
            &format!("unwrap-{i:03}"),
            &[&[2][..], &exchange.response].concat(),
        );
    }

    // Parser targets: the card's own data groups, certificates, security object, signature.
    write("identity_dg", "dg1", &contents.identity);
    write("identity_dg", "dg4", &contents.address);
    write("photo_dg", "dg2.jpg", &contents.photo);
    // The source photos are far larger than a card's DG2 and would only raise -max_len.
    for (name, bytes) in files_in(&repo_dir().join("fixtures/photos"), "jpg") {
        if bytes.len() <= 15_000 {
            write("photo_dg", &name, &bytes);
        }
    }
    // The record target's photo: the card's own 240x320 JPEG (see enrolment_record.rs).
    fs::write(data_dir.join("photo.jpg"), &contents.photo).expect("photo.jpg");
    write("finger_template", "dg3.fmr", &record.fingerprint_dg());
    for (name, bytes) in files_in(&repo_dir().join("fixtures/fingerprints"), "fmr") {
        write("finger_template", &name, &bytes);
    }
    write("certificate_path", "dg6", &contents.certificates);
    let certificates = [
        ("root.der", issuer.root_certificate()),
        ("document-signer.der", issuer.document_signer_certificate()),
        ("signing-ca.der", issuer.signing_ca_certificate()),
    ];
    for (name, certificate) in certificates {
        let der = der::Encode::to_der(certificate).expect("certificate DER");
        write("certificate_path", name, &der);
    }
    let (holder, _) = read::split_certificate_path(&contents.certificates).expect("DG6");
    write(
        "certificate_path",
        "holder.der",
        &der::Encode::to_der(&holder).expect("holder DER"),
    );
    write(
        "security_object",
        "security-object",
        &contents.security_object,
    );
    write("cms_signed_data", "document.p7s", &p7s);
    write(
        "cms_signed_data",
        "security-object",
        &contents.security_object,
    );
    for (name, bytes) in files_in(&repo_dir().join("fixtures/records"), "json") {
        write("enrolment_record", &name, &bytes);
    }

    // The card read back what was written: the seeds hold the real data groups.
    assert_eq!(
        card.process(&[0x00, 0xA4, 0x04, 0x0C, 0x07, 0xF0, 0x4D, 0x45, 0x4C, 0x4C, 0x49, 0x01]),
        [0x90, 0x00]
    );
    assert_eq!(contents.identity.as_slice(), &record.identity_dg()[..]);
    for target in fs::read_dir(&seeds).expect("seeds") {
        let target = target.expect("entry").path();
        let count = fs::read_dir(&target).expect("target seeds").count();
        println!("{}: {count} seeds", target.display());
    }
}
