package ir.melli.applet;

import javacard.framework.APDU;
import javacard.framework.ISO7816;
import javacard.framework.JCSystem;

/**
 * The command being processed (spec §4.2): header, where its data are, Nc and Ne. Held in
 * transient memory (22 bytes); the data stay in the APDU buffer, or in the chain buffer of
 * {@link Chain} when the command was chained.
 */
final class Command {
    private static final byte CLA = 0;
    private static final byte INS = 1;
    private static final byte P1 = 2;
    private static final byte P2 = 3;
    /** Flag bits. */
    private static final byte FLAGS = 4;
    static final byte F_CHAINING = (byte) 0x01;
    static final byte F_SM = (byte) 0x02;
    static final byte F_LE_PRESENT = (byte) 0x04;
    static final byte F_LE_EXPLICIT = (byte) 0x08;
    static final byte F_DATA_IN_CHAIN = (byte) 0x10;
    /** The command was unwrapped: its answer goes back protected. */
    static final byte F_PROTECTED = (byte) 0x20;
    /** Close the secure channel once the protected answer is built (ACTIVATE FILE). */
    static final byte F_CLOSE_AFTER = (byte) 0x40;

    private static final byte NC = 0;
    private static final byte NE = 1;
    private static final byte DATA_OFF = 2;
    /** Ne of the APDU as sent (the outer Ne of a protected command). */
    private static final byte OUTER_NE = 3;
    /** The status word of a successful answer: 9000, or 6282 with data (READ BINARY). */
    private static final byte STATUS = 4;

    /** Ne of a wildcard Le (`00` short is 256; `0000` extended is capped to a short). */
    static final short NE_WILDCARD_EXTENDED = (short) 32767;

    private final byte[] bytes;
    private final short[] shorts;

    Command() {
        bytes = JCSystem.makeTransientByteArray((short) 5, JCSystem.CLEAR_ON_RESET);
        shorts = JCSystem.makeTransientShortArray((short) 5, JCSystem.CLEAR_ON_RESET);
    }

    /**
     * Reads the header, receives the data into the APDU buffer and learns Ne. The encoding
     * itself was checked by the card's OS (or the simulator's gate, §4.2 steps 1–7).
     *
     * <p>Ne: {@code setOutgoing()} gives Le; an extended `0000` gives 32767 (the Java Card
     * convention, and the simulator's gate maps `0000` so), a short `00` gives 256. Both are
     * wildcards; every other non-zero Le is explicit (§6.2).
     */
    void receive(APDU apdu) {
        byte[] buf = apdu.getBuffer();
        bytes[CLA] = buf[ISO7816.OFFSET_CLA];
        bytes[INS] = buf[ISO7816.OFFSET_INS];
        bytes[P1] = buf[ISO7816.OFFSET_P1];
        bytes[P2] = buf[ISO7816.OFFSET_P2];
        byte flags = 0;
        if ((bytes[CLA] & (byte) 0x10) != 0) {
            flags |= F_CHAINING;
        }
        if ((bytes[CLA] & (byte) 0x0C) != 0) {
            flags |= F_SM;
        }
        short received = apdu.setIncomingAndReceive();
        short off = apdu.getOffsetCdata();
        short nc = apdu.getIncomingLength();
        if (nc > Limits.MAX_COMMAND_DATA) {
            ISOExceptionHelper.fail(Sw.WRONG_LENGTH);
        }
        short done = received;
        while (done < nc) {
            short n = apdu.receiveBytes((short) (off + done));
            if (n <= 0) {
                break;
            }
            done = (short) (done + n);
        }
        boolean extended = off == ISO7816.OFFSET_EXT_CDATA;
        short ne = apdu.setOutgoing();
        if (ne < 0) {
            ne = NE_WILDCARD_EXTENDED;
        }
        if (ne != 0) {
            flags |= F_LE_PRESENT;
            boolean wildcard = extended ? ne == NE_WILDCARD_EXTENDED : ne == (short) 256;
            if (!wildcard) {
                flags |= F_LE_EXPLICIT;
            }
        }
        bytes[FLAGS] = flags;
        shorts[NC] = nc;
        shorts[NE] = ne;
        shorts[OUTER_NE] = ne;
        shorts[DATA_OFF] = off;
        shorts[STATUS] = Sw.OK;
    }

    byte cla() {
        return bytes[CLA];
    }

    byte ins() {
        return bytes[INS];
    }

    byte p1() {
        return bytes[P1];
    }

    byte p2() {
        return bytes[P2];
    }

    short p1p2() {
        return (short) (((short) (bytes[P1] & 0xFF) << 8) | (short) (bytes[P2] & 0xFF));
    }

    boolean has(byte flag) {
        return (bytes[FLAGS] & flag) != 0;
    }

    void set(byte flag) {
        bytes[FLAGS] |= flag;
    }

    void clear(byte flag) {
        bytes[FLAGS] &= (byte) ~flag;
    }

    short nc() {
        return shorts[NC];
    }

    short ne() {
        return shorts[NE];
    }

    short outerNe() {
        return shorts[OUTER_NE];
    }

    short dataOff() {
        return shorts[DATA_OFF];
    }

    short status() {
        return shorts[STATUS];
    }

    void setStatus(short sw) {
        shorts[STATUS] = sw;
    }

    /** The command's data are now those of the whole chain, at the start of the chain buffer. */
    void useChainData(short nc) {
        shorts[NC] = nc;
        shorts[DATA_OFF] = 0;
        set(F_DATA_IN_CHAIN);
    }

    /**
     * After unwrapping (§10.6): the plaintext replaces the data; Ne comes from DO97, and
     * whether it named an exact count (SecureChannel.expectedLengthExplicit).
     */
    void useUnwrapped(short nc, short ne, boolean explicit) {
        shorts[NC] = nc;
        shorts[NE] = ne;
        byte flags = (byte) (bytes[FLAGS] & (byte) ~(F_LE_PRESENT | F_LE_EXPLICIT));
        if (ne != 0) {
            flags |= F_LE_PRESENT;
            if (explicit) {
                flags |= F_LE_EXPLICIT;
            }
        }
        bytes[FLAGS] = (byte) (flags | F_PROTECTED);
    }
}
