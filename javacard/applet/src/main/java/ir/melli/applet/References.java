package ir.melli.applet;

import javacard.framework.JCSystem;
import javacard.framework.Util;
import javacard.security.MessageDigest;
import javacard.security.RandomData;

/**
 * PIN and PUK reference data (spec §8.1, §8.2, §8.7), kept hashed:
 * hash = HMAC-SHA256(K_ref, P2 ‖ salt ‖ block) with a fresh 16-byte salt at each setting, and
 * K_ref = HMAC-SHA256(device secret, "melli-card reference data v2") computed at install.
 * HMAC is built on MessageDigest SHA-256, which every Java Card 3.0.4 card has.
 *
 * <p>Persistent: K_ref 32, per reference salt 16 and hash 32, the "set" marks 2 = 130 bytes.
 * RAM: a 128-byte scratch (HMAC pads and digests), shared with {@link Keys}.
 */
final class References {
    static final byte PIN = 0;
    static final byte PUK = 1;
    private static final byte BLOCK = 16;
    private static final byte[] LABEL = {
        'm', 'e', 'l', 'l', 'i', '-', 'c', 'a', 'r', 'd', ' ', 'r', 'e', 'f', 'e', 'r', 'e', 'n',
        'c', 'e', ' ', 'd', 'a', 't', 'a', ' ', 'v', '2'
    };
    /** Scratch layout. */
    private static final short PAD = 0;
    private static final short INNER = 64;
    private static final short OUT = 96;

    private final byte[] kRef;
    private final byte[] salt;
    private final byte[] hash;
    private final byte[] set;
    private final byte[] scratch;
    private final MessageDigest sha;
    private final RandomData random;

    References(byte[] scratch, RandomData random) {
        this.scratch = scratch;
        this.random = random;
        kRef = new byte[32];
        salt = new byte[32];
        hash = new byte[64];
        set = new byte[2];
        sha = MessageDigest.getInstance(MessageDigest.ALG_SHA_256, false);
    }

    /** K_ref from the device secret of the install parameters. */
    void install(byte[] secret, short off) {
        hmac(secret, off, (byte) 0, LABEL, (short) 0, (short) LABEL.length, null, (short) 0,
                (short) 0);
        Util.arrayCopy(scratch, OUT, kRef, (short) 0, (short) 32);
        Util.arrayFillNonAtomic(scratch, (short) 0, (short) 128, (byte) 0);
    }

    /**
     * HMAC-SHA256 with a 32-byte key: of `prefix` (when not 0) ‖ a ‖ b, into scratch[OUT..+32].
     */
    private void hmac(byte[] key, short keyOff, byte prefix, byte[] a, short aOff, short aLen,
            byte[] b, short bOff, short bLen) {
        pad(key, keyOff, (byte) 0x36);
        sha.reset();
        sha.update(scratch, PAD, (short) 64);
        if (prefix != 0) {
            scratch[OUT] = prefix;
            sha.update(scratch, OUT, (short) 1);
        }
        if (b == null) {
            sha.doFinal(a, aOff, aLen, scratch, INNER);
        } else {
            sha.update(a, aOff, aLen);
            sha.doFinal(b, bOff, bLen, scratch, INNER);
        }
        pad(key, keyOff, (byte) 0x5C);
        sha.update(scratch, PAD, (short) 64);
        sha.doFinal(scratch, INNER, (short) 32, scratch, OUT);
    }

    private void pad(byte[] key, short keyOff, byte with) {
        Util.arrayFillNonAtomic(scratch, PAD, (short) 64, with);
        for (short i = 0; i < 32; i++) {
            scratch[i] = (byte) (key[(short) (keyOff + i)] ^ with);
        }
    }

    /**
     * §8.2: a valid block is 16 bytes, 6–12 (PIN) or 8–16 (PUK) ASCII digits, then only FF.
     */
    static boolean wellFormed(byte which, byte[] b, short off, short len) {
        if (len != BLOCK) {
            return false;
        }
        short digits = 0;
        while (digits < BLOCK) {
            byte ch = b[(short) (off + digits)];
            if (ch < '0' || ch > '9') {
                break;
            }
            digits++;
        }
        for (short i = digits; i < BLOCK; i++) {
            if (b[(short) (off + i)] != (byte) 0xFF) {
                return false;
            }
        }
        short min = which == PIN ? (short) 6 : (short) 8;
        short max = which == PIN ? (short) 12 : (short) 16;
        return digits >= min && digits <= max;
    }

    boolean isSet(byte which) {
        return set[which] != 0;
    }

    /** The presented block against the stored hash, in constant time (§8.3 step 4). */
    boolean matches(byte which, byte[] block, short off) {
        if (set[which] == 0) {
            return false;
        }
        short s = (short) (which * 16);
        hmac(kRef, (short) 0, p2(which), salt, s, (short) 16, block, off, BLOCK);
        byte diff = 0;
        short h = (short) (which * 32);
        for (short i = 0; i < 32; i++) {
            diff |= (byte) (scratch[(short) (OUT + i)] ^ hash[(short) (h + i)]);
        }
        Util.arrayFillNonAtomic(scratch, (short) 0, (short) 128, (byte) 0);
        return diff == 0;
    }

    /**
     * Stores a new value with a fresh salt. The caller holds a transaction, so that the value,
     * its mark and the counters change together.
     */
    void store(byte which, byte[] block, short off) {
        short s = (short) (which * 16);
        random.generateData(scratch, (short) 0, (short) 16);
        Util.arrayCopy(scratch, (short) 0, salt, s, (short) 16);
        hmac(kRef, (short) 0, p2(which), salt, s, (short) 16, block, off, BLOCK);
        Util.arrayCopy(scratch, OUT, hash, (short) (which * 32), (short) 32);
        set[which] = 1;
        Util.arrayFillNonAtomic(scratch, (short) 0, (short) 128, (byte) 0);
    }

    /** TERMINATE DF: the reference values are gone (inside its transaction). */
    void forget(byte which) {
        set[which] = 0;
    }

    /** Overwrites the hashes of forgotten references (after the transaction). */
    void scrub() {
        if (set[PIN] == 0 && set[PUK] == 0) {
            Util.arrayFillNonAtomic(salt, (short) 0, (short) 32, (byte) 0);
            Util.arrayFillNonAtomic(hash, (short) 0, (short) 64, (byte) 0);
        }
    }

    private static byte p2(byte which) {
        return which == PIN ? (byte) 0x81 : (byte) 0x82;
    }

    static boolean inTransaction() {
        return JCSystem.getTransactionDepth() != 0;
    }
}
