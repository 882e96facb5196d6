package ir.melli.applet;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Random;
import javacard.security.ECPrivateKey;
import org.junit.jupiter.api.Test;

/**
 * After the Rust card's tests/robustness.rs and secrets.rs: arbitrary APDUs always get a status
 * word of §4.5 (never an escaped exception's bare 6F00 from the platform: the applet maps every
 * exception itself) and leave a card that still selects; and no command of the whole
 * instruction space returns a secret (§8.6).
 */
class RobustnessTest {
    static boolean allowed(int sw) {
        int[] exact = {0x9000, 0x6282, 0x6581, 0x6700, 0x6883, 0x6981, 0x6982, 0x6983, 0x6985,
            0x6986, 0x6987, 0x6988, 0x6A80, 0x6A81, 0x6A82, 0x6A84, 0x6A86, 0x6A88, 0x6B00, 0x6D00,
            0x6E00, 0x6F00};
        for (int e : exact) {
            if (sw == e) {
                return true;
            }
        }
        return sw >> 8 == 0x61 || sw >> 8 == 0x6C || (sw & 0xFFF0) == 0x63C0;
    }

    static final String[] USEFUL = {
        "00A4040C07F04D454C4C4901", "00A4040407F04D454C4C490100", "00A4040407F04D454C4C4901",
        "00A4000C020101", "00A4000C020102", "00A4000C020103", "00B0000000", "00B0820000000000",
        "00B1010203540100 00", "00C0000000", "0084000010", "10A4040C03F04D45",
    };

    static byte[] randomApdu(Random r) {
        if (r.nextInt(4) == 0) {
            return HostSm.hex(USEFUL[r.nextInt(USEFUL.length)].replace(" ", ""));
        }
        byte[] header = new byte[4];
        r.nextBytes(header);
        if (r.nextInt(3) > 0) {
            header[0] = (byte) new int[] {0x00, 0x0C, 0x10, 0x1C}[r.nextInt(4)];
            header[1] = RustApduScriptsTest.INSTRUCTIONS[r.nextInt(18)];
        }
        switch (r.nextInt(6)) {
            case 0:
                return header;
            case 1:
                return HostSm.cat(header, new byte[] {(byte) r.nextInt(256)});
            case 2: {
                byte[] data = new byte[1 + r.nextInt(255)];
                r.nextBytes(data);
                byte[] apdu = HostSm.cat(header, new byte[] {(byte) data.length}, data);
                return r.nextBoolean() ? apdu : HostSm.cat(apdu, new byte[] {(byte) r.nextInt(256)});
            }
            case 3:
                return HostSm.cat(header, new byte[] {0, (byte) r.nextInt(256), (byte) r.nextInt(256)});
            case 4: {
                byte[] data = new byte[1 + r.nextInt(1100)];
                r.nextBytes(data);
                byte[] apdu = HostSm.cat(header, new byte[] {0, (byte) (data.length >> 8), (byte) data.length}, data);
                return r.nextBoolean() ? apdu : HostSm.cat(apdu, new byte[] {(byte) r.nextInt(256), (byte) r.nextInt(256)});
            }
            default: {
                byte[] junk = new byte[r.nextInt(12)];
                r.nextBytes(junk);
                return junk;
            }
        }
    }

    private static void stillSelects(TestCard card) {
        card.send("00C0000000");
        assertEquals("9000", card.send("00A4040C07F04D454C4C4901"));
        assertTrue(card.send("00CADF0200").endsWith("9000"));
    }

    @Test
    void arbitraryApdusAlwaysGetAStatusWordOfTheSpec() {
        Random r = new Random(20261202);
        for (int round = 0; round < 40; round++) {
            TestCard card = round % 2 == 0 ? new TestCard() : Personalizer.operational().card;
            for (int i = 0; i < 150; i++) {
                byte[] apdu = randomApdu(r);
                byte[] response = card.transmit(apdu);
                assertTrue(response.length >= 2, HostSm.hex(apdu));
                int sw = ((response[response.length - 2] & 0xFF) << 8) | (response[response.length - 1] & 0xFF);
                assertTrue(allowed(sw), HostSm.hex(apdu) + " -> " + Integer.toHexString(sw));
            }
            stillSelects(card);
        }
    }

    private static List<byte[]> secrets(Personalizer p) {
        List<byte[]> out = new ArrayList<>();
        out.add(TestCard.K_ENC);
        out.add(TestCard.K_MAC);
        out.add(HostSm.hex(Personalizer.PIN));
        out.add(HostSm.hex(Personalizer.PUK));
        byte[] record = Personalizer.fixture("finger-1.fmr");
        out.add(Arrays.copyOfRange(record, 24, 40));
        for (byte which : new byte[] {Keys.SIGNING, Keys.CHIP_AUTH}) {
            byte[] s = new byte[32];
            Dispatcher d = p.card.insides();
            javacard.security.KeyPair pair = keyPair(d.keys, which);
            ((ECPrivateKey) pair.getPrivate()).getS(s, (short) 0);
            out.add(Arrays.copyOf(s, 16));
        }
        return out;
    }

    private static javacard.security.KeyPair keyPair(Keys keys, byte which) {
        try {
            java.lang.reflect.Field f = Keys.class.getDeclaredField("pairs");
            f.setAccessible(true);
            return ((javacard.security.KeyPair[]) f.get(keys))[which];
        } catch (ReflectiveOperationException e) {
            throw new IllegalStateException(e);
        }
    }

    private static boolean contains(byte[] haystack, byte[] needle) {
        outer:
        for (int i = 0; i + needle.length <= haystack.length; i++) {
            for (int j = 0; j < needle.length; j++) {
                if (haystack[i + j] != needle[j]) {
                    continue outer;
                }
            }
            return true;
        }
        return false;
    }

    @Test
    void noCommandReturnsASecretOfAPersonalizedCard() {
        Personalizer p = Personalizer.operational();
        List<byte[]> secrets = secrets(p);
        TestCard card = p.card;
        String[] bodies = {"", "00", "0000", "10" + Personalizer.PIN, "10" + Personalizer.PUK,
            "20" + Personalizer.PUK + Personalizer.PIN, "20" + "AB".repeat(32) + "00", "0354010000",
            "00000000"};
        byte[][] p1p2 = {{0, 0}, {0, (byte) 0x81}, {0, (byte) 0x82}, {0, (byte) 0x83}, {1, (byte) 0x81},
            {(byte) 0x80, 1}, {(byte) 0x81, 1}, {(byte) 0x81, 2}, {(byte) 0x83, 0}, {(byte) 0x9E, (byte) 0x9A},
            {0, 2}, {1, 3}, {(byte) 0xDF, 1}, {(byte) 0xDF, 4}, {(byte) 0x7F, (byte) 0x61}};
        for (int ins = 0; ins < 256; ins++) {
            for (byte[] pp : p1p2) {
                for (String body : bodies) {
                    for (int cla : new int[] {0x00, 0x0C}) {
                        byte[] apdu = HostSm.cat(new byte[] {(byte) cla, (byte) ins, pp[0], pp[1]},
                                HostSm.hex(body));
                        byte[] response = card.transmit(apdu);
                        for (byte[] secret : secrets) {
                            assertFalse(contains(response, secret), HostSm.hex(apdu));
                        }
                    }
                }
            }
            if (ins % 32 == 0) {
                card.send("00A4040C07F04D454C4C4901");
            }
        }
    }
}
