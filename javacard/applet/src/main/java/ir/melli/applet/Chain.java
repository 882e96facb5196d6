package ir.melli.applet;

import javacard.framework.JCSystem;
import javacard.framework.Util;

/**
 * Command chaining (spec §4.3): the data of a chain are collected in the persistent work
 * buffer and the command runs once, at its last APDU. The chain's header and length are in
 * RAM (7 bytes), so a reset discards the chain.
 */
final class Chain {
    private static final byte OPEN = 0;
    private static final byte CLA = 1;
    private static final byte INS = 2;
    private static final byte P1 = 3;
    private static final byte P2 = 4;

    /** What {@link #accept} decided. */
    static final byte SINGLE = 0;
    static final byte CONTINUE = 1;
    static final byte COMPLETE = 2;

    private final byte[] header;
    private final short[] length;
    private final byte[] work;

    Chain(byte[] work) {
        this.work = work;
        header = JCSystem.makeTransientByteArray((short) 5, JCSystem.CLEAR_ON_RESET);
        length = JCSystem.makeTransientShortArray((short) 1, JCSystem.CLEAR_ON_RESET);
    }

    /**
     * Takes the open chain, if any: an open chain survives only as the chain's next APDU
     * (§4.3 rules 5, 6, 8). Returns whether one was open.
     */
    boolean take() {
        boolean open = header[OPEN] != 0;
        header[OPEN] = 0;
        return open;
    }

    /** Discards any open chain (SELECT of the AID). */
    void discard() {
        header[OPEN] = 0;
    }

    /**
     * §4.3 for an APDU whose chain state {@link #take} returned: SINGLE (no chain), CONTINUE
     * (a non-last link, answered 9000), or COMPLETE (the whole data are in the work buffer,
     * {@link #total} bytes). 6883 on a header mismatch, 6A84 past the buffer.
     */
    byte accept(boolean wasOpen, Command c, byte[] data) {
        byte cla = (byte) (c.cla() & (byte) 0xEF);
        boolean chaining = c.has(Command.F_CHAINING);
        if (wasOpen && header[INS] == c.ins()) {
            if (header[CLA] != cla || header[P1] != c.p1() || header[P2] != c.p2()) {
                ISOExceptionHelper.fail(Sw.LAST_COMMAND_OF_CHAIN_EXPECTED);
            }
            short have = length[0];
            if (c.nc() > (short) (Limits.WORK_SIZE - have)) {
                ISOExceptionHelper.fail(Sw.NOT_ENOUGH_MEMORY);
            }
            Util.arrayCopyNonAtomic(data, c.dataOff(), work, have, c.nc());
            length[0] = (short) (have + c.nc());
            if (chaining) {
                header[OPEN] = 1;
                return CONTINUE;
            }
            return COMPLETE;
        }
        if (chaining) {
            Util.arrayCopyNonAtomic(data, c.dataOff(), work, (short) 0, c.nc());
            length[0] = c.nc();
            header[CLA] = cla;
            header[INS] = c.ins();
            header[P1] = c.p1();
            header[P2] = c.p2();
            header[OPEN] = 1;
            return CONTINUE;
        }
        return SINGLE;
    }

    short total() {
        return length[0];
    }
}
