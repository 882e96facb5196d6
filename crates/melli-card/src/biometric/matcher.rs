//! The match-on-card minutiae matcher of spec §11.4.
//!
//! For every anchor pair (reference minutia rᵢ, live minutia lⱼ) the live view is turned by the
//! difference of their directions about lⱼ and moved so that lⱼ lands on rᵢ; then the live
//! minutiae, in record order, each take the nearest still unpaired reference minutia within
//! D pixels and A angle units (ties: the lowest index). The score is the most pairs over all
//! anchors; it is a match when, in some compatible view, the score reaches T and is a real
//! share of both views (S · score² ≥ m · k).
//!
//! This computes exactly the score of §11.4, faster than its literal form in two ways that
//! cannot change it:
//! - the reference minutiae are sorted by x, and only those within D + 1 pixels of the turned
//!   live minutia in x are looked at (any closer than D in distance are among them);
//! - an anchor stops as soon as the live minutiae it has left cannot lift its count above the
//!   best score found so far, and the search stops once a score reaches min(m, k).
//!
//! Arithmetic is IEEE 754 double precision, as §11.4 says, with no fused operations and the
//! operations in the order §11.4 writes them. cos θ and sin θ come from a table of sin(2πn/256)
//! correctly rounded to double (n = 0…64, by symmetry for the other quadrants), not from the
//! platform's libm, whose results for 2π·Δ/256 differ in the last bit between implementations
//! (and give cos(π/2) ≈ 6e-17 instead of 0): two cards give the same score for the same pair.
//!
//! Cost: at most m·k anchors × k live minutiae × (a binary search + the reference minutiae in
//! a column 2(D + 1) pixels wide) — with m, k ≤ 128, bounded by 128⁴ ≈ 2.7·10⁸ elementary comparisons for a
//! crafted pair whose minutiae all share one column, and far less for fingers.

use super::record::{Minutia, Record};
use crate::spec::biometric::{ANGLE_TOLERANCE, DISTANCE_TOLERANCE, SHARE, THRESHOLD};

/// D², the squared position tolerance.
const DISTANCE_SQUARED: f64 = DISTANCE_TOLERANCE as f64 * DISTANCE_TOLERANCE as f64;
/// Half-width of the x column searched around a turned live minutia: D plus a margin, so that
/// rounding can never hide a reference minutia whose squared distance is within D².
const COLUMN: f64 = DISTANCE_TOLERANCE as f64 + 1.0;

/// sin(2π·n/256) for n = 0…64, each correctly rounded to the nearest double.
#[allow(clippy::approx_constant)] // 0.7071067811865476 is sin(π/4) to the last bit, on purpose
const SIN_QUARTER: [f64; 65] = [
    0.0,
    0.024541228522912288,
    0.049067674327418015,
    0.07356456359966743,
    0.0980171403295606,
    0.1224106751992162,
    0.14673047445536175,
    0.17096188876030122,
    0.19509032201612828,
    0.2191012401568698,
    0.2429801799032639,
    0.26671275747489837,
    0.2902846772544624,
    0.31368174039889146,
    0.33688985339222005,
    0.35989503653498817,
    0.3826834323650898,
    0.40524131400498986,
    0.4275550934302821,
    0.4496113296546066,
    0.47139673682599764,
    0.49289819222978404,
    0.5141027441932218,
    0.5349976198870973,
    0.5555702330196022,
    0.5758081914178453,
    0.5956993044924334,
    0.6152315905806268,
    0.6343932841636455,
    0.6531728429537768,
    0.6715589548470184,
    0.6895405447370669,
    0.7071067811865476,
    0.7242470829514669,
    0.7409511253549591,
    0.7572088465064846,
    0.773010453362737,
    0.7883464276266062,
    0.8032075314806449,
    0.8175848131515837,
    0.8314696123025452,
    0.8448535652497071,
    0.8577286100002721,
    0.8700869911087115,
    0.881921264348355,
    0.8932243011955153,
    0.9039892931234433,
    0.9142097557035307,
    0.9238795325112867,
    0.9329927988347388,
    0.9415440651830208,
    0.9495281805930367,
    0.9569403357322088,
    0.9637760657954398,
    0.970031253194544,
    0.9757021300385286,
    0.9807852804032304,
    0.9852776423889412,
    0.989176509964781,
    0.99247953459871,
    0.9951847266721969,
    0.9972904566786902,
    0.9987954562051724,
    0.9996988186962042,
    1.0,
];

/// sin(2π·n/256), from the quarter table.
fn sin_units(n: u8) -> f64 {
    let quadrant = n >> 6;
    let within = n & 63;
    let folded = if quadrant & 1 == 0 {
        within
    } else {
        64u8.wrapping_sub(within)
    };
    let magnitude = SIN_QUARTER.get(usize::from(folded)).copied().unwrap_or(0.0);
    if quadrant < 2 {
        magnitude
    } else {
        -magnitude
    }
}

/// (cos θ, sin θ) for θ = 2π·n/256.
pub(super) fn cos_sin(n: u8) -> (f64, f64) {
    (sin_units(n.wrapping_add(64)), sin_units(n))
}

/// The result of comparing a live template with the enrolled record.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct MatchOutcome {
    /// score(R, L) of §11.4, the highest over the enrolled views whose finger position is
    /// compatible with the live view's; 0 when none is.
    pub(crate) score: u8,
    /// Some compatible view has `score ≥ T` and `S · score² ≥ m · k`: the answer of VERIFY
    /// P2 `83` (`9000` or `63Cx`).
    pub(crate) matched: bool,
}

/// Compares the live view (the first and, for a parsed live template, only view of `live`)
/// with every compatible view of `enrolled` (§11.4). Deterministic; never panics.
pub(crate) fn matches(enrolled: &Record, live: &Record) -> MatchOutcome {
    let mut best = 0;
    let mut matched = false;
    if let Some(live_view) = live.views.first() {
        for view in &enrolled.views {
            if compatible(view.finger_position, live_view.finger_position) {
                // Each view is decided on its own score: the share depends on its m.
                let score = view_score(&view.minutiae, &live_view.minutiae, 0);
                matched |= decides(score, view.minutiae.len(), live_view.minutiae.len());
                best = best.max(score);
            }
        }
    }
    MatchOutcome {
        score: best,
        matched,
    }
}

/// The decision of §11.4 for one view: `score ≥ T` and `S · score² ≥ m · k`.
fn decides(score: u8, reference: usize, live: usize) -> bool {
    let share = u64::from(SHARE)
        .saturating_mul(u64::from(score))
        .saturating_mul(u64::from(score));
    // m, k ≤ 128 (§11.1): no overflow; saturating all the same.
    let product = (reference as u64).saturating_mul(live as u64);
    score >= THRESHOLD && share >= product
}

/// Finger positions are compatible when equal or when either is 0 (unknown). §11.4.
fn compatible(a: u8, b: u8) -> bool {
    a == b || a == 0 || b == 0
}

/// The larger of `floor` and score(R, L).
fn view_score(reference: &[Minutia], live: &[Minutia], floor: u8) -> u8 {
    let index = Index::new(reference);
    let ceiling = u8::try_from(reference.len().min(live.len())).unwrap_or(u8::MAX);
    let mut best = floor;
    for &anchor_reference in reference {
        for &anchor_live in live {
            if best >= ceiling {
                return best;
            }
            best = best.max(pairs(&index, anchor_reference, anchor_live, live, best));
        }
    }
    best
}

/// pairs(i, j) of §11.4 for the anchor (`r`, `l`) — or any number not above `floor` once it is
/// sure that pairs(i, j) cannot exceed `floor`.
fn pairs(index: &Index, r: Minutia, l: Minutia, live: &[Minutia], floor: u8) -> u8 {
    let delta = r.angle.wrapping_sub(l.angle);
    let (cos, sin) = cos_sin(delta);
    let (xr, yr) = (f64::from(r.x), f64::from(r.y));
    let (xl, yl) = (f64::from(l.x), f64::from(l.y));
    let mut paired: u128 = 0;
    let mut count: u8 = 0;
    let mut left = live.len();
    for q in live {
        if usize::from(count).saturating_add(left) <= usize::from(floor) {
            break;
        }
        left = left.saturating_sub(1);
        let (dx, dy) = (f64::from(q.x) - xl, f64::from(q.y) - yl);
        let x = xr + dx * cos + dy * sin;
        let y = yr - dx * sin + dy * cos;
        let angle = q.angle.wrapping_add(delta);
        if let Some(bit) = index.nearest(x, y, angle, paired) {
            paired |= bit;
            count = count.saturating_add(1);
        }
    }
    count
}

/// A reference minutia as the index keeps it.
#[derive(Debug, Clone, Copy)]
struct Entry {
    x: f64,
    y: f64,
    angle: u8,
    /// Its index p in the view.
    p: u8,
    /// `1 << p`, its bit in the set of paired minutiae.
    bit: u128,
}

/// The reference minutiae of one view sorted by x. Views hold at most 128 minutiae (§11.1),
/// so each has its own bit in a `u128`; the index ignores any beyond the 128th.
struct Index {
    entries: Vec<Entry>,
}

impl Index {
    fn new(reference: &[Minutia]) -> Index {
        let mut entries: Vec<Entry> = reference
            .iter()
            .zip(0u8..128)
            .map(|(m, p)| Entry {
                x: f64::from(m.x),
                y: f64::from(m.y),
                angle: m.angle,
                p,
                bit: 1u128.checked_shl(u32::from(p)).unwrap_or(0),
            })
            .collect();
        entries.sort_by(|a, b| a.x.total_cmp(&b.x).then(a.p.cmp(&b.p)));
        Index { entries }
    }

    /// The bit of the unpaired reference minutia that §11.4 pairs with a live minutia turned to
    /// (`x`, `y`, `angle`): within D² and A, the smallest squared distance, then the smallest p.
    fn nearest(&self, x: f64, y: f64, angle: u8, paired: u128) -> Option<u128> {
        let start = self.entries.partition_point(|e| e.x < x - COLUMN);
        let column = self.entries.get(start..).unwrap_or_default();
        let mut best: Option<(f64, u8, u128)> = None;
        for e in column {
            if e.x > x + COLUMN {
                break;
            }
            if paired & e.bit != 0 || (y - e.y).abs() > COLUMN {
                continue;
            }
            let d = angle.wrapping_sub(e.angle);
            if d.min(d.wrapping_neg()) > ANGLE_TOLERANCE {
                continue;
            }
            let (ex, ey) = (x - e.x, y - e.y);
            let squared = ex * ex + ey * ey;
            if squared > DISTANCE_SQUARED {
                continue;
            }
            let better = match best {
                None => true,
                Some((d2, p, _)) => squared < d2 || (squared == d2 && e.p < p),
            };
            if better {
                best = Some((squared, e.p, e.bit));
            }
        }
        best.map(|(_, _, bit)| bit)
    }
}

#[cfg(test)]
mod tests;
