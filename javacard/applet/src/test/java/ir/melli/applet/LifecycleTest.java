package ir.melli.applet;

import static org.junit.jupiter.api.Assertions.assertEquals;

import org.junit.jupiter.api.Test;

/** Spec §7: blank → personalizing → operational → terminated, and what each state allows. */
class LifecycleTest {
    @Test
    void blankCard() {
        TestCard card = new TestCard();
        assertEquals("9000", card.send("00A4040C07F04D454C4C4901"));
        assertEquals("019000", card.send("00CADF0200"));
        assertEquals(
                "62208201388407F04D454C4C4901850F4D454C4C49303030303030303030318A01019000",
                card.send("00A4040007F04D454C4C490100"));
        assertEquals("6282", card.send("00B0810000"));
        assertEquals("6982", card.send("00B0830000"));
        assertEquals("6A88", card.send("00CA7F6100"));
        assertEquals("6985", card.send("0020008110313233343536FFFFFFFFFFFFFFFFFFFF"));
        assertEquals("6A88", card.send("0047810100"));
        assertEquals("6A88", card.send("00880002080102030405060708" + "00"));
        assertEquals("6982", card.send("0047800100"));
        assertEquals("6988", card.send("0C47800100"));
        assertEquals("6982", card.send("00440000"));
        assertEquals("6985", card.send("00E6000010" + Personalizer.PUK));
        // MUTUAL AUTHENTICATE without a fresh challenge
        assertEquals("6985", card.send("0082000038" + "00".repeat(56) + "00"));
    }

    @Test
    void wrongKeysDoNotAuthenticate() {
        TestCard card = new TestCard();
        HostSm sm = new HostSm(card);
        assertEquals("9000", card.send("00A4040C07F04D454C4C4901"));
        assertEquals("6982", sm.authenticate(new byte[16], TestCard.K_MAC));
        assertEquals("6982", sm.authenticate(TestCard.K_ENC, new byte[16]));
        assertEquals("019000", card.send("00CADF0200"));
    }

    @Test
    void fullLifecycle() {
        Personalizer p = new Personalizer(new TestCard());
        TestCard card = p.card;
        p.open();
        assertEquals("039000", card.send("00CADF0200"));
        // incomplete: 6985, protected, channel stays open
        assertEquals("6985", p.sm.send(0x44, 0, 0, null, 0));
        p.personalize();
        // DG5 is the SPKI of key 02
        String dg5 = p.sm.send(0xB0, 0x85, 0, null, 256);
        assertEquals("3059301306072A8648CE3D020106082A8648CE3D030107034200"
                + p.chipAuthKey.substring(10) + "9000", dg5);
        // UPDATE of DG5: 6982 (protected)
        assertEquals("6982", p.sm.send(0xD6, 0x85, 0, new byte[] {1}, 0));
        assertEquals("9000", p.sm.send(0x44, 0, 0, null, 0));
        // the channel is closed after ACTIVATE FILE
        assertEquals("6988", card.send("0CCADF02" + "0A8E08" + "0000000000000000" + "00"));
        assertEquals("059000", card.send("00CADF0200"));
        assertEquals("9000", TestCard.sw(card.send("0084000010")));
        assertEquals("6985", card.send("0082000038" + "00".repeat(56) + "00"));
        assertEquals("6982", card.send("00D6000001AA"));
        // GET DATA 7F61 (finger-1.fmr: right index finger)
        assertEquals("7F61190201017F6013A1118101088201098702010188020002830183" + "9000",
                card.send("00CA7F6100"));
        assertEquals("63C9", card.send("00E6000010" + "3132333435363739FFFFFFFFFFFFFFFF"));
        assertEquals("0309059000", card.send("00CADF0400"));
        assertEquals("9000", card.send("00E6000010" + Personalizer.PUK));
        assertEquals("0C9000", card.send("00CADF0200"));
        assertEquals("6985", card.send("00B0810000"));
        assertEquals("6985", card.send("00CADF0400"));
        assertEquals("4D454C4C49303030303030303030319000", card.send("00CADF0100"));
        assertEquals("9000", card.send("00A4040C07F04D454C4C4901"));
        assertEquals("6985", card.send("0047810100"));
        assertEquals("6985", card.send("00880002080102030405060708" + "00"));
        assertEquals("6985", card.send("00200081"));
    }
}
