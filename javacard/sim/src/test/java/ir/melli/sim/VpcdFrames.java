package ir.melli.sim;

import java.io.DataInputStream;
import java.io.IOException;
import java.io.OutputStream;
import java.util.HexFormat;

/** vpcd's framing for the launcher's tests, which play vpcd: a 2-byte length, then the bytes. */
final class VpcdFrames {
    private VpcdFrames() {
    }

    static void send(OutputStream out, String hex) throws IOException {
        byte[] b = HexFormat.of().parseHex(hex);
        out.write(new byte[] {(byte) (b.length >> 8), (byte) b.length});
        out.write(b);
        out.flush();
    }

    static String receive(DataInputStream in) throws IOException {
        byte[] b = new byte[in.readUnsignedShort()];
        in.readFully(b);
        return HexFormat.of().withUpperCase().formatHex(b);
    }
}
