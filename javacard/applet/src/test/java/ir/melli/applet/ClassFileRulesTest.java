package ir.melli.applet;

import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.DataInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;

/**
 * Scans the compiled applet (target/classes/ir/melli/applet/*.class) for what a Java Card 3.0.4
 * converter refuses or a card cannot do, with a small class-file parser:
 *
 * <ol>
 *   <li>(a) types: no field, parameter, return value or local variable (LocalVariableTable) of
 *       type int, long, float or double, no int/long/float/double arrays, and no constant
 *       outside the short range;</li>
 *   <li>(b) int arithmetic: javac computes short and byte arithmetic in int (the JVM has no
 *       16-bit add), so `(short) (a + b)` is `iadd; i2s`. The converter turns that into a
 *       16-bit `sadd` because the cast keeps only the low 16 bits, which 16-bit arithmetic
 *       computes exactly. Without the cast the int result could exceed a short (a + b > c on
 *       shorts, buf[off + 1]) and the converter refuses it. So every iadd, isub, imul, idiv,
 *       irem, ineg, ishl and iushr must reach an i2s or i2b, possibly through further
 *       operands (loads, constants, array loads, field reads, calls) and further arithmetic,
 *       before anything else consumes it. iand, ior, ixor and ishr of short-range values stay
 *       in the short range and may be used directly (in comparisons, as indexes). iinc is
 *       refused: javac emits it only for int locals. Any long, float or double instruction is
 *       refused;</li>
 *   <li>(c) classes: only java/lang/Object, the exception classes of the Java Card java.lang
 *       subset, javacard/*, javacardx/* and this package are referenced;</li>
 *   <li>(d) allocation: `new`, `newarray`, `anewarray` and `multianewarray` only in
 *       constructors, static initializers and install (no allocation after install).</li>
 * </ol>
 */
class ClassFileRulesTest {
    private static final Set<String> JAVA_LANG = Set.of("java/lang/Object", "java/lang/Throwable",
            "java/lang/Exception", "java/lang/RuntimeException", "java/lang/ArithmeticException",
            "java/lang/ArrayIndexOutOfBoundsException", "java/lang/ArrayStoreException",
            "java/lang/ClassCastException", "java/lang/IndexOutOfBoundsException",
            "java/lang/NegativeArraySizeException", "java/lang/NullPointerException",
            "java/lang/SecurityException");

    @Test
    void theAppletKeepsTheJavaCardRules() throws IOException {
        Path dir = Path.of("target/classes/ir/melli/applet");
        List<String> problems = new ArrayList<>();
        int classes = 0;
        try (Stream<Path> files = Files.list(dir)) {
            for (Path p : (Iterable<Path>) files.filter(f -> f.toString().endsWith(".class"))::iterator) {
                classes++;
                try (InputStream in = Files.newInputStream(p)) {
                    new ClassScan(p.getFileName().toString(), new DataInputStream(in), problems).run();
                }
            }
        }
        assertTrue(classes >= 15, "classes found: " + classes);
        assertTrue(problems.isEmpty(), String.join("\n", problems));
    }

    @Test
    void theScannerCatchesWhatItShould() throws IOException {
        List<String> problems = new ArrayList<>();
        Path bad = Path.of("target/test-classes/ir/melli/applet/ClassFileRulesTest$Bad.class");
        try (InputStream in = Files.newInputStream(bad)) {
            new ClassScan("Bad", new DataInputStream(in), problems).run();
        }
        String all = String.join("\n", problems);
        for (String expected : new String[] {"field count: I", "iadd", "java/lang/String",
            "allocation", "constant 100000"}) {
            assertTrue(all.contains(expected), expected + " not found in\n" + all);
        }
    }

    /** Breaks each rule once, for the test of the scanner. */
    @SuppressWarnings("unused")
    static final class Bad {
        int count;

        boolean sum(short a, short b, short c) {
            return a + b > c;
        }

        Object text() {
            return "x" + new byte[1].length;
        }

        short big() {
            return (short) Integer.valueOf(100000).hashCode();
        }

        int constant() {
            return 100000;
        }
    }

    /** One class file. */
    private static final class ClassScan {
        private final String name;
        private final DataInputStream in;
        private final List<String> problems;
        private Object[] pool;
        private int[] tags;

        ClassScan(String name, DataInputStream in, List<String> problems) {
            this.name = name;
            this.in = in;
            this.problems = problems;
        }

        private void problem(String what) {
            problems.add(name + ": " + what);
        }

        void run() throws IOException {
            in.readInt();
            in.readUnsignedShort();
            in.readUnsignedShort();
            int count = in.readUnsignedShort();
            pool = new Object[count];
            tags = new int[count];
            for (int i = 1; i < count; i++) {
                int tag = in.readUnsignedByte();
                tags[i] = tag;
                switch (tag) {
                    case 1 -> pool[i] = in.readUTF();
                    case 3 -> pool[i] = in.readInt();
                    case 4 -> pool[i] = in.readFloat();
                    case 5 -> {
                        pool[i] = in.readLong();
                        i++;
                    }
                    case 6 -> {
                        pool[i] = in.readDouble();
                        i++;
                    }
                    case 7, 8, 16, 19, 20 -> pool[i] = in.readUnsignedShort();
                    case 9, 10, 11, 12, 17, 18 -> pool[i] = new int[] {in.readUnsignedShort(), in.readUnsignedShort()};
                    case 15 -> pool[i] = new int[] {in.readUnsignedByte(), in.readUnsignedShort()};
                    default -> throw new IOException("constant tag " + tag);
                }
            }
            for (int i = 1; i < count; i++) {
                if (tags[i] == 7) {
                    checkClass((String) pool[(Integer) pool[i]]);
                } else if (tags[i] == 12) {
                    checkDescriptor("reference " + pool[((int[]) pool[i])[0]],
                            (String) pool[((int[]) pool[i])[1]]);
                } else if (tags[i] == 8) {
                    problem("string constant (java/lang/String) " + pool[(Integer) pool[i]]);
                } else if (tags[i] == 4 || tags[i] == 5 || tags[i] == 6) {
                    problem("float/long/double constant " + pool[i]);
                } else if (tags[i] == 3) {
                    int v = (Integer) pool[i];
                    if (v < Short.MIN_VALUE || v > 0xFFFF) {
                        problem("constant " + v + " outside the short range");
                    }
                }
            }
            in.readUnsignedShort();
            in.readUnsignedShort();
            in.readUnsignedShort();
            int interfaces = in.readUnsignedShort();
            for (int i = 0; i < interfaces; i++) {
                in.readUnsignedShort();
            }
            int fields = in.readUnsignedShort();
            for (int i = 0; i < fields; i++) {
                in.readUnsignedShort();
                String fieldName = (String) pool[in.readUnsignedShort()];
                checkDescriptor("field " + fieldName, (String) pool[in.readUnsignedShort()]);
                skipAttributes();
            }
            int methods = in.readUnsignedShort();
            for (int i = 0; i < methods; i++) {
                in.readUnsignedShort();
                String methodName = (String) pool[in.readUnsignedShort()];
                String descriptor = (String) pool[in.readUnsignedShort()];
                checkDescriptor("method " + methodName, descriptor);
                int attributes = in.readUnsignedShort();
                for (int a = 0; a < attributes; a++) {
                    String attribute = (String) pool[in.readUnsignedShort()];
                    int length = in.readInt();
                    if (attribute.equals("Code")) {
                        code(methodName);
                    } else {
                        in.skipNBytes(length);
                    }
                }
            }
        }

        private void skipAttributes() throws IOException {
            int attributes = in.readUnsignedShort();
            for (int a = 0; a < attributes; a++) {
                in.readUnsignedShort();
                in.skipNBytes(in.readInt());
            }
        }

        private void checkClass(String cls) {
            String c = cls;
            while (c.startsWith("[")) {
                c = c.substring(1);
            }
            if (c.length() == 1) {
                if ("IJFD".contains(c)) {
                    problem("array type " + cls);
                }
                return;
            }
            if (c.startsWith("L")) {
                c = c.substring(1, c.length() - 1);
            }
            boolean ok = JAVA_LANG.contains(c) || c.startsWith("javacard/")
                    || c.startsWith("javacardx/") || c.startsWith("ir/melli/applet/");
            if (!ok) {
                problem("class " + c);
            }
        }

        private void checkDescriptor(String where, String descriptor) {
            for (int i = 0; i < descriptor.length(); i++) {
                char ch = descriptor.charAt(i);
                if (ch == 'L') {
                    int end = descriptor.indexOf(';', i);
                    checkClass(descriptor.substring(i + 1, end));
                    i = end;
                } else if ("IJFD".indexOf(ch) >= 0) {
                    problem(where + ": " + descriptor);
                }
            }
        }

        private static final Set<Integer> NARROW_REQUIRED = Set.of(0x60, 0x64, 0x68, 0x6C, 0x70,
                0x74, 0x78, 0x7C);
        private static final Set<Integer> SAFE_INT = Set.of(0x7E, 0x80, 0x82, 0x7A);

        private static boolean isArithmetic(int op) {
            return NARROW_REQUIRED.contains(op) || SAFE_INT.contains(op);
        }

        /** Instructions that only push an operand (or replace one by another). */
        private static boolean isOperand(int op) {
            return (op >= 0x01 && op <= 0x08) || op == 0x10 || op == 0x11 || op == 0x12
                    || op == 0x13 || op == 0x15 || op == 0x19 || (op >= 0x1A && op <= 0x1D)
                    || (op >= 0x2A && op <= 0x2D) || op == 0x2E || op == 0x32 || op == 0x33
                    || op == 0x34 || op == 0x35 || op == 0x59 || op == 0x5A || op == 0x5C
                    || op == 0xB2 || op == 0xB4 || (op >= 0xB6 && op <= 0xB9) || op == 0xBE
                    || op == 0xC0;
        }

        private void code(String method) throws IOException {
            in.readUnsignedShort();
            in.readUnsignedShort();
            byte[] code = new byte[in.readInt()];
            in.readFully(code);
            int handlers = in.readUnsignedShort();
            in.skipNBytes(handlers * 8L);
            int attributes = in.readUnsignedShort();
            for (int a = 0; a < attributes; a++) {
                String attribute = (String) pool[in.readUnsignedShort()];
                int length = in.readInt();
                if (attribute.equals("LocalVariableTable")) {
                    int n = in.readUnsignedShort();
                    for (int v = 0; v < n; v++) {
                        in.readInt();
                        String local = (String) pool[in.readUnsignedShort()];
                        checkDescriptor("local " + local + " of " + method,
                                (String) pool[in.readUnsignedShort()]);
                        in.readUnsignedShort();
                    }
                } else {
                    in.skipNBytes(length);
                }
            }
            boolean mayAllocate = method.equals("<init>") || method.equals("<clinit>")
                    || method.equals("install");
            List<int[]> ops = decode(code);
            for (int k = 0; k < ops.size(); k++) {
                int op = ops.get(k)[1];
                int at = ops.get(k)[0];
                if (op == 0xBB || op == 0xBC || op == 0xBD || op == 0xC5) {
                    if (!mayAllocate) {
                        problem("allocation (opcode " + Integer.toHexString(op) + ") in " + method);
                    }
                    if (op == 0xBC) {
                        int type = code[at + 1];
                        if (type == 10 || type == 11 || type == 6 || type == 7) {
                            problem("int/long/float/double array in " + method);
                        }
                    }
                }
                if (op == 0x84) {
                    problem("iinc (an int local) in " + method);
                }
                if (isWide(op)) {
                    problem("long/float/double instruction " + Integer.toHexString(op) + " in " + method);
                }
                if (NARROW_REQUIRED.contains(op)) {
                    int j = k + 1;
                    while (j < ops.size() && (isOperand(ops.get(j)[1]) || isArithmetic(ops.get(j)[1]))) {
                        j++;
                    }
                    int next = j < ops.size() ? ops.get(j)[1] : -1;
                    if (next != 0x93 && next != 0x91) {
                        problem(name(op) + " not narrowed by i2s/i2b in " + method + " at " + at);
                    }
                }
            }
        }

        private static String name(int op) {
            return switch (op) {
                case 0x60 -> "iadd";
                case 0x64 -> "isub";
                case 0x68 -> "imul";
                case 0x6C -> "idiv";
                case 0x70 -> "irem";
                case 0x74 -> "ineg";
                case 0x78 -> "ishl";
                default -> "iushr";
            };
        }

        private static boolean isWide(int op) {
            return (op >= 0x09 && op <= 0x0F) || op == 0x14 || (op >= 0x16 && op <= 0x18)
                    || (op >= 0x1E && op <= 0x29) || (op >= 0x2F && op <= 0x31)
                    || (op >= 0x37 && op <= 0x39) || (op >= 0x3F && op <= 0x4A)
                    || (op >= 0x50 && op <= 0x52)
                    || (op >= 0x61 && op <= 0x77 && NARROW_REQUIRED.stream().noneMatch(x -> x == op)
                        && op != 0x74)
                    || op == 0x79 || op == 0x7B || op == 0x7D || op == 0x7F || op == 0x81
                    || op == 0x83 || (op >= 0x85 && op <= 0x90) || (op >= 0x94 && op <= 0x98)
                    || (op >= 0xAD && op <= 0xAF);
        }

        /** (offset, opcode) of every instruction. */
        private static List<int[]> decode(byte[] code) {
            List<int[]> out = new ArrayList<>();
            int pc = 0;
            while (pc < code.length) {
                int op = code[pc] & 0xFF;
                out.add(new int[] {pc, op});
                pc += length(code, pc, op);
            }
            return out;
        }

        private static int length(byte[] code, int pc, int op) {
            switch (op) {
                case 0x10, 0x12, 0x15, 0x16, 0x17, 0x18, 0x19, 0x36, 0x37, 0x38, 0x39, 0x3A, 0xA9, 0xBC:
                    return 2;
                case 0x11, 0x13, 0x14, 0x84, 0x99, 0x9A, 0x9B, 0x9C, 0x9D, 0x9E, 0x9F, 0xA0, 0xA1, 0xA2,
                    0xA3, 0xA4, 0xA5, 0xA6, 0xA7, 0xA8, 0xB2, 0xB3, 0xB4, 0xB5, 0xB6, 0xB7, 0xB8, 0xBB,
                    0xBD, 0xC0, 0xC1, 0xC6, 0xC7:
                    return 3;
                case 0xC5:
                    return 4;
                case 0xB9, 0xBA, 0xC8, 0xC9:
                    return 5;
                case 0xC4:
                    return (code[pc + 1] & 0xFF) == 0x84 ? 6 : 4;
                case 0xAA: {
                    int p = (pc + 4) & ~3;
                    int low = readInt(code, p + 4);
                    int high = readInt(code, p + 8);
                    return p + 12 + 4 * (high - low + 1) - pc;
                }
                case 0xAB: {
                    int p = (pc + 4) & ~3;
                    int pairs = readInt(code, p + 4);
                    return p + 8 + 8 * pairs - pc;
                }
                default:
                    return 1;
            }
        }

        private static int readInt(byte[] b, int p) {
            return ((b[p] & 0xFF) << 24) | ((b[p + 1] & 0xFF) << 16) | ((b[p + 2] & 0xFF) << 8) | (b[p + 3] & 0xFF);
        }
    }
}
