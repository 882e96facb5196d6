package ir.melli.applet;

import javacard.framework.APDU;
import javacard.framework.Applet;
import javacard.framework.ISO7816;
import javacard.framework.ISOException;

/** The melli applet (applets-spec v1). Skeleton: to be filled in. */
public final class MelliApplet extends Applet {
    private MelliApplet() {
        register();
    }

    public static void install(byte[] bArray, short bOffset, byte bLength) {
        new MelliApplet();
    }

    public void process(APDU apdu) {
        if (selectingApplet()) {
            return;
        }
        ISOException.throwIt(ISO7816.SW_INS_NOT_SUPPORTED);
    }
}
