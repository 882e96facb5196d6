package ir.melli.applet;

import java.io.ByteArrayOutputStream;
import java.security.MessageDigest;
import java.security.SecureRandom;
import java.util.Arrays;
import java.util.HexFormat;
import javax.crypto.Cipher;
import javax.crypto.spec.IvParameterSpec;
import javax.crypto.spec.SecretKeySpec;

/** The host side of spec §10 (mutual authentication, protecting commands), for the tests. */
final class HostSm {
    private final TestCard card;
    private byte[] ksEnc;
    private byte[] ksMac;
    private final byte[] ssc = new byte[16];

    HostSm(TestCard card) {
        this.card = card;
    }

    static byte[] hex(String s) {
        return HexFormat.of().parseHex(s.replace(" ", ""));
    }

    static String hex(byte[] b) {
        return HexFormat.of().withUpperCase().formatHex(b);
    }

    static byte[] aes(int mode, String transformation, byte[] key, byte[] iv, byte[] data) {
        try {
            Cipher c = Cipher.getInstance(transformation);
            SecretKeySpec k = new SecretKeySpec(key, "AES");
            if (iv == null) {
                c.init(mode, k);
            } else {
                c.init(mode, k, new IvParameterSpec(iv));
            }
            return c.doFinal(data);
        } catch (Exception e) {
            throw new IllegalStateException(e);
        }
    }

    static byte[] cmac(byte[] key, byte[] msg) {
        byte[] l = aes(Cipher.ENCRYPT_MODE, "AES/ECB/NoPadding", key, null, new byte[16]);
        byte[] k1 = dbl(l);
        byte[] k2 = dbl(k1);
        int n = Math.max(1, (msg.length + 15) / 16);
        boolean complete = msg.length > 0 && msg.length % 16 == 0;
        byte[] m = Arrays.copyOf(msg, n * 16);
        if (!complete) {
            m[msg.length] = (byte) 0x80;
        }
        byte[] sub = complete ? k1 : k2;
        for (int i = 0; i < 16; i++) {
            m[(n - 1) * 16 + i] ^= sub[i];
        }
        byte[] c = aes(Cipher.ENCRYPT_MODE, "AES/CBC/NoPadding", key, new byte[16], m);
        return Arrays.copyOfRange(c, c.length - 16, c.length);
    }

    private static byte[] dbl(byte[] x) {
        byte[] r = new byte[16];
        for (int i = 0; i < 16; i++) {
            r[i] = (byte) ((x[i] << 1) | (i < 15 ? (x[i + 1] & 0xFF) >>> 7 : 0));
        }
        if ((x[0] & 0x80) != 0) {
            r[15] ^= (byte) 0x87;
        }
        return r;
    }

    static byte[] pad(byte[] x) {
        byte[] r = Arrays.copyOf(x, (x.length / 16 + 1) * 16);
        r[x.length] = (byte) 0x80;
        return r;
    }

    static byte[] cat(byte[]... parts) {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        for (byte[] p : parts) {
            out.writeBytes(p);
        }
        return out.toByteArray();
    }

    static byte[] tlvLength(int n) {
        if (n < 0x80) {
            return new byte[] {(byte) n};
        }
        if (n < 0x100) {
            return new byte[] {(byte) 0x81, (byte) n};
        }
        return new byte[] {(byte) 0x82, (byte) (n >> 8), (byte) n};
    }

    /** GET CHALLENGE + MUTUAL AUTHENTICATE with the test card's keys; returns the MA answer. */
    String authenticate() {
        return authenticate(TestCard.K_ENC, TestCard.K_MAC);
    }

    String authenticate(byte[] kEnc, byte[] kMac) {
        String challenge = card.send("0084000010");
        if (!TestCard.sw(challenge).equals("9000")) {
            return challenge;
        }
        byte[] rndIcc = hex(TestCard.data(challenge));
        SecureRandom rnd = new SecureRandom();
        byte[] rndIfd = new byte[16];
        byte[] kIfd = new byte[16];
        rnd.nextBytes(rndIfd);
        rnd.nextBytes(kIfd);
        byte[] e = aes(Cipher.ENCRYPT_MODE, "AES/CBC/NoPadding", kEnc, new byte[16],
                cat(rndIfd, rndIcc, kIfd));
        byte[] m = Arrays.copyOf(cmac(kMac, e), 8);
        String answer = card.send("0082000038" + hex(e) + hex(m) + "00");
        if (!TestCard.sw(answer).equals("9000")) {
            return answer;
        }
        byte[] r = hex(TestCard.data(answer));
        byte[] eIcc = Arrays.copyOf(r, 48);
        if (!Arrays.equals(Arrays.copyOf(cmac(kMac, eIcc), 8), Arrays.copyOfRange(r, 48, 56))) {
            throw new AssertionError("M_ICC");
        }
        byte[] plain = aes(Cipher.DECRYPT_MODE, "AES/CBC/NoPadding", kEnc, new byte[16], eIcc);
        byte[] kIcc = Arrays.copyOfRange(plain, 32, 48);
        byte[] seed = new byte[16];
        for (int i = 0; i < 16; i++) {
            seed[i] = (byte) (kIfd[i] ^ kIcc[i]);
        }
        ksEnc = kdf(seed, 1);
        ksMac = kdf(seed, 2);
        Arrays.fill(ssc, (byte) 0);
        return answer;
    }

    private static byte[] kdf(byte[] seed, int counter) {
        try {
            MessageDigest sha = MessageDigest.getInstance("SHA-256");
            sha.update(seed);
            sha.update(new byte[] {0, 0, 0, (byte) counter});
            return Arrays.copyOf(sha.digest(), 16);
        } catch (Exception e) {
            throw new IllegalStateException(e);
        }
    }

    private void increment() {
        for (int i = 15; i >= 0; i--) {
            if (++ssc[i] != 0) {
                break;
            }
        }
    }

    /** The protected form (§10.4) of `ins p1 p2 [data]` with Ne `ne` (0: no DO97). */
    byte[] protect(int ins, int p1, int p2, byte[] data, int ne) {
        increment();
        byte[] header = {0x0C, (byte) ins, (byte) p1, (byte) p2};
        byte[] dos = new byte[0];
        if (data != null && data.length > 0) {
            byte[] iv = aes(Cipher.ENCRYPT_MODE, "AES/ECB/NoPadding", ksEnc, null, ssc);
            byte[] c = aes(Cipher.ENCRYPT_MODE, "AES/CBC/NoPadding", ksEnc, iv, pad(data));
            boolean odd = (ins & 1) != 0;
            byte[] value = odd ? c : cat(new byte[] {1}, c);
            dos = cat(new byte[] {(byte) (odd ? 0x85 : 0x87)}, tlvLength(value.length), value);
        }
        if (ne > 0) {
            byte[] le = ne <= 256 ? new byte[] {(byte) ne}
                    : new byte[] {(byte) (ne >> 8), (byte) ne};
            dos = cat(dos, new byte[] {(byte) 0x97, (byte) le.length}, le);
        }
        byte[] n = dos.length > 0 ? cat(ssc, pad(header), pad(dos)) : cat(ssc, pad(header));
        byte[] mac = Arrays.copyOf(cmac(ksMac, n), 8);
        byte[] field = cat(dos, new byte[] {(byte) 0x8E, 8}, mac);
        return field;
    }

    /** Sends a protected command (extended APDU); returns inner data + inner SW as hex. */
    String send(int ins, int p1, int p2, byte[] data, int ne) {
        byte[] field = protect(ins, p1, p2, data, ne);
        byte[] apdu = cat(new byte[] {0x0C, (byte) ins, (byte) p1, (byte) p2, 0,
            (byte) (field.length >> 8), (byte) field.length}, field, new byte[] {0, 0});
        return unprotect(card.transmit(apdu));
    }

    /** §10.5 on the host side; a bare status word comes back as it is (the channel closed). */
    String unprotect(byte[] response) {
        if (response.length == 2) {
            return hex(response);
        }
        increment();
        byte[] body = Arrays.copyOf(response, response.length - 2);
        int p = 0;
        byte[] crypto = null;
        if (body[0] == (byte) 0x87 || body[0] == (byte) 0x85) {
            int[] tl = readTl(body, 1);
            crypto = Arrays.copyOfRange(body, tl[0], tl[0] + tl[1]);
            if (body[0] == (byte) 0x87) {
                crypto = Arrays.copyOfRange(crypto, 1, crypto.length);
            }
            p = tl[0] + tl[1];
        }
        if (body[p] != (byte) 0x99 || body[p + 1] != 2) {
            throw new AssertionError("DO99 " + hex(body));
        }
        String sw = hex(Arrays.copyOfRange(body, p + 2, p + 4));
        int macAt = p + 4;
        byte[] expected = Arrays.copyOf(cmac(ksMac, cat(ssc, pad(Arrays.copyOf(body, macAt)))), 8);
        if (body[macAt] != (byte) 0x8E
                || !Arrays.equals(expected, Arrays.copyOfRange(body, macAt + 2, macAt + 10))
                || body.length != macAt + 10) {
            throw new AssertionError("response MAC " + hex(body));
        }
        String data = "";
        if (crypto != null) {
            byte[] iv = aes(Cipher.ENCRYPT_MODE, "AES/ECB/NoPadding", ksEnc, null, ssc);
            byte[] plain = aes(Cipher.DECRYPT_MODE, "AES/CBC/NoPadding", ksEnc, iv, crypto);
            int end = plain.length - 1;
            while (plain[end] == 0) {
                end--;
            }
            data = hex(Arrays.copyOf(plain, end));
        }
        return data + sw;
    }

    private static int[] readTl(byte[] b, int p) {
        int first = b[p] & 0xFF;
        if (first < 0x80) {
            return new int[] {p + 1, first};
        }
        int count = first & 0x7F;
        int len = 0;
        for (int i = 0; i < count; i++) {
            len = (len << 8) | (b[p + 1 + i] & 0xFF);
        }
        return new int[] {p + 1 + count, len};
    }

    /**
     * The Rust tests' Host.wrap: protects a plain command APDU (CLA 00) given in hex, in the
     * extended form when the objects need it or `extended` is asked for.
     */
    byte[] wrap(byte[] plain, boolean extended) {
        int ins = plain[1] & 0xFF;
        byte[] data = new byte[0];
        int le = -1;
        boolean leExtended = false;
        int n = plain.length;
        if (n == 5) {
            le = plain[4] & 0xFF;
        } else if (n > 5) {
            if (plain[4] != 0) {
                int lc = plain[4] & 0xFF;
                data = Arrays.copyOfRange(plain, 5, 5 + lc);
                if (n == 6 + lc) {
                    le = plain[n - 1] & 0xFF;
                }
            } else if (n == 7) {
                le = ((plain[5] & 0xFF) << 8) | (plain[6] & 0xFF);
                leExtended = true;
            } else {
                int lc = ((plain[5] & 0xFF) << 8) | (plain[6] & 0xFF);
                data = Arrays.copyOfRange(plain, 7, 7 + lc);
                if (n == 9 + lc) {
                    le = ((plain[n - 2] & 0xFF) << 8) | (plain[n - 1] & 0xFF);
                    leExtended = true;
                }
            }
        }
        increment();
        byte[] objects = new byte[0];
        if (data.length > 0) {
            byte[] iv = aes(Cipher.ENCRYPT_MODE, "AES/ECB/NoPadding", ksEnc, null, ssc);
            byte[] c = aes(Cipher.ENCRYPT_MODE, "AES/CBC/NoPadding", ksEnc, iv, pad(data));
            boolean odd = (ins & 1) != 0;
            byte[] value = odd ? c : cat(new byte[] {1}, c);
            objects = cat(new byte[] {(byte) (odd ? 0x85 : 0x87)}, tlvLength(value.length), value);
        }
        if (le >= 0) {
            byte[] v = leExtended ? new byte[] {(byte) (le >> 8), (byte) le} : new byte[] {(byte) le};
            objects = cat(objects, new byte[] {(byte) 0x97, (byte) v.length}, v);
        }
        byte[] h = {0x0C, (byte) ins, plain[2], plain[3]};
        byte[] macInput = objects.length > 0 ? cat(ssc, pad(h), pad(objects)) : cat(ssc, pad(h));
        byte[] mac = Arrays.copyOf(cmac(ksMac, macInput), 8);
        objects = cat(objects, new byte[] {(byte) 0x8E, 8}, mac);
        if (objects.length > 255 || extended) {
            return cat(h, new byte[] {0, (byte) (objects.length >> 8), (byte) objects.length},
                    objects, new byte[] {0, 0});
        }
        return cat(h, new byte[] {(byte) objects.length}, objects, new byte[] {0});
    }

    /** Wraps, sends and unwraps (fetching 61xx remainders with plain GET RESPONSE). */
    String sendPlain(String plainHex) {
        byte[] apdu = wrap(hex(plainHex.replaceAll("\\s", "")), false);
        byte[] response = card.transmit(apdu);
        while (response.length >= 2 && response[response.length - 2] == 0x61) {
            byte[] more = card.transmit(new byte[] {0, (byte) 0xC0, 0, 0, response[response.length - 1]});
            response = cat(Arrays.copyOf(response, response.length - 2), more);
        }
        if (response.length == 2) {
            return "plain:" + hex(response);
        }
        return unprotect(response);
    }

    /** The inner status word `sw` (or "plain:XXXX"); returns the inner data. */
    String expect(String plainHex, String sw) {
        String got = sendPlain(plainHex);
        String gotSw = got.startsWith("plain:") ? got : got.substring(got.length() - 4);
        org.junit.jupiter.api.Assertions.assertEquals(sw, gotSw, plainHex);
        return got.startsWith("plain:") ? "" : got.substring(0, got.length() - 4);
    }

    /** Rust Host.write_file: SELECT, ERASE, UPDATE in 239-byte chunks. */
    void writeFile(String fid, byte[] content) {
        expect("00A4020C02" + fid, "9000");
        expect("000E0000", "9000");
        for (int off = 0; off < content.length; off += 239) {
            byte[] chunk = Arrays.copyOfRange(content, off, Math.min(content.length, off + 239));
            expect(hex(cat(new byte[] {0, (byte) 0xD6, (byte) (off >> 8), (byte) off,
                (byte) chunk.length}, chunk)), "9000");
        }
    }
}
