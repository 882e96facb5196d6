package ir.melli.applet;

import javacard.framework.JCSystem;
import javacard.framework.Util;

/**
 * The match-on-card minutiae matcher of applets-spec §11.4, in 16-bit arithmetic: the same
 * pairs, scores and decisions as the reference card, exactly.
 *
 * <p>For every anchor pair (reference minutia r<sub>i</sub>, live minutia l<sub>j</sub>) the
 * live view, turned about the image origin by Δ = angle(r<sub>i</sub>) − angle(l<sub>j</sub>)
 * and rounded to whole pixels, is moved so that l<sub>j</sub> lands on r<sub>i</sub>; the live
 * minutiae then take, in record order, the nearest unpaired reference minutia within D = 15 px
 * and A = 16 angle units (ties: the lowest index). Only the first 48 minutiae of a view count.
 *
 * <p>How it stays within a card's means, without changing a decision:
 * <ul>
 * <li>anchors are taken rotation by rotation, so the live view is turned once per rotation Δ
 * that some anchor has (at most 256 × 48 turns), with exact 30-bit products built from 7-bit
 * halves in shorts;</li>
 * <li>the reference minutiae are sorted by x once per view, and a turned live minutia looks only
 * at those within D in x (a binary search, then the column);</li>
 * <li>an anchor stops as soon as the live minutiae it has left cannot bring its count to the
 * score the decision needs, max(T, ⌈√(m·k/S)⌉), and the search stops at the first anchor that
 * reaches it.</li>
 * </ul>
 *
 * <p>RAM: 340 bytes of CLEAR_ON_DESELECT transient arrays (turned live view 2 × 48 shorts,
 * reference order and live order 2 × 48 bytes, paired flags 48 bytes, 2 scratch shorts).
 * EEPROM: the 65-short sine table (130 bytes) and four array headers.
 */
final class Matcher {
    /** D: position tolerance, pixels. */
    static final short DISTANCE = 15;
    /** A: direction tolerance, angle units. */
    static final short ANGLE = 16;
    /** T: the fewest pairs of a match. */
    static final short THRESHOLD = 12;
    /** S: a match needs S · score² ≥ m · k. */
    static final short SHARE = 10;
    /** The matcher uses the first 48 minutiae of each view (§11.4). */
    static final short USED = 48;
    /** Largest pixel coordinate of a well-formed record (image sizes up to 16 383). */
    private static final short MAX_COORDINATE = 16382;

    /** round(2^14 · sin(2πn/256)), n = 0..64 (§11.4). */
    private static final short[] SIN = {
        0, 402, 804, 1205, 1606, 2006, 2404, 2801, 3196, 3590, 3981, 4370, 4756, 5139, 5520,
        5897, 6270, 6639, 7005, 7366, 7723, 8076, 8423, 8765, 9102, 9434, 9760, 10080, 10394,
        10702, 11003, 11297, 11585, 11866, 12140, 12406, 12665, 12916, 13160, 13395, 13623,
        13842, 14053, 14256, 14449, 14635, 14811, 14978, 15137, 15286, 15426, 15557, 15679,
        15791, 15893, 15986, 16069, 16143, 16207, 16261, 16305, 16340, 16364, 16379, 16384
    };

    /** The live view turned by the current rotation: x and y of each live minutia. */
    private final short[] turnedX;
    private final short[] turnedY;
    /** Reference minutiae p of the view, sorted by x (then p). */
    private final byte[] byX;
    /** Live minutiae q, sorted by angle (then q). */
    private final byte[] byAngle;
    /** Paired flags of the reference minutiae, for the current anchor. */
    private final byte[] paired;
    /** A 32-bit accumulator as hi · 2^14 + lo, 0 ≤ lo < 2^14. */
    private final short[] acc;

    Matcher() {
        turnedX = JCSystem.makeTransientShortArray(USED, JCSystem.CLEAR_ON_DESELECT);
        turnedY = JCSystem.makeTransientShortArray(USED, JCSystem.CLEAR_ON_DESELECT);
        byX = JCSystem.makeTransientByteArray(USED, JCSystem.CLEAR_ON_DESELECT);
        byAngle = JCSystem.makeTransientByteArray(USED, JCSystem.CLEAR_ON_DESELECT);
        paired = JCSystem.makeTransientByteArray(USED, JCSystem.CLEAR_ON_DESELECT);
        acc = JCSystem.makeTransientShortArray((short) 2, JCSystem.CLEAR_ON_DESELECT);
    }

    /**
     * VERIFY P2 83 decision (§11.4) between the enrolled DG3 record
     * {@code enrolled[eOff..eOff+eLen]} and the live template {@code live[lOff..lOff+lLen]}:
     * either the command data field {@code 7F2E { 81 <record> }} or the bare record. The caller
     * has already checked both with {@link FingerRecord}. Returns true on a match; false also if
     * the input is not what FingerRecord accepts (never throws).
     */
    boolean matches(byte[] enrolled, short eOff, short eLen, byte[] live, short lOff, short lLen) {
        return search(enrolled, eOff, eLen, live, lOff, lLen, true) != 0;
    }

    /**
     * score(R, L) of §11.4: the highest over the compatible views of {@code enrolled}, 0 when
     * none is (for tests and diagnostics: it does not stop at the decision). Same arguments as
     * {@link #matches}; -1 if they are not what FingerRecord accepts.
     */
    short score(byte[] enrolled, short eOff, short eLen, byte[] live, short lOff, short lLen) {
        return search(enrolled, eOff, eLen, live, lOff, lLen, false);
    }

    /** Decision mode: 1 on a match, else 0. Score mode: the score. -1 on unusable input. */
    private short search(byte[] enrolled, short eOff, short eLen, byte[] live, short lOff,
            short lLen, boolean decide) {
        try {
            short record = lOff;
            if (lLen > 0 && live[lOff] == (byte) 0x7F) {
                record = FingerRecord.recordOffset(live, lOff, lLen);
                if (record < 0) {
                    return -1;
                }
            }
            // The live view: finger position, count, minutiae.
            short liveView = (short) (record + FingerRecord.HEADER);
            short livePosition = (short) (live[liveView] & 0xFF);
            short k = used(live[(short) (liveView + 3)]);
            short liveMinutiae = (short) (liveView + 4);
            sortByAngle(live, liveMinutiae, k);

            short views = (short) (enrolled[(short) (eOff + 22)] & 0xFF);
            short view = (short) (eOff + FingerRecord.HEADER);
            short best = 0;
            for (short v = 0; v < views; v++) {
                short position = (short) (enrolled[view] & 0xFF);
                short count = (short) (enrolled[(short) (view + 3)] & 0xFF);
                short m = used(enrolled[(short) (view + 3)]);
                short minutiae = (short) (view + 4);
                if (position == livePosition || position == 0 || livePosition == 0) {
                    short need = needed(m, k);
                    if (decide) {
                        if (viewBest(enrolled, minutiae, m, live, liveMinutiae, k,
                                (short) (need - 1), need) >= need) {
                            return 1;
                        }
                    } else {
                        short s = viewBest(enrolled, minutiae, m, live, liveMinutiae, k,
                                (short) 0, (short) (m < k ? m : k));
                        if (s > best) {
                            best = s;
                        }
                    }
                }
                view = (short) (minutiae + (short) (count * 6));
                short extended = FingerRecord.getShort(enrolled, view);
                view = (short) ((short) (view + 2) + extended);
            }
            return decide ? 0 : best;
        } catch (ArrayIndexOutOfBoundsException e) {
            return -1;
        } catch (NullPointerException e) {
            return -1;
        }
    }

    /** The number of minutiae of a view the matcher uses: its count, at most 48. */
    private static short used(byte count) {
        short n = (short) (count & 0xFF);
        return n > USED ? USED : n;
    }

    /** max(T, ⌈√(m·k/S)⌉): the smallest score with score ≥ T and S · score² ≥ m · k. */
    static short needed(short m, short k) {
        short product = (short) (m * k); // at most 48 · 48
        short s = THRESHOLD;
        while ((short) (SHARE * (short) (s * s)) < product) {
            s++;
        }
        return s;
    }

    /**
     * The best pairs(i, j) of one reference view, as far as it matters: an anchor stops as soon
     * as its count plus the live minutiae it has left is at most max(best, {@code minFloor})
     * (it cannot exceed that), and the search stops when best reaches {@code stop}. With
     * minFloor = need − 1 and stop = need the result is ≥ need exactly when the view matches;
     * with minFloor = 0 and stop = min(m, k) it is score(R, L).
     */
    private short viewBest(byte[] ref, short rm, short m, byte[] live, short lm, short k,
            short minFloor, short stop) {
        sortByX(ref, rm, m);
        short best = 0;
        short lastDelta = -1;
        for (short delta = 0; delta < 256; delta++) {
            for (short i = 0; i < m; i++) {
                short ai = (short) (ref[(short) ((short) (rm + (short) (i * 6)) + 4)] & 0xFF);
                short target = (short) ((short) (ai - delta) & 0xFF);
                // The live minutiae with angle == target: a run in byAngle.
                short at = firstWithAngle(live, lm, k, target);
                for (; at < k; at++) {
                    short j = byAngle[at];
                    short aj = (short) (live[(short) ((short) (lm + (short) (j * 6)) + 4)] & 0xFF);
                    if (aj != target) {
                        break;
                    }
                    if (delta != lastDelta) {
                        turn(live, lm, k, delta);
                        lastDelta = delta;
                    }
                    short floor = best > minFloor ? best : minFloor;
                    short count = pairs(ref, rm, m, i, live, lm, k, j, delta, floor);
                    if (count > best) {
                        best = count;
                        if (best >= stop) {
                            return best;
                        }
                    }
                }
            }
        }
        return best;
    }

    /**
     * pairs(i, j) of §11.4 for the anchor (r_i, l_j) with rotation {@code delta}, the live view
     * turned by it in turnedX/turnedY — or any number not above {@code floor} once the count
     * cannot exceed it.
     */
    private short pairs(byte[] ref, short rm, short m, short i, byte[] live, short lm, short k,
            short j, short delta, short floor) {
        Util.arrayFillNonAtomic(paired, (short) 0, m, (byte) 0);
        short ri = (short) (rm + (short) (i * 6));
        short xr = (short) (FingerRecord.getShort(ref, ri) & 0x3FFF);
        short yr = (short) (FingerRecord.getShort(ref, (short) (ri + 2)) & 0x3FFF);
        short xj = turnedX[j];
        short yj = turnedY[j];
        // x' = xr + (turnedX[q] - xj) is a reference position only if within -D..16382+D;
        // the difference of two turned points is at most 23 170 (|l_q - l_j| · 1.0001 + 1).
        short xHigh = (short) ((short) (MAX_COORDINATE + DISTANCE) - xr);
        short xLow = (short) ((short) (-DISTANCE) - xr);
        short yHigh = (short) ((short) (MAX_COORDINATE + DISTANCE) - yr);
        short yLow = (short) ((short) (-DISTANCE) - yr);
        short count = 0;
        for (short q = 0; q < k; q++) {
            // count + live minutiae left (k - q) ≤ floor: this anchor cannot beat floor.
            if ((short) (count + (short) (k - q)) <= floor) {
                break;
            }
            short dx = (short) (turnedX[q] - xj);
            short dy = (short) (turnedY[q] - yj);
            if (dx > xHigh || dx < xLow || dy > yHigh || dy < yLow) {
                continue;
            }
            short x = (short) (xr + dx);
            short y = (short) (yr + dy);
            short a = (short) ((short) (liveAngle(live, lm, q) + delta) & 0xFF);
            short p = nearest(ref, rm, m, x, y, a);
            if (p >= 0) {
                paired[p] = 1;
                count++;
            }
        }
        return count;
    }

    /**
     * The unpaired reference minutia p with (x − x_p)² + (y − y_p)² ≤ D² and an angle within A
     * of {@code a}, the smallest squared distance, then the smallest p; -1 if none.
     */
    private short nearest(byte[] ref, short rm, short m, short x, short y, short a) {
        // First in byX with x_p ≥ x − D.
        short low = 0;
        short high = m;
        short from = (short) (x - DISTANCE);
        while (low < high) {
            short mid = (short) ((short) (low + high) >> 1);
            if (refX(ref, rm, byX[mid]) < from) {
                low = (short) (mid + 1);
            } else {
                high = mid;
            }
        }
        short bestP = -1;
        short bestD2 = 0;
        for (short s = low; s < m; s++) {
            short p = byX[s];
            short at = (short) (rm + (short) (p * 6));
            short ex = (short) ((short) (FingerRecord.getShort(ref, at) & 0x3FFF) - x);
            if (ex > DISTANCE) {
                break;
            }
            if (paired[p] != 0) {
                continue;
            }
            short ey = (short) ((short) (FingerRecord.getShort(ref, (short) (at + 2)) & 0x3FFF) - y);
            if (ey > DISTANCE || ey < (short) (-DISTANCE)) {
                continue;
            }
            short d = (short) ((short) (a - (short) (ref[(short) (at + 4)] & 0xFF)) & 0xFF);
            if (d > ANGLE && d < (short) (256 - ANGLE)) {
                continue;
            }
            short d2 = (short) ((short) (ex * ex) + (short) (ey * ey));
            if (d2 > (short) (DISTANCE * DISTANCE)) {
                continue;
            }
            if (bestP < 0 || d2 < bestD2 || (d2 == bestD2 && p < bestP)) {
                bestP = p;
                bestD2 = d2;
            }
        }
        return bestP;
    }

    /** x of reference minutia p. */
    private static short refX(byte[] ref, short rm, short p) {
        return (short) (FingerRecord.getShort(ref, (short) (rm + (short) (p * 6))) & 0x3FFF);
    }

    /** Sorts the reference minutiae 0..m-1 by x, then by index (insertion sort: stable). */
    private void sortByX(byte[] ref, short rm, short m) {
        for (short s = 0; s < m; s++) {
            short p = s;
            short x = refX(ref, rm, p);
            short t = s;
            while (t > 0 && refX(ref, rm, byX[(short) (t - 1)]) > x) {
                byX[t] = byX[(short) (t - 1)];
                t--;
            }
            byX[t] = (byte) p;
        }
    }

    /** Sorts the live minutiae 0..k-1 by angle, then by index (insertion sort: stable). */
    private void sortByAngle(byte[] live, short lm, short k) {
        for (short s = 0; s < k; s++) {
            short a = liveAngle(live, lm, s);
            short t = s;
            while (t > 0 && liveAngle(live, lm, byAngle[(short) (t - 1)]) > a) {
                byAngle[t] = byAngle[(short) (t - 1)];
                t--;
            }
            byAngle[t] = (byte) s;
        }
    }

    private static short liveAngle(byte[] live, short lm, short q) {
        return (short) (live[(short) ((short) (lm + (short) (q * 6)) + 4)] & 0xFF);
    }

    /** The first position in byAngle whose live angle is ≥ {@code angle} (k if none). */
    private short firstWithAngle(byte[] live, short lm, short k, short angle) {
        short low = 0;
        short high = k;
        while (low < high) {
            short mid = (short) ((short) (low + high) >> 1);
            if (liveAngle(live, lm, byAngle[mid]) < angle) {
                low = (short) (mid + 1);
            } else {
                high = mid;
            }
        }
        return low;
    }

    /** 2^14 · sin(2πn/256) from the quarter table, n = 0..255. */
    private static short sin(short n) {
        short quadrant = (short) ((short) (n >> 6) & 3);
        short within = (short) (n & 63);
        short folded = (short) (quadrant & 1) == 0 ? within : (short) (64 - within);
        short magnitude = SIN[folded];
        return quadrant < 2 ? magnitude : (short) (-magnitude);
    }

    /**
     * Turns the live minutiae 0..k-1 about the image origin by {@code delta}: x' =
     * round((x·C + y·S) / 2^14), y' = round((y·C − x·S) / 2^14), halves up, with (C, S) =
     * 2^14 · (cos, sin) from the table. Every product is exact.
     */
    private void turn(byte[] live, short lm, short k, short delta) {
        short c = sin((short) ((short) (delta + 64) & 0xFF));
        short s = sin(delta);
        short negS = (short) (-s);
        for (short q = 0; q < k; q++) {
            short at = (short) (lm + (short) (q * 6));
            short x = (short) (FingerRecord.getShort(live, at) & 0x3FFF);
            short y = (short) (FingerRecord.getShort(live, (short) (at + 2)) & 0x3FFF);
            acc[0] = 0;
            acc[1] = 0;
            multiplyAdd(x, c);
            multiplyAdd(y, s);
            turnedX[q] = rounded();
            acc[0] = 0;
            acc[1] = 0;
            multiplyAdd(y, c);
            multiplyAdd(x, negS);
            turnedY[q] = rounded();
        }
    }

    /**
     * acc += v · c, exactly, for 0 ≤ v < 2^14 and |c| ≤ 2^14: v and |c| split in 7-bit halves,
     * whose products and sums all fit a short, and the product kept as hi · 2^14 + lo.
     */
    private void multiplyAdd(short v, short c) {
        boolean negative = c < 0;
        short magnitude = negative ? (short) (-c) : c;
        short vh = (short) (v >> 7);
        short vl = (short) (v & 0x7F);
        short ch = (short) (magnitude >> 7); // up to 128
        short cl = (short) (magnitude & 0x7F);
        short lo = (short) (vl * cl); // ≤ 16 129
        short mid = (short) ((short) (vh * cl) + (short) (vl * ch)); // ≤ 32 385
        lo = (short) (lo + (short) ((short) (mid & 0x7F) << 7)); // ≤ 32 385
        short hi = (short) ((short) ((short) (vh * ch) + (short) (mid >> 7)) + (short) (lo >> 14));
        lo = (short) (lo & 0x3FFF);
        if (negative) {
            if (lo == 0) {
                hi = (short) (-hi);
            } else {
                hi = (short) ((short) (-hi) - 1);
                lo = (short) (0x4000 - lo);
            }
        }
        short sum = (short) (acc[1] + lo); // < 2^15
        acc[0] = (short) ((short) (acc[0] + hi) + (short) (sum >> 14));
        acc[1] = (short) (sum & 0x3FFF);
    }

    /** The live minutia at (x, y) turned about the origin by delta: x' (for tests). */
    short turnX(short x, short y, short delta) {
        acc[0] = 0;
        acc[1] = 0;
        multiplyAdd(x, sin((short) ((short) (delta + 64) & 0xFF)));
        multiplyAdd(y, sin(delta));
        return rounded();
    }

    /** The live minutia at (x, y) turned about the origin by delta: y' (for tests). */
    short turnY(short x, short y, short delta) {
        acc[0] = 0;
        acc[1] = 0;
        multiplyAdd(y, sin((short) ((short) (delta + 64) & 0xFF)));
        multiplyAdd(x, (short) (-sin(delta)));
        return rounded();
    }

    /** ⌊acc / 2^14 + 1/2⌋: hi, plus one when the fraction lo / 2^14 is at least a half. */
    private short rounded() {
        return acc[1] >= 0x2000 ? (short) (acc[0] + 1) : acc[0];
    }
}
