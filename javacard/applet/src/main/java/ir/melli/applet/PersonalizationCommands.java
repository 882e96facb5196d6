package ir.melli.applet;

import javacard.framework.APDU;
import javacard.framework.ISOException;
import javacard.framework.Util;

/**
 * MUTUAL AUTHENTICATE (framing; the cryptography is SecureChannel's) and ACTIVATE FILE
 * (spec §6.14, §6.15, §7.2).
 */
final class PersonalizationCommands {
    private static final short AUTH_LEN = 56;

    private final Dispatcher d;

    PersonalizationCommands(Dispatcher d) {
        this.d = d;
    }

    short mutualAuthenticate(APDU apdu) {
        d.requireP1P2Zero();
        d.secureMessaging(apdu, Dispatcher.PLAIN_ONLY);
        byte lifecycle = d.state.lifecycle();
        if (lifecycle != CardState.BLANK && lifecycle != CardState.PERSONALIZING) {
            ISOException.throwIt(Sw.CONDITIONS_NOT_SATISFIED);
        }
        if (!d.session.challengeStored()) {
            ISOException.throwIt(Sw.CONDITIONS_NOT_SATISFIED);
        }
        byte[] data = d.data(apdu);
        short off = d.cmd.dataOff();
        short len = d.channel.mutualAuthenticate(d.state.kEnc, d.state.kMac,
                d.session.challenge(), (short) 0, data, off, AUTH_LEN);
        d.session.clearChallenge();
        if (lifecycle == CardState.BLANK) {
            // Persisted before the answer (§6.14 step 6): one byte field, an atomic write.
            d.state.setLifecycle(CardState.PERSONALIZING);
        }
        Util.arrayCopyNonAtomic(data, off, d.out(), (short) 0, len);
        return len;
    }

    short activate(APDU apdu) {
        d.requireP1P2Zero();
        d.secureMessaging(apdu, Dispatcher.REQUIRED);
        d.requireLifecycle(CardState.PERSONALIZING);
        if (!complete()) {
            ISOException.throwIt(Sw.CONDITIONS_NOT_SATISFIED);
        }
        d.state.setLifecycle(CardState.OPERATIONAL);
        d.cmd.set(Command.F_CLOSE_AFTER);
        return 0;
    }

    /**
     * §6.15 step 5: files written, DG3 well formed, keys 01 and 02, DG5 the SPKI of key 02, PIN
     * and PUK; and key 03 and DG7 both present (a v1.1 personalization) or both absent (a v1.0
     * one, §12.7).
     */
    private boolean complete() {
        Files f = d.files;
        byte[] required = REQUIRED;
        for (short i = 0; i < (short) required.length; i++) {
            if (f.length(required[i]) == 0) {
                return false;
            }
        }
        if (FingerRecord.checkEnrolledRecord(f.bytes(Files.DG3), (short) 0,
                f.length(Files.DG3)) != Sw.OK) {
            return false;
        }
        Keys k = d.keys;
        if (!k.exists(Keys.SIGNING) || !k.exists(Keys.CHIP_AUTH)) {
            return false;
        }
        if (k.exists(Keys.AUTHENTICATION) != (f.length(Files.DG7) != 0)) {
            return false;
        }
        short spki = k.spki(Keys.CHIP_AUTH, d.resp, (short) 0);
        if (f.length(Files.DG5) != spki || Util.arrayCompare(f.bytes(Files.DG5), (short) 0,
                d.resp, (short) 0, spki) != 0) {
            return false;
        }
        return d.refs.isSet(References.PIN) && d.refs.isSet(References.PUK);
    }

    private static final byte[] REQUIRED = {
        Files.DG1, Files.DG2, Files.DG3, Files.DG4, Files.DG6, Files.SOD
    };
}
