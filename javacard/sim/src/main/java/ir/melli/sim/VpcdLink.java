package ir.melli.sim;

import java.io.DataInputStream;
import java.io.EOFException;
import java.io.IOException;
import java.io.OutputStream;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.net.SocketOption;

/**
 * vpcd's protocol, the card as TCP client (shared/TEST-ENVIRONMENT.md): every message a 2-byte
 * big-endian length and its bytes; from vpcd a 1-byte message is a control (00 power off,
 * 01 power on, 02 reset, 04 ATR), anything longer a command APDU. Like the Rust card's
 * vpcd.rs: TCP_NODELAY, TCP_QUICKACK armed again before every read (it is not sticky on
 * Linux), and a new connection every 150 ms while vpcd is away or after it dropped the link.
 */
final class VpcdLink {
    private static final int RETRY_MS = 150;
    private static final int CONNECT_TIMEOUT_MS = 1000;

    private static final int REINSERT_AFTER_MS = 1000;

    private final Main.JavaCard card;
    private final String host;
    private final int port;
    private final boolean once;
    private final SocketOption<Boolean> quickAck = quickAckOption();
    /** Pull the card after this command APDU (from 1, across reconnections), once; 0 never. */
    private long tearAt;
    private long commands;
    /** False while the control input has pulled the card out of its reader. */
    private boolean inserted = true;
    private Socket current;

    VpcdLink(Main.JavaCard card, String host, int port, boolean once, long tearAt) {
        this.card = card;
        this.host = host;
        this.port = port;
        this.once = once;
        this.tearAt = tearAt;
    }

    /**
     * The control input (standard input), one word a line: `pull` takes the card out of its
     * reader (the link to vpcd is closed: a power loss for the card, whose persistent memory
     * stays in this process), `insert` puts it back (the link is opened again). Other lines are
     * logged and ignored; the end of the input changes nothing.
     */
    void listen(java.io.InputStream control) {
        Thread reader = new Thread(() -> {
            try (java.io.BufferedReader lines = new java.io.BufferedReader(
                    new java.io.InputStreamReader(control, java.nio.charset.StandardCharsets.UTF_8))) {
                String line;
                while ((line = lines.readLine()) != null) {
                    switch (line.trim()) {
                        case "pull" -> pull();
                        case "insert" -> insert();
                        case "" -> { }
                        default -> log("ignored control input line: " + line.trim());
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
        if (current != null) {
            try {
                current.close();
            } catch (IOException e) {
                // closed anyway
            }
        }
        log("card out of the reader (control input: pull)");
    }

    private synchronized void insert() {
        inserted = true;
        log("card back in the reader (control input: insert)");
        notifyAll();
    }

    private synchronized void waitInserted() throws InterruptedException {
        while (!inserted) {
            wait();
        }
    }

    private synchronized boolean attach(Socket socket) {
        if (!inserted) {
            return false;
        }
        current = socket;
        return true;
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

    private static void log(String line) {
        System.err.println("card: " + line);
    }

    void serve() {
        boolean toldUnreachable = false;
        while (true) {
            try {
                waitInserted();
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                return;
            }
            try (Socket socket = new Socket()) {
                socket.connect(new InetSocketAddress(host, port), CONNECT_TIMEOUT_MS);
                if (!attach(socket)) {
                    continue;
                }
                toldUnreachable = false;
                log("connected to vpcd at " + socket.getRemoteSocketAddress());
                socket.setTcpNoDelay(true);
                String end = run(socket);
                synchronized (this) {
                    current = null;
                }
                card.reset();
                if (end.startsWith("pulled ")) {
                    log("card pulled after command APDU " + end.substring(7)
                            + " (its answer not sent); reinserting in " + REINSERT_AFTER_MS + " ms");
                    // Then the usual pause before connecting, as the Rust card's loop does.
                    sleep(REINSERT_AFTER_MS);
                } else {
                    log("disconnected from vpcd: " + end);
                    if (once) {
                        return;
                    }
                }
            } catch (IOException e) {
                if (!toldUnreachable) {
                    log("vpcd at " + host + ":" + port + " not reachable (" + e.getMessage()
                            + "); retrying every " + RETRY_MS + " ms");
                    toldUnreachable = true;
                }
                if (once) {
                    return;
                }
            }
            try {
                Thread.sleep(RETRY_MS);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                return;
            }
        }
    }

    private String run(Socket socket) throws IOException {
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
            byte[] reply = answer(message);
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

    private byte[] answer(byte[] message) {
        if (message.length == 0) {
            return null;
        }
        if (message.length == 1) {
            switch (message[0]) {
                case 0x00 -> {
                    card.reset();
                    log("power off");
                }
                case 0x01 -> {
                    card.reset();
                    log("power on");
                }
                case 0x02 -> {
                    card.reset();
                    log("reset");
                }
                case 0x04 -> {
                    return card.atr();
                }
                default -> log(String.format("ignored unknown vpcd control byte %02X", message[0]));
            }
            return null;
        }
        long start = System.nanoTime();
        byte[] response = card.process(message);
        if (TRACE) {
            log(String.format("APDU %s -> %s (%d ms)", hexHead(message), hexTail(response),
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
