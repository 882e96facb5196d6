package ir.melli.applet;

import javacard.framework.APDU;
import javacard.framework.ISOException;

/**
 * GENERATE ASYMMETRIC KEY PAIR, PSO: COMPUTE DIGITAL SIGNATURE and INTERNAL AUTHENTICATE
 * (spec §6.11–§6.13; key 03 and INTERNAL AUTHENTICATE P2 03 of §12.2, §12.3).
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
        byte which = keyOf(c.p2());
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
        return d.keys.signDigest(Keys.SIGNING, d.data(apdu), d.cmd.dataOff(), d.out(), (short) 0);
    }

    /** The key of a GENERATE key reference (P2 01, 02, 03); 6A88 for any other. */
    private static byte keyOf(byte p2) {
        switch (p2) {
            case P2_SIGNING_KEY:
                return Keys.SIGNING;
            case P2_CHIP_AUTH_KEY:
                return Keys.CHIP_AUTH;
            case P2_AUTHENTICATION_KEY:
                return Keys.AUTHENTICATION;
            default:
                ISOException.throwIt(Sw.REFERENCE_NOT_FOUND);
                return 0;
        }
    }

    static final byte P2_SIGNING_KEY = 0x01;
    static final byte P2_CHIP_AUTH_KEY = 0x02;
    static final byte P2_AUTHENTICATION_KEY = 0x03;

    /**
     * INTERNAL AUTHENTICATE: P2 02 chip authentication (§6.13), P2 03 login with the
     * authentication key (§12.3). The length rule of each (step 1) is the Dispatcher's shape
     * check, which ran before.
     */
    short internalAuthenticate(APDU apdu) {
        Command c = d.cmd;
        byte p2 = c.p2();
        if (c.p1() != 0x00 || (p2 != P2_CHIP_AUTH_KEY && p2 != P2_AUTHENTICATION_KEY)) {
            ISOException.throwIt(Sw.INCORRECT_P1P2);
        }
        if (p2 == P2_AUTHENTICATION_KEY) {
            return authenticate(apdu);
        }
        d.secureMessaging(apdu, Dispatcher.EITHER);
        if (!d.keys.exists(Keys.CHIP_AUTH)) {
            ISOException.throwIt(Sw.REFERENCE_NOT_FOUND);
        }
        return d.keys.signChipAuthentication(d.state.serial(), d.state.serialLength(),
                d.data(apdu), c.dataOff(), c.nc(), d.out(), (short) 0);
    }

    /**
     * §12.3 steps 3–7: plain only (6A81), OPERATIONAL (6985), key 03 generated (6A88), the PIN
     * verified in this card session (6982); then the leftmost 32 bytes of the digest are signed
     * as the hash value. The PIN stays verified.
     */
    private short authenticate(APDU apdu) {
        d.secureMessaging(apdu, Dispatcher.PLAIN_ONLY);
        d.requireLifecycle(CardState.OPERATIONAL);
        if (!d.keys.exists(Keys.AUTHENTICATION)) {
            ISOException.throwIt(Sw.REFERENCE_NOT_FOUND);
        }
        if (!d.session.pinVerified()) {
            ISOException.throwIt(Sw.SECURITY_STATUS_NOT_SATISFIED);
        }
        return d.keys.signDigest(Keys.AUTHENTICATION, d.data(apdu), d.cmd.dataOff(), d.out(),
                (short) 0);
    }
}
