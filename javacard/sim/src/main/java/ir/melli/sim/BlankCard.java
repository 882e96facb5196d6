package ir.melli.sim;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermission;
import java.security.GeneralSecurityException;
import java.security.MessageDigest;
import java.util.HexFormat;
import java.util.List;
import java.util.Map;
import java.util.Set;
import javax.crypto.Mac;
import javax.crypto.spec.SecretKeySpec;

/**
 * A blank card as `melli card new` writes it (the Rust card's state file, format
 * `melli-card-state` version 2 or 3, spec §8.7), read into the applet's install parameters. The
 * file is checked as the Rust card checks it: mode 0600, format and version, and its MAC
 * (HMAC-SHA256 under K_file = HMAC-SHA256(device secret, "melli-card state file v2") over the
 * canonical JSON without `mac`). Only a BLANK card can become a Java card: a personalized one
 * holds private keys, which no Java card can import (keys are generated on the card).
 */
final class BlankCard {
    final String serial;
    final byte[] kEnc;
    final byte[] kMac;
    final byte[] deviceSecret;

    private BlankCard(String serial, byte[] kEnc, byte[] kMac, byte[] deviceSecret) {
        this.serial = serial;
        this.kEnc = kEnc;
        this.kMac = kMac;
        this.deviceSecret = deviceSecret;
    }

    /** A one-line reason the file cannot be used. */
    static final class Refused extends Exception {
        Refused(String message) {
            super(message);
        }
    }

    static BlankCard read(Path file) throws Refused {
        String name = file.toString();
        byte[] bytes;
        try {
            Set<PosixFilePermission> mode = Files.getPosixFilePermissions(file);
            for (PosixFilePermission p : mode) {
                if (p != PosixFilePermission.OWNER_READ && p != PosixFilePermission.OWNER_WRITE) {
                    throw new Refused("card state " + name
                            + ": others may read or change it (mode must be 0600); run chmod 600 "
                            + name);
                }
            }
            bytes = Files.readAllBytes(file);
        } catch (java.nio.file.NoSuchFileException e) {
            throw new Refused("card state " + name + ": no such file; make one with melli card new");
        } catch (UnsupportedOperationException e) {
            throw new Refused("card state " + name + ": cannot check its mode on this file system");
        } catch (IOException e) {
            throw new Refused("card state " + name + ": cannot read it (" + e.getMessage() + ")");
        }
        Object parsed;
        try {
            parsed = Json.parse(new String(bytes, StandardCharsets.UTF_8));
        } catch (IllegalArgumentException e) {
            throw new Refused("card state " + name + ": not a card state file (" + e.getMessage() + ")");
        }
        if (!(parsed instanceof Map<?, ?> top)) {
            throw new Refused("card state " + name + ": not a card state file (not a JSON object)");
        }
        if (!"melli-card-state".equals(top.get("format"))) {
            throw new Refused("card state " + name + ": not a melli card state file");
        }
        Object version = top.get("format_version");
        // Version 3 (spec 1.1) adds the authentication key pair, which a blank card does not
        // have yet; what a blank card holds is the same in both.
        if (!(version instanceof Json.Number n) || !(n.text().equals("2") || n.text().equals("3"))) {
            throw new Refused("card state " + name + ": format version "
                    + (version instanceof Json.Number v ? v.text() : String.valueOf(version))
                    + " is not supported (this launcher reads versions 2 and 3); make a new card with melli card new");
        }
        byte[] secret = hex(top.get("device_secret"), 32, name, "device_secret");
        String mac = top.get("mac") instanceof String s ? s : null;
        byte[] expected = hmac(hmac(secret, "melli-card state file v2".getBytes(StandardCharsets.US_ASCII)),
                Json.canonical(top, "mac"));
        byte[] given;
        try {
            given = mac == null ? new byte[0] : HexFormat.of().parseHex(mac);
        } catch (IllegalArgumentException e) {
            given = new byte[0];
        }
        if (!MessageDigest.isEqual(expected, given)) {
            throw new Refused("card state " + name + ": integrity check failed (the file was changed "
                    + "outside the card); make a new card with melli card new");
        }
        if (!"blank".equals(top.get("lifecycle"))) {
            throw new Refused("card state " + name + ": the card is " + top.get("lifecycle")
                    + "; only a blank card (melli card new) can become a Java card, whose keys are "
                    + "generated on the card");
        }
        Object serial = top.get("serial");
        if (!(serial instanceof String s) || !s.matches("[0-9A-Z]{1,16}")) {
            throw new Refused("card state " + name + ": bad serial " + serial);
        }
        if (!(top.get("static_keys") instanceof Map<?, ?> keys)) {
            throw new Refused("card state " + name + ": static_keys missing");
        }
        return new BlankCard((String) serial, hex(keys.get("enc"), 16, name, "static_keys.enc"),
                hex(keys.get("mac"), 16, name, "static_keys.mac"), secret);
    }

    private static byte[] hex(Object value, int length, String name, String member) throws Refused {
        try {
            byte[] b = HexFormat.of().parseHex((String) value);
            if (b.length == length) {
                return b;
            }
        } catch (RuntimeException e) {
            // reported below
        }
        throw new Refused("card state " + name + ": " + member + " is not " + length + " bytes of hex");
    }

    private static byte[] hmac(byte[] key, byte[] data) {
        try {
            Mac mac = Mac.getInstance("HmacSHA256");
            mac.init(new SecretKeySpec(key, "HmacSHA256"));
            return mac.doFinal(data);
        } catch (GeneralSecurityException e) {
            throw new IllegalStateException(e);
        }
    }

    /**
     * The GlobalPlatform install data the applet reads (javacard/README.md): no instance AID,
     * no control information, then the application data `01 L serial 02 10 K_enc 03 10 K_mac
     * 04 20 secret`.
     */
    byte[] installData() {
        ByteArrayOutputStream app = new ByteArrayOutputStream();
        for (Object[] tlv : List.of(new Object[] {1, serial.getBytes(StandardCharsets.US_ASCII)},
                new Object[] {2, kEnc}, new Object[] {3, kMac}, new Object[] {4, deviceSecret})) {
            byte[] v = (byte[]) tlv[1];
            app.write((Integer) tlv[0]);
            app.write(v.length);
            app.writeBytes(v);
        }
        byte[] a = app.toByteArray();
        ByteArrayOutputStream all = new ByteArrayOutputStream();
        all.write(0);
        all.write(0);
        all.write(a.length);
        all.writeBytes(a);
        return all.toByteArray();
    }
}
