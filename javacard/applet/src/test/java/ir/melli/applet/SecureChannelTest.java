package ir.melli.applet;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.licel.jcardsim.base.Simulator;
import com.licel.jcardsim.base.SimulatorRuntime;
import com.licel.jcardsim.bouncycastle.crypto.engines.AESEngine;
import com.licel.jcardsim.bouncycastle.crypto.macs.CMac;
import com.licel.jcardsim.bouncycastle.crypto.params.KeyParameter;
import java.io.ByteArrayOutputStream;
import java.math.BigInteger;
import java.security.GeneralSecurityException;
import java.security.MessageDigest;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HexFormat;
import java.util.List;
import java.util.Random;
import javacard.framework.ISOException;
import javacard.security.AESKey;
import javacard.security.KeyBuilder;
import javax.crypto.Cipher;
import javax.crypto.spec.IvParameterSpec;
import javax.crypto.spec.SecretKeySpec;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * SecureChannel called directly inside a jCardSim runtime: the §10.7 worked example byte for
 * byte, every error row of the §10.6 table, replay, SSC carry, a 1007-byte command, DO85, DO97.
 * Each test runs with the native CMAC and with the fallback construction.
 */
class SecureChannelTest {

    // ---- §10.7 inputs ----
    static final byte[] K_ENC = h("94 08 97 10 C4 EB B0 44 A0 37 82 FE 8C C9 25 46");
    static final byte[] K_MAC = h("20 CE DC C3 42 7D 61 AA 59 89 74 A0 75 99 1E 08");
    static final byte[] RND_ICC = h("46 08 F9 19 88 70 22 12 AE 2F 1B 5C 6D 7E 8F 90");
    static final byte[] RND_IFD = h("78 17 23 86 0C 06 C2 26 46 08 F9 19 88 70 22 AB");
    static final byte[] K_IFD = h("0B 79 52 40 CB 70 49 B0 1C 19 B3 3E 32 80 4F 0B");
    static final byte[] K_ICC = h("0B 4F 80 32 3E B3 19 1C B0 49 70 CB 40 52 79 0B");
    static final byte[] E_IFD_M_IFD = h("94 21 A0 49 F4 57 62 B4 7A B8 E4 AA D6 05 83 EE"
            + "2F C5 3C 0F B0 77 52 57 13 F1 62 0F 44 67 D9 E1"
            + "6C C2 6B BA D9 1F 3D E3 03 64 04 41 6C 33 04 09 A5 3F D0 4A 0D F7 F4 A9");
    static final byte[] E_ICC_M_ICC = h("2C 6A 8C 50 2D 17 4E B6 43 A4 C7 3D E8 2B 00 15"
            + "0B 74 EC B2 2C B6 1E B5 68 46 4F 63 0D D1 73 2E"
            + "A0 84 15 B7 74 19 2A 9A 0E C0 22 A8 E7 EB 89 72 4C 81 F8 AA 79 F8 B6 BF");
    static final byte[] KS_ENC = h("2C 0D 95 41 B9 3A 77 A7 29 18 12 AA 85 C3 8F E5");
    static final byte[] KS_MAC = h("26 59 4B 2A 91 80 34 45 01 E0 DA 10 F8 4D B6 5E");

    static final String CMD1 = "0C A4 02 0C 1D 87 11 01 4E 2D 87 DD 7F F8 63 59 D8 C0 4D C7 8B 4F"
            + " E6 1C 8E 08 06 04 66 FA 44 C7 3D AA 00";
    static final String RSP1 = "99 02 90 00 8E 08 B9 38 D4 98 58 FD A7 1F";
    static final String CMD2 = "0C D6 00 00 2D 87 21 01 CA 14 C9 68 EE C8 43 F2 86 0D B8 F8 37 E3"
            + " CE 0B E9 27 A0 3F 98 38 56 6C C5 00 B9 16 F0 F4 4B F3 8E 08 56 4E E7 48 76 5C 15 BA 00";
    static final String RSP2 = "99 02 90 00 8E 08 8E EE 27 81 09 AF C2 5D";
    static final String CMD3 = "0C B0 00 00 0D 97 01 08 8E 08 4C C6 43 20 E4 26 18 4F 00";
    static final String RSP3 = "87 11 01 19 CF 54 41 20 76 FA 96 88 73 05 CD A7 29 76 5E 99 02 90 00"
            + " 8E 08 AF F2 14 62 63 8C 7E 83";
    static final byte[] DG1_HEAD = h("E1 81 9C DF 00 01 01 DF 01 0A 30 34 39 39 33 37");

    // ---- helpers usable from the other test classes ----

    static byte[] h(String hex) {
        return HexFormat.of().parseHex(hex.replace(" ", ""));
    }

    static String hex(byte[] bytes) {
        return HexFormat.ofDelimiter(" ").withUpperCase().formatHex(bytes);
    }

    /** A jCardSim runtime made current on this thread, so Java Card classes can be called. */
    static final class Sim extends SimulatorRuntime {
        static Sim start() {
            Sim runtime = new Sim();
            new Simulator(runtime);
            runtime.activateSimulatorRuntimeInstance();
            return runtime;
        }
    }

    static AESKey aesKey(byte[] value) {
        AESKey key = (AESKey) KeyBuilder.buildKey(KeyBuilder.TYPE_AES, KeyBuilder.LENGTH_AES_128,
                false);
        key.setKey(value, (short) 0);
        return key;
    }

    static short sw(ISOException e) {
        return e.getReason();
    }

    /** The host's side of §10.3–§10.5, written independently with javax.crypto and BC. */
    static final class Host {
        final byte[] ksEnc;
        final byte[] ksMac;
        BigInteger ssc = BigInteger.ZERO;

        Host(byte[] ksEnc, byte[] ksMac) {
            this.ksEnc = ksEnc;
            this.ksMac = ksMac;
        }

        static Host fromShares(byte[] kIfd, byte[] kIcc) {
            byte[] seed = new byte[16];
            for (int i = 0; i < 16; i++) {
                seed[i] = (byte) (kIfd[i] ^ kIcc[i]);
            }
            return new Host(kdf(seed, 1), kdf(seed, 2));
        }

        static byte[] kdf(byte[] seed, int counter) {
            try {
                MessageDigest sha = MessageDigest.getInstance("SHA-256");
                sha.update(seed);
                sha.update(new byte[] {0, 0, 0, (byte) counter});
                return Arrays.copyOf(sha.digest(), 16);
            } catch (GeneralSecurityException e) {
                throw new AssertionError(e);
            }
        }

        static byte[] cmac(byte[] key, byte[] message) {
            CMac mac = new CMac(new AESEngine());
            mac.init(new KeyParameter(key));
            mac.update(message, 0, message.length);
            byte[] out = new byte[16];
            mac.doFinal(out, 0);
            return out;
        }

        static byte[] aes(int mode, byte[] key, byte[] iv, byte[] data) {
            try {
                Cipher cipher = Cipher.getInstance("AES/CBC/NoPadding");
                cipher.init(mode, new SecretKeySpec(key, "AES"), new IvParameterSpec(iv));
                return cipher.doFinal(data);
            } catch (GeneralSecurityException e) {
                throw new AssertionError(e);
            }
        }

        static byte[] pad(byte[] data) {
            byte[] out = Arrays.copyOf(data, (data.length / 16 + 1) * 16);
            out[data.length] = (byte) 0x80;
            return out;
        }

        static byte[] cat(byte[]... parts) {
            ByteArrayOutputStream out = new ByteArrayOutputStream();
            for (byte[] part : parts) {
                out.writeBytes(part);
            }
            return out.toByteArray();
        }

        static byte[] tlv(int tag, byte[] value) {
            int n = value.length;
            byte[] length = n < 0x80 ? new byte[] {(byte) n}
                    : n < 0x100 ? new byte[] {(byte) 0x81, (byte) n}
                    : new byte[] {(byte) 0x82, (byte) (n >> 8), (byte) n};
            return cat(new byte[] {(byte) tag}, length, value);
        }

        byte[] nextSsc() {
            ssc = ssc.add(BigInteger.ONE);
            byte[] raw = ssc.toByteArray();
            byte[] out = new byte[16];
            System.arraycopy(raw, Math.max(0, raw.length - 16), out,
                    Math.max(0, 16 - raw.length), Math.min(16, raw.length));
            return out;
        }

        /**
         * The protected data field (§10.4) of CLA INS P1 P2 data Le; le = null for no Le, or
         * {length of DO97 value, Ne}.
         */
        byte[] protect(int ins, int p1, int p2, byte[] data, byte[] do97Value) {
            byte[] ssc = nextSsc();
            byte[] dos = new byte[0];
            if (data != null && data.length > 0) {
                byte[] iv = aes(Cipher.ENCRYPT_MODE, ksEnc, new byte[16], ssc);
                byte[] c = aes(Cipher.ENCRYPT_MODE, ksEnc, iv, pad(data));
                dos = (ins & 1) == 1 ? tlv(0x85, c) : tlv(0x87, cat(new byte[] {1}, c));
            }
            if (do97Value != null) {
                dos = cat(dos, tlv(0x97, do97Value));
            }
            byte[] header = pad(new byte[] {0x0C, (byte) ins, (byte) p1, (byte) p2});
            byte[] n = dos.length == 0 ? cat(ssc, header) : cat(ssc, header, pad(dos));
            byte[] mac = Arrays.copyOf(cmac(ksMac, n), 8);
            return cat(dos, tlv(0x8E, mac));
        }

        /** Checks a protected response (§10.5, host side); returns data ‖ SW1 SW2. */
        byte[] unprotect(int ins, byte[] response) {
            byte[] ssc = nextSsc();
            int pos = 0;
            byte[] data = new byte[0];
            int cryptTag = (ins & 1) == 1 ? 0x85 : 0x87;
            if ((response[0] & 0xFF) == cryptTag) {
                int[] lv = readLength(response, 1);
                byte[] value = Arrays.copyOfRange(response, lv[1], lv[1] + lv[0]);
                byte[] c = cryptTag == 0x87 ? Arrays.copyOfRange(value, 1, value.length) : value;
                if (cryptTag == 0x87) {
                    assertEquals(1, value[0]);
                }
                byte[] iv = aes(Cipher.ENCRYPT_MODE, ksEnc, new byte[16], ssc);
                byte[] plain = aes(Cipher.DECRYPT_MODE, ksEnc, iv, c);
                int last = plain.length - 1;
                while (plain[last] == 0) {
                    last--;
                }
                assertEquals((byte) 0x80, plain[last]);
                data = Arrays.copyOf(plain, last);
                pos = lv[1] + lv[0];
            }
            assertEquals((byte) 0x99, response[pos]);
            assertEquals(2, response[pos + 1]);
            byte[] sw = Arrays.copyOfRange(response, pos + 2, pos + 4);
            pos += 4;
            assertEquals((byte) 0x8E, response[pos]);
            assertEquals(8, response[pos + 1]);
            assertEquals(pos + 10, response.length);
            byte[] mac = Arrays.copyOf(cmac(ksMac, cat(ssc, pad(Arrays.copyOf(response, pos)))),
                    8);
            assertArrayEquals(mac, Arrays.copyOfRange(response, pos + 2, pos + 10), "DO8E");
            return cat(data, sw);
        }

        static int[] readLength(byte[] b, int at) {
            int first = b[at] & 0xFF;
            if (first < 0x80) {
                return new int[] {first, at + 1};
            }
            if (first == 0x81) {
                return new int[] {b[at + 1] & 0xFF, at + 2};
            }
            return new int[] {((b[at + 1] & 0xFF) << 8) | (b[at + 2] & 0xFF), at + 3};
        }
    }

    // ---- fixture ----

    SecureChannel channel;
    AESKey kEnc;
    AESKey kMac;

    void setUp(boolean nativeCmac) {
        Sim.start();
        channel = new SecureChannel(nativeCmac);
        assertEquals(nativeCmac, channel.hasNativeCmac());
        assertFalse(channel.hasPersistentSessionKeys());
        kEnc = aesKey(K_ENC);
        kMac = aesKey(K_MAC);
    }

    /** MUTUAL AUTHENTICATE of §10.7 with its fixed K.ICC. */
    void openExampleChannel() {
        byte[] buf = new byte[300];
        System.arraycopy(E_IFD_M_IFD, 0, buf, 5, 56);
        short n = channel.mutualAuthenticate(kEnc, kMac, RND_ICC, (short) 0, buf, (short) 5,
                (short) 56, K_ICC, (short) 0);
        assertEquals(56, n);
        assertArrayEquals(E_ICC_M_ICC, Arrays.copyOfRange(buf, 5, 61));
        assertTrue(channel.isOpen());
    }

    /** A protected APDU (short or extended form, as hex or bytes) split as the caller would. */
    static final class Apdu {
        final byte[] header;
        final byte[] data;

        Apdu(byte[] apdu) {
            header = Arrays.copyOf(apdu, 4);
            int lc;
            int at;
            if (apdu[4] == 0 && apdu.length > 7) {
                lc = ((apdu[5] & 0xFF) << 8) | (apdu[6] & 0xFF);
                at = 7;
            } else {
                lc = apdu[4] & 0xFF;
                at = 5;
            }
            data = Arrays.copyOfRange(apdu, at, at + lc);
        }
    }

    /** Unwraps; returns the plaintext, or throws the ISOException of the card. */
    byte[] unwrap(byte[] header, byte[] dataField) {
        byte[] buf = new byte[dataField.length + 40];
        System.arraycopy(dataField, 0, buf, 7, dataField.length);
        short n = channel.unwrapCommand(header, (short) 0, buf, (short) 7,
                (short) dataField.length);
        return Arrays.copyOfRange(buf, 7, 7 + n);
    }

    byte[] unwrap(String apdu) {
        Apdu a = new Apdu(h(apdu));
        return unwrap(a.header, a.data);
    }

    /** Wraps the response with the plaintext at offset 3 and the output at offset 3. */
    byte[] wrap(int ins, byte[] data, int sw) {
        byte[] buf = new byte[data.length + 60];
        System.arraycopy(data, 0, buf, 3, data.length);
        short n = channel.wrapResponse((byte) ins, buf, (short) 3, (short) data.length,
                (short) sw, (short) 3);
        assertEquals(SecureChannel.wrappedLength((byte) ins, (short) data.length), n);
        return Arrays.copyOfRange(buf, 3, 3 + n);
    }

    short failingUnwrap(byte[] header, byte[] dataField) {
        ISOException e = assertThrows(ISOException.class, () -> unwrap(header, dataField));
        assertFalse(channel.isOpen(), "the channel closes on any unwrap error");
        return sw(e);
    }

    // ---- §10.7 ----

    @ParameterizedTest(name = "native CMAC: {0}")
    @ValueSource(booleans = {true, false})
    void workedExampleByteForByte(boolean nativeCmac) {
        setUp(nativeCmac);
        openExampleChannel();
        // Session keys: the host of the example, built from the shares, must match §10.3.
        Host host = Host.fromShares(K_IFD, K_ICC);
        assertArrayEquals(KS_ENC, host.ksEnc);
        assertArrayEquals(KS_MAC, host.ksMac);

        assertArrayEquals(h("01 01"), unwrap(CMD1));
        assertEquals(0, channel.expectedLength());
        assertEquals(RSP1, hex(wrap(0xA4, new byte[0], 0x9000)));

        assertArrayEquals(DG1_HEAD, unwrap(CMD2));
        assertEquals(RSP2, hex(wrap(0xD6, new byte[0], 0x9000)));

        assertArrayEquals(new byte[0], unwrap(CMD3));
        assertEquals(8, channel.expectedLength());
        assertTrue(channel.expectedLengthExplicit());
        assertEquals(RSP3, hex(wrap(0xB0, Arrays.copyOf(DG1_HEAD, 8), 0x9000)));

        // The replay of command 3: SSC 7, plain 6988, channel closed; then 6988 for good.
        Apdu replay = new Apdu(h(CMD3));
        assertEquals((short) 0x6988, failingUnwrap(replay.header, replay.data));
        assertEquals((short) 0x6988, failingUnwrap(replay.header, replay.data));
        Apdu first = new Apdu(h(CMD1));
        assertEquals((short) 0x6988, failingUnwrap(first.header, first.data));
    }

    /** The host of these tests computes the same protected APDUs as §10.7 shows. */
    @org.junit.jupiter.api.Test
    void hostOfTheTestsReproducesTheExample() {
        Host host = new Host(KS_ENC, KS_MAC);
        assertArrayEquals(new Apdu(h(CMD1)).data, host.protect(0xA4, 2, 0x0C, h("01 01"), null));
        assertArrayEquals(h("90 00"), host.unprotect(0xA4, h(RSP1)));
        assertArrayEquals(new Apdu(h(CMD2)).data, host.protect(0xD6, 0, 0, DG1_HEAD, null));
        assertArrayEquals(h("90 00"), host.unprotect(0xD6, h(RSP2)));
        assertArrayEquals(new Apdu(h(CMD3)).data, host.protect(0xB0, 0, 0, null, h("08")));
        assertArrayEquals(h("E1 81 9C DF 00 01 01 DF 90 00"), host.unprotect(0xB0, h(RSP3)));
    }

    // ---- MUTUAL AUTHENTICATE ----

    @ParameterizedTest(name = "native CMAC: {0}")
    @ValueSource(booleans = {true, false})
    void mutualAuthenticateWithARandomKeyShare(boolean nativeCmac) {
        setUp(nativeCmac);
        byte[] buf = E_IFD_M_IFD.clone();
        assertEquals(56, channel.mutualAuthenticate(kEnc, kMac, RND_ICC, (short) 0, buf,
                (short) 0, (short) 56));
        assertTrue(channel.isOpen());
        // The host's step 7: M_ICC, then R = RND.ICC ‖ RND.IFD ‖ K.ICC.
        byte[] eIcc = Arrays.copyOf(buf, 48);
        assertArrayEquals(Arrays.copyOf(Host.cmac(K_MAC, eIcc), 8), Arrays.copyOfRange(buf, 48, 56));
        byte[] r = Host.aes(Cipher.DECRYPT_MODE, K_ENC, new byte[16], eIcc);
        assertArrayEquals(RND_ICC, Arrays.copyOf(r, 16));
        assertArrayEquals(RND_IFD, Arrays.copyOfRange(r, 16, 32));
        byte[] kIcc = Arrays.copyOfRange(r, 32, 48);
        assertFalse(Arrays.equals(K_ICC, kIcc));
        Host host = Host.fromShares(K_IFD, kIcc);
        byte[] cmd = host.protect(0xA4, 2, 0x0C, h("01 01"), null);
        assertArrayEquals(h("01 01"), unwrap(h("0C A4 02 0C"), cmd));
        assertArrayEquals(h("90 00"), host.unprotect(0xA4, wrap(0xA4, new byte[0], 0x9000)));
    }

    @ParameterizedTest(name = "native CMAC: {0}")
    @ValueSource(booleans = {true, false})
    void mutualAuthenticateRefusesAWrongMacOrChallengeAndClosesTheChannel(boolean nativeCmac) {
        setUp(nativeCmac);
        // A wrong M_IFD (last byte), with an open channel before: 6982, closed.
        openExampleChannel();
        byte[] bad = E_IFD_M_IFD.clone();
        bad[55] ^= 1;
        ISOException e = assertThrows(ISOException.class, () -> channel.mutualAuthenticate(kEnc,
                kMac, RND_ICC, (short) 0, bad, (short) 0, (short) 56));
        assertEquals((short) 0x6982, sw(e));
        assertFalse(channel.isOpen());
        // A wrong E_IFD byte also breaks the MAC.
        byte[] bad2 = E_IFD_M_IFD.clone();
        bad2[3] ^= 1;
        e = assertThrows(ISOException.class, () -> channel.mutualAuthenticate(kEnc, kMac, RND_ICC,
                (short) 0, bad2, (short) 0, (short) 56));
        assertEquals((short) 0x6982, sw(e));
        // A right MAC over a cryptogram of another challenge: 6982, and S is wiped.
        openExampleChannel();
        byte[] other = RND_ICC.clone();
        other[15] ^= 1;
        byte[] buf = E_IFD_M_IFD.clone();
        e = assertThrows(ISOException.class, () -> channel.mutualAuthenticate(kEnc, kMac, other,
                (short) 0, buf, (short) 0, (short) 56));
        assertEquals((short) 0x6982, sw(e));
        assertFalse(channel.isOpen());
        assertArrayEquals(new byte[56], buf);
        // Wrong static keys: 6982.
        AESKey wrongMac = aesKey(K_ENC);
        e = assertThrows(ISOException.class, () -> channel.mutualAuthenticate(kEnc, wrongMac,
                RND_ICC, (short) 0, E_IFD_M_IFD.clone(), (short) 0, (short) 56));
        assertEquals((short) 0x6982, sw(e));
        // A channel opened by the example survives nothing of the failed attempt: reopen works.
        openExampleChannel();
        assertArrayEquals(h("01 01"), unwrap(CMD1));
    }

    @ParameterizedTest(name = "native CMAC: {0}")
    @ValueSource(booleans = {true, false})
    void closeErasesTheChannel(boolean nativeCmac) {
        setUp(nativeCmac);
        channel.close(); // harmless when closed
        openExampleChannel();
        channel.close();
        assertFalse(channel.isOpen());
        Apdu a = new Apdu(h(CMD1));
        assertEquals((short) 0x6988, failingUnwrap(a.header, a.data));
        ISOException e = assertThrows(ISOException.class, () -> wrap(0xA4, new byte[0], 0x9000));
        assertEquals((short) 0x6F00, sw(e));
        // A new authentication starts again at SSC 0: the example's command 1 is valid again.
        openExampleChannel();
        assertArrayEquals(h("01 01"), unwrap(CMD1));
    }

    // ---- §10.6 table ----

    /** Row 3, every way the data objects can be malformed (the Rust card's list and more). */
    @ParameterizedTest(name = "native CMAC: {0}")
    @ValueSource(booleans = {true, false})
    void row3MalformedObjectsAre6987(boolean nativeCmac) {
        setUp(nativeCmac);
        String mac = "8E08 0102030405060708";
        String block = "00".repeat(16);
        String[][] cases = {
            {"B0", ""},                                         // no data field at all
            {"B0", "8E07 01020304050607"},                      // MAC of 7 bytes
            {"B0", "8E09 010203040506070809"},                  // MAC of 9 bytes
            {"B0", mac + " 00"},                                // something after 8E
            {"B0", mac + " " + mac},                            // 8E twice
            {"B0", "970100"},                                   // no 8E
            {"B0", "970100 970100 " + mac},                     // 97 twice
            {"B0", "9703000000 " + mac},                        // 97 of 3 bytes
            {"B0", "9700 " + mac},                              // 97 empty
            {"B0", mac + " 970100"},                            // wrong order
            {"B0", "970100 8711 01" + block + " " + mac},       // wrong order
            {"D6", "8711 01" + block + " 8711 01" + block + " " + mac}, // 87 twice
            {"D6", "8711 02" + block + " " + mac},              // indicator not 01
            {"D6", "8701 01 " + mac},                           // empty cryptogram
            {"D6", "8700 " + mac},                              // no indicator at all
            {"D6", "8709 0100000000000000 00 " + mac},          // not whole blocks
            {"D6", "8712 01" + block + "00 " + mac},            // 17 bytes of cryptogram
            {"D6", "8510 " + block + " " + mac},                // 85 on an even INS
            {"D7", "8711 01" + block + " " + mac},              // 87 on an odd INS
            {"D7", "8500 " + mac},                              // 85 empty
            {"D7", "850F " + "00".repeat(15) + " " + mac},      // 85 not whole blocks
            {"D6", "8100 " + mac},                              // unknown tag
            {"D6", "5F2000 " + mac},                            // two-byte tag
            {"D6", "9902 9000 " + mac},                         // DO99 in a command
            {"D6", "8781 1101" + block + " " + mac},            // non-minimal length (81)
            {"D6", "8782 001101" + block + " " + mac},          // non-minimal length (82)
            {"D6", "8783 000011 01" + block + " " + mac},       // four-byte length
            {"D6", "8780 " + mac},                              // indefinite length
            {"D6", "8E0801020304"},                             // truncated
            {"D6", "8E"},                                       // tag only
            {"D6", "8E81"},                                     // cut in the length
            {"D6", "8782 01"},                                  // cut in the length
            {"D6", "8782 FFFF " + mac},                         // longer than any data field
            {"D6", "8720 01" + block + " " + mac},              // value past the end... of 87
        };
        for (String[] c : cases) {
            openExampleChannel();
            byte[] header = h("0C " + c[0] + " 00 00");
            short sw = failingUnwrap(header, h(c[1]));
            assertEquals((short) 0x6987, sw, c[0] + " " + c[1]);
        }
        // 1C (a chain, reassembled) is unwrapped like 0C: the MAC is over CLA 0C.
        openExampleChannel();
        Apdu a = new Apdu(h(CMD1));
        a.header[0] = 0x1C;
        assertArrayEquals(h("01 01"), unwrap(a.header, a.data));
    }

    /** Row 2 (the caller's check, repeated here): no open channel answers 6988. */
    @ParameterizedTest(name = "native CMAC: {0}")
    @ValueSource(booleans = {true, false})
    void row2NoChannelIs6988(boolean nativeCmac) {
        setUp(nativeCmac);
        Apdu a = new Apdu(h(CMD1));
        assertEquals((short) 0x6988, failingUnwrap(a.header, a.data));
        assertEquals((short) 0x6988, failingUnwrap(a.header, new byte[0]));
    }

    @ParameterizedTest(name = "native CMAC: {0}")
    @ValueSource(booleans = {true, false})
    void row4WrongMacIs6988(boolean nativeCmac) {
        setUp(nativeCmac);
        // Command 2 of §10.7: 87 21 01 C(32) 8E 08 MAC(8). Every byte of the cryptogram and of
        // the MAC matters (6988); the tag, length and indicator bytes are row 3 (6987).
        byte[] cmd = new Apdu(h(CMD2)).data;
        byte[] header = h("0C D6 00 00");
        for (int i = 0; i < cmd.length; i++) {
            openExampleChannel();
            assertArrayEquals(h("01 01"), unwrap(CMD1)); // SSC 1
            wrap(0xA4, new byte[0], 0x9000);             // SSC 2
            byte[] bad = cmd.clone();
            bad[i] ^= 0x04;
            boolean structural = i <= 2 || i == 35 || i == 36;
            assertEquals(structural ? (short) 0x6987 : (short) 0x6988, failingUnwrap(header, bad),
                    "byte " + i);
        }
        for (int i = 1; i < 4; i++) {
            openExampleChannel();
            unwrap(CMD1);
            wrap(0xA4, new byte[0], 0x9000);
            byte[] badHeader = header.clone();
            badHeader[i] ^= 2; // INS stays even
            assertEquals((short) 0x6988, failingUnwrap(badHeader, cmd), "header byte " + i);
        }
        // Reordered: command 2 sent first (SSC 1 instead of 3).
        openExampleChannel();
        assertEquals((short) 0x6988, failingUnwrap(header, cmd));
    }

    @ParameterizedTest(name = "native CMAC: {0}")
    @ValueSource(booleans = {true, false})
    void row5WrongPaddingIs6988(boolean nativeCmac) {
        setUp(nativeCmac);
        Host host = new Host(KS_ENC, KS_MAC);
        // A well-MACed cryptogram of plaintexts whose padding is wrong.
        byte[][] plains = {
            new byte[16],                                        // all zeros
            h("01 02 03 04 05 06 07 08 09 0A 0B 0C 0D 0E 0F 81"), // 81, not 80
            Host.cat(h("80"), new byte[31]),                     // marker not in the last block
        };
        for (byte[] plain : plains) {
            openExampleChannel();
            host.ssc = BigInteger.ZERO;
            byte[] ssc = host.nextSsc();
            byte[] iv = Host.aes(Cipher.ENCRYPT_MODE, KS_ENC, new byte[16], ssc);
            byte[] c = Host.aes(Cipher.ENCRYPT_MODE, KS_ENC, iv, plain);
            byte[] dos = Host.tlv(0x87, Host.cat(new byte[] {1}, c));
            byte[] n = Host.cat(ssc, Host.pad(h("0C D6 00 00")), Host.pad(dos));
            byte[] field = Host.cat(dos, Host.tlv(0x8E, Arrays.copyOf(Host.cmac(KS_MAC, n), 8)));
            byte[] buf = new byte[field.length];
            System.arraycopy(field, 0, buf, 0, field.length);
            ISOException e = assertThrows(ISOException.class, () -> channel.unwrapCommand(
                    h("0C D6 00 00"), (short) 0, buf, (short) 0, (short) buf.length));
            assertEquals((short) 0x6988, sw(e));
            assertFalse(channel.isOpen());
        }
    }

    // ---- SSC, sizes, DO85, DO97 ----

    @ParameterizedTest(name = "native CMAC: {0}")
    @ValueSource(booleans = {true, false})
    void sscCarriesAcrossAByteBoundary(boolean nativeCmac) {
        setUp(nativeCmac);
        openExampleChannel();
        Host host = new Host(KS_ENC, KS_MAC);
        // 130 exchanges move the SSC from 0 to 260, through FF → 01 00.
        for (int i = 0; i < 130; i++) {
            byte[] data = new byte[] {(byte) i, 1, 2};
            byte[] cmd = host.protect(0xD6, 0, i, data, null);
            assertArrayEquals(data, unwrap2(0xD6, i, cmd));
            byte[] rsp = wrap(0xD6, new byte[0], 0x9000);
            assertArrayEquals(h("90 00"), host.unprotect(0xD6, rsp));
        }
        assertEquals(BigInteger.valueOf(260), host.ssc);
    }

    private byte[] unwrap2(int ins, int p2, byte[] cmd) {
        return unwrap(new byte[] {0x0C, (byte) ins, 0, (byte) p2}, cmd);
    }

    @ParameterizedTest(name = "native CMAC: {0}")
    @ValueSource(booleans = {true, false})
    void aCommandOf1007BytesAndLargeResponses(boolean nativeCmac) {
        setUp(nativeCmac);
        openExampleChannel();
        Host host = new Host(KS_ENC, KS_MAC);
        byte[] data = new byte[1007];
        new Random(7).nextBytes(data);
        byte[] cmd = host.protect(0xD6, 0x01, 0x00, data, null);
        assertEquals(1 + 3 + 1 + 1008 + 10, cmd.length); // 87 82 03 F1 01 … ‖ DO8E: 1023
        assertEquals("87 82 03 F1 01", hex(Arrays.copyOf(cmd, 5)));
        assertArrayEquals(data, unwrap(h("0C D6 01 00"), cmd));
        assertArrayEquals(h("90 00"), host.unprotect(0xD6, wrap(0xD6, new byte[0], 0x9000)));

        // Responses of many sizes, in place (outOff = dOff) and with the plaintext elsewhere.
        Random random = new Random(11);
        for (int n : new int[] {1, 15, 16, 17, 95, 110, 111, 112, 127, 128, 239, 240, 255, 256,
                1007, 1008, 2000}) {
            byte[] plain = new byte[n];
            random.nextBytes(plain);
            byte[] cmdRead = host.protect(0xB0, 0, 0, null, h("00"));
            assertArrayEquals(new byte[0], unwrap(h("0C B0 00 00"), cmdRead));
            assertEquals(256, channel.expectedLength());
            assertFalse(channel.expectedLengthExplicit());
            int room = SecureChannel.wrappedLength((byte) 0xB0, (short) n);
            assertTrue(room <= n + 35, "room " + room + " for " + n);
            byte[] rsp;
            if (n % 2 == 0) {
                rsp = wrap(0xB0, plain, 0x6282);
            } else {
                // The plaintext after the output area.
                byte[] buf = new byte[room + n + 10];
                System.arraycopy(plain, 0, buf, room + 5, n);
                short len = channel.wrapResponse((byte) 0xB0, buf, (short) (room + 5), (short) n,
                        (short) 0x6282, (short) 2);
                assertEquals(room, len);
                rsp = Arrays.copyOfRange(buf, 2, 2 + len);
            }
            assertEquals(room, rsp.length);
            assertArrayEquals(Host.cat(plain, h("62 82")), host.unprotect(0xB0, rsp));
        }
    }

    @ParameterizedTest(name = "native CMAC: {0}")
    @ValueSource(booleans = {true, false})
    void plaintextBeforeTheOutput(boolean nativeCmac) {
        setUp(nativeCmac);
        openExampleChannel();
        Host host = new Host(KS_ENC, KS_MAC);
        unwrap(h("0C B0 00 00"), host.protect(0xB0, 0, 0, null, h("28")));
        byte[] plain = new byte[40];
        new Random(3).nextBytes(plain);
        byte[] buf = new byte[200];
        System.arraycopy(plain, 0, buf, 0, 40);
        short len = channel.wrapResponse((byte) 0xB0, buf, (short) 0, (short) 40,
                (short) 0x9000, (short) 10);
        assertArrayEquals(Host.cat(plain, h("90 00")),
                host.unprotect(0xB0, Arrays.copyOfRange(buf, 10, 10 + len)));
    }

    @ParameterizedTest(name = "native CMAC: {0}")
    @ValueSource(booleans = {true, false})
    void oddInstructionsUseDo85(boolean nativeCmac) {
        setUp(nativeCmac);
        openExampleChannel();
        Host host = new Host(KS_ENC, KS_MAC);
        // READ BINARY B1: DO85 with the offset object 54 01 00 and DO97 of two bytes.
        byte[] cmd = host.protect(0xB1, 0x01, 0x01, h("54 01 00"), h("01 2C"));
        assertEquals((byte) 0x85, cmd[0]);
        assertEquals(0x10, cmd[1]);
        assertArrayEquals(h("54 01 00"), unwrap(h("0C B1 01 01"), cmd));
        assertEquals(300, channel.expectedLength());
        assertTrue(channel.expectedLengthExplicit());
        byte[] rsp = wrap(0xB1, new byte[] {0x53, 1, 2, 3}, 0x6282);
        assertEquals((byte) 0x85, rsp[0]);
        assertEquals(0x10, rsp[1]);
        assertEquals("99 02 62 82", hex(Arrays.copyOfRange(rsp, 18, 22)));
        assertEquals(18 + 4 + 10, rsp.length);
        assertArrayEquals(h("53 01 02 03 62 82"), host.unprotect(0xB1, rsp));
        // UPDATE BINARY D7 with DO85.
        cmd = host.protect(0xD7, 0x01, 0x01, h("54 01 00 53 02 AA BB"), null);
        assertArrayEquals(h("54 01 00 53 02 AA BB"), unwrap(h("0C D7 01 01"), cmd));
        // An inner error: DO99 only, even when data were offered.
        assertArrayEquals(h("6A 80"), host.unprotect(0xD7, wrap(0xD7, new byte[0], 0x6A80)));
    }

    @ParameterizedTest(name = "native CMAC: {0}")
    @ValueSource(booleans = {true, false})
    void expectedLengthFromDo97(boolean nativeCmac) {
        setUp(nativeCmac);
        openExampleChannel();
        Host host = new Host(KS_ENC, KS_MAC);
        Object[][] cases = {
            {"01", 1, true}, {"08", 8, true}, {"FF", 255, true}, {"00", 256, false},
            {"0001", 1, true}, {"0100", 256, true}, {"012C", 300, true}, {"7FFF", 32767, true},
            {"8000", 32767, true}, {"FFFF", 32767, true}, {"0000", 32767, false},
        };
        for (Object[] c : cases) {
            byte[] cmd = host.protect(0xB0, 0, 0, null, h((String) c[0]));
            unwrap(h("0C B0 00 00"), cmd);
            assertEquals((int) (Integer) c[1], channel.expectedLength(), (String) c[0]);
            assertEquals(c[2], channel.expectedLengthExplicit(), (String) c[0]);
            host.unprotect(0xB0, wrap(0xB0, new byte[0], 0x6700));
        }
        // No DO97: 0; the data come through.
        byte[] cmd = host.protect(0xA4, 2, 0x0C, h("01 05"), null);
        assertArrayEquals(h("01 05"), unwrap(h("0C A4 02 0C"), cmd));
        assertEquals(0, channel.expectedLength());
        assertFalse(channel.expectedLengthExplicit());
        // DO87 and DO97 together.
        cmd = host.protect(0xA4, 2, 0x04, h("01 05"), h("00"));
        assertArrayEquals(h("01 05"), unwrap(h("0C A4 02 04"), cmd));
        assertEquals(256, channel.expectedLength());
        // Neither: only the header is MACed.
        cmd = host.protect(0x44, 0, 0, null, null);
        assertEquals(10, cmd.length);
        assertArrayEquals(new byte[0], unwrap(h("0C 44 00 00"), cmd));
        assertArrayEquals(h("90 00"), host.unprotect(0x44, wrap(0x44, new byte[0], 0x9000)));
    }

    /** Plaintexts of every length 0..48 round-trip (the padding at every position). */
    @ParameterizedTest(name = "native CMAC: {0}")
    @ValueSource(booleans = {true, false})
    void everyPaddingPosition(boolean nativeCmac) {
        setUp(nativeCmac);
        openExampleChannel();
        Host host = new Host(KS_ENC, KS_MAC);
        List<Integer> lengths = new ArrayList<>();
        for (int n = 1; n <= 48; n++) {
            lengths.add(n);
        }
        for (int n : lengths) {
            byte[] data = new byte[n];
            Arrays.fill(data, (byte) 0x80); // the padding marker inside the data is harmless
            data[0] = (byte) n;
            byte[] cmd = host.protect(0xDA, 0, 0, data, null);
            assertArrayEquals(data, unwrap(h("0C DA 00 00"), cmd), "n = " + n);
            byte[] zeros = new byte[n]; // trailing zeros in the data stay
            assertArrayEquals(Host.cat(zeros, h("90 00")),
                    host.unprotect(0xDA, wrap(0xDA, zeros, 0x9000)));
        }
    }
}
