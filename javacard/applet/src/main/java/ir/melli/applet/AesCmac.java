package ir.melli.applet;

import javacard.framework.JCSystem;
import javacard.framework.Util;
import javacard.security.AESKey;
import javacard.security.CryptoException;
import javacard.security.Signature;
import javacardx.crypto.Cipher;

/**
 * AES-CMAC (NIST SP 800-38B, RFC 4493) with a 128-bit key, 16-byte tag (applets-spec README,
 * "Conventions": {@code CMAC(K, X)}).
 *
 * <p>A Java Card 3.0.5 card has {@code Signature.ALG_AES_CMAC_128}; many 3.0.4 cards do not. At
 * install the constructor asks for the native algorithm and, when the card answers
 * {@code NO_SUCH_ALGORITHM}, builds CMAC itself on {@code ALG_AES_BLOCK_128_CBC_NOPAD}: the CBC
 * chaining of the cipher is the CBC-MAC, and only the last block is treated specially (XOR with
 * the subkey K1 when it is complete, K2 after padding {@code 80 00…} otherwise).
 *
 * <p>Use either {@link #compute} in one call, or {@link #init}, any number of {@link #update}
 * and one {@link #doFinal} (for a message in several pieces, as the MAC input of secure
 * messaging is). One computation at a time.
 *
 * <p>RAM (CLEAR_ON_DESELECT): none of its own on the native path; 32 bytes + 1 short on the
 * fallback path (the pending block and the subkey). Objects: one Signature, or one Cipher.
 */
final class AesCmac {
    /** Length of the AES block and of the full tag. */
    static final short BLOCK = 16;

    /** The R_b constant of SP 800-38B for a 128-bit block. */
    private static final byte RB = (byte) 0x87;

    /** The card's own AES-CMAC, or null when it has none (or a test asked for the fallback). */
    private final Signature nativeMac;

    /** Fallback: AES-CBC with a zero IV; its chaining value is the running CBC-MAC. */
    private final Cipher cbc;
    /** Fallback: the last, not yet processed, block of the message (1 to 16 bytes used). */
    private final byte[] pending;
    /** Fallback: L = AES(K, 0), then the subkey K1 or K2 derived from it at the end. */
    private final byte[] subkey;
    /** Fallback: [0] = number of bytes in {@link #pending}. */
    private final short[] count;

    /** Install time: the native CMAC when the card has it, otherwise the fallback. */
    AesCmac() {
        this(true);
    }

    /**
     * Install time. {@code allowNative = false} forces the fallback construction (for tests
     * that check it against the RFC 4493 vectors on a simulator that has the native one).
     */
    AesCmac(boolean allowNative) {
        Signature found = null;
        if (allowNative) {
            try {
                found = Signature.getInstance(Signature.ALG_AES_CMAC_128, false);
            } catch (CryptoException e) {
                // NO_SUCH_ALGORITHM on a 3.0.4 card: fall back to the construction below.
                found = null;
            }
        }
        nativeMac = found;
        if (found == null) {
            cbc = Cipher.getInstance(Cipher.ALG_AES_BLOCK_128_CBC_NOPAD, false);
            pending = JCSystem.makeTransientByteArray(BLOCK, JCSystem.CLEAR_ON_DESELECT);
            subkey = JCSystem.makeTransientByteArray(BLOCK, JCSystem.CLEAR_ON_DESELECT);
            count = JCSystem.makeTransientShortArray((short) 1, JCSystem.CLEAR_ON_DESELECT);
        } else {
            cbc = null;
            pending = null;
            subkey = null;
            count = null;
        }
    }

    /** True when the card's own {@code ALG_AES_CMAC_128} is used. */
    boolean isNative() {
        return nativeMac != null;
    }

    /** CMAC(key, in[inOff..inOff+inLen]) → out[outOff..outOff+16]; returns 16. */
    short compute(AESKey key, byte[] in, short inOff, short inLen, byte[] out, short outOff) {
        init(key);
        return doFinal(in, inOff, inLen, out, outOff);
    }

    /** Starts a MAC with this key (the key must stay unchanged until {@link #doFinal}). */
    void init(AESKey key) {
        if (nativeMac != null) {
            nativeMac.init(key, Signature.MODE_SIGN);
            return;
        }
        // L = AES-128(K, 0^128): CBC with a zero IV over one zero block.
        Util.arrayFillNonAtomic(subkey, (short) 0, BLOCK, (byte) 0);
        cbc.init(key, Cipher.MODE_ENCRYPT);
        cbc.doFinal(subkey, (short) 0, BLOCK, subkey, (short) 0);
        // A fresh chaining value (IV = 0) for the message itself.
        cbc.init(key, Cipher.MODE_ENCRYPT);
        count[0] = 0;
    }

    /** Adds in[inOff..inOff+inLen] (any length, 0 included) to the message. */
    void update(byte[] in, short inOff, short inLen) {
        if (nativeMac != null) {
            if (inLen > 0) {
                nativeMac.update(in, inOff, inLen);
            }
            return;
        }
        short used = count[0];
        while (inLen > 0) {
            if (used == BLOCK) {
                // More data follows, so the pending block is not the last: chain it.
                cbc.update(pending, (short) 0, BLOCK, pending, (short) 0);
                used = 0;
            }
            short room = (short) (BLOCK - used);
            short take = inLen < room ? inLen : room;
            Util.arrayCopyNonAtomic(in, inOff, pending, used, take);
            used = (short) (used + take);
            inOff = (short) (inOff + take);
            inLen = (short) (inLen - take);
        }
        count[0] = used;
    }

    /** Adds in[inOff..inOff+inLen] and writes the 16-byte tag to out[outOff..]; returns 16. */
    short doFinal(byte[] in, short inOff, short inLen, byte[] out, short outOff) {
        if (nativeMac != null) {
            return nativeMac.sign(in, inOff, inLen, out, outOff);
        }
        update(in, inOff, inLen);
        short used = count[0];
        // K1 = L·x; K2 = K1·x (doubling in GF(2^128)).
        doubleSubkey();
        if (used < BLOCK) {
            doubleSubkey();
            // Padding 10*: one 80, then zeros to the end of the block.
            pending[used] = (byte) 0x80;
            used = (short) (used + 1);
            if (used < BLOCK) {
                // (A fill that starts at the end of the array is out of bounds on a card.)
                Util.arrayFillNonAtomic(pending, used, (short) (BLOCK - used), (byte) 0);
            }
        }
        for (short i = 0; i < BLOCK; i++) {
            pending[i] = (byte) (pending[i] ^ subkey[i]);
        }
        cbc.doFinal(pending, (short) 0, BLOCK, out, outOff);
        Util.arrayFillNonAtomic(pending, (short) 0, BLOCK, (byte) 0);
        Util.arrayFillNonAtomic(subkey, (short) 0, BLOCK, (byte) 0);
        count[0] = 0;
        return BLOCK;
    }

    /**
     * subkey ← subkey·x in GF(2^128): a left shift by one bit, and R_b XORed into the last byte
     * when the bit shifted out was 1. No branch on the secret bit.
     */
    private void doubleSubkey() {
        short carry = (short) ((short) (subkey[0] >> 7) & 1);
        for (short i = 0; i < (short) (BLOCK - 1); i++) {
            short next = (short) ((short) (subkey[(short) (i + 1)] >> 7) & 1);
            subkey[i] = (byte) ((short) (subkey[i] << 1) | next);
        }
        short mask = (short) (0 - carry);
        subkey[(short) (BLOCK - 1)] =
                (byte) ((short) (subkey[(short) (BLOCK - 1)] << 1) ^ (short) (mask & RB));
    }
}
