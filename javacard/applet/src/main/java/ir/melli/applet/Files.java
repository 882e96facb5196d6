package ir.melli.applet;

import javacard.framework.JCSystem;
import javacard.framework.Util;

/**
 * The transparent EFs of spec §5 and §12.1, each a persistent array of its maximum size and a
 * current length. 34 176 bytes of file space and 16 bytes of lengths.
 *
 * <p>Writes are tearing-safe without a large commit buffer: bytes written at or beyond the
 * current length are invisible until the length (one short, an atomic write) grows over them;
 * a write that overwrites visible bytes runs inside a transaction (§6.3 "atomic").
 */
final class Files {
    static final byte DG1 = 0;
    static final byte DG2 = 1;
    static final byte DG3 = 2;
    static final byte DG4 = 3;
    static final byte DG5 = 4;
    static final byte DG6 = 5;
    static final byte SOD = 6;
    /** EF 0107, the authentication certificate (spec 1.1, §12.1): every rule of DG6. */
    static final byte DG7 = 7;
    static final byte COUNT = 8;

    /** FIDs, in index order. */
    private static final short[] FID = {
        (short) 0x0101, (short) 0x0102, (short) 0x0103, (short) 0x0104, (short) 0x0105,
        (short) 0x0106, (short) 0x011D, (short) 0x0107
    };
    private static final short[] MAX = {
        (short) 1024, (short) 20480, (short) 4096, (short) 256, (short) 128, (short) 2048,
        (short) 4096, (short) 2048
    };

    private final Object[] content;
    private final short[] length;

    Files() {
        content = new Object[COUNT];
        for (byte i = 0; i < COUNT; i++) {
            content[i] = new byte[MAX[i]];
        }
        length = new short[COUNT];
    }

    /** The index of a FID, or -1. */
    static byte byFid(short fid) {
        for (byte i = 0; i < COUNT; i++) {
            if (FID[i] == fid) {
                return i;
            }
        }
        return (byte) -1;
    }

    /** The index of an SFI (the low byte of the FID), or -1; SFI 0 is never a file. */
    static byte bySfi(byte sfi) {
        if (sfi == 0) {
            return (byte) -1;
        }
        return byFid((short) (0x0100 | (short) (sfi & 0xFF)));
    }

    static short fid(byte index) {
        return FID[index];
    }

    static short max(byte index) {
        return MAX[index];
    }

    byte[] bytes(byte index) {
        return (byte[]) content[index];
    }

    short length(byte index) {
        return length[index];
    }

    /**
     * Writes `len` bytes at `offset` (the caller checked offset ≤ length and the maximum size);
     * the new length is max(length, offset + len).
     */
    void write(byte index, short offset, byte[] src, short srcOff, short len) {
        byte[] file = bytes(index);
        short end = (short) (offset + len);
        short current = length[index];
        if (offset >= current) {
            Util.arrayCopyNonAtomic(src, srcOff, file, offset, len);
            Tear.at(Tear.AFTER_FILE_BYTES);
            length[index] = end;
            return;
        }
        JCSystem.beginTransaction();
        Util.arrayCopy(src, srcOff, file, offset, len);
        Tear.at(Tear.AFTER_FILE_BYTES);
        if (end > current) {
            length[index] = end;
        }
        JCSystem.commitTransaction();
    }

    /** The whole content replaced (DG5 at GENERATE 80 02). */
    void replace(byte index, byte[] src, short srcOff, short len) {
        JCSystem.beginTransaction();
        Util.arrayCopy(src, srcOff, bytes(index), (short) 0, len);
        length[index] = len;
        JCSystem.commitTransaction();
        wipeFrom(index, len);
    }

    /** ERASE BINARY (§6.4): length = min(length, offset), the bytes after overwritten. */
    void erase(byte index, short offset) {
        if (offset < length[index]) {
            length[index] = offset;
            wipeFrom(index, offset);
        }
    }

    /** Zeroes the invisible bytes from `from` to the end of the file. */
    void wipeFrom(byte index, short from) {
        byte[] file = bytes(index);
        Util.arrayFillNonAtomic(file, from, (short) (file.length - from), (byte) 0);
    }

    /** Sets the length, alone (TERMINATE DF empties DG3 inside its transaction). */
    void setLength(byte index, short len) {
        length[index] = len;
    }
}
