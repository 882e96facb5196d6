package ir.melli.applet;

import javacard.framework.JCSystem;
import javacard.framework.Util;

/**
 * The card session of spec §2.2 and §8.4: what reset, power-off and a SELECT of the AID
 * clear. CLEAR_ON_RESET memory, so that the platform's own select/deselect does not touch it:
 * only this applet's SELECT of the AID starts a new session. 22 bytes of RAM.
 */
final class Session {
    private static final byte SELECTED = 0;
    private static final byte PIN_VERIFIED = 1;
    private static final byte FINGER_VERIFIED = 2;
    private static final byte CHALLENGE_STORED = 3;
    private static final byte CURRENT_EF = 4;
    private static final byte POWERED = 5;
    /** No current EF. */
    static final byte NO_EF = (byte) -1;

    private final byte[] flags;
    private final byte[] challenge;

    Session() {
        flags = JCSystem.makeTransientByteArray((short) 6, JCSystem.CLEAR_ON_RESET);
        challenge = JCSystem.makeTransientByteArray((short) 16, JCSystem.CLEAR_ON_RESET);
        flags[CURRENT_EF] = NO_EF;
    }

    /**
     * True for the first APDU since the card was reset or powered on (CLEAR_ON_RESET memory
     * reads 0 then), false afterwards.
     */
    boolean firstSinceReset() {
        boolean first = flags[POWERED] == 0;
        flags[POWERED] = 1;
        return first;
    }

    /** SELECT of the AID (§2.2): everything of the session is cleared, then "selected". */
    void startApplication() {
        Util.arrayFillNonAtomic(flags, (short) 0, POWERED, (byte) 0);
        flags[CURRENT_EF] = NO_EF;
        clearChallenge();
        flags[SELECTED] = 1;
    }

    boolean selected() {
        return flags[SELECTED] != 0;
    }

    /** The index (in {@link Files}) of the current EF, or {@link #NO_EF}. */
    byte currentEf() {
        // CLEAR_ON_RESET memory reads 0 after a reset: index 0 only counts once selected.
        return flags[SELECTED] != 0 ? flags[CURRENT_EF] : NO_EF;
    }

    void setCurrentEf(byte index) {
        flags[CURRENT_EF] = index;
    }

    boolean pinVerified() {
        return flags[PIN_VERIFIED] != 0;
    }

    void setPinVerified(boolean on) {
        flags[PIN_VERIFIED] = on ? (byte) 1 : (byte) 0;
    }

    boolean fingerVerified() {
        return flags[FINGER_VERIFIED] != 0;
    }

    void setFingerVerified(boolean on) {
        flags[FINGER_VERIFIED] = on ? (byte) 1 : (byte) 0;
    }

    /** GET CHALLENGE with Ne = 16 (§6.7). */
    void storeChallenge(byte[] src, short off) {
        Util.arrayCopyNonAtomic(src, off, challenge, (short) 0, (short) 16);
        flags[CHALLENGE_STORED] = 1;
    }

    boolean challengeStored() {
        return flags[CHALLENGE_STORED] != 0;
    }

    byte[] challenge() {
        return challenge;
    }

    /** Clears and overwrites the stored challenge (§8.4). */
    void clearChallenge() {
        flags[CHALLENGE_STORED] = 0;
        Util.arrayFillNonAtomic(challenge, (short) 0, (short) 16, (byte) 0);
    }
}
