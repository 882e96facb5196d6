package ir.melli.sim;

import static ir.melli.sim.VpcdFrames.receive;
import static ir.melli.sim.VpcdFrames.send;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.DataInputStream;
import java.io.IOException;
import java.io.OutputStream;
import java.net.ServerSocket;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.HexFormat;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The launcher: a blank card file of `melli card new` (src/test/resources/blank-card.json,
 * serial MELLI0000000001, made with the test master key 4D…4D) becomes a Java card, which
 * answers a fake vpcd over TCP as the protocol says.
 */
class LauncherTest {
    @TempDir
    Path dir;

    private Path blankFile() throws IOException {
        Path file = dir.resolve("card.json");
        Files.copy(Path.of("src/test/resources/blank-card.json"), file);
        Files.setPosixFilePermissions(file, PosixFilePermissions.fromString("rw-------"));
        return file;
    }

    @Test
    void aBlankCardFileServesVpcd() throws Exception {
        Path file = blankFile();
        try (ServerSocket vpcd = new ServerSocket(0)) {
            int port = vpcd.getLocalPort();
            int[] code = {-1};
            Thread card = new Thread(() -> code[0] = Main.run(new String[] {
                "--card", file.toString(), "--vpcd", "127.0.0.1:" + port, "--once"}));
            card.start();
            vpcd.setSoTimeout(10000);
            try (Socket s = vpcd.accept()) {
                s.setSoTimeout(10000);
                DataInputStream in = new DataInputStream(s.getInputStream());
                OutputStream out = s.getOutputStream();
                send(out, "04");
                assertEquals("3B8B800180739001C0554D454C4C49BC", receive(in));
                send(out, "01");
                send(out, "00CADF0100");
                assertEquals("6985", receive(in));
                send(out, "00A4040C07F04D454C4C4901");
                assertEquals("9000", receive(in));
                send(out, "00CADF0100");
                assertEquals(HexFormat.of().withUpperCase().formatHex(
                        "MELLI0000000001".getBytes(StandardCharsets.US_ASCII)) + "9000", receive(in));
                send(out, "00CADF0200");
                assertEquals("019000", receive(in));
                send(out, "0084000010");
                assertEquals(36, receive(in).length());
                send(out, "80A4");
                assertEquals("6700", receive(in));
                send(out, "02");
                send(out, "00CADF0200");
                assertEquals("6985", receive(in), "a reset deselects");
                send(out, "00A4040C07F04D454C4C4901");
                assertEquals("9000", receive(in));
                send(out, "00");
                send(out, "01");
                send(out, "00CADF0400");
                assertEquals("6985", receive(in), "power off too");
            }
            card.join(5000);
            assertEquals(0, code[0]);
        }
    }

    @Test
    void badInputIsOneLineAndExitCode2() throws Exception {
        assertEquals(2, Main.run(new String[] {}));
        assertEquals(2, Main.run(new String[] {"--bogus"}));
        assertEquals(2, Main.run(new String[] {"--card", dir.resolve("missing.json").toString()}));
        Path file = blankFile();
        assertEquals(2, Main.run(new String[] {"--card", file.toString(), "--vpcd", "nohost"}));
        Files.setPosixFilePermissions(file, PosixFilePermissions.fromString("rw-r--r--"));
        assertEquals(2, Main.run(new String[] {"--card", file.toString()}));
    }

    @Test
    void aChangedFileIsRefused() throws Exception {
        Path file = blankFile();
        String text = Files.readString(file).replace("\"tries_left\": 3", "\"tries_left\": 9");
        Files.writeString(file, text);
        BlankCard.Refused refused = org.junit.jupiter.api.Assertions.assertThrows(
                BlankCard.Refused.class, () -> BlankCard.read(file));
        assertTrue(refused.getMessage().contains("integrity check failed"), refused.getMessage());
    }

    @Test
    void theFileGivesTheInstallParameters() throws Exception {
        BlankCard blank = BlankCard.read(blankFile());
        assertEquals("MELLI0000000001", blank.serial);
        assertEquals("04395355E9A1479E0432DF16DAAE90A1", HexFormat.of().withUpperCase().formatHex(blank.kEnc));
        byte[] data = blank.installData();
        assertEquals(0, data[0]);
        assertEquals(0, data[1]);
        assertEquals(data.length - 3, data[2] & 0xFF);
        assertEquals("010F" + HexFormat.of().withUpperCase().formatHex("MELLI0000000001".getBytes()),
                HexFormat.of().withUpperCase().formatHex(data, 3, 3 + 17));
    }

    @Test
    void tearAtPullsTheCardAfterItsKthCommandAndComesBack() throws Exception {
        BlankCard blank = BlankCard.read(blankFile());
        Main.JavaCard javaCard = new Main.JavaCard(blank);
        try (ServerSocket vpcd = new ServerSocket(0)) {
            vpcd.setSoTimeout(10000);
            VpcdLink link = new VpcdLink(javaCard, "127.0.0.1", vpcd.getLocalPort(), false, 3);
            java.io.PipedOutputStream control = new java.io.PipedOutputStream();
            link.listen(new java.io.PipedInputStream(control));
            Thread card = new Thread(link::serve);
            card.setDaemon(true);
            card.start();
            try (Socket s = vpcd.accept()) {
                s.setSoTimeout(10000);
                DataInputStream in = new DataInputStream(s.getInputStream());
                OutputStream out = s.getOutputStream();
                send(out, "00A4040C07F04D454C4C4901");
                assertEquals("9000", receive(in));
                send(out, "0084000008");
                assertEquals(20, receive(in).length());
                send(out, "00CADF0200");
                assertEquals(-1, in.read(), "the third command's answer is never sent");
            }
            try (Socket s = vpcd.accept()) {
                s.setSoTimeout(10000);
                DataInputStream in = new DataInputStream(s.getInputStream());
                OutputStream out = s.getOutputStream();
                send(out, "00CADF0200");
                assertEquals("6985", receive(in), "power was lost: not selected");
                send(out, "00A4040C07F04D454C4C4901");
                assertEquals("9000", receive(in));
                control.write("pull\n".getBytes(StandardCharsets.US_ASCII));
                control.flush();
                assertEquals(-1, in.read(), "pulled by the control input");
            }
            control.write("insert\n".getBytes(StandardCharsets.US_ASCII));
            control.flush();
            try (Socket s = vpcd.accept()) {
                s.setSoTimeout(10000);
                DataInputStream in = new DataInputStream(s.getInputStream());
                OutputStream out = s.getOutputStream();
                send(out, "00A4040C07F04D454C4C4901");
                assertEquals("9000", receive(in));
                send(out, "00CADF0100");
                assertTrue(receive(in).endsWith("9000"));
            }
        }
    }
}
