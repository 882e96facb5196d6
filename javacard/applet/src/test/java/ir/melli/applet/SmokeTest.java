package ir.melli.applet;

import static org.junit.jupiter.api.Assertions.assertEquals;

import org.junit.jupiter.api.Test;

class SmokeTest {
    @Test
    void basics() {
        TestCard card = new TestCard();
        assertEquals("6985", card.send("00CADF0100"));
        assertEquals("9000", card.send("00A4040C07F04D454C4C4901"));
        assertEquals("4D454C4C49303030303030303030319000", card.send("00CADF0100"));
        assertEquals("620F820138840" + "7F04D454C4C49018A01019000", card.send("00A4040007F04D454C4C490100"));
        assertEquals("6111", card.send("00A4040007F04D454C4C4901"));
        assertEquals("620F8201388407F04D454C4C49018A01019000", card.send("00C0000011"));
        assertEquals("6985", card.send("00C0000011"));
        assertEquals("6C20", card.send("0084000000"));
        assertEquals("7F6608020204000202FFFD9000", card.send("00CA7F6600"));
        assertEquals("030A059000", card.send("00CADF0400"));
        assertEquals("6E00", card.send("80CADF0100"));
        assertEquals("6D00", card.send("00700000"));
        assertEquals("6986", card.send("00B0000000"));
        assertEquals("6282", card.send("00B0810000"));
        assertEquals("6282", card.send("00B08100000000"));
        assertEquals("6982", card.send("00B0830000"));
    }
}
