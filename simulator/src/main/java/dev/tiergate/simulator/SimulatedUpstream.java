package dev.tiergate.simulator;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.tiergate.messages.InputTokenEstimator;
import dev.tiergate.messages.TokenizerFamily;
import dev.tiergate.pricing.Usage;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.List;
import java.util.Optional;
import java.util.SplittableRandom;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicLong;

/**
 * A simulated Anthropic Messages upstream, in process: turns a request body into a {@link SimulatedResponse}
 * without any I/O or waiting.
 *
 * <p><b>Determinism.</b> Each call's randomness comes from SHA-256 of the seed and a <em>call key</em>, never from
 * shared state, so the outcome of a call does not depend on other calls or on thread interleaving. The call key is
 * either given ({@link #respond(JsonNode, String, String)}) or derived from the request: the body (without
 * {@code stream}) plus how many times this instance has seen that same body before. Identical bodies sent
 * concurrently may swap outcomes among themselves, but the set of outcomes per body stays the same.
 *
 * <p><b>What is simulated.</b> Input tokens are {@link InputTokenEstimator} with the {@link TokenizerFamily#CLASSIC}
 * family (the same number {@link #countTokens} returns); with {@code cache_control} anywhere in the request, 3/4 of
 * the prompt (if at least {@link #MIN_CACHEABLE_TOKENS}) is a cache read with the model's hit rate, else a cache
 * write. The output length is drawn from the task type's lognormal times the model's verbosity and cut at
 * {@code max_tokens}. The text is filler whose first piece is {@code [simulated MODEL]}; each piece counts as one
 * output token. Ids start with {@code msg_sim_}.
 *
 * <p>Thread-safe. Memory grows by one small entry per distinct request body (for the occurrence counts).
 */
public final class SimulatedUpstream {

    /** Prompts below this many tokens are never cached, as the real API silently skips short prefixes. */
    public static final long MIN_CACHEABLE_TOKENS = 1024;

    /** Request header naming the task type; the gateway forwards it. */
    public static final String TASK_HEADER = "x-tiergate-task";

    /** Optional request header giving the call key explicitly (e.g. a workflow's own request id). */
    public static final String CALL_KEY_HEADER = "x-tiergate-call-key";

    private static final String TASK_MODEL_PREFIX = "task:";
    private static final HexFormat HEX = HexFormat.of();

    private final long seed;
    private final SimulatorProfiles profiles;
    private final double timeCompression;
    private final InputTokenEstimator estimator = InputTokenEstimator.of(TokenizerFamily.CLASSIC);
    private final ConcurrentHashMap<String, AtomicLong> occurrences = new ConcurrentHashMap<>();

    private SimulatedUpstream(long seed, SimulatorProfiles profiles, double timeCompression) {
        if (!(timeCompression > 0) || Double.isInfinite(timeCompression)) {
            throw new IllegalArgumentException(
                    "time compression must be a finite number above 0 (1 = real time, 100 = 100x faster), got "
                            + timeCompression);
        }
        this.seed = seed;
        this.profiles = profiles;
        this.timeCompression = timeCompression;
    }

    /** A simulator with the built-in profiles, in real time. */
    public static SimulatedUpstream create(long seed) {
        return create(seed, SimulatorProfiles.builtIn(), 1.0);
    }

    /**
     * A simulator.
     *
     * @param timeCompression how much faster than simulated time the wall clock runs: 1 is real time, 100 makes a
     *     simulated second take 10 ms; above 0
     * @throws IllegalArgumentException if {@code timeCompression} is not a finite number above 0
     */
    public static SimulatedUpstream create(long seed, SimulatorProfiles profiles, double timeCompression) {
        return new SimulatedUpstream(seed, profiles, timeCompression);
    }

    /** The seed all outcomes derive from. */
    public long seed() {
        return seed;
    }

    /** The profiles in use. */
    public SimulatorProfiles profiles() {
        return profiles;
    }

    /** The time-compression factor. */
    public double timeCompression() {
        return timeCompression;
    }

    /** How long {@code simulated} time takes on the wall clock under this instance's time compression. */
    public Duration wallTime(Duration simulated) {
        return Duration.ofNanos((long) Math.ceil(simulated.toNanos() / timeCompression));
    }

    /**
     * The task type a request names itself: {@code model: "task:NAME"}, else {@code metadata.task_type}, else
     * {@link SimulatorProfiles#UNCLASSIFIED}. The {@value #TASK_HEADER} header, when present, takes precedence;
     * pass it to {@link #respond(JsonNode, String)}.
     */
    public static String taskTypeOf(JsonNode request) {
        String model = request.path("model").asText("");
        if (model.startsWith(TASK_MODEL_PREFIX) && model.length() > TASK_MODEL_PREFIX.length()) {
            return model.substring(TASK_MODEL_PREFIX.length());
        }
        JsonNode hint = request.path("metadata").path("task_type");
        if (hint.isTextual() && !hint.asText().isBlank()) {
            return hint.asText();
        }
        return SimulatorProfiles.UNCLASSIFIED;
    }

    /** Simulates a call whose task type comes from the body ({@link #taskTypeOf}). */
    public SimulatedResponse respond(JsonNode request) {
        return respond(request, taskTypeOf(request));
    }

    /**
     * Simulates a call of task type {@code taskType} (e.g. from the {@value #TASK_HEADER} header), keyed by its body
     * and how often this instance has seen that body.
     */
    public SimulatedResponse respond(JsonNode request, String taskType) {
        Optional<SimulatedResponse.Failure> invalid = validate(request, true, taskType);
        if (invalid.isPresent()) {
            return invalid.get();
        }
        String bodyKey = bodyKey(request);
        long occurrence =
                occurrences.computeIfAbsent(bodyKey, k -> new AtomicLong()).getAndIncrement();
        return simulate(request, taskType, bodyKey + "#" + occurrence);
    }

    /**
     * Simulates a call with an explicit call key: the same seed, body, task type and key always give the same
     * response, whatever else this instance has seen. The streamed and non-streamed forms of one key report the same
     * usage.
     */
    public SimulatedResponse respond(JsonNode request, String taskType, String callKey) {
        Optional<SimulatedResponse.Failure> invalid = validate(request, true, taskType);
        return invalid.isPresent() ? invalid.get() : simulate(request, taskType, "key:" + callKey);
    }

    /**
     * The prompt's input tokens, as {@code count_tokens} reports them: equal to {@code input_tokens +
     * cache_creation_input_tokens + cache_read_input_tokens} of any simulated call of the same body.
     */
    public long countTokens(JsonNode request) {
        return estimator.estimate(request);
    }

    /**
     * Minimal validation of a Messages ({@code forMessages}) or {@code count_tokens} body; the failure names the
     * field.
     */
    Optional<SimulatedResponse.Failure> validate(JsonNode request, boolean forMessages, String taskType) {
        String problem = null;
        if (!request.isObject()) {
            problem = "request body must be a JSON object";
        } else if (!request.path("model").isTextual()
                || request.path("model").asText().isBlank()) {
            problem = "model: field required (a model id string)";
        } else if (!request.path("messages").isArray()) {
            problem = "messages: field required (a list of messages)";
        } else if (request.path("messages").isEmpty()) {
            problem = "messages: must contain at least one message";
        } else if (forMessages && !request.has("max_tokens")) {
            problem = "max_tokens: field required";
        } else if (forMessages && !request.path("max_tokens").canConvertToExactIntegral()) {
            problem = "max_tokens: must be an integer, got " + request.path("max_tokens");
        } else if (forMessages && request.path("max_tokens").asLong() < 0) {
            problem = "max_tokens: must be 0 or more, got " + request.path("max_tokens");
        } else if (request.has("stream") && !request.path("stream").isBoolean()) {
            problem = "stream: must be true or false, got " + request.path("stream");
        }
        if (problem == null) {
            return Optional.empty();
        }
        String model = request.path("model").asText("");
        String requestId = "req_sim_" + HEX.formatHex(digest(seed, request.toString()), 0, 12);
        return Optional.of(new SimulatedResponse.Failure(
                model,
                taskType,
                400,
                "invalid_request_error",
                problem,
                requestId,
                0,
                new SimulatedResponse.Latency(Duration.ZERO, Duration.ZERO)));
    }

    private SimulatedResponse simulate(JsonNode request, String taskType, String callKey) {
        String model = request.path("model").asText();
        long maxTokens = request.path("max_tokens").asLong();
        boolean stream = request.path("stream").asBoolean(false);
        SimulatorProfiles.Model profile = profiles.forModel(model);
        SimulatorProfiles.OutputLength length = profiles.forTaskType(taskType);

        byte[] digest = digest(seed, taskType + "\u0000" + callKey);
        String hex = HEX.formatHex(digest, 8, 20);
        SplittableRandom random = new SplittableRandom(first8Bytes(digest));
        // Draw everything in one fixed order, whatever the branch taken, so outcomes stay stable per key.
        double failureDraw = random.nextDouble();
        double jitterDraw = random.nextDouble();
        double normal = standardNormal(random);
        double cacheDraw = random.nextDouble();
        double cutDraw = random.nextDouble();
        long textSeed = random.nextLong();

        long ttftNanos = Math.max(
                0, Math.round((profile.ttftMillis() + (2 * jitterDraw - 1) * profile.ttftJitterMillis()) * 1_000_000));
        SimulatorProfiles.Failures failures = profile.failures();
        if (failureDraw < failures.rateLimit()) {
            return failure(model, taskType, 429, "rate_limit_error", hex, failures.retryAfterSeconds(), ttftNanos);
        }
        if (failureDraw < failures.rateLimit() + failures.overloaded()) {
            return failure(model, taskType, 529, "overloaded_error", hex, 0, ttftNanos);
        }

        long drawn = Math.max(1, Math.round(length.median() * profile.verbosity() * Math.exp(length.sigma() * normal)));
        long outputTokens = Math.min(drawn, maxTokens);
        String stopReason = drawn > maxTokens ? "max_tokens" : "end_turn";
        Usage usage = usage(request, profile, cacheDraw, outputTokens);

        List<String> pieces = Filler.pieces(model, Math.toIntExact(outputTokens), textSeed);
        double nanosPerToken = 1e9 / profile.tokensPerSecond();
        long[] tokenTimes = new long[Math.max(1, pieces.size())];
        for (int i = 0; i < tokenTimes.length; i++) {
            tokenTimes[i] = ttftNanos + Math.round(i * nanosPerToken);
        }
        String id = "msg_sim_" + hex;
        SimulatedResponse.Latency latency = new SimulatedResponse.Latency(
                Duration.ofNanos(ttftNanos), Duration.ofNanos(tokenTimes[tokenTimes.length - 1]));
        if (!stream) {
            String body = Wire.messageBody(id, model, pieces, stopReason, usage);
            return new SimulatedResponse.Message(model, taskType, id, body, usage, stopReason, latency);
        }
        boolean failsMidStream =
                failureDraw < failures.rateLimit() + failures.overloaded() + failures.midStream() && pieces.size() >= 2;
        if (failsMidStream) {
            // Cut after at least one piece and before the last, so some text arrives and the message never ends.
            int cut = 1 + (int) Math.floor(cutDraw * (pieces.size() - 1));
            List<SimulatedResponse.Event> events = Wire.events(id, model, pieces, stopReason, usage, tokenTimes, cut);
            Usage reported = new Usage(
                    usage.inputTokens(),
                    1,
                    usage.cacheWrite5mTokens(),
                    usage.cacheWrite1hTokens(),
                    usage.cacheReadTokens(),
                    0);
            SimulatedResponse.Latency cutLatency =
                    new SimulatedResponse.Latency(Duration.ofNanos(ttftNanos), Duration.ofNanos(tokenTimes[cut - 1]));
            return new SimulatedResponse.MidStreamFailure(
                    model, taskType, id, events, reported, cut, "overloaded_error", cutLatency);
        }
        List<SimulatedResponse.Event> events =
                Wire.events(id, model, pieces, stopReason, usage, tokenTimes, pieces.size());
        return new SimulatedResponse.Stream(model, taskType, id, events, usage, stopReason, latency);
    }

    private Usage usage(JsonNode request, SimulatorProfiles.Model profile, double cacheDraw, long outputTokens) {
        long prompt = estimator.estimate(request);
        long cacheable = prompt * 3 / 4;
        if (!CacheMarkers.present(request) || cacheable < MIN_CACHEABLE_TOKENS) {
            return Usage.of(prompt, outputTokens);
        }
        long uncached = prompt - cacheable;
        if (cacheDraw < profile.cacheHitRate()) {
            return new Usage(uncached, outputTokens, 0, 0, cacheable, 0);
        }
        return CacheMarkers.oneHour(request)
                ? new Usage(uncached, outputTokens, 0, cacheable, 0, 0)
                : new Usage(uncached, outputTokens, cacheable, 0, 0, 0);
    }

    private SimulatedResponse.Failure failure(
            String model, String taskType, int status, String type, String hex, long retryAfter, long ttftNanos) {
        String message = status == 429
                ? "Simulated rate limit for " + model + (retryAfter > 0 ? "; retry after " + retryAfter + " s" : "")
                : "Overloaded (simulated)";
        // An error comes back quicker than a first token: a quarter of it.
        Duration at = Duration.ofNanos(ttftNanos / 4);
        return new SimulatedResponse.Failure(
                model,
                taskType,
                status,
                type,
                message,
                "req_sim_" + hex,
                retryAfter,
                new SimulatedResponse.Latency(at, at));
    }

    /** The body without {@code stream}, so a streamed and a plain call of the same request share outcomes. */
    private String bodyKey(JsonNode request) {
        JsonNode withoutStream = request;
        if (request.has("stream") && request instanceof ObjectNode object) {
            withoutStream = object.deepCopy().without("stream");
        }
        return HEX.formatHex(digest(seed, withoutStream.toString()), 0, 16);
    }

    private static byte[] digest(long seed, String key) {
        try {
            MessageDigest sha = MessageDigest.getInstance("SHA-256");
            for (int i = 7; i >= 0; i--) {
                sha.update((byte) (seed >>> (8 * i)));
            }
            sha.update(key.getBytes(StandardCharsets.UTF_8));
            return sha.digest();
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException("every JDK has SHA-256", e);
        }
    }

    private static long first8Bytes(byte[] b) {
        long v = 0;
        for (int i = 0; i < 8; i++) {
            v = (v << 8) | (b[i] & 0xFF);
        }
        return v;
    }

    // Box-Muller from two uniforms: fixed arithmetic, unlike nextGaussian(), whose algorithm may change by JDK.
    private static double standardNormal(SplittableRandom random) {
        double u1 = 1.0 - random.nextDouble(); // in (0, 1], so the log is finite
        double u2 = random.nextDouble();
        return Math.sqrt(-2.0 * Math.log(u1)) * Math.cos(2.0 * Math.PI * u2);
    }

    /** Finds {@code cache_control} markers anywhere a request may carry them. */
    private static final class CacheMarkers {
        private CacheMarkers() {}

        static boolean present(JsonNode request) {
            return request.findValue("cache_control") != null;
        }

        static boolean oneHour(JsonNode request) {
            for (JsonNode marker : request.findValues("cache_control")) {
                if ("1h".equals(marker.path("ttl").asText())) {
                    return true;
                }
            }
            return false;
        }
    }

    /** Deterministic filler text, one piece per output token, the first piece saying it is simulated. */
    static final class Filler {
        private static final String[] WORDS = {
            "the",
            "result",
            "shows",
            "that",
            "each",
            "input",
            "is",
            "handled",
            "with",
            "care",
            "and",
            "a",
            "clear",
            "summary",
            "of",
            "key",
            "points",
            "follows",
            "from",
            "evidence",
            "in",
            "this",
            "case",
            "we",
            "note",
            "further",
            "detail",
            "on",
            "scope",
            "risk",
            "cost",
            "quality",
            "data",
            "model",
            "answer",
            "so",
            "it",
            "should",
            "hold",
            "for",
            "most",
            "tasks",
            "given",
            "context",
            "as",
            "stated",
            "above",
            "overall"
        };

        private Filler() {}

        static List<String> pieces(String model, int tokens, long textSeed) {
            List<String> pieces = new ArrayList<>(tokens);
            if (tokens == 0) {
                return pieces;
            }
            pieces.add("[simulated " + model + "]");
            SplittableRandom random = new SplittableRandom(textSeed);
            for (int i = 1; i < tokens; i++) {
                String word = WORDS[random.nextInt(WORDS.length)];
                pieces.add(i % 12 == 0 ? " " + word + "." : " " + word);
            }
            return pieces;
        }
    }
}
