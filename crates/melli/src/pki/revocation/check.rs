//! The "revocation" check of a certification path, in two steps: each certificate's status
//! is found by a source (a CRL here; an OCSP answer elsewhere) as a [`CertStatus`], and the
//! statuses of the whole path are judged by [`judge`] at the time the thing checked is known
//! to have existed (now, or a trusted timestamp's time).

use std::time::{Duration, SystemTime};

use der::{DateTime, Decode, Encode};
use p256::ecdsa::signature::Verifier;
use p256::ecdsa::Signature;
use x509_cert::ext::pkix::CrlReason;
use x509_cert::Certificate;

use super::sources::{statuses, Sources};
use super::{code_name, CrlInput, CrlRefused, CHECK, ID_CE_CRL_REASONS};
use crate::pki::asn1::{self, ecdsa_sha256_algorithm};
use crate::pki::cert;
use crate::pki::verdict::Check;

/// One certificate of a path to check, the CA certificate that issued it, and what it is.
pub struct PathCert<'a> {
    pub certificate: &'a Certificate,
    pub issuer: &'a Certificate,
    pub role: String,
}

/// What a source says of one certificate.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CertStatus {
    /// Not revoked, by a fresh answer; `by` names it ("fresh CRL", "OCSP").
    Good { by: String },
    /// Revoked at `date` for `reason` (openssl's name of the RFC 5280 reason code).
    Revoked {
        date: DateTime,
        reason: &'static str,
        by: String,
    },
    /// No fresh status, and why.
    Unknown(String),
}

/// The certificates of the paths from each `(leaf, role, intermediates)` up to `root` (by
/// issuer name, as the chain checker builds them), each once, the root left out. `Err` names
/// the certificate whose issuer is not known.
pub fn path_certs<'a>(
    chains: &[(&'a Certificate, &str, &'a [Certificate])],
    root: &'a Certificate,
) -> Result<Vec<PathCert<'a>>, String> {
    let mut certs: Vec<PathCert<'a>> = Vec::new();
    for (leaf, role, cas) in chains {
        let mut current: &Certificate = leaf;
        let mut role = role.to_string();
        for _ in 0..6 {
            let issuer_name = &current.tbs_certificate.issuer;
            let issuer = if *issuer_name == root.tbs_certificate.subject {
                Some(root)
            } else {
                cas.iter()
                    .find(|c| c.tbs_certificate.subject == *issuer_name && *c != current)
            };
            let Some(issuer) = issuer else {
                return Err(format!("the issuer of the {role} is not known"));
            };
            if !certs.iter().any(|p| p.certificate == current) {
                certs.push(PathCert {
                    certificate: current,
                    issuer,
                    role: role.clone(),
                });
            }
            if issuer == root {
                break;
            }
            role = format!("CA certificate {}", cert::label(issuer));
            current = issuer;
        }
    }
    Ok(certs)
}

/// [`path_certs`] then [`check_path`]: a certificate whose issuer is not found makes the check
/// UNKNOWN.
pub fn check_chains(
    chains: &[(&Certificate, &str, &[Certificate])],
    root: &Certificate,
    crls: &[CrlInput],
    now: SystemTime,
    allow_unknown: bool,
) -> Result<Check, CrlRefused> {
    let sources = Sources {
        crls,
        ..Sources::default()
    };
    check_chains_at(chains, root, &sources, now, None, allow_unknown)
}

/// [`path_certs`], each certificate's status from `sources` ([`statuses`]), then [`judge`]
/// with `existed_at` (see there). A certificate whose issuer is not found makes the check
/// UNKNOWN; a CRL of `sources` that no CA of the path signed is refused.
pub fn check_chains_at(
    chains: &[(&Certificate, &str, &[Certificate])],
    root: &Certificate,
    sources: &Sources<'_>,
    now: SystemTime,
    existed_at: Option<(SystemTime, &str)>,
    allow_unknown: bool,
) -> Result<Check, CrlRefused> {
    match path_certs(chains, root) {
        Ok(certs) => {
            let sources = Sources {
                existed_at: existed_at.map(|(at, _)| at),
                ..*sources
            };
            let statuses = statuses(&certs, &sources, now)?;
            Ok(judge(&certs, &statuses, existed_at, allow_unknown))
        }
        Err(why) => Ok(Check::unknown(
            CHECK,
            format!("cannot tell: {why}"),
            allow_unknown,
        )),
    }
}

/// The "revocation" check of `certs` (every certificate of the path but the trust anchor)
/// against `crls`, at `now`: FAIL when one is revoked (`revoked on DATE: REASON`), UNKNOWN
/// when one has no fresh CRL (a pass only if `allow_unknown`), PASS otherwise. A CRL that
/// none of the path's CAs issued, or whose signature does not verify with its issuer's key,
/// is refused.
pub fn check_path(
    certs: &[PathCert<'_>],
    crls: &[CrlInput],
    now: SystemTime,
    allow_unknown: bool,
) -> Result<Check, CrlRefused> {
    check_crls(certs, crls)?;
    let statuses: Vec<CertStatus> = certs.iter().map(|p| crl_status(p, crls, now)).collect();
    Ok(judge(certs, &statuses, None, allow_unknown))
}

/// Every CRL: issued by a CA of the path, and signed by it.
pub fn check_crls(certs: &[PathCert<'_>], crls: &[CrlInput]) -> Result<(), CrlRefused> {
    let refused = |c: &CrlInput, reason: String| CrlRefused {
        label: c.label.clone(),
        reason,
    };
    for c in crls {
        let tbs = &c.crl.tbs_cert_list;
        let Some(ca) = certs
            .iter()
            .map(|p| p.issuer)
            .find(|ca| ca.tbs_certificate.subject == tbs.issuer)
        else {
            return Err(refused(
                c,
                format!(
                    "issued by {}, which issued none of the certificates checked — give the CRLs of this card's issuer",
                    tbs.issuer
                ),
            ));
        };
        if c.crl.signature_algorithm != ecdsa_sha256_algorithm()
            || tbs.signature != ecdsa_sha256_algorithm()
        {
            return Err(refused(c, "not signed with ecdsa-with-SHA256".into()));
        }
        let good = (|| {
            let key = cert::verifying_key(ca).ok()?;
            let sig = Signature::from_der(c.crl.signature.as_bytes()?).ok()?;
            let tbs_der = tbs.to_der().ok()?;
            key.verify(&tbs_der, &sig).ok()
        })();
        if good.is_none() {
            return Err(refused(
                c,
                format!(
                    "its signature does not verify with the key of {} — a CRL of another issuer, or altered",
                    cert::label(ca)
                ),
            ));
        }
    }
    Ok(())
}

/// The status of `p` in the fresh CRL of its issuer among `crls` (checked by [`check_crls`]).
pub fn crl_status(p: &PathCert<'_>, crls: &[CrlInput], now: SystemTime) -> CertStatus {
    crl_status_since(p, crls, now, None)
}

/// [`crl_status`], where a CRL that is no longer fresh still counts when it was issued at or
/// after `existed_at` (the time the thing checked is proven to exist by), as an OCSP answer
/// does.
pub(super) fn crl_status_since(
    p: &PathCert<'_>,
    crls: &[CrlInput],
    now: SystemTime,
    existed_at: Option<SystemTime>,
) -> CertStatus {
    let now_unix = now
        .duration_since(SystemTime::UNIX_EPOCH)
        .unwrap_or_default();
    let cert_tbs = &p.certificate.tbs_certificate;
    let mine: Vec<&CrlInput> = crls
        .iter()
        .filter(|c| c.crl.tbs_cert_list.issuer == cert_tbs.issuer)
        .collect();
    if mine.is_empty() {
        return CertStatus::Unknown(format!("no CRL of {}", cert::label(p.issuer)));
    }
    let mut fresh = None;
    let mut stale = Vec::new();
    for c in mine {
        let tbs = &c.crl.tbs_cert_list;
        let this = tbs.this_update.to_unix_duration();
        match tbs.next_update {
            Some(next)
                if this <= now_unix + Duration::from_secs(300)
                    && next.to_unix_duration() >= now_unix =>
            {
                fresh = Some(c);
            }
            _ if existed_at.is_some_and(|at| {
                this >= unix(at) && this <= now_unix + Duration::from_secs(300)
            }) =>
            {
                fresh = Some(c);
            }
            Some(next) => stale.push(format!(
                "CRL {} is stale: its nextUpdate {} has passed",
                c.label,
                asn1::date_time_string(&next.to_date_time())
            )),
            None => stale.push(format!("CRL {} has no nextUpdate", c.label)),
        }
    }
    let Some(c) = fresh else {
        return CertStatus::Unknown(stale.join("; "));
    };
    let entry = c
        .crl
        .tbs_cert_list
        .revoked_certificates
        .iter()
        .flatten()
        .find(|r| r.serial_number == cert_tbs.serial_number);
    if let Some(r) = entry {
        let reason = r
            .crl_entry_extensions
            .iter()
            .flatten()
            .find(|e| e.extn_id == ID_CE_CRL_REASONS)
            .and_then(|e| CrlReason::from_der(e.extn_value.as_bytes()).ok());
        if reason != Some(CrlReason::RemoveFromCRL) {
            return CertStatus::Revoked {
                date: r.revocation_date.to_date_time(),
                reason: reason.map_or("unspecified", code_name),
                by: "CRL".into(),
            };
        }
    }
    CertStatus::Good {
        by: "fresh CRLs".into(),
    }
}

/// The check from each certificate's status (`statuses[i]` of `certs[i]`). `existed_at` is a
/// time the thing checked is proven to have existed by (a trusted timestamp's time, and what
/// proves it): a certificate revoked after it does not fail the check, and the detail says so.
/// Without it, any revocation fails. UNKNOWN passes only when `allow_unknown`.
pub fn judge(
    certs: &[PathCert<'_>],
    statuses: &[CertStatus],
    existed_at: Option<(SystemTime, &str)>,
    allow_unknown: bool,
) -> Check {
    let mut unknown = Vec::new();
    let mut good = Vec::new();
    let mut later = Vec::new();
    let mut sources: Vec<&str> = Vec::new();
    for (p, status) in certs.iter().zip(statuses) {
        match status {
            CertStatus::Good { by } => {
                good.push(p.role.clone());
                if !sources.contains(&by.as_str()) {
                    sources.push(by);
                }
            }
            CertStatus::Revoked { date, reason, by } => {
                let revoked = asn1::date_time_string(date);
                match existed_at {
                    Some((at, proof)) if date.unix_duration() > unix(at) => later.push(format!(
                        "{} revoked on {revoked}: {reason} ({by}), after {proof}",
                        p.role
                    )),
                    _ => {
                        return Check::fail(
                            CHECK,
                            format!("{} revoked on {revoked}: {reason}", p.role),
                        )
                    }
                }
            }
            CertStatus::Unknown(why) => unknown.push(format!("{why} for the {}", p.role)),
        }
    }
    if !unknown.is_empty() {
        return Check::unknown(
            CHECK,
            format!("no fresh status: {}", unknown.join("; ")),
            allow_unknown,
        );
    }
    let mut detail = String::new();
    if !good.is_empty() {
        detail = format!("not revoked: {} ({})", good.join(", "), sources.join(", "));
    }
    if !later.is_empty() {
        if !detail.is_empty() {
            detail.push_str("; ");
        }
        detail.push_str(&later.join("; "));
        detail.push_str(" — the signature was made before");
    }
    Check::pass(CHECK, detail)
}

fn unix(t: SystemTime) -> Duration {
    t.duration_since(SystemTime::UNIX_EPOCH).unwrap_or_default()
}
