package ir.melli.applet;

/**
 * The little BER-TLV the card reads (spec README, Conventions): one-byte tags, lengths of 1–4
 * bytes (`81`–`83` forms). Results are returned through a 2-short array: value offset and
 * value length.
 */
final class Tlv {
    private Tlv() {
    }

    /**
     * Reads the object with one-byte `tag` at `off` (at most `len` bytes): into `out` its value
     * offset and length. False when the tag differs or the object does not fit.
     */
    static boolean read(byte[] b, short off, short len, byte tag, short[] out) {
        if (len < 2 || b[off] != tag) {
            return false;
        }
        short p = (short) (off + 1);
        short end = (short) (off + len);
        short first = (short) (b[p] & 0xFF);
        p++;
        short value;
        if (first < 0x80) {
            value = first;
        } else {
            short count = (short) (first & 0x7F);
            if (count < 1 || count > 3 || count > (short) (end - p)) {
                return false;
            }
            value = 0;
            for (short i = 0; i < count; i++) {
                if ((value & (short) 0x7F80) != 0) {
                    return false; // more than 32 767: never fits this card's data
                }
                value = (short) ((short) (value << 8) | (short) (b[p] & 0xFF));
                p++;
            }
            if (value < 0) {
                return false;
            }
        }
        if (value > (short) (end - p)) {
            return false;
        }
        out[0] = p;
        out[1] = value;
        return true;
    }

    /** The BER length field's size for a value of `n` bytes. */
    static short lengthSize(short n) {
        if (n < 0x80) {
            return 1;
        }
        return n < 0x100 ? (short) 2 : (short) 3;
    }

    /** Writes the length field of `n` at `off`; returns the next offset. */
    static short writeLength(byte[] b, short off, short n) {
        if (n < 0x80) {
            b[off] = (byte) n;
            return (short) (off + 1);
        }
        if (n < 0x100) {
            b[off] = (byte) 0x81;
            b[(short) (off + 1)] = (byte) n;
            return (short) (off + 2);
        }
        b[off] = (byte) 0x82;
        b[(short) (off + 1)] = (byte) (n >> 8);
        b[(short) (off + 2)] = (byte) n;
        return (short) (off + 3);
    }

    /**
     * An offset value of 1–3 bytes (DO 54): the offset, or -1 when it exceeds 32 767 (always
     * past any file of this card: 6B00), or -2 when malformed (6A80).
     */
    static short offsetValue(byte[] b, short off, short len) {
        if (len < 1 || len > 3) {
            return -2;
        }
        short v = 0;
        for (short i = 0; i < len; i++) {
            if ((v & (short) 0x7F80) != 0) {
                return -1;
            }
            v = (short) ((short) (v << 8) | (short) (b[(short) (off + i)] & 0xFF));
        }
        return v < 0 ? (short) -1 : v;
    }
}
