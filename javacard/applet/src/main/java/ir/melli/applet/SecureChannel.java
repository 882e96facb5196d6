package ir.melli.applet;

import javacard.framework.ISOException;
import javacard.framework.JCSystem;
import javacard.framework.Util;
import javacard.security.AESKey;
import javacard.security.CryptoException;
import javacard.security.KeyBuilder;
import javacard.security.MessageDigest;
import javacard.security.RandomData;
import javacardx.crypto.Cipher;

/**
 * The card side of the personalization secure channel (applets-spec §10): MUTUAL AUTHENTICATE
 * (§10.2 steps 5–6), the session keys and SSC (§10.3), unwrapping a protected command (§10.4,
 * the checks #3–#5 of the §10.6 table) and protecting a response (§10.5).
 *
 * <p>Session state lives in RAM only (§8.4): the open flag, the SSC and the expected length are
 * CLEAR_ON_DESELECT arrays, the session keys {@code TYPE_AES_TRANSIENT_DESELECT} keys (or, on a
 * card without that type, persistent AES keys erased by {@link #close()}). The caller closes the
 * channel on SELECT of the AID; a reset, power-off or deselection closes it by itself.
 *
 * <p>RAM (CLEAR_ON_DESELECT): SSC 16 + scratch 32 + state 5 shorts (10) = 58 bytes, plus the two
 * transient session keys (2 × 16 bytes of key material), plus the {@link AesCmac} work space
 * (0 bytes native, 34 bytes fallback). Objects: one AES-CBC cipher, one SHA-256, one secure
 * random generator, one AesCmac.
 *
 * <p>Every failure closes the channel and throws an {@link ISOException}; a
 * {@link CryptoException}, {@code ArrayIndexOutOfBoundsException} (offsets given by the caller
 * outside its arrays) or {@code NullPointerException} inside becomes {@code 6F00}.
 *
 * <p>Offsets and lengths are not checked against the arrays: the caller passes consistent ones
 * (an inconsistent one ends as 6F00, never as an escaped exception).
 */
final class SecureChannel {
    /** NONCE_LEN = KEY_LEN = the AES block (§10). */
    private static final short BLOCK = 16;
    /** MAC_LEN: the CMAC is truncated to 8 bytes. */
    private static final short MAC_LEN = 8;
    /** E_IFD / E_ICC: three blocks. */
    private static final short CRYPTOGRAM_LEN = 48;
    /** E ‖ M of MUTUAL AUTHENTICATE. */
    static final short AUTH_LEN = 56;

    /** The CLA of the MACed header, whatever CLA (0C or 1C) the command arrived with. */
    private static final byte CLA_SM = (byte) 0x0C;
    private static final byte TAG_CRYPTOGRAM = (byte) 0x87;
    private static final byte TAG_CRYPTOGRAM_ODD = (byte) 0x85;
    private static final byte TAG_LE = (byte) 0x97;
    private static final byte TAG_STATUS = (byte) 0x99;
    private static final byte TAG_MAC = (byte) 0x8E;
    /** Padding-content indicator of DO87: ISO/IEC 9797-1 method 2. */
    private static final byte PADDING_INDICATOR = (byte) 0x01;

    private static final short SW_SECURITY_STATUS_NOT_SATISFIED = (short) 0x6982;
    private static final short SW_SM_DATA_MISSING = (short) 0x6987;
    private static final short SW_SM_DATA_INCORRECT = (short) 0x6988;
    private static final short SW_NO_PRECISE_DIAGNOSIS = (short) 0x6F00;

    /** Indexes into {@link #state}. */
    private static final short OPEN = 0;
    private static final short NE = 1;
    private static final short NE_EXPLICIT = 2;
    /** The last data object read by {@link #readObject}: value offset and value length. */
    private static final short VALUE_OFF = 3;
    private static final short VALUE_LEN = 4;
    private static final short STATE_LEN = 5;

    private final AesCmac cmac;
    private final Cipher cbc;
    private final MessageDigest sha256;
    private final RandomData random;
    private final AESKey ksEnc;
    private final AESKey ksMac;
    /** True when the session keys are persistent (no transient AES type on this card). */
    private final boolean persistentKeys;

    /** SSC, 16 bytes big-endian (§10.3). */
    private final byte[] ssc;
    /** Work space: the MAC header block and padding, a computed MAC, the IV, K.ICC / RND.IFD. */
    private final byte[] scratch;
    /** OPEN (0/1), NE, NE_EXPLICIT (0/1), VALUE_OFF, VALUE_LEN. */
    private final short[] state;

    /** Install time: all objects and transient arrays. */
    SecureChannel() {
        this(true);
    }

    /**
     * Install time. {@code nativeCmac = false} makes the channel use the fallback CMAC
     * construction even where the card has {@code ALG_AES_CMAC_128} (for tests).
     */
    SecureChannel(boolean nativeCmac) {
        cmac = new AesCmac(nativeCmac);
        cbc = Cipher.getInstance(Cipher.ALG_AES_BLOCK_128_CBC_NOPAD, false);
        sha256 = MessageDigest.getInstance(MessageDigest.ALG_SHA_256, false);
        random = RandomData.getInstance(RandomData.ALG_SECURE_RANDOM);
        AESKey enc;
        AESKey mac;
        boolean persistent = false;
        try {
            enc = (AESKey) KeyBuilder.buildKey(KeyBuilder.TYPE_AES_TRANSIENT_DESELECT,
                    KeyBuilder.LENGTH_AES_128, false);
            mac = (AESKey) KeyBuilder.buildKey(KeyBuilder.TYPE_AES_TRANSIENT_DESELECT,
                    KeyBuilder.LENGTH_AES_128, false);
        } catch (CryptoException e) {
            // No transient AES keys on this card: persistent ones, erased by close().
            enc = (AESKey) KeyBuilder.buildKey(KeyBuilder.TYPE_AES, KeyBuilder.LENGTH_AES_128,
                    false);
            mac = (AESKey) KeyBuilder.buildKey(KeyBuilder.TYPE_AES, KeyBuilder.LENGTH_AES_128,
                    false);
            persistent = true;
        }
        ksEnc = enc;
        ksMac = mac;
        persistentKeys = persistent;
        ssc = JCSystem.makeTransientByteArray(BLOCK, JCSystem.CLEAR_ON_DESELECT);
        scratch = JCSystem.makeTransientByteArray((short) (2 * BLOCK), JCSystem.CLEAR_ON_DESELECT);
        state = JCSystem.makeTransientShortArray(STATE_LEN, JCSystem.CLEAR_ON_DESELECT);
    }

    /** True while a channel is open (after a successful MUTUAL AUTHENTICATE). */
    boolean isOpen() {
        return state[OPEN] != 0;
    }

    /** True when the CMAC is the card's own {@code ALG_AES_CMAC_128}. */
    boolean hasNativeCmac() {
        return cmac.isNative();
    }

    /** True when the session keys are persistent AES keys (the card lacks the transient type). */
    boolean hasPersistentSessionKeys() {
        return persistentKeys;
    }

    /**
     * Closes the channel: overwrites the session keys with zeros and clears them, and erases
     * the SSC (§8.4: "overwritten when they are cleared"). Harmless when closed.
     */
    void close() {
        state[OPEN] = 0;
        state[NE] = 0;
        state[NE_EXPLICIT] = 0;
        Util.arrayFillNonAtomic(ssc, (short) 0, BLOCK, (byte) 0);
        Util.arrayFillNonAtomic(scratch, (short) 0, (short) (2 * BLOCK), (byte) 0);
        // clearKey alone need not overwrite the key data on every card: zeros first.
        if (ksEnc.isInitialized()) {
            ksEnc.setKey(scratch, (short) 0);
        }
        if (ksMac.isInitialized()) {
            ksMac.setKey(scratch, (short) 0);
        }
        ksEnc.clearKey();
        ksMac.clearKey();
    }

    // ---------------------------------------------------------------------------------------
    // §10.2 MUTUAL AUTHENTICATE

    /**
     * MUTUAL AUTHENTICATE (§10.2 steps 5–6). buf[off..off+len] is the command data (E_IFD ‖
     * M_IFD, 56 bytes; the caller has already checked the header, Lc and that a stored
     * challenge exists, §6.14). rndIcc[rndOff..rndOff+16]: the stored challenge (the caller
     * clears it afterwards). Closes any open channel first. On a bad MAC or a wrong RND.ICC:
     * ISOException 6982 with the channel closed. On success writes E_ICC ‖ M_ICC (56 bytes) to
     * buf[off..], opens the channel (SSC = 0, session keys of §10.3) and returns 56.
     *
     * <p>If the caller then fails to persist BLANK → PERSONALIZING (§6.14 step 6: 6581), it
     * must call {@link #close()}: no channel may stay open.
     */
    short mutualAuthenticate(AESKey kEnc, AESKey kMac, byte[] rndIcc, short rndOff,
                             byte[] buf, short off, short len) {
        close();
        try {
            // K.ICC, the card's key share, from the secure generator (scratch[16..32]).
            random.generateData(scratch, BLOCK, BLOCK);
            return authenticate(kEnc, kMac, rndIcc, rndOff, buf, off, len, scratch, BLOCK);
        } catch (CryptoException e) {
            fail(buf, off, len, SW_NO_PRECISE_DIAGNOSIS);
        } catch (ArrayIndexOutOfBoundsException e) {
            fail(null, (short) 0, (short) 0, SW_NO_PRECISE_DIAGNOSIS);
        } catch (NullPointerException e) {
            fail(null, (short) 0, (short) 0, SW_NO_PRECISE_DIAGNOSIS);
        }
        return 0;
    }

    /**
     * The same as {@link #mutualAuthenticate} with a given K.ICC (kIcc[kIccOff..+16]), so that
     * tests can reproduce the §10.7 worked example. The applet never calls this.
     */
    short mutualAuthenticate(AESKey kEnc, AESKey kMac, byte[] rndIcc, short rndOff,
                             byte[] buf, short off, short len, byte[] kIcc, short kIccOff) {
        close();
        try {
            Util.arrayCopyNonAtomic(kIcc, kIccOff, scratch, BLOCK, BLOCK);
            return authenticate(kEnc, kMac, rndIcc, rndOff, buf, off, len, scratch, BLOCK);
        } catch (CryptoException e) {
            fail(buf, off, len, SW_NO_PRECISE_DIAGNOSIS);
        } catch (ArrayIndexOutOfBoundsException e) {
            fail(null, (short) 0, (short) 0, SW_NO_PRECISE_DIAGNOSIS);
        } catch (NullPointerException e) {
            fail(null, (short) 0, (short) 0, SW_NO_PRECISE_DIAGNOSIS);
        }
        return 0;
    }

    /**
     * Steps 5–6 with K.ICC already in scratch[16..32]. Layout of buf[off..off+56] along the way:
     * E_IFD ‖ M_IFD, then S = RND.IFD ‖ RND.ICC′ ‖ K.IFD, then the hash work space, then
     * R = RND.ICC ‖ RND.IFD ‖ K.ICC, then E_ICC ‖ M_ICC.
     */
    private short authenticate(AESKey kEnc, AESKey kMac, byte[] rndIcc, short rndOff,
                               byte[] buf, short off, short len, byte[] kIcc, short kIccOff) {
        if (len != AUTH_LEN) {
            fail(buf, off, (short) 0, SW_SECURITY_STATUS_NOT_SATISFIED);
        }
        // M_IFD = CMAC(K_mac, E_IFD)[0..8], compared in constant time.
        cmac.compute(kMac, buf, off, CRYPTOGRAM_LEN, scratch, (short) 0);
        short macOff = (short) (off + CRYPTOGRAM_LEN);
        if (!equalInConstantTime(scratch, (short) 0, buf, macOff, MAC_LEN)) {
            fail(buf, off, len, SW_SECURITY_STATUS_NOT_SATISFIED);
        }
        // S = AES-CBC⁻¹(K_enc, 0, E_IFD), in place.
        cbc.init(kEnc, Cipher.MODE_DECRYPT);
        cbc.doFinal(buf, off, CRYPTOGRAM_LEN, buf, off);
        // S[16..32] must be RND.ICC.
        if (!equalInConstantTime(buf, (short) (off + BLOCK), rndIcc, rndOff, BLOCK)) {
            fail(buf, off, len, SW_SECURITY_STATUS_NOT_SATISFIED);
        }
        // Save RND.IFD (scratch[0..16]); K.ICC is in kIcc (scratch[16..32]).
        Util.arrayCopyNonAtomic(buf, off, scratch, (short) 0, BLOCK);
        // K_seed = K.IFD ⊕ K.ICC at buf[off+32..off+48], then the 4-byte counter after it.
        short seedOff = (short) (off + 2 * BLOCK);
        for (short i = 0; i < BLOCK; i++) {
            short at = (short) (seedOff + i);
            buf[at] = (byte) (buf[at] ^ kIcc[(short) (kIccOff + i)]);
        }
        short ctrOff = (short) (seedOff + BLOCK);
        Util.arrayFillNonAtomic(buf, ctrOff, (short) 4, (byte) 0);
        // KS_enc = SHA-256(K_seed ‖ 00000001)[0..16]; KS_mac with 00000002 (§10.3). The digest
        // goes to buf[off..off+32], which holds nothing needed any more.
        buf[(short) (ctrOff + 3)] = (byte) 1;
        sha256.reset();
        sha256.doFinal(buf, seedOff, (short) (BLOCK + 4), buf, off);
        ksEnc.setKey(buf, off);
        buf[(short) (ctrOff + 3)] = (byte) 2;
        sha256.doFinal(buf, seedOff, (short) (BLOCK + 4), buf, off);
        ksMac.setKey(buf, off);
        // R = RND.ICC ‖ RND.IFD ‖ K.ICC.
        Util.arrayCopyNonAtomic(rndIcc, rndOff, buf, off, BLOCK);
        Util.arrayCopyNonAtomic(scratch, (short) 0, buf, (short) (off + BLOCK), BLOCK);
        Util.arrayCopyNonAtomic(kIcc, kIccOff, buf, seedOff, BLOCK);
        // E_ICC = AES-CBC(K_enc, 0, R), in place; M_ICC = CMAC(K_mac, E_ICC)[0..8].
        cbc.init(kEnc, Cipher.MODE_ENCRYPT);
        cbc.doFinal(buf, off, CRYPTOGRAM_LEN, buf, off);
        cmac.compute(kMac, buf, off, CRYPTOGRAM_LEN, scratch, (short) 0);
        Util.arrayCopyNonAtomic(scratch, (short) 0, buf, macOff, MAC_LEN);
        Util.arrayFillNonAtomic(scratch, (short) 0, (short) (2 * BLOCK), (byte) 0);
        Util.arrayFillNonAtomic(ssc, (short) 0, BLOCK, (byte) 0);
        state[OPEN] = 1;
        return AUTH_LEN;
    }

    // ---------------------------------------------------------------------------------------
    // §10.4 / §10.6 unwrapping a protected command

    /**
     * Unwraps a protected command (§10.4; checks #3–#5 of the §10.6 table; #1 and #2 are the
     * caller's). header[hOff..hOff+4]: CLA INS P1 P2 as received (the MAC is always over CLA
     * 0C). data[dOff..dOff+dLen]: the whole (reassembled) data field. Increments the SSC. On
     * success decrypts the plaintext in place to data[dOff..] and returns its length (0 without
     * DO87/DO85). On failure closes the channel and throws 6987 (malformed data objects) or
     * 6988 (wrong MAC, wrong padding; also "no channel open").
     */
    short unwrapCommand(byte[] header, short hOff, byte[] data, short dOff, short dLen) {
        if (!isOpen()) {
            fail(null, (short) 0, (short) 0, SW_SM_DATA_INCORRECT);
        }
        try {
            return unwrap(header, hOff, data, dOff, dLen);
        } catch (CryptoException e) {
            fail(data, dOff, dLen, SW_NO_PRECISE_DIAGNOSIS);
        } catch (ArrayIndexOutOfBoundsException e) {
            fail(null, (short) 0, (short) 0, SW_NO_PRECISE_DIAGNOSIS);
        } catch (NullPointerException e) {
            fail(null, (short) 0, (short) 0, SW_NO_PRECISE_DIAGNOSIS);
        }
        return 0;
    }

    private short unwrap(byte[] header, short hOff, byte[] data, short dOff, short dLen) {
        byte ins = header[(short) (hOff + 1)];
        boolean odd = (short) (ins & 1) != 0;
        short end = (short) (dOff + dLen);
        state[NE] = 0;
        state[NE_EXPLICIT] = 0;

        // Row 3: exactly [87|85] [97] 8E, in this order, nothing else (6987).
        short pos = dOff;
        byte tag = readObject(data, pos, end);
        short cryptOff = 0;
        short cryptLen = 0;
        if (tag == (odd ? TAG_CRYPTOGRAM_ODD : TAG_CRYPTOGRAM)) {
            cryptOff = state[VALUE_OFF];
            cryptLen = state[VALUE_LEN];
            if (!odd) {
                if (cryptLen == 0 || data[cryptOff] != PADDING_INDICATOR) {
                    fail(null, (short) 0, (short) 0, SW_SM_DATA_MISSING);
                }
                cryptOff = (short) (cryptOff + 1);
                cryptLen = (short) (cryptLen - 1);
            }
            if (cryptLen == 0 || (short) (cryptLen & (short) (BLOCK - 1)) != 0) {
                fail(null, (short) 0, (short) 0, SW_SM_DATA_MISSING);
            }
            pos = (short) (state[VALUE_OFF] + state[VALUE_LEN]);
            tag = readObject(data, pos, end);
        }
        short ne = 0;
        boolean explicit = false;
        if (tag == TAG_LE) {
            short valueOff = state[VALUE_OFF];
            short valueLen = state[VALUE_LEN];
            if (valueLen == 1) {
                ne = (short) (data[valueOff] & 0xFF);
                explicit = ne != 0;
                if (ne == 0) {
                    ne = 256;
                }
            } else if (valueLen == 2) {
                short high = (short) (data[valueOff] & 0xFF);
                short low = (short) (data[(short) (valueOff + 1)] & 0xFF);
                explicit = (short) (high | low) != 0;
                if (high > 0x7F || !explicit) {
                    ne = (short) 0x7FFF; // 32768..65536: capped
                } else {
                    ne = (short) ((short) (high << 8) | low);
                }
            } else {
                fail(null, (short) 0, (short) 0, SW_SM_DATA_MISSING);
            }
            pos = (short) (valueOff + valueLen);
            tag = readObject(data, pos, end);
        }
        if (tag != TAG_MAC || state[VALUE_LEN] != MAC_LEN
                || (short) (state[VALUE_OFF] + MAC_LEN) != end) {
            fail(null, (short) 0, (short) 0, SW_SM_DATA_MISSING);
        }
        short macOff = state[VALUE_OFF];
        short macedLen = (short) (pos - dOff);

        // Row 4: SSC + 1, then the MAC over SSC ‖ pad(0C INS P1 P2) ‖ pad(DOs before 8E).
        if (!incrementSsc()) {
            fail(null, (short) 0, (short) 0, SW_SM_DATA_INCORRECT);
        }
        cmac.init(ksMac);
        cmac.update(ssc, (short) 0, BLOCK);
        scratch[0] = CLA_SM;
        Util.arrayCopyNonAtomic(header, (short) (hOff + 1), scratch, (short) 1, (short) 3);
        padBlock(scratch, (short) 4);
        if (macedLen == 0) {
            cmac.doFinal(scratch, (short) 0, BLOCK, scratch, BLOCK);
        } else {
            cmac.update(scratch, (short) 0, BLOCK);
            cmac.update(data, dOff, macedLen);
            short padLen = padBlock(scratch, (short) (macedLen & (short) (BLOCK - 1)));
            cmac.doFinal(scratch, (short) (BLOCK - padLen), padLen, scratch, BLOCK);
        }
        if (!equalInConstantTime(scratch, BLOCK, data, macOff, MAC_LEN)) {
            fail(null, (short) 0, (short) 0, SW_SM_DATA_INCORRECT);
        }
        state[NE] = ne;
        state[NE_EXPLICIT] = (short) (explicit ? 1 : 0);
        if (cryptLen == 0) {
            return 0;
        }

        // Decryption: IV = AES(KS_enc, SSC), then AES-CBC⁻¹ in place, then to data[dOff..].
        computeIv();
        cbc.init(ksEnc, Cipher.MODE_DECRYPT, scratch, (short) 0, BLOCK);
        cbc.doFinal(data, cryptOff, cryptLen, data, cryptOff);
        Util.arrayFillNonAtomic(scratch, (short) 0, (short) (2 * BLOCK), (byte) 0);

        // Row 5: the padding is 80 00…00, 1 to 16 bytes (6988).
        short cryptEnd = (short) (cryptOff + cryptLen);
        short last = (short) (cryptEnd - 1);
        short stop = (short) (cryptEnd - BLOCK);
        while (last >= stop && data[last] == 0) {
            last--;
        }
        if (last < stop || data[last] != (byte) 0x80) {
            fail(data, cryptOff, cryptLen, SW_SM_DATA_INCORRECT);
        }
        short plainLen = (short) (last - cryptOff);
        Util.arrayCopyNonAtomic(data, cryptOff, data, dOff, plainLen);
        return plainLen;
    }

    /**
     * Reads the data object at data[pos..end]: returns its tag byte and puts its value offset
     * and length into state[VALUE_OFF], state[VALUE_LEN]. Lengths in the shortest BER form of
     * 1–3 bytes only; anything else, or a value past the end, fails with 6987. A two-byte tag
     * is read as its first byte, which is no SM tag, so it fails later as an unknown tag.
     */
    private byte readObject(byte[] data, short pos, short end) {
        if ((short) (end - pos) < 2) {
            fail(null, (short) 0, (short) 0, SW_SM_DATA_MISSING);
        }
        byte tag = data[pos];
        short first = (short) (data[(short) (pos + 1)] & 0xFF);
        short at = (short) (pos + 2);
        short length = 0;
        if (first < 0x80) {
            length = first;
        } else if (first == 0x81) {
            if ((short) (end - at) < 1) {
                fail(null, (short) 0, (short) 0, SW_SM_DATA_MISSING);
            }
            length = (short) (data[at] & 0xFF);
            if (length < 0x80) {
                fail(null, (short) 0, (short) 0, SW_SM_DATA_MISSING);
            }
            at = (short) (at + 1);
        } else if (first == 0x82) {
            if ((short) (end - at) < 2) {
                fail(null, (short) 0, (short) 0, SW_SM_DATA_MISSING);
            }
            short high = (short) (data[at] & 0xFF);
            // 00 xx is not the shortest form; 80 xx and above cannot fit in a data field.
            if (high == 0 || high > 0x7F) {
                fail(null, (short) 0, (short) 0, SW_SM_DATA_MISSING);
            }
            length = (short) ((short) (high << 8) | (short) (data[(short) (at + 1)] & 0xFF));
            at = (short) (at + 2);
        } else {
            fail(null, (short) 0, (short) 0, SW_SM_DATA_MISSING);
        }
        if (length > (short) (end - at)) {
            fail(null, (short) 0, (short) 0, SW_SM_DATA_MISSING);
        }
        state[VALUE_OFF] = at;
        state[VALUE_LEN] = length;
        return tag;
    }

    /**
     * Ne from DO97 of the last unwrapped command: 1..256 for one byte (00 = 256), 1..32767 for
     * two bytes (larger values, and 00 00 = 65536, are capped at 32767); 0 when DO97 was absent.
     */
    short expectedLength() {
        return state[NE];
    }

    /**
     * True when DO97 of the last unwrapped command named an exact count (not 00 or 00 00, and
     * present): READ BINARY answers 6282 only then when the end of the file cuts it short
     * (§6.2).
     */
    boolean expectedLengthExplicit() {
        return state[NE_EXPLICIT] != 0;
    }

    // ---------------------------------------------------------------------------------------
    // §10.5 protecting a response

    /**
     * Protects a response (§10.5): increments the SSC; the plaintext buf[dOff..dOff+dLen] (dLen
     * may be 0; data only with 9000 or 6282) and the inner status word sw become [DO87|DO85] ‖
     * DO99 ‖ DO8E, written to buf from outOff; returns their length. Odd INS uses DO85.
     *
     * <p>outOff may equal dOff (in place); the plaintext is moved as needed. Room needed after
     * outOff: {@link #wrappedLength(byte, short)} bytes, at most dLen + 35 (DO87 tag, 3 length
     * bytes, indicator, up to 16 bytes of padding, DO99 4, DO8E 10).
     *
     * <p>Errors (channel closed, as they close it): 6F00 when no channel is open or the cipher
     * fails; 6988 if the SSC would wrap around.
     */
    short wrapResponse(byte ins, byte[] buf, short dOff, short dLen, short sw, short outOff) {
        if (!isOpen()) {
            // A caller's bug (the Rust card answers it 6F00 too): never a plain answer to a
            // protected command that looks like success.
            fail(null, (short) 0, (short) 0, SW_NO_PRECISE_DIAGNOSIS);
        }
        try {
            return wrap(ins, buf, dOff, dLen, sw, outOff);
        } catch (CryptoException e) {
            fail(null, (short) 0, (short) 0, SW_NO_PRECISE_DIAGNOSIS);
        } catch (ArrayIndexOutOfBoundsException e) {
            fail(null, (short) 0, (short) 0, SW_NO_PRECISE_DIAGNOSIS);
        } catch (NullPointerException e) {
            fail(null, (short) 0, (short) 0, SW_NO_PRECISE_DIAGNOSIS);
        }
        return 0;
    }

    /**
     * The length wrapResponse writes for dLen plaintext bytes: DO87/DO85 (when dLen > 0) +
     * DO99 (4) + DO8E (10).
     */
    static short wrappedLength(byte ins, short dLen) {
        short total = 14;
        if (dLen > 0) {
            short value = paddedLength(dLen);
            if ((short) (ins & 1) == 0) {
                value = (short) (value + 1);
            }
            short header = lengthFieldSize(value);
            total = (short) (total + 1 + header + value);
        }
        return total;
    }

    private short wrap(byte ins, byte[] buf, short dOff, short dLen, short sw, short outOff) {
        if (!incrementSsc()) {
            fail(null, (short) 0, (short) 0, SW_SM_DATA_INCORRECT);
        }
        short pos = outOff;
        if (dLen > 0) {
            boolean odd = (short) (ins & 1) != 0;
            short padded = paddedLength(dLen);
            short value = odd ? padded : (short) (padded + 1);
            short lengthSize = lengthFieldSize(value);
            short cOff = (short) (outOff + 1 + lengthSize);
            if (!odd) {
                cOff = (short) (cOff + 1);
            }
            // The plaintext to where the cryptogram goes, then padding, then AES-CBC in place.
            Util.arrayCopyNonAtomic(buf, dOff, buf, cOff, dLen);
            short padAt = (short) (cOff + dLen);
            buf[padAt] = (byte) 0x80;
            short zeros = (short) (padded - dLen - 1);
            if (zeros > 0) {
                Util.arrayFillNonAtomic(buf, (short) (padAt + 1), zeros, (byte) 0);
            }
            computeIv();
            cbc.init(ksEnc, Cipher.MODE_ENCRYPT, scratch, (short) 0, BLOCK);
            cbc.doFinal(buf, cOff, padded, buf, cOff);
            // Tag, length, and the indicator in front of the cryptogram.
            buf[pos] = odd ? TAG_CRYPTOGRAM_ODD : TAG_CRYPTOGRAM;
            pos = (short) (pos + 1);
            pos = writeLength(buf, pos, value);
            if (!odd) {
                buf[pos] = PADDING_INDICATOR;
            }
            pos = (short) (cOff + padded);
        }
        buf[pos] = TAG_STATUS;
        buf[(short) (pos + 1)] = 2;
        Util.setShort(buf, (short) (pos + 2), sw);
        pos = (short) (pos + 4);
        // DO8E = 8E 08 ‖ CMAC(KS_mac, SSC ‖ pad(DOs so far))[0..8].
        short macedLen = (short) (pos - outOff);
        cmac.init(ksMac);
        cmac.update(ssc, (short) 0, BLOCK);
        cmac.update(buf, outOff, macedLen);
        short padLen = padBlock(scratch, (short) (macedLen & (short) (BLOCK - 1)));
        cmac.doFinal(scratch, (short) (BLOCK - padLen), padLen, scratch, BLOCK);
        buf[pos] = TAG_MAC;
        buf[(short) (pos + 1)] = (byte) MAC_LEN;
        Util.arrayCopyNonAtomic(scratch, BLOCK, buf, (short) (pos + 2), MAC_LEN);
        Util.arrayFillNonAtomic(scratch, (short) 0, (short) (2 * BLOCK), (byte) 0);
        return (short) (pos + 2 + MAC_LEN - outOff);
    }

    // ---------------------------------------------------------------------------------------
    // helpers

    /** p = 16 × (⌊n/16⌋ + 1): pad() always adds 1 to 16 bytes. */
    private static short paddedLength(short n) {
        return (short) ((short) (n & (short) ~(BLOCK - 1)) + BLOCK);
    }

    /** Bytes of the shortest BER length field for a value of this length. */
    private static short lengthFieldSize(short length) {
        if (length < 0x80) {
            return 1;
        }
        return (short) (length < 0x100 ? 2 : 3);
    }

    /** Writes the shortest BER length field at buf[pos..]; returns the offset after it. */
    private static short writeLength(byte[] buf, short pos, short length) {
        if (length < 0x80) {
            buf[pos] = (byte) length;
            return (short) (pos + 1);
        }
        if (length < 0x100) {
            buf[pos] = (byte) 0x81;
            buf[(short) (pos + 1)] = (byte) length;
            return (short) (pos + 2);
        }
        buf[pos] = (byte) 0x82;
        Util.setShort(buf, (short) (pos + 1), length);
        return (short) (pos + 3);
    }

    /**
     * Writes pad()'s bytes for a message of r mod 16 = from bytes: 80 00… into block[from..16],
     * 16 - from bytes (a whole block when from = 0); returns their number. They always end at
     * block[16].
     */
    private static short padBlock(byte[] block, short from) {
        block[from] = (byte) 0x80;
        short zeros = (short) (BLOCK - from - 1);
        if (zeros > 0) {
            Util.arrayFillNonAtomic(block, (short) (from + 1), zeros, (byte) 0);
        }
        return (short) (BLOCK - from);
    }

    /** scratch[0..16] = IV = AES-ECB(KS_enc, SSC), as CBC with a zero IV over one block. */
    private void computeIv() {
        cbc.init(ksEnc, Cipher.MODE_ENCRYPT);
        cbc.doFinal(ssc, (short) 0, BLOCK, scratch, (short) 0);
    }

    /** SSC ← SSC + 1 with carry; false when it wrapped around (never in practice). */
    private boolean incrementSsc() {
        for (short i = (short) (BLOCK - 1); i >= 0; i--) {
            byte next = (byte) (ssc[i] + 1);
            ssc[i] = next;
            if (next != 0) {
                return true;
            }
        }
        return false;
    }

    /** a[aOff..aOff+n] = b[bOff..bOff+n], reading every byte whatever the first difference. */
    private static boolean equalInConstantTime(byte[] a, short aOff, byte[] b, short bOff,
                                               short n) {
        short diff = 0;
        for (short i = 0; i < n; i++) {
            diff = (short) (diff | (short) (a[(short) (aOff + i)] ^ b[(short) (bOff + i)]));
        }
        return diff == 0;
    }

    /**
     * Closes the channel, wipes buf[off..off+len] when buf is given (decrypted secrets must not
     * stay in the APDU buffer), and throws the status word.
     */
    private void fail(byte[] buf, short off, short len, short sw) {
        if (buf != null && len > 0) {
            Util.arrayFillNonAtomic(buf, off, len, (byte) 0);
        }
        close();
        ISOException.throwIt(sw);
    }
}
