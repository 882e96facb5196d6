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
     * The most plaintext one protected READ BINARY returns. The response and its wrapped form
     * share the work buffer (SecureChannel.wrapResponse writes into the same array), so a READ
     * under secure messaging stops here and the host reads on from the next offset, as its
     * loop does (divergence from the Rust card, which returns up to Ne: see README).
     */
    static final short PROTECTED_READ_MAX = (short) 10240;
    /**
     * The persistent work buffer: the chain buffer (§4.3) and the protected response. It holds
     * the largest useful chain, a protected UPDATE BINARY of the whole photo (20 480 bytes and
     * 31 bytes of SM objects; the Rust host sends DG2 so), and a protected READ BINARY of
     * {@link #PROTECTED_READ_MAX} bytes beside its wrapped form. A longer chain answers 6A84
     * (the Rust card allows 65 535 bytes: see README).
     */
    static final short WORK_SIZE = (short) (20480 + 64);
}
