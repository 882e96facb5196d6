package ir.melli.applet;

/** Sizes of spec §4 and of this applet's buffers. */
final class Limits {
    private Limits() {
    }

    /** §4.2 step 8: at most 1024 data bytes per APDU. */
    static final short MAX_COMMAND_DATA = (short) 1024;
    /** §4.2: at most 65 533 response data bytes; as a short, every Ne this card meets is below. */
    static final short MAX_RESPONSE_DATA = (short) 32767;
    /**
     * The most plaintext one protected READ BINARY returns: the largest file. The answer is
     * wrapped in place in the work buffer (SecureChannel.wrapResponse needs len + 35 bytes), so
     * a protected READ answers exactly what the Rust card answers.
     */
    static final short PROTECTED_READ_MAX = (short) 20480;
    /**
     * The persistent work buffer: the chain buffer (§4.3) and the protected response. It holds
     * the largest useful chain, a protected UPDATE BINARY of the whole photo (20 480 bytes and
     * 31 bytes of SM objects; the Rust host sends DG2 so), and the protected answer to a READ
     * BINARY of the whole photo, wrapped in place (20 480 + 35 bytes). A longer chain answers 6A84
     * (the Rust card allows 65 535 bytes: see README).
     */
    static final short WORK_SIZE = (short) (20480 + 64);
}
