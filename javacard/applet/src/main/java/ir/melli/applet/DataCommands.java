package ir.melli.applet;

import javacard.framework.APDU;
import javacard.framework.ISOException;
import javacard.framework.Util;

/** GET DATA, GET CHALLENGE and GET RESPONSE (spec §6.6, §6.7, §6.17). */
final class DataCommands {
    private static final byte[] EXTENDED_LENGTH_INFO = {
        0x7F, 0x66, 0x08, 0x02, 0x02, 0x04, 0x00, 0x02, 0x02, (byte) 0xFF, (byte) 0xFD
    };
    /** The §11.3 subtype of finger positions 0–10. */
    private static final byte[] SUBTYPE = {
        0x00, 0x05, 0x09, 0x0D, 0x11, 0x15, 0x06, 0x0A, 0x0E, 0x12, 0x16
    };

    private final Dispatcher d;

    DataCommands(Dispatcher d) {
        this.d = d;
    }

    short getData(APDU apdu) {
        short tag = d.cmd.p1p2();
        boolean known = tag == (short) 0xDF01 || tag == (short) 0xDF02 || tag == (short) 0xDF03
                || tag == (short) 0xDF04 || tag == (short) 0x7F66 || tag == (short) 0x7F61;
        if (!known) {
            ISOException.throwIt(Sw.REFERENCE_NOT_FOUND);
        }
        d.secureMessaging(apdu, Dispatcher.EITHER);
        byte[] out = d.out();
        CardState s = d.state;
        switch (tag) {
            case (short) 0xDF01:
                return s.copySerial(out, (short) 0);
            case (short) 0xDF02:
                out[0] = s.lifecycle();
                return 1;
            case (short) 0xDF03:
                // Specification version 1.1 (§12.7).
                out[0] = 0x01;
                out[1] = 0x01;
                return 2;
            case (short) 0xDF04:
                out[0] = s.tries(CardState.PIN);
                out[1] = s.tries(CardState.PUK);
                out[2] = s.tries(CardState.FINGER);
                return 3;
            case (short) 0x7F66:
                Util.arrayCopyNonAtomic(EXTENDED_LENGTH_INFO, (short) 0, out, (short) 0,
                        (short) EXTENDED_LENGTH_INFO.length);
                return (short) EXTENDED_LENGTH_INFO.length;
            default:
                return biometricInformation(out);
        }
    }

    /** §11.3: 28 bytes while a well-formed record is enrolled, else 6A88. */
    private short biometricInformation(byte[] out) {
        Files f = d.files;
        short len = f.length(Files.DG3);
        byte[] record = f.bytes(Files.DG3);
        if (len == 0 || FingerRecord.checkEnrolledRecord(record, (short) 0, len) != Sw.OK) {
            ISOException.throwIt(Sw.REFERENCE_NOT_FOUND);
        }
        byte position = record[24];
        byte subtype = position >= 0 && position < (byte) SUBTYPE.length ? SUBTYPE[position] : 0;
        short i = 0;
        out[i++] = 0x7F;
        out[i++] = 0x61;
        out[i++] = 0x19;
        out[i++] = 0x02;
        out[i++] = 0x01;
        out[i++] = 0x01;
        out[i++] = 0x7F;
        out[i++] = 0x60;
        out[i++] = 0x13;
        out[i++] = (byte) 0xA1;
        out[i++] = 0x11;
        out[i++] = (byte) 0x81;
        out[i++] = 0x01;
        out[i++] = 0x08;
        out[i++] = (byte) 0x82;
        out[i++] = 0x01;
        out[i++] = subtype;
        out[i++] = (byte) 0x87;
        out[i++] = 0x02;
        out[i++] = 0x01;
        out[i++] = 0x01;
        out[i++] = (byte) 0x88;
        out[i++] = 0x02;
        out[i++] = 0x00;
        out[i++] = 0x02;
        out[i++] = (byte) 0x83;
        out[i++] = 0x01;
        out[i++] = (byte) 0x83;
        return i;
    }

    short getChallenge(APDU apdu) {
        d.requireP1P2Zero();
        d.secureMessaging(apdu, Dispatcher.PLAIN_ONLY);
        short count = d.cmd.ne();
        if (count > 32) {
            ISOException.throwIt(Sw.WRONG_LE_32);
        }
        byte[] out = d.out();
        d.random.generateData(out, (short) 0, count);
        if (count == 16) {
            d.session.storeChallenge(out, (short) 0);
        }
        return count;
    }

    short getResponse(APDU apdu) {
        d.requireP1P2Zero();
        d.secureMessaging(apdu, Dispatcher.PLAIN_ONLY);
        d.responder.getResponse(apdu, d.cmd.ne());
        return 0;
    }
}
