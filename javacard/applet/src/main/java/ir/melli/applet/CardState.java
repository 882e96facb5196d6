package ir.melli.applet;

import javacard.framework.JCSystem;
import javacard.framework.Util;
import javacard.security.AESKey;
import javacard.security.KeyBuilder;

/**
 * Persistent card state (spec §7, §8.3, §8.7) apart from files, keys and reference data: the
 * lifecycle, the serial, K_enc/K_mac, and the try counters with the signing-key-blocked mark.
 *
 * <p>Install parameters (the application-specific part of the GlobalPlatform INSTALL data):
 * a run of TLVs, each tag and length one byte, in any order, each exactly once:
 * <pre>
 *   01 L serial           1–16 characters [0-9A-Z]
 *   02 10 K_enc           16 bytes
 *   03 10 K_mac           16 bytes
 *   04 20 device secret   32 bytes (only K_ref = HMAC(secret, "melli-card reference data v2")
 *                         is kept, §8.7)
 * </pre>
 */
final class CardState {
    static final byte BLANK = (byte) 0x01;
    static final byte PERSONALIZING = (byte) 0x03;
    static final byte OPERATIONAL = (byte) 0x05;
    static final byte TERMINATED = (byte) 0x0C;

    /** Indexes in {@link #counters}. */
    static final byte PIN = 0;
    static final byte PUK = 1;
    static final byte FINGER = 2;
    static final byte SIGNING_BLOCKED = 3;
    static final byte[] MAX_TRIES = {(byte) 3, (byte) 10, (byte) 5};

    private byte lifecycle;
    private final byte[] serial;
    private byte serialLength;
    final AESKey kEnc;
    final AESKey kMac;
    /** PIN, PUK, finger tries left, and 1 once the signing key is blocked. */
    private final byte[] counters;
    /** RAM staging for an atomic update of {@link #counters}. */
    private final byte[] staging;

    CardState() {
        lifecycle = BLANK;
        serial = new byte[16];
        kEnc = (AESKey) KeyBuilder.buildKey(KeyBuilder.TYPE_AES, KeyBuilder.LENGTH_AES_128, false);
        kMac = (AESKey) KeyBuilder.buildKey(KeyBuilder.TYPE_AES, KeyBuilder.LENGTH_AES_128, false);
        counters = new byte[4];
        counters[PIN] = MAX_TRIES[PIN];
        counters[PUK] = MAX_TRIES[PUK];
        counters[FINGER] = MAX_TRIES[FINGER];
        staging = JCSystem.makeTransientByteArray((short) 4, JCSystem.CLEAR_ON_RESET);
    }

    /**
     * Reads the install parameters (above) from `params`; the device secret's offset is
     * returned, for {@link References}. 6A80 if anything is missing, repeated or malformed.
     */
    short install(byte[] params, short off, short len) {
        short end = (short) (off + len);
        short secret = -1;
        byte seen = 0;
        while (off < end) {
            if ((short) (end - off) < 2) {
                ISOExceptionHelper.fail(Sw.INCORRECT_DATA);
            }
            byte tag = params[off];
            short l = (short) (params[(short) (off + 1)] & 0xFF);
            short v = (short) (off + 2);
            if (l > (short) (end - v)) {
                ISOExceptionHelper.fail(Sw.INCORRECT_DATA);
            }
            byte bit;
            if (tag == 1) {
                bit = 1;
                if (l < 1 || l > 16) {
                    ISOExceptionHelper.fail(Sw.INCORRECT_DATA);
                }
                for (short i = v; i < (short) (v + l); i++) {
                    byte ch = params[i];
                    boolean ok = (ch >= '0' && ch <= '9') || (ch >= 'A' && ch <= 'Z');
                    if (!ok) {
                        ISOExceptionHelper.fail(Sw.INCORRECT_DATA);
                    }
                }
                Util.arrayCopy(params, v, serial, (short) 0, l);
                serialLength = (byte) l;
            } else if (tag == 2 || tag == 3) {
                bit = tag == 2 ? (byte) 2 : (byte) 4;
                if (l != 16) {
                    ISOExceptionHelper.fail(Sw.INCORRECT_DATA);
                }
                (tag == 2 ? kEnc : kMac).setKey(params, v);
            } else if (tag == 4) {
                bit = 8;
                if (l != 32) {
                    ISOExceptionHelper.fail(Sw.INCORRECT_DATA);
                }
                secret = v;
            } else {
                bit = 0;
                ISOExceptionHelper.fail(Sw.INCORRECT_DATA);
            }
            if ((seen & bit) != 0) {
                ISOExceptionHelper.fail(Sw.INCORRECT_DATA);
            }
            seen |= bit;
            off = (short) (v + l);
        }
        if (seen != 15) {
            ISOExceptionHelper.fail(Sw.INCORRECT_DATA);
        }
        return secret;
    }

    byte lifecycle() {
        return lifecycle;
    }

    /** One byte field: the write is atomic (§7.2 tearing). */
    void setLifecycle(byte state) {
        lifecycle = state;
    }

    short copySerial(byte[] dst, short off) {
        Util.arrayCopyNonAtomic(serial, (short) 0, dst, off, serialLength);
        return serialLength;
    }

    byte[] serial() {
        return serial;
    }

    short serialLength() {
        return serialLength;
    }

    byte tries(byte which) {
        return counters[which];
    }

    boolean signingBlocked() {
        return counters[SIGNING_BLOCKED] != 0;
    }

    /**
     * §8.3 step 3: decrements a counter and writes it at once, in one atomic copy with the
     * signing-key-blocked mark when the PUK reaches 0. Returns the tries left; 6983 at 0.
     */
    byte consumeTry(byte which) {
        byte left = counters[which];
        if (left == 0) {
            ISOExceptionHelper.fail(Sw.AUTHENTICATION_BLOCKED);
        }
        left--;
        Util.arrayCopyNonAtomic(counters, (short) 0, staging, (short) 0, (short) 4);
        staging[which] = left;
        if (which == PUK && left == 0) {
            staging[SIGNING_BLOCKED] = 1;
        }
        Util.arrayCopy(staging, (short) 0, counters, (short) 0, (short) 4);
        Tear.at(Tear.AFTER_DECREMENT);
        return left;
    }

    /** Restores a counter to its maximum; the caller runs it inside its transaction. */
    void restore(byte which) {
        counters[which] = MAX_TRIES[which];
    }
}
