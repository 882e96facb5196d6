package ir.melli.sim;

import ir.melli.platform.Gate;
import ir.melli.platform.MelliRuntime;

import com.licel.jcardsim.base.Simulator;
import com.licel.jcardsim.utils.AIDUtil;
import ir.melli.applet.MelliApplet;
import java.nio.file.Path;
import javacard.framework.AID;

/**
 * `melli-javacard`: the melli applet in jCardSim, attached to vpcd as a virtual card.
 *
 * <pre>
 * java -cp … ir.melli.sim.Main --card FILE [--card FILE]… [--eject-issued] [--vpcd HOST:PORT]
 *     [--tear-at K] [--once]
 * </pre>
 *
 * <ul>
 *   <li>{@code --card FILE}: a blank card made by {@code melli card new}; its serial, K_enc,
 *       K_mac and device secret become the applet's install parameters. Repeated: a stack of
 *       cards, put into the reader in order (see {@link VpcdLink}).</li>
 *   <li>{@code --eject-issued}: a card feeder, as {@code melli card feed}: a card that is issued
 *       (OPERATIONAL or later) when vpcd powers it off or resets it (the host let go of it)
 *       leaves the reader for an output tray in memory, and the next card of the stack goes
 *       in.</li>
 *   <li>{@code --vpcd HOST:PORT}: where vpcd listens (default 127.0.0.1:35963).</li>
 *   <li>{@code --tear-at K}: testing, as {@code melli card serve --tear-at}: after command APDU
 *       K (counted from 1 across reconnections) the link is dropped without the answer, the
 *       card is out for a second, then connects again. Once.</li>
 *   <li>{@code --once}: stop when vpcd closes the link instead of reconnecting (tests).</li>
 *   <li>{@code --install-params}: print the applet's install parameters for this card (hex,
 *       for {@code gp --params}) and exit; they hold the card's secrets.</li>
 *   <li>Standard input is a control input: a line {@code pull} takes the card out of its
 *       reader (power lost, memory kept), {@code insert} puts it back, {@code tray SERIAL} puts the
 *       issued card SERIAL from the output tray into the reader (the card there goes to the
 *       tray if issued, else back on top of the stack) and keeps it there when let go.</li>
 * </ul>
 *
 * <p>The card's persistent state lives in this process: power off and reset keep it (a reset
 * clears only the session, as on a real card), a new process starts from the blank file again.
 * Exit codes as `melli card serve`: 0 stopped, 2 bad input (one line on stderr), 3 card error.
 */
public final class Main {
    static final int BAD_INPUT = 2;
    static final int CARD_ERROR = 3;
    static final String USAGE =
            "usage: melli-javacard --card FILE [--card FILE]… [--eject-issued] [--vpcd HOST:PORT] [--tear-at K]"
            + " [--once] [--install-params]";

    private Main() {
    }

    public static void main(String[] args) {
        System.exit(run(args));
    }

    static int run(String[] args) {
        java.util.List<String> cards = new java.util.ArrayList<>();
        boolean ejectIssued = false;
        String vpcd = "127.0.0.1:35963";
        boolean once = false;
        long tearAt = 0;
        boolean printParams = false;
        for (int i = 0; i < args.length; i++) {
            String a = args[i];
            switch (a) {
                case "--card", "--vpcd" -> {
                    if (i + 1 >= args.length) {
                        return fail(BAD_INPUT, a + " needs a value; " + USAGE);
                    }
                    if (a.equals("--card")) {
                        cards.add(args[++i]);
                    } else {
                        vpcd = args[++i];
                    }
                }
                case "--once" -> once = true;
                case "--eject-issued" -> ejectIssued = true;
                case "--install-params" -> printParams = true;
                case "--tear-at" -> {
                    try {
                        tearAt = Long.parseLong(i + 1 < args.length ? args[++i] : "");
                    } catch (NumberFormatException e) {
                        tearAt = -1;
                    }
                    if (tearAt < 1) {
                        return fail(BAD_INPUT, "--tear-at needs a command count of 1 or more; " + USAGE);
                    }
                }
                case "-h", "--help" -> {
                    System.out.println(USAGE);
                    return 0;
                }
                default -> {
                    return fail(BAD_INPUT, "unknown argument " + a + "; " + USAGE);
                }
            }
        }
        if (cards.isEmpty()) {
            return fail(BAD_INPUT, "give --card FILE (a blank card from melli card new); " + USAGE);
        }
        if (printParams && cards.size() > 1) {
            return fail(BAD_INPUT, "--install-params is for one card: give one --card FILE");
        }
        String[] hostPort = splitAddress(vpcd);
        if (hostPort == null) {
            return fail(BAD_INPUT, "--vpcd " + vpcd + ": expected HOST:PORT with a port of 1 to 65535");
        }
        java.util.List<BlankCard> blanks = new java.util.ArrayList<>();
        java.util.Set<String> serials = new java.util.HashSet<>();
        for (String card : cards) {
            try {
                BlankCard blank = BlankCard.read(Path.of(card));
                if (!serials.add(blank.serial)) {
                    return fail(BAD_INPUT, "card state " + card + ": serial " + blank.serial
                            + " is in the stack twice; give each card once");
                }
                blanks.add(blank);
            } catch (BlankCard.Refused e) {
                return fail(BAD_INPUT, e.getMessage());
            }
        }
        BlankCard blank = blanks.get(0);
        if (printParams) {
            // For a physical card: `gp --install melli.cap --params <this>` (secrets: K_enc,
            // K_mac and the device secret are in it).
            byte[] data = blank.installData();
            System.out.println(java.util.HexFormat.of().withUpperCase().formatHex(data, 3, data.length));
            return 0;
        }
        java.util.List<JavaCard> stack = new java.util.ArrayList<>();
        for (BlankCard b : blanks) {
            try {
                stack.add(new JavaCard(b));
            } catch (RuntimeException e) {
                return fail(CARD_ERROR, "the applet did not install on card " + b.serial + ": " + e);
            }
        }
        if (stack.size() == 1) {
            System.err.println("melli-javacard: card " + blank.serial
                    + " (Java Card applet in jCardSim) serving vpcd at " + vpcd
                    + (ejectIssued ? "; leaves the reader once issued and let go" : "") + "; stop with Ctrl-C");
        } else {
            System.err.println("melli-javacard: a stack of " + stack.size() + " cards (" + blank.serial + " to "
                    + blanks.get(blanks.size() - 1).serial + ", Java Card applet in jCardSim) feeding vpcd at "
                    + vpcd + (ejectIssued ? "; each leaves the reader once issued and let go" : "")
                    + "; stop with Ctrl-C");
        }
        try {
            VpcdLink link = new VpcdLink(stack, ejectIssued, hostPort[0], Integer.parseInt(hostPort[1]), once,
                    tearAt);
            link.listen(System.in);
            link.serve();
        } catch (RuntimeException e) {
            return fail(CARD_ERROR, "card stopped: " + e);
        }
        return 0;
    }

    static int fail(int code, String message) {
        System.err.println("melli-javacard: " + message.replace('\n', ' '));
        return code;
    }

    /** HOST:PORT (IPv6 in brackets), or null. */
    static String[] splitAddress(String address) {
        int colon = address.lastIndexOf(':');
        if (colon <= 0 || colon == address.length() - 1) {
            return null;
        }
        String host = address.substring(0, colon);
        if (host.startsWith("[") && host.endsWith("]")) {
            host = host.substring(1, host.length() - 1);
        }
        try {
            int port = Integer.parseInt(address.substring(colon + 1));
            if (port < 1 || port > 65535) {
                return null;
            }
        } catch (NumberFormatException e) {
            return null;
        }
        return new String[] {host, address.substring(colon + 1)};
    }

    /**
     * The applet installed in jCardSim, with the §3 ATR and a real card's power behaviour. Its
     * methods are synchronized: the control input may look at a card the link is serving.
     */
    static class JavaCard {
        /** Spec §3. */
        static final byte[] ATR = java.util.HexFormat.of().parseHex("3B8B800180739001C0554D454C4C49BC");
        /** Spec §7: the lifecycle byte of an issued card (GET DATA DF02); TERMINATED is 0C. */
        static final int OPERATIONAL = 0x05;

        final String serial;
        private final MelliRuntime runtime = new MelliRuntime();
        private final Simulator simulator = new Simulator(runtime);

        JavaCard(BlankCard blank) {
            serial = blank.serial;
            AID aid = AIDUtil.create("F04D454C4C4901");
            byte[] params = blank.installData();
            simulator.installApplet(aid, MelliApplet.class, params, (short) 0, (byte) params.length);
            runtime.setDefaultApplet(aid);
        }

        byte[] atr() {
            return ATR.clone();
        }

        /** Power off, power on and reset: the session (RAM) is lost, persistent state kept. */
        synchronized void reset() {
            simulator.reset();
        }

        synchronized byte[] process(byte[] apdu) {
            return Gate.transmit(simulator::transmitCommand, apdu);
        }

        /**
         * The lifecycle byte (spec §7), asked as a host would (SELECT, GET DATA DF02, plain in
         * every state) between two resets: call it only when the session is over anyway (power
         * off, reset, out of the reader). -1 if the card does not say.
         */
        synchronized int lifecycle() {
            simulator.reset();
            try {
                byte[] select = process(java.util.HexFormat.of().parseHex("00A4040C07F04D454C4C4901"));
                byte[] answer = process(java.util.HexFormat.of().parseHex("00CADF0200"));
                boolean ok = select.length == 2 && select[0] == (byte) 0x90 && answer.length == 3
                        && answer[1] == (byte) 0x90 && answer[2] == 0;
                return ok ? answer[0] & 0xFF : -1;
            } finally {
                simulator.reset();
            }
        }

        /**
         * Issued: OPERATIONAL or later (the Rust feeder's rule, `lifecycle >= OPERATIONAL`).
         * Tests override it to stand for a personalization.
         */
        boolean issued() {
            return lifecycle() >= OPERATIONAL;
        }
    }
}
