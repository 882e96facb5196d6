package ir.melli.applet;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.security.PublicKey;
import java.security.SecureRandom;
import java.security.Signature;

import org.junit.jupiter.api.Test;

/**
 * Many fresh chip-authentication keys, each with a chip-authentication signature checked by
 * java.security. jCardSim signs wrongly with a private value below 2^248 (one key in 256; it
 * keeps it as 31 bytes): the applet draws such a key again (Keys.generate), and this test, which
 * failed about three times in 400 before, keeps it so.
 */
class SignatureSoakTest {
    @Test
    void everyChipAuthenticationSignatureVerifiesWithTheKeyGenerateReturned() throws Exception {
        TestCard card = new TestCard(TestCard.SERIAL);
        HostSm host = RustPinLifeTest.personalizing(card);
        SecureRandom random = new SecureRandom();
        int failures = 0;
        StringBuilder why = new StringBuilder();
        for (int i = 0; i < 400; i++) {
            String keyObject = host.expect("00478002 00", "9000");
            PublicKey key = RustPinLifeTest.publicKey(keyObject);
            byte[] challenge = new byte[32];
            random.nextBytes(challenge);
            String rs = host.expect("0088000220" + HostSm.hex(challenge) + "00", "9000");
            assertEquals(128, rs.length());
            Signature v = Signature.getInstance("SHA256withECDSAinP1363Format");
            v.initVerify(key);
            v.update("MELLI-CA-V1".getBytes());
            v.update(TestCard.SERIAL.getBytes());
            v.update(challenge);
            if (!v.verify(HostSm.hex(rs))) {
                failures++;
                why.append("\nkey ").append(keyObject).append("\nr||s ").append(rs);
            }
        }
        assertTrue(failures == 0, failures + " of 400 did not verify:" + why);
    }
}
