package ir.melli.applet;

/**
 * The card's checks of ISO/IEC 19794-2:2005 finger minutiae records (applets-spec §11.1) and of
 * the live template of VERIFY P2 83, {@code 7F2E { 81 <record> }} (§11.2). They accept exactly
 * what the reference card accepts and never throw on any input.
 *
 * <p>Where the reference card checks DG3: at VERIFY P2 83 (an unusable record answers 6981,
 * after the live template's own check, 6A80, and before a try is consumed), at ACTIVATE FILE
 * (6985 when DG3 is not well-formed) and at GET DATA 7F61 (6A88). {@link #checkEnrolledRecord}
 * answers the VERIFY status word; the other two callers map a non-9000 answer to theirs.
 */
final class FingerRecord {
    /** Well formed. */
    static final short SW_OK = (short) 0x9000;
    /** A malformed live template (§11.2): no try consumed. */
    static final short SW_BAD_TEMPLATE = (short) 0x6A80;
    /** An unusable enrolled record at VERIFY (§6.8, §11.1). */
    static final short SW_BAD_RECORD = (short) 0x6981;

    /** Record header length. */
    static final short HEADER = 24;
    /** Largest record, in DG3 or in DO 81 (§11.1). */
    private static final short MAX_RECORD = 4096;
    /** Largest image width or height. */
    private static final short MAX_IMAGE = 16383;
    /** The only resolution accepted, pixels/cm. */
    private static final short RESOLUTION = 197;
    /** Views of an enrolled record. */
    private static final short MAX_VIEWS = 10;
    /** Minutiae of a view. */
    private static final short MIN_MINUTIAE = 12;
    private static final short MAX_MINUTIAE = 128;

    private FingerRecord() {
    }

    /**
     * §11.2: is {@code buf[off..off+len]}, the command data field of VERIFY P2 83, exactly one
     * {@code 7F2E} holding exactly one {@code 81} whose value is a well-formed record with one
     * finger view? Returns 9000 if so, else 6A80.
     */
    static short checkLiveTemplate(byte[] buf, short off, short len) {
        short record = recordOffset(buf, off, len);
        if (record < 0) {
            return SW_BAD_TEMPLATE;
        }
        short recordLen = (short) ((short) (off + len) - record);
        return wellFormed(buf, record, recordLen, (short) 1) ? SW_OK : SW_BAD_TEMPLATE;
    }

    /**
     * §5.3/§11.1: is {@code buf[off..off+len]}, the whole content of DG3, a well-formed record
     * of 1 to 10 views? Returns 9000 if so, else 6981 (the answer of VERIFY P2 83).
     */
    static short checkEnrolledRecord(byte[] buf, short off, short len) {
        return wellFormed(buf, off, len, MAX_VIEWS) ? SW_OK : SW_BAD_RECORD;
    }

    /**
     * The offset of the record inside the live template {@code buf[off..off+len]} (the value
     * of DO 81, which runs to the template's end), or -1 when the template structure is wrong.
     * BER lengths: short form, or long form with 1 to 3 length bytes (non-minimal accepted).
     */
    static short recordOffset(byte[] buf, short off, short len) {
        short end = (short) (off + len);
        if (buf == null || off < 0 || len < 0 || end < 0 || end > buf.length) {
            return -1;
        }
        if (len < 2 || buf[off] != (byte) 0x7F || buf[(short) (off + 1)] != (byte) 0x2E) {
            return -1;
        }
        short inner = valueOffset(buf, (short) (off + 2), end);
        if (inner < 0 || buf[inner] != (byte) 0x81) {
            return -1;
        }
        return valueOffset(buf, (short) (inner + 1), end);
    }

    /**
     * Reads the BER length at {@code buf[at]} and returns where the value starts, when the
     * value is not empty and runs exactly to {@code end}; -1 otherwise. (An empty value is
     * never well-formed here: 7F2E must hold 81, and 81 a record.)
     */
    private static short valueOffset(byte[] buf, short at, short end) {
        if (at >= end) {
            return -1;
        }
        short first = (short) (buf[at] & 0xFF);
        short value;
        short length;
        if (first < 0x80) {
            length = first;
            value = (short) (at + 1);
        } else {
            short count = (short) (first & 0x7F);
            if (count < 1 || count > 3) {
                return -1;
            }
            value = (short) ((short) (at + 1) + count);
            if (value > end || value < 0) {
                return -1;
            }
            length = 0;
            for (short i = (short) (at + 1); i < value; i++) {
                if ((short) (length & (short) 0xFF80) != 0) {
                    return -1; // at least 2^15: more than any buffer holds
                }
                length = (short) ((short) (length << 8) | (short) (buf[i] & 0xFF));
            }
            if (length < 0) {
                return -1;
            }
        }
        if ((short) (end - value) != length || value >= end) {
            return -1;
        }
        return value;
    }

    /**
     * §11.1: {@code buf[off..off+len]} is a well-formed record of 1 to {@code maxViews} views,
     * whose views and extended data end exactly at {@code len}, which the record length field
     * states (at most 4096).
     */
    static boolean wellFormed(byte[] buf, short off, short len, short maxViews) {
        short end = (short) (off + len);
        if (buf == null || off < 0 || len < HEADER || len > MAX_RECORD || end < 0
                || end > buf.length) {
            return false;
        }
        if (buf[off] != 0x46 || buf[(short) (off + 1)] != 0x4D || buf[(short) (off + 2)] != 0x52
                || buf[(short) (off + 3)] != 0 || buf[(short) (off + 4)] != 0x20
                || buf[(short) (off + 5)] != 0x32 || buf[(short) (off + 6)] != 0x30
                || buf[(short) (off + 7)] != 0) {
            return false;
        }
        if (buf[(short) (off + 8)] != 0 || buf[(short) (off + 9)] != 0
                || getShort(buf, (short) (off + 10)) != len) {
            return false;
        }
        short width = getShort(buf, (short) (off + 14));
        short height = getShort(buf, (short) (off + 16));
        if (width < 1 || width > MAX_IMAGE || height < 1 || height > MAX_IMAGE) {
            return false;
        }
        if (getShort(buf, (short) (off + 18)) != RESOLUTION
                || getShort(buf, (short) (off + 20)) != RESOLUTION) {
            return false;
        }
        short views = (short) (buf[(short) (off + 22)] & 0xFF);
        if (views < 1 || views > maxViews || buf[(short) (off + 23)] != 0) {
            return false;
        }
        short at = (short) (off + HEADER);
        for (short v = 0; v < views; v++) {
            at = view(buf, at, end, width, height);
            if (at < 0) {
                return false;
            }
        }
        return at == end;
    }

    /** Checks the finger view at {@code at}; returns the offset after it, or -1. */
    private static short view(byte[] buf, short at, short end, short width, short height) {
        if ((short) (end - at) < 4) {
            return -1;
        }
        if ((short) (buf[at] & 0xFF) > 10) {
            return -1; // finger position 0-10
        }
        short impression = (short) (buf[(short) (at + 1)] & 0x0F);
        if (impression > 3 && impression != 8 && impression != 9) {
            return -1;
        }
        if ((short) (buf[(short) (at + 2)] & 0xFF) > 100) {
            return -1; // finger quality
        }
        short count = (short) (buf[(short) (at + 3)] & 0xFF);
        if (count < MIN_MINUTIAE || count > MAX_MINUTIAE) {
            return -1;
        }
        at = (short) (at + 4);
        // 6 bytes a minutia, then the extended data block length.
        if ((short) (end - at) < (short) ((short) (count * 6) + 2)) {
            return -1;
        }
        for (short q = 0; q < count; q++) {
            short typeX = getShort(buf, at);
            short reservedY = getShort(buf, (short) (at + 2));
            if ((short) (typeX & (short) 0xC000) == (short) 0xC000) {
                return -1; // type 11
            }
            if ((short) (reservedY & (short) 0xC000) != 0) {
                return -1; // reserved bits of y
            }
            if ((short) (typeX & 0x3FFF) >= width || (short) (reservedY & 0x3FFF) >= height) {
                return -1;
            }
            if ((short) (buf[(short) (at + 5)] & 0xFF) > 100) {
                return -1; // minutia quality
            }
            at = (short) (at + 6);
        }
        short extended = getShort(buf, at);
        at = (short) (at + 2);
        if (extended < 0 || (short) (end - at) < extended) {
            return -1;
        }
        return (short) (at + extended);
    }

    /** The big-endian short at {@code buf[at]}. */
    static short getShort(byte[] buf, short at) {
        return (short) ((short) (buf[at] << 8) | (short) (buf[(short) (at + 1)] & 0xFF));
    }
}
