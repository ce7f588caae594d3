package dev.tiergate.config;

import com.fasterxml.jackson.core.JsonLocation;
import com.fasterxml.jackson.core.JsonParser;
import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.core.JsonToken;
import com.fasterxml.jackson.dataformat.yaml.YAMLFactory;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;

/**
 * Parses YAML into {@link YamlNode}s that remember their positions.
 *
 * <p>Duplicate keys are reported as problems (the later value wins in the tree), never silently merged:
 * a policy that defines a task type twice is a mistake worth a located error. Thread-safe.
 */
public final class YamlTree {
    private static final YAMLFactory FACTORY = new YAMLFactory();

    private YamlTree() {}

    /**
     * Reads one YAML document.
     *
     * @param source file name used in problems
     * @param text the YAML text
     * @param problems receives duplicate-key and syntax problems
     * @return the root node, or empty if the text is not valid YAML (a problem has then been added)
     */
    public static Optional<YamlNode> parse(String source, String text, List<ConfigProblem> problems) {
        try (JsonParser p = FACTORY.createParser(text)) {
            JsonToken first = p.nextToken();
            if (first == null) {
                return Optional.of(new YamlNode.Null(1, 1));
            }
            return Optional.of(read(p, source, problems, ""));
        } catch (JsonProcessingException e) {
            JsonLocation loc = e.getLocation();
            int line = loc == null ? 0 : Math.max(loc.getLineNr(), 0);
            int col = loc == null ? 0 : Math.max(loc.getColumnNr(), 0);
            problems.add(new ConfigProblem(source, line, col, "not valid YAML: " + e.getOriginalMessage()));
            return Optional.empty();
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    private static YamlNode read(JsonParser p, String source, List<ConfigProblem> problems, String path)
            throws IOException {
        JsonLocation loc = p.currentTokenLocation();
        int line = loc.getLineNr();
        int col = loc.getColumnNr();
        JsonToken t = p.currentToken();
        if (t == JsonToken.START_OBJECT) {
            Map<String, YamlNode> entries = new LinkedHashMap<>();
            Map<String, YamlNode.Scalar> keys = new LinkedHashMap<>();
            while (p.nextToken() == JsonToken.FIELD_NAME) {
                JsonLocation kl = p.currentTokenLocation();
                String name = p.currentName();
                YamlNode.Scalar key = new YamlNode.Scalar(kl.getLineNr(), kl.getColumnNr(), name);
                p.nextToken();
                YamlNode value = read(p, source, problems, path.isEmpty() ? name : path + "." + name);
                YamlNode.Scalar earlier = keys.get(name);
                if (earlier != null) {
                    problems.add(new ConfigProblem(
                            source,
                            key.line(),
                            key.column(),
                            "duplicate key '" + name + "'" + (path.isEmpty() ? "" : " under " + path)
                                    + " (first defined at line " + earlier.line() + ")"));
                }
                entries.put(name, value);
                keys.put(name, key);
            }
            return new YamlNode.Mapping(line, col, entries, keys);
        }
        if (t == JsonToken.START_ARRAY) {
            List<YamlNode> items = new ArrayList<>();
            while (p.nextToken() != JsonToken.END_ARRAY) {
                items.add(read(p, source, problems, path + "[" + items.size() + "]"));
            }
            return new YamlNode.Sequence(line, col, items);
        }
        if (t == JsonToken.VALUE_NULL) {
            return new YamlNode.Null(line, col);
        }
        return new YamlNode.Scalar(line, col, p.getText());
    }
}
