package ir.melli.sim;

import static ir.melli.sim.VpcdFrames.receive;
import static ir.melli.sim.VpcdFrames.send;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.DataInputStream;
import java.io.IOException;
import java.io.OutputStream;
import java.io.PipedInputStream;
import java.io.PipedOutputStream;
import java.net.ServerSocket;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.HexFormat;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The launcher as a card feeder (--card … --eject-issued): a stack of two blank cards
 * (src/test/resources/blank-card.json, MELLI0000000001, and blank-card-2.json,
 * MELLI0000000002, both of `melli card new` with the test master key 4D…4D) in front of a fake
 * vpcd; an issued card leaves when the host lets go of it, and `tray SERIAL` brings it back.
 * A personalization is stood for by a card that says it is issued once {@code issue()} is
 * called: what is tested here is the stack and the tray, not the applet.
 */
class StackTest {
    private static final String SELECT = "00A4040C07F04D454C4C4901";
    private static final String GET_SERIAL = "00CADF0100";

    @TempDir
    Path dir;

    /** A Java card that is issued when the test says so. */
    static final class Card extends Main.JavaCard {
        volatile boolean issued;

        Card(BlankCard blank) {
            super(blank);
        }

        @Override
        boolean issued() {
            return issued;
        }
    }

    private Card card(String resource) throws Exception {
        Path file = dir.resolve(resource);
        Files.copy(Path.of("src/test/resources", resource), file);
        Files.setPosixFilePermissions(file, PosixFilePermissions.fromString("rw-------"));
        return new Card(BlankCard.read(file));
    }

    private static String serialAnswer(String serial) {
        return HexFormat.of().withUpperCase().formatHex(serial.getBytes(StandardCharsets.US_ASCII)) + "9000";
    }

    /** One vpcd connection: the card in the reader. */
    private record Link(Socket socket, DataInputStream in, OutputStream out) implements AutoCloseable {
        static Link accept(ServerSocket vpcd) throws IOException {
            Socket s = vpcd.accept();
            s.setSoTimeout(10000);
            return new Link(s, new DataInputStream(s.getInputStream()), s.getOutputStream());
        }

        String serial() throws IOException {
            send(out, "01");
            send(out, SELECT);
            assertEquals("9000", receive(in));
            send(out, GET_SERIAL);
            return receive(in);
        }

        @Override
        public void close() throws IOException {
            socket.close();
        }
    }

    private static VpcdLink start(List<Main.JavaCard> cards, boolean eject, ServerSocket vpcd,
            PipedOutputStream control) throws IOException {
        VpcdLink link = new VpcdLink(cards, eject, "127.0.0.1", vpcd.getLocalPort(), false, 0);
        link.listen(new PipedInputStream(control));
        Thread t = new Thread(link::serve);
        t.setDaemon(true);
        t.start();
        return link;
    }

    private static void control(PipedOutputStream control, String line) throws IOException {
        control.write((line + "\n").getBytes(StandardCharsets.US_ASCII));
        control.flush();
    }

    @Test
    void anIssuedCardLeavesWhenLetGoAndTheNextGoesIn() throws Exception {
        Card first = card("blank-card.json");
        Card second = card("blank-card-2.json");
        try (ServerSocket vpcd = new ServerSocket(0); PipedOutputStream control = new PipedOutputStream()) {
            vpcd.setSoTimeout(10000);
            VpcdLink link = start(List.of(first, second), true, vpcd, control);
            try (Link l = Link.accept(vpcd)) {
                assertEquals(serialAnswer("MELLI0000000001"), l.serial());
                send(l.out, "02");
                send(l.out, "00");
                send(l.out, "01");
                send(l.out, SELECT);
                assertEquals("9000", receive(l.in), "not issued: stays through a reset and a power off");
                first.issued = true;
                send(l.out, SELECT);
                assertEquals("9000", receive(l.in), "issued but held by the host: stays");
                send(l.out, "00");
                assertEquals(-1, l.in.read(), "issued and powered off: out of the reader");
            }
            assertEquals(List.of("MELLI0000000001"), link.traySerials());
            long out = System.nanoTime();
            try (Link l = Link.accept(vpcd)) {
                assertTrue((System.nanoTime() - out) / 1_000_000 >= VpcdLink.FEED_GAP_MS - 50,
                        "the reader stays empty between two cards");
                assertEquals(serialAnswer("MELLI0000000002"), l.serial(), "the next card of the stack");
                second.issued = true;
                send(l.out, "02");
                assertEquals(-1, l.in.read(), "issued and reset: out of the reader too");
            }
            assertEquals(List.of("MELLI0000000001", "MELLI0000000002"), link.traySerials());
            // The stack is empty: the reader stays empty until the tray gives a card back.
            vpcd.setSoTimeout(1500);
            org.junit.jupiter.api.Assertions.assertThrows(java.net.SocketTimeoutException.class, vpcd::accept);
            vpcd.setSoTimeout(10000);
            control(control, "tray MELLI0000000001");
            try (Link l = Link.accept(vpcd)) {
                assertEquals(serialAnswer("MELLI0000000001"), l.serial(), "back from the tray, memory kept");
                send(l.out, "00");
                send(l.out, "01");
                send(l.out, "02");
                send(l.out, SELECT);
                assertEquals("9000", receive(l.in), "a card from the tray stays when let go");
            }
            assertEquals(List.of("MELLI0000000002"), link.traySerials());
        }
    }

    @Test
    void trayTakesOutTheCardInTheReaderFirst() throws Exception {
        Card first = card("blank-card.json");
        Card second = card("blank-card-2.json");
        try (ServerSocket vpcd = new ServerSocket(0); PipedOutputStream control = new PipedOutputStream()) {
            vpcd.setSoTimeout(10000);
            VpcdLink link = start(List.of(first, second), true, vpcd, control);
            try (Link l = Link.accept(vpcd)) {
                first.issued = true;
                send(l.out, "00");
                assertEquals(-1, l.in.read());
            }
            try (Link l = Link.accept(vpcd)) {
                assertEquals(serialAnswer("MELLI0000000002"), l.serial());
                control(control, "tray NOSUCHCARD");
                control(control, "tray MELLI0000000001");
                assertEquals(-1, l.in.read(), "the blank card is taken out for the tray's card");
            }
            try (Link l = Link.accept(vpcd)) {
                assertEquals(serialAnswer("MELLI0000000001"), l.serial());
                assertEquals(List.of(), link.traySerials(), "the blank went back on the stack, not the tray");
                control(control, "tray MELLI0000000001");
                control(control, "pull");
                assertEquals(-1, l.in.read(), "pull still takes the card out");
            }
            control(control, "insert");
            try (Link l = Link.accept(vpcd)) {
                assertEquals(serialAnswer("MELLI0000000001"), l.serial());
            }
        }
    }

    @Test
    void aRealBlankCardSaysItIsNotIssued() throws Exception {
        Path file = dir.resolve("card.json");
        Files.copy(Path.of("src/test/resources/blank-card.json"), file);
        Files.setPosixFilePermissions(file, PosixFilePermissions.fromString("rw-------"));
        Main.JavaCard blank = new Main.JavaCard(BlankCard.read(file));
        assertEquals(0x01, blank.lifecycle());
        assertTrue(!blank.issued());
        assertEquals("6985", HexFormat.of().withUpperCase().formatHex(
                blank.process(HexFormat.of().parseHex("00CADF0200"))), "the probe leaves no session behind");
    }

    @Test
    void aStackWithTheSameSerialTwiceIsBadInput() throws Exception {
        Path a = dir.resolve("a.json");
        Path b = dir.resolve("b.json");
        for (Path p : List.of(a, b)) {
            Files.copy(Path.of("src/test/resources/blank-card.json"), p);
            Files.setPosixFilePermissions(p, PosixFilePermissions.fromString("rw-------"));
        }
        assertEquals(2, Main.run(new String[] {"--card", a.toString(), "--card", b.toString(), "--eject-issued"}));
        assertEquals(2, Main.run(new String[] {"--card", a.toString(), "--card", b.toString(), "--install-params"}));
    }
}
