package ir.melli.applet;

import static ir.melli.applet.SecureChannelTest.E_ICC_M_ICC;
import static ir.melli.applet.SecureChannelTest.E_IFD_M_IFD;
import static ir.melli.applet.SecureChannelTest.K_ENC;
import static ir.melli.applet.SecureChannelTest.K_ICC;
import static ir.melli.applet.SecureChannelTest.K_MAC;
import static ir.melli.applet.SecureChannelTest.KS_ENC;
import static ir.melli.applet.SecureChannelTest.KS_MAC;
import static ir.melli.applet.SecureChannelTest.RND_ICC;
import static ir.melli.applet.SecureChannelTest.h;
import static ir.melli.applet.SecureChannelTest.hex;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;

import com.licel.jcardsim.smartcardio.CardSimulator;
import com.licel.jcardsim.utils.AIDUtil;
import java.util.Arrays;
import java.util.Random;
import javacard.framework.AID;
import javacard.framework.APDU;
import javacard.framework.Applet;
import javacard.framework.ISO7816;
import javacard.framework.ISOException;
import javacard.framework.JCSystem;
import javacard.framework.Util;
import javacard.security.AESKey;
import javacard.security.KeyBuilder;
import javacardx.apdu.ExtendedLength;
import javax.smartcardio.CommandAPDU;
import javax.smartcardio.ResponseAPDU;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * SecureChannel inside an applet in jCardSim's CardSimulator: the §10.7 APDUs byte for byte,
 * the replay, and a 1007-byte UPDATE BINARY read back, through the APDU path (extended length).
 * The test applet stands in for MelliApplet: it only does what the channel needs (GET CHALLENGE
 * with the example's RND.ICC, MUTUAL AUTHENTICATE with the example's K.ICC, and a toy file for
 * UPDATE / READ BINARY under SM).
 */
class SecureChannelApduTest {

    /** A stand-in applet. Test code: it allocates freely and is never converted. */
    public static final class SmApplet extends Applet implements ExtendedLength {
        static boolean nativeCmac = true;

        final SecureChannel channel = new SecureChannel(nativeCmac);
        final AESKey kEnc = SecureChannelTest.aesKey(K_ENC);
        final AESKey kMac = SecureChannelTest.aesKey(K_MAC);
        final byte[] challenge = JCSystem.makeTransientByteArray((short) 17,
                JCSystem.CLEAR_ON_DESELECT);
        final byte[] file = new byte[2048];
        final byte[] work = new byte[1200];

        public static void install(byte[] bArray, short bOffset, byte bLength) {
            new SmApplet().register();
        }

        @Override
        public void process(APDU apdu) {
            byte[] buf = apdu.getBuffer();
            if (selectingApplet()) {
                channel.close();
                return;
            }
            byte cla = buf[ISO7816.OFFSET_CLA];
            byte ins = buf[ISO7816.OFFSET_INS];
            boolean hadChallenge = challenge[16] != 0;
            challenge[16] = 0;
            if (ins == (byte) 0x84) {
                Util.arrayCopyNonAtomic(RND_ICC, (short) 0, challenge, (short) 0, (short) 16);
                challenge[16] = 1;
                Util.arrayCopyNonAtomic(challenge, (short) 0, buf, (short) 0, (short) 16);
                apdu.setOutgoingAndSend((short) 0, (short) 16);
                return;
            }
            if (ins == (byte) 0x82) {
                channel.close();
                short len = apdu.setIncomingAndReceive();
                if (!hadChallenge) {
                    ISOException.throwIt(ISO7816.SW_CONDITIONS_NOT_SATISFIED);
                }
                short off = apdu.getOffsetCdata();
                short n = channel.mutualAuthenticate(kEnc, kMac, challenge, (short) 0, buf, off,
                        len, K_ICC, (short) 0);
                Util.arrayFillNonAtomic(challenge, (short) 0, (short) 17, (byte) 0);
                apdu.setOutgoingAndSend(off, n);
                return;
            }
            if (cla != 0x0C && cla != 0x1C) {
                ISOException.throwIt(ISO7816.SW_CLA_NOT_SUPPORTED);
            }
            if (!channel.isOpen()) {
                ISOException.throwIt((short) 0x6988);
            }
            // Receive the whole data field into work[].
            short got = apdu.setIncomingAndReceive();
            short total = apdu.getIncomingLength();
            short off = apdu.getOffsetCdata();
            short at = 0;
            while (got > 0) {
                Util.arrayCopyNonAtomic(buf, off, work, at, got);
                at = (short) (at + got);
                got = apdu.receiveBytes(off);
            }
            if (at != total) {
                ISOException.throwIt(ISO7816.SW_WRONG_LENGTH);
            }
            short plain = channel.unwrapCommand(buf, (short) 0, work, (short) 0, total);
            short offset = Util.getShort(buf, ISO7816.OFFSET_P1);
            short dLen = 0;
            short sw = ISO7816.SW_NO_ERROR;
            if (ins == (byte) 0xD6) {
                Util.arrayCopyNonAtomic(work, (short) 0, file, offset, plain);
            } else if (ins == (byte) 0xB0) {
                short ne = channel.expectedLength();
                if (ne == 0) {
                    sw = ISO7816.SW_WRONG_LENGTH;
                } else {
                    dLen = ne;
                    Util.arrayCopyNonAtomic(file, offset, work, (short) 0, dLen);
                }
            }
            short n = channel.wrapResponse(ins, work, (short) 0, dLen, sw, (short) 0);
            apdu.setOutgoing();
            apdu.setOutgoingLength(n);
            apdu.sendBytesLong(work, (short) 0, n);
        }
    }

    static final AID AID_SM = AIDUtil.create("F04D454C4C490199");

    CardSimulator card;

    void setUp(boolean nativeCmac) {
        SmApplet.nativeCmac = nativeCmac;
        card = new CardSimulator();
        card.installApplet(AID_SM, SmApplet.class);
        card.selectApplet(AID_SM);
    }

    String send(String apdu) {
        return send(h(apdu));
    }

    String send(byte[] apdu) {
        ResponseAPDU r = card.transmitCommand(new CommandAPDU(apdu));
        return hex(r.getBytes());
    }

    @ParameterizedTest(name = "native CMAC: {0}")
    @ValueSource(booleans = {true, false})
    void workedExampleThroughApdus(boolean nativeCmac) {
        setUp(nativeCmac);
        assertEquals(hex(RND_ICC) + " 90 00", send("00 84 00 00 10"));
        assertEquals(hex(E_ICC_M_ICC) + " 90 00",
                send(SecureChannelTest.Host.cat(h("00 82 00 00 38"), E_IFD_M_IFD, h("00"))));
        assertEquals(SecureChannelTest.RSP1 + " 90 00", send(SecureChannelTest.CMD1));
        assertEquals(SecureChannelTest.RSP2 + " 90 00", send(SecureChannelTest.CMD2));
        assertEquals(SecureChannelTest.RSP3 + " 90 00", send(SecureChannelTest.CMD3));
        // Replay: plain 6988, and the channel is closed for every later protected APDU.
        assertEquals("69 88", send(SecureChannelTest.CMD3));
        assertEquals("69 88", send(SecureChannelTest.CMD1));
        // A new authentication (SELECT closed nothing here; MUTUAL AUTHENTICATE restarts).
        send("00 84 00 00 10");
        send(SecureChannelTest.Host.cat(h("00 82 00 00 38"), E_IFD_M_IFD, h("00")));
        assertEquals(SecureChannelTest.RSP1 + " 90 00", send(SecureChannelTest.CMD1));
        // SELECT of the AID closes the channel (the applet calls close()).
        card.selectApplet(AID_SM);
        assertEquals("69 88", send(SecureChannelTest.CMD2));
    }

    @ParameterizedTest(name = "native CMAC: {0}")
    @ValueSource(booleans = {true, false})
    void a1007ByteUpdateAndItsReadBack(boolean nativeCmac) {
        setUp(nativeCmac);
        send("00 84 00 00 10");
        send(SecureChannelTest.Host.cat(h("00 82 00 00 38"), E_IFD_M_IFD, h("00")));
        SecureChannelTest.Host host = new SecureChannelTest.Host(KS_ENC, KS_MAC);
        byte[] data = new byte[1007];
        new Random(1007).nextBytes(data);
        byte[] field = host.protect(0xD6, 0x00, 0x10, data, null);
        assertEquals(1023, field.length);
        byte[] apdu = SecureChannelTest.Host.cat(h("0C D6 00 10 00"),
                new byte[] {(byte) (field.length >> 8), (byte) field.length}, field, h("00 00"));
        ResponseAPDU r = card.transmitCommand(new CommandAPDU(apdu));
        assertEquals(0x9000, r.getSW());
        assertArrayEquals(h("90 00"), host.unprotect(0xD6, r.getData()));

        field = host.protect(0xB0, 0x00, 0x10, null, h("03 EF"));
        apdu = SecureChannelTest.Host.cat(h("0C B0 00 10 00 00"), new byte[] {(byte) field.length},
                field, h("00 00"));
        r = card.transmitCommand(new CommandAPDU(apdu));
        assertEquals(0x9000, r.getSW());
        assertEquals(1 + 3 + 1 + 1008 + 4 + 10, r.getData().length);
        byte[] plain = host.unprotect(0xB0, r.getData());
        assertArrayEquals(data, Arrays.copyOf(plain, 1007));
        assertEquals("90 00", hex(Arrays.copyOfRange(plain, 1007, 1009)));

        // An inner error travels protected: READ BINARY without DO97 (the toy's 6700).
        field = host.protect(0xB0, 0, 0, null, null);
        r = card.transmitCommand(new CommandAPDU(SecureChannelTest.Host.cat(h("0C B0 00 00"),
                new byte[] {(byte) field.length}, field, h("00"))));
        assertEquals(0x9000, r.getSW());
        assertArrayEquals(h("67 00"), host.unprotect(0xB0, r.getData()));
    }
}
