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
 * java -cp … ir.melli.sim.Main --card FILE [--vpcd HOST:PORT] [--tear-at K] [--once]
 * </pre>
 *
 * <ul>
 *   <li>{@code --card FILE}: a blank card made by {@code melli card new}; its serial, K_enc,
 *       K_mac and device secret become the applet's install parameters.</li>
 *   <li>{@code --vpcd HOST:PORT}: where vpcd listens (default 127.0.0.1:35963).</li>
 *   <li>{@code --tear-at K}: testing, as {@code melli card serve --tear-at}: after command APDU
 *       K (counted from 1 across reconnections) the link is dropped without the answer, the
 *       card is out for a second, then connects again. Once.</li>
 *   <li>{@code --once}: stop when vpcd closes the link instead of reconnecting (tests).</li>
 *   <li>{@code --install-params}: print the applet's install parameters for this card (hex,
 *       for {@code gp --params}) and exit; they hold the card's secrets.</li>
 *   <li>Standard input is a control input: a line {@code pull} takes the card out of its
 *       reader (power lost, memory kept), {@code insert} puts it back.</li>
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
            "usage: melli-javacard --card FILE [--vpcd HOST:PORT] [--tear-at K] [--once] [--install-params]";

    private Main() {
    }

    public static void main(String[] args) {
        System.exit(run(args));
    }

    static int run(String[] args) {
        String card = null;
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
                        card = args[++i];
                    } else {
                        vpcd = args[++i];
                    }
                }
                case "--once" -> once = true;
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
        if (card == null) {
            return fail(BAD_INPUT, "give --card FILE (a blank card from melli card new); " + USAGE);
        }
        String[] hostPort = splitAddress(vpcd);
        if (hostPort == null) {
            return fail(BAD_INPUT, "--vpcd " + vpcd + ": expected HOST:PORT with a port of 1 to 65535");
        }
        BlankCard blank;
        try {
            blank = BlankCard.read(Path.of(card));
        } catch (BlankCard.Refused e) {
            return fail(BAD_INPUT, e.getMessage());
        }
        if (printParams) {
            // For a physical card: `gp --install melli.cap --params <this>` (secrets: K_enc,
            // K_mac and the device secret are in it).
            byte[] data = blank.installData();
            System.out.println(java.util.HexFormat.of().withUpperCase().formatHex(data, 3, data.length));
            return 0;
        }
        JavaCard javaCard;
        try {
            javaCard = new JavaCard(blank);
        } catch (RuntimeException e) {
            return fail(CARD_ERROR, "the applet did not install: " + e);
        }
        System.err.println("melli-javacard: card " + blank.serial + " (Java Card applet in jCardSim) serving vpcd at "
                + vpcd + "; stop with Ctrl-C");
        try {
            VpcdLink link = new VpcdLink(javaCard, hostPort[0], Integer.parseInt(hostPort[1]), once, tearAt);
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

    /** The applet installed in jCardSim, with the §3 ATR and a real card's power behaviour. */
    static final class JavaCard {
        /** Spec §3. */
        static final byte[] ATR = java.util.HexFormat.of().parseHex("3B8B800180739001C0554D454C4C49BC");

        private final MelliRuntime runtime = new MelliRuntime();
        private final Simulator simulator = new Simulator(runtime);

        JavaCard(BlankCard blank) {
            AID aid = AIDUtil.create("F04D454C4C4901");
            byte[] params = blank.installData();
            simulator.installApplet(aid, MelliApplet.class, params, (short) 0, (byte) params.length);
            runtime.setDefaultApplet(aid);
        }

        byte[] atr() {
            return ATR.clone();
        }

        /** Power off, power on and reset: the session (RAM) is lost, persistent state kept. */
        void reset() {
            simulator.reset();
        }

        byte[] process(byte[] apdu) {
            return Gate.transmit(simulator::transmitCommand, apdu);
        }
    }
}
