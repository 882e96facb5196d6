package ir.melli.applet;

import javacard.framework.APDU;
import javacard.framework.Applet;
import javacard.framework.ISOException;
import javacardx.apdu.ExtendedLength;

/**
 * The melli applet (applets-spec v1). Install it as the default-selected application: the
 * card's own "application selected" state of §2.2 is kept by the applet (SELECT by DF name is
 * handled here like any APDU), so GET CHALLENGE and GET RESPONSE work before it, and every
 * other known instruction answers 6985.
 */
public final class MelliApplet extends Applet implements ExtendedLength {
    final Dispatcher dispatcher;

    private MelliApplet(byte[] params, short off, short len) {
        dispatcher = new Dispatcher(params, off, len);
    }

    /**
     * GlobalPlatform install data: Li AID, Lc control information, La application data; the
     * application data are the TLVs of {@link CardState} (see README).
     */
    public static void install(byte[] bArray, short bOffset, byte bLength) {
        short p = bOffset;
        p = (short) (p + 1 + (short) (bArray[p] & 0xFF)); // instance AID
        p = (short) (p + 1 + (short) (bArray[p] & 0xFF)); // control information
        short len = (short) (bArray[p] & 0xFF);
        short end = (short) (bOffset + (short) (bLength & 0xFF));
        if ((short) (p + 1 + len) > end) {
            ISOException.throwIt(Sw.INCORRECT_DATA);
        }
        MelliApplet applet = new MelliApplet(bArray, (short) (p + 1), len);
        short aidLen = (short) (bArray[bOffset] & 0xFF);
        if (aidLen == 0) {
            applet.register();
        } else {
            applet.register(bArray, (short) (bOffset + 1), (byte) aidLen);
        }
    }

    public void process(APDU apdu) {
        dispatcher.process(apdu);
    }
}
