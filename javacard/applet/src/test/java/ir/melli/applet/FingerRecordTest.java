package ir.melli.applet;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.Random;

import org.junit.jupiter.api.Test;

/** The record checks never throw, whatever the bytes, offsets and lengths. */
class FingerRecordTest {
    @Test
    void randomAndDamagedInputNeverThrow() throws Exception {
        Random random = new Random(5);
        byte[] good = MatcherVectorsTest.hex(
                java.nio.file.Files.readAllLines(MatcherVectorsTest.VECTORS).stream()
                        .filter(l -> l.startsWith("match finger-1-vs-live "))
                        .findFirst().orElseThrow().split(" ")[5]);
        byte[] template = MatcherVectorsTest.template(good);
        Matcher matcher = new Matcher();
        for (int t = 0; t < 20000; t++) {
            byte[] b = (t % 2 == 0 ? template : good).clone();
            for (int e = random.nextInt(4); e >= 0; e--) {
                b[random.nextInt(b.length)] = (byte) random.nextInt(256);
            }
            short len = (short) random.nextInt(b.length + 1);
            short sw = FingerRecord.checkLiveTemplate(b, (short) 0, len);
            assertTrue(sw == (short) 0x9000 || sw == (short) 0x6A80);
            short sw2 = FingerRecord.checkEnrolledRecord(b, (short) 0, len);
            assertTrue(sw2 == (short) 0x9000 || sw2 == (short) 0x6981);
            if (sw2 == (short) 0x9000) {
                matcher.matches(b, (short) 0, len, good, (short) 0, (short) good.length);
            }
        }
        // Offsets and lengths outside the buffer are refused, not thrown on.
        assertEquals((short) 0x6A80, FingerRecord.checkLiveTemplate(template, (short) 5, (short) template.length));
        assertEquals((short) 0x6981, FingerRecord.checkEnrolledRecord(good, (short) -1, (short) 30));
        assertEquals((short) 0x6981, FingerRecord.checkEnrolledRecord(null, (short) 0, (short) 0));
        assertEquals((short) 0x6A80, FingerRecord.checkLiveTemplate(template, (short) 0, (short) -3));
    }
}
