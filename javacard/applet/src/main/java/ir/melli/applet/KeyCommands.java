package ir.melli.applet;

import javacard.framework.APDU;
import javacard.framework.ISOException;

/**
 * GENERATE ASYMMETRIC KEY PAIR, PSO: COMPUTE DIGITAL SIGNATURE and INTERNAL AUTHENTICATE
 * (spec §6.11–§6.13).
 */
final class KeyCommands {
    private final Dispatcher d;

    KeyCommands(Dispatcher d) {
        this.d = d;
    }

    short generate(APDU apdu) {
        Command c = d.cmd;
        byte p1 = c.p1();
        boolean generate = p1 == (byte) 0x80;
        if (!generate && p1 != (byte) 0x81) {
            ISOException.throwIt(Sw.INCORRECT_P1P2);
        }
        byte p2 = c.p2();
        if (p2 != 0x01 && p2 != 0x02) {
            ISOException.throwIt(Sw.REFERENCE_NOT_FOUND);
        }
        byte which = p2 == 0x01 ? Keys.SIGNING : Keys.CHIP_AUTH;
        if (generate) {
            d.secureMessaging(apdu, Dispatcher.REQUIRED);
            d.requireLifecycle(CardState.PERSONALIZING);
            d.keys.generate(which);
            if (which == Keys.CHIP_AUTH) {
                // DG5 = the SPKI of the new key, persisted before the answer (§6.11).
                short len = d.keys.spki(which, d.resp, (short) 0);
                d.files.replace(Files.DG5, d.resp, (short) 0, len);
            }
        } else {
            d.secureMessaging(apdu, Dispatcher.EITHER);
            if (!d.keys.exists(which)) {
                ISOException.throwIt(Sw.REFERENCE_NOT_FOUND);
            }
        }
        return d.keys.publicKeyObject(which, d.out(), (short) 0);
    }

    short sign(APDU apdu) {
        if (d.cmd.p1p2() != (short) 0x9E9A) {
            ISOException.throwIt(Sw.INCORRECT_P1P2);
        }
        d.secureMessaging(apdu, Dispatcher.PLAIN_ONLY);
        d.requireLifecycle(CardState.OPERATIONAL);
        if (d.state.signingBlocked()) {
            ISOException.throwIt(Sw.AUTHENTICATION_BLOCKED);
        }
        if (!d.session.pinVerified()) {
            ISOException.throwIt(Sw.SECURITY_STATUS_NOT_SATISFIED);
        }
        if (!d.keys.exists(Keys.SIGNING)) {
            ISOException.throwIt(Sw.REFERENCE_NOT_FOUND);
        }
        return d.keys.signDigest(d.data(apdu), d.cmd.dataOff(), d.out(), (short) 0);
    }

    short internalAuthenticate(APDU apdu) {
        Command c = d.cmd;
        if (c.p1() != 0x00 || c.p2() != 0x02) {
            ISOException.throwIt(Sw.INCORRECT_P1P2);
        }
        d.secureMessaging(apdu, Dispatcher.EITHER);
        if (!d.keys.exists(Keys.CHIP_AUTH)) {
            ISOException.throwIt(Sw.REFERENCE_NOT_FOUND);
        }
        return d.keys.signChipAuthentication(d.state.serial(), d.state.serialLength(),
                d.data(apdu), c.dataOff(), c.nc(), d.out(), (short) 0);
    }
}
