package ir.melli.applet;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.Paths;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.List;

import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

import com.licel.jcardsim.utils.AIDUtil;

/**
 * The shared vectors of the reference card (one file, written by the Rust card's generator and
 * read by both test suites): every score, decision and status word must be the same here.
 */
class MatcherVectorsTest {
    /** The one source of truth, relative to the javacard/applet module (Maven's basedir). */
    static final Path VECTORS = Paths.get("../../crates/melli-card/src/biometric/matcher/vectors.txt");

    static List<String[]> vectors;

    @BeforeAll
    static void read() throws IOException {
        vectors = new ArrayList<>();
        for (String line : Files.readAllLines(VECTORS)) {
            if (!line.isEmpty() && !line.startsWith("#")) {
                vectors.add(line.split(" ", -1));
            }
        }
        // Touch jCardSim so that the javacard.* classes it provides are on the path.
        AIDUtil.create("A000000000");
    }

    static byte[] hex(String s) {
        return HexFormat.of().parseHex(s);
    }

    /** 7F2E { 81 <record> } with the shortest lengths (§11.2). */
    static byte[] template(byte[] record) {
        byte[] inner = tlv(new byte[] {(byte) 0x81}, record);
        return tlv(new byte[] {0x7F, 0x2E}, inner);
    }

    static byte[] tlv(byte[] tag, byte[] value) {
        int n = value.length;
        byte[] length = n < 0x80 ? new byte[] {(byte) n}
                : n < 0x100 ? new byte[] {(byte) 0x81, (byte) n}
                : new byte[] {(byte) 0x82, (byte) (n >> 8), (byte) n};
        byte[] out = new byte[tag.length + length.length + n];
        System.arraycopy(tag, 0, out, 0, tag.length);
        System.arraycopy(length, 0, out, tag.length, length.length);
        System.arraycopy(value, 0, out, tag.length + length.length, n);
        return out;
    }

    /** {@code bytes} at offset 7 of a larger buffer with junk around it. */
    static byte[] embedded(byte[] bytes) {
        byte[] out = new byte[bytes.length + 11];
        java.util.Arrays.fill(out, (byte) 0x5A);
        System.arraycopy(bytes, 0, out, 7, bytes.length);
        return out;
    }

    @Test
    void matcherAgreesWithTheReferenceCard() {
        Matcher matcher = new Matcher();
        int seen = 0;
        for (String[] v : vectors) {
            if (!v[0].equals("match")) {
                continue;
            }
            String name = v[1];
            short score = Short.parseShort(v[2]);
            boolean decision = v[3].equals("1");
            byte[] enrolled = hex(v[4]);
            byte[] live = hex(v[5]);
            byte[] data = template(live);
            short eLen = (short) enrolled.length;
            short lLen = (short) data.length;
            assertEquals((short) 0x9000, FingerRecord.checkEnrolledRecord(enrolled, (short) 0, eLen), name);
            assertEquals((short) 0x9000, FingerRecord.checkLiveTemplate(data, (short) 0, lLen), name);
            assertEquals(score, matcher.score(enrolled, (short) 0, eLen, data, (short) 0, lLen), name);
            assertEquals(decision, matcher.matches(enrolled, (short) 0, eLen, data, (short) 0, lLen), name);
            // The bare record, and both at an offset in larger buffers, give the same.
            assertEquals(decision, matcher.matches(enrolled, (short) 0, eLen, live, (short) 0,
                    (short) live.length), name);
            assertEquals(decision, matcher.matches(embedded(enrolled), (short) 7, eLen,
                    embedded(data), (short) 7, lLen), name);
            assertEquals(score, matcher.score(embedded(enrolled), (short) 7, eLen,
                    embedded(data), (short) 7, lLen), name);
            seen++;
        }
        assertTrue(seen >= 60, "match vectors: " + seen);
    }

    @Test
    void recordChecksAgreeWithTheReferenceCard() {
        int seen = 0;
        for (String[] v : vectors) {
            if (!v[0].equals("record") && !v[0].equals("template")) {
                continue;
            }
            short sw = (short) Integer.parseInt(v[2], 16);
            byte[] bytes = hex(v[3]);
            short len = (short) bytes.length;
            String what = v[0] + " " + v[1];
            if (v[0].equals("record")) {
                assertEquals(sw, FingerRecord.checkEnrolledRecord(bytes, (short) 0, len), what);
                assertEquals(sw, FingerRecord.checkEnrolledRecord(embedded(bytes), (short) 7, len), what);
            } else {
                assertEquals(sw, FingerRecord.checkLiveTemplate(bytes, (short) 0, len), what);
                assertEquals(sw, FingerRecord.checkLiveTemplate(embedded(bytes), (short) 7, len), what);
            }
            seen++;
        }
        assertTrue(seen >= 180, "record vectors: " + seen);
    }
}
