package ir.melli.applet;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.util.Random;

import org.junit.jupiter.api.Test;

/** The 16-bit arithmetic of the matcher against plain long arithmetic, and its cost. */
class MatcherTest {
    static final int[] SIN = {
        0, 402, 804, 1205, 1606, 2006, 2404, 2801, 3196, 3590, 3981, 4370, 4756, 5139, 5520,
        5897, 6270, 6639, 7005, 7366, 7723, 8076, 8423, 8765, 9102, 9434, 9760, 10080, 10394,
        10702, 11003, 11297, 11585, 11866, 12140, 12406, 12665, 12916, 13160, 13395, 13623,
        13842, 14053, 14256, 14449, 14635, 14811, 14978, 15137, 15286, 15426, 15557, 15679,
        15791, 15893, 15986, 16069, 16143, 16207, 16261, 16305, 16340, 16364, 16379, 16384
    };

    static long sin(int n) {
        n &= 255;
        int within = n & 63;
        long m = SIN[(n >> 6 & 1) == 0 ? within : 64 - within];
        return n < 128 ? m : -m;
    }

    static long round(long v) {
        return Math.floorDiv(v + 8192, 16384);
    }

    @Test
    void tableIsRoundedSine() {
        for (int n = 0; n <= 64; n++) {
            assertEquals(Math.round(16384 * Math.sin(2 * Math.PI * n / 256)), SIN[n]);
        }
    }

    @Test
    void turnsExactly() {
        Matcher matcher = new Matcher();
        Random random = new Random(11);
        int[] edges = {0, 1, 127, 128, 8191, 8192, 16381, 16382, 16383};
        for (int delta = 0; delta < 256; delta++) {
            for (int t = 0; t < 400; t++) {
                int x = t < 81 ? edges[t % 9] : random.nextInt(16384);
                int y = t < 81 ? edges[t / 9] : random.nextInt(16384);
                long c = sin(delta + 64);
                long s = sin(delta);
                assertEquals(round(x * c + y * s), matcher.turnX((short) x, (short) y, (short) delta));
                assertEquals(round(y * c - x * s), matcher.turnY((short) x, (short) y, (short) delta));
            }
        }
    }

    @Test
    void neededIsTheDecision() {
        for (short m = 12; m <= 48; m++) {
            for (short k = 12; k <= 48; k++) {
                int need = Matcher.needed(m, k);
                assertTrue(need >= 12 && 10 * need * need >= m * k);
                assertTrue(need == 12 || 10 * (need - 1) * (need - 1) < m * k);
            }
        }
    }

    /** The slowest vectors, timed on the desktop JVM (the card is some 10⁴ times slower). */
    @Test
    void slowestVectors() throws Exception {
        Matcher matcher = new Matcher();
        for (String line : Files.readAllLines(MatcherVectorsTest.VECTORS)) {
            String[] v = line.split(" ");
            if (!v[0].equals("match") || !(v[1].startsWith("128") || v[1].startsWith("impostor"))) {
                continue;
            }
            byte[] e = MatcherVectorsTest.hex(v[4]);
            byte[] l = MatcherVectorsTest.template(MatcherVectorsTest.hex(v[5]));
            long start = System.nanoTime();
            boolean decision = matcher.matches(e, (short) 0, (short) e.length, l, (short) 0, (short) l.length);
            long micros = (System.nanoTime() - start) / 1000;
            System.out.println(v[1] + ": " + decision + " in " + micros + " µs");
            assertEquals(v[3].equals("1"), decision);
        }
    }
}
