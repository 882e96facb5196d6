//! melli's test kit (dev-only): the virtual card of `melli-card` behind the host library's
//! transport and batch-reader traits, in this process, with no PC/SC; and the harness of the
//! end-to-end tests that do use PC/SC — a real pcscd with vpcd readers.
//!
//! The host library never depends on the card crate; tests, benches and fuzz targets that want
//! a card without pcscd and vpcd take it from here.
//!
//! The pcscd harness, for the end-to-end tests and benches of the `melli` command (their
//! helpers that run `melli` itself are in `tests/common/`):
//! - [`process`] — this test process's work directory, clean-up of crashed runs, stopping
//!   children;
//! - [`pcscd`] — one shared pcscd per test process (private under `unshare -m`, or the system
//!   socket), sixteen vpcd readers on a block of ports, reader slots;
//! - [`readers`] — reader state through PC/SC, polled until a card comes or goes;
//! - [`run`] — running a program with a timeout, its [`run::Output`];
//! - [`lock_file`] — lock files between test processes;
//! - [`http_server`] — a small HTTP server for the peers the tests put behind HTTP;
//! - [`tsa`] — an OpenSSL time-stamping authority (RFC 3161) made at test time;
//! - [`postgres`] — a private PostgreSQL cluster per test, on a Unix socket, for the shared
//!   journal.
#![forbid(unsafe_code)]
#![warn(clippy::unwrap_used)]

mod batch;
mod blank;
pub mod http_server;
mod in_process;
pub mod lock_file;
pub mod pcscd;
pub mod postgres;
pub mod process;
pub mod readers;
pub mod run;
pub mod tsa;

pub use batch::{CardPile, InProcessReader, Slot, SlotTransport};
pub use blank::blank_card;
pub use in_process::InProcessCard;

/// The virtual card crate, for tests that build or inspect cards.
pub use melli_card as card;
