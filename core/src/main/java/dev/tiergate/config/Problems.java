package dev.tiergate.config;

import java.math.BigDecimal;
import java.time.LocalDate;
import java.time.format.DateTimeParseException;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Optional;
import java.util.Set;
import java.util.TreeSet;

/**
 * Collects located problems while a configuration file is validated, and reads typed values from
 * {@link YamlNode}s, recording a problem (instead of throwing) when a value has the wrong type.
 *
 * <p>Validation goes on after a problem so that a user sees every mistake at once. Not thread-safe: one per
 * file being read.
 */
public final class Problems {
    private final String source;
    private final List<ConfigProblem> problems = new ArrayList<>();

    public Problems(String source) {
        this.source = source;
    }

    /** The file name used in problems. */
    public String source() {
        return source;
    }

    /** The live list, for {@link YamlTree#parse} to add syntax problems to. */
    public List<ConfigProblem> sink() {
        return problems;
    }

    /** Records a problem at {@code where}. */
    public void add(YamlNode where, String message) {
        problems.add(new ConfigProblem(source, where.line(), where.column(), message));
    }

    /** Whether no problem has been recorded. */
    public boolean isEmpty() {
        return problems.isEmpty();
    }

    /** The problems so far, in file order. */
    public List<ConfigProblem> sorted() {
        List<ConfigProblem> copy = new ArrayList<>(problems);
        Collections.sort(copy);
        return List.copyOf(copy);
    }

    /** Throws a {@link ConfigException} listing every problem, if there are any. */
    public void throwIfAny() {
        if (!problems.isEmpty()) {
            throw new ConfigException(sorted());
        }
    }

    /** {@code node} as a mapping, or a problem saying what {@code what} should have been. */
    public Optional<YamlNode.Mapping> mapping(YamlNode node, String what) {
        if (node instanceof YamlNode.Mapping m) {
            return Optional.of(m);
        }
        add(node, what + " must be a mapping, got " + node.kind());
        return Optional.empty();
    }

    /** {@code node} as a list; a single scalar is not accepted. */
    public Optional<YamlNode.Sequence> sequence(YamlNode node, String what) {
        if (node instanceof YamlNode.Sequence s) {
            return Optional.of(s);
        }
        add(node, what + " must be a list, got " + node.kind());
        return Optional.empty();
    }

    /** {@code node} as non-empty text. */
    public Optional<String> text(YamlNode node, String what) {
        if (node instanceof YamlNode.Scalar s && !s.text().isBlank()) {
            return Optional.of(s.text());
        }
        add(node, what + " must be a non-empty string, got " + describe(node));
        return Optional.empty();
    }

    /** The text under {@code key} of {@code m}, or {@code fallback} when the key is absent (or invalid: recorded). */
    public String textOr(YamlNode.Mapping m, String key, String what, String fallback) {
        return m.get(key).flatMap(n -> text(n, what)).orElse(fallback);
    }

    /** {@code node} as a whole number in {@code [min, max]}. */
    public Optional<Long> wholeNumber(YamlNode node, String what, long min, long max) {
        if (node instanceof YamlNode.Scalar s) {
            try {
                long v = Long.parseLong(s.text().replace("_", ""));
                if (v < min || v > max) {
                    add(node, what + " must be between " + min + " and " + max + ", got " + v);
                    return Optional.empty();
                }
                return Optional.of(v);
            } catch (NumberFormatException e) {
                // fall through to the problem below
            }
        }
        add(node, what + " must be a whole number, got " + describe(node));
        return Optional.empty();
    }

    /** {@code node} as an exact decimal that is zero or more. */
    public Optional<BigDecimal> nonNegativeDecimal(YamlNode node, String what) {
        if (node instanceof YamlNode.Scalar s) {
            try {
                BigDecimal v = new BigDecimal(s.text().replace("_", ""));
                if (v.signum() < 0) {
                    add(node, what + " must not be negative, got " + s.text());
                    return Optional.empty();
                }
                return Optional.of(v);
            } catch (NumberFormatException e) {
                // fall through
            }
        }
        add(node, what + " must be a decimal number, got " + describe(node));
        return Optional.empty();
    }

    /** {@code node} as {@code true}/{@code false}. */
    public Optional<Boolean> bool(YamlNode node, String what) {
        if (node instanceof YamlNode.Scalar s
                && (s.text().equals("true") || s.text().equals("false"))) {
            return Optional.of(Boolean.parseBoolean(s.text()));
        }
        add(node, what + " must be true or false, got " + describe(node));
        return Optional.empty();
    }

    /** {@code node} as an ISO date (YYYY-MM-DD). */
    public Optional<LocalDate> date(YamlNode node, String what) {
        if (node instanceof YamlNode.Scalar s) {
            try {
                return Optional.of(LocalDate.parse(s.text()));
            } catch (DateTimeParseException e) {
                // fall through
            }
        }
        add(node, what + " must be a date YYYY-MM-DD, got " + describe(node));
        return Optional.empty();
    }

    /** {@code node} as one of {@code allowed}. */
    public Optional<String> oneOf(YamlNode node, String what, Set<String> allowed) {
        Optional<String> t = text(node, what);
        if (t.isPresent() && !allowed.contains(t.get())) {
            add(node, what + " must be one of " + new TreeSet<>(allowed) + ", got '" + t.get() + "'");
            return Optional.empty();
        }
        return t;
    }

    /** Records a problem for each key of {@code m} not in {@code known} (catches typos like {@code max_token}). */
    public void rejectUnknownKeys(YamlNode.Mapping m, String where, Set<String> known) {
        for (String key : m.entries().keySet()) {
            if (!known.contains(key)) {
                add(m.keyNode(key), "unknown key '" + key + "' in " + where + "; known keys: " + new TreeSet<>(known));
            }
        }
    }

    /** A short rendering of a node for messages. */
    public static String describe(YamlNode node) {
        return switch (node) {
            case YamlNode.Scalar s -> "'" + s.text() + "'";
            case YamlNode.Null n -> "nothing";
            case YamlNode.Mapping m -> "a mapping";
            case YamlNode.Sequence q -> "a list";
        };
    }
}
