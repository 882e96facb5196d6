package ir.melli.sim;

import java.io.ByteArrayOutputStream;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;

/**
 * The JSON the Rust card's state file needs: a strict parser (objects, arrays, strings,
 * numbers kept as their text, true, false, null) and the canonical form its MAC covers
 * (spec §8.7: compact, members sorted by name, strings escaped as serde_json does).
 */
final class Json {
    private final String text;
    private int pos;

    private Json(String text) {
        this.text = text;
    }

    /** A number, kept as written. */
    record Number(String text) {
    }

    static Object parse(String text) {
        Json p = new Json(text);
        p.space();
        Object value = p.value();
        p.space();
        if (p.pos != text.length()) {
            throw p.error("trailing characters");
        }
        return value;
    }

    private IllegalArgumentException error(String what) {
        return new IllegalArgumentException("JSON: " + what + " at character " + pos);
    }

    private void space() {
        while (pos < text.length() && " \t\r\n".indexOf(text.charAt(pos)) >= 0) {
            pos++;
        }
    }

    private Object value() {
        if (pos >= text.length()) {
            throw error("unexpected end");
        }
        char c = text.charAt(pos);
        switch (c) {
            case '{':
                return object();
            case '[':
                return array();
            case '"':
                return string();
            case 't':
                return literal("true", Boolean.TRUE);
            case 'f':
                return literal("false", Boolean.FALSE);
            case 'n':
                return literal("null", null);
            default:
                return number();
        }
    }

    private Object literal(String word, Object value) {
        if (!text.startsWith(word, pos)) {
            throw error("unknown word");
        }
        pos += word.length();
        return value;
    }

    private Map<String, Object> object() {
        Map<String, Object> members = new LinkedHashMap<>();
        pos++;
        space();
        if (peek() == '}') {
            pos++;
            return members;
        }
        while (true) {
            space();
            if (peek() != '"') {
                throw error("member name expected");
            }
            String name = string();
            space();
            expect(':');
            space();
            if (members.put(name, value()) != null) {
                throw error("duplicate member " + name);
            }
            space();
            if (peek() == ',') {
                pos++;
                continue;
            }
            expect('}');
            return members;
        }
    }

    private List<Object> array() {
        List<Object> items = new ArrayList<>();
        pos++;
        space();
        if (peek() == ']') {
            pos++;
            return items;
        }
        while (true) {
            space();
            items.add(value());
            space();
            if (peek() == ',') {
                pos++;
                continue;
            }
            expect(']');
            return items;
        }
    }

    private char peek() {
        if (pos >= text.length()) {
            throw error("unexpected end");
        }
        return text.charAt(pos);
    }

    private void expect(char c) {
        if (peek() != c) {
            throw error("'" + c + "' expected");
        }
        pos++;
    }

    private String string() {
        expect('"');
        StringBuilder out = new StringBuilder();
        while (true) {
            char c = peek();
            pos++;
            if (c == '"') {
                return out.toString();
            }
            if (c < 0x20) {
                throw error("control character in a string");
            }
            if (c != '\\') {
                out.append(c);
                continue;
            }
            char e = peek();
            pos++;
            switch (e) {
                case '"', '\\', '/' -> out.append(e);
                case 'b' -> out.append('\b');
                case 'f' -> out.append('\f');
                case 'n' -> out.append('\n');
                case 'r' -> out.append('\r');
                case 't' -> out.append('\t');
                case 'u' -> {
                    if (pos + 4 > text.length()) {
                        throw error("short \\u escape");
                    }
                    out.append((char) Integer.parseInt(text.substring(pos, pos + 4), 16));
                    pos += 4;
                }
                default -> throw error("unknown escape");
            }
        }
    }

    private Number number() {
        int start = pos;
        while (pos < text.length() && "+-0123456789.eE".indexOf(text.charAt(pos)) >= 0) {
            pos++;
        }
        if (start == pos) {
            throw error("value expected");
        }
        return new Number(text.substring(start, pos));
    }

    /** The canonical bytes (§8.7) of `value`, leaving out the top-level member `skip`. */
    static byte[] canonical(Object value, String skip) {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        write(out, value, skip);
        return out.toByteArray();
    }

    @SuppressWarnings("unchecked")
    private static void write(ByteArrayOutputStream out, Object value, String skip) {
        if (value instanceof Map<?, ?> map) {
            Map<String, Object> sorted = new TreeMap<>((Map<String, Object>) map);
            if (skip != null) {
                sorted.remove(skip);
            }
            out.write('{');
            boolean first = true;
            for (Map.Entry<String, Object> e : sorted.entrySet()) {
                if (!first) {
                    out.write(',');
                }
                first = false;
                writeString(out, e.getKey());
                out.write(':');
                write(out, e.getValue(), null);
            }
            out.write('}');
        } else if (value instanceof List<?> list) {
            out.write('[');
            for (int i = 0; i < list.size(); i++) {
                if (i > 0) {
                    out.write(',');
                }
                write(out, list.get(i), null);
            }
            out.write(']');
        } else if (value instanceof String s) {
            writeString(out, s);
        } else if (value instanceof Number n) {
            out.writeBytes(n.text().getBytes(StandardCharsets.US_ASCII));
        } else {
            out.writeBytes(String.valueOf(value).getBytes(StandardCharsets.US_ASCII));
        }
    }

    /** serde_json's escaping: `"` and `\`, the short escapes, \\u00XX for other controls. */
    private static void writeString(ByteArrayOutputStream out, String s) {
        StringBuilder b = new StringBuilder("\"");
        for (char c : s.toCharArray()) {
            switch (c) {
                case '"' -> b.append("\\\"");
                case '\\' -> b.append("\\\\");
                case '\n' -> b.append("\\n");
                case '\r' -> b.append("\\r");
                case '\t' -> b.append("\\t");
                case '\b' -> b.append("\\b");
                case '\f' -> b.append("\\f");
                default -> {
                    if (c < 0x20) {
                        b.append(String.format("\\u%04x", (int) c));
                    } else {
                        b.append(c);
                    }
                }
            }
        }
        b.append('"');
        out.writeBytes(b.toString().getBytes(StandardCharsets.UTF_8));
    }
}
