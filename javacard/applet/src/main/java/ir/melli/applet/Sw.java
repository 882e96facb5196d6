package ir.melli.applet;

/** The status words of spec §4.5 (`spec::sw`); the card returns no others. */
final class Sw {
    private Sw() {
    }

    static final short OK = (short) 0x9000;
    static final short END_OF_FILE = (short) 0x6282;
    static final short MEMORY_FAILURE = (short) 0x6581;
    static final short WRONG_LENGTH = (short) 0x6700;
    static final short LAST_COMMAND_OF_CHAIN_EXPECTED = (short) 0x6883;
    static final short INCOMPATIBLE_FILE_STRUCTURE = (short) 0x6981;
    static final short SECURITY_STATUS_NOT_SATISFIED = (short) 0x6982;
    static final short AUTHENTICATION_BLOCKED = (short) 0x6983;
    static final short CONDITIONS_NOT_SATISFIED = (short) 0x6985;
    static final short NO_CURRENT_EF = (short) 0x6986;
    static final short SM_DATA_MISSING = (short) 0x6987;
    static final short SM_DATA_INCORRECT = (short) 0x6988;
    static final short INCORRECT_DATA = (short) 0x6A80;
    static final short FUNCTION_NOT_SUPPORTED = (short) 0x6A81;
    static final short FILE_NOT_FOUND = (short) 0x6A82;
    static final short NOT_ENOUGH_MEMORY = (short) 0x6A84;
    static final short INCORRECT_P1P2 = (short) 0x6A86;
    static final short REFERENCE_NOT_FOUND = (short) 0x6A88;
    static final short WRONG_P1P2 = (short) 0x6B00;
    static final short INS_NOT_SUPPORTED = (short) 0x6D00;
    static final short CLA_NOT_SUPPORTED = (short) 0x6E00;
    static final short NO_PRECISE_DIAGNOSIS = (short) 0x6F00;
    /** `63Cx`: OR the tries left into the low nibble. */
    static final short COUNTER = (short) 0x63C0;
    /** `61xx`: OR the number of bytes waiting (00 for 256 or more). */
    static final short BYTES_REMAINING = (short) 0x6100;
    /** GET CHALLENGE with Ne > 32 (§6.7). */
    static final short WRONG_LE_32 = (short) 0x6C20;
}
