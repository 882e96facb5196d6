//! The constants of the melli applet specification (`applets-spec/`), version 1.1.
//!
//! This is the only module that the host side and the card side share. It holds numbers
//! only — identifiers, instruction bytes, tags, limits — never an encoder or a decoder, so a
//! bug in one side's encoding cannot hide behind the same bug in the other. (Hidden from the
//! documentation, `test_support` holds the one generator both sides' tests make synthetic data
//! with: it is no part of the specification.)
//! Every item names the section of the specification that defines it.

#[doc(hidden)]
pub mod test_support;

/// Specification version implemented here, as (major, minor). §1.
pub const SPEC_VERSION: (u8, u8) = (1, 1);

/// Application identifier: proprietary (first nibble F, ISO/IEC 7816-5), "MELLI", version 01. §2.
pub const AID: [u8; 7] = [0xF0, 0x4D, 0x45, 0x4C, 0x4C, 0x49, 0x01];

/// Answer to reset of a melli card. §3.
///
/// `3B 8B 80 01`, then eleven historical bytes: category indicator `80`, card capabilities
/// `73 90 01 C0` (selection by DF name and by file identifier; command chaining and extended
/// Lc/Le), card issuer's data `55 4D 45 4C 4C 49` ("MELLI"); then TCK (T=1 is indicated).
pub const ATR: [u8; 16] = [
    0x3B, 0x8B, 0x80, 0x01, 0x80, 0x73, 0x90, 0x01, 0xC0, 0x55, 0x4D, 0x45, 0x4C, 0x4C, 0x49, 0xBC,
];

/// Most command data bytes the card accepts in one APDU; longer data is sent as a chain. §4.3.
pub const MAX_COMMAND_DATA: usize = 1024;
/// Most command data bytes of a whole chain. §4.3.
pub const MAX_CHAIN_DATA: usize = 65_535;
/// Most response data bytes the card returns in one APDU (extended Le). §4.4.
pub const MAX_RESPONSE_DATA: usize = 65_533;

/// Class bytes. §4.1.
pub mod cla {
    /// Interindustry class, no secure messaging, last or only command of a chain.
    pub const PLAIN: u8 = 0x00;
    /// Bit set in CLA on every command of a chain but the last.
    pub const CHAINING: u8 = 0x10;
    /// Bits set in CLA for secure messaging with an authenticated header (ISO 7816-4 §5.4.1).
    pub const SECURE_MESSAGING: u8 = 0x0C;
}

/// Instruction bytes. §6.
pub mod ins {
    pub const ERASE_BINARY: u8 = 0x0E;
    pub const VERIFY: u8 = 0x20;
    pub const CHANGE_REFERENCE_DATA: u8 = 0x24;
    pub const PERFORM_SECURITY_OPERATION: u8 = 0x2A;
    pub const RESET_RETRY_COUNTER: u8 = 0x2C;
    pub const ACTIVATE_FILE: u8 = 0x44;
    pub const GENERATE_ASYMMETRIC_KEY_PAIR: u8 = 0x47;
    pub const MUTUAL_AUTHENTICATE: u8 = 0x82;
    pub const GET_CHALLENGE: u8 = 0x84;
    pub const INTERNAL_AUTHENTICATE: u8 = 0x88;
    pub const SELECT: u8 = 0xA4;
    pub const READ_BINARY: u8 = 0xB0;
    pub const READ_BINARY_ODD: u8 = 0xB1;
    pub const GET_RESPONSE: u8 = 0xC0;
    pub const GET_DATA: u8 = 0xCA;
    pub const UPDATE_BINARY: u8 = 0xD6;
    pub const UPDATE_BINARY_ODD: u8 = 0xD7;
    pub const TERMINATE_DF: u8 = 0xE6;
}

/// SELECT parameters. §6.1.
pub mod select {
    /// P1: select by DF name (the AID).
    pub const P1_BY_NAME: u8 = 0x04;
    /// P1: select the MF, a DF or an EF by file identifier.
    pub const P1_BY_FID: u8 = 0x00;
    /// P1: select an EF under the current DF by file identifier.
    pub const P1_EF_UNDER_DF: u8 = 0x02;
    /// P2: return the FCP template.
    pub const P2_FCP: u8 = 0x04;
    /// P2: return the FCI (answered as the FCP template).
    pub const P2_FCI: u8 = 0x00;
    /// P2: return no data.
    pub const P2_NO_DATA: u8 = 0x0C;
    /// The specification version from which the application's FCP carries the card serial
    /// (tag [`super::tag::FCP_SERIAL`]). §6.1.
    pub const SERIAL_IN_FCP_SINCE: (u8, u8) = (1, 1);
}

/// Elementary files of the application. Their short EF identifier (SFI) is the low byte of the
/// file identifier. §5.
pub mod ef {
    /// DG1 — identity (birth-certificate data), BER-TLV.
    pub const IDENTITY: u16 = 0x0101;
    /// DG2 — face photo, JPEG.
    pub const PHOTO: u16 = 0x0102;
    /// DG3 — fingerprint templates, ISO/IEC 19794-2:2005. Never readable.
    pub const FINGERPRINT: u16 = 0x0103;
    /// DG4 — address, BER-TLV.
    pub const ADDRESS: u16 = 0x0104;
    /// DG5 — chip-authentication public key, SubjectPublicKeyInfo DER. Written by the card.
    pub const CHIP_AUTH_KEY: u16 = 0x0105;
    /// DG6 — holder signing certificate, X.509 DER.
    pub const HOLDER_CERT: u16 = 0x0106;
    /// Security object, CMS SignedData DER.
    pub const SECURITY_OBJECT: u16 = 0x011D;
    /// DG7 — authentication certificate then the signing-CA certificate, X.509 DER. Version
    /// 1.1. §12.1.
    pub const AUTH_CERT: u16 = 0x0107;
    /// Maximum size of [`AUTH_CERT`]. §12.1.
    pub const AUTH_CERT_MAX: usize = 2048;

    /// Every elementary file, in data-group order, with its maximum size in bytes. §5, §12.1
    /// (DG7, version 1.1).
    pub const ALL: [(u16, usize); 8] = [
        (IDENTITY, 1024),
        (PHOTO, 20_480),
        (FINGERPRINT, 4096),
        (ADDRESS, 256),
        (CHIP_AUTH_KEY, 128),
        (HOLDER_CERT, 2048),
        (AUTH_CERT, AUTH_CERT_MAX),
        (SECURITY_OBJECT, 4096),
    ];

    /// Data-group number of a file as used in the security object, if it is a data group. §5, §9.
    pub const fn data_group_number(fid: u16) -> Option<u8> {
        match fid {
            IDENTITY => Some(1),
            PHOTO => Some(2),
            FINGERPRINT => Some(3),
            ADDRESS => Some(4),
            CHIP_AUTH_KEY => Some(5),
            HOLDER_CERT => Some(6),
            AUTH_CERT => Some(7),
            _ => None,
        }
    }
}

/// GET DATA tags, sent in P1-P2. §6.6.
pub mod data_object {
    /// Card serial number, ASCII, 1–16 characters `[0-9A-Z]`.
    pub const SERIAL: u16 = 0xDF01;
    /// Lifecycle state, one byte (see [`super::lifecycle`]).
    pub const LIFECYCLE: u16 = 0xDF02;
    /// Specification version, two bytes: major, minor.
    pub const SPEC_VERSION: u16 = 0xDF03;
    /// Retry counters: PIN, PUK, biometric — remaining tries, one byte each.
    pub const RETRY_COUNTERS: u16 = 0xDF04;
    /// Extended length information (ISO 7816-4 `7F66`).
    pub const EXTENDED_LENGTH_INFO: u16 = 0x7F66;
    /// Biometric information template group (ISO/IEC 7816-11 `7F61`).
    pub const BIT_GROUP: u16 = 0x7F61;
}

/// Lifecycle states, coded as the ISO/IEC 7816-4 life cycle status byte. §7.
pub mod lifecycle {
    /// Manufactured: serial and personalization keys only.
    pub const BLANK: u8 = 0x01;
    /// A personalization session has begun; data may be written under secure messaging.
    pub const PERSONALIZING: u8 = 0x03;
    /// Locked: no file or key can change; only PIN state moves.
    pub const OPERATIONAL: u8 = 0x05;
    /// Permanently unusable.
    pub const TERMINATED: u8 = 0x0C;
}

/// Key and reference-data references (P2 of VERIFY, CHANGE REFERENCE DATA, RESET RETRY
/// COUNTER; key references of GENERATE, PSO and INTERNAL AUTHENTICATE). §8.
pub mod reference {
    /// The holder's PIN.
    pub const PIN: u8 = 0x81;
    /// The holder's PUK (unblocks and resets the PIN).
    pub const PUK: u8 = 0x82;
    /// The enrolled fingerprint (match-on-card).
    pub const FINGER: u8 = 0x83;
    /// P-256 signing key.
    pub const SIGNING_KEY: u8 = 0x01;
    /// P-256 chip-authentication key.
    pub const CHIP_AUTH_KEY: u8 = 0x02;
    /// P-256 authentication (login) key. Version 1.1. §12.2.
    pub const AUTHENTICATION_KEY: u8 = 0x03;
}

/// Version 1.1: online identity. §12.
pub mod authentication {
    /// The specification version that adds the authentication key and DG7. §12.7.
    pub const SINCE: (u8, u8) = (1, 1);
    /// Digest lengths INTERNAL AUTHENTICATE with the authentication key accepts (SHA-256,
    /// SHA-384, SHA-512); the leftmost 32 bytes are signed. §12.3.
    pub const DIGEST_LENS: [usize; 3] = [32, 48, 64];
}

/// PIN, PUK and biometric rules. §8.
pub mod pin {
    pub const PIN_MIN: usize = 6;
    pub const PIN_MAX: usize = 12;
    pub const PUK_MIN: usize = 8;
    pub const PUK_MAX: usize = 16;
    /// Reference data travel as ASCII digits padded with `FF` to this length.
    pub const BLOCK_LEN: usize = 16;
    pub const PAD: u8 = 0xFF;
    pub const PIN_TRIES: u8 = 3;
    pub const PUK_TRIES: u8 = 10;
    pub const FINGER_TRIES: u8 = 5;
}

/// GET CHALLENGE limits. §6.7.
pub const CHALLENGE_MAX: usize = 32;

/// Status words the card returns. §4.5.
pub mod sw {
    pub const OK: u16 = 0x9000;
    pub const END_OF_FILE: u16 = 0x6282;
    pub const MEMORY_FAILURE: u16 = 0x6581;
    pub const WRONG_LENGTH: u16 = 0x6700;
    pub const LAST_COMMAND_OF_CHAIN_EXPECTED: u16 = 0x6883;
    pub const INCOMPATIBLE_FILE_STRUCTURE: u16 = 0x6981;
    pub const SECURITY_STATUS_NOT_SATISFIED: u16 = 0x6982;
    pub const AUTHENTICATION_BLOCKED: u16 = 0x6983;
    pub const CONDITIONS_NOT_SATISFIED: u16 = 0x6985;
    pub const NO_CURRENT_EF: u16 = 0x6986;
    pub const SM_DATA_MISSING: u16 = 0x6987;
    pub const SM_DATA_INCORRECT: u16 = 0x6988;
    pub const INCORRECT_DATA: u16 = 0x6A80;
    pub const FUNCTION_NOT_SUPPORTED: u16 = 0x6A81;
    pub const FILE_NOT_FOUND: u16 = 0x6A82;
    pub const NOT_ENOUGH_MEMORY: u16 = 0x6A84;
    pub const INCORRECT_P1P2: u16 = 0x6A86;
    pub const REFERENCE_NOT_FOUND: u16 = 0x6A88;
    pub const WRONG_P1P2: u16 = 0x6B00;
    pub const INS_NOT_SUPPORTED: u16 = 0x6D00;
    pub const CLA_NOT_SUPPORTED: u16 = 0x6E00;
    pub const NO_PRECISE_DIAGNOSIS: u16 = 0x6F00;
    /// `61xx`: xx more response bytes are waiting for GET RESPONSE (00: 256 or more).
    pub const BYTES_REMAINING: u8 = 0x61;
    /// `63Cx`: verification failed or queried, x tries left.
    pub const COUNTER: u16 = 0x63C0;
    /// `6Cxx`: wrong Le, xx is the exact length to ask for.
    pub const WRONG_LE: u8 = 0x6C;
}

/// Tags of the identity and address data groups. §5.1, §5.4.
pub mod tag {
    /// DG1 template.
    pub const IDENTITY_TEMPLATE: u8 = 0xE1;
    /// DG4 template.
    pub const ADDRESS_TEMPLATE: u8 = 0xE4;
    pub const FORMAT_VERSION: u16 = 0xDF00;
    pub const NATIONAL_CODE: u16 = 0xDF01;
    pub const GIVEN_NAME_FA: u16 = 0xDF02;
    pub const SURNAME_FA: u16 = 0xDF03;
    pub const GIVEN_NAME_LATIN: u16 = 0xDF04;
    pub const SURNAME_LATIN: u16 = 0xDF05;
    pub const FATHER_NAME_FA: u16 = 0xDF06;
    pub const FATHER_NAME_LATIN: u16 = 0xDF07;
    pub const GENDER: u16 = 0xDF08;
    pub const BIRTH_DATE: u16 = 0xDF09;
    pub const BIRTH_PLACE_FA: u16 = 0xDF0A;
    pub const BIRTH_PLACE_LATIN: u16 = 0xDF0B;
    pub const CERTIFICATE_NUMBER: u16 = 0xDF0C;
    pub const ISSUE_DATE: u16 = 0xDF0D;
    pub const EXPIRY_DATE: u16 = 0xDF0E;
    pub const TRACKING_CODE: u16 = 0xDF0F;
    pub const POSTAL_CODE: u16 = 0xDF10;
    pub const ADDRESS_TEXT: u16 = 0xDF11;
    /// Public key data object (ISO 7816-8), response of GENERATE ASYMMETRIC KEY PAIR.
    pub const PUBLIC_KEY: u16 = 0x7F49;
    /// Uncompressed EC point inside `7F49`.
    pub const EC_POINT: u8 = 0x86;
    /// FCP template.
    pub const FCP: u8 = 0x62;
    /// Proprietary information in the application's FCP (ISO/IEC 7816-4 §7.4.3, tag `85`,
    /// primitive): the card serial, ASCII, as GET DATA `DF01` returns it. Version 1.1. §6.1.
    pub const FCP_SERIAL: u8 = 0x85;
    /// Offset data object of odd-INS READ/UPDATE BINARY.
    pub const OFFSET: u8 = 0x54;
    /// Discretionary data object carrying odd-INS file data.
    pub const DISCRETIONARY: u8 = 0x53;
    /// Secure messaging: padding-content indicator followed by cryptogram.
    pub const SM_CRYPTOGRAM: u8 = 0x87;
    /// Secure messaging: cryptogram with no padding-content indicator (odd INS).
    pub const SM_CRYPTOGRAM_ODD: u8 = 0x85;
    /// Secure messaging: protected Le.
    pub const SM_LE: u8 = 0x97;
    /// Secure messaging: processing status.
    pub const SM_STATUS: u8 = 0x99;
    /// Secure messaging: cryptographic checksum (MAC).
    pub const SM_MAC: u8 = 0x8E;
    /// Biometric data template carrying live minutiae (ISO/IEC 7816-11).
    pub const BIOMETRIC_DATA: u16 = 0x7F2E;
}

/// Secure channel parameters. §10.
pub mod secure_channel {
    /// Length of each side's random challenge and key share, in bytes.
    pub const NONCE_LEN: usize = 16;
    /// AES key length of personalization and session keys (AES-128).
    pub const KEY_LEN: usize = 16;
    /// Length of the truncated CMAC in `8E` and in MUTUAL AUTHENTICATE.
    pub const MAC_LEN: usize = 8;
    /// Diversification constant for the card's static encryption key.
    pub const DIVERSIFY_ENC: u8 = 0x01;
    /// Diversification constant for the card's static MAC key.
    pub const DIVERSIFY_MAC: u8 = 0x02;
    /// KDF counter for the session encryption key.
    pub const KDF_ENC: u32 = 1;
    /// KDF counter for the session MAC key.
    pub const KDF_MAC: u32 = 2;
}

/// Object identifiers of the security object. §9.
pub mod oid {
    /// melli's arc: a UUID-based OID (ITU-T X.667), no registration needed.
    pub const MELLI_ARC: &str = "2.25.224329670668073827233975672526393257656";
    /// eContentType of the security object: `MELLI_ARC.1`.
    pub const SECURITY_OBJECT: &str = "2.25.224329670668073827233975672526393257656.1";
}

/// Finger minutiae records (ISO/IEC 19794-2:2005) and the match-on-card matcher. §11.
pub mod biometric {
    /// Largest record accepted, in DG3 or in DO `81` of VERIFY P2 `83`, in bytes. §11.1, §11.2.
    pub const MAX_RECORD_LEN: usize = 4096;
    /// Largest image width or height, in pixels (the smallest is 1). §11.1.
    pub const MAX_IMAGE_SIZE: u16 = 16_383;
    /// The only x and y resolution accepted, pixels/cm (500 ppi). §11.1.
    pub const RESOLUTION: u16 = 197;
    /// Most finger views of an enrolled record (at least 1; a live template has exactly 1).
    /// §11.1.
    pub const MAX_VIEWS: u8 = 10;
    /// Fewest minutiae in a finger view. §11.1.
    pub const MIN_MINUTIAE: u8 = 12;
    /// Most minutiae in a finger view. §11.1.
    pub const MAX_MINUTIAE: u8 = 128;
    /// Matcher position tolerance D, in pixels. §11.4.
    pub const DISTANCE_TOLERANCE: u16 = 15;
    /// Matcher direction tolerance A, in angle units of 360/256 degrees. §11.4.
    pub const ANGLE_TOLERANCE: u8 = 16;
    /// Match threshold T: the fewest paired minutiae for a match. §11.4.
    pub const THRESHOLD: u8 = 12;
    /// Share S of the pairs: a match also needs S · score² ≥ m · k, the pairs a real share of
    /// both views (m reference, k live minutiae), so that chance pairs of a template dense
    /// with minutiae do not add up to T. §11.4.
    pub const SHARE: u32 = 10;
}

/// GENERATE ASYMMETRIC KEY PAIR parameters (P2 is a key reference of [`reference`]). §6.11.
pub mod key_pair {
    /// P1: generate a key pair on the card (secure messaging, PERSONALIZING).
    pub const P1_GENERATE: u8 = 0x80;
    /// P1: read the public key of a generated key pair.
    pub const P1_READ_PUBLIC_KEY: u8 = 0x81;
}

/// CHANGE REFERENCE DATA and RESET RETRY COUNTER parameters (P2 is a reference of
/// [`reference`]). §6.9, §6.10.
pub mod reference_data {
    /// CHANGE REFERENCE DATA P1: the holder changes the PIN (old ‖ new block).
    pub const P1_CHANGE: u8 = 0x00;
    /// CHANGE REFERENCE DATA P1: personalization sets the PIN or the PUK (new block only).
    pub const P1_SET: u8 = 0x01;
    /// RESET RETRY COUNTER P1: unblock the PIN (PUK ‖ new PIN block).
    pub const P1_UNBLOCK_PIN: u8 = 0x00;
    /// RESET RETRY COUNTER P1: unblock the finger (PUK block only).
    pub const P1_UNBLOCK_FINGER: u8 = 0x01;
}

/// PERFORM SECURITY OPERATION: COMPUTE DIGITAL SIGNATURE, P1-P2 `9E 9A`. §6.12.
pub const PSO_COMPUTE_DIGITAL_SIGNATURE: u16 = 0x9E9A;
/// Length of the digest PSO: COMPUTE DIGITAL SIGNATURE signs (SHA-256). §6.12.
pub const PSO_DIGEST_LEN: usize = 32;

/// Chip authentication (INTERNAL AUTHENTICATE). §6.13, §9.5.
pub mod chip_auth {
    /// Domain-separation prefix: the card signs SHA-256(PREFIX ‖ serial ‖ challenge).
    pub const PREFIX: &[u8] = b"MELLI-CA-V1";
    /// Shortest challenge the card accepts.
    pub const CHALLENGE_MIN: usize = 8;
    /// Longest challenge the card accepts.
    pub const CHALLENGE_MAX: usize = 64;
}
