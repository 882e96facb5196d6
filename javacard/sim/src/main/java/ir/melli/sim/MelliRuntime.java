package ir.melli.sim;

import com.licel.jcardsim.base.ApduCase;
import com.licel.jcardsim.base.SimulatorRuntime;
import javacard.framework.AID;

/**
 * jCardSim with the melli applet as the default-selected application of a real card: after
 * every reset it is current without a SELECT, and SELECT by DF name reaches its process() (the
 * applet keeps the "application selected" state of spec §2.2 itself). A copy of this class is
 * in the applet module's tests.
 */
public class MelliRuntime extends SimulatorRuntime {
    private AID defaultApplet;

    public void setDefaultApplet(AID aid) {
        defaultApplet = aid;
        currentAID = aid;
    }

    @Override
    protected AID findAppletForSelectApdu(byte[] apdu, ApduCase apduCase) {
        return null;
    }

    @Override
    public void reset() {
        super.reset();
        currentAID = defaultApplet;
    }
}
