//! End-to-end tests through the real stack: `melli` → libpcsclite → pcscd → vpcd → TCP →
//! the virtual card (`melli card serve`) or vsmartcard's `vicc`, plus peer tools.
//!
//! One test binary, so every test shares one pcscd (see `tests/common`). Each test takes its
//! own reader(s) and may run in parallel with the others.

#[path = "../common/mod.rs"]
mod common;

mod bad_input;
mod batch;
mod batch_pg;
mod batch_pg_offline;
mod bench_stations;
mod browser_login;
mod cli;
mod demo;
mod desk;
mod desk_page;
mod desk_server;
mod files;
mod interop;
mod issuer;
mod journal_pg;
mod lifecycle;
mod login;
mod ocsp;
mod pdf;
mod pdf_ltv;
mod pdf_visible;
mod personalize;
mod pkcs11;
mod pkcs11_login;
mod revocation;
mod secure_channel;
mod signatures;
mod signing;
mod timestamps;
mod tls_login;
mod transport;
mod two_cards;
mod web_eid_host;
