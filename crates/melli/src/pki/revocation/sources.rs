//! Where each certificate's status comes from: CRLs the caller gives (files); online, the
//! OCSP responder named in the certificate's authorityInfoAccess, then the CRL at its CRL
//! distribution point when the responder gives no status; and OCSP answers a signature
//! carries (RFC 5940).
//!
//! [`statuses`] gives one [`CertStatus`] per certificate, for [`super::judge`]; a caller that
//! knows when the thing checked existed (a timestamp) passes that time to `judge` itself.

use std::collections::HashMap;
use std::time::SystemTime;

use x509_cert::ext::pkix::crl::dp::DistributionPoint;
use x509_cert::ext::pkix::name::{DistributionPointName, GeneralName};
use x509_cert::ext::pkix::{AuthorityInfoAccessSyntax, CrlDistributionPoints};
use x509_cert::Certificate;

use super::check::crl_status_since;
use super::{check_crls, crl_status, ocsp, parse_crl, CertStatus, CrlInput, CrlRefused, PathCert};
use crate::display::escaped_cut;
use crate::net::{self, Limits};
use crate::pki::cert;

/// The content type of a CRL at a distribution point (RFC 2585 §4.2).
pub const CRL_TYPE: &str = "application/pkix-crl";
/// The largest CRL fetched (a national CRL of many revoked cards).
pub const MAX_CRL: u64 = 16 * 1024 * 1024;

/// What a verifier may ask for certificates' statuses.
#[derive(Debug, Clone, Copy, Default)]
pub struct Sources<'a> {
    /// CRLs given by the caller; [`statuses`] refuses one that no CA of the path signed.
    pub crls: &'a [CrlInput],
    /// Ask each certificate's OCSP responder, and fetch its CRL distribution point when that
    /// gives no status.
    pub online: bool,
    /// OCSP answers (DER) carried by the signature checked: each counts for the certificate
    /// it names, when fresh now or given at or after `existed_at`.
    pub embedded: &'a [Vec<u8>],
    /// The time the thing checked is proven to exist by (a trusted timestamp's), if known;
    /// [`super::check_chains_at`] sets it from its `existed_at`.
    pub existed_at: Option<SystemTime>,
    /// OCSP answers (DER) carried beside the signature in the signed document (a PDF's
    /// document security store), judged as `embedded` ones are.
    pub carried_ocsps: &'a [Vec<u8>],
    /// CRLs carried beside the signature in the signed document: each counts for the
    /// certificates of the CA of the path that issued and signed it (others are ignored),
    /// when fresh now or issued at or after `existed_at`.
    pub carried_crls: &'a [CrlInput],
    /// Where `carried_ocsps` and `carried_crls` are, for the verdict ("the PDF's DSS").
    pub carried_in: &'a str,
}

impl Sources<'_> {
    /// Whether the caller asked for a revocation check (CRLs or online): without it, no
    /// "revocation" check is made (answers a signature carries alone do not ask for one).
    pub fn any(&self) -> bool {
        self.online || !self.crls.is_empty()
    }

    /// Whether the signed document carries revocation data beside the signature.
    pub fn carries_any(&self) -> bool {
        !self.carried_ocsps.is_empty() || !self.carried_crls.is_empty()
    }
}

/// The status of each of `certs` (`[i]` of `certs[i]`) from `sources`, at `now`. A
/// revocation on a CRL given counts first; then, online, the responder's answer, else the
/// distribution point's CRL; then an answer the signature carries; then a fresh CRL given.
/// `Err`: a CRL the caller gave is refused.
pub fn statuses(
    certs: &[PathCert<'_>],
    sources: &Sources<'_>,
    now: SystemTime,
) -> Result<Vec<CertStatus>, CrlRefused> {
    check_crls(certs, sources.crls)?;
    let mut fetched = HashMap::new();
    Ok(certs
        .iter()
        .map(|p| status_of(p, certs, sources, &mut fetched, now))
        .collect())
}

fn definitive(s: &CertStatus) -> bool {
    !matches!(s, CertStatus::Unknown(_))
}

fn status_of(
    p: &PathCert<'_>,
    certs: &[PathCert<'_>],
    sources: &Sources<'_>,
    fetched: &mut HashMap<String, Result<CrlInput, String>>,
    now: SystemTime,
) -> CertStatus {
    let given = if sources.crls.is_empty() {
        None
    } else {
        Some(crl_status(p, sources.crls, now))
    };
    if let Some(s @ CertStatus::Revoked { .. }) = &given {
        return s.clone();
    }
    let mut why = Vec::new();
    if sources.online {
        if let Some(s) = online_status(p, certs, fetched, now, &mut why) {
            return s;
        }
    }
    for answer in sources.embedded {
        match ocsp::read_embedded(answer, p, now, sources.existed_at) {
            Ok(Some(s)) if definitive(&s) => return s,
            Ok(Some(CertStatus::Unknown(w))) => why.push(w),
            Ok(_) => {}
            Err(e) => why.push(format!("the OCSP answer in the signature is refused: {e}")),
        }
    }
    if let Some(s) = carried_status(p, certs, sources, now, &mut why) {
        return s;
    }
    match given {
        Some(s) if definitive(&s) => s,
        Some(CertStatus::Unknown(w)) => {
            why.push(w);
            CertStatus::Unknown(why.join("; "))
        }
        _ if why.is_empty() => CertStatus::Unknown("no source of status".into()),
        _ => CertStatus::Unknown(why.join("; ")),
    }
}

/// What the revocation data carried in the signed document says of `p`: a definite status
/// (named by where it was found), or `None` with the reasons pushed on `why`.
fn carried_status(
    p: &PathCert<'_>,
    certs: &[PathCert<'_>],
    sources: &Sources<'_>,
    now: SystemTime,
    why: &mut Vec<String>,
) -> Option<CertStatus> {
    let place = sources.carried_in;
    let named = |s: CertStatus, what: &str| match s {
        CertStatus::Good { .. } => CertStatus::Good {
            by: format!("{what} in {place}"),
        },
        CertStatus::Revoked { date, reason, .. } => CertStatus::Revoked {
            date,
            reason,
            by: format!("{what} in {place}"),
        },
        other => other,
    };
    for answer in sources.carried_ocsps {
        match ocsp::read_embedded(answer, p, now, sources.existed_at) {
            Ok(Some(s)) if definitive(&s) => return Some(named(s, "OCSP answer")),
            Ok(Some(CertStatus::Unknown(w))) => why.push(w),
            Ok(_) => {}
            Err(e) => why.push(format!("an OCSP answer in {place} is refused: {e}")),
        }
    }
    // Only CRLs of this certificate's issuer, signed by it, count.
    let issuer = &p.certificate.tbs_certificate.issuer;
    let mine: Vec<CrlInput> = sources
        .carried_crls
        .iter()
        .filter(|c| c.crl.tbs_cert_list.issuer == *issuer)
        .filter(|c| match check_crls(certs, std::slice::from_ref(*c)) {
            Ok(()) => true,
            Err(e) => {
                why.push(format!("a CRL in {place} is refused: {}", e.reason));
                false
            }
        })
        .cloned()
        .collect();
    if mine.is_empty() {
        return None;
    }
    match crl_status_since(p, &mine, now, sources.existed_at) {
        s if definitive(&s) => Some(named(s, "CRL")),
        CertStatus::Unknown(w) => {
            why.push(w);
            None
        }
        _ => None,
    }
}

/// OCSP, then the CRL distribution point: a definite status, or `None` with the reasons
/// pushed on `why`.
fn online_status(
    p: &PathCert<'_>,
    certs: &[PathCert<'_>],
    fetched: &mut HashMap<String, Result<CrlInput, String>>,
    now: SystemTime,
    why: &mut Vec<String>,
) -> Option<CertStatus> {
    match ocsp_url(p.certificate) {
        Ok(Some(url)) => match ocsp::ask(&url, p, now) {
            Ok(s) if definitive(&s) => return Some(s),
            Ok(CertStatus::Unknown(w)) => why.push(w),
            Ok(_) => {}
            Err(e) => why.push(e.to_string()),
        },
        Ok(None) => why.push("it names no OCSP responder".into()),
        Err(e) => why.push(e),
    }
    match crl_url(p.certificate) {
        Ok(Some(url)) => {
            let crl = fetched
                .entry(url.clone())
                .or_insert_with(|| fetch_crl(&url, certs));
            match crl {
                Ok(crl) => match crl_status(p, std::slice::from_ref(crl), now) {
                    s if definitive(&s) => return Some(s),
                    CertStatus::Unknown(w) => why.push(w),
                    _ => {}
                },
                Err(e) => why.push(e.clone()),
            }
        }
        Ok(None) => why.push("it names no CRL distribution point".into()),
        Err(e) => why.push(e),
    }
    None
}

/// The CRL at `url`, checked as a given CRL is (issued and signed by a CA of `certs`).
fn fetch_crl(url: &str, certs: &[PathCert<'_>]) -> Result<CrlInput, String> {
    let shown = escaped_cut(url, 200);
    let bytes = net::get(url, CRL_TYPE, Limits::new(MAX_CRL))
        .map_err(|e| format!("CRL distribution point {e}"))?;
    let crl = parse_crl(&bytes)
        .map_err(|e| format!("the CRL at {shown} is refused: {}", escaped_cut(&e, 200)))?;
    let input = CrlInput {
        label: shown.clone(),
        crl,
    };
    check_crls(certs, std::slice::from_ref(&input))
        .map_err(|e| format!("the CRL at {shown} is refused: {}", e.reason))?;
    Ok(input)
}

/// The first http(s) OCSP responder of the certificate's authorityInfoAccess.
pub fn ocsp_url(c: &Certificate) -> Result<Option<String>, String> {
    let aia = cert::extension::<AuthorityInfoAccessSyntax>(c, cert::ID_PE_AUTHORITY_INFO_ACCESS)
        .map_err(|e| format!("its authorityInfoAccess is malformed ({e})"))?;
    Ok(aia.and_then(|(_, aia)| {
        aia.0
            .iter()
            .filter(|d| d.access_method == cert::ID_AD_OCSP)
            .find_map(|d| http_uri(&d.access_location))
    }))
}

/// The first http(s) full name of the certificate's CRL distribution points.
pub fn crl_url(c: &Certificate) -> Result<Option<String>, String> {
    let dps = cert::extension::<CrlDistributionPoints>(c, cert::ID_CE_CRL_DISTRIBUTION_POINTS)
        .map_err(|e| format!("its CRL distribution points are malformed ({e})"))?;
    Ok(dps.and_then(|(_, dps)| {
        dps.0
            .iter()
            .find_map(|dp: &DistributionPoint| match &dp.distribution_point {
                Some(DistributionPointName::FullName(names)) => names.iter().find_map(http_uri),
                _ => None,
            })
    }))
}

fn http_uri(name: &GeneralName) -> Option<String> {
    match name {
        GeneralName::UniformResourceIdentifier(uri) => {
            let s = uri.as_str();
            (s.starts_with("http://") || s.starts_with("https://")).then(|| s.to_string())
        }
        _ => None,
    }
}
