//! `TSTInfo` (RFC 3161 §2.4.2) as `x509-tsp` models it, except genTime: `x509-tsp` 0.1 types
//! it as `der`'s `GeneralizedTime`, which refuses fractions of a second, and TSAs may write
//! them (RFC 3161 allows any precision; `openssl ts` with `clock_precision_digits`). Here
//! genTime is [`GenTime`], which reads them; every other field is `x509-tsp`'s type.

use std::time::{Duration, SystemTime};

use der::asn1::{GeneralizedTime, Int, ObjectIdentifier};
use der::{
    DateTime, DecodeValue, EncodeValue, FixedTag, Header, Length, Reader, Sequence, Tag, Writer,
};
use x509_cert::ext::pkix::name::GeneralName;
use x509_cert::ext::Extensions;
use x509_tsp::{Accuracy, MessageImprint, TspVersion};

/// `TSTInfo`, with genTime as [`GenTime`].
#[derive(Clone, Debug, Eq, PartialEq, Sequence)]
pub struct TstInfo {
    pub version: TspVersion,
    pub policy: ObjectIdentifier,
    pub message_imprint: MessageImprint,
    pub serial_number: Int,
    pub gen_time: GenTime,
    #[asn1(optional = "true")]
    pub accuracy: Option<Accuracy>,
    #[asn1(default = "Default::default")]
    pub ordering: bool,
    #[asn1(optional = "true")]
    pub nonce: Option<Int>,
    #[asn1(context_specific = "0", tag_mode = "EXPLICIT", optional = "true")]
    pub tsa: Option<GeneralName>,
    #[asn1(context_specific = "1", tag_mode = "IMPLICIT", optional = "true")]
    pub extensions: Option<Extensions>,
}

/// genTime: a DER GeneralizedTime, `YYYYMMDDHHMMSS[.f…]Z` (X.690 §11.7: UTC, seconds
/// present, a fraction without trailing zeros after a full stop).
#[derive(Clone, Debug, Eq, PartialEq)]
pub struct GenTime {
    /// The whole seconds.
    pub seconds: GeneralizedTime,
    /// The fraction's digits, when present (never empty, never ending in 0).
    pub fraction: Option<String>,
}

impl GenTime {
    /// The time, rounded **up** to the next whole second when there is a fraction: a
    /// certificate that expired or was revoked within the second of the timestamp is then not
    /// taken as valid after it.
    pub fn to_system_time_ceil(&self) -> SystemTime {
        let whole = self.seconds.to_system_time();
        match self.fraction {
            Some(_) => whole + Duration::from_secs(1),
            None => whole,
        }
    }

    /// The whole seconds as a calendar date-time (the fraction dropped), for messages.
    pub fn to_date_time(&self) -> DateTime {
        self.seconds.to_date_time()
    }
}

impl FixedTag for GenTime {
    const TAG: Tag = Tag::GeneralizedTime;
}

impl<'a> DecodeValue<'a> for GenTime {
    fn decode_value<R: Reader<'a>>(reader: &mut R, header: Header) -> der::Result<Self> {
        let bytes = reader.read_slice(header.length)?;
        let bad = || der::Error::from(der::ErrorKind::DateTime);
        let whole_seconds = |body: &[u8]| -> der::Result<GeneralizedTime> {
            GeneralizedTime::decode_value(
                &mut der::SliceReader::new(body)?,
                Header::new(Tag::GeneralizedTime, Length::try_from(body.len())?)?,
            )
        };
        let Some(dot) = bytes.iter().position(|&b| b == b'.') else {
            return Ok(GenTime {
                seconds: whole_seconds(bytes)?,
                fraction: None,
            });
        };
        let digits = bytes[dot + 1..].strip_suffix(b"Z").ok_or_else(bad)?;
        if digits.is_empty()
            || digits.len() > 9
            || !digits.iter().all(u8::is_ascii_digit)
            || digits.ends_with(b"0")
        {
            return Err(bad());
        }
        let mut body = bytes[..dot].to_vec();
        body.push(b'Z');
        Ok(GenTime {
            seconds: whole_seconds(&body)?,
            fraction: Some(String::from_utf8_lossy(digits).into_owned()),
        })
    }
}

impl EncodeValue for GenTime {
    fn value_len(&self) -> der::Result<Length> {
        let extra = self.fraction.as_ref().map_or(0, |f| f.len() + 1);
        self.seconds.value_len()? + Length::try_from(extra)?
    }

    fn encode_value(&self, writer: &mut impl Writer) -> der::Result<()> {
        // The value of a GeneralizedTime: "YYYYMMDDHHMMSSZ", after its tag and length.
        let der = der::Encode::to_der(&self.seconds)?;
        let whole = der
            .get(2..)
            .ok_or_else(|| der::Error::from(der::ErrorKind::DateTime))?;
        match &self.fraction {
            None => writer.write(whole),
            Some(f) => {
                // "YYYYMMDDHHMMSS" "." f "Z"
                writer.write(&whole[..whole.len() - 1])?;
                writer.write(b".")?;
                writer.write(f.as_bytes())?;
                writer.write(b"Z")
            }
        }
    }
}
