package ir.melli.applet;

import ir.melli.platform.Gate;
import ir.melli.platform.MelliRuntime;

import com.licel.jcardsim.base.Simulator;
import com.licel.jcardsim.utils.AIDUtil;
import java.io.ByteArrayOutputStream;
import java.util.HexFormat;
import javacard.framework.AID;

/** A melli applet in jCardSim, spoken to with raw APDUs through {@link Gate}. */
final class TestCard {
    static final String AID_HEX = "F04D454C4C4901";
    static final String SERIAL = "MELLI0000000001";
    static final byte[] K_ENC = HexFormat.of().parseHex("000102030405060708090A0B0C0D0E0F");
    static final byte[] K_MAC = HexFormat.of().parseHex("101112131415161718191A1B1C1D1E1F");
    static final byte[] SECRET = new byte[32];

    final MelliRuntime runtime = new MelliRuntime();
    final Simulator sim = new Simulator(runtime);
    final AID aid = AIDUtil.create(AID_HEX);

    TestCard() {
        this(SERIAL);
    }

    TestCard(String serial) {
        byte[] params = installData(serial, K_ENC, K_MAC, SECRET);
        sim.installApplet(aid, MelliApplet.class, params, (short) 0, (byte) params.length);
        runtime.setDefaultApplet(aid);
    }

    /** GlobalPlatform install data: no instance AID, no control info, the melli TLVs. */
    static byte[] installData(String serial, byte[] kEnc, byte[] kMac, byte[] secret) {
        ByteArrayOutputStream app = new ByteArrayOutputStream();
        tlv(app, 1, serial.getBytes());
        tlv(app, 2, kEnc);
        tlv(app, 3, kMac);
        tlv(app, 4, secret);
        byte[] a = app.toByteArray();
        ByteArrayOutputStream all = new ByteArrayOutputStream();
        all.write(0);
        all.write(0);
        all.write(a.length);
        all.writeBytes(a);
        return all.toByteArray();
    }

    private static void tlv(ByteArrayOutputStream out, int tag, byte[] value) {
        out.write(tag);
        out.write(value.length);
        out.writeBytes(value);
    }

    /** The applet's insides, for setting up the states the Rust card's tests start from. */
    Dispatcher insides() {
        return ((MelliApplet) runtime.applet(aid)).dispatcher;
    }

    /** Power is cut before the APDU with this index (counted from 0) reaches the card. */
    int tearBefore = -1;
    int sent;

    /**
     * What a host sees when the card loses power under it. An Error, so that the applet's own
     * catch of runtime exceptions (which maps them to 6F00) does not stop it: it leaves the
     * applet where it was thrown, as a power cut would.
     */
    static final class Torn extends Error {
        Torn() {
            super("card torn");
        }
    }

    byte[] transmit(byte[] apdu) {
        if (sent++ == tearBefore) {
            reset();
            throw new Torn();
        }
        return Gate.transmit(sim::transmitCommand, apdu);
    }

    /** Sends hex, returns the response as upper-case hex without spaces. */
    String send(String hex) {
        byte[] apdu = HexFormat.of().parseHex(hex.replace(" ", ""));
        return HexFormat.of().withUpperCase().formatHex(transmit(apdu));
    }

    /** Power loss / reset: session state is lost, persistent state kept. */
    void reset() {
        sim.reset();
    }

    static String sw(String response) {
        return response.substring(response.length() - 4);
    }

    static String data(String response) {
        return response.substring(0, response.length() - 4);
    }
}
