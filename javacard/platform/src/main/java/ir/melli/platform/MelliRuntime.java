package ir.melli.platform;

import com.licel.jcardsim.base.ApduCase;
import com.licel.jcardsim.base.SimulatorRuntime;
import com.licel.jcardsim.base.TransientMemory;
import javacard.framework.AID;

/**
 * jCardSim with the melli applet as the default-selected application of a real card: after
 * every reset it is current without a SELECT, and SELECT by DF name reaches its process() (the
 * applet keeps the "application selected" state of spec §2.2 itself). Used by the applet's tests
 * and by the launcher.
 */
public class MelliRuntime extends SimulatorRuntime {
    private AID defaultApplet;
    private final Memory memory;

    /** jCardSim's transient memory, which a reset clears whole, as a card's power loss does. */
    private static final class Memory extends TransientMemory {
        void clearAll() {
            clearOnDeselect();
            clearOnReset();
        }
    }

    public MelliRuntime() {
        this(new Memory());
    }

    private MelliRuntime(Memory memory) {
        super(memory);
        this.memory = memory;
    }

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
        // jCardSim clears CLEAR_ON_DESELECT memory only when it deselects an applet, which this
        // runtime never does: a reset (power loss) clears it too, as on a card.
        memory.clearAll();
        currentAID = defaultApplet;
    }

    /** The applet installed under {@code aid}, for tests that look inside it. */
    public javacard.framework.Applet applet(AID aid) {
        return getApplet(aid);
    }
}
