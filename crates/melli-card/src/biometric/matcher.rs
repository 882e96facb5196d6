//! The match-on-card minutiae matcher of spec §11.4.
//!
//! For every anchor pair (reference minutia rᵢ, live minutia lⱼ) the live view is turned by the
//! difference of their directions and moved so that lⱼ lands on rᵢ; then the live minutiae, in
//! record order, each take the nearest still unpaired reference minutia within D pixels and A
//! angle units (ties: the lowest index). The score is the most pairs over all anchors; it is a
//! match when, in some compatible view, the score reaches T and is a real share of both views
//! (S · score² ≥ m · k). Only the first [`MATCHED_MINUTIAE`] minutiae of each view take part.
//!
//! Arithmetic is on integers only, exactly as §11.4 writes it, so that a 16-bit Java Card and
//! this card compute the same pairs: cos θ and sin θ are the table `round(2¹⁴ · sin(2πn/256))`,
//! every live minutia is turned about the image origin with an exact integer product and its
//! coordinates rounded to whole pixels (halves up), and the distance and angle tests compare
//! small integers.
//!
//! This computes exactly the score of §11.4, faster than its literal form in ways that cannot
//! change it:
//! - the turned live view is computed once per rotation Δ, not once per anchor;
//! - the reference minutiae are sorted by x, and only those within D pixels of the turned live
//!   minutia in x are looked at;
//! - an anchor stops as soon as the live minutiae it has left cannot lift its count above the
//!   best score found so far, and the search stops once a score reaches min(m, k).
//!
//! Cost: at most m·k anchors × k live minutiae × (a binary search + the reference minutiae in
//! a column 2D + 1 pixels wide), with m, k ≤ 48: at most 48⁴ ≈ 5.3·10⁶ elementary comparisons
//! for a crafted pair whose minutiae all share one spot, far less for fingers.

use super::record::{Minutia, Record};
use crate::spec::biometric::{ANGLE_TOLERANCE, DISTANCE_TOLERANCE, SHARE, THRESHOLD};

/// How many minutiae of each view the matcher uses: the first ones, in record order (§11.4).
/// A view may hold up to 128 (§11.1); the rest are ignored, which bounds the work of a card.
pub(crate) const MATCHED_MINUTIAE: usize = 48;

/// D, the position tolerance in pixels.
const D: i32 = DISTANCE_TOLERANCE as i32;
/// D², the squared position tolerance.
const DISTANCE_SQUARED: i32 = D * D;
/// Fractional bits of the trigonometric table: its values are sin · 2¹⁴.
const TRIG_BITS: u32 = 14;

/// round(2¹⁴ · sin(2π·n/256)) for n = 0…64 (§11.4 gives the same table).
pub(super) const SIN_Q14: [i32; 65] = [
    0, 402, 804, 1205, 1606, 2006, 2404, 2801, 3196, 3590, 3981, 4370, 4756, 5139, 5520, 5897,
    6270, 6639, 7005, 7366, 7723, 8076, 8423, 8765, 9102, 9434, 9760, 10080, 10394, 10702, 11003,
    11297, 11585, 11866, 12140, 12406, 12665, 12916, 13160, 13395, 13623, 13842, 14053, 14256,
    14449, 14635, 14811, 14978, 15137, 15286, 15426, 15557, 15679, 15791, 15893, 15986, 16069,
    16143, 16207, 16261, 16305, 16340, 16364, 16379, 16384,
];

/// 2¹⁴ · sin(2π·n/256) as the table gives it, for any n (quarter-wave symmetry).
fn sin_units(n: u8) -> i32 {
    let quadrant = n >> 6;
    let within = n & 63;
    let folded = if quadrant & 1 == 0 {
        within
    } else {
        64u8.wrapping_sub(within)
    };
    let magnitude = SIN_Q14.get(usize::from(folded)).copied().unwrap_or(0);
    if quadrant < 2 {
        magnitude
    } else {
        magnitude.wrapping_neg()
    }
}

/// (C, S) = 2¹⁴ · (cos θ, sin θ) from the table, for θ = 2π·n/256.
pub(super) fn cos_sin(n: u8) -> (i32, i32) {
    (sin_units(n.wrapping_add(64)), sin_units(n))
}

/// ⌊(v + 2¹³) / 2¹⁴⌋: v/2¹⁴ rounded to the nearest integer, halves up (§11.4).
fn round_q14(v: i32) -> i32 {
    v.wrapping_add(1 << (TRIG_BITS - 1)) >> TRIG_BITS
}

/// A live minutia at (`x`, `y`) turned about the image origin by θ with (C, S) = `trig`:
/// (round((x·C + y·S) / 2¹⁴), round((y·C − x·S) / 2¹⁴)). With x, y < 2¹⁴ and |C|, |S| ≤ 2¹⁴
/// every product and sum is below 2³¹ in magnitude: exact in i32 (the wrapping operations
/// never wrap).
pub(super) fn turn(x: u16, y: u16, trig: (i32, i32)) -> (i32, i32) {
    let (c, s) = trig;
    let (x, y) = (i32::from(x), i32::from(y));
    let turned_x = x.wrapping_mul(c).wrapping_add(y.wrapping_mul(s));
    let turned_y = y.wrapping_mul(c).wrapping_sub(x.wrapping_mul(s));
    (round_q14(turned_x), round_q14(turned_y))
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

/// The minutiae of a view that the matcher uses: the first [`MATCHED_MINUTIAE`].
fn used(minutiae: &[Minutia]) -> &[Minutia] {
    minutiae.get(..MATCHED_MINUTIAE).unwrap_or(minutiae)
}

/// Compares the live view (the first and, for a parsed live template, only view of `live`)
/// with every compatible view of `enrolled` (§11.4). Deterministic; never panics.
pub(crate) fn matches(enrolled: &Record, live: &Record) -> MatchOutcome {
    let mut best = 0;
    let mut matched = false;
    if let Some(live_view) = live.views.first() {
        let live_minutiae = used(&live_view.minutiae);
        for view in &enrolled.views {
            if compatible(view.finger_position, live_view.finger_position) {
                // Each view is decided on its own score: the share depends on its m.
                let reference = used(&view.minutiae);
                let score = view_score(reference, live_minutiae, 0);
                matched |= decides(score, reference.len(), live_minutiae.len());
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
    let product = (reference as u64).saturating_mul(live as u64);
    score >= THRESHOLD && share >= product
}

/// max(T, ⌈√(m·k/S)⌉): the smallest score that `decides` accepts for m and k — where a card
/// may stop its search (§11.4).
pub(super) fn needed(reference: usize, live: usize) -> u8 {
    (THRESHOLD..=u8::MAX)
        .find(|&score| decides(score, reference, live))
        .unwrap_or(u8::MAX)
}

/// Finger positions are compatible when equal or when either is 0 (unknown). §11.4.
fn compatible(a: u8, b: u8) -> bool {
    a == b || a == 0 || b == 0
}

/// The larger of `floor` and score(R, L).
fn view_score(reference: &[Minutia], live: &[Minutia], floor: u8) -> u8 {
    let index = Index::new(reference);
    let ceiling = u8::try_from(reference.len().min(live.len())).unwrap_or(u8::MAX);
    // The live view turned by each rotation Δ, computed when an anchor first needs it.
    let mut turned: Vec<Option<Vec<(i32, i32)>>> = vec![None; 256];
    let mut best = floor;
    for &anchor_reference in reference {
        for (j, &anchor_live) in live.iter().enumerate() {
            if best >= ceiling {
                return best;
            }
            let delta = anchor_reference.angle.wrapping_sub(anchor_live.angle);
            let Some(slot) = turned.get_mut(usize::from(delta)) else {
                continue;
            };
            let view = slot.get_or_insert_with(|| {
                let trig = cos_sin(delta);
                live.iter().map(|m| turn(m.x, m.y, trig)).collect()
            });
            best = best.max(pairs(&index, anchor_reference, j, delta, live, view, best));
        }
    }
    best
}

/// pairs(i, j) of §11.4 for the anchor (`r`, live minutia `j`) with rotation `delta`, `turned`
/// being the live view turned by `delta` — or any number not above `floor` once it is sure
/// that pairs(i, j) cannot exceed `floor`.
fn pairs(
    index: &Index,
    r: Minutia,
    j: usize,
    delta: u8,
    live: &[Minutia],
    turned: &[(i32, i32)],
    floor: u8,
) -> u8 {
    let Some(&(xj, yj)) = turned.get(j) else {
        return 0;
    };
    // The move that puts the turned lⱼ onto rᵢ.
    // Turned coordinates are within ±23 170 and reference ones within 0…16 382: no overflow.
    let (mx, my) = (
        i32::from(r.x).wrapping_sub(xj),
        i32::from(r.y).wrapping_sub(yj),
    );
    let mut paired: u64 = 0;
    let mut count: u8 = 0;
    let mut left = live.len();
    for (q, &(xq, yq)) in live.iter().zip(turned) {
        if usize::from(count).saturating_add(left) <= usize::from(floor) {
            break;
        }
        left = left.saturating_sub(1);
        let angle = q.angle.wrapping_add(delta);
        if let Some(bit) = index.nearest(xq.wrapping_add(mx), yq.wrapping_add(my), angle, paired) {
            paired |= bit;
            count = count.saturating_add(1);
        }
    }
    count
}

/// A reference minutia as the index keeps it.
#[derive(Debug, Clone, Copy)]
struct Entry {
    x: i32,
    y: i32,
    angle: u8,
    /// Its index p in the view.
    p: u8,
    /// `1 << p`, its bit in the set of paired minutiae.
    bit: u64,
}

/// The reference minutiae of one view sorted by x. The matcher uses at most 48 minutiae of a
/// view, so each has its own bit in a `u64`; the index ignores any beyond the 64th.
struct Index {
    entries: Vec<Entry>,
}

impl Index {
    fn new(reference: &[Minutia]) -> Index {
        let mut entries: Vec<Entry> = reference
            .iter()
            .zip(0u8..64)
            .map(|(m, p)| Entry {
                x: i32::from(m.x),
                y: i32::from(m.y),
                angle: m.angle,
                p,
                bit: 1u64.checked_shl(u32::from(p)).unwrap_or(0),
            })
            .collect();
        entries.sort_by(|a, b| a.x.cmp(&b.x).then(a.p.cmp(&b.p)));
        Index { entries }
    }

    /// The bit of the unpaired reference minutia that §11.4 pairs with a live minutia turned and
    /// moved to (`x`, `y`, `angle`): within D² and A, the smallest squared distance, then the
    /// smallest p.
    fn nearest(&self, x: i32, y: i32, angle: u8, paired: u64) -> Option<u64> {
        let start = self.entries.partition_point(|e| e.x < x.saturating_sub(D));
        let column = self.entries.get(start..).unwrap_or_default();
        let mut best: Option<(i32, u8, u64)> = None;
        for e in column {
            if e.x > x.saturating_add(D) {
                break;
            }
            if paired & e.bit != 0 || y.abs_diff(e.y) > D.unsigned_abs() {
                continue;
            }
            let d = angle.wrapping_sub(e.angle);
            if d.min(d.wrapping_neg()) > ANGLE_TOLERANCE {
                continue;
            }
            // Both differences are within ±D here: the square sum is at most 2D².
            let (ex, ey) = (x.wrapping_sub(e.x), y.wrapping_sub(e.y));
            let squared = ex.wrapping_mul(ex).wrapping_add(ey.wrapping_mul(ey));
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
