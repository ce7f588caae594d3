package dev.tiergate.messages;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStream;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * Checks the text estimate against token counts of the legacy Claude tokenizer, recorded in
 * {@code token-samples.jsonl} by {@code tools/token-measure/measure.cjs} (see docs/token-estimate.md).
 */
class InputTokenEstimatorAccuracyTest {

    record Sample(String id, String category, String text, long tokens) {}

    record Measured(Sample sample, long estimate) {
        double ratio() {
            return (double) estimate / sample.tokens();
        }
    }

    private static final List<Measured> MEASURED = new ArrayList<>();

    @BeforeAll
    static void measure() throws IOException {
        ObjectMapper json = new ObjectMapper();
        Map<String, String> texts = new LinkedHashMap<>();
        InputTokenEstimator estimator = InputTokenEstimator.of(TokenizerFamily.CLASSIC);
        try (InputStream in = Objects.requireNonNull(
                        InputTokenEstimatorAccuracyTest.class.getResourceAsStream("token-samples.jsonl"));
                BufferedReader lines = new BufferedReader(new InputStreamReader(in, StandardCharsets.UTF_8))) {
            for (String line = lines.readLine(); line != null; line = lines.readLine()) {
                JsonNode row = json.readTree(line);
                String id = row.path("id").asText();
                String text;
                if (row.has("text")) {
                    text = row.path("text").asText();
                } else {
                    // Large samples are stored as references: members joined by a blank line, repeated.
                    List<String> members = new ArrayList<>();
                    row.path("compose").forEach(m -> members.add(Objects.requireNonNull(texts.get(m.asText()))));
                    String joined = String.join("\n\n", members);
                    text = String.join(
                            "\n\n",
                            java.util.Collections.nCopies(row.path("repeat").asInt(), joined));
                }
                assertThat(text.length())
                        .as("chars of %s", id)
                        .isEqualTo(row.path("chars").asInt());
                texts.put(id, text);
                Sample sample = new Sample(
                        id,
                        row.path("category").asText(),
                        text,
                        row.path("tokens").asLong());
                MEASURED.add(new Measured(sample, estimator.estimateText(text)));
            }
        }
        assertThat(MEASURED).hasSizeGreaterThan(100);
        printTable();
    }

    @Test
    void neverUnderestimatesByMoreThanTheDocumentedBound() {
        double floor = 1 - InputTokenEstimator.DOCUMENTED_UNDERESTIMATE_BOUND;
        assertThat(MEASURED)
                .allSatisfy(m -> assertThat(m.ratio())
                        .as(
                                "%s: estimate %d vs true %d",
                                m.sample().id(), m.estimate(), m.sample().tokens())
                        .isGreaterThanOrEqualTo(floor));
    }

    @Test
    void neverUnderestimatesNaturalTextCodeOrJson() {
        // Only the generated random identifiers may fall below the true count (down to the documented bound).
        assertThat(MEASURED)
                .filteredOn(m -> !m.sample().category().equals("ids"))
                .allSatisfy(m -> assertThat(m.ratio())
                        .as(
                                "%s: estimate %d vs true %d",
                                m.sample().id(), m.estimate(), m.sample().tokens())
                        .isGreaterThanOrEqualTo(1.0));
    }

    @Test
    void overestimateStaysModestOnEnglishAndCode() {
        for (String category : List.of("prose", "code", "json", "markup")) {
            assertThat(median(ratios(category)))
                    .as("median estimate/true for %s", category)
                    .isLessThan(1.6);
        }
    }

    private static List<Double> ratios(String category) {
        return MEASURED.stream()
                .filter(m -> m.sample().category().equals(category))
                .map(Measured::ratio)
                .sorted()
                .toList();
    }

    private static double median(List<Double> sorted) {
        int n = sorted.size();
        return n % 2 == 1 ? sorted.get(n / 2) : (sorted.get(n / 2 - 1) + sorted.get(n / 2)) / 2;
    }

    /** The per-category table of docs/token-estimate.md, printed so it can be refreshed from a test run. */
    private static void printTable() {
        StringBuilder table =
                new StringBuilder("| category | n | median | max | min (sample) |\n|---|---|---|---|---|\n");
        MEASURED.stream().map(m -> m.sample().category()).distinct().forEach(category -> {
            List<Double> r = ratios(category);
            Measured min = MEASURED.stream()
                    .filter(m -> m.sample().category().equals(category))
                    .min((a, b) -> Double.compare(a.ratio(), b.ratio()))
                    .orElseThrow();
            table.append(String.format(
                    java.util.Locale.ROOT,
                    "| %s | %d | %.2f | %.2f | %.2f (%s) |%n",
                    category,
                    r.size(),
                    median(r),
                    r.get(r.size() - 1),
                    min.ratio(),
                    min.sample().id()));
        });
        System.out.print(table);
    }
}
