package ir.melli.platform;

/**
 * The part of spec §4.2 a card's operating system does before an applet sees an APDU, for
 * jCardSim, which cannot take a malformed APDU: a malformed one (or one with Nc > 1024) is
 * answered here with the status word the Rust card gives (6E00 for a bad CLA, 6D00 for an
 * unknown INS, else 6700), and an extended Le is mapped to what a Java Card applet sees:
 * `0000` (65 536) becomes 7FFF, the platform's "wildcard" (Ne capped to a short), and an
 * explicit Le of 7FFF or more becomes 7FFE (still larger than any answer of this card).

 */
public final class Gate {
    private Gate() {
    }

    private static final byte[] KNOWN_INS = {
        0x0E, 0x20, 0x24, 0x2A, 0x2C, 0x44, 0x47, (byte) 0x82, (byte) 0x84, (byte) 0x88,
        (byte) 0xA4, (byte) 0xB0, (byte) 0xB1, (byte) 0xC0, (byte) 0xCA, (byte) 0xD6, (byte) 0xD7,
        (byte) 0xE6
    };

    /** The status word to answer without the applet, or -1 to forward {@link #map}'s bytes. */
    public static int precheck(byte[] apdu) {
        if (apdu.length < 4) {
            return 0x6700;
        }
        int nc = commandDataLength(apdu);
        if (nc >= 0 && nc <= 1024) {
            return -1;
        }
        int cla = apdu[0] & 0xEF;
        if (cla != 0x00 && cla != 0x0C) {
            return 0x6E00;
        }
        boolean known = false;
        for (byte ins : KNOWN_INS) {
            known |= ins == apdu[1];
        }
        return known ? 0x6700 : 0x6D00;
    }

    /**
     * Sends one APDU as a card would get it: a malformed one is answered here, after the
     * applet was shown a stand-in `FF INS 00 00` (which it refuses with 6E00) so that it applies
     * what the Rust card does on the receipt of any APDU (pending data discarded unless INS is
     * C0, the challenge cleared, the chain discarded, the channel closed by INS 82); a malformed
     * protected APDU also closes the channel (a second stand-in `FF 82 00 00`, not sent for INS
     * C0, whose pending data must stay).
     */
    public static byte[] transmit(java.util.function.UnaryOperator<byte[]> card, byte[] apdu) {
        int sw = precheck(apdu);
        if (sw < 0) {
            return card.apply(map(apdu));
        }
        byte ins = apdu.length >= 2 ? apdu[1] : 0;
        card.apply(new byte[] {(byte) 0xFF, ins, 0, 0});
        if (apdu.length >= 1) {
            int cla = apdu[0] & 0xEF;
            if ((cla == 0x0C) && ins != (byte) 0xC0) {
                card.apply(new byte[] {(byte) 0xFF, (byte) 0x82, 0, 0});
            }
        }
        return new byte[] {(byte) (sw >> 8), (byte) sw};
    }

    /** Nc of a well-formed APDU (§4.2), or -1. */
    static int commandDataLength(byte[] b) {
        int n = b.length;
        if (n < 4) {
            return -1;
        }
        if (n == 4 || n == 5) {
            return 0;
        }
        int b4 = b[4] & 0xFF;
        if (b4 != 0) {
            if (n == 5 + b4 || n == 6 + b4) {
                return b4;
            }
            return -1;
        }
        if (n == 6) {
            return -1;
        }
        if (n == 7) {
            return 0;
        }
        int lc = ((b[5] & 0xFF) << 8) | (b[6] & 0xFF);
        if (lc == 0) {
            return -1;
        }
        if (n == 7 + lc || n == 9 + lc) {
            return lc;
        }
        return -1;
    }

    /** The APDU as the applet gets it: extended Le mapped (see the class comment). */
    public static byte[] map(byte[] apdu) {
        byte[] b = apdu.clone();
        int n = b.length;
        boolean extendedLe = n >= 7 && (b[4] == 0) && (n == 7 || n == 9 + (((b[5] & 0xFF) << 8) | (b[6] & 0xFF)));
        if (extendedLe) {
            int le = ((b[n - 2] & 0xFF) << 8) | (b[n - 1] & 0xFF);
            int mapped = le == 0 ? 0x7FFF : Math.min(le, 0x7FFE);
            b[n - 2] = (byte) (mapped >> 8);
            b[n - 1] = (byte) mapped;
        }
        return b;
    }
}
