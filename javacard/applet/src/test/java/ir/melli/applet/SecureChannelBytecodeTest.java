package ir.melli.applet;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.PrintWriter;
import java.io.StringWriter;
import java.lang.reflect.Field;
import java.lang.reflect.Method;
import java.net.URISyntaxException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.spi.ToolProvider;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * What a Java Card 3.0.4 converter needs of AesCmac and SecureChannel, checked on the class
 * files: major version 51; only javacard.*, javacardx.*, java.lang.Object and exceptions; no
 * int (or wider) fields, parameters or returns; every 32-bit arithmetic result narrowed by a
 * (short) or (byte) cast before it is used (stored, compared, passed, indexed); no long, float,
 * double; no int constants outside the short range; allocation only in constructors.
 */
class SecureChannelBytecodeTest {

    private static final Pattern INSTRUCTION = Pattern.compile("^\\s*(\\d+): (\\w+)(.*)$");
    private static final Set<String> INT_ARITHMETIC = Set.of("iadd", "isub", "imul", "idiv",
            "irem", "ineg", "ishl", "ishr", "iushr", "iand", "ior", "ixor");
    /** What may come between an int operation and its narrowing cast: more of the expression. */
    private static final Set<String> EXPRESSION = Set.of("iload", "iload_0", "iload_1",
            "iload_2", "iload_3", "aload", "aload_0", "aload_1", "aload_2", "aload_3",
            "iconst_m1", "iconst_0", "iconst_1", "iconst_2", "iconst_3", "iconst_4", "iconst_5",
            "bipush", "sipush", "getfield", "getstatic", "baload", "saload", "i2s", "i2b", "dup");
    private static final Set<String> ALLOCATION = Set.of("new", "newarray", "anewarray",
            "multianewarray");
    private static final Pattern ALLOWED_CLASS = Pattern.compile(
            "(javacard/.*|javacardx/.*|java/lang/Object|java/lang/\\w*Exception|"
                    + "ir/melli/applet/.*|\\[B|\\[S)");

    private static String javap(Class<?> type, String... flags) {
        ToolProvider javap = ToolProvider.findFirst("javap").orElseThrow();
        StringWriter out = new StringWriter();
        List<String> args = new ArrayList<>(List.of(flags));
        try {
            Path file = Path.of(type.getProtectionDomain().getCodeSource().getLocation().toURI())
                    .resolve(type.getName().replace('.', '/') + ".class");
            args.add(file.toString());
        } catch (URISyntaxException e) {
            throw new AssertionError(e);
        }
        int rc = javap.run(new PrintWriter(out), new PrintWriter(out), args.toArray(String[]::new));
        assertEquals(0, rc, out.toString());
        return out.toString();
    }

    static Class<?> load(String name) throws ClassNotFoundException {
        return Class.forName("ir.melli.applet." + name);
    }

    @ParameterizedTest
    @ValueSource(strings = {"AesCmac", "SecureChannel"})
    void classFileVersionAndReferences(String name) throws Exception {
        String verbose = javap(load(name), "-v", "-p");
        assertTrue(verbose.contains("major version: 51"), name);
        Matcher classes = Pattern.compile("= Class\\s+#\\d+\\s+// \"?([^\"\\s]+)").matcher(verbose);
        while (classes.find()) {
            assertTrue(ALLOWED_CLASS.matcher(classes.group(1)).matches(), classes.group(1));
        }
        Matcher ints = Pattern.compile("= Integer\\s+(-?\\d+)").matcher(verbose);
        while (ints.find()) {
            long value = Long.parseLong(ints.group(1));
            assertTrue(value >= Short.MIN_VALUE && value <= Short.MAX_VALUE, "constant " + value);
        }
        assertTrue(!verbose.contains("= Long") && !verbose.contains("= Float")
                && !verbose.contains("= Double") && !verbose.contains("= String"), name);
    }

    @ParameterizedTest
    @ValueSource(strings = {"AesCmac", "SecureChannel"})
    void noIntTypes(String name) throws Exception {
        Class<?> type = load(name);
        Set<Class<?>> forbidden = Set.of(int.class, long.class, float.class, double.class,
                char.class, int[].class, String.class);
        for (Field field : type.getDeclaredFields()) {
            assertTrue(!forbidden.contains(field.getType()), field.toString());
        }
        for (Method method : type.getDeclaredMethods()) {
            assertTrue(!forbidden.contains(method.getReturnType()), method.toString());
            for (Class<?> p : method.getParameterTypes()) {
                assertTrue(!forbidden.contains(p), method.toString());
            }
        }
    }

    @ParameterizedTest
    @ValueSource(strings = {"AesCmac", "SecureChannel"})
    void shortArithmeticOnlyAndNoAllocationAfterInstall(String name) throws Exception {
        String code = javap(load(name), "-c", "-p");
        String method = "";
        List<String[]> body = new ArrayList<>();
        List<String> problems = new ArrayList<>();
        for (String line : (code + "\n}").split("\n")) {
            Matcher m = INSTRUCTION.matcher(line);
            if (m.matches()) {
                body.add(new String[] {m.group(1), m.group(2), m.group(3)});
                continue;
            }
            if (!body.isEmpty() || line.contains("(")) {
                check(method, body, problems);
                body.clear();
            }
            if (line.contains("(") && !line.trim().startsWith("Code")) {
                method = line.trim();
            }
        }
        assertTrue(problems.isEmpty(), String.join("\n", problems));
    }

    private static void check(String method, List<String[]> body, List<String> problems) {
        boolean constructor = method.matches(".*\\b(AesCmac|SecureChannel)\\(.*");
        for (int i = 0; i < body.size(); i++) {
            String op = body.get(i)[1];
            String where = method + " @" + body.get(i)[0] + " " + op + body.get(i)[2];
            if (op.matches("[lfd](add|sub|mul|div|rem|neg|load.*|store.*|const.*|return|cmp.*)")
                    || op.matches("i2[lfdc]|[lfd]2.*|iinc")) {
                problems.add("32-bit or wider value: " + where);
            }
            if (!constructor && (ALLOCATION.contains(op)
                    || body.get(i)[2].contains("makeTransient"))) {
                problems.add("allocation outside the constructor: " + where);
            }
            if (INT_ARITHMETIC.contains(op)) {
                boolean narrowed = false;
                for (int j = i + 1; j < body.size(); j++) {
                    String next = body.get(j)[1];
                    if (next.equals("i2s") || next.equals("i2b")) {
                        narrowed = true;
                        break;
                    }
                    if (!EXPRESSION.contains(next) && !INT_ARITHMETIC.contains(next)) {
                        break;
                    }
                    if (next.equals("baload") || next.equals("saload")) {
                        break; // an unnarrowed int used as an array index
                    }
                }
                if (!narrowed) {
                    problems.add("int result not narrowed: " + where);
                }
            }
        }
    }
}
