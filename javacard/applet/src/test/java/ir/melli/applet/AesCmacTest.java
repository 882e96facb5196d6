package ir.melli.applet;

import static ir.melli.applet.SecureChannelTest.aesKey;
import static ir.melli.applet.SecureChannelTest.h;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.Arrays;
import java.util.Random;
import javacard.security.AESKey;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/** AesCmac against RFC 4493 §4, on the native path and on the fallback construction. */
class AesCmacTest {

    static final byte[] KEY = h("2b7e151628aed2a6abf7158809cf4f3c");
    static final byte[] MESSAGE = h("6bc1bee22e409f96e93d7e117393172a"
            + "ae2d8a571e03ac9c9eb76fac45af8e51"
            + "30c81c46a35ce411e5fbc1191a0a52ef"
            + "f69f2445df4f9b17ad2b417be66c3710");
    /** RFC 4493 examples 1–4: message lengths 0, 16, 40, 64. */
    static final int[] LENGTHS = {0, 16, 40, 64};
    static final String[] TAGS = {
        "bb1d6929e95937287fa37d129b756746",
        "070a16b46b4d4144f79bdd9dd04a287c",
        "dfa66747de9ae63030ca32611497c827",
        "51f0bebf7e3b9d92fc49741779363cfe",
    };

    AesCmac cmac;
    AESKey key;

    void setUp(boolean allowNative) {
        SecureChannelTest.Sim.start();
        cmac = new AesCmac(allowNative);
        assertEquals(allowNative, cmac.isNative(), "jCardSim 3.0.5.11 has ALG_AES_CMAC_128");
        key = aesKey(KEY);
    }

    @ParameterizedTest(name = "native: {0}")
    @ValueSource(booleans = {true, false})
    void rfc4493Vectors(boolean allowNative) {
        setUp(allowNative);
        for (int i = 0; i < LENGTHS.length; i++) {
            byte[] in = new byte[LENGTHS[i] + 10];
            System.arraycopy(MESSAGE, 0, in, 3, LENGTHS[i]);
            byte[] out = new byte[20];
            assertEquals(16, cmac.compute(key, in, (short) 3, (short) LENGTHS[i], out, (short) 2));
            assertArrayEquals(h(TAGS[i]), Arrays.copyOfRange(out, 2, 18), "example " + (i + 1));
            // The input is left as it was.
            assertArrayEquals(Arrays.copyOf(MESSAGE, LENGTHS[i]),
                    Arrays.copyOfRange(in, 3, 3 + LENGTHS[i]));
        }
    }

    /** init / update… / doFinal in pieces of every size equals the one-shot tag (and BC's). */
    @ParameterizedTest(name = "native: {0}")
    @ValueSource(booleans = {true, false})
    void piecesGiveTheSameTag(boolean allowNative) {
        setUp(allowNative);
        Random random = new Random(4493);
        byte[] keyBytes = new byte[16];
        for (int round = 0; round < 300; round++) {
            random.nextBytes(keyBytes);
            AESKey k = aesKey(keyBytes);
            int n = random.nextInt(120);
            byte[] message = new byte[n];
            random.nextBytes(message);
            byte[] expected = SecureChannelTest.Host.cmac(keyBytes, message);

            byte[] out = new byte[16];
            cmac.compute(k, message, (short) 0, (short) n, out, (short) 0);
            assertArrayEquals(expected, out, "one shot, n = " + n);

            cmac.init(k);
            int at = 0;
            while (at < n && random.nextInt(4) != 0) {
                int piece = Math.min(n - at, random.nextInt(40));
                cmac.update(message, (short) at, (short) piece);
                at += piece;
            }
            Arrays.fill(out, (byte) 0);
            cmac.doFinal(message, (short) at, (short) (n - at), out, (short) 0);
            assertArrayEquals(expected, out, "pieces, n = " + n);
        }
    }

    /** §10.1 of the specification: the static keys of the worked example. */
    @ParameterizedTest(name = "native: {0}")
    @ValueSource(booleans = {true, false})
    void staticKeyDerivationOfTheSpec(boolean allowNative) {
        setUp(allowNative);
        byte[] serial = "MELLI0000000001".getBytes(java.nio.charset.StandardCharsets.US_ASCII);
        byte[] in = new byte[16];
        System.arraycopy(serial, 0, in, 1, 15);
        byte[] out = new byte[16];
        in[0] = 1;
        cmac.compute(key, in, (short) 0, (short) 16, out, (short) 0);
        assertArrayEquals(SecureChannelTest.K_ENC, out);
        in[0] = 2;
        cmac.compute(key, in, (short) 0, (short) 16, out, (short) 0);
        assertArrayEquals(SecureChannelTest.K_MAC, out);
    }

    @Test
    void defaultConstructorPrefersTheNativeAlgorithm() {
        SecureChannelTest.Sim.start();
        assertTrue(new AesCmac().isNative());
        assertFalse(new AesCmac(false).isNative());
    }
}
