package ir.melli.sim;

import java.io.DataInputStream;
import java.io.EOFException;
import java.io.IOException;
import java.io.OutputStream;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.net.SocketOption;
import java.util.ArrayDeque;
import java.util.Deque;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * vpcd's protocol, the card as TCP client (shared/TEST-ENVIRONMENT.md): every message a 2-byte
 * big-endian length and its bytes; from vpcd a 1-byte message is a control (00 power off,
 * 01 power on, 02 reset, 04 ATR), anything longer a command APDU. Like the Rust card's
 * vpcd.rs: TCP_NODELAY, TCP_QUICKACK armed again before every read (it is not sticky on
 * Linux), and a new connection every 150 ms while vpcd is away or after it dropped the link.
 */
/**
 * vpcd's protocol, the card as TCP client (shared/TEST-ENVIRONMENT.md): every message a 2-byte
 * big-endian length and its bytes; from vpcd a 1-byte message is a control (00 power off,
 * 01 power on, 02 reset, 04 ATR), anything longer a command APDU. Like the Rust card's
 * vpcd.rs: TCP_NODELAY, TCP_QUICKACK armed again before every read (it is not sticky on
 * Linux), and a new connection every 150 ms while vpcd is away or after it dropped the link.
 *
 * <p>The link serves a stack of cards, like the Rust card feeder (crates/melli-card/src/
 * feeder.rs): the first card is in the reader; with {@code ejectIssued}, a card that is issued
 * (lifecycle OPERATIONAL or later) when vpcd powers it off or resets it — the host has let go
 * of it — leaves the reader (the link is closed) for the output tray, and after a gap of
 * {@value #FEED_GAP_MS} ms (more than pcscd's 400 ms look at a vpcd reader) the next card of
 * the stack goes in. Every card keeps its memory for the life of the process; the control
 * input's {@code tray SERIAL} brings an issued card back.
 */
final class VpcdLink {
    private static final int RETRY_MS = 150;
    private static final int CONNECT_TIMEOUT_MS = 1000;

    private static final int REINSERT_AFTER_MS = 1000;
    /** How long the reader stays empty between two cards (the Rust feeder's demo gap). */
    static final int FEED_GAP_MS = 500;
    /** What run() returns when an issued card leaves the reader. */
    private static final String EJECTED = "ejected";

    private final String host;
    private final int port;
    private final boolean once;
    private final boolean ejectIssued;
    private final SocketOption<Boolean> quickAck = quickAckOption();
    /** Every card of the stack, in order (for the "n of N" of the log). */
    private final List<Main.JavaCard> all;
    /** The cards not served yet (a card taken out unissued goes back on top). */
    private final Deque<Main.JavaCard> stack;
    /** Issued cards taken out of the reader, by serial. */
    private final Map<String, Main.JavaCard> tray = new LinkedHashMap<>();
    /** The card in the reader; null when the stack is empty. */
    private Main.JavaCard card;
    /** The card in the reader came from the tray: it stays when let go. */
    private boolean keep;
    private int issued;
    /** Pull the card after this command APDU (from 1, across reconnections), once; 0 never. */
    private long tearAt;
    private long commands;
    /** False while the control input has pulled the card out of its reader. */
    private boolean inserted = true;
    private Socket current;

    /** One card, never ejected (the launcher with a single --card). */
    VpcdLink(Main.JavaCard card, String host, int port, boolean once, long tearAt) {
        this(List.of(card), false, host, port, once, tearAt);
    }

    VpcdLink(List<Main.JavaCard> cards, boolean ejectIssued, String host, int port, boolean once, long tearAt) {
        if (cards.isEmpty()) {
            throw new IllegalArgumentException("no card");
        }
        this.all = List.copyOf(cards);
        this.stack = new ArrayDeque<>(cards);
        this.ejectIssued = ejectIssued;
        this.host = host;
        this.port = port;
        this.once = once;
        this.tearAt = tearAt;
        this.card = stack.poll();
        if (all.size() > 1) {
            logFeeder("card " + card.serial + " (1 of " + all.size() + ") into the reader");
        }
    }

    /**
     * The control input (standard input), one command a line: `pull` takes the card out of its
     * reader (the link to vpcd is closed: a power loss for the card, whose persistent memory
     * stays in this process), `insert` puts it back (the link is opened again), `tray SERIAL`
     * puts the issued card SERIAL from the output tray into the reader. Other lines are logged
     * and ignored; the end of the input changes nothing.
     */
    void listen(java.io.InputStream control) {
        Thread reader = new Thread(() -> {
            try (java.io.BufferedReader lines = new java.io.BufferedReader(
                    new java.io.InputStreamReader(control, java.nio.charset.StandardCharsets.UTF_8))) {
                String line;
                while ((line = lines.readLine()) != null) {
                    String[] words = line.trim().split("\\s+");
                    switch (words[0]) {
                        case "pull" -> pull();
                        case "insert" -> insert();
                        case "tray" -> {
                            if (words.length == 2) {
                                fromTray(words[1]);
                            } else {
                                logFeeder("ignored control input line: " + line.trim() + " (expected tray SERIAL)");
                            }
                        }
                        case "" -> { }
                        default -> logFeeder("ignored control input line: " + line.trim());
                    }
                }
            } catch (IOException e) {
                // no control input
            }
        }, "control input");
        reader.setDaemon(true);
        reader.start();
    }

    /** Takes the card out: the link to vpcd is closed before the line is logged, so that a
     *  test that waits for the line knows the card is gone. */
    private synchronized void pull() {
        inserted = false;
        closeCurrent();
        if (card != null) {
            log(card, "card out of the reader (control input: pull)");
        } else {
            logFeeder("card out of the reader (control input: pull)");
        }
    }

    private synchronized void insert() {
        inserted = true;
        if (card != null) {
            log(card, "card back in the reader (control input: insert)");
        }
        notifyAll();
    }

    /**
     * `tray SERIAL`: the card in the reader is taken out (to the tray if issued, else back on
     * top of the stack) and the issued card SERIAL goes in from the tray, to stay when let go.
     */
    synchronized void fromTray(String serial) {
        if (card != null && card.serial.equals(serial)) {
            logFeeder("card " + serial + " is in the reader already (control input: tray " + serial + ")");
            keep = true;
            inserted = true;
            notifyAll();
            return;
        }
        Main.JavaCard wanted = tray.remove(serial);
        if (wanted == null) {
            logFeeder("no card " + serial + " in the output tray; ignored (control input: tray " + serial + ")");
            return;
        }
        closeCurrent();
        if (card != null) {
            if (card.issued()) {
                tray.put(card.serial, card);
                log(card, "out of the reader to the output tray (control input: tray " + serial + ")");
            } else {
                stack.push(card);
                log(card, "out of the reader, back on top of the stack (control input: tray " + serial + ")");
            }
        }
        card = wanted;
        keep = true;
        inserted = true;
        logFeeder("card " + serial + " from the output tray into the reader (control input: tray " + serial + ")");
        notifyAll();
    }

    /** Serials of the cards in the output tray, in the order they came out. */
    synchronized List<String> traySerials() {
        return List.copyOf(tray.keySet());
    }

    private void closeCurrent() {
        if (current != null) {
            try {
                current.close();
            } catch (IOException e) {
                // closed anyway
            }
        }
    }

    /** The card to serve, once the reader has one and it is inserted. */
    private synchronized Main.JavaCard waitForCard() throws InterruptedException {
        while (!inserted || card == null) {
            wait();
        }
        return card;
    }

    private synchronized Main.JavaCard inReader() {
        return card;
    }

    private synchronized boolean attach(Socket socket, Main.JavaCard served) {
        if (!inserted || card != served) {
            return false;
        }
        current = socket;
        return true;
    }

    /** Whether the card leaves the reader now that the host let go of it (vpcd.rs leaves()). */
    private boolean leaves(Main.JavaCard served) {
        synchronized (this) {
            if (!ejectIssued || keep || card != served) {
                return false;
            }
        }
        return served.issued();
    }

    /** The issued card `served` left: to the tray, and the next card of the stack in. */
    private synchronized void ejected(Main.JavaCard served) {
        if (card != served) {
            return;
        }
        tray.put(served.serial, served);
        issued++;
        card = stack.poll();
        if (card != null) {
            logFeeder("card " + card.serial + " (" + (all.indexOf(card) + 1) + " of " + all.size()
                    + ") into the reader");
        } else {
            logFeeder("stack empty: " + issued + " issued");
        }
    }

    @SuppressWarnings("unchecked")
    private static SocketOption<Boolean> quickAckOption() {
        try {
            Class<?> options = Class.forName("jdk.net.ExtendedSocketOptions");
            return (SocketOption<Boolean>) options.getField("TCP_QUICKACK").get(null);
        } catch (ReflectiveOperationException e) {
            return null;
        }
    }

    /** A line about one card, as the Rust feeder's "card SERIAL: …". */
    private static void log(Main.JavaCard about, String line) {
        System.err.println("card " + about.serial + ": " + line);
    }

    /** A line about the stack or the tray. */
    private static void logFeeder(String line) {
        System.err.println(line);
    }

    void serve() {
        boolean toldUnreachable = false;
        while (true) {
            Main.JavaCard served;
            try {
                served = waitForCard();
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                return;
            }
            int pause = RETRY_MS;
            try (Socket socket = new Socket()) {
                socket.connect(new InetSocketAddress(host, port), CONNECT_TIMEOUT_MS);
                if (!attach(socket, served)) {
                    continue;
                }
                toldUnreachable = false;
                log(served, "connected to vpcd at " + socket.getRemoteSocketAddress());
                socket.setTcpNoDelay(true);
                String end = run(socket, served);
                synchronized (this) {
                    current = null;
                }
                served.reset();
                if (end.startsWith("pulled ")) {
                    log(served, "card pulled after command APDU " + end.substring(7)
                            + " (its answer not sent); reinserting in " + REINSERT_AFTER_MS + " ms");
                    // Then the usual pause before connecting, as the Rust card's loop does.
                    sleep(REINSERT_AFTER_MS);
                } else if (end.equals(EJECTED)) {
                    if (once) {
                        return;
                    }
                } else {
                    log(served, "disconnected from vpcd: " + end);
                    if (once) {
                        return;
                    }
                }
            } catch (IOException e) {
                if (!toldUnreachable) {
                    log(served, "vpcd at " + host + ":" + port + " not reachable (" + e.getMessage()
                            + "); retrying every " + RETRY_MS + " ms");
                    toldUnreachable = true;
                }
                if (once) {
                    return;
                }
            }
            if (inReader() != served) {
                // Another card goes in: the reader stays empty long enough for pcscd to see it.
                pause = FEED_GAP_MS;
            }
            try {
                Thread.sleep(pause);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                return;
            }
        }
    }

    private String run(Socket socket, Main.JavaCard served) throws IOException {
        DataInputStream in = new DataInputStream(socket.getInputStream());
        OutputStream out = socket.getOutputStream();
        while (true) {
            armQuickAck(socket);
            int length;
            byte[] message;
            try {
                length = in.readUnsignedShort();
                message = new byte[length];
                in.readFully(message);
            } catch (EOFException e) {
                return "connection closed";
            } catch (IOException e) {
                return e.getMessage();
            }
            byte[] reply = answer(served, message);
            if (message.length == 1 && (message[0] == 0x00 || message[0] == 0x02) && leaves(served)) {
                // To the tray before the link closes: whoever sees the card gone finds it there.
                log(served, "issued and let go by the host: out of the reader");
                ejected(served);
                return EJECTED;
            }
            if (message.length > 1) {
                commands++;
                if (commands == tearAt) {
                    tearAt = 0;
                    return "pulled " + commands;
                }
            }
            if (reply != null) {
                byte[] framed = new byte[reply.length + 2];
                framed[0] = (byte) (reply.length >> 8);
                framed[1] = (byte) reply.length;
                System.arraycopy(reply, 0, framed, 2, reply.length);
                out.write(framed);
                out.flush();
            }
        }
    }

    private static void sleep(int ms) {
        try {
            Thread.sleep(ms);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }

    private void armQuickAck(Socket socket) {
        if (quickAck != null) {
            try {
                socket.setOption(quickAck, true);
            } catch (IOException | UnsupportedOperationException e) {
                // not on this system: only slower
            }
        }
    }

    private byte[] answer(Main.JavaCard card, byte[] message) {
        if (message.length == 0) {
            return null;
        }
        if (message.length == 1) {
            switch (message[0]) {
                case 0x00 -> {
                    card.reset();
                    log(card, "power off");
                }
                case 0x01 -> {
                    card.reset();
                    log(card, "power on");
                }
                case 0x02 -> {
                    card.reset();
                    log(card, "reset");
                }
                case 0x04 -> {
                    return card.atr();
                }
                default -> log(card, String.format("ignored unknown vpcd control byte %02X", message[0]));
            }
            return null;
        }
        long start = System.nanoTime();
        byte[] response = card.process(message);
        if (TRACE) {
            log(card, String.format("APDU %s -> %s (%d ms)", hexHead(message), hexTail(response),
                    (System.nanoTime() - start) / 1_000_000));
        }
        return response;
    }

    /** MELLI_JAVACARD_TRACE=1: one log line per APDU (header and status word, no data). */
    private static final boolean TRACE = "1".equals(System.getenv("MELLI_JAVACARD_TRACE"));

    private static String hexHead(byte[] b) {
        return java.util.HexFormat.of().withUpperCase().formatHex(b, 0, Math.min(4, b.length))
                + " (" + b.length + " bytes)";
    }

    private static String hexTail(byte[] b) {
        return java.util.HexFormat.of().withUpperCase().formatHex(b, Math.max(0, b.length - 2), b.length);
    }
}
