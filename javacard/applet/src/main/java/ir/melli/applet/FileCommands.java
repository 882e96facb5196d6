package ir.melli.applet;

import javacard.framework.APDU;
import javacard.framework.ISOException;
import javacard.framework.JCSystem;
import javacard.framework.Util;

/** SELECT, READ BINARY, UPDATE BINARY and ERASE BINARY (spec §6.1–§6.4). */
final class FileCommands {
    static final byte[] AID = {(byte) 0xF0, 0x4D, 0x45, 0x4C, 0x4C, 0x49, 0x01};

    private final Dispatcher d;
    /** RAM: [0] the file index, [1] the offset, of the command being run; TLV results. */
    private final short[] addr;
    private final short[] tlv;

    FileCommands(Dispatcher d) {
        this.d = d;
        addr = JCSystem.makeTransientShortArray((short) 2, JCSystem.CLEAR_ON_RESET);
        tlv = JCSystem.makeTransientShortArray((short) 2, JCSystem.CLEAR_ON_RESET);
    }

    // ---- SELECT (§6.1) ----

    short select(APDU apdu) {
        Command c = d.cmd;
        byte p1 = c.p1();
        byte p2 = c.p2();
        boolean byName = p1 == 0x04;
        boolean byFid = p1 == 0x00 || p1 == 0x02;
        boolean p2Known = p2 == 0x00 || p2 == 0x04 || p2 == 0x0C;
        if (!(byName || byFid) || !p2Known) {
            ISOException.throwIt(Sw.INCORRECT_P1P2);
        }
        short len;
        if (byName) {
            d.secureMessaging(apdu, Dispatcher.PLAIN_ONLY);
            byte[] data = d.data(apdu);
            if (c.nc() != (short) AID.length
                    || Util.arrayCompare(data, c.dataOff(), AID, (short) 0, (short) 7) != 0) {
                ISOException.throwIt(Sw.FILE_NOT_FOUND);
            }
            startApplication();
            len = applicationFcp(d.out());
        } else {
            d.secureMessaging(apdu, Dispatcher.EITHER);
            byte[] data = d.data(apdu);
            if (c.nc() != 2) {
                ISOException.throwIt(Sw.WRONG_LENGTH);
            }
            if (!d.session.selected()) {
                ISOException.throwIt(Sw.FILE_NOT_FOUND);
            }
            byte index = Files.byFid(Util.getShort(data, c.dataOff()));
            if (index < 0) {
                ISOException.throwIt(Sw.FILE_NOT_FOUND);
            }
            len = fileFcp(index, d.out());
            d.session.setCurrentEf(index);
        }
        return p2 == 0x0C ? (short) 0 : len;
    }

    /** §2.2: a fresh card session. */
    private void startApplication() {
        d.session.startApplication();
        d.channel.close();
        d.chain.discard();
        d.responder.clear();
    }

    /**
     * {@code 62 L { 82 01 38; 84 07 AID; 85 n serial; 8A 01 LCS }}: this applet implements
     * version 1.1, whose application FCP carries the serial (1–16 characters) in tag 85 (§6.1).
     */
    private short applicationFcp(byte[] out) {
        out[0] = 0x62;
        out[2] = (byte) 0x82;
        out[3] = 0x01;
        out[4] = 0x38;
        out[5] = (byte) 0x84;
        out[6] = 0x07;
        Util.arrayCopyNonAtomic(AID, (short) 0, out, (short) 7, (short) 7);
        out[14] = (byte) 0x85;
        short n = d.state.copySerial(out, (short) 16);
        out[15] = (byte) n;
        short at = (short) (16 + n);
        out[at] = (byte) 0x8A;
        out[(short) (at + 1)] = 0x01;
        out[(short) (at + 2)] = d.state.lifecycle();
        short len = (short) (at + 3);
        out[1] = (byte) (len - 2);
        return len;
    }

    private short fileFcp(byte index, byte[] out) {
        short fid = Files.fid(index);
        out[0] = 0x62;
        out[1] = 0x15;
        out[2] = (byte) 0x80;
        out[3] = 0x02;
        Util.setShort(out, (short) 4, d.files.length(index));
        out[6] = (byte) 0x81;
        out[7] = 0x02;
        Util.setShort(out, (short) 8, Files.max(index));
        out[10] = (byte) 0x82;
        out[11] = 0x01;
        out[12] = 0x01;
        out[13] = (byte) 0x83;
        out[14] = 0x02;
        Util.setShort(out, (short) 15, fid);
        out[17] = (byte) 0x88;
        out[18] = 0x01;
        out[19] = (byte) fid;
        out[20] = (byte) 0x8A;
        out[21] = 0x01;
        out[22] = d.state.lifecycle();
        return 23;
    }

    // ---- addressing ----

    /** Even INS: SFI in P1 (offset P2) or offset in P1-P2 on the current EF; into addr. */
    private void addressEven() {
        Command c = d.cmd;
        byte p1 = c.p1();
        if ((p1 & (byte) 0x80) != 0) {
            if ((p1 & (byte) 0x60) != 0) {
                ISOException.throwIt(Sw.INCORRECT_P1P2);
            }
            byte index = Files.bySfi((byte) (p1 & 0x1F));
            if (index < 0) {
                ISOException.throwIt(Sw.FILE_NOT_FOUND);
            }
            d.session.setCurrentEf(index);
            addr[0] = index;
            addr[1] = (short) (c.p2() & 0xFF);
        } else {
            addr[0] = currentEf();
            addr[1] = (short) (c.p1p2() & 0x7FFF);
        }
    }

    /** Odd INS: P1-P2 0000 the current EF, otherwise a FID, which becomes current. */
    private byte addressOdd() {
        short p1p2 = d.cmd.p1p2();
        if (p1p2 == 0) {
            return currentEf();
        }
        byte index = Files.byFid(p1p2);
        if (index < 0) {
            ISOException.throwIt(Sw.FILE_NOT_FOUND);
        }
        d.session.setCurrentEf(index);
        return index;
    }

    private byte currentEf() {
        byte index = d.session.currentEf();
        if (index < 0) {
            ISOException.throwIt(Sw.NO_CURRENT_EF);
        }
        return index;
    }

    /** 6B00 when the offset is past the current length (-1 stands for "past any file"). */
    private void checkOffset(byte index, short offset) {
        if (offset < 0 || offset > d.files.length(index)) {
            ISOException.throwIt(Sw.WRONG_P1P2);
        }
    }

    /** EF 0103 is never readable (§5.3). */
    private static void readable(byte index) {
        if (index == Files.DG3) {
            ISOException.throwIt(Sw.SECURITY_STATUS_NOT_SATISFIED);
        }
    }

    // ---- READ BINARY (§6.2) ----

    short readEven(APDU apdu) {
        addressEven();
        byte index = (byte) addr[0];
        short offset = addr[1];
        readable(index);
        checkOffset(index, offset);
        d.secureMessaging(apdu, Dispatcher.EITHER);
        return read(index, offset, false);
    }

    short readOdd(APDU apdu) {
        byte index = addressOdd();
        readable(index);
        d.secureMessaging(apdu, Dispatcher.EITHER);
        Command c = d.cmd;
        byte[] data = d.data(apdu);
        if (!Tlv.read(data, c.dataOff(), c.nc(), (byte) 0x54, tlv)
                || (short) (tlv[0] + tlv[1]) != (short) (c.dataOff() + c.nc())) {
            ISOException.throwIt(Sw.INCORRECT_DATA);
        }
        short offset = Tlv.offsetValue(data, tlv[0], tlv[1]);
        if (offset == -2) {
            ISOException.throwIt(Sw.INCORRECT_DATA);
        }
        checkOffset(index, offset);
        return read(index, offset, true);
    }

    /**
     * n = min(Ne, rest) bytes (bare), or as many as fit with their `53 L` header in Ne (odd);
     * 6282 at the end of the file or when an explicit Le asked for more than remained.
     */
    private short read(byte index, short offset, boolean discretionary) {
        Command c = d.cmd;
        short rest = (short) (d.files.length(index) - offset);
        if (rest == 0) {
            c.setStatus(Sw.END_OF_FILE);
            return 0;
        }
        boolean protectedAnswer = c.has(Command.F_PROTECTED);
        short ne = c.ne();
        short budget = ne;
        if (protectedAnswer && budget > Limits.PROTECTED_READ_MAX) {
            budget = Limits.PROTECTED_READ_MAX;
        }
        short count;
        short prefix = 0;
        if (discretionary) {
            count = (short) (budget - 2);
            if (count < 0) {
                ISOException.throwIt(Sw.WRONG_LENGTH);
            }
            if (count > rest) {
                count = rest;
            }
            while ((short) (1 + Tlv.lengthSize(count) + count) > budget) {
                count--;
            }
            prefix = (short) (1 + Tlv.lengthSize(count));
        } else {
            count = rest < budget ? rest : budget;
        }
        short total = (short) (prefix + count);
        boolean cutShort = c.has(Command.F_LE_EXPLICIT) && count == rest && total < ne;
        c.setStatus(cutShort ? Sw.END_OF_FILE : Sw.OK);
        byte[] out = d.out();
        if (discretionary) {
            out[0] = 0x53;
            Tlv.writeLength(out, (short) 1, count);
        }
        byte[] file = d.files.bytes(index);
        if (protectedAnswer) {
            Util.arrayCopyNonAtomic(file, offset, out, prefix, count);
        } else {
            d.answerFrom(file, offset, prefix);
        }
        return protectedAnswer ? total : count;
    }

    // ---- UPDATE BINARY (§6.3), ERASE BINARY (§6.4) ----

    short updateEven(APDU apdu) {
        addressEven();
        byte index = (byte) addr[0];
        short offset = addr[1];
        checkOffset(index, offset);
        d.secureMessaging(apdu, Dispatcher.REQUIRED);
        writable(index);
        Command c = d.cmd;
        write(index, offset, d.data(apdu), c.dataOff(), c.nc());
        return 0;
    }

    short updateOdd(APDU apdu) {
        byte index = addressOdd();
        d.secureMessaging(apdu, Dispatcher.REQUIRED);
        writable(index);
        Command c = d.cmd;
        byte[] data = d.data(apdu);
        short end = (short) (c.dataOff() + c.nc());
        if (!Tlv.read(data, c.dataOff(), c.nc(), (byte) 0x54, tlv)) {
            ISOException.throwIt(Sw.INCORRECT_DATA);
        }
        short offset = Tlv.offsetValue(data, tlv[0], tlv[1]);
        short next = (short) (tlv[0] + tlv[1]);
        if (offset == -2 || !Tlv.read(data, next, (short) (end - next), (byte) 0x53, tlv)
                || (short) (tlv[0] + tlv[1]) != end || tlv[1] == 0) {
            ISOException.throwIt(Sw.INCORRECT_DATA);
        }
        checkOffset(index, offset);
        write(index, offset, data, tlv[0], tlv[1]);
        return 0;
    }

    short erase(APDU apdu) {
        Command c = d.cmd;
        if ((c.p1() & (byte) 0x80) != 0) {
            ISOException.throwIt(Sw.INCORRECT_P1P2);
        }
        byte index = currentEf();
        d.secureMessaging(apdu, Dispatcher.REQUIRED);
        writable(index);
        d.files.erase(index, c.p1p2());
        return 0;
    }

    /** PERSONALIZING only (6985), and never EF 0105 (6982). */
    private void writable(byte index) {
        d.requireLifecycle(CardState.PERSONALIZING);
        if (index == Files.DG5) {
            ISOException.throwIt(Sw.SECURITY_STATUS_NOT_SATISFIED);
        }
    }

    private void write(byte index, short offset, byte[] src, short srcOff, short len) {
        if (len > (short) (Files.max(index) - offset)) {
            ISOException.throwIt(Sw.NOT_ENOUGH_MEMORY);
        }
        checkOffset(index, offset);
        d.files.write(index, offset, src, srcOff, len);
    }
}
