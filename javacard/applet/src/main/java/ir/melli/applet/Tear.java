package ir.melli.applet;

/**
 * A place where power can be cut, for the tearing tests: the applet calls {@link #at} at the
 * points named below, and a test installs a {@link #hook} whose {@link #reached} throws to
 * stop the card there, as a power loss would. On a card the hook is never set and each call
 * is one static field read.
 */
public class Tear {
    /** §8.3 step 3: the decremented try counter has just been written. */
    public static final byte AFTER_DECREMENT = (byte) 1;
    /** Inside the transaction of a successful verification, before its commit. */
    public static final byte BEFORE_COMMIT = (byte) 2;
    /** UPDATE BINARY: the bytes are written, the new length not yet. */
    public static final byte AFTER_FILE_BYTES = (byte) 3;

    /** The installed probe; null on a card. */
    public static Tear hook;

    /** Called at every tearing point; a test overrides it. */
    public void reached(byte point) {
    }

    static void at(byte point) {
        Tear probe = hook;
        if (probe != null) {
            probe.reached(point);
        }
    }
}
