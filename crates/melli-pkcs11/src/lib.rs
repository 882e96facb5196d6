//! The PKCS#11 v2.40 module of the melli national ID card.
//!
//! Applications (Firefox and Thunderbird through NSS, OpenSSL through its pkcs11 engine,
//! GnuTLS, OpenSC's `pkcs11-tool`, LibreOffice, ssh) load `libmelli_pkcs11.so` and reach the
//! card through PC/SC: one slot per reader, a token when an operational melli card is in it,
//! the holder and signing-CA certificates, the holder's public key and a private key object
//! that signs (CKM_ECDSA, CKM_ECDSA_SHA256) after C_Login verified the PIN on the card.
//!
//! Layers: `ffi` (the C entry points, the only `unsafe`), `module` (state, sessions, login,
//! signing, in safe Rust), `objects` (attributes), `card` (the PC/SC connection: one
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
