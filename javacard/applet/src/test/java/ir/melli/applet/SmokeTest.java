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
        // The application FCP carries the serial in 85 (§6.1).
        String fcp = "6220 820138 8407F04D454C4C4901 850F4D454C4C4930303030303030303031 8A0101"
                .replace(" ", "");
        assertEquals(fcp + "9000", card.send("00A4040007F04D454C4C490100"));
        assertEquals("6122", card.send("00A4040007F04D454C4C4901"));
        assertEquals(fcp + "9000", card.send("00C0000022"));
        assertEquals("6985", card.send("00C0000022"));
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

    /** §6.1: the longest serial, 16 characters, in 85; the template's length follows it. */
    @Test
    void theApplicationFcpCarriesTheSerial() {
        TestCard card = new TestCard("0123456789ABCDEZ");
        String serial = "3031323334353637383941424344455A"; // "0123456789ABCDEZ"
        assertEquals("6221 820138 8407F04D454C4C4901 8510".replace(" ", "") + serial + "8A01019000",
                card.send("00A4040407F04D454C4C490100"));
        assertEquals(serial + "9000", card.send("00CADF0100"));
        assertEquals("9000", card.send("00A4040C07F04D454C4C4901"));
    }
}
