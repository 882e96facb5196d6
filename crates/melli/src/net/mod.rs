//! Talking to the PKI's servers: OCSP responders (RFC 6960), CRL distribution points
//! (RFC 5280 §4.2.1.13) and time-stamping authorities (RFC 3161), over HTTP with `ureq`.
//!
//! Every URL here comes from outside (a certificate, a command line), and so does every
//! answer: a URL is checked before it is used (`http` or `https`, a host, no user
//! information, at most [`MAX_URL`] bytes), every request has a deadline, and an answer is
//! read up to a cap and refused beyond it. Errors name the URL escaped for a terminal.

mod http;

pub use http::{check_url, get, post, HttpError, Limits, MAX_URL};
