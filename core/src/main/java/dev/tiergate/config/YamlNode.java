package dev.tiergate.config;

import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;

/**
 * A YAML value with the position it was read at, so validation can point at the exact line and column.
 *
 * <p>Built by {@link YamlTree}. Mappings keep their keys in file order.
 */
public sealed interface YamlNode permits YamlNode.Mapping, YamlNode.Sequence, YamlNode.Scalar, YamlNode.Null {

    /** 1-based line of the value's start. */
    int line();

    /** 1-based column of the value's start. */
    int column();

    /** A short word for messages: "a mapping", "a list", "a scalar", "null". */
    String kind();

    /** A key/value mapping; {@code keys} holds each key's own position. */
    record Mapping(int line, int column, Map<String, YamlNode> entries, Map<String, Scalar> keys) implements YamlNode {
        public Mapping {
            entries = java.util.Collections.unmodifiableMap(new LinkedHashMap<>(entries));
            keys = java.util.Collections.unmodifiableMap(new LinkedHashMap<>(keys));
        }

        /** The value under {@code key}, if present. */
        public Optional<YamlNode> get(String key) {
            return Optional.ofNullable(entries.get(key));
        }

        /** The position of {@code key} itself, falling back to the mapping's position. */
        public YamlNode keyNode(String key) {
            Scalar k = keys.get(key);
            return k != null ? k : this;
        }

        @Override
        public String kind() {
            return "a mapping";
        }
    }

    /** A list. */
    record Sequence(int line, int column, List<YamlNode> items) implements YamlNode {
        public Sequence {
            items = List.copyOf(items);
        }

        @Override
        public String kind() {
            return "a list";
        }
    }

    /** A string, number or boolean, as written. */
    record Scalar(int line, int column, String text) implements YamlNode {
        @Override
        public String kind() {
            return "a scalar";
        }
    }

    /** An explicit or empty null value. */
    record Null(int line, int column) implements YamlNode {
        @Override
        public String kind() {
            return "null";
        }
    }
}
