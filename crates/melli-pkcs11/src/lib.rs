//! The PKCS#11 v2.40 module of the melli national ID card.
//!
//! Applications (Firefox and Thunderbird through NSS, OpenSSL through its pkcs11 engine,
//! GnuTLS, OpenSC's `pkcs11-tool`, LibreOffice, ssh) load `libmelli_pkcs11.so` and reach the
//! card through PC/SC: one slot per reader, a token when an operational melli card is in it,
//! and on it two keys with their certificates and public keys — "Authentication" (key `03`,
//! DG7, version 1.1 cards: logins) and "Digital Signature" (key `01`, DG6, documents,
//! CKA_ALWAYS_AUTHENTICATE) — and the signing-CA certificate. The keys sign (CKM_ECDSA,
//! CKM_ECDSA_SHA256) after C_Login verified the PIN on the card; the signing key again after a
//! context-specific login for every signature. With `MELLI_PINENTRY` set the module asks the
//! PIN itself through that pinentry program, as a PIN-pad reader would (`pin_dialog`).
//!
//! Layers: `ffi` (the C entry points, and with `pin_dialog`'s signal mask the only `unsafe`), `module` (state, sessions, login,
//! signing, in safe Rust), `keys` (the two keys and a signature in progress), `objects`
//! (attributes), `card` (the PC/SC connection: one
//! transaction per card operation, over the host library's applet client). See README.md.
#![deny(unsafe_op_in_unsafe_fn)]
#![warn(clippy::unwrap_used)]
// CK_ULONG is u64 on 64-bit Linux but not on every target PKCS#11 runs on: the casts stay.
#![allow(clippy::unnecessary_cast)]

mod card;
pub mod ffi;
mod keys;
mod module;
mod objects;
mod pin_dialog;
