package dev.tiergate.gateway;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.tiergate.budget.Admission;
import dev.tiergate.budget.AppliedBudget;
import dev.tiergate.budget.BudgetRules;
import dev.tiergate.budget.CallAttributes;
import dev.tiergate.budget.ReservationId;
import dev.tiergate.ledger.Call;
import dev.tiergate.ledger.CallStatus;
import dev.tiergate.ledger.Outcome;
import dev.tiergate.ledger.ShadowEvidence;
import dev.tiergate.messages.InputTokenEstimator;
import dev.tiergate.messages.TokenizerFamily;
import dev.tiergate.pricing.Cost;
import dev.tiergate.pricing.CostOptions;
import dev.tiergate.pricing.ModelSpec;
import dev.tiergate.pricing.Money;
import dev.tiergate.pricing.PricingException;
import dev.tiergate.pricing.Usage;
import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Semaphore;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;

/**
 * Shadow evaluation: a sample of served calls is replayed on a cheaper candidate model and a judge compares the two
 * answers, in both orders; the comparison is written to the ledger as evidence for {@code tiergate calibrate}.
 *
 * <p>Shadow work starts only after the caller has its complete response, runs on its own virtual threads (at most
 * {@value #CONCURRENCY} at once, at most {@value #BACKLOG} waiting; more are skipped), and never touches the
 * caller's response. Every shadow and judge call is reserved against the hard {@code shadow} budget (and the
 * configured budgets that apply to key {@code shadow}) before it is sent, and settled into the ledger with tier
 * {@code shadow} and key {@code shadow}. A denied reservation skips the rest of that evaluation; nothing is
 * retried. Thread-safe.
 */
final class Shadow implements AutoCloseable {
    static final String KEY = "shadow";
    static final String TIER = "shadow";
    static final int CONCURRENCY = 4;
    static final int BACKLOG = 1000;

    private static final System.Logger LOG = System.getLogger("tiergate.shadow");
    private static final ObjectMapper JSON = new ObjectMapper();

    private final GatewayConfig config;
    private final ShadowSettings settings;
    private final BudgetRules shadowRules;
    private final Upstream upstream;
    private final Accounting accounting;
    private final GatewayMetrics metrics;
    private final Clock clock;
    private final Map<String, AtomicLong> eligible = new ConcurrentHashMap<>();
    private final ExecutorService executor = Executors.newVirtualThreadPerTaskExecutor();
    private final Semaphore running = new Semaphore(CONCURRENCY);
    private final AtomicInteger pending = new AtomicInteger();

    Shadow(GatewayConfig config, Upstream upstream, Accounting accounting, GatewayMetrics metrics, Clock clock) {
        this.config = config;
        this.settings = config.shadow();
        this.shadowRules = settings.rules();
        this.upstream = upstream;
        this.accounting = accounting;
        this.metrics = metrics;
        this.clock = clock;
    }

    /**
     * Whether this call, which the upstream answered with 200, is sampled. Counts the task type's eligible calls:
     * the n-th eligible call of a type is sampled when {@link #sampled} says so, so the same seed and the same
     * number of eligible calls always sample the same number, in any arrival order.
     */
    boolean sample(String taskType, String tier) {
        ShadowSettings.TaskShadow t = settings.taskTypes().get(taskType);
        if (t == null || t.sampleRate() <= 0 || tier.equals(TIER) || tier.equals("passthrough")) {
            return false;
        }
        long n = eligible.computeIfAbsent(taskType, k -> new AtomicLong()).getAndIncrement();
        boolean yes = sampled(settings.seed(), taskType, n, t.sampleRate());
        if (yes) {
            metrics.shadow(taskType, "sampled");
        }
        return yes;
    }

    /** Whether the {@code n}-th eligible call of {@code taskType} is sampled at {@code rate}: a SplitMix64 hash. */
    static boolean sampled(long seed, String taskType, long n, double rate) {
        long z = seed ^ (taskType.hashCode() * 0x9E3779B97F4A7C15L);
        z += (n + 1) * 0x9E3779B97F4A7C15L;
        z = (z ^ (z >>> 30)) * 0xBF58476D1CE4E5B9L;
        z = (z ^ (z >>> 27)) * 0x94D049BB133111EBL;
        z = z ^ (z >>> 31);
        double u = (z >>> 11) * 0x1.0p-53;
        return u < rate;
    }

    /**
     * A served call to replay.
     *
     * @param requestId the served call's request id
     * @param taskType its task type
     * @param servedModel the model that answered
     * @param request the caller's request body
     * @param maxTokens the effective {@code max_tokens} of the served call
     * @param headers the headers forwarded upstream (anthropic-version, betas)
     * @param servedAnswer the served answer's text
     * @param servedUsage the served call's usage
     * @param servedCost the served call's cost
     */
    record Job(
            String requestId,
            String taskType,
            String servedModel,
            JsonNode request,
            long maxTokens,
            Map<String, List<String>> headers,
            String servedAnswer,
            Usage servedUsage,
            Money servedCost) {}

    /** Starts the evaluation on its own virtual thread; call only after the caller has the complete response. */
    void submit(Job job) {
        if (pending.incrementAndGet() > BACKLOG) {
            pending.decrementAndGet();
            metrics.shadow(job.taskType(), "skipped_busy");
            return;
        }
        try {
            executor.execute(() -> {
                try {
                    running.acquire();
                } catch (InterruptedException e) {
                    pending.decrementAndGet();
                    Thread.currentThread().interrupt();
                    return;
                }
                try {
                    evaluate(job);
                } catch (RuntimeException e) {
                    LOG.log(System.Logger.Level.ERROR, "shadow evaluation of " + job.requestId() + " failed", e);
                    metrics.shadow(job.taskType(), "failed");
                } finally {
                    running.release();
                    pending.decrementAndGet();
                }
            });
        } catch (java.util.concurrent.RejectedExecutionException e) {
            pending.decrementAndGet();
            metrics.shadow(job.taskType(), "skipped_closing");
        }
    }

    private void evaluate(Job job) {
        if (job.servedAnswer().isBlank()) {
            metrics.shadow(job.taskType(), "no_answer_text");
            return;
        }
        Optional<String> candidate =
                settings.candidateFor(job.taskType(), job.servedModel(), config.policy(), config.catalog());
        if (candidate.isEmpty()) {
            metrics.shadow(job.taskType(), "no_candidate");
            return;
        }
        ShadowSettings.TaskShadow t = settings.taskTypes().get(job.taskType());
        if (t == null) {
            return;
        }
        String judge = t.judge();
        ModelSpec spec = config.catalog().require(candidate.get());
        long maxTokens = Math.min(job.maxTokens(), spec.maxOutput());
        ObjectNode replay = job.request().deepCopy();
        replay.put("model", spec.id());
        replay.put("max_tokens", maxTokens);
        // the shadow reads the whole answer at once; nothing is streamed to anyone
        replay.put("stream", false);
        Optional<Answer> cand =
                call(job, job.requestId() + ".shadow", "shadow-candidate", spec.id(), replay, maxTokens);
        if (cand.isEmpty()) {
            return;
        }
        if (cand.get().text().isBlank()) {
            metrics.shadow(job.taskType(), "no_answer_text");
            return;
        }
        Optional<Answer> servedFirst = call(
                job,
                job.requestId() + ".judge-ab",
                "shadow-judge",
                judge,
                PairwiseJudge.request(
                        judge, job.request(), job.servedAnswer(), cand.get().text()),
                PairwiseJudge.MAX_TOKENS);
        Optional<PairwiseJudge.Verdict> first = servedFirst.flatMap(a -> PairwiseJudge.parse(a.text()));
        if (first.isEmpty()) {
            metrics.shadow(job.taskType(), servedFirst.isEmpty() ? "judge_failed" : "no_verdict");
            return;
        }
        Optional<Answer> candidateFirst = call(
                job,
                job.requestId() + ".judge-ba",
                "shadow-judge",
                judge,
                PairwiseJudge.request(judge, job.request(), cand.get().text(), job.servedAnswer()),
                PairwiseJudge.MAX_TOKENS);
        Optional<PairwiseJudge.Verdict> second = candidateFirst.flatMap(a -> PairwiseJudge.parse(a.text()));
        if (second.isEmpty()) {
            metrics.shadow(job.taskType(), candidateFirst.isEmpty() ? "judge_failed" : "no_verdict");
            return;
        }
        double score = PairwiseJudge.candidateScore(first.get(), second.get());
        Answer c = cand.get();
        accounting
                .ledger()
                .recordEvidence(new ShadowEvidence(
                        job.requestId(),
                        clock.instant(),
                        job.taskType(),
                        ShadowEvidence.Source.JUDGE,
                        new ShadowEvidence.Side(
                                job.servedModel(),
                                1,
                                job.servedUsage().inputTokens(),
                                job.servedUsage().outputTokens(),
                                job.servedCost()),
                        new ShadowEvidence.Side(
                                c.model(),
                                score,
                                c.usage().inputTokens(),
                                c.usage().outputTokens(),
                                c.cost()),
                        servedFirst.get().cost().plus(candidateFirst.get().cost())));
        metrics.shadow(job.taskType(), "judged");
    }

    private record Answer(String model, String text, Usage usage, Money cost) {}

    /** One shadow or judge call: reserve in the shadow budget, send, settle into the ledger. */
    private Optional<Answer> call(Job job, String requestId, String agent, String model, ObjectNode body, long max) {
        Instant start = clock.instant();
        long startNanos = System.nanoTime();
        ModelSpec spec = config.catalog().require(model);
        long input = InputTokenEstimator.of(TokenizerFamily.forModel(spec)).estimate(body);
        Money worst;
        try {
            worst = config.catalog().worstCase(model, input, max, CostOptions.STANDARD);
        } catch (PricingException e) {
            metrics.shadow(job.taskType(), "unpriced");
            return Optional.empty();
        }
        CallAttributes attrs = CallAttributes.of(KEY, "", job.taskType(), "");
        List<AppliedBudget> windows = new ArrayList<>(shadowRules.applicable(attrs, start));
        windows.addAll(accounting.windows(attrs));
        Call call = new Call(requestId, start, KEY, "", job.taskType(), TIER, model, model, "", agent, max);
        Admission admission = accounting.reserve(call, windows, worst);
        if (!(admission instanceof Admission.Admitted admitted)) {
            metrics.shadow(job.taskType(), "budget_denied");
            return Optional.empty();
        }
        ReservationId reservation = admitted.reservation();
        byte[] bytes = body.toString().getBytes(StandardCharsets.UTF_8);
        Instant deadline = start.plus(config.upstream().totalTimeout());
        Upstream.Result result = upstream.send(
                "/v1/messages",
                List.of(model),
                m -> bytes,
                job.headers(),
                false,
                deadline,
                // an evaluation is not worth a second worst case: one attempt without an answer ends it
                Upstream.Unanswered.STOP);
        switch (result) {
            case Upstream.Failed f -> {
                // an attempt sent and never answered may have been billed: charged at its worst case (STOP makes it
                // the last attempt, so the reservation holds it)
                settle(
                        reservation,
                        model,
                        Usage.ZERO,
                        f.unanswered().isEmpty() ? Money.ZERO : worst,
                        startNanos,
                        "",
                        f.error().type());
                metrics.shadow(job.taskType(), "upstream_failed");
                return Optional.empty();
            }
            case Upstream.Response r -> {
                byte[] answer;
                String timeout = "";
                try (StreamWatchdog watchdog =
                        StreamWatchdog.start(r.body(), config.upstream().idleTimeout(), deadline)) {
                    answer = readAll(r.body());
                    timeout = watchdog.firedReason();
                }
                if (r.status() != 200 || !timeout.isEmpty()) {
                    String type = r.status() != 200
                            ? UpstreamClient.errorType(r.status(), new String(answer, StandardCharsets.UTF_8))
                            : "timeout_error";
                    settle(reservation, r.model(), Usage.ZERO, Money.ZERO, startNanos, "", type);
                    metrics.shadow(job.taskType(), "upstream_failed");
                    return Optional.empty();
                }
                JsonNode message;
                Usage usage;
                try {
                    message = JSON.readTree(answer);
                    usage = Usage.fromJson(message.path("usage"));
                } catch (IOException | IllegalArgumentException e) {
                    // The upstream billed something we cannot read: charge the reservation's worst case.
                    settle(reservation, r.model(), Usage.ZERO, worst, startNanos, "", "invalid_upstream_usage");
                    metrics.shadow(job.taskType(), "upstream_failed");
                    return Optional.empty();
                }
                Cost cost = price(r.model(), usage);
                String stop = message.path("stop_reason").asText("");
                settle(reservation, r.model(), usage, cost.total(), startNanos, stop, "");
                return Optional.of(new Answer(r.model(), PairwiseJudge.answerText(message), usage, cost.total()));
            }
        }
    }

    private void settle(
            ReservationId reservation,
            String model,
            Usage usage,
            Money cost,
            long startNanos,
            String stopReason,
            String errorType) {
        long latency = (System.nanoTime() - startNanos) / 1_000_000;
        CallStatus status = errorType.isEmpty() ? CallStatus.OK : CallStatus.UPSTREAM_ERROR;
        accounting.settle(reservation, new Outcome(status, model, usage, cost, latency, -1, stopReason, errorType));
    }

    private Cost price(String model, Usage usage) {
        // shadow and judge requests carry no speed or geography modifiers: standard prices are exact
        return config.catalog().cost(model, usage, CostOptions.STANDARD);
    }

    private static byte[] readAll(InputStream in) {
        try (in) {
            return in.readAllBytes();
        } catch (IOException e) {
            return new byte[0];
        }
    }

    /** Lets running evaluations finish (up to a few seconds), then stops the rest; before the ledger closes. */
    @Override
    public void close() {
        executor.shutdown();
        try {
            if (!executor.awaitTermination(Duration.ofSeconds(10).toMillis(), TimeUnit.MILLISECONDS)) {
                executor.shutdownNow();
            }
        } catch (InterruptedException e) {
            executor.shutdownNow();
            Thread.currentThread().interrupt();
        }
    }
}
