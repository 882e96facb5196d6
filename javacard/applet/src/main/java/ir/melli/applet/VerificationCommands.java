package ir.melli.applet;

import javacard.framework.APDU;
import javacard.framework.ISOException;
import javacard.framework.JCSystem;
import javacard.framework.Util;

/**
 * VERIFY, CHANGE REFERENCE DATA, RESET RETRY COUNTER and TERMINATE DF (spec §6.8–§6.10,
 * §6.16), each comparison in the tearing-safe sequence of §8.3: blocked (6983), format (6A80,
 * no try consumed), the decremented counter written at once ({@link CardState#consumeTry},
 * outside any transaction), the comparison, then on a match the counter back at its maximum
 * with any new value in one transaction.
 */
final class VerificationCommands {
    private static final byte P2_PIN = (byte) 0x81;
    private static final byte P2_PUK = (byte) 0x82;
    private static final byte P2_FINGER = (byte) 0x83;

    private final Dispatcher d;

    VerificationCommands(Dispatcher d) {
        this.d = d;
    }

    private void notBlocked(byte counter) {
        if (d.state.tries(counter) == 0) {
            ISOException.throwIt(Sw.AUTHENTICATION_BLOCKED);
        }
    }

    private static void wellFormed(byte which, byte[] b, short off, short len) {
        if (!References.wellFormed(which, b, off, len)) {
            ISOException.throwIt(Sw.INCORRECT_DATA);
        }
    }

    private static void mismatch(byte left) {
        ISOException.throwIt((short) (Sw.COUNTER | (short) (left & 0x0F)));
    }

    // ---- VERIFY (§6.8) ----

    short verify(APDU apdu) {
        Command c = d.cmd;
        byte p2 = c.p2();
        if (c.p1() != 0 || (p2 != P2_PIN && p2 != P2_FINGER)) {
            ISOException.throwIt(Sw.INCORRECT_P1P2);
        }
        d.secureMessaging(apdu, Dispatcher.PLAIN_ONLY);
        d.requireLifecycle(CardState.OPERATIONAL);
        byte counter = p2 == P2_PIN ? CardState.PIN : CardState.FINGER;
        notBlocked(counter);
        if (c.nc() == 0) {
            boolean verified = p2 == P2_PIN ? d.session.pinVerified()
                    : d.session.fingerVerified();
            if (!verified) {
                mismatch(d.state.tries(counter));
            }
            return 0;
        }
        byte[] data = d.data(apdu);
        if (p2 == P2_PIN) {
            verifyPin(data, c.dataOff(), c.nc());
        } else {
            verifyFinger(data, c.dataOff(), c.nc());
        }
        return 0;
    }

    private void verifyPin(byte[] data, short off, short len) {
        wellFormed(References.PIN, data, off, len);
        d.session.setPinVerified(false);
        byte left = d.state.consumeTry(CardState.PIN);
        if (!d.refs.matches(References.PIN, data, off)) {
            mismatch(left);
        }
        JCSystem.beginTransaction();
        d.state.restore(CardState.PIN);
        Tear.at(Tear.BEFORE_COMMIT);
        JCSystem.commitTransaction();
        d.session.setPinVerified(true);
    }

    /**
     * §11.2, §11.5: the live template `7F 2E L { 81 L record }` (6A80), the enrolled record
     * (6981), then the try and the matcher.
     */
    private void verifyFinger(byte[] data, short off, short len) {
        if (FingerRecord.checkLiveTemplate(data, off, len) != Sw.OK) {
            ISOException.throwIt(Sw.INCORRECT_DATA);
        }
        short[] span = liveRecord(data, off, len);
        Files f = d.files;
        short enrolledLen = f.length(Files.DG3);
        byte[] enrolled = f.bytes(Files.DG3);
        if (enrolledLen == 0
                || FingerRecord.checkEnrolledRecord(enrolled, (short) 0, enrolledLen) != Sw.OK) {
            ISOException.throwIt(Sw.INCOMPATIBLE_FILE_STRUCTURE);
        }
        d.session.setFingerVerified(false);
        byte left = d.state.consumeTry(CardState.FINGER);
        if (!d.matcher.matches(enrolled, (short) 0, enrolledLen, data, span[0], span[1])) {
            mismatch(left);
        }
        JCSystem.beginTransaction();
        d.state.restore(CardState.FINGER);
        JCSystem.commitTransaction();
        d.session.setFingerVerified(true);
    }

    /** The record inside `7F 2E L { 81 L … }` (already checked well formed). */
    private short[] liveRecord(byte[] data, short off, short len) {
        short[] span = d.span;
        if (len < 3 || !Tlv.read(data, (short) (off + 1), (short) (len - 1), (byte) 0x2E, span)
                || data[off] != 0x7F
                || !Tlv.read(data, span[0], span[1], (byte) 0x81, span)) {
            ISOException.throwIt(Sw.INCORRECT_DATA);
        }
        return span;
    }

    // ---- CHANGE REFERENCE DATA (§6.9) ----

    short changeReferenceData(APDU apdu) {
        Command c = d.cmd;
        byte p1 = c.p1();
        byte p2 = c.p2();
        if (p1 == 0x00 && p2 == P2_PIN) {
            changePin(apdu);
        } else if (p1 == 0x01 && (p2 == P2_PIN || p2 == P2_PUK)) {
            set(apdu, p2 == P2_PIN ? References.PIN : References.PUK);
        } else {
            ISOException.throwIt(Sw.INCORRECT_P1P2);
        }
        return 0;
    }

    private void changePin(APDU apdu) {
        Command c = d.cmd;
        d.secureMessaging(apdu, Dispatcher.PLAIN_ONLY);
        d.requireLifecycle(CardState.OPERATIONAL);
        notBlocked(CardState.PIN);
        if (c.nc() != 32) {
            ISOException.throwIt(Sw.INCORRECT_DATA);
        }
        byte[] data = d.data(apdu);
        short off = c.dataOff();
        short next = (short) (off + 16);
        wellFormed(References.PIN, data, off, (short) 16);
        wellFormed(References.PIN, data, next, (short) 16);
        d.session.setPinVerified(false);
        byte left = d.state.consumeTry(CardState.PIN);
        if (!d.refs.matches(References.PIN, data, off)) {
            mismatch(left);
        }
        JCSystem.beginTransaction();
        d.refs.store(References.PIN, data, next);
        d.state.restore(CardState.PIN);
        JCSystem.commitTransaction();
        d.session.setPinVerified(true);
    }

    private void set(APDU apdu, byte which) {
        Command c = d.cmd;
        d.secureMessaging(apdu, Dispatcher.REQUIRED);
        d.requireLifecycle(CardState.PERSONALIZING);
        byte[] data = d.data(apdu);
        wellFormed(which, data, c.dataOff(), c.nc());
        JCSystem.beginTransaction();
        d.refs.store(which, data, c.dataOff());
        d.state.restore(which == References.PIN ? CardState.PIN : CardState.PUK);
        JCSystem.commitTransaction();
    }

    // ---- RESET RETRY COUNTER (§6.10) ----

    short resetRetryCounter(APDU apdu) {
        Command c = d.cmd;
        byte p1 = c.p1();
        byte p2 = c.p2();
        boolean pin = p1 == 0x00 && p2 == P2_PIN;
        boolean finger = p1 == 0x01 && p2 == P2_FINGER;
        if (!pin && !finger) {
            ISOException.throwIt(Sw.INCORRECT_P1P2);
        }
        d.secureMessaging(apdu, Dispatcher.PLAIN_ONLY);
        d.requireLifecycle(CardState.OPERATIONAL);
        notBlocked(CardState.PUK);
        byte[] data = d.data(apdu);
        short off = c.dataOff();
        short nc = c.nc();
        short next = (short) (off + 16);
        if (pin) {
            if (nc != 32) {
                ISOException.throwIt(Sw.INCORRECT_DATA);
            }
            wellFormed(References.PUK, data, off, (short) 16);
            wellFormed(References.PIN, data, next, (short) 16);
        } else {
            wellFormed(References.PUK, data, off, nc);
        }
        byte left = d.state.consumeTry(CardState.PUK);
        if (!d.refs.matches(References.PUK, data, off)) {
            mismatch(left);
        }
        JCSystem.beginTransaction();
        d.state.restore(CardState.PUK);
        if (pin) {
            d.refs.store(References.PIN, data, next);
            d.state.restore(CardState.PIN);
        } else {
            d.state.restore(CardState.FINGER);
        }
        JCSystem.commitTransaction();
        if (pin) {
            d.session.setPinVerified(false);
        }
        return 0;
    }

    // ---- TERMINATE DF (§6.16) ----

    short terminate(APDU apdu) {
        Command c = d.cmd;
        d.requireP1P2Zero();
        d.secureMessaging(apdu, Dispatcher.PLAIN_ONLY);
        d.requireLifecycle(CardState.OPERATIONAL);
        notBlocked(CardState.PUK);
        byte[] data = d.data(apdu);
        wellFormed(References.PUK, data, c.dataOff(), c.nc());
        byte left = d.state.consumeTry(CardState.PUK);
        if (!d.refs.matches(References.PUK, data, c.dataOff())) {
            mismatch(left);
        }
        JCSystem.beginTransaction();
        d.state.restore(CardState.PUK);
        d.state.setLifecycle(CardState.TERMINATED);
        d.refs.forget(References.PIN);
        d.refs.forget(References.PUK);
        d.files.setLength(Files.DG3, (short) 0);
        JCSystem.commitTransaction();
        // The secrets themselves (keys, DG3 bytes, hashes) go now; a tear here is finished at
        // the next APDU (Dispatcher.scrubIfTerminated).
        d.files.wipeFrom(Files.DG3, (short) 0);
        d.refs.scrub();
        d.keys.erase();
        d.session.setPinVerified(false);
        d.session.setFingerVerified(false);
        return 0;
    }
}
