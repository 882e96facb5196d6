package ir.melli.applet;

import javacard.framework.ISO7816;
import javacard.framework.ISOException;
import javacard.framework.Util;
import javacard.security.ECPrivateKey;
import javacard.security.ECPublicKey;
import javacard.security.KeyBuilder;
import javacard.security.KeyPair;
import javacard.security.Signature;

/**
 * The three P-256 key pairs (spec §8.5, §12.2): signing key 01, chip-authentication key 02 and
 * authentication key 03, generated on the card (GENERATE 80), with the curve's domain
 * parameters set explicitly. Signatures come out as r ‖ s, 32 bytes each (§6.12, §6.13, §12.3).
 *
 * <p>PSO (§6.12) and INTERNAL AUTHENTICATE with key 03 (§12.3) sign a digest the host computed:
 * {@code Signature.signPreComputedHash} of ALG_ECDSA_SHA_256, a Java Card 3.0.5 method. A 3.0.4
 * card has no way to sign a given digest with ECDSA; such a card cannot run them (see README).
 */
final class Keys {
    static final byte SIGNING = 0;
    static final byte CHIP_AUTH = 1;
    /** The authentication (login) key 03 of spec 1.1 (§12.2). */
    static final byte AUTHENTICATION = 2;
    /** How many key pairs the card holds. */
    static final byte COUNT = 3;
    /** The length of the hash value e that ECDSA P-256 signs (§6.12, §12.3). */
    static final short DIGEST_LEN = 32;
    /** Length of the r ‖ s answer. */
    static final short SIGNATURE_LEN = 64;

    private static final byte[] SPKI_PREFIX = {
        0x30, 0x59, 0x30, 0x13, 0x06, 0x07, 0x2A, (byte) 0x86, 0x48, (byte) 0xCE, 0x3D, 0x02,
        0x01, 0x06, 0x08, 0x2A, (byte) 0x86, 0x48, (byte) 0xCE, 0x3D, 0x03, 0x01, 0x07, 0x03,
        0x42, 0x00
    };
    static final short SPKI_LEN = 91;

    private final KeyPair[] pairs;
    private final Signature ecdsa;
    private final byte[] scratch;

    Keys(byte[] scratch) {
        this.scratch = scratch;
        pairs = new KeyPair[COUNT];
        for (byte i = 0; i < COUNT; i++) {
            ECPublicKey pub = (ECPublicKey) KeyBuilder.buildKey(KeyBuilder.TYPE_EC_FP_PUBLIC,
                    KeyBuilder.LENGTH_EC_FP_256, false);
            ECPrivateKey priv = (ECPrivateKey) KeyBuilder.buildKey(
                    KeyBuilder.TYPE_EC_FP_PRIVATE, KeyBuilder.LENGTH_EC_FP_256, false);
            P256.setDomain(pub);
            P256.setDomain(priv);
            pairs[i] = new KeyPair(pub, priv);
        }
        ecdsa = Signature.getInstance(Signature.ALG_ECDSA_SHA_256, false);
    }

    /** Whether the key was generated (and not erased by TERMINATE DF). */
    boolean exists(byte which) {
        return pairs[which].getPrivate().isInitialized();
    }

    /** A fresh key pair replaces the old one. */
    void generate(byte which) {
        KeyPair pair = pairs[which];
        ECPrivateKey priv = (ECPrivateKey) pair.getPrivate();
        ECPublicKey pub = (ECPublicKey) pair.getPublic();
        // Cards differ in whether genKeyPair keeps explicitly set parameters after clearKey:
        // set them again every time.
        P256.setDomain(pub);
        P256.setDomain(priv);
        // A private value below 2^248 (one key in 256) comes back from some platforms as 31
        // bytes, and jCardSim then signs with a wrong value: such a key is drawn again, which
        // costs a card that reports 32 bytes nothing and leaves 255/256 of the keys possible.
        for (short tries = 0; tries < MAX_DRAWS; tries++) {
            pair.genKeyPair();
            short length = priv.getS(scratch, (short) 0);
            Util.arrayFillNonAtomic(scratch, (short) 0, length, (byte) 0);
            if (length == PRIVATE_LEN) {
                return;
            }
        }
        ISOException.throwIt(ISO7816.SW_UNKNOWN);
    }

    /** Draws of a key pair before GENERATE gives up (6F00): never reached but on a broken card. */
    private static final short MAX_DRAWS = 16;
    /** The length of a P-256 private value. */
    private static final short PRIVATE_LEN = 32;

    /** The uncompressed point 04 ‖ X ‖ Y (65 bytes) at `off`. */
    short publicPoint(byte which, byte[] out, short off) {
        return ((ECPublicKey) pairs[which].getPublic()).getW(out, off);
    }

    /** `7F 49 43 86 41 04 ‖ X ‖ Y` (70 bytes, §6.11). */
    short publicKeyObject(byte which, byte[] out, short off) {
        out[off] = 0x7F;
        out[(short) (off + 1)] = 0x49;
        out[(short) (off + 2)] = 0x43;
        out[(short) (off + 3)] = (byte) 0x86;
        out[(short) (off + 4)] = 0x41;
        publicPoint(which, out, (short) (off + 5));
        return 70;
    }

    /** The 91-byte SubjectPublicKeyInfo of §5.5 at `off`. */
    short spki(byte which, byte[] out, short off) {
        Util.arrayCopyNonAtomic(SPKI_PREFIX, (short) 0, out, off, (short) SPKI_PREFIX.length);
        publicPoint(which, out, (short) (off + SPKI_PREFIX.length));
        return SPKI_LEN;
    }

    /**
     * ECDSA with key `which` (01 for PSO, §6.12; 03 for INTERNAL AUTHENTICATE, §12.3) over the
     * 32 bytes at `dOff` as the hash value e, as they are: r ‖ s at `out`.
     */
    short signDigest(byte which, byte[] digest, short dOff, byte[] out, short off) {
        ecdsa.init(pairs[which].getPrivate(), Signature.MODE_SIGN);
        short der = ecdsa.signPreComputedHash(digest, dOff, DIGEST_LEN, scratch, (short) 0);
        return rawSignature(der, out, off);
    }

    /**
     * ECDSA-with-SHA256 by key 02 over "MELLI-CA-V1" ‖ serial ‖ c (§6.13): r ‖ s at `out`.
     */
    short signChipAuthentication(byte[] serial, short serialLen, byte[] c, short cOff,
            short cLen, byte[] out, short off) {
        ecdsa.init(pairs[CHIP_AUTH].getPrivate(), Signature.MODE_SIGN);
        ecdsa.update(CHIP_AUTH_PREFIX, (short) 0, (short) CHIP_AUTH_PREFIX.length);
        ecdsa.update(serial, (short) 0, serialLen);
        short der = ecdsa.sign(c, cOff, cLen, scratch, (short) 0);
        return rawSignature(der, out, off);
    }

    private static final byte[] CHIP_AUTH_PREFIX = {
        'M', 'E', 'L', 'L', 'I', '-', 'C', 'A', '-', 'V', '1'
    };

    /** DER `30 L 02 Lr r 02 Ls s` in the scratch to r ‖ s, each left-padded to 32 bytes. */
    private short rawSignature(short derLen, byte[] out, short off) {
        short p = 2;
        if ((scratch[1] & (byte) 0x80) != 0) {
            p = (short) (2 + (short) (scratch[1] & 0x7F));
        }
        p = integer(p, out, off);
        integer(p, out, (short) (off + 32));
        Util.arrayFillNonAtomic(scratch, (short) 0, derLen, (byte) 0);
        return SIGNATURE_LEN;
    }

    /** Copies the INTEGER at scratch[p] right-aligned into 32 bytes; returns the next offset. */
    private short integer(short p, byte[] out, short off) {
        short len = (short) (scratch[(short) (p + 1)] & 0xFF);
        short v = (short) (p + 2);
        short next = (short) (v + len);
        while (len > 32) {
            v++;
            len--;
        }
        Util.arrayFillNonAtomic(out, off, (short) (32 - len), (byte) 0);
        Util.arrayCopyNonAtomic(scratch, v, out, (short) (off + 32 - len), len);
        return next;
    }

    /** TERMINATE DF: every private key is erased, key 03 with the others (§6.16, §8.7, §12.2). */
    void erase() {
        for (byte i = 0; i < COUNT; i++) {
            pairs[i].getPrivate().clearKey();
            pairs[i].getPublic().clearKey();
        }
    }

    /** Whether any key material is left (a TERMINATED card torn before it erased the keys). */
    boolean anyLeft() {
        for (byte i = 0; i < COUNT; i++) {
            if (pairs[i].getPrivate().isInitialized()) {
                return true;
            }
        }
        return false;
    }
}
