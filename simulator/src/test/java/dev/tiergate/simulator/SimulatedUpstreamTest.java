package dev.tiergate.simulator;

import static dev.tiergate.simulator.Requests.request;
import static dev.tiergate.simulator.Requests.streaming;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.tiergate.messages.StreamOutcome;
import dev.tiergate.messages.StreamUsageTracker;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.TreeMap;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import org.junit.jupiter.api.Test;

class SimulatedUpstreamTest {
    private static final String OPUS = "claude-opus-4-6";
    private static final String HAIKU = "claude-haiku-4-5-20251001";

    private static List<ObjectNode> workload(int distinct) {
        List<ObjectNode> requests = new ArrayList<>();
        String[] models = {OPUS, HAIKU, "claude-sonnet-4-6", "some-unknown-model"};
        for (int i = 0; i < distinct; i++) {
            ObjectNode r = request(models[i % models.length], 200 + 300L * (i % 5), "question number " + i);
            requests.add(i % 3 == 0 ? streaming(r) : r);
        }
        return requests;
    }

    private static SimulatedUpstream flaky(long seed) {
        SimulatorProfiles profiles =
                SimulatorProfiles.builtIn().withFailures(new SimulatorProfiles.Failures(0.1, 0.05, 0.05, 3));
        return SimulatedUpstream.create(seed, profiles, 1.0);
    }

    @Test
    void sameSeedAndRequestsGiveByteIdenticalResponses() {
        List<ObjectNode> requests = workload(120);
        SimulatedUpstream a = flaky(7);
        SimulatedUpstream b = flaky(7);
        List<String> first = new ArrayList<>();
        List<String> second = new ArrayList<>();
        for (ObjectNode r : requests) {
            first.add(Requests.render(a.respond(r, "extraction")));
        }
        for (ObjectNode r : requests) {
            second.add(Requests.render(b.respond(r, "extraction")));
        }
        assertThat(second).isEqualTo(first);

        SimulatedUpstream otherSeed = flaky(8);
        List<String> third = new ArrayList<>();
        for (ObjectNode r : requests) {
            third.add(Requests.render(otherSeed.respond(r, "extraction")));
        }
        assertThat(third).isNotEqualTo(first);
    }

    @Test
    void concurrentCallsInAnyOrderGiveTheSameResponsesPerRequest() throws Exception {
        // Each distinct body three times: identical bodies may swap outcomes, but each body's set is fixed.
        List<ObjectNode> requests = new ArrayList<>();
        for (ObjectNode r : workload(100)) {
            requests.add(r);
            requests.add(r);
            requests.add(r);
        }
        Map<String, List<String>> sequential = new TreeMap<>();
        SimulatedUpstream reference = flaky(42);
        for (ObjectNode r : requests) {
            sequential
                    .computeIfAbsent(r.toString(), k -> new ArrayList<>())
                    .add(Requests.render(reference.respond(r, "summarization")));
        }
        sequential.values().forEach(Collections::sort);

        for (long shuffleSeed = 1; shuffleSeed <= 3; shuffleSeed++) {
            List<ObjectNode> shuffled = new ArrayList<>(requests);
            Collections.shuffle(shuffled, new Random(shuffleSeed));
            SimulatedUpstream concurrent = flaky(42);
            Map<String, List<String>> seen = new ConcurrentHashMap<>();
            try (ExecutorService threads = Executors.newVirtualThreadPerTaskExecutor()) {
                List<Future<?>> done = new ArrayList<>();
                for (ObjectNode r : shuffled) {
                    done.add(threads.submit(() -> seen.computeIfAbsent(
                                    r.toString(), k -> Collections.synchronizedList(new ArrayList<>()))
                            .add(Requests.render(concurrent.respond(r, "summarization")))));
                }
                for (Future<?> f : done) {
                    f.get();
                }
            }
            Map<String, List<String>> sorted = new TreeMap<>();
            seen.forEach((k, v) -> {
                List<String> copy = new ArrayList<>(v);
                Collections.sort(copy);
                sorted.put(k, copy);
            });
            assertThat(sorted).isEqualTo(sequential);
        }
    }

    @Test
    void explicitCallKeysGiveTheSameResponseWhateverCameBefore() {
        ObjectNode r = request(OPUS, 4000, "same question");
        SimulatedUpstream a = SimulatedUpstream.create(3);
        SimulatedUpstream b = SimulatedUpstream.create(3);
        for (int i = 0; i < 10; i++) {
            a.respond(request(HAIKU, 100, "noise " + i));
        }
        assertThat(Requests.render(a.respond(r, "judge", "call-1")))
                .isEqualTo(Requests.render(b.respond(r, "judge", "call-1")))
                .isNotEqualTo(Requests.render(b.respond(r, "judge", "call-2")));
    }

    @Test
    void stopsWithMaxTokensExactlyWhenTheCapCutsTheDrawnLength() {
        SimulatedUpstream sim = SimulatedUpstream.create(11);
        int cut = 0;
        int notCut = 0;
        for (int i = 0; i < 300; i++) {
            String key = "k" + i;
            var uncapped = (SimulatedResponse.Message) sim.respond(request(OPUS, 1_000_000, "q"), "synthesis", key);
            long drawn = uncapped.usage().outputTokens();
            assertThat(uncapped.stopReason()).isEqualTo("end_turn");
            long cap = 1500 + i * 10L;
            var capped = (SimulatedResponse.Message) sim.respond(request(OPUS, cap, "q"), "synthesis", key);
            if (drawn > cap) {
                cut++;
                assertThat(capped.stopReason()).isEqualTo("max_tokens");
                assertThat(capped.usage().outputTokens()).isEqualTo(cap);
            } else {
                notCut++;
                assertThat(capped.stopReason()).isEqualTo("end_turn");
                assertThat(capped.usage().outputTokens()).isEqualTo(drawn);
            }
            assertThat(json(capped.body()).path("usage").path("output_tokens").asLong())
                    .isEqualTo(capped.usage().outputTokens());
            assertThat(json(capped.body()).path("stop_reason").asText()).isEqualTo(capped.stopReason());
        }
        assertThat(cut).isPositive();
        assertThat(notCut).isPositive();
    }

    @Test
    void maxTokensZeroReturnsNoContentAndStopsAtTheCap() {
        var m = (SimulatedResponse.Message) SimulatedUpstream.create(1).respond(request(OPUS, 0, "warm the cache"));
        assertThat(m.usage().outputTokens()).isZero();
        assertThat(m.stopReason()).isEqualTo("max_tokens");
        assertThat(json(m.body()).path("content").isEmpty()).isTrue();

        var s = (SimulatedResponse.Stream)
                SimulatedUpstream.create(1).respond(streaming(request(OPUS, 0, "warm the cache")));
        StreamUsageTracker tracker = Requests.track(s);
        assertThat(tracker.outcome()).isInstanceOf(StreamOutcome.Completed.class);
        assertThat(tracker.usage().outputTokens()).isZero();
    }

    @Test
    void frontierModelsWriteSeveralTimesMoreThanSmallOnesForTheSameTask() {
        SimulatedUpstream sim = SimulatedUpstream.create(5);
        List<Long> opus = new ArrayList<>();
        List<Long> haiku = new ArrayList<>();
        for (int i = 0; i < 400; i++) {
            opus.add(outputTokens(sim.respond(request(OPUS, 1_000_000, "extract " + i), "extraction")));
            haiku.add(outputTokens(sim.respond(request(HAIKU, 1_000_000, "extract " + i), "extraction")));
        }
        double ratio = (double) median(opus) / median(haiku);
        // Built-in verbosity is 5.0 vs 1.0; the medians of 400 lognormal draws land well inside 3.5-7.
        assertThat(ratio).isBetween(3.5, 7.0);
        assertThat(median(haiku)).isBetween(110L, 200L); // the extraction median is 150
    }

    @Test
    void injectedFailureRatesAreRoughlyHonoured() {
        SimulatedUpstream sim = flaky(99);
        int n = 4000;
        int rateLimited = 0;
        int overloaded = 0;
        int midStream = 0;
        for (int i = 0; i < n; i++) {
            SimulatedResponse r = sim.respond(streaming(request(HAIKU, 4000, "call " + i)), "extraction");
            switch (r) {
                case SimulatedResponse.Failure f
                when f.status() == 429 -> {
                    rateLimited++;
                    assertThat(f.errorType()).isEqualTo("rate_limit_error");
                    assertThat(f.retryAfter()).hasValue(3);
                }
                case SimulatedResponse.Failure f -> {
                    overloaded++;
                    assertThat(f.status()).isEqualTo(529);
                    assertThat(f.errorType()).isEqualTo("overloaded_error");
                    assertThat(f.retryAfter()).isEmpty();
                }
                case SimulatedResponse.MidStreamFailure f -> {
                    midStream++;
                    StreamUsageTracker tracker = Requests.track(f);
                    assertThat(tracker.outcome())
                            .isEqualTo(new StreamOutcome.UpstreamError(
                                    "overloaded_error", "Overloaded (simulated mid-stream failure)"));
                    assertThat(tracker.messageStopped()).isFalse();
                    assertThat(tracker.usage()).isEqualTo(f.usage());
                    assertThat(f.outputTokensBeforeError()).isPositive();
                }
                case SimulatedResponse.Stream s -> {}
                case SimulatedResponse.Message m -> throw new AssertionError("a streamed request got JSON: " + m);
            }
        }
        // Expected 400, 200 and 200 of 4000; binomial sd is about 19 and 14, so these bounds are ~5 sd wide.
        assertThat(rateLimited).isBetween(300, 500);
        assertThat(overloaded).isBetween(130, 270);
        assertThat(midStream).isBetween(130, 270);

        // Non-streamed calls never fail mid-stream; their failure rate is rate_limit + overloaded.
        for (int i = 0; i < 500; i++) {
            assertThat(sim.respond(request(HAIKU, 4000, "plain " + i), "extraction"))
                    .isNotInstanceOf(SimulatedResponse.MidStreamFailure.class);
        }
    }

    @Test
    void streamIsWellFormedAndReportsTheSameUsageAsTheJsonCall() {
        SimulatedUpstream sim = SimulatedUpstream.create(21);
        for (int i = 0; i < 50; i++) {
            String model = i % 2 == 0 ? OPUS : HAIKU;
            ObjectNode plain = request(model, 200 + 40L * i, "tell me about item " + i);
            var message = (SimulatedResponse.Message) sim.respond(plain, "summarization", "key-" + i);
            var stream = (SimulatedResponse.Stream) sim.respond(streaming(plain), "summarization", "key-" + i);

            StreamUsageTracker tracker = Requests.track(stream);
            assertThat(tracker.outcome()).isInstanceOf(StreamOutcome.Completed.class);
            assertThat(tracker.messageStopped()).isTrue();
            assertThat(tracker.usage()).isEqualTo(message.usage()).isEqualTo(stream.usage());
            assertThat(tracker.stopReason()).hasValue(message.stopReason());
            assertThat(tracker.messageId()).hasValue(message.id());
            assertThat(tracker.model()).hasValue(model);
            assertThat(Requests.streamedText(stream))
                    .isEqualTo(json(message.body())
                            .path("content")
                            .get(0)
                            .path("text")
                            .asText());
            assertThat(stream.latency()).isEqualTo(message.latency());
            Duration sum =
                    stream.events().stream().map(SimulatedResponse.Event::delay).reduce(Duration.ZERO, Duration::plus);
            assertThat(sum).isEqualTo(stream.latency().total());
            assertThat(stream.events().getFirst().delay())
                    .isEqualTo(stream.latency().timeToFirstToken());
        }
    }

    @Test
    void everyOutputSaysItIsSimulated() {
        var m = (SimulatedResponse.Message) SimulatedUpstream.create(1).respond(request(OPUS, 500, "hi"));
        JsonNode body = json(m.body());
        assertThat(body.path("id").asText()).startsWith("msg_sim_");
        assertThat(body.path("content").get(0).path("text").asText()).startsWith("[simulated claude-opus-4-6]");
        assertThat(body.path("model").asText()).isEqualTo(OPUS);
    }

    @Test
    void usageAddsUpToCountTokensWithAndWithoutCaching() {
        SimulatedUpstream sim = SimulatedUpstream.create(4);
        ObjectNode plain = request(HAIKU, 300, "a short question");
        var m = (SimulatedResponse.Message) sim.respond(plain);
        assertThat(m.usage().promptTokens()).isEqualTo(sim.countTokens(plain));
        assertThat(m.usage().cacheReadTokens() + m.usage().cacheWriteTokens()).isZero();

        ObjectNode cached = request(HAIKU, 300, "a question about the manual");
        cached.putArray("system")
                .addObject()
                .put("type", "text")
                .put("text", "manual section. ".repeat(2000))
                .putObject("cache_control")
                .put("type", "ephemeral");
        int reads = 0;
        int writes = 0;
        for (int i = 0; i < 200; i++) {
            var r = (SimulatedResponse.Message) sim.respond(cached, "extraction", "c" + i);
            assertThat(r.usage().promptTokens()).isEqualTo(sim.countTokens(cached));
            assertThat(r.usage().cacheWrite1hTokens()).isZero();
            if (r.usage().cacheReadTokens() > 0) {
                reads++;
            } else {
                writes++;
                assertThat(r.usage().cacheWrite5mTokens()).isPositive();
            }
        }
        // Built-in hit rate 0.8.
        assertThat(reads).isBetween(130, 190);
        assertThat(writes).isEqualTo(200 - reads);

        ((ObjectNode) cached.path("system").get(0).path("cache_control")).put("ttl", "1h");
        boolean sawHourWrite = false;
        for (int i = 0; i < 50; i++) {
            var r = (SimulatedResponse.Message) sim.respond(cached, "extraction", "h" + i);
            sawHourWrite |= r.usage().cacheWrite1hTokens() > 0;
            assertThat(r.usage().cacheWrite5mTokens()).isZero();
        }
        assertThat(sawHourWrite).isTrue();
    }

    @Test
    void taskTypeComesFromTheModelAliasThenMetadataElseUnclassified() {
        ObjectNode alias = request("task:synthesis", 100, "x");
        ObjectNode meta = request(OPUS, 100, "x");
        meta.putObject("metadata").put("task_type", "classification");
        assertThat(SimulatedUpstream.taskTypeOf(alias)).isEqualTo("synthesis");
        assertThat(SimulatedUpstream.taskTypeOf(meta)).isEqualTo("classification");
        assertThat(SimulatedUpstream.taskTypeOf(request(OPUS, 100, "x"))).isEqualTo("unclassified");
        assertThat(SimulatedUpstream.create(1).respond(meta).taskType()).isEqualTo("classification");
        assertThat(SimulatedUpstream.create(1).respond(meta, "judge").taskType())
                .isEqualTo("judge");
    }

    @Test
    void badRequestsGetA400NamingTheField() {
        SimulatedUpstream sim = SimulatedUpstream.create(1);
        ObjectNode noMessages = request(OPUS, 100, "x");
        noMessages.remove("messages");
        ObjectNode badMax = request(OPUS, 100, "x").put("max_tokens", "lots");
        ObjectNode negativeMax = request(OPUS, -1, "x");
        ObjectNode noMax = request(OPUS, 1, "x");
        noMax.remove("max_tokens");

        assertThat(sim.respond(noMessages)).isInstanceOfSatisfying(SimulatedResponse.Failure.class, f -> {
            assertThat(f.status()).isEqualTo(400);
            assertThat(f.errorType()).isEqualTo("invalid_request_error");
            assertThat(f.message()).startsWith("messages:");
            assertThat(json(f.body()).path("error").path("type").asText()).isEqualTo("invalid_request_error");
        });
        assertThat(sim.respond(badMax))
                .isInstanceOfSatisfying(
                        SimulatedResponse.Failure.class,
                        f -> assertThat(f.message()).isEqualTo("max_tokens: must be an integer, got \"lots\""));
        assertThat(sim.respond(negativeMax))
                .isInstanceOfSatisfying(
                        SimulatedResponse.Failure.class,
                        f -> assertThat(f.message()).startsWith("max_tokens:"));
        assertThat(sim.respond(noMax))
                .isInstanceOfSatisfying(
                        SimulatedResponse.Failure.class,
                        f -> assertThat(f.message()).isEqualTo("max_tokens: field required"));
    }

    @Test
    void timeCompressionShrinksWallTimeOnly() {
        SimulatedUpstream fast = SimulatedUpstream.create(1, SimulatorProfiles.builtIn(), 100);
        SimulatedUpstream real = SimulatedUpstream.create(1);
        ObjectNode r = request(OPUS, 500, "x");
        assertThat(fast.respond(r).latency()).isEqualTo(real.respond(r).latency());
        assertThat(fast.wallTime(Duration.ofSeconds(2))).isEqualTo(Duration.ofMillis(20));
        assertThatThrownBy(() -> SimulatedUpstream.create(1, SimulatorProfiles.builtIn(), 0))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("time compression");
    }

    @Test
    void latencyFollowsTheProfile() {
        var m = (SimulatedResponse.Message) SimulatedUpstream.create(1).respond(request(HAIKU, 4000, "x"), "synthesis");
        // Haiku: 400 +- 120 ms to the first token, then 150 tokens per second.
        long ttft = m.latency().timeToFirstToken().toMillis();
        assertThat(ttft).isBetween(280L, 520L);
        long expectedTotal = ttft + (m.usage().outputTokens() - 1) * 1000 / 150;
        assertThat(m.latency().total().toMillis()).isBetween(expectedTotal - 2, expectedTotal + 2);
    }

    private static long outputTokens(SimulatedResponse r) {
        return ((SimulatedResponse.Message) r).usage().outputTokens();
    }

    private static long median(List<Long> values) {
        List<Long> sorted = new ArrayList<>(values);
        Collections.sort(sorted);
        return sorted.get(sorted.size() / 2);
    }

    private static JsonNode json(String text) {
        try {
            return Requests.JSON.readTree(text);
        } catch (java.io.IOException e) {
            throw new java.io.UncheckedIOException(e);
        }
    }
}
