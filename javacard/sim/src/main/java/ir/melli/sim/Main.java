package ir.melli.sim;

/** Starts the melli applet in jCardSim and attaches it to vpcd. Skeleton: to be filled in. */
public final class Main {
    public static void main(String[] args) {
        System.err.println("melli-sim: not written yet");
        System.exit(2);
    }
}
