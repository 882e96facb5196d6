//! The issuer PKI, certificates, the security object and CMS (DESIGN.md §6).
//!
//! ```text
//!   root CA (self-signed, 20 years) ─┬─► document signer (10 years) ──► security objects (CMS)
//!                                    └─► signing CA (10 years, pathLen 0) ──► holder certificates
//! ```
//!
//! All keys are P-256 and every signature is ecdsa-with-SHA256 (RFC 5758 §3.2).
//!
//! - [`issuer`]: make (`melli issuer init`) and load an issuer directory; its layout is
//!   [`issuer::LAYOUT`].
//! - [`holder`]: issue a holder's signing certificate from the signing CA, and read its subject
//!   back.
//! - [`security_object`]: build, parse and verify the security object (applets-spec §9).
//! - [`signed_data`]: CMS SignedData (RFC 5652) parsing, signer-info signing and verification,
//!   shared by the security object and document signatures.
//! - [`chain`]: a small RFC 5280 §6 certification-path checker.
//! - [`timestamp`]: RFC 3161 timestamps of document signatures (CAdES-T).
//! - [`verdict`]: named pass/fail checks that `melli verify` prints.
//!
//! Why not `cms::builder::SignedDataBuilder`: the security object's eContentType,
//! `2.25.224329670668073827233975672526393257656.1`, has an arc larger than 32 bits, which
//! `const-oid` 0.9 (under `cms` 0.2) cannot represent. [`signed_data`] therefore mirrors
//! `SignedData` with a raw OID for eContentType ([`asn1::RawOid`]) and reuses the `cms` types
//! for everything else; signing and verifying still go through `p256`'s ECDSA.

pub mod asn1;
pub mod cert;
pub mod chain;
mod error;
pub mod holder;
pub mod issuer;
pub mod key_files;
pub mod keys;
pub mod name;
pub mod revocation;
pub mod security_object;
pub mod signed_data;
pub mod status_key;
pub mod timestamp;
pub mod token;
pub mod verdict;

#[cfg(test)]
mod tests;

pub use chain::{verify_path, ChainError, LeafPurpose, VerifiedPath};
pub use error::PkiError;
pub use holder::{GregorianDate, HolderRequest, HolderSubject};
pub use issuer::{read_master_key, read_trust_anchor, InitOptions, Issuer, RootCa, LAYOUT};
pub use keys::{no_secret, IssuerKey, KeyStore, MasterKey, SecretPurpose, SecretRequest, Unlock};
pub use security_object::{verify_security_object, SecurityObject, SoError, VerifyInput};
pub use signed_data::{CmsError, SignedDataView};
pub use verdict::{Check, Remedy, Verdict};

/// Re-exported so callers can hold certificates without naming `x509-cert` themselves.
pub use x509_cert::Certificate;
