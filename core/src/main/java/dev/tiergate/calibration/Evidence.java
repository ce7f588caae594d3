package dev.tiergate.calibration;

import dev.tiergate.RouterException;
import dev.tiergate.pricing.Money;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.math.BigDecimal;
import java.math.RoundingMode;
import java.nio.charset.MalformedInputException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Collections;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.TreeMap;
import java.util.TreeSet;

/**
 * Recorded outcomes of models on the same queries: one {@link Outcome} per (query, model).
 *
 * <p>The file format is CSV with the header {@code item_id,task_type,model,score,input_tokens,output_tokens,cost_usd}
 * (columns in any order; extra columns are ignored). {@code cost_usd} may be empty when a {@link CallPricer} knows
 * the model's price (see {@link CallPricer#fromCatalog}). Loading is all or nothing: every problem in the file is collected and reported in one {@link
 * EvidenceException}.
 *
 * <p>Immutable and thread-safe. Iteration orders (task types, models, items) are sorted, so everything computed
 * from evidence is deterministic.
 */
public final class Evidence {

    static final List<String> COLUMNS =
            List.of("item_id", "task_type", "model", "score", "input_tokens", "output_tokens", "cost_usd");

    private final List<Outcome> outcomes;
    // task type -> model -> item -> outcome; sorted maps for deterministic iteration
    private final Map<String, Map<String, Map<String, Outcome>>> byType;
    private final Map<String, List<String>> itemsByType;

    private Evidence(List<Outcome> outcomes, Map<String, Map<String, Map<String, Outcome>>> byType) {
        this.outcomes = List.copyOf(outcomes);
        Map<String, Map<String, Map<String, Outcome>>> frozen = new TreeMap<>();
        Map<String, List<String>> items = new TreeMap<>();
        byType.forEach((type, byModel) -> {
            Map<String, Map<String, Outcome>> models = new TreeMap<>();
            Set<String> ids = new TreeSet<>();
            byModel.forEach((model, byItem) -> {
                models.put(model, Collections.unmodifiableMap(new TreeMap<>(byItem)));
                ids.addAll(byItem.keySet());
            });
            frozen.put(type, Collections.unmodifiableMap(models));
            items.put(type, List.copyOf(ids));
        });
        this.byType = Collections.unmodifiableMap(frozen);
        this.itemsByType = Collections.unmodifiableMap(items);
    }

    /**
     * Reads an evidence CSV file.
     *
     * @param pricer prices rows whose {@code cost_usd} is empty
     * @throws EvidenceException listing every problem as {@code FILE:LINE: problem}
     * @throws UncheckedIOException if the file cannot be read
     */
    public static Evidence read(Path file, CallPricer pricer) {
        List<String> lines;
        try {
            lines = Files.readAllLines(file, StandardCharsets.UTF_8);
        } catch (MalformedInputException e) {
            throw new EvidenceException(
                    "invalid evidence file " + file, List.of(file + ": not UTF-8 text (" + e.getMessage() + ")"));
        } catch (IOException e) {
            throw new UncheckedIOException("cannot read evidence file " + file + ": " + e.getMessage(), e);
        }
        return parse(file.toString(), lines, pricer);
    }

    /**
     * Parses evidence CSV lines.
     *
     * @param source the name used in problem messages, usually the file path
     * @throws EvidenceException listing every problem as {@code SOURCE:LINE: problem}
     */
    public static Evidence parse(String source, List<String> lines, CallPricer pricer) {
        List<String> problems = new ArrayList<>();
        int headerIndex = 0;
        while (headerIndex < lines.size() && lines.get(headerIndex).isBlank()) {
            headerIndex++;
        }
        if (headerIndex == lines.size()) {
            throw new EvidenceException(
                    "invalid evidence file " + source,
                    List.of(source + ":1: empty file; expected the header " + String.join(",", COLUMNS)));
        }
        String headerLine = stripBom(lines.get(headerIndex));
        List<String> header = splitCsv(headerLine).orElse(List.of());
        Map<String, Integer> column = new HashMap<>();
        for (int i = 0; i < header.size(); i++) {
            column.putIfAbsent(header.get(i).trim(), i);
        }
        List<String> missing =
                COLUMNS.stream().filter(c -> !column.containsKey(c)).toList();
        if (!missing.isEmpty()) {
            throw new EvidenceException(
                    "invalid evidence file " + source,
                    List.of(source + ":" + (headerIndex + 1) + ": header lacks column(s) " + String.join(", ", missing)
                            + "; expected " + String.join(",", COLUMNS)));
        }

        // Position of each of COLUMNS in this file's header.
        int[] at = COLUMNS.stream().mapToInt(c -> column.getOrDefault(c, -1)).toArray();

        List<Outcome> outcomes = new ArrayList<>();
        Map<String, Integer> lineOfKey = new HashMap<>();
        Map<String, String> typeOfItem = new HashMap<>();
        Map<String, Integer> lineOfItemType = new HashMap<>();
        for (int i = headerIndex + 1; i < lines.size(); i++) {
            String line = lines.get(i);
            if (line.isBlank()) {
                continue;
            }
            int lineNo = i + 1;
            String where = source + ":" + lineNo + ": ";
            Optional<List<String>> split = splitCsv(line);
            if (split.isEmpty()) {
                problems.add(where + "unterminated quoted field");
                continue;
            }
            List<String> fields = split.get();
            if (fields.size() != header.size()) {
                problems.add(where + "expected " + header.size() + " fields, found " + fields.size());
                continue;
            }
            int before = problems.size();
            String itemId = fields.get(at[0]).trim();
            String taskType = fields.get(at[1]).trim();
            String model = fields.get(at[2]).trim();
            for (int k = 0; k < 3; k++) {
                if (fields.get(at[k]).isBlank()) {
                    problems.add(where + COLUMNS.get(k) + " is empty");
                }
            }
            double score = parseScore(fields.get(at[3]).trim(), where, problems);
            long input = parseTokens("input_tokens", fields.get(at[4]).trim(), where, problems);
            long output = parseTokens("output_tokens", fields.get(at[5]).trim(), where, problems);
            Optional<Money> given = parseCost(fields.get(at[6]).trim(), where, problems);
            if (problems.size() > before) {
                continue;
            }
            Optional<Money> priced;
            try {
                priced = given.isPresent() ? given : pricer.cost(model, input, output);
            } catch (RouterException | ArithmeticException e) {
                problems.add(where + "cannot price " + input + " input and " + output + " output tokens of model '"
                        + model + "': " + e.getMessage());
                continue;
            }
            if (priced.isEmpty()) {
                problems.add(where + "cost_usd is empty and no price is known for model '" + model
                        + "'; give cost_usd or use a model from the catalog");
                continue;
            }
            Money cost = priced.get();
            String key = itemId + '\u0000' + model;
            Integer previous = lineOfKey.putIfAbsent(key, lineNo);
            if (previous != null) {
                problems.add(where + "duplicate row for item '" + itemId + "' and model '" + model + "' (first at line "
                        + previous + ")");
                continue;
            }
            String knownType = typeOfItem.putIfAbsent(itemId, taskType);
            if (knownType != null && !knownType.equals(taskType)) {
                problems.add(where + "item '" + itemId + "' has task_type '" + taskType + "' but line "
                        + lineOfItemType.get(itemId) + " gives '" + knownType + "'");
                continue;
            }
            lineOfItemType.putIfAbsent(itemId, lineNo);
            outcomes.add(new Outcome(itemId, taskType, model, score, input, output, cost));
        }
        if (!problems.isEmpty()) {
            throw new EvidenceException(
                    "invalid evidence file " + source + ": " + problems.size() + " problem"
                            + (problems.size() == 1 ? "" : "s") + ", nothing loaded",
                    problems);
        }
        if (outcomes.isEmpty()) {
            throw new EvidenceException(
                    "invalid evidence file " + source,
                    List.of(source + ":" + (headerIndex + 1) + ": no rows after the header"));
        }
        return of(outcomes);
    }

    /**
     * Evidence from outcomes already in memory.
     *
     * @throws IllegalArgumentException if two outcomes share an item and model, or one item has two task types
     */
    public static Evidence of(List<Outcome> outcomes) {
        Map<String, Map<String, Map<String, Outcome>>> byType = new TreeMap<>();
        Map<String, String> typeOfItem = new HashMap<>();
        for (Outcome o : outcomes) {
            String known = typeOfItem.putIfAbsent(o.itemId(), o.taskType());
            if (known != null && !known.equals(o.taskType())) {
                throw new IllegalArgumentException(
                        "item '" + o.itemId() + "' has two task types: '" + known + "' and '" + o.taskType() + "'");
            }
            Outcome clash = byType.computeIfAbsent(o.taskType(), t -> new TreeMap<>())
                    .computeIfAbsent(o.model(), m -> new TreeMap<>())
                    .putIfAbsent(o.itemId(), o);
            if (clash != null) {
                throw new IllegalArgumentException(
                        "two outcomes for item '" + o.itemId() + "' and model '" + o.model() + "'");
            }
        }
        return new Evidence(outcomes, byType);
    }

    /** Every outcome, in input order. */
    public List<Outcome> outcomes() {
        return outcomes;
    }

    /** The task types, sorted. */
    public List<String> taskTypes() {
        return List.copyOf(byType.keySet());
    }

    /** Every model that appears anywhere, sorted. */
    public List<String> models() {
        Set<String> all = new TreeSet<>();
        byType.values().forEach(m -> all.addAll(m.keySet()));
        return List.copyOf(all);
    }

    /** The models with at least one outcome on {@code taskType}, sorted; empty for an unknown type. */
    public List<String> models(String taskType) {
        return List.copyOf(byType.getOrDefault(taskType, Map.of()).keySet());
    }

    /** The item ids of {@code taskType}, sorted; empty for an unknown type. */
    public List<String> items(String taskType) {
        return itemsByType.getOrDefault(taskType, List.of());
    }

    /** The outcomes of {@code model} on {@code taskType}, by item id (sorted); empty if there are none. */
    public Map<String, Outcome> outcomes(String taskType, String model) {
        return byType.getOrDefault(taskType, Map.of()).getOrDefault(model, Map.of());
    }

    /** The outcome of {@code model} on one item, if recorded. */
    public Optional<Outcome> outcome(String taskType, String itemId, String model) {
        return Optional.ofNullable(outcomes(taskType, model).get(itemId));
    }

    private static String stripBom(String s) {
        return s.startsWith("\uFEFF") ? s.substring(1) : s;
    }

    private static double parseScore(String text, String where, List<String> problems) {
        try {
            double score = Double.parseDouble(text);
            if (score >= 0 && score <= 1) {
                return score;
            }
            problems.add(where + "score " + text + " is outside [0, 1]");
        } catch (NumberFormatException e) {
            problems.add(where + "score '" + text + "' is not a number");
        }
        return 0;
    }

    private static long parseTokens(String name, String text, String where, List<String> problems) {
        try {
            long tokens = Long.parseLong(text);
            if (tokens >= 0) {
                return tokens;
            }
            problems.add(where + name + " " + text + " is negative");
        } catch (NumberFormatException e) {
            problems.add(where + name + " '" + text + "' is not a whole number");
        }
        return 0;
    }

    /** The cost; empty when the field is empty (a problem, if any, is recorded and zero returned). */
    private static Optional<Money> parseCost(String text, String where, List<String> problems) {
        if (text.isEmpty()) {
            return Optional.empty();
        }
        try {
            BigDecimal usd = new BigDecimal(text);
            if (usd.signum() < 0) {
                problems.add(where + "cost_usd " + text + " is negative");
                return Optional.of(Money.ZERO);
            }
            // Evidence costs are list-price estimates; sub-nano-USD digits carry no information.
            return Optional.of(Money.ofUsd(usd.setScale(9, RoundingMode.HALF_EVEN)));
        } catch (NumberFormatException e) {
            problems.add(where + "cost_usd '" + text + "' is not a decimal number");
        } catch (IllegalArgumentException e) {
            problems.add(where + "cost_usd " + text + " is too large");
        }
        return Optional.of(Money.ZERO);
    }

    /** Splits one CSV line (RFC 4180 quoting, no embedded newlines); empty if a quote is unterminated. */
    static Optional<List<String>> splitCsv(String line) {
        List<String> fields = new ArrayList<>();
        StringBuilder field = new StringBuilder();
        boolean quoted = false;
        for (int i = 0; i < line.length(); i++) {
            char ch = line.charAt(i);
            if (quoted) {
                if (ch == '"') {
                    if (i + 1 < line.length() && line.charAt(i + 1) == '"') {
                        field.append('"');
                        i++;
                    } else {
                        quoted = false;
                    }
                } else {
                    field.append(ch);
                }
            } else if (ch == '"') {
                quoted = true;
            } else if (ch == ',') {
                fields.add(field.toString());
                field.setLength(0);
            } else {
                field.append(ch);
            }
        }
        if (quoted) {
            return Optional.empty();
        }
        fields.add(field.toString());
        return Optional.of(fields);
    }
}
