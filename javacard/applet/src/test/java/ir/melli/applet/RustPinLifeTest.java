package ir.melli.applet;

import static ir.melli.applet.RustApduScriptsTest.fmt;
import static ir.melli.applet.RustApduScriptsTest.pattern;
import static ir.melli.applet.RustApduScriptsTest.script;
import static ir.melli.applet.RustApduScriptsTest.send;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.math.BigInteger;
import java.security.AlgorithmParameters;
import java.security.KeyFactory;
import java.security.PublicKey;
import java.security.Signature;
import java.security.spec.ECGenParameterSpec;
import java.security.spec.ECParameterSpec;
import java.security.spec.ECPoint;
import java.security.spec.ECPublicKeySpec;
import java.util.Arrays;
import org.junit.jupiter.api.Test;

/**
 * The holder's commands on an OPERATIONAL card, ported from the Rust card's
 * tests/pin_life.rs (same APDUs, same answers), with the signatures checked by java.security.
 */
class RustPinLifeTest {
    static final String PIN = "313233343536FFFFFFFFFFFFFFFFFFFF";
    static final String PUK = "3132333435363738FFFFFFFFFFFFFFFF";
    static final String WRONG_PIN = "313233343537FFFFFFFFFFFFFFFFFFFF";
    static final String WRONG_PUK = "3132333435363739FFFFFFFFFFFFFFFF";
    static final String DIGEST = "3B78FC0C837DFD466858E75D0598CC78C5A263298498E931820BA8A153C7B924";
    static final String SELECT_AID = RustApduScriptsTest.SELECT_AID;
    static final String SELECT_AID_FCP = RustApduScriptsTest.SELECT_AID_FCP;

    static final String FINGER_RECORD = "46 4D 52 00 20 32 30 00 00 00 00 72 00 00 01 00 01 68 00 C5 00 C5 01 00"
            + "02 00 3C 0E"
            + "80 7A 00 75 18 2C  80 B1 00 58 1D 48  40 5E 00 3B DE 42  40 39 00 A3 D9 2B"
            + "40 BB 00 F3 71 2A  40 72 00 FE 3C 4C  40 87 00 59 1E 4F  80 5C 01 26 A0 45"
            + "40 84 00 C1 5C 54  80 BB 00 C1 AF 56  80 32 00 4F AE 54  80 81 01 26 23 2D"
            + "40 D2 00 49 9E 51  40 D3 00 D9 EC 3E"
            + "00 00";

    static String verify(String block) {
        return "00200081 10 " + block;
    }

    static String pso() {
        return "002A9E9A 20 " + DIGEST + " 00";
    }

    /** The Rust tests' personalizing(): selected, authenticated. */
    static HostSm personalizing(TestCard card) {
        script(card, new String[][] {{SELECT_AID, "9000"}});
        HostSm host = new HostSm(card);
        assertEquals("9000", TestCard.sw(host.authenticate()));
        return host;
    }

    /** personalize_all of the Rust tests: the same keys, files, PIN and PUK. */
    static void personalizeAll(HostSm host) {
        host.expect("00478001 00", "9000");
        host.expect("00478002 00", "9000");
        host.writeFile("0101", pattern(300, 0x11));
        host.writeFile("0102", pattern(1500, 0x12));
        host.writeFile("0103", HostSm.hex(FINGER_RECORD.replace(" ", "")));
        host.writeFile("0104", pattern(40, 0x14));
        host.writeFile("0106", pattern(700, 0x16));
        host.writeFile("011D", pattern(900, 0x1D));
        host.expect("00240181 10 " + PIN, "9000");
        host.expect("00240182 10 " + PUK, "9000");
    }

    static TestCard personalized() {
        TestCard card = new TestCard(RustApduScriptsTest.SERIAL);
        HostSm host = personalizing(card);
        personalizeAll(host);
        host.expect("00440000", "9000");
        script(card, new String[][] {{SELECT_AID, "9000"}});
        return card;
    }

    @Test
    void verifyThePinExampleOfSection68() {
        TestCard card = personalized();
        script(card, new String[][] {
            {"00200081", "63C3"},
            {verify(WRONG_PIN), "63C2"},
            {"00CADF0400", "020A059000"},
            {verify(PIN), "9000"},
            {"00CADF0400", "030A059000"},
            {"00200081", "9000"},
            {"00200081 06 313233343536", "6A80"},
            {"00200081 10 31323334353637FF37FFFFFFFFFFFFFF", "6A80"},
            {"00CADF0400", "030A059000"},
            {"00200082", "6A86"},
            {"00200181", "6A86"},
            {"00200084", "6A86"},
            {"0C200081", "6A81"},
        });
        script(card, new String[][] {{verify(WRONG_PIN), "63C2"}, {"00200081", "63C2"}});
    }

    @Test
    void verifyOnlyWhenOperational() {
        TestCard card = new TestCard(RustApduScriptsTest.SERIAL);
        personalizing(card);
        script(card, new String[][] {
            {"00200081", "6985"},
            {verify(PIN), "6985"},
            {"00200083", "6985"},
        });
    }

    @Test
    void threeWrongPinsBlockIt() {
        TestCard card = personalized();
        script(card, new String[][] {
            {verify(WRONG_PIN), "63C2"},
            {verify(WRONG_PIN), "63C1"},
            {verify(WRONG_PIN), "63C0"},
            {verify(PIN), "6983"},
            {"00200081", "6983"},
            {"00200081 05 3132333435", "6983"},
            {"00240081 20 " + PIN + PIN, "6983"},
            {pso(), "6982"},
            {"00CADF0400", "000A059000"},
        });
    }

    @Test
    void thePinCounterSurvivesAPowerCycle() {
        TestCard card = personalized();
        script(card, new String[][] {{verify(WRONG_PIN), "63C2"}});
        card.reset();
        script(card, new String[][] {
            {SELECT_AID, "9000"},
            {"00CADF0400", "020A059000"},
            {"00200081", "63C2"},
            {verify(WRONG_PIN), "63C1"},
        });
        card.reset();
        script(card, new String[][] {{SELECT_AID, "9000"}, {"00200081", "63C1"}});
    }

    @Test
    void changeThePin() {
        TestCard card = personalized();
        String fresh = "363534333231FFFFFFFFFFFFFFFFFFFF";
        script(card, new String[][] {
            {"00240081 20 " + PIN + fresh, "9000"},
            {pso(), "*9000"},
            {verify(PIN), "63C2"},
            {pso(), "6982"},
            {verify(fresh), "9000"},
            {"00240081 20 " + WRONG_PIN + PIN, "63C2"},
            {pso(), "6982"},
            {"00240081 10 " + fresh, "6A80"},
            {"00240081 20 " + fresh + "3132FFFFFFFFFFFFFFFFFFFFFFFFFFFF", "6A80"},
            {"00CADF0400", "020A059000"},
            {"00240082 20 " + fresh + PIN, "6A86"},
            {"00240083 20 " + fresh + PIN, "6A86"},
            {"0C240081 20 " + fresh + PIN, "6A81"},
        });
    }

    @Test
    void thePukUnblocksThePin() {
        TestCard card = personalized();
        String fresh = "313131313131FFFFFFFFFFFFFFFFFFFF";
        for (int i = 0; i < 3; i++) {
            send(card, verify(WRONG_PIN));
        }
        script(card, new String[][] {
            {"00200081", "6983"},
            {"002C0081 20 " + WRONG_PUK + fresh, "63C9"},
            {"002C0081 20 " + PUK + "3131FFFFFFFFFFFFFFFFFFFFFFFFFFFF", "6A80"},
            {"002C0081 10 " + PUK, "6A80"},
            {"00CADF0400", "0009059000"},
            {"002C0081 20 " + PUK + fresh, "9000"},
            {"00CADF0400", "030A059000"},
            {pso(), "6982"},
            {verify(PIN), "63C2"},
            {verify(fresh), "9000"},
            {pso(), "*9000"},
            {"002C0081 20 " + PUK + PIN, "9000"},
            {pso(), "6982"},
            {"002C0183 10 " + PUK, "9000"},
            {"002C0083 10 " + PUK, "6A86"},
            {"002C0082 20 " + PUK + PIN, "6A86"},
            {"0C2C0081 20 " + PUK + PIN, "6A81"},
        });
    }

    @Test
    void tenWrongPuksBlockSigningForever() {
        TestCard card = personalized();
        script(card, new String[][] {{verify(PIN), "9000"}, {pso(), "*9000"}});
        for (int left = 9; left >= 0; left--) {
            script(card, new String[][] {{"002C0081 20 " + WRONG_PUK + PIN, fmt("63C%X", left)}});
        }
        script(card, new String[][] {
            {"002C0081 20 " + PUK + PIN, "6983"},
            {"002C0183 10 " + PUK, "6983"},
            {"00E6000010 3132333435363738FFFFFFFFFFFFFFFF", "6983"},
            {pso(), "6983"},
            {verify(PIN), "9000"},
            {pso(), "6983"},
            {"00880002080001020304050607 00", "*9000"},
            {"00B0810000", "*9000"},
            {"00CADF0400", "0300059000"},
        });
        card.reset();
        assertTrue(card.insides().state.signingBlocked());
        script(card, new String[][] {{SELECT_AID, "9000"}, {verify(PIN), "9000"}, {pso(), "6983"}});
    }

    static PublicKey publicKey(String keyObject) throws Exception {
        byte[] point = HostSm.hex(keyObject.substring(10, 140));
        AlgorithmParameters params = AlgorithmParameters.getInstance("EC");
        params.init(new ECGenParameterSpec("secp256r1"));
        ECParameterSpec spec = params.getParameterSpec(ECParameterSpec.class);
        ECPoint w = new ECPoint(new BigInteger(1, Arrays.copyOfRange(point, 1, 33)),
                new BigInteger(1, Arrays.copyOfRange(point, 33, 65)));
        return KeyFactory.getInstance("EC").generatePublic(new ECPublicKeySpec(w, spec));
    }

    /** r ‖ s (64 bytes) checked as ECDSA over a digest (P1363 form, no second hash). */
    static boolean verifiesDigest(PublicKey key, byte[] digest, byte[] rs) throws Exception {
        Signature v = Signature.getInstance("NONEwithECDSAinP1363Format");
        v.initVerify(key);
        v.update(digest);
        return v.verify(rs);
    }

    @Test
    void signingNeedsThePinInThisSession() throws Exception {
        TestCard card = personalized();
        script(card, new String[][] {{pso(), "6982"}, {verify(PIN), "9000"}});
        String response = send(card, pso());
        assertEquals("9000", TestCard.sw(response));
        byte[] signature = HostSm.hex(TestCard.data(response));
        assertEquals(64, signature.length);
        PublicKey key = publicKey(send(card, "0047810100"));
        assertTrue(verifiesDigest(key, HostSm.hex(DIGEST), signature));
        byte[] other = HostSm.hex(DIGEST);
        other[0] ^= 1;
        assertFalse(verifiesDigest(key, other, signature));
        script(card, new String[][] {{pso(), "*9000"}, {pso(), "*9000"}});
        card.reset();
        script(card, new String[][] {{SELECT_AID, "9000"}, {pso(), "6982"}});
        script(card, new String[][] {{verify(PIN), "9000"}, {SELECT_AID, "9000"}, {pso(), "6982"}});
        script(card, new String[][] {{verify(PIN), "9000"}});
        card.reset();
        script(card, new String[][] {{SELECT_AID, "9000"}, {pso(), "6982"}});
    }

    @Test
    void psoChecksInOrder() {
        TestCard card = personalized();
        script(card, new String[][] {
            {verify(PIN), "9000"},
            {"002A9E9A 1F " + DIGEST.substring(2) + " 00", "6700"},
            {"002A9E9A 21 " + DIGEST + "00 00", "6700"},
            {"002A9E9A 00", "6700"},
            {"002A9E9B 20 " + DIGEST + " 00", "6A86"},
            {"0C2A9E9A 20 " + DIGEST + " 00", "6A81"},
            {"002A9E9A 20 " + DIGEST, "6140"},
            {"00C0000040", "*9000"},
        });
        TestCard blank = new TestCard(RustApduScriptsTest.SERIAL);
        personalizing(blank);
        script(blank, new String[][] {{pso(), "6985"}});
        card = personalized();
        card.reset();
        script(card, new String[][] {
            {"002A9E9A 1F " + DIGEST.substring(2) + " 00", "6700"},
            {pso(), "6985"},
        });
    }

    @Test
    void terminateTheCard() {
        TestCard card = personalized();
        Dispatcher d = card.insides();
        assertTrue(d.files.length(Files.DG3) > 0);
        String terminate = "00E60000 10 " + PUK;
        script(card, new String[][] {
            {verify(PIN), "9000"},
            {"00E60000 10 " + WRONG_PUK, "63C9"},
            {"00E60000 10 313233343536FFFFFFFFFFFFFFFFFFFF", "6A80"},
            {"00E60000", "6A80"},
            {"00E60001 10 3132333435363738FFFFFFFFFFFFFFFF", "6A86"},
            {"0CE60000 10 " + PUK, "6A81"},
            {terminate, "9000"},
            {"00CADF0200", "0C9000"},
            {"00B0810000", "6985"},
            {pso(), "6985"},
            {verify(PIN), "6985"},
            {"00880002080001020304050607 00", "6985"},
            {"0047810100", "6985"},
            {terminate, "6985"},
            {SELECT_AID_FCP, "*9000"},
        });
        assertFalse(d.keys.exists(Keys.SIGNING) || d.keys.exists(Keys.CHIP_AUTH));
        assertFalse(d.refs.isSet(References.PIN) || d.refs.isSet(References.PUK));
        assertEquals(0, d.files.length(Files.DG3));
        byte[] dg3 = d.files.bytes(Files.DG3);
        assertTrue(Arrays.equals(dg3, new byte[dg3.length]), "DG3 bytes overwritten");
        assertTrue(d.files.length(Files.DG1) > 0);
        TestCard other = new TestCard(RustApduScriptsTest.SERIAL);
        personalizing(other);
        script(other, new String[][] {{terminate, "6985"}});
    }

    static final String GENUINE = "7F 2E 6E 81 6C"
            + "46 4D 52 00 20 32 30 00 00 00 00 6C 00 00 01 00 01 68 00 C5 00 C5 01 00"
            + "02 00 37 0D"
            + "80 A5 00 46 27 48  40 4E 00 3E E8 42  40 43 00 AC E3 2B  40 D5 00 DA 7B 2A"
            + "40 90 00 F6 46 4C  40 7D 00 51 28 4F  80 85 01 22 AA 45  40 93 00 B7 66 54"
            + "80 C8 00 A9 B9 56  80 28 00 5C B8 54  80 A9 01 19 2D 2D  40 C2 00 2F A8 51"
            + "40 E6 00 BB F6 3E"
            + "00 00";
    static final String IMPOSTOR = "7F 2E 6E 81 6C"
            + "46 4D 52 00 20 32 30 00 00 00 00 6C 00 00 01 00 01 68 00 C5 00 C5 01 00"
            + "02 00 32 0D"
            + "40 8F 00 EA 5B 32  40 62 00 A7 2C 32  40 68 00 EC FA 32  40 5B 00 FF BF 32"
            + "40 8B 00 94 EC 32  80 D1 00 83 2A 32  80 AF 00 54 A1 32  80 8F 00 3D 03 32"
            + "80 94 00 90 29 32  40 9E 01 31 EC 32  40 35 00 DF 6E 32  40 51 01 0A 5A 32"
            + "40 31 00 60 57 32"
            + "00 00";

    @Test
    void verifyTheFinger() {
        TestCard card = personalized();
        String genuine = "00200083 71 " + GENUINE;
        String impostor = "00200083 71 " + IMPOSTOR;
        script(card, new String[][] {
            {"00200083", "63C5"},
            {impostor, "63C4"},
            {genuine, "9000"},
            {"00200083", "9000"},
            {"00CADF0400", "030A059000"},
            {"00200083 03 7F2E00", "6A80"},
            {"00CADF0400", "030A059000"},
        });
        for (int i = 0; i < 5; i++) {
            send(card, impostor);
        }
        script(card, new String[][] {
            {"00200083", "6983"},
            {genuine, "6983"},
            {"002C0183 10 " + PUK, "9000"},
            {genuine, "9000"},
        });
    }

    /** §11.2's extended-length example: finger-1-live.fmr against finger-1.fmr. */
    @Test
    void verifyTheFingerWithExtendedLength() {
        Personalizer p = Personalizer.operational();
        byte[] live = Personalizer.fixture("finger-1-live.fmr");
        String apdu = "00200083000111" + "7F2E82010C" + "81820108" + HostSm.hex(live);
        assertEquals("9000", p.card.send(apdu));
        assertEquals("9000", p.card.send("00200083"));
    }
}
