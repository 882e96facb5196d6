//! The TimeStampReq (RFC 3161 §2.4.1) over a signature value.

use der::asn1::{Int, Null, OctetString};
use der::{Any, Encode};
use rand_core::{OsRng, RngCore};
use sha2::{Digest, Sha256};
use spki::AlgorithmIdentifier;
use x509_tsp::{MessageImprint, TimeStampReq, TspVersion};

use crate::pki::asn1;

/// A request, as sent, and what its answer must echo.
#[derive(Debug, Clone)]
pub struct TimestampRequest {
    /// The DER sent to the TSA.
    pub der: Vec<u8>,
    /// The SHA-256 of the signature value (the messageImprint's hashedMessage).
    pub imprint: [u8; 32],
    /// The random nonce the TSTInfo must carry back.
    pub nonce: Int,
}

impl TimestampRequest {
    /// A request for a token over `signature_value` (the octets of a SignerInfo's
    /// signature): a SHA-256 imprint, a random 64-bit nonce, and certReq TRUE so the token
    /// carries the TSA's certificate. No policy: the TSA's default.
    pub fn over_signature(signature_value: &[u8]) -> Result<TimestampRequest, der::Error> {
        let imprint: [u8; 32] = Sha256::digest(signature_value).into();
        let mut nonce = [0u8; 8];
        OsRng.fill_bytes(&mut nonce);
        // Positive and minimally encoded: the top bit clear, the first byte not zero.
        nonce[0] = (nonce[0] & 0x7F) | 0x40;
        let nonce = Int::new(&nonce)?;
        let request = TimeStampReq {
            version: TspVersion::V1,
            message_imprint: MessageImprint {
                // With NULL parameters, as `openssl ts -query` writes it.
                hash_algorithm: AlgorithmIdentifier {
                    oid: asn1::ID_SHA256,
                    parameters: Some(Any::from(Null)),
                },
                hashed_message: OctetString::new(imprint.as_slice())?,
            },
            req_policy: None,
            nonce: Some(nonce.clone()),
            cert_req: true,
            extensions: None,
        };
        Ok(TimestampRequest {
            der: request.to_der()?,
            imprint,
            nonce,
        })
    }
}
