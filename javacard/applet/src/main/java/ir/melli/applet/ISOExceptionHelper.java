package ir.melli.applet;

import javacard.framework.ISOException;

/** One place that throws a status word. */
final class ISOExceptionHelper {
    private ISOExceptionHelper() {
    }

    static void fail(short sw) {
        ISOException.throwIt(sw);
    }
}
