//! Tests across the PKI: interop with openssl (`/usr/bin/openssl`), and the verifier's answer to
//! every kind of tampering.
//!
//! The openssl commands proven here:
//!
//! ```text
//! openssl verify -CAfile root.pem document-signer.pem signing-ca.pem
//! openssl verify -CAfile root.pem -untrusted signing-ca.pem holder.pem
//! openssl verify -purpose smimesign -CAfile root.pem -untrusted signing-ca.pem holder.pem
//! openssl cms -verify -inform DER -in so.der -CAfile root.pem -out content.der
//! openssl cms -verify -binary -inform DER -content FILE -in FILE.p7s -CAfile root.pem
//! openssl cms -sign -binary -in FILE -signer holder.pem -inkey holder.key
//!         -certfile signing-ca.pem -md sha256 -outform DER -out FILE.p7s
//! ```

#![allow(clippy::unwrap_used)]

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, SystemTime};

use der::asn1::OctetString;
use der::{Decode, Encode};
use p256::ecdsa::SigningKey;
use p256::pkcs8::EncodePrivateKey;
use rand_core::OsRng;
use sha2::{Digest, Sha256};
use spki::EncodePublicKey;
use x509_cert::Certificate;

use super::asn1::{self, RawOid};
use super::cert;
use super::chain::{verify_path, ChainError, LeafPurpose};
use super::holder::{GregorianDate, HolderRequest, HolderSubject};
use super::issuer::{files, Issuer};
use super::security_object::{check, verify_security_object, SecurityObject, VerifyInput};
use super::signed_data::{self, CmsError, SignedDataView};

mod chains;
mod login;
mod online;
mod openssl;
mod profiles;
mod revocation;
mod signatures;
mod timestamps;
mod verifier;

const OPENSSL: &str = "/usr/bin/openssl";
const SERIAL: &str = "MELLI0001";

fn openssl(dir: &Path, args: &[&str]) -> (bool, String) {
    let out = Command::new(OPENSSL)
        .args(args)
        .current_dir(dir)
        .output()
        .expect("run openssl");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.success(), text)
}

fn subject() -> HolderSubject {
    HolderSubject {
        given_name: "Ali".into(),
        surname: "Rezaei".into(),
        national_code: "0012345679".into(),
        full_name_fa: "علی رضایی".into(),
    }
}

/// An issuer, a holder key with its certificate, and the readable data groups of a card.
struct Card {
    tmp: tempfile::TempDir,
    issuer: Issuer,
    holder_key: SigningKey,
    holder_cert: Vec<u8>,
    groups: Vec<(u8, Vec<u8>)>,
}

impl Card {
    fn new() -> Card {
        let tmp = tempfile::tempdir().unwrap();
        let issuer = Issuer::init_plain(&tmp.path().join("issuer")).unwrap();
        let holder_key = SigningKey::random(&mut OsRng);
        let point = holder_key.verifying_key().to_encoded_point(false);
        let holder_cert = issuer
            .issue_holder_certificate(&HolderRequest {
                card_serial: None,
                public_key: point.as_bytes(),
                subject: &subject(),
                card_expiry: GregorianDate {
                    year: 2032,
                    month: 3,
                    day: 20,
                },
            })
            .unwrap();
        let chip_key = SigningKey::random(&mut OsRng);
        let groups = vec![
            (1, b"\xE1\x0A\xDF\x01\x0A0012345679".to_vec()),
            (2, [b"\xFF\xD8\xFF\xE0".as_slice(), &[0x42; 3000]].concat()),
            (4, b"\xE4\x0C\xDF\x10\x0A1193653471".to_vec()),
            (
                5,
                chip_key
                    .verifying_key()
                    .to_public_key_der()
                    .unwrap()
                    .to_vec(),
            ),
            (6, holder_cert.clone()),
        ];
        Card {
            tmp,
            issuer,
            holder_key,
            holder_cert,
            groups,
        }
    }

    fn dir(&self) -> PathBuf {
        self.tmp.path().join("issuer")
    }

    fn group_refs(&self) -> Vec<(u8, &[u8])> {
        self.groups
            .iter()
            .map(|(n, b)| (*n, b.as_slice()))
            .collect()
    }

    fn security_object(&self) -> Vec<u8> {
        self.issuer
            .sign_security_object(SERIAL, &self.group_refs())
            .unwrap()
    }

    fn write(&self, name: &str, bytes: &[u8]) -> PathBuf {
        let p = self.dir().join(name);
        fs::write(&p, bytes).unwrap();
        p
    }

    fn write_holder_files(&self) {
        let holder = Certificate::from_der(&self.holder_cert).unwrap();
        self.write("holder.pem", cert::to_pem(&holder).unwrap().as_bytes());
        let key = self
            .holder_key
            .to_pkcs8_pem(der::pem::LineEnding::LF)
            .unwrap();
        self.write("holder.key", key.as_bytes());
    }

    fn verify(&self, so: &[u8], groups: &[(u8, &[u8])]) -> super::Verdict {
        verify_security_object(
            so,
            &VerifyInput {
                trusted_root: self.issuer.root_certificate(),
                card_serial: SERIAL,
                data_groups: groups,
                at: SystemTime::now(),
            },
        )
    }
}

fn flip(bytes: &[u8], at: usize) -> Vec<u8> {
    let mut v = bytes.to_vec();
    v[at] ^= 0x01;
    v
}

fn find(haystack: &[u8], needle: &[u8]) -> usize {
    haystack
        .windows(needle.len())
        .position(|w| w == needle)
        .expect("needle in haystack")
}
