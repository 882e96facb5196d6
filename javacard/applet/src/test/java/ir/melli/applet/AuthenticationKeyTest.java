package ir.melli.applet;

import static ir.melli.applet.RustApduScriptsTest.pattern;
import static ir.melli.applet.RustApduScriptsTest.script;
import static ir.melli.applet.RustApduScriptsTest.send;
import static ir.melli.applet.RustPinLifeTest.PIN;
import static ir.melli.applet.RustPinLifeTest.PUK;
import static ir.melli.applet.RustPinLifeTest.SELECT_AID;
import static ir.melli.applet.RustPinLifeTest.WRONG_PUK;
import static ir.melli.applet.RustPinLifeTest.personalizeAll;
import static ir.melli.applet.RustPinLifeTest.personalizing;
import static ir.melli.applet.RustPinLifeTest.pso;
import static ir.melli.applet.RustPinLifeTest.publicKey;
import static ir.melli.applet.RustPinLifeTest.verifiesDigest;
import static ir.melli.applet.RustPinLifeTest.verify;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.security.MessageDigest;
import java.security.PublicKey;
import java.util.Arrays;
import org.junit.jupiter.api.Test;

/**
 * Spec 1.1 (§12): the authentication key 03, DG7 (EF 0107, SFI 07), INTERNAL AUTHENTICATE with
 * P2 03 and its checks in the order of §12.3, GET DATA DF03, ACTIVATE FILE with and without
 * key 03 and DG7, TERMINATE DF and PUK exhaustion.
 */
class AuthenticationKeyTest {
    /** DG7 as a v1.1 host writes it: two certificates (here only bytes of that size). */
    static final byte[] DG7 = pattern(1300, 0x17);

    static String ia(int cla, int p1, int p2, byte[] data) {
        return String.format("%02X88%02X%02X%02X%s00", cla, p1, p2, data.length, HostSm.hex(data));
    }

    static String ia(byte[] digest) {
        return ia(0x00, 0x00, 0x03, digest);
    }

    static byte[] sha(String algorithm, String message) throws Exception {
        return MessageDigest.getInstance(algorithm).digest(message.getBytes("UTF-8"));
    }

    /** A v1.1 personalization: v1.0's, then key 03 and DG7; not yet ACTIVATEd. */
    static HostSm personalizingV11(TestCard card) {
        HostSm host = personalizing(card);
        personalizeAll(host);
        host.expect("00478003 00", "9000");
        host.writeFile("0107", DG7);
        return host;
    }

    /** A v1.1 card, OPERATIONAL, the application selected afresh. */
    static TestCard operationalV11() {
        TestCard card = new TestCard(RustApduScriptsTest.SERIAL);
        personalizingV11(card).expect("00440000", "9000");
        script(card, new String[][] {{SELECT_AID, "9000"}});
        return card;
    }

    /** The public key 03 as `00 47 81 03` returns it. */
    static PublicKey authenticationKey(TestCard card) throws Exception {
        String answer = send(card, "0047810300");
        assertEquals("9000", TestCard.sw(answer));
        return publicKey(TestCard.data(answer));
    }

    // ---- GET DATA DF03 (§12.7) ----

    @Test
    void theCardReportsVersion11() {
        TestCard card = new TestCard(RustApduScriptsTest.SERIAL);
        script(card, new String[][] {{SELECT_AID, "9000"}, {"00CADF0300", "01019000"}});
        card = operationalV11();
        script(card, new String[][] {{"00CADF0300", "01019000"}});
    }

    // ---- GENERATE 80 03 / 81 03 (§12.2) ----

    @Test
    void generateKey03AsKey01() {
        TestCard card = new TestCard(RustApduScriptsTest.SERIAL);
        script(card, new String[][] {
            {SELECT_AID, "9000"},
            {"0047810300", "6A88"},
            {"0047800300", "6982"},
            {"0C47800300", "6988"},
            {"0047800400", "6A88"},
        });
        HostSm host = personalizing(card);
        host.expect("00478002 00", "9000");
        Dispatcher d = card.insides();
        byte[] dg5 = Arrays.copyOf(d.files.bytes(Files.DG5), d.files.length(Files.DG5));
        host.expect("00478103 00", "6A88");
        String generated = host.expect("00478003 00", "9000");
        assertEquals(140, generated.length());
        assertTrue(generated.startsWith("7F4943864104"), generated);
        assertEquals(generated, host.expect("00478103 00", "9000"));
        assertEquals(generated, TestCard.data(send(card, "0047810300")));
        // Key 03 is none of the others, and DG5 stays the SPKI of key 02.
        assertNotEquals(generated, TestCard.data(send(card, "0047810200")));
        assertArrayEquals(dg5, Arrays.copyOf(d.files.bytes(Files.DG5), d.files.length(Files.DG5)));
        // Generated again while PERSONALIZING: a fresh key replaces it.
        host = new HostSm(card);
        assertEquals("9000", TestCard.sw(host.authenticate()));
        assertNotEquals(generated, host.expect("00478003 00", "9000"));
    }

    @Test
    void key03IsFixedOnceOperational() {
        TestCard card = operationalV11();
        String key = TestCard.data(send(card, "0047810300"));
        script(card, new String[][] {
            {"0047800300", "6982"},
            {"0C47800300", "6988"},
            {"0047810300", key + "9000"},
        });
    }

    // ---- DG7 (§12.1): every rule of DG6 ----

    @Test
    void dg7IsWrittenReadAndAddressedAsDg6() {
        TestCard card = new TestCard(RustApduScriptsTest.SERIAL);
        script(card, new String[][] {
            {SELECT_AID, "9000"},
            {"00A40004020107 00", "6215 80020000 81020800 820101 83020107 880107 8A0101 9000"},
            {"00B0870000", "6282"},
            {"00B10107 03 540100 00", "6282"},
            {"00D6870001AA", "6982"},
            {"0CD6870001AA", "6988"},
        });
        HostSm host = personalizing(card);
        host.writeFile("0107", DG7);
        assertEquals(HostSm.hex(DG7), host.expect("00B08700 000000", "9000"));
        script(card, new String[][] {
            {"00A40004020107 00", "6215 80020514 81020800 820101 83020107 880107 8A0103 9000"},
        });
        host = personalizing(card);
        // SFI addressing of UPDATE and READ (offset in P2), and the odd INS with the FID.
        host.expect("00D68710 02 CAFE", "9000");
        assertEquals("CAFE", host.expect("00B08710 02", "9000"));
        assertEquals("5302CAFE", host.expect("00B10107 03 540110 04", "9000"));
        host.expect("00D70107 07 540112 5302BEEF", "9000");
        assertEquals("CAFEBEEF", host.expect("00B00010 04", "9000"));
        // The maximum size is 2 048 bytes, as DG6.
        host.expect("00A4020C020107", "9000");
        // Past the current length: refused before the unwrap (plain, the channel closes).
        host.expect("00D607FF 01 AA", "plain:6B00");
        host = personalizing(card);
        host.expect("00A4020C020107", "9000");
        host.expect("000E0000", "9000");
        host.writeFile("0107", pattern(2048, 0x27));
        host.expect("00A4020C020107", "9000");
        host.expect("00D70000 07 54020800 5301AA", "6A84");
        assertEquals(HostSm.hex(pattern(2048, 0x27)),
                host.expect("00B08700 000000", "9000"));
        // ERASE BINARY from an offset.
        host.expect("000E0400", "9000");
        assertEquals(HostSm.hex(Arrays.copyOf(pattern(2048, 0x27), 1024)),
                host.expect("00B00000 000000", "9000"));
        host.writeFile("0107", DG7);
        personalizeAll(host);
        host.expect("00478003 00", "9000");
        host.expect("00440000", "9000");
        // OPERATIONAL: readable by anyone, never written again.
        script(card, new String[][] {
            {SELECT_AID, "9000"},
            {"00A40004020107 00", "6215 80020514 81020800 820101 83020107 880107 8A0105 9000"},
            {"00D6870001AA", "6982"},
            {"0CD6870001AA", "6988"},
            {"000E0000", "6982"},
        });
        assertEquals(HostSm.hex(DG7), TestCard.data(send(card, "00B08700 000000")));
    }

    // ---- INTERNAL AUTHENTICATE P2 03: the checks of §12.3, in order ----

    @Test
    void step1TheDigestLengthComesFirst() {
        TestCard card = new TestCard(RustApduScriptsTest.SERIAL);
        // BLANK, no key 03, no PIN, and P1 wrong too: the length is checked first.
        script(card, new String[][] {{SELECT_AID, "9000"}});
        for (int n : new int[] {1, 8, 16, 31, 33, 47, 49, 63, 65, 128}) {
            script(card, new String[][] {
                {ia(0x00, 0x00, 0x03, new byte[n]), "6700"},
                {ia(0x00, 0x01, 0x03, new byte[n]), "6700"},
            });
        }
        script(card, new String[][] {{"00880003", "6700"}, {"0088000300", "6700"}});
        // P2 02 keeps its own rule (8–64 bytes, §6.13).
        script(card, new String[][] {
            {ia(0x00, 0x00, 0x02, new byte[33]), "6A88"},
            {ia(0x00, 0x00, 0x02, new byte[7]), "6700"},
        });
    }

    @Test
    void step2ThenP1AndP2() {
        TestCard card = new TestCard(RustApduScriptsTest.SERIAL);
        script(card, new String[][] {{SELECT_AID, "9000"}});
        for (int n : new int[] {32, 48, 64}) {
            script(card, new String[][] {
                {ia(0x00, 0x01, 0x03, new byte[n]), "6A86"},
                {ia(0x00, 0x80, 0x03, new byte[n]), "6A86"},
                {ia(0x00, 0x00, 0x04, new byte[n]), "6A86"},
                {ia(0x00, 0x00, 0x01, new byte[n]), "6A86"},
                {ia(0x00, 0x00, 0x00, new byte[n]), "6A86"},
                {ia(0x0C, 0x01, 0x03, new byte[n]), "6A86"},
            });
        }
    }

    @Test
    void step3ThenSecureMessaging() {
        TestCard card = new TestCard(RustApduScriptsTest.SERIAL);
        HostSm host = personalizing(card);
        // PERSONALIZING with a channel open: sent protected, 6A81 before the state (6985).
        assertEquals("plain:6A81", host.sendPlain(ia(0x00, 0x00, 0x03, new byte[32])));
        assertFalse(card.insides().channel.isOpen());
        card = operationalV11();
        script(card, new String[][] {
            {verify(PIN), "9000"},
            {ia(0x0C, 0x00, 0x03, new byte[32]), "6A81"},
            {ia(0x0C, 0x00, 0x03, new byte[48]), "6A81"},
        });
    }

    @Test
    void step4ThenTheLifecycle() {
        TestCard card = new TestCard(RustApduScriptsTest.SERIAL);
        script(card, new String[][] {{SELECT_AID, "9000"}, {ia(new byte[32]), "6985"}});
        HostSm host = personalizingV11(card);
        // PERSONALIZING with key 03 generated: still 6985 (and not 6A88 or 6982).
        assertTrue(card.insides().keys.exists(Keys.AUTHENTICATION));
        script(card, new String[][] {{ia(new byte[32]), "6985"}, {ia(new byte[64]), "6985"}});
        host = personalizing(card);
        host.expect("00440000", "9000");
        card = operationalV11();
        script(card, new String[][] {
            {"00E60000 10 " + PUK, "9000"},
            {ia(new byte[32]), "6985"},
        });
    }

    @Test
    void step5ThenKey03() {
        // A v1.0 personalization: OPERATIONAL without key 03, with or without the PIN.
        TestCard card = RustPinLifeTest.personalized();
        script(card, new String[][] {
            {ia(new byte[32]), "6A88"},
            {verify(PIN), "9000"},
            {ia(new byte[32]), "6A88"},
            {ia(new byte[48]), "6A88"},
            {"0047810300", "6A88"},
            {"00CADF0300", "01019000"},
        });
    }

    @Test
    void step6ThenThePinInThisSession() throws Exception {
        TestCard card = operationalV11();
        PublicKey key = authenticationKey(card);
        byte[] digest = sha("SHA-256", "login");
        script(card, new String[][] {
            {ia(digest), "6982"},
            {verify(RustPinLifeTest.WRONG_PIN), "63C2"},
            {ia(digest), "6982"},
            {verify(PIN), "9000"},
        });
        // The PIN stays verified for the session: several logins after one VERIFY.
        for (int i = 0; i < 3; i++) {
            String answer = send(card, ia(digest));
            assertEquals("9000", TestCard.sw(answer));
            assertTrue(verifiesDigest(key, digest, HostSm.hex(TestCard.data(answer))));
        }
        // A reset ends the session, and a new SELECT of the AID starts a fresh one.
        card.reset();
        script(card, new String[][] {{SELECT_AID, "9000"}, {ia(digest), "6982"}});
        script(card, new String[][] {{verify(PIN), "9000"}, {SELECT_AID, "9000"},
            {ia(digest), "6982"}});
        // A blocked PIN: no login.
        script(card, new String[][] {
            {verify(RustPinLifeTest.WRONG_PIN), "63C2"},
            {verify(RustPinLifeTest.WRONG_PIN), "63C1"},
            {verify(RustPinLifeTest.WRONG_PIN), "63C0"},
            {verify(PIN), "6983"},
            {ia(digest), "6982"},
        });
    }

    // ---- step 7: the signature ----

    @Test
    void theLeftmost32BytesAreSignedForEveryDigestLength() throws Exception {
        TestCard card = operationalV11();
        PublicKey key = authenticationKey(card);
        PublicKey signingKey = publicKey(TestCard.data(send(card, "0047810100")));
        script(card, new String[][] {{verify(PIN), "9000"}});
        String[][] digests = {{"SHA-256", "32"}, {"SHA-384", "48"}, {"SHA-512", "64"}};
        for (String[] alg : digests) {
            byte[] digest = sha(alg[0], "web-eid origin and nonce");
            assertEquals(Integer.parseInt(alg[1]), digest.length);
            for (String le : new String[] {"00", "40"}) {
                String apdu = ia(digest);
                String answer = send(card, apdu.substring(0, apdu.length() - 2) + le);
                assertEquals("9000", TestCard.sw(answer), alg[0] + " Le " + le);
                byte[] rs = HostSm.hex(TestCard.data(answer));
                assertEquals(64, rs.length);
                byte[] e = Arrays.copyOf(digest, 32);
                assertTrue(verifiesDigest(key, e, rs), alg[0]);
                // Made by key 03, never by the signing key; and over e, not another value.
                assertFalse(verifiesDigest(signingKey, e, rs), alg[0]);
                byte[] other = e.clone();
                other[31] ^= 1;
                assertFalse(verifiesDigest(key, other, rs), alg[0]);
            }
        }
        // Bytes after the 32nd do not change what is signed.
        byte[] a = new byte[64];
        Arrays.fill(a, (byte) 0x5A);
        byte[] b = a.clone();
        b[40] = 0;
        b[63] = 1;
        byte[] e = Arrays.copyOf(a, 32);
        for (byte[] digest : new byte[][] {a, b, Arrays.copyOf(a, 48), Arrays.copyOf(b, 48)}) {
            String answer = send(card, ia(digest));
            assertTrue(verifiesDigest(key, e, HostSm.hex(TestCard.data(answer))));
        }
    }

    @Test
    void chipAuthenticationIsUnchanged() throws Exception {
        TestCard card = operationalV11();
        byte[] c = pattern(32, 0x42);
        String answer = send(card, ia(0x00, 0x00, 0x02, c));
        assertEquals("9000", TestCard.sw(answer));
        PublicKey chip = publicKey(TestCard.data(send(card, "0047810200")));
        byte[] m = HostSm.cat("MELLI-CA-V1".getBytes(), RustApduScriptsTest.SERIAL.getBytes(), c);
        java.security.Signature v = java.security.Signature.getInstance("SHA256withECDSAinP1363Format");
        v.initVerify(chip);
        v.update(m);
        assertTrue(v.verify(HostSm.hex(TestCard.data(answer))));
    }

    // ---- PUK exhaustion, TERMINATE DF ----

    @Test
    void anExhaustedPukLeavesKey03Usable() throws Exception {
        TestCard card = operationalV11();
        PublicKey key = authenticationKey(card);
        for (int left = 9; left >= 0; left--) {
            script(card, new String[][] {
                {"002C0081 20 " + WRONG_PUK + PIN, String.format("63C%X", left)},
            });
        }
        assertTrue(card.insides().state.signingBlocked());
        byte[] digest = sha("SHA-256", "still a citizen");
        script(card, new String[][] {
            {ia(digest), "6982"},
            {verify(PIN), "9000"},
            {pso(), "6983"},
        });
        String answer = send(card, ia(digest));
        assertEquals("9000", TestCard.sw(answer));
        assertTrue(verifiesDigest(key, digest, HostSm.hex(TestCard.data(answer))));
        card.reset();
        script(card, new String[][] {{SELECT_AID, "9000"}, {verify(PIN), "9000"},
            {pso(), "6983"}, {ia(digest), "*9000"}});
    }

    @Test
    void terminateErasesKey03() {
        TestCard card = operationalV11();
        Dispatcher d = card.insides();
        assertTrue(d.keys.exists(Keys.AUTHENTICATION));
        script(card, new String[][] {
            {verify(PIN), "9000"},
            {ia(new byte[32]), "*9000"},
            {"00E60000 10 " + PUK, "9000"},
            {ia(new byte[32]), "6985"},
            {"0047810300", "6985"},
            {"00B0870000", "6985"},
        });
        assertFalse(d.keys.exists(Keys.AUTHENTICATION));
        assertFalse(d.keys.anyLeft());
        // DG7 stays, as the other data groups (§6.16).
        assertEquals(DG7.length, d.files.length(Files.DG7));
    }

    @Test
    void aTerminatedCardTornBeforeTheErasureStillErasesKey03() {
        TestCard card = operationalV11();
        Dispatcher d = card.insides();
        script(card, new String[][] {{"00E60000 10 " + PUK, "9000"}});
        // As if power had been lost before key 03 was erased: only key 03 is left.
        d.keys.generate(Keys.AUTHENTICATION);
        assertTrue(d.keys.anyLeft());
        script(card, new String[][] {{"00CADF0200", "0C9000"}});
        assertFalse(d.keys.exists(Keys.AUTHENTICATION));
    }

    // ---- ACTIVATE FILE: key 03 and DG7 together or not at all ----

    @Test
    void aV10PersonalizationStillLocks() {
        TestCard card = new TestCard(RustApduScriptsTest.SERIAL);
        HostSm host = personalizing(card);
        personalizeAll(host);
        host.expect("00440000", "9000");
        script(card, new String[][] {{"00CADF0200", "059000"}});
    }

    @Test
    void key03WithoutDg7IsIncomplete() {
        TestCard card = new TestCard(RustApduScriptsTest.SERIAL);
        HostSm host = personalizing(card);
        personalizeAll(host);
        host.expect("00478003 00", "9000");
        host.expect("00440000", "6985");
        host.writeFile("0107", DG7);
        host.expect("00440000", "9000");
        script(card, new String[][] {{"00CADF0200", "059000"}});
    }

    @Test
    void dg7WithoutKey03IsIncomplete() {
        TestCard card = new TestCard(RustApduScriptsTest.SERIAL);
        HostSm host = personalizing(card);
        personalizeAll(host);
        host.writeFile("0107", DG7);
        host.expect("00440000", "6985");
        // Erasing DG7 makes it a v1.0 personalization again.
        host.expect("00A4020C020107", "9000");
        host.expect("000E0000", "9000");
        host.expect("00440000", "9000");
        script(card, new String[][] {{"00CADF0200", "059000"}, {"0047810300", "6A88"}});
    }
}
