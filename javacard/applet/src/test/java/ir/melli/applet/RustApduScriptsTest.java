package ir.melli.applet;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.Arrays;
import java.util.HexFormat;
import org.junit.jupiter.api.Test;

/**
 * The APDU scripts of the Rust reference card (crates/melli-card/src/tests/apdus.rs), run
 * against the applet: same commands, same expected bytes. Ported mechanically; where the
 * applet differs, the test says so in a comment.
 */
class RustApduScriptsTest {
    static final String SERIAL = "MELLI0001";
    static final String SELECT_AID = "00A4040C07F04D454C4C4901";
    static final String SELECT_AID_FCP = "00A4040407F04D454C4C490100";
    /** The application FCP of a blank card "MELLI0001": version 1.1, the serial in 85 (§6.1). */
    static final String AID_FCP = "621A 820138 8407F04D454C4C4901 85094D454C4C4930303031 8A0101 9000";
    static final int IDENTITY_LEN = 300;
    static final int PHOTO_LEN = 20_480;
    static final int ADDRESS_LEN = 40;

    static byte[] pattern(int len, int seed) {
        byte[] b = new byte[len];
        for (int i = 0; i < len; i++) {
            b[i] = (byte) ((i % 251) ^ seed);
        }
        return b;
    }

    static byte[] identity() {
        return pattern(IDENTITY_LEN, 0x01);
    }

    static byte[] photo() {
        return pattern(PHOTO_LEN, 0x02);
    }

    static byte[] slice(byte[] b, int from, int to) {
        return Arrays.copyOfRange(b, from, to);
    }

    static String hx(byte[] b) {
        return HexFormat.of().withUpperCase().formatHex(b);
    }

    static String compact(String s) {
        return s.replaceAll("\\s", "").toUpperCase();
    }

    /** The Rust tests' card(): BLANK, serial MELLI0001, DG1, DG2 and DG4 filled. */
    static TestCard card() {
        TestCard card = new TestCard(SERIAL);
        Dispatcher d = card.insides();
        put(d, Files.DG1, identity());
        put(d, Files.DG2, photo());
        put(d, Files.DG4, pattern(ADDRESS_LEN, 0x04));
        return card;
    }

    static void put(Dispatcher d, byte index, byte[] content) {
        d.files.erase(index, (short) 0);
        d.files.write(index, (short) 0, content, (short) 0, (short) content.length);
    }

    static TestCard withLifecycle(TestCard card, byte lifecycle) {
        card.insides().state.setLifecycle(lifecycle);
        return card;
    }

    static TestCard selected() {
        TestCard card = card();
        script(card, new String[][] {{SELECT_AID, "9000"}});
        return card;
    }

    static TestCard selectedOn(String fid) {
        TestCard card = selected();
        script(card, new String[][] {{"00A4000C02" + fid, "9000"}});
        return card;
    }

    static String send(TestCard card, String apdu) {
        return card.send(compact(apdu));
    }

    /** Each APDU with its expected answer; "*9000" is any data then 9000. */
    static void script(TestCard card, String[][] steps) {
        for (String[] step : steps) {
            String got = send(card, step[0]);
            String want = compact(step[1]);
            if (want.startsWith("*")) {
                assertTrue(got.endsWith(want.substring(1)), step[0] + " -> " + got);
            } else {
                assertEquals(want, got, step[0]);
            }
        }
    }

    static void expect(TestCard card, String apdu, byte[] data, String sw) {
        String got = send(card, apdu);
        assertEquals(compact(sw), TestCard.sw(got), "status of " + apdu);
        assertEquals(hx(data), TestCard.data(got), "data of " + apdu);
    }

    static String fmt(String format, Object... args) {
        return String.format(format.replace("{}", "%s"), args);
    }

    @Test
    void apdusShorterThanAHeaderAre6700() {
        TestCard card;
        script(
            card(),
            new String[][] {
                {"", "6700"},
                {"00", "6700"},
                {"00A4", "6700"},
                {"00A404", "6700"},
            });
    }
    
    @Test
    void onlyFourClassesAreServed() {
        TestCard card;
        script(
            card(),
            new String[][] {
                {"80CADF0100", "6E00"},
                {"01A4040C07F04D454C4C4901", "6E00"}, // logical channel 1
                {"04A4040C07F04D454C4C4901", "6E00"}, // SM bits 01
                {"08A4040C07F04D454C4C4901", "6E00"}, // SM bits 10
                {"40A4040C07F04D454C4C4901", "6E00"}, // further interindustry class
                {"FFA4040C07F04D454C4C4901", "6E00"},
                {"80FF0000", "6E00"}, // class before instruction
                {"80B0", "6700"},     // but a header first
                {"00A4040C07F04D454C4C4901", "9000"},
            });
    }
    
    @Test
    void malformedLengthsAre6700() {
        TestCard card;
        card = selectedOn("0101");
        script(card, new String[][] {
                {"00B00000", "6700"},                           // READ BINARY without Le
                {"00A4040C08F04D454C4C4901", "6700"},           // Lc 8, 7 bytes
                {"00A4040C05F04D454C4C4901", "6700"},           // Lc 5, 7 bytes
                {"00B0000000FF", "6700"},                       // 00 then one byte
                {"00A4040C000007F04D454C4C49", "6700"},         // extended Lc 7, 6 bytes
                {"00A4040C000007F04D454C4C490100", "6700"},     // extended, one Le byte
                {"00A4040C000007F04D454C4C49010000AA", "6700"}, // extended, three Le bytes
                {"00A4040C00000000", "6700"},                   // extended Lc 0
                {"00A4040C000000", "6700"},                     // case 2E: SELECT needs data
                {"00B0000001FF10", "6700"},                     // READ BINARY with data
            });
        // More than 1024 data bytes in one APDU (§4.3).
        String tooLong = fmt("00A4040C000401{}", "00".repeat(1025));
        script(card, new String[][] {{tooLong, "6700"}});
        String justFits = fmt("00A4040C000400{}", "00".repeat(1024));
        script(card, new String[][] {{justFits, "6A82"}});
    }
    
    @Test
    void extendedLengthFormsAreAccepted() {
        TestCard card;
        card = card();
        script(card, new String[][] {
                {"00A4040C000007F04D454C4C4901", "9000"},      // 3E
                {"00A40404000007F04D454C4C49010000", AID_FCP}, // 4E
                {"00A4000C000002010100", "6700"},              // 4E with a one-byte Le: bad
                {"00A40004000002010100FF", "6215 8002012C 81020400 820101 83020101 880101 8A0101 9000"},
            });
        card = selectedOn("0101");
        expect(card, "00B00000000000", identity(), "9000"); // 2E, Le 65 536
        expect(card, "00B00000000010", slice(identity(), 0, 16), "9000");
    }
    
    @Test
    void beforeSelectionOnlySelectGetChallengeGetResponseWork() {
        TestCard card;
        card = card();
        script(card, new String[][] {
                {"00B0000010", "6985"},
                {"00B0810010", "6985"},
                {"00B1010103540100 00", "6985"},
                {"00CADF0100", "6985"},
                {"00CADF02", "6985"},
                {"00A4000C020101", "6A82"}, // SELECT by FID: file not found
                {"00A4020C020101", "6A82"},
                {"0084000008", "*9000"},
                {"00C0000000", "6985"}, // nothing pending
                {"00B00000", "6700"},   // the length is judged first
                {"0CCADF0100", "6985"}, // and the selection before secure messaging
                {SELECT_AID, "9000"},
                {"00CADF0200", "019000"},
            });
    }
    
    @Test
    void selectTheApplication() {
        TestCard card;
        card = card();
        script(card, new String[][] {
                {SELECT_AID_FCP, AID_FCP},
                {"00A4040007F04D454C4C490100", AID_FCP}, // P2 00: FCI answered as FCP
                {"00A4040C07F04D454C4C4901", "9000"},
                {"00A4040407F04D454C4C4901", "611C"}, // no Le: 61xx
                {"00C0000000", AID_FCP},
                {"00A4040C07F04D454C4C4902", "6A82"}, // another AID
                {"00A4040C06F04D454C4C49", "6A82"},   // a prefix of the AID
                {"00A4040C08F04D454C4C490100", "6A82"}, // longer than the AID
                {"00CADF0200", "019000"},             // a failed SELECT keeps the selection
                {"00A4010C07F04D454C4C4901", "6A86"},
                {"00A4080C07F04D454C4C4901", "6A86"},
                {"00A4040207F04D454C4C4901", "6A86"},
                {"00A4040D07F04D454C4C4901", "6A86"},
                {"00A405", "6700"},
                {"00A40500", "6700"}, // no data: length before P1-P2
                {"00A4040C", "6700"},
            });
    }
    
    @Test
    void selectFilesByFid() {
        TestCard card;
        card = selected();
        script(card, new String[][] {
                {"00A4000C020101", "9000"},
                {"00A4020C020102", "9000"},
                {"00A40004020101 00", "6215 8002012C 81020400 820101 83020101 880101 8A0101 9000"},
                {"00A40204020102 00", "6215 80025000 81025000 820101 83020102 880102 8A0101 9000"},
                {"00A40004020103 00", "6215 80020000 81021000 820101 83020103 880103 8A0101 9000"},
                {"00A40004020104 00", "6215 80020028 81020100 820101 83020104 880104 8A0101 9000"},
                {"00A40004020105 00", "6215 80020000 81020080 820101 83020105 880105 8A0101 9000"},
                {"00A40004020106 00", "6215 80020000 81020800 820101 83020106 880106 8A0101 9000"},
                {"00A4000402011D 00", "6215 80020000 81021000 820101 8302011D 88011D 8A0101 9000"},
                {"00A40004020107 00", "6215 80020000 81020800 820101 83020107 880107 8A0101 9000"},
                {"00A4000C020108", "6A82"},
                {"00A4000C023F00", "6A82"}, // the MF is not supported
                {"00A4000C02F04D", "6A82"},
                {"00A4000C03010100", "6700"},
                {"00A4000C0101", "6700"},
                {"00A4010C020101", "6A86"},
                {"00A4000D020101", "6A86"},
                {"00A4000D03010101", "6700"}, // the FID length is a length rule: before P2
            });
    }
    
    @Test
    void aFailedSelectKeepsTheCurrentFileAndReselectingTheAidClearsIt() {
        TestCard card;
        card = selectedOn("0101");
        script(card, new String[][] {{"00A4000C020108", "6A82"}});
        expect(card, "00B0000002", slice(identity(), 0, 2), "9000");
        script(card, new String[][] {{SELECT_AID, "9000"}, {"00B0000002", "6986"}});
    }
    
    @Test
    void readBinaryOfTheCurrentFile() {
        TestCard card;
        card = selected();
        script(card, new String[][] {{"00B0000010", "6986"}});
        card = selectedOn("0101");
        byte[] id = identity();
        expect(card, "00B0000010", slice(id, 0, 16), "9000");
        expect(card, "00B0000000", slice(id, 0, 256), "9000"); // Le 00: up to 256
        expect(card, "00B0010000", slice(id, 256, id.length), "9000"); // fewer left, Le 00: no warning
        expect(card, "00B0010040", slice(id, 256, id.length), "6282"); // explicit Le not met
        expect(card, "00B001002C", slice(id, 256, id.length), "9000"); // exactly what is left
        expect(card, "00B0012C00", new byte[0], "6282"); // at the end
        expect(card, "00B0012C01", new byte[0], "6282");
        expect(card, "00B0012D01", new byte[0], "6B00"); // past the end
        expect(card, "00B07FFF01", new byte[0], "6B00");
        expect(card, "00B00000000000", id, "9000");
        expect(card, "00B00000000200", id, "6282");
        expect(card, "00B00064000010", slice(id, 100, 116), "9000");
    }
    
    @Test
    void readBinaryOfALargeFileWithExtendedLe() {
        TestCard card;
        card = selectedOn("0102");
        byte[] photo = photo();
        expect(card, "00B00000000000", photo, "9000");
        expect(card, "00B04000000000", slice(photo, 0x4000, photo.length), "9000");
        expect(
            card,
            "00B04000001001",
            slice(photo, 0x4000, Math.min(0x5001, PHOTO_LEN)),
            "6282");
        expect(card, "00B05000000000", new byte[0], "6282");
        expect(card, "00B05001000000", new byte[0], "6B00");
    }
    
    @Test
    void readBinaryByShortFileIdentifier() {
        TestCard card;
        card = selected();
        byte[] id = identity();
        expect(card, "00B0810010", slice(id, 0, 16), "9000");
        expect(card, "00B0000004", slice(id, 0, 4), "9000"); // SFI made DG1 current
        expect(card, "00B081FF10", slice(id, 255, 271), "9000");
        expect(card, "00B0840000", pattern(ADDRESS_LEN, 0x04), "9000");
        expect(card, "00B09D0000", new byte[0], "6282"); // empty security object
        script(card, new String[][] {
                {"00B0800010", "6A82"}, // SFI 0
                {"00B0870010", "6282"}, // DG7 (spec 1.1), empty
                {"00B0880010", "6A82"},
                {"00B09F0010", "6A82"},
                {"00B0A10010", "6A86"}, // P1 bits 7-6 must be 0
                {"00B0C10010", "6A86"},
                {"00B0E10010", "6A86"},
                {"00B0830010", "6982"}, // fingerprint: never readable
                {"00B0000010", "6982"}, // ... and now current
            });
    }
    
    @Test
    void getDataObjects() {
        TestCard card;
        card = selected();
        String serial = hx(SERIAL.getBytes());
        script(card, new String[][] {
                {"00CADF0100", serial + "9000"},
                {"00CADF0200", "019000"},
                {"00CADF0300", "01019000"},
                {"00CADF0400", "030A059000"},
                {"00CA7F6600", "7F66 08 0202 0400 0202 FFFD 9000"},
                {"00CA7F6100", "6A88"}, // no finger enrolled
                {"00CADF0500", "6A88"},
                {"00CA000000", "6A88"},
                {"00CA010100", "6A88"},
                {"00CADF0101 00", "6700"}, // command data
                {"00CADF01", "6109"},      // no Le: 61xx
                {"00C0000000", serial + "9000"},
                {"00CADF0102", "4D456107"}, // short Le: 61xx
                {"00C0000004", "4C4C49306103"},
                {"00C0000010", "3030319000"},
                {"00CADF01000000", serial + "9000"}, // extended Le
            });
    }
    
    @Test
    void getResponseRules() {
        TestCard card;
        card = selected();
        script(card, new String[][] {
                {"00C0000000", "6985"},
                {"00A4040407F04D454C4C4901", "611C"},
                {"00C0000005", "621A8201386117"},
                {"00C0000003", "8407F06114"},
                {"00C0000007", "4D454C4C490185 610D"},
                {"00C000000D", "094D454C4C4930303031 8A0101 9000"},
                {"00C0000000", "6985"},
                // Any other command discards pending data.
                {"00A4040407F04D454C4C4901", "611C"},
                {"00CADF0200", "019000"},
                {"00C0000000", "6985"},
                // A failing GET RESPONSE keeps them.
                {"00A4040407F04D454C4C4901", "611C"},
                {"00C0010000", "6A86"},
                {"00C00000", "6700"},
                {"00C000000100", "6700"},
                {"0CC0000000", "6A81"},
                {"80C0000000", "6E00"},
                {"10C0000000", "9000"},  // a chained GET RESPONSE APDU...
                {"00C0000000", AID_FCP}, // ... and its last one
                {"00C0000000", "6985"},
                // An APDU of another instruction discards them even when it fails.
                {"00A4040407F04D454C4C4901", "611C"},
                {"80A4", "6700"},
                {"00C0000000", "6985"},
                {"00A4040407F04D454C4C4901", "611C"},
                {"00C00000000000", AID_FCP}, // extended Le
            });
    }
    
    @Test
    void aChainIsProcessedWhenItsLastCommandArrives() {
        TestCard card;
        card = card();
        script(card, new String[][] {
                {"10A4040403F04D4500", "9000"}, // Le of a non-last command is ignored
                {"10A4040402 4C4C", "9000"},
                {"00A4040402 4901 00", AID_FCP},
                {"00CADF0200", "019000"},
            });
        // Extended chained APDUs too.
        script(card, new String[][] {
                {"10A4040C000003F04D45", "9000"},
                {"00A4040C0000044C4C4901", "9000"},
            });
    }
    
    @Test
    void aChainContinuedWithAnotherHeaderIs6883AndDiscarded() {
        TestCard card;
        card = card();
        script(card, new String[][] {
                {"10A4040C03F04D45", "9000"},
                {"00A4040404 4C4C4901", "6883"}, // same instruction, other P2
                {"00A4040C044C4C4901", "6A82"},  // the chain is gone: 4 bytes alone
                {"10A4040C03F04D45", "9000"},
                {"00A4000C044C4C4901", "6883"}, // other P1
                {"10A4040C03F04D45", "9000"},
                {"1CA4040C03F04D45", "6883"}, // other class (secure messaging)
                {"10A4040C03F04D45", "9000"},
                {"10A4040403F04D45", "6883"}, // chaining on, other P2
                {"00A4040C044C4C4901", "6A82"},
            });
    }
    
    @Test
    void anotherInstructionAbandonsAChain() {
        TestCard card;
        card = card();
        script(card, new String[][] {
                {"10A4040C03F04D45", "9000"},
                {"0084000008", "*9000"},
                {"00A4040C044C4C4901", "6A82"},
                {"10A4040C03F04D45", "9000"},
                {"80CA000000", "6E00"}, // even a rejected APDU
                {"00A4040C044C4C4901", "6A82"},
                // Another instruction with the chaining bit starts a chain of its own.
                {"10A4040C03F04D45", "9000"},
                {"10CADF0001AA", "9000"},
                {"00CADF0000", "6700"}, // GET DATA takes no data: a length rule, before selection
                {"00A4040C044C4C4901", "6A82"},
            });
    }
    
    @Test
    void chainedDataIsJudgedAsAWhole() {
        TestCard card;
        card = selectedOn("0101");
        script(card, new String[][] {
                {"10B0000001AA", "9000"},
                {"00B0000010", "6700"}, // READ BINARY takes no data, chained or not
            });
        String too_long = fmt("10A4040C000401{}", "00".repeat(1025));
        script(card, new String[][] {{too_long, "6700"}});
        // A chained SELECT by name with the secure-messaging class: plain only.
        script(card, new String[][] {{"1CA4040C03F04D45", "9000"}, {"0CA4040C044C4C4901", "6A81"}});
    }
    
    @Test
    void protectedCommandsWithoutAChannel() {
        TestCard card;
        card = selectedOn("0101");
        script(card, new String[][] {
                {"0CA4040C07F04D454C4C4901", "6A81"}, // SELECT by name: plain only
                {"0CA4000C020102", "6988"},           // SELECT by FID: no channel open
                {"0CB0000010", "6988"},
                {"0CB1000003540100 00", "6988"},
                {"0CCADF0100", "6988"},
                {"0C84000008", "6A81"},
                {"0CC0000000", "6A81"},
                // Steps 0 to 5 come first.
                {"0CA4050C07F04D454C4C4901", "6A86"},
                {"0CB0012D10", "6B00"},
                {"0CB0880010", "6A82"},
                {"0CB0830010", "6982"},
                {"0CCA5F2000", "6A88"},
                {"0C84000108", "6A86"},
                {"0CC0010000", "6A86"},
                {"0CFF000000", "6D00"},
                // The length rules of a protected command wait for the unwrapping.
                {"00A4000C020101", "9000"}, // 0103 became current above
                {"0CB00000", "6988"},
                {"00CADF0200", "019000"},
            });
        card = selected();
        script(card, new String[][] {{"0CB0000010", "6986"}, {"0CB1000003540100 00", "6986"}});
    }

    static final byte[] INSTRUCTIONS = {
        0x0E, 0x20, 0x24, 0x2A, 0x2C, 0x44, 0x47, (byte) 0x82, (byte) 0x84, (byte) 0x88,
        (byte) 0xA4, (byte) 0xB0, (byte) 0xB1, (byte) 0xC0, (byte) 0xCA, (byte) 0xD6, (byte) 0xD7,
        (byte) 0xE6
    };

    @Test
    void unknownInstructionsAre6D00() {
        for (TestCard card : new TestCard[] {card(), selected()}) {
            for (int ins = 0; ins < 256; ins++) {
                boolean defined = false;
                for (byte d : INSTRUCTIONS) {
                    defined |= (d & 0xFF) == ins;
                }
                if (defined) {
                    continue;
                }
                for (String cla : new String[] {"00", "0C", "10"}) {
                    script(card, new String[][] {{fmt("%s%02X000000", cla, ins), "6D00"}});
                }
            }
            script(card, new String[][] {{"00FF00000501", "6D00"}, {"00EE00810000", "6D00"}});
        }
    }

    @Test
    void getChallenge() {
        TestCard card = card();
        String[][] lens = {{"01", "1"}, {"08", "8"}, {"10", "16"}, {"20", "32"}};
        for (String[] l : lens) {
            String response = send(card, "00840000" + l[0]);
            assertEquals(2 * Integer.parseInt(l[1]) + 4, response.length(), "Le " + l[0]);
            assertTrue(response.endsWith("9000"));
        }
        assertNotEquals(send(card, "0084000010"), send(card, "0084000010"));
        script(card, new String[][] {
            {"0084000021", "6C20"},
            {"0084000000", "6C20"},
            {"00840000000000", "6C20"},
            {"00840000000010", "*9000"},
            {"00840000", "6700"},
            {"00840000010000", "6700"},
            {"0084010008", "6A86"},
            {"0084000108", "6A86"},
            {"0C84000008", "6A81"},
        });
    }

    @Test
    void aChallengeIsKeptForTheNextCommandOnly() {
        TestCard card = card();
        Session s = card.insides().session;
        send(card, "0084000010");
        assertTrue(s.challengeStored());
        send(card, "00CADF0100");
        assertTrue(!s.challengeStored());
        send(card, "0084000008");
        assertTrue(!s.challengeStored(), "only 16-byte challenges are kept");
        send(card, "0084000010");
        send(card, "80");
        assertTrue(!s.challengeStored(), "even a malformed command clears it");
    }

    static byte[] with53(byte[] bytes) {
        int n = bytes.length;
        byte[] head = n < 128 ? new byte[] {0x53, (byte) n}
                : n < 256 ? new byte[] {0x53, (byte) 0x81, (byte) n}
                : new byte[] {0x53, (byte) 0x82, (byte) (n >> 8), (byte) n};
        return HostSm.cat(head, bytes);
    }

    @Test
    void readBinaryOddWithOffsetObjects() {
        TestCard card = selected();
        byte[] id = identity();
        expect(card, "00B1010103540100 00", with53(slice(id, 0, 253)), "9000");
        expect(card, "00B1000003540110 10", with53(slice(id, 0x10, 0x1E)), "9000");
        expect(card, "00B10101045402FF00 00", new byte[0], "6B00");
        expect(card, "00B101010454020100 00", with53(slice(id, 256, id.length)), "9000");
        expect(card, "00B101010454020100 40", with53(slice(id, 256, id.length)), "6282");
        expect(card, "00B101010454020100 2E", with53(slice(id, 256, id.length)), "9000");
        expect(card, "00B10101045402012C 00", new byte[0], "6282");
        expect(card, "00B10101045402012D 00", new byte[0], "6B00");
        expect(card, "00B1010105540300012C 00", new byte[0], "6282");
        expect(card, "00B10101 000005 5403 0000FF 0000", with53(slice(id, 255, id.length)), "9000");
        expect(card, "00B1010103540100 03", with53(slice(id, 0, 1)), "9000");
        script(card, new String[][] {
            {"00B1010103540100 02", "6700"},
            {"00B1010103540100 01", "6700"},
            {"00B1010102540000", "6A80"},
            {"00B1010103530100 00", "6A80"},
            {"00B101010654040000000100", "6A80"},
            {"00B101010454010000 00", "6A80"},
            {"00B10101025401 00", "6A80"},
            {"00B1010100", "6700"},
            {"00B1010103540100", "6700"},
            {"00B1010803540100 00", "6A82"},
            {"00B13F0003540100 00", "6A82"},
        });
        byte[] photo = photo();
        expect(card, "00B10102 000005 5403000000 0000", with53(photo), "9000");
        expect(card, "00B10102 04 54025001 00", new byte[0], "6B00");
        card = selected();
        script(card, new String[][] {{"00B1000003540100 00", "6986"}});
        script(card, new String[][] {{"00B1010403540100 00", "*9000"}});
        expect(card, "00B0000002", slice(pattern(ADDRESS_LEN, 0x04), 0, 2), "9000");
    }

    @Test
    void theFingerprintFileIsNeverRead() {
        TestCard card = card();
        put(card.insides(), Files.DG3, pattern(100, 3));
        script(card, new String[][] {
            {SELECT_AID, "9000"},
            {"00A4000C020103", "9000"},
            {"00B0000010", "6982"},
            {"00B0000000", "6982"},
            {"00B07FFF00", "6982"},
            {"00B0830000", "6982"},
            {"00B1000003540100 00", "6982"},
            {"00B1010303540100 00", "6982"},
        });
    }

    @Test
    void biometricInformationTemplateOnceAFingerIsEnrolled() {
        TestCard card = selected();
        put(card.insides(), Files.DG3, pattern(64, 3));
        script(card, new String[][] {{"00CA7F6100", "6A88"}});
        put(card.insides(), Files.DG3, Personalizer.fixture("finger-1.fmr"));
        script(card, new String[][] {{"00CA7F6100",
            "7F61 19 020101 7F60 13 A1 11 810108 820109 87020101 88020002 830183 9000"}});
    }

    /**
     * The Rust card takes chains up to 65 535 bytes; the applet's chain buffer (the persistent
     * work buffer) holds {@link Limits#WORK_SIZE} bytes: a longer chain is 6A84 at the link
     * that overflows it (divergence, see README).
     */
    @Test
    void aChainLongerThanTheWorkBufferIs6A84() {
        TestCard card = card();
        String part = "10A4040C000400" + "00".repeat(1024);
        int links = Limits.WORK_SIZE / 1024;
        for (int i = 0; i < links; i++) {
            script(card, new String[][] {{part, "9000"}});
        }
        script(card, new String[][] {{part, "6A84"}, {SELECT_AID, "9000"}});
        for (int i = 0; i < links; i++) {
            script(card, new String[][] {{part, "9000"}});
        }
        int rest = Limits.WORK_SIZE - links * 1024;
        String fits = fmt("00A4040C00%04X%s", rest, "00".repeat(rest));
        script(card, new String[][] {{fits, "6A82"}});
    }

    @Test
    void aTerminatedCardTellsOnlyItsSerialAndState() {
        TestCard card = withLifecycle(card(), CardState.TERMINATED);
        String serial = hx(SERIAL.getBytes());
        script(card, new String[][] {
            {SELECT_AID_FCP, "621A 820138 8407F04D454C4C4901 85094D454C4C4930303031 8A010C 9000"},
            {"00CADF0100", serial + "9000"},
            {"00CADF0200", "0C9000"},
            {"00CADF0300", "6985"},
            {"00CADF0400", "6985"},
            {"00CA7F6600", "6985"},
            {"00CA000000", "6985"},
            {"0084000008", "*9000"},
            {"00A4000C020101", "9000"},
            {"00B0000010", "6985"},
            {"00B0810010", "6985"},
            {"00B1010103540100 00", "6985"},
            {"00B0A10010", "6985"},
            {"00CA5F2000", "6985"},
            {"00A4050C020101", "6A86"},
            {"00C0000000", "6985"},
        });
    }

    @Test
    void theLifecycleByteAppearsInFcpAndGetData() {
        String[][] states = {{"03", "3"}, {"05", "5"}};
        for (String[] s : states) {
            TestCard card = withLifecycle(card(), (byte) Integer.parseInt(s[1]));
            script(card, new String[][] {
                {SELECT_AID_FCP, "621A 820138 8407F04D454C4C4901 85094D454C4C4930303031 8A01" + s[0] + " 9000"},
                {"00CADF0200", s[0] + "9000"},
            });
            String fcp = send(card, "00A40004020101 00");
            assertTrue(fcp.endsWith("8A01" + s[0] + "9000"), fcp);
        }
    }

    @Test
    void powerOffAndResetEndTheSession() {
        TestCard card = selectedOn("0101");
        card.reset();
        script(card, new String[][] {
            {"00B0000001", "6985"},
            {SELECT_AID, "9000"},
            {"00B0000001", "6986"},
        });
        card.reset();
        script(card, new String[][] {{"00CADF0200", "6985"}});
        script(card, new String[][] {{"00A4040407F04D454C4C4901", "611C"}});
        card.reset();
        script(card, new String[][] {{"00C0000000", "6985"}});
        script(card, new String[][] {{"10A4040C03F04D45", "9000"}});
        card.reset();
        script(card, new String[][] {{"00A4040C044C4C4901", "6A82"}});
    }
}
