package ir.melli.applet;

import static ir.melli.applet.RustApduScriptsTest.SELECT_AID;
import static ir.melli.applet.RustApduScriptsTest.SERIAL;
import static ir.melli.applet.RustApduScriptsTest.pattern;
import static ir.melli.applet.RustApduScriptsTest.script;
import static ir.melli.applet.RustApduScriptsTest.send;
import static ir.melli.applet.RustPinLifeTest.PIN;
import static ir.melli.applet.RustPinLifeTest.personalizeAll;
import static ir.melli.applet.RustPinLifeTest.personalized;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.security.MessageDigest;
import java.security.PublicKey;
import java.security.Signature;
import java.util.Arrays;
import java.util.function.Consumer;
import org.junit.jupiter.api.Test;

/**
 * Personalization under secure messaging, ported from the Rust card's
 * tests/personalization.rs (same APDUs, same answers). The §6.13 example's bytes come from an
 * RFC 6979 nonce; the applet's ECDSA nonce is random, so its signatures are verified instead.
 */
class RustPersonalizationTest {
    private TestCard card;
    private HostSm host;

    private void personalizing() {
        card = new TestCard(SERIAL);
        host = RustPinLifeTest.personalizing(card);
    }

    private boolean channelOpen() {
        return card.insides().channel.isOpen();
    }

    private void reauthenticate() {
        host = new HostSm(card);
        assertEquals("9000", TestCard.sw(host.authenticate()));
    }

    private static byte[] h(String s) {
        return HostSm.hex(s.replaceAll("\\s", ""));
    }

    @Test
    void mutualAuthenticationOpensAChannelAndStartsPersonalizing() {
        card = new TestCard(SERIAL);
        script(card, new String[][] {{SELECT_AID, "9000"}, {"00CADF0200", "019000"}});
        host = new HostSm(card);
        assertEquals("9000", TestCard.sw(host.authenticate()));
        script(card, new String[][] {{"00CADF0200", "039000"}});
        host.expect("00CADF0200", "9000");
        HostSm again = new HostSm(card);
        assertEquals("9000", TestCard.sw(again.authenticate()));
        assertEquals("03", again.expect("00CADF0200", "9000"));
        assertEquals("plain:6988", host.sendPlain("00CADF0100"));
        assertFalse(channelOpen());
    }

    /** §8.4: reset and power-off end the secure channel. */
    @Test
    void aResetClosesTheChannel() {
        personalizing();
        assertEquals("03", host.expect("00CADF0200", "9000"));
        card.reset();
        assertFalse(channelOpen());
        script(card, new String[][] {{SELECT_AID, "9000"}});
        assertEquals("plain:6988", host.sendPlain("00CADF0200"));
    }

    @Test
    void aWrongMasterKeyIs6982AndConsumesTheChallenge() {
        card = new TestCard(SERIAL);
        script(card, new String[][] {{SELECT_AID, "9000"}});
        byte[] wrong = TestCard.K_MAC.clone();
        wrong[0] ^= 1;
        assertEquals("6982", new HostSm(card).authenticate(TestCard.K_ENC, wrong));
        assertEquals("019000", send(card, "00CADF0200"));
        assertFalse(channelOpen());
        script(card, new String[][] {{"0082000038" + "00".repeat(56) + "00", "6985"}});
    }

    @Test
    void mutualAuthenticateChecksInOrder() {
        String data = "00".repeat(56);
        card = new TestCard(SERIAL);
        script(card, new String[][] {
            {"0082000038" + data + "00", "6985"},
            {SELECT_AID, "9000"},
            {"0082000037" + "00".repeat(55) + "00", "6700"},
            {"0082000000", "6700"},
            {"0084000010", "*9000"},
            {"0082000138" + data + "00", "6A86"},
            {"0084000010", "*9000"},
            {"0C82000038" + data + "00", "6A81"},
            {"0082000038" + data + "00", "6985"},
            {"0084000008", "*9000"},
            {"0082000038" + data + "00", "6985"},
            {"0084000010", "*9000"},
            {"00CADF0100", "*9000"},
            {"0082000038" + data + "00", "6985"},
            {"0084000010", "*9000"},
            {"0082000038" + data + "00", "6982"},
        });
        card = personalized();
        script(card, new String[][] {
            {"0084000010", "*9000"},
            {"0082000038" + data + "00", "6985"},
        });
        assertEquals("6985", new HostSm(card).authenticate());
    }

    @Test
    void aWrongMacIs6988AndClosesTheChannel() {
        personalizing();
        byte[] apdu = host.wrap(h("00CADF0100"), false);
        apdu[apdu.length - 2] ^= 0x01;
        assertEquals("6988", HostSm.hex(card.transmit(apdu)));
        assertFalse(channelOpen());
        assertEquals("plain:6988", host.sendPlain("00CADF0100"));
        script(card, new String[][] {{"00CADF0200", "039000"}});
    }

    @Test
    void aReplayedOrReorderedCommandIs6988() {
        personalizing();
        host.wrap(h("00CADF0100"), false);
        byte[] second = host.wrap(h("00CADF0200"), false);
        assertEquals("6988", HostSm.hex(card.transmit(second)));
        assertFalse(channelOpen());
        personalizing();
        byte[] first = host.wrap(h("00CADF0100"), false);
        assertTrue(host.unprotect(card.transmit(first)).endsWith("9000"));
        assertEquals("6988", HostSm.hex(card.transmit(first)));
        assertFalse(channelOpen());
    }

    @Test
    void malformedObjectsAre6987AndCloseTheChannel() {
        for (String data : new String[] {"8E08 0102030405060708 00", "970100", "9701008E0401020304",
            "99029000 8E08 0102030405060708"}) {
            personalizing();
            String compact = data.replace(" ", "");
            String apdu = String.format("0CCADF01%02X%s00", compact.length() / 2, compact);
            script(card, new String[][] {{apdu, "6987"}});
            assertFalse(channelOpen(), data);
        }
        for (String apdu : new String[] {"0CCADF01", "0CCADF0100"}) {
            personalizing();
            script(card, new String[][] {{apdu, "6987"}});
            assertFalse(channelOpen());
        }
    }

    @Test
    void errorsBeforeTheUnwrapArePlainAndCloseTheChannel() {
        String[][] cases = {
            {"00D6000501AA", "6B00"},
            {"00D6880001AA", "6A82"},
            {"00D6E10001AA", "6A86"},
            {"000E800000", "6A86"},
            {"00478301", "6A86"},
            {"00478004", "6A88"},
            {"00840000 10", "6A81"},
            {"002000810110", "6A81"},
            {"00A4040C07F04D454C4C4901", "6A81"},
            {"00C0000000", "6A81"},
            {"00440001", "6A86"},
            {"00240083 10 313233343536FFFFFFFFFFFFFFFFFFFF", "6A86"},
        };
        for (String[] c : cases) {
            personalizing();
            script(card, new String[][] {{"00A4000C020101", "9000"}});
            assertEquals("plain:" + c[1], host.sendPlain(c[0]), c[0]);
            assertFalse(channelOpen(), c[0]);
        }
        personalizing();
        byte[] apdu = host.wrap(h("00EE0000"), false);
        assertEquals("6D00", HostSm.hex(card.transmit(apdu)));
        assertFalse(channelOpen());
        personalizing();
        card.reset(); // the session (and the selection) are gone; the Rust test clears "selected"
        assertEquals("plain:6985", host.sendPlain("00CADF0100"));
    }

    @Test
    void errorsAfterTheUnwrapAreProtectedAndKeepTheChannel() {
        personalizing();
        host.expect("00A4020C020105", "9000");
        host.expect("00D6000001AA", "6982");
        host.expect("000E0000", "6982");
        host.expect("00A4020C020104", "9000");
        host.expect("00D60000 00 0101 " + "AA".repeat(257), "6A84");
        host.expect("00D60000", "6700");
        host.expect("000E0000 01 AA", "6700");
        host.expect("00A4020C 01 01", "6700");
        host.expect("00A4020C020108", "6A82");
        host.expect("00B00000", "6700");
        host.expect("00440000", "6985");
        host.expect("00478101 00", "6A88");
        host.expect("0024018110 3132333435FFFFFFFFFFFFFFFFFFFFFF", "6A80");
        host.expect("00CA7F6100", "6A88");
        assertEquals("03", host.expect("00CADF0200", "9000"));
    }

    @Test
    void plainPersonalizationCommandsAre6982AndKeepTheChannel() {
        personalizing();
        script(card, new String[][] {
            {"00A4000C020101", "9000"},
            {"00D6000001AA", "6982"},
            {"00D7000006 540100 5301AA", "6982"},
            {"000E0000", "6982"},
            {"0047800100", "6982"},
            {"0024018110313233343536FFFFFFFFFFFFFFFFFFFF", "6982"},
            {"00440000", "6982"},
            {"0084000008", "*9000"},
        });
        assertEquals("03", host.expect("00CADF0200", "9000"));
    }

    @Test
    void updateBinaryEvenAndOdd() {
        personalizing();
        host.expect("00A4020C020101", "9000");
        host.expect("00D6000003 010203", "9000");
        host.expect("00D6000302 0405", "9000");
        host.expect("00D6000102 AABB", "9000");
        script(card, new String[][] {{"00B0000000", "01AABB04059000"}});
        host.expect("00D6000601 FF", "plain:6B00");
        reauthenticate();
        host.expect("00D6840002 E400", "9000");
        host.expect("00D6000201 07", "9000");
        script(card, new String[][] {{"00B0000000", "E400079000"}});
        host.expect("00D70106 08 5402 0000 5302 3082", "9000");
        host.expect("00D70000 06 540102 5301 01", "9000");
        host.expect("00D70000 06 540104 5301 01", "6B00");
        host.expect("00D70000 05 540102 5300", "6A80");
        host.expect("00D70000 03 530101", "6A80");
        host.expect("00D70108 06 540100 5301 01", "plain:6A82");
        reauthenticate();
        script(card, new String[][] {{"00B0860000", "3082019000"}});
        host.expect("00A4020C020104", "9000");
        host.expect("000E0000", "9000");
        for (int offset = 0; offset < 255; offset += 85) {
            host.expect(String.format("00D600%02X55%s", offset, "11".repeat(85)), "9000");
        }
        host.expect("00D600FF01 22", "9000");
        host.expect("00D7000007 54020100 530133", "6A84");
        assertEquals(256, card.insides().files.length(Files.DG4));
    }

    @Test
    void eraseBinaryCutsTheCurrentFile() {
        personalizing();
        host.expect("000E0000", "plain:6986");
        reauthenticate();
        host.writeFile("0106", pattern(600, 3));
        host.expect("000E0300", "9000");
        assertEquals(600, card.insides().files.length(Files.DG6));
        host.expect("000E0005", "9000");
        Dispatcher d = card.insides();
        assertArrayEquals(pattern(5, 3), Arrays.copyOf(d.files.bytes(Files.DG6), 5));
        assertEquals(5, d.files.length(Files.DG6));
        String fcp = send(card, "00A4020402010600");
        assertTrue(fcp.startsWith("62158002000581020800"), fcp);
        host.expect("000E0000", "9000");
        script(card, new String[][] {{"00B0000000", "6282"}});
    }

    @Test
    void aProtectedCommandCanBeChained() {
        personalizing();
        host.expect("00A4020C020102", "9000");
        byte[] content = pattern(1500, 9);
        byte[] apdu = host.wrap(HostSm.cat(h("00D60000 0005DC"), content), true);
        byte[] data = Arrays.copyOfRange(apdu, 7, apdu.length - 2);
        assertTrue(data.length > 1024);
        byte[] first = HostSm.cat(h("1CD60000000400"), Arrays.copyOf(data, 1024));
        byte[] rest = Arrays.copyOfRange(data, 1024, data.length);
        byte[] last = HostSm.cat(h("0CD6000000"), new byte[] {(byte) (rest.length >> 8),
            (byte) rest.length}, rest, new byte[] {0, 0});
        assertEquals("9000", HostSm.hex(card.transmit(first)));
        assertEquals("9000", host.unprotect(card.transmit(last)));
        Dispatcher d = card.insides();
        assertEquals(1500, d.files.length(Files.DG2));
        assertArrayEquals(content, Arrays.copyOf(d.files.bytes(Files.DG2), 1500));
    }

    @Test
    void aProtectedResponseLongerThanNeWaitsForGetResponse() {
        personalizing();
        host.writeFile("0102", pattern(2000, 5));
        byte[] apdu = host.wrap(h("00B0000000"), false);
        byte[] response = card.transmit(apdu);
        assertEquals("6123", HostSm.hex(Arrays.copyOfRange(response, 256, response.length)));
        byte[] more = card.transmit(h("00C0000023"));
        String inner = host.unprotect(HostSm.cat(Arrays.copyOf(response, 256), more));
        assertEquals(HostSm.hex(pattern(256, 5)) + "9000", inner);
        assertEquals(HostSm.hex(pattern(2000, 5)), host.expect("00B00000 0007D0", "9000"));
    }

    /** The whole photo in one protected READ BINARY (wrapped in place in the work buffer). */
    @Test
    void aProtectedReadOfTheLargestFile() {
        personalizing();
        byte[] photo = pattern(20480, 7);
        host.writeFile("0102", photo);
        assertEquals(HostSm.hex(photo), host.expect("00B08200 000000", "9000"));
        assertEquals(HostSm.hex(Arrays.copyOfRange(photo, 1000, 20480)),
                host.expect("00B10000 000004 540203E8 0000", "9000").substring(8));
    }

    @Test
    void generatedKeysAndTheirPublicHalves() {
        card = new TestCard(SERIAL);
        script(card, new String[][] {
            {SELECT_AID, "9000"},
            {"0047810100", "6A88"},
            {"0047810300", "6A88"},
            {"0047820100", "6A86"},
            {"004781010100", "6700"},
            {"0047800100", "6982"},
        });
        host = new HostSm(card);
        assertEquals("9000", TestCard.sw(host.authenticate()));
        String signing = host.expect("00478001 00", "9000");
        assertEquals(140, signing.length());
        assertTrue(signing.startsWith("7F4943864104"));
        script(card, new String[][] {{"0047810100", signing + "9000"}});
        assertEquals(signing, host.expect("00478101 00", "9000"));
        script(card, new String[][] {{"0047810200", "6A88"}, {"00B0850000", "6282"}});
        String chip = host.expect("00478002 00", "9000");
        Dispatcher d = card.insides();
        assertEquals(91, d.files.length(Files.DG5));
        String spki = HostSm.hex(Arrays.copyOf(d.files.bytes(Files.DG5), 91));
        assertEquals(chip.substring(10), spki.substring(52));
        script(card, new String[][] {{"00B0850000", spki + "9000"}});
        String again = host.expect("00478002 00", "9000");
        assertNotEquals(chip, again);
        assertEquals(again.substring(10),
                HostSm.hex(Arrays.copyOf(d.files.bytes(Files.DG5), 91)).substring(52));
        host.expect("00478002 01 00", "6700");
    }

    static byte[] chipAuthDigest(String serial, byte[] challenge) throws Exception {
        MessageDigest sha = MessageDigest.getInstance("SHA-256");
        sha.update("MELLI-CA-V1".getBytes());
        sha.update(serial.getBytes());
        sha.update(challenge);
        return sha.digest();
    }

    @Test
    void internalAuthenticate() throws Exception {
        Personalizer p = Personalizer.operational();
        TestCard c = p.card;
        script(c, new String[][] {
            {"00880002070001020304050600", "6700"},
            {"0088000241" + "00".repeat(65) + "00", "6700"},
            {"00880001080001020304050607 00", "6A86"},
            {"00880102080001020304050607 00", "6A86"},
        });
        byte[] challenge = new byte[32];
        for (int i = 0; i < 32; i++) {
            challenge[i] = (byte) i;
        }
        assertEquals("3D6A365972B63CC38410020A15270DA81E96E85E14E311A5671404D6902FA71C",
                HostSm.hex(chipAuthDigest("MELLI0000000001", challenge)));
        String response = send(c, "0088000220" + HostSm.hex(challenge) + "00");
        assertEquals("9000", TestCard.sw(response));
        PublicKey key = RustPinLifeTest.publicKey(p.chipAuthKey);
        byte[] rs = HostSm.hex(TestCard.data(response));
        Signature v = Signature.getInstance("SHA256withECDSAinP1363Format");
        v.initVerify(key);
        v.update("MELLI-CA-V1".getBytes());
        v.update(TestCard.SERIAL.getBytes());
        v.update(challenge);
        assertTrue(v.verify(rs));
        assertTrue(RustPinLifeTest.verifiesDigest(key, chipAuthDigest(TestCard.SERIAL, challenge), rs));
        // Under secure messaging while PERSONALIZING, and 64-byte challenges.
        personalizing();
        host.expect("00478002 00", "9000");
        String signature = host.expect("0088000240" + "AB".repeat(64) + "00", "9000");
        assertEquals(128, signature.length());
    }

    @Test
    void settingThePinAndThePuk() {
        personalizing();
        String[][] cases = {
            {"81", "313233343536FFFFFFFFFFFFFFFFFFFF", "9000"},
            {"81", "313233343536373839303132FFFFFFFF", "9000"},
            {"81", "31323334FFFFFFFFFFFFFFFFFFFFFFFF", "6A80"},
            {"81", "3132333435363738393031323334FFFF", "6A80"},
            {"81", "313233343536FFFF37FFFFFFFFFFFFFF", "6A80"},
            {"81", "313233343536FFFFFFFFFFFFFFFFFF", "6A80"},
            {"82", "31323334353637383930313233343536", "9000"},
            {"82", "313233343536FFFFFFFFFFFFFFFFFFFF", "6A80"},
        };
        for (String[] c : cases) {
            host.expect(String.format("002401%s%02X%s", c[0], c[1].length() / 2, c[1]), c[2]);
        }
        References refs = card.insides().refs;
        assertTrue(refs.matches(References.PIN, h("313233343536373839303132FFFFFFFF"), (short) 0));
        assertFalse(refs.matches(References.PIN, h("313233343536FFFFFFFFFFFFFFFFFFFF"), (short) 0));
        assertTrue(refs.matches(References.PUK, h("31323334353637383930313233343536"), (short) 0));
        assertEquals(3, card.insides().state.tries(CardState.PIN));
        assertEquals(10, card.insides().state.tries(CardState.PUK));
        host.expect("00240181", "6A80");
        host.expect("00240081 10 " + PIN, "plain:6A81");
    }

    @Test
    void activateFileNeedsEverything() {
        java.util.List<Consumer<Dispatcher>> breaks = java.util.List.of(
            d -> d.files.erase(Files.DG1, (short) 0),
            d -> d.files.erase(Files.DG2, (short) 0),
            d -> d.files.erase(Files.DG3, (short) 0),
            d -> d.files.bytes(Files.DG3)[0] = 0x21,
            d -> d.files.erase(Files.DG4, (short) 0),
            d -> d.files.erase(Files.DG5, (short) 0),
            d -> d.files.erase(Files.DG6, (short) 0),
            d -> d.files.erase(Files.SOD, (short) 0),
            d -> d.refs.forget(References.PIN),
            d -> d.refs.forget(References.PUK));
        for (Consumer<Dispatcher> breakIt : breaks) {
            personalizing();
            personalizeAll(host);
            breakIt.accept(card.insides());
            host.expect("00440000", "6985");
            assertEquals(CardState.PERSONALIZING, card.insides().state.lifecycle());
            assertTrue(channelOpen());
        }
        personalizing();
        personalizeAll(host);
        host.expect("00440000 01 00", "6700");
        host.expect("00440000", "9000");
        assertEquals(CardState.OPERATIONAL, card.insides().state.lifecycle());
        assertFalse(channelOpen(), "closed after the answer");
        assertEquals("plain:6988", host.sendPlain("00CADF0200"));
    }

    @Test
    void afterActivationNothingPersonalCanBeDone() {
        card = personalized();
        String[] commands = {
            "00A4000C020101",
            "00D6000001AA",
            "00D6810001AA",
            "00D7010106540100 5301AA",
            "000E0000",
            "0047800100",
            "0047800200",
            "0024018110313233343536FFFFFFFFFFFFFFFFFFFF",
            "0024018210313233343536FFFFFFFFFFFFFFFFFFFF",
            "00440000",
        };
        String dg1Before = HostSm.hex(card.insides().files.bytes(Files.DG1));
        for (int i = 1; i < commands.length; i++) {
            script(card, new String[][] {{commands[0], "9000"}, {commands[i], "6982"}});
            String protectedApdu = "0C" + commands[i].replace(" ", "").substring(2);
            script(card, new String[][] {{protectedApdu, "6988"}});
        }
        assertEquals("6985", new HostSm(card).authenticate());
        assertEquals(dg1Before, HostSm.hex(card.insides().files.bytes(Files.DG1)));
        script(card, new String[][] {{"0047810200", "*9000"}, {"00CADF0200", "059000"}});
    }
}
