package ir.melli.applet;

import javacard.framework.APDU;
import javacard.framework.JCSystem;

/**
 * Response APDUs (spec §4.4): the first Ne bytes go out, the rest waits for GET RESPONSE with
 * `61xx`. The waiting bytes stay where the command left them (the RAM response buffer, or
 * the work buffer for a protected answer); only a reference and two shorts are kept (RAM).
 */
final class Responder {
    private final Object[] pending;
    private final short[] span;

    Responder() {
        pending = JCSystem.makeTransientObjectArray((short) 1, JCSystem.CLEAR_ON_RESET);
        span = JCSystem.makeTransientShortArray((short) 2, JCSystem.CLEAR_ON_RESET);
    }

    /** Discards pending response data (any INS but GET RESPONSE, §4.4; SELECT of the AID). */
    void clear() {
        pending[0] = null;
        span[0] = 0;
        span[1] = 0;
    }

    boolean hasPending() {
        return pending[0] != null;
    }

    /**
     * GET RESPONSE (§6.17) once its checks passed: delivers what is pending, again limited by
     * Ne. 6985 with nothing pending.
     */
    void getResponse(APDU apdu, short ne) {
        Object src = pending[0];
        if (src == null) {
            ISOExceptionHelper.fail(Sw.CONDITIONS_NOT_SATISFIED);
        }
        byte[] bytes = (byte[]) src;
        short off = span[0];
        short len = span[1];
        clear();
        deliver(apdu, bytes, off, len, Sw.OK, ne);
    }

    /**
     * Sends `len` bytes of `src` from `off` with `sw` (9000, 6282), or the first Ne of them
     * with `61xx` and keeps the rest (§4.4). Ends the command: always throws the status word
     * unless it is 9000.
     */
    void deliver(APDU apdu, byte[] src, short off, short len, short sw, short ne) {
        short limit = ne;
        if (limit > Limits.MAX_RESPONSE_DATA) {
            limit = Limits.MAX_RESPONSE_DATA;
        }
        if (len <= limit) {
            send(apdu, src, off, len);
            if (sw != Sw.OK) {
                ISOExceptionHelper.fail(sw);
            }
            return;
        }
        send(apdu, src, off, limit);
        short rest = (short) (len - limit);
        pending[0] = src;
        span[0] = (short) (off + limit);
        span[1] = rest;
        short xx = rest > (short) 255 ? (short) 0 : rest;
        ISOExceptionHelper.fail((short) (Sw.BYTES_REMAINING | xx));
    }

    /** Sends bytes (Ne was already read with setOutgoing by {@link Command#receive}). */
    static void send(APDU apdu, byte[] src, short off, short len) {
        if (len == 0) {
            return;
        }
        apdu.setOutgoingLength(len);
        apdu.sendBytesLong(src, off, len);
    }
}
