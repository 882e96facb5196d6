//! What a time-stamping authority sends back (`melli::pki::timestamp`): mutated
//! TimeStampResp replies to a fixed request, and the same bytes as a bare token in a
//! signature. Whatever the bytes: an error or a checked token, never a panic; a reply accepted
//! carries a token that is good on its own for the value asked about, with the nonce sent.
#![no_main]

use std::sync::OnceLock;
use std::time::SystemTime;

use libfuzzer_sys::fuzz_target;
use melli::pki::timestamp::{accept_reply, verify_token, TimestampRequest};

/// The signature value the request and the seeds are over.
const VALUE: &[u8] = b"melli fuzz signature value";

fn request() -> &'static TimestampRequest {
    static REQUEST: OnceLock<TimestampRequest> = OnceLock::new();
    REQUEST.get_or_init(|| TimestampRequest::over_signature(VALUE).expect("a request"))
}

fuzz_target!(|data: &[u8]| {
    let now = SystemTime::now();
    let request = request();
    if let Ok((token, info)) = accept_reply(data, request, VALUE, now) {
        let again = verify_token(&token, VALUE, Some(&request.nonce), now).expect("good alone");
        assert_eq!(again.gen_time, info.gen_time);
    }
    let _ = verify_token(data, VALUE, None, now);
});
