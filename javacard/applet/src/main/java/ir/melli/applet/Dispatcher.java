package ir.melli.applet;

import javacard.framework.APDU;
import javacard.framework.ISOException;
import javacard.framework.JCSystem;
import javacard.framework.TransactionException;
import javacard.framework.Util;
import javacard.security.RandomData;

/**
 * The order of checks of spec §4.6 around every APDU, the 18 instructions of §6, and secure
 * messaging around them (§10.6): the same structure as the Rust card's dispatch.rs.
 *
 * <p>On receipt: pending response data are discarded unless INS is GET RESPONSE, the stored
 * challenge is cleared unless INS is MUTUAL AUTHENTICATE, and a MUTUAL AUTHENTICATE (not a
 * non-last chain link) closes the channel. Then: CLA (6E00), INS (6D00), length and chaining
 * (6700, 6883, 6A84; a non-last link is answered 9000), the command's own shape (6700; after
 * unwrapping for a protected command), selection and TERMINATED (6985), then the command.
 *
 * <p>Once a protected command is unwrapped, whatever it answers goes back protected with outer
 * 9000; any other answer to a protected APDU is a plain status word, and every plain status
 * word but 9000 closes the channel.
 */
final class Dispatcher {
    static final byte PLAIN_ONLY = 0;
    static final byte EITHER = 1;
    static final byte REQUIRED = 2;

    static final byte INS_ERASE_BINARY = (byte) 0x0E;
    static final byte INS_VERIFY = (byte) 0x20;
    static final byte INS_CHANGE_REFERENCE_DATA = (byte) 0x24;
    static final byte INS_PSO = (byte) 0x2A;
    static final byte INS_RESET_RETRY_COUNTER = (byte) 0x2C;
    static final byte INS_ACTIVATE_FILE = (byte) 0x44;
    static final byte INS_GENERATE = (byte) 0x47;
    static final byte INS_MUTUAL_AUTHENTICATE = (byte) 0x82;
    static final byte INS_GET_CHALLENGE = (byte) 0x84;
    static final byte INS_INTERNAL_AUTHENTICATE = (byte) 0x88;
    static final byte INS_SELECT = (byte) 0xA4;
    static final byte INS_READ_BINARY = (byte) 0xB0;
    static final byte INS_READ_BINARY_ODD = (byte) 0xB1;
    static final byte INS_GET_RESPONSE = (byte) 0xC0;
    static final byte INS_GET_DATA = (byte) 0xCA;
    static final byte INS_UPDATE_BINARY = (byte) 0xD6;
    static final byte INS_UPDATE_BINARY_ODD = (byte) 0xD7;
    static final byte INS_TERMINATE_DF = (byte) 0xE6;

    /** {@link #execute} result of a non-last chain link: plain 9000, no data. */
    private static final short CHAIN_LINK = (short) -1;
    /** Size of the RAM response buffer: the largest plain answer is 70 bytes (GENERATE); DG5 (91) is staged here. */
    private static final short RESP_SIZE = (short) 96;

    final Command cmd;
    final Session session;
    final CardState state;
    final Files files;
    final References refs;
    final Keys keys;
    final SecureChannel channel;
    final Matcher matcher;
    /** RAM: two shorts for TLV parsing results. */
    final short[] span;
    final Responder responder;
    final Chain chain;
    final RandomData random;
    /** Persistent: the chain buffer and protected answers ({@link Limits#WORK_SIZE}). */
    final byte[] work;
    /** RAM: plain answers. */
    final byte[] resp;
    /** RAM: HMAC pads, DER signatures, the SM header. */
    final byte[] scratch;
    private final byte[] header;
    /** RAM: a file to answer from directly (plain READ BINARY), and its offset and prefix. */
    private final Object[] source;
    private final short[] sourceSpan;

    private final FileCommands fileCommands;
    private final DataCommands dataCommands;
    private final VerificationCommands verificationCommands;
    private final KeyCommands keyCommands;
    private final PersonalizationCommands personalizationCommands;

    Dispatcher(byte[] params, short off, short len) {
        random = RandomData.getInstance(RandomData.ALG_SECURE_RANDOM);
        scratch = JCSystem.makeTransientByteArray((short) 128, JCSystem.CLEAR_ON_RESET);
        resp = JCSystem.makeTransientByteArray(RESP_SIZE, JCSystem.CLEAR_ON_RESET);
        header = JCSystem.makeTransientByteArray((short) 4, JCSystem.CLEAR_ON_RESET);
        source = JCSystem.makeTransientObjectArray((short) 1, JCSystem.CLEAR_ON_RESET);
        sourceSpan = JCSystem.makeTransientShortArray((short) 2, JCSystem.CLEAR_ON_RESET);
        work = new byte[Limits.WORK_SIZE];
        cmd = new Command();
        session = new Session();
        state = new CardState();
        files = new Files();
        refs = new References(scratch, random);
        keys = new Keys(scratch);
        channel = new SecureChannel();
        matcher = new Matcher();
        span = JCSystem.makeTransientShortArray((short) 2, JCSystem.CLEAR_ON_RESET);
        responder = new Responder();
        chain = new Chain(work);
        short secret = state.install(params, off, len);
        refs.install(params, secret);
        fileCommands = new FileCommands(this);
        dataCommands = new DataCommands(this);
        verificationCommands = new VerificationCommands(this);
        keyCommands = new KeyCommands(this);
        personalizationCommands = new PersonalizationCommands(this);
    }

    /**
     * One APDU, answered by returning (9000) or by an ISOException with the status word. No
     * other exception leaves: one while the answer is sent (an APDUException) becomes 6F00.
     */
    void process(APDU apdu) {
        try {
            dispatch(apdu);
        } catch (ISOException e) {
            throw e;
        } catch (RuntimeException e) {
            ISOException.throwIt(Sw.NO_PRECISE_DIAGNOSIS);
        }
    }

    private void dispatch(APDU apdu) {
        if (session.firstSinceReset()) {
            // Reset and power-off end the session (§8.4), the secure channel with it, whatever
            // memory type holds the channel on this platform.
            channel.close();
        }
        byte[] buf = apdu.getBuffer();
        byte cla = buf[0];
        byte ins = buf[1];
        boolean claValid = validCla(cla);
        if (ins != INS_GET_RESPONSE) {
            responder.clear();
        }
        if (ins != INS_MUTUAL_AUTHENTICATE) {
            session.clearChallenge();
        }
        boolean mutual = ins == INS_MUTUAL_AUTHENTICATE
                && !(claValid && (cla & (byte) 0x10) != 0);
        if (mutual) {
            channel.close();
        }
        boolean chainWasOpen = chain.take();
        boolean smCla = claValid && (cla & (byte) 0x0C) != 0;
        scrubIfTerminated();
        source[0] = null;
        cmd.clear((byte) (Command.F_PROTECTED | Command.F_CLOSE_AFTER | Command.F_DATA_IN_CHAIN));

        short len = 0;
        short sw = Sw.OK;
        boolean failed = false;
        try {
            len = execute(apdu, cla, ins, claValid, chainWasOpen);
            sw = cmd.status();
        } catch (ISOException e) {
            sw = e.getReason();
            failed = true;
        } catch (TransactionException e) {
            sw = Sw.MEMORY_FAILURE;
            failed = true;
        } catch (RuntimeException e) {
            // CryptoException, an index out of bounds, …: never escapes as a bare 6F00.
            sw = Sw.NO_PRECISE_DIAGNOSIS;
            failed = true;
        }
        if (JCSystem.getTransactionDepth() != 0) {
            JCSystem.abortTransaction();
        }
        if (mutual) {
            session.clearChallenge();
        }
        if (failed) {
            len = 0;
        }
        if (cmd.has(Command.F_PROTECTED)) {
            answerProtected(apdu, ins, len, sw);
            return;
        }
        if (failed) {
            if (smCla) {
                channel.close();
            }
            wipeChain();
            ISOException.throwIt(sw);
        }
        if (len == CHAIN_LINK) {
            return;
        }
        wipeChain();
        if (smCla) {
            // A protected command is either unwrapped or refused before (defence in depth).
            channel.close();
            ISOException.throwIt(Sw.NO_PRECISE_DIAGNOSIS);
        }
        Object direct = source[0];
        if (direct != null) {
            // Plain READ BINARY: straight from the file, never more than Ne, never 61xx.
            short prefix = sourceSpan[1];
            apdu.setOutgoingLength((short) (prefix + len));
            if (prefix != 0) {
                apdu.sendBytesLong(resp, (short) 0, prefix);
            }
            if (len != 0) {
                apdu.sendBytesLong((byte[]) direct, sourceSpan[0], len);
            }
            if (sw != Sw.OK) {
                ISOException.throwIt(sw);
            }
            return;
        }
        responder.deliver(apdu, resp, (short) 0, len, sw, cmd.ne());
    }

    /**
     * §10.5: the answer of an unwrapped command, its data at work[0..len], protected in place
     * (SecureChannel.wrapResponse moves the plaintext as needed; room: len + 35 bytes).
     */
    private void answerProtected(APDU apdu, byte ins, short len, short sw) {
        short wrapped;
        try {
            wrapped = channel.wrapResponse(ins, work, (short) 0, len, sw, (short) 0);
        } catch (ISOException e) {
            channel.close();
            ISOException.throwIt(e.getReason());
            return;
        } catch (RuntimeException e) {
            channel.close();
            ISOException.throwIt(Sw.NO_PRECISE_DIAGNOSIS);
            return;
        }
        if (cmd.has(Command.F_CLOSE_AFTER)) {
            channel.close();
        }
        if (cmd.has(Command.F_DATA_IN_CHAIN)) {
            short total = chain.total();
            if (total > wrapped) {
                Util.arrayFillNonAtomic(work, wrapped, (short) (total - wrapped), (byte) 0);
            }
        }
        responder.deliver(apdu, work, (short) 0, wrapped, Sw.OK, cmd.outerNe());
    }

    /** Chained plain data (a PIN block may be among them) do not stay in the work buffer. */
    private void wipeChain() {
        if (cmd.has(Command.F_DATA_IN_CHAIN)) {
            Util.arrayFillNonAtomic(work, (short) 0, chain.total(), (byte) 0);
        }
    }

    private static boolean validCla(byte cla) {
        byte base = (byte) (cla & (byte) 0xEF);
        return base == 0x00 || base == 0x0C;
    }

    private static boolean knownIns(byte ins) {
        switch (ins) {
            case INS_ERASE_BINARY:
            case INS_VERIFY:
            case INS_CHANGE_REFERENCE_DATA:
            case INS_PSO:
            case INS_RESET_RETRY_COUNTER:
            case INS_ACTIVATE_FILE:
            case INS_GENERATE:
            case INS_MUTUAL_AUTHENTICATE:
            case INS_GET_CHALLENGE:
            case INS_INTERNAL_AUTHENTICATE:
            case INS_SELECT:
            case INS_READ_BINARY:
            case INS_READ_BINARY_ODD:
            case INS_GET_RESPONSE:
            case INS_GET_DATA:
            case INS_UPDATE_BINARY:
            case INS_UPDATE_BINARY_ODD:
            case INS_TERMINATE_DF:
                return true;
            default:
                return false;
        }
    }

    private short execute(APDU apdu, byte cla, byte ins, boolean claValid,
            boolean chainWasOpen) {
        if (!claValid) {
            ISOException.throwIt(Sw.CLA_NOT_SUPPORTED);
        }
        if (!knownIns(ins)) {
            ISOException.throwIt(Sw.INS_NOT_SUPPORTED);
        }
        cmd.receive(apdu);
        byte outcome = chain.accept(chainWasOpen, cmd, apdu.getBuffer());
        if (outcome == Chain.CONTINUE) {
            return CHAIN_LINK;
        }
        if (outcome == Chain.COMPLETE) {
            cmd.useChainData(chain.total());
        }
        if (!cmd.has(Command.F_SM)) {
            checkShape();
        }
        if (!session.selected() && ins != INS_SELECT && ins != INS_GET_CHALLENGE
                && ins != INS_GET_RESPONSE) {
            ISOException.throwIt(Sw.CONDITIONS_NOT_SATISFIED);
        }
        if (state.lifecycle() == CardState.TERMINATED && !whenTerminated(ins)) {
            ISOException.throwIt(Sw.CONDITIONS_NOT_SATISFIED);
        }
        switch (ins) {
            case INS_SELECT:
                return fileCommands.select(apdu);
            case INS_READ_BINARY:
                return fileCommands.readEven(apdu);
            case INS_READ_BINARY_ODD:
                return fileCommands.readOdd(apdu);
            case INS_UPDATE_BINARY:
                return fileCommands.updateEven(apdu);
            case INS_UPDATE_BINARY_ODD:
                return fileCommands.updateOdd(apdu);
            case INS_ERASE_BINARY:
                return fileCommands.erase(apdu);
            case INS_GET_DATA:
                return dataCommands.getData(apdu);
            case INS_GET_CHALLENGE:
                return dataCommands.getChallenge(apdu);
            case INS_GET_RESPONSE:
                return dataCommands.getResponse(apdu);
            case INS_VERIFY:
                return verificationCommands.verify(apdu);
            case INS_CHANGE_REFERENCE_DATA:
                return verificationCommands.changeReferenceData(apdu);
            case INS_RESET_RETRY_COUNTER:
                return verificationCommands.resetRetryCounter(apdu);
            case INS_TERMINATE_DF:
                return verificationCommands.terminate(apdu);
            case INS_GENERATE:
                return keyCommands.generate(apdu);
            case INS_PSO:
                return keyCommands.sign(apdu);
            case INS_INTERNAL_AUTHENTICATE:
                return keyCommands.internalAuthenticate(apdu);
            case INS_MUTUAL_AUTHENTICATE:
                return personalizationCommands.mutualAuthenticate(apdu);
            default:
                return personalizationCommands.activate(apdu);
        }
    }

    /** §4.6 step 4: what a TERMINATED card still answers. */
    private boolean whenTerminated(byte ins) {
        if (ins == INS_SELECT || ins == INS_GET_CHALLENGE || ins == INS_GET_RESPONSE) {
            return true;
        }
        short tag = cmd.p1p2();
        return ins == INS_GET_DATA && (tag == (short) 0xDF01 || tag == (short) 0xDF02);
    }

    /** §4.6 step 3(d): the command's own data and Le rules (6700). */
    void checkShape() {
        short nc = cmd.nc();
        boolean data = nc != 0;
        boolean le = cmd.has(Command.F_LE_PRESENT);
        boolean ok;
        switch (cmd.ins()) {
            case INS_SELECT:
                ok = data && !((cmd.p1() == 0x00 || cmd.p1() == 0x02) && nc != 2);
                break;
            case INS_READ_BINARY:
            case INS_GET_CHALLENGE:
            case INS_GET_RESPONSE:
                ok = !data && le;
                break;
            case INS_READ_BINARY_ODD:
                ok = data && le && cmd.ne() >= 3;
                break;
            case INS_UPDATE_BINARY:
            case INS_UPDATE_BINARY_ODD:
                ok = data;
                break;
            case INS_ERASE_BINARY:
            case INS_GET_DATA:
            case INS_GENERATE:
            case INS_ACTIVATE_FILE:
                ok = !data;
                break;
            case INS_PSO:
                ok = nc == 32;
                break;
            case INS_INTERNAL_AUTHENTICATE:
                ok = cmd.p2() == KeyCommands.P2_AUTHENTICATION_KEY ? digestLength(nc)
                        : nc >= 8 && nc <= 64;
                break;
            case INS_MUTUAL_AUTHENTICATE:
                ok = nc == 56;
                break;
            default:
                ok = true;
        }
        if (!ok) {
            ISOException.throwIt(Sw.WRONG_LENGTH);
        }
    }

    /** §12.3 step 1: a SHA-256, SHA-384 or SHA-512 digest. */
    private static boolean digestLength(short nc) {
        return nc == 32 || nc == 48 || nc == 64;
    }

    /**
     * §4.6 step 6 (§10.6): a plain command passes (6982 if it needs protection); a protected
     * one is refused (6A81 plain-only, 6988 no channel) or unwrapped, after which its answer is
     * protected and its shape rules apply to the plaintext.
     */
    void secureMessaging(APDU apdu, byte protection) {
        if (!cmd.has(Command.F_SM)) {
            if (protection == REQUIRED) {
                ISOException.throwIt(Sw.SECURITY_STATUS_NOT_SATISFIED);
            }
            return;
        }
        if (protection == PLAIN_ONLY) {
            ISOException.throwIt(Sw.FUNCTION_NOT_SUPPORTED);
        }
        if (!channel.isOpen()) {
            ISOException.throwIt(Sw.SM_DATA_INCORRECT);
        }
        header[0] = (byte) 0x0C;
        header[1] = cmd.ins();
        header[2] = cmd.p1();
        header[3] = cmd.p2();
        short n = channel.unwrapCommand(header, (short) 0, data(apdu), cmd.dataOff(), cmd.nc());
        cmd.useUnwrapped(n, channel.expectedLength(), channel.expectedLengthExplicit());
        checkShape();
    }

    /** The array holding the command data (at {@link Command#dataOff}). */
    byte[] data(APDU apdu) {
        return cmd.has(Command.F_DATA_IN_CHAIN) ? work : apdu.getBuffer();
    }

    /** Where a command writes its answer, from offset 0. */
    byte[] out() {
        return cmd.has(Command.F_PROTECTED) ? work : resp;
    }

    /** A plain answer straight from a file (READ BINARY): `prefix` bytes from resp first. */
    void answerFrom(byte[] file, short off, short prefix) {
        source[0] = file;
        sourceSpan[0] = off;
        sourceSpan[1] = prefix;
    }

    /** 6985 unless the card is in `lifecycle`. */
    void requireLifecycle(byte lifecycle) {
        if (state.lifecycle() != lifecycle) {
            ISOException.throwIt(Sw.CONDITIONS_NOT_SATISFIED);
        }
    }

    /** 6A86 unless P1-P2 is 0000. */
    void requireP1P2Zero() {
        if (cmd.p1p2() != 0) {
            ISOException.throwIt(Sw.INCORRECT_P1P2);
        }
    }

    /**
     * A TERMINATED card torn after its transaction but before it erased keys, DG3 bytes and
     * hashes finishes the erasure before anything else (§7.2, §8.7).
     */
    private void scrubIfTerminated() {
        if (state.lifecycle() == CardState.TERMINATED && keys.anyLeft()) {
            files.wipeFrom(Files.DG3, (short) 0);
            refs.scrub();
            keys.erase();
        }
    }
}
