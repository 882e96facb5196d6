package ir.melli.applet;

import static org.junit.jupiter.api.Assertions.assertEquals;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;

/** Walk-through A of the spec README, on a {@link TestCard}, for the tests. */
final class Personalizer {
    /** DG1 of spec §5.1 (159 bytes). */
    static final String DG1 = "E1819CDF000101DF010A30343939333730383939DF0206D8B9D984DB8CDF030FD986DB8CDAA9E280"
            + "8CD986D8A7D985DF0403416C69DF05064E696B6E616DDF0608D985D8ADD985D8AFDF07084D6F6861"
            + "6D6D6164DF08014DDF09083133363830343135DF0A0AD8AAD987D8B1D8A7D986DF0B065465687261"
            + "6EDF0C0431323334DF0D083134303330353230DF0E083134313030353230DF0F0641374B323951";
    static final String PIN = "313233343536FFFFFFFFFFFFFFFFFFFF";
    static final String PUK = "3132333435363738FFFFFFFFFFFFFFFF";

    final TestCard card;
    final HostSm sm;
    String signingKey;
    String chipAuthKey;

    Personalizer(TestCard card) {
        this.card = card;
        this.sm = new HostSm(card);
    }

    static byte[] fixture(String name) {
        try {
            return Files.readAllBytes(Path.of("../../fixtures/fingerprints", name));
        } catch (IOException e) {
            throw new IllegalStateException(e);
        }
    }

    static byte[] filler(int n, int seed) {
        byte[] b = new byte[n];
        for (int i = 0; i < n; i++) {
            b[i] = (byte) (i * 31 + seed);
        }
        return b;
    }

    static byte[] dg1() {
        return HostSm.hex(DG1);
    }

    /** Selects the AID and authenticates: the card is PERSONALIZING with a channel open. */
    void open() {
        assertEquals("9000", card.send("00A4040C07F04D454C4C4901"));
        assertEquals("9000", TestCard.sw(sm.authenticate()));
    }

    void write(int fid, byte[] content) {
        assertEquals("9000", sm.send(0xA4, 0x02, 0x0C, new byte[] {(byte) (fid >> 8), (byte) fid}, 0));
        assertEquals("9000", sm.send(0x0E, 0, 0, null, 0));
        for (int off = 0; off < content.length; off += 1007) {
            byte[] chunk = Arrays.copyOfRange(content, off, Math.min(content.length, off + 1007));
            assertEquals("9000", sm.send(0xD6, off >> 8, off & 0xFF, chunk, 0), "write " + fid);
        }
    }

    /** Everything but ACTIVATE FILE. */
    void personalize() {
        open();
        String k1 = sm.send(0x47, 0x80, 0x01, null, 256);
        assertEquals("9000", TestCard.sw(k1));
        signingKey = TestCard.data(k1);
        String k2 = sm.send(0x47, 0x80, 0x02, null, 256);
        assertEquals("9000", TestCard.sw(k2));
        chipAuthKey = TestCard.data(k2);
        write(0x0101, dg1());
        write(0x0102, filler(5000, 1));
        write(0x0103, fixture("finger-1.fmr"));
        write(0x0104, filler(74, 2));
        write(0x0106, filler(1200, 3));
        write(0x011D, filler(1500, 4));
        assertEquals("9000", sm.send(0x24, 0x01, 0x81, HostSm.hex(PIN), 0));
        assertEquals("9000", sm.send(0x24, 0x01, 0x82, HostSm.hex(PUK), 0));
    }

    /** A complete, OPERATIONAL card; the application selected afresh. */
    static Personalizer operational() {
        Personalizer p = new Personalizer(new TestCard());
        p.personalize();
        assertEquals("9000", p.sm.send(0x44, 0, 0, null, 0));
        assertEquals("059000", p.card.send("00CADF0200"));
        assertEquals("9000", p.card.send("00A4040C07F04D454C4C4901"));
        return p;
    }
}
