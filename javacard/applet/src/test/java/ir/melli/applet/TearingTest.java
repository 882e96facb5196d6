package ir.melli.applet;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.Arrays;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/**
 * Tearing (spec §7.2, §8.3, §8.7): power lost between any two APDUs of a personalization, or
 * inside a command at the applet's tearing points, leaves the card in the old state or the new
 * one, and a host that resumes from step 1 finishes the card.
 *
 * <p>jCardSim keeps persistent objects in its JVM, so a "power loss" is a runtime reset (the
 * CLEAR_ON_RESET memory is cleared, the persistent arrays stay). jCardSim does not journal
 * transactions (its abortTransaction does not roll back), so a tear inside
 * beginTransaction/commitTransaction cannot be shown here; the tests tear at the points where
 * the applet relies on an atomic single write instead (the counter decrement, the file length),
 * and check that a transaction is only entered after the try is persisted.
 */
class TearingTest {
    /** Set when a hook cut the power. */
    private static boolean fired;

    /**
     * Runs `r`, which must be cut by a tear. The Torn error leaves the applet at the tearing
     * point; jCardSim then answers 6F00 (it catches everything), which stands for "no answer":
     * the host's assertion on that answer fails, and the card is reset right after, as after a
     * power loss.
     */
    private static void assertTornDuring(Runnable r) {
        fired = false;
        try {
            r.run();
        } catch (TestCard.Torn | AssertionError e) {
            // the host got no (usable) answer
        }
        assertTrue(fired, "no tear happened");
    }

    @AfterEach
    void noHook() {
        Tear.hook = null;
    }

    /** The expected content of each file after {@link Personalizer#personalize}. */
    private static void assertPersonalized(TestCard card) {
        Dispatcher d = card.insides();
        assertEquals(CardState.OPERATIONAL, d.state.lifecycle());
        assertArrayEquals(Personalizer.dg1(), content(d, Files.DG1));
        assertArrayEquals(Personalizer.filler(5000, 1), content(d, Files.DG2));
        assertArrayEquals(Personalizer.fixture("finger-1.fmr"), content(d, Files.DG3));
        assertArrayEquals(Personalizer.filler(1200, 3), content(d, Files.DG6));
        assertArrayEquals(Personalizer.filler(1500, 4), content(d, Files.SOD));
    }

    private static byte[] content(Dispatcher d, byte index) {
        return Arrays.copyOf(d.files.bytes(index), d.files.length(index));
    }

    private static void activate(Personalizer p) {
        assertEquals("9000", p.sm.send(0x44, 0, 0, null, 0));
    }

    @Test
    void powerLostBeforeAnyApduOfAPersonalization() {
        Personalizer probe = new Personalizer(new TestCard());
        probe.personalize();
        activate(probe);
        int total = probe.card.sent;
        assertTrue(total > 30, "APDUs in a personalization: " + total);
        for (int k = 0; k < total; k++) {
            TestCard card = new TestCard();
            card.tearBefore = k;
            Personalizer first = new Personalizer(card);
            boolean torn = false;
            try {
                first.personalize();
                activate(first);
            } catch (TestCard.Torn e) {
                torn = true;
            }
            assertTrue(torn, "torn at " + k);
            byte lifecycle = card.insides().state.lifecycle();
            assertTrue(lifecycle == CardState.BLANK || lifecycle == CardState.PERSONALIZING
                    || lifecycle == CardState.OPERATIONAL, "state after a tear at " + k);
            if (lifecycle == CardState.OPERATIONAL) {
                // Torn after ACTIVATE FILE reached the card: the card is finished.
                assertEquals(total - 1, k);
            } else {
                Personalizer resume = new Personalizer(card);
                resume.personalize();
                activate(resume);
            }
            assertPersonalized(card);
        }
    }

    /** A tear inside UPDATE BINARY after the bytes, before the length: nothing is visible. */
    @Test
    void powerLostInsideAnUpdateBinary() {
        for (int m = 0; m < 10; m++) {
            TestCard card = new TestCard();
            Personalizer p = new Personalizer(card);
            int[] seen = {0};
            int at = m;
            Tear.hook = new Tear() {
                @Override
                public void reached(byte point) {
                    if (point == Tear.AFTER_FILE_BYTES && seen[0]++ == at) {
                        fired = true;
                    throw new TestCard.Torn();
                    }
                }
            };
            assertTornDuring(p::personalize);
            Tear.hook = null;
            card.reset();
            // Written bytes past the length stay invisible; the lengths are those of before.
            assertTrue(card.insides().state.lifecycle() == CardState.PERSONALIZING);
            Personalizer resume = new Personalizer(card);
            resume.personalize();
            activate(resume);
            assertPersonalized(card);
        }
    }

    /**
     * §8.3: power cut right after the decremented counter is written, with the right PIN: the
     * try is consumed, the PIN not verified; the next VERIFY gives it back.
     */
    @Test
    void powerLostAtTheCounterDecrementOfVerify() {
        Personalizer p = Personalizer.operational();
        TestCard card = p.card;
        Dispatcher d = card.insides();
        byte[] inTransaction = {-1};
        Tear.hook = new Tear() {
            @Override
            public void reached(byte point) {
                if (point == Tear.AFTER_DECREMENT) {
                    fired = true;
                    throw new TestCard.Torn();
                }
            }
        };
        assertTornDuring(() -> card.send("0020008110" + Personalizer.PIN));
        Tear.hook = null;
        card.reset();
        assertEquals(2, d.state.tries(CardState.PIN), "the try stays consumed");
        assertEquals("9000", card.send("00A4040C07F04D454C4C4901"));
        assertEquals("020A059000", card.send("00CADF0400"));
        assertEquals("63C2", card.send("00200081"), "not verified");
        // Pulled again and again: each costs a try, none gives one away.
        for (int left = 1; left >= 0; left--) {
            Tear.hook = new Tear() {
                @Override
                public void reached(byte point) {
                    if (point == Tear.AFTER_DECREMENT) {
                        fired = true;
                    throw new TestCard.Torn();
                    }
                }
            };
            assertEquals("9000", card.send("00A4040C07F04D454C4C4901"));
            assertTornDuring(() -> card.send("0020008110" + Personalizer.PIN));
            Tear.hook = null;
            card.reset();
            assertEquals(left, d.state.tries(CardState.PIN));
        }
        assertEquals("9000", card.send("00A4040C07F04D454C4C4901"));
        assertEquals("6983", card.send("0020008110" + Personalizer.PIN));
        // The transaction that restores the counter starts only after the decrement.
        Personalizer q = Personalizer.operational();
        Dispatcher dq = q.card.insides();
        Tear.hook = new Tear() {
            @Override
            public void reached(byte point) {
                if (point == Tear.BEFORE_COMMIT) {
                    inTransaction[0] = (byte) javacard.framework.JCSystem.getTransactionDepth();
                }
            }
        };
        assertEquals("9000", q.card.send("0020008110" + Personalizer.PIN));
        assertEquals(1, inTransaction[0]);
        assertEquals(3, dq.state.tries(CardState.PIN));
    }

    /** A wrong PIN torn at the decrement costs the try like an answered one. */
    @Test
    void aWrongPinTornAtTheDecrementCostsATry() {
        Personalizer p = Personalizer.operational();
        Tear.hook = new Tear() {
            @Override
            public void reached(byte point) {
                if (point == Tear.AFTER_DECREMENT) {
                    fired = true;
                    throw new TestCard.Torn();
                }
            }
        };
        assertTornDuring(() -> p.card.send("0020008110313233343537FFFFFFFFFFFFFFFFFFFF"));
        Tear.hook = null;
        p.card.reset();
        assertEquals(2, p.card.insides().state.tries(CardState.PIN));
        assertFalse(p.card.insides().session.pinVerified());
    }

    /** The PUK torn at its last try: the blocked mark is written with the counter. */
    @Test
    void theLastPukTryBlocksSigningInTheSameWrite() {
        Personalizer p = Personalizer.operational();
        TestCard card = p.card;
        for (int i = 0; i < 9; i++) {
            card.send("00E6000010" + "3132333435363739FFFFFFFFFFFFFFFF");
        }
        Tear.hook = new Tear() {
            @Override
            public void reached(byte point) {
                if (point == Tear.AFTER_DECREMENT) {
                    fired = true;
                    throw new TestCard.Torn();
                }
            }
        };
        assertTornDuring(() -> card.send("00E6000010" + Personalizer.PUK));
        Tear.hook = null;
        card.reset();
        Dispatcher d = card.insides();
        assertEquals(0, d.state.tries(CardState.PUK));
        assertTrue(d.state.signingBlocked());
        assertEquals(CardState.OPERATIONAL, d.state.lifecycle());
    }
}
