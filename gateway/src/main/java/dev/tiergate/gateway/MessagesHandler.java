package dev.tiergate.gateway;

import com.fasterxml.jackson.core.JsonParseException;
import com.fasterxml.jackson.core.JsonParser;
import com.fasterxml.jackson.core.JsonToken;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.tiergate.budget.Admission;
import dev.tiergate.budget.AppliedBudget;
import dev.tiergate.budget.CallAttributes;
import dev.tiergate.budget.ReservationId;
import dev.tiergate.ledger.Call;
import dev.tiergate.ledger.CallStatus;
import dev.tiergate.ledger.LedgerException;
import dev.tiergate.ledger.Outcome;
import dev.tiergate.ledger.RequestIds;
import dev.tiergate.messages.BodyRewriter;
import dev.tiergate.messages.InputTokenEstimator;
import dev.tiergate.messages.SseEvent;
import dev.tiergate.messages.SseEventReader;
import dev.tiergate.messages.StreamOutcome;
import dev.tiergate.messages.StreamUsageTracker;
import dev.tiergate.messages.StreamedOutputEstimate;
import dev.tiergate.messages.TokenizerFamily;
import dev.tiergate.policy.Policy;
import dev.tiergate.policy.Priority;
import dev.tiergate.policy.RequestFacts;
import dev.tiergate.policy.Router;
import dev.tiergate.policy.RoutingDecision;
import dev.tiergate.policy.TaskPolicy;
import dev.tiergate.pricing.Cost;
import dev.tiergate.pricing.CostOptions;
import dev.tiergate.pricing.ModelSpec;
import dev.tiergate.pricing.Money;
import dev.tiergate.pricing.PricingException;
import dev.tiergate.pricing.Usage;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.time.Clock;
import java.time.Instant;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.OptionalLong;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.AtomicReference;
import org.jspecify.annotations.Nullable;

/**
 * {@code POST /v1/messages} and {@code /v1/messages/count_tokens}: one call, top to bottom, on its own virtual
 * thread. Authenticate, parse, classify the task type, route and cap, forward (retrying and falling back only
 * before the first byte reaches the caller), stream events through as they arrive, cost the usage exactly and
 * record the call, also when the caller disconnects or the upstream fails mid-stream.
 */
final class MessagesHandler {
    static final String TASK = "x-tiergate-task";
    static final String RUN = "x-tiergate-run";
    static final String AGENT = "x-tiergate-agent";
    static final String RUN_BUDGET = "x-tiergate-run-budget-usd";
    /** Passed through to the upstream: a simulated upstream draws the same outcome for the same key. */
    static final String CALL_KEY = "x-tiergate-call-key";

    private static final String PASSTHROUGH_TIER = "passthrough";
    private static final String DEFAULT_ANTHROPIC_VERSION = "2023-06-01";

    private final GatewayConfig config;
    private final Router router;
    private final Upstream upstream;
    private final CallRecorder recorder;
    private final GatewayMetrics metrics;
    private final Accounting accounting;
    private final Clock clock;
    private final Shadow shadow;
    private final InputTokenEstimator estimator = InputTokenEstimator.of(TokenizerFamily.CLASSIC);
    private final ObjectMapper json = new ObjectMapper();
    private final RequestIds requestIds;

    MessagesHandler(
            GatewayConfig config,
            Upstream upstream,
            CallRecorder recorder,
            GatewayMetrics metrics,
            Accounting accounting,
            Clock clock) {
        this.accounting = accounting;
        this.config = config;
        this.router = new Router(config.policy(), config.catalog());
        this.upstream = upstream;
        this.recorder = recorder;
        this.metrics = metrics;
        this.clock = clock;
        this.shadow = new Shadow(config, upstream, accounting, metrics, clock);
        // the id is in the ledger, the log line and the response headers: marking it is how a report (or anyone
        // reading a row) tells simulated calls from real ones without knowing the gateway's config
        this.requestIds =
                new RequestIds(config.upstream().simulated() ? Gateway.SIMULATED_REQUEST_ID_PREFIX : "tgreq_", clock);
    }

    /** Lets running shadow evaluations finish, then closes the upstream's idle connections; call before the ledger closes. */
    void close() {
        shadow.close();
        upstream.close();
    }

    /** Who is calling, what they asked for, and where it goes: everything decided before the upstream call. */
    private record Admitted(
            String requestId,
            Instant start,
            long startNanos,
            ApiKeys.Key key,
            ParsedRequest request,
            String taskType,
            RoutingDecision.Route route,
            String runId,
            String agentId,
            @Nullable ReservationId reservation,
            List<AppliedBudget> windows,
            long inputEstimate,
            Money worstCase,
            AtomicLong enlargedNanos,
            AtomicBoolean recorded) {

        /**
         * Claims the call's one settlement and ledger row; false if they were already written. Every path after
         * admission records the call exactly once, and the safety net in {@code messages} records any the
         * others missed, so that no reservation is left open in a running gateway.
         */
        boolean claimRecord() {
            return recorded.compareAndSet(false, true);
        }

        /** All the call's reservation holds: its worst case, plus what attempts without an answer added to it. */
        Money reservedNow() {
            return worstCase.plus(Money.ofNanos(enlargedNanos.get()));
        }
    }

    void messages(CallRequest req, ResponseSink res) {
        Instant start = clock.instant();
        long startNanos = System.nanoTime();
        String requestId = newRequestId();
        res.header("x-tiergate-request-id", requestId);
        Optional<Admitted> admitted = admit(req, res, requestId, start, startNanos, true);
        if (admitted.isEmpty()) {
            return;
        }
        Admitted a = admitted.get();
        try {
            forward(req, res, a, start);
        } catch (RuntimeException | Error e) {
            // A path that failed before recording the call (a bug, a broken caller connection, a malformed
            // upstream answer not foreseen): still settle it, at its worst case because whether and how much the
            // upstream billed is unknown, so that its reservation is not held by a live gateway forever.
            if (a.claimRecord()) {
                System.getLogger("tiergate.gateway")
                        .log(
                                System.Logger.Level.ERROR,
                                "call " + a.requestId() + " failed before it was recorded; charging its worst case",
                                e);
                settleAndLog(a, "", Usage.ZERO, a.reservedNow(), -1, "", "upstream_error", "gateway_error", 0, 0);
            }
            throw e;
        }
    }

    /** The upstream part of an admitted Messages call: send, relay or stream the answer, record it. */
    private void forward(CallRequest req, ResponseSink res, Admitted a, Instant start) {
        RoutingDecision.Route route = a.route();
        List<String> models = new ArrayList<>();
        models.add(route.model());
        models.addAll(route.fallbacks());
        Instant deadline = start.plus(config.upstream().totalTimeout());
        Map<String, List<String>> headers = forwardHeaders(req, a.taskType());
        AtomicReference<String> refusal = new AtomicReference<>("");
        Upstream.Result result = upstream.send(
                "/v1/messages",
                models,
                model -> BodyRewriter.rewrite(a.request().raw(), model, OptionalLong.of(route.maxTokens())),
                headers,
                a.request().stream(),
                deadline,
                model -> makeRoomToTryAgain(a, model, refusal));
        switch (result) {
            case Upstream.Failed f -> {
                // Recorded first, as every outcome is: the caller may be gone, and sending would then throw.
                record(
                        a,
                        "",
                        Usage.ZERO,
                        Money.ZERO,
                        -1,
                        "",
                        "upstream_error",
                        f.error().type(),
                        f);
                GatewayError.UpstreamFailed error = refusal.get().isEmpty()
                        ? f.error()
                        : new GatewayError.UpstreamFailed(
                                f.error().status(),
                                f.error().type(),
                                f.error().message() + "; not tried again: " + refusal.get());
                sendQuietly(a, () -> sendError(res, error));
            }
            case Upstream.Response r -> {
                if (r.status() != 200) {
                    relayUpstreamError(res, a, r, deadline);
                    return;
                }
                // Decided before the answer is read, so that a stream keeps its text only when it is sampled.
                boolean sampled = shadow.sample(a.taskType(), a.route().tier());
                Optional<Shadow.Job> job = a.request().stream()
                        ? stream(res, a, r, deadline, sampled, headers)
                        : respond(res, a, r, deadline, sampled, headers);
                // The caller has its complete response by now: shadow work never delays or touches it.
                job.ifPresent(shadow::submit);
            }
        }
    }

    void countTokens(CallRequest req, ResponseSink res) {
        Instant start = clock.instant();
        String requestId = newRequestId();
        res.header("x-tiergate-request-id", requestId);
        Optional<Admitted> admitted = admit(req, res, requestId, start, System.nanoTime(), false);
        if (admitted.isEmpty()) {
            return;
        }
        Admitted a = admitted.get();
        Instant deadline = start.plus(config.upstream().totalTimeout());
        Upstream.Result result = upstream.send(
                "/v1/messages/count_tokens",
                List.of(a.route().model()),
                model -> BodyRewriter.rewrite(a.request().raw(), model, OptionalLong.empty()),
                forwardHeaders(req, a.taskType()),
                false,
                deadline,
                // counting tokens is free, answered or not
                Upstream.Unanswered.TRY_AGAIN);
        switch (result) {
            case Upstream.Failed f -> sendError(res, f.error());
            case Upstream.Response r -> {
                byte[] body = readAll(r, deadline);
                res.status(r.status() == 401 || r.status() == 403 ? 502 : r.status());
                routeHeaders(res, a, a.route().model());
                res.header("content-type", "application/json");
                if (r.status() == 401 || r.status() == 403) {
                    res.send(errorBody("api_error", "the upstream rejected the gateway's credentials"));
                } else {
                    res.send(body);
                }
            }
        }
    }

    private Optional<Admitted> admit(
            CallRequest req, ResponseSink res, String requestId, Instant start, long startNanos, boolean messages) {
        // The key first, from the headers alone: a caller without a valid one must not get the gateway to read
        // (and hold) a body of up to max_body_bytes.
        Optional<ApiKeys.Key> key = Optional.ofNullable(req.trustedCaller()).or(() -> authenticate(req));
        if (key.isEmpty()) {
            sendError(
                    res,
                    new GatewayError.Unauthorized(
                            "invalid x-api-key: send a Tiergate gateway key as x-api-key or Authorization: Bearer"));
            metrics.refused(refused(requestId, start, "", "", "authentication_error"));
            return Optional.empty();
        }
        Optional<byte[]> body = req.body().readWithinLimit();
        if (body.isEmpty()) {
            sendError(
                    res,
                    new GatewayError.TooLarge(
                            "request body is larger than the gateway's limit of " + config.maxBodyBytes() + " bytes"));
            return Optional.empty();
        }
        ParsedRequest request;
        switch (ParsedRequest.parse(body.get(), true)) {
            case ParsedRequest.Either.Bad bad -> {
                sendError(res, bad.error());
                metrics.refused(refused(requestId, start, key.get().name(), "", "invalid_request_error"));
                return Optional.empty();
            }
            case ParsedRequest.Either.Ok ok -> request = ok.request();
        }
        String taskType = taskType(req, request, key.get());
        long inputEstimate = estimator.estimate(request.json());
        RequestFacts facts = messages
                ? request.maxTokens().stream()
                        .mapToObj(m -> RequestFacts.of(inputEstimate, m))
                        .findFirst()
                        .orElse(RequestFacts.withoutMaxTokens(inputEstimate))
                // count_tokens has no max_tokens: route as if the task cap were asked for.
                : RequestFacts.withoutMaxTokens(inputEstimate);
        RoutingDecision decision;
        String model = request.model();
        if (model.startsWith("tier:")) {
            decision = router.routeToTier(model.substring(5), taskType, facts);
        } else if (!model.isEmpty() && !model.startsWith("task:") && key.get().allowModelPassthrough()) {
            decision = passthrough(model, taskType, facts, messages);
        } else {
            decision = router.route(taskType, facts);
        }
        if (!messages && decision instanceof RoutingDecision.Reject) {
            // count_tokens never generates: a missing cap is no reason to refuse it.
            decision = router.route(taskType, RequestFacts.of(inputEstimate, 1));
        }
        String runId = req.header(RUN).orElse("");
        String agentId = req.header(AGENT).orElse("");
        if (decision instanceof RoutingDecision.Reject reject) {
            sendError(res, new GatewayError.BadRequest(reject.reason()));
            CallRecord denied = CallRecord.denied(
                    requestId,
                    start,
                    key.get().name(),
                    key.get().team(),
                    taskType,
                    "",
                    model,
                    runId,
                    agentId,
                    0,
                    "invalid_request_error",
                    request.stream());
            if (messages) {
                recorder.record(denied);
            }
            metrics.refused(denied);
            return Optional.empty();
        }
        RoutingDecision.Route route = (RoutingDecision.Route) decision;
        if (!messages) {
            // count_tokens generates nothing and reserves nothing.
            return Optional.of(new Admitted(
                    requestId,
                    start,
                    startNanos,
                    key.get(),
                    request,
                    taskType,
                    route,
                    runId,
                    agentId,
                    null,
                    List.of(),
                    inputEstimate,
                    Money.ZERO,
                    new AtomicLong(),
                    new AtomicBoolean()));
        }
        CallAttributes attributes =
                CallAttributes.of(key.get().name(), key.get().team(), taskType, runId);
        Optional<String> runBudget = req.header(RUN_BUDGET).map(String::trim).filter(v -> !v.isEmpty());
        if (runBudget.isPresent()) {
            Money cap;
            try {
                cap = Money.parseUsd(runBudget.get());
            } catch (IllegalArgumentException e) {
                cap = Money.ZERO;
            }
            if (cap.nanos() <= 0) {
                sendError(
                        res,
                        new GatewayError.BadRequest("x-tiergate-run-budget-usd: must be a positive USD amount"
                                + " such as 2.50, got '" + runBudget.get() + "'"));
                return Optional.empty();
            }
            if (runId.isEmpty()) {
                sendError(
                        res,
                        new GatewayError.BadRequest(
                                "x-tiergate-run-budget-usd needs x-tiergate-run: a budget belongs to a workflow run"));
                return Optional.empty();
            }
            attributes = attributes.withRequestedRunBudget(cap);
        }
        List<AppliedBudget> windows = accounting.windows(attributes);
        Priority priority = Optional.ofNullable(config.policy().taskTypes().get(taskType))
                .map(TaskPolicy::priority)
                .orElse(Priority.NORMAL);
        Optional<String> demoteTo = accounting.demotion(priority, windows);
        if (demoteTo.isPresent()
                && !demoteTo.get().equals(route.tier())
                && router.routeToTier(demoteTo.get(), taskType, facts) instanceof RoutingDecision.Route demoted) {
            List<String> reasons = new ArrayList<>(demoted.reasons());
            reasons.add("a soft budget is over its limit: priority " + priority + " demoted to tier '" + demoteTo.get()
                    + "'");
            route = new RoutingDecision.Route(
                    taskType,
                    demoted.tier(),
                    demoted.model(),
                    demoted.fallbacks(),
                    demoted.maxTokens(),
                    demoted.capped(),
                    reasons);
        }
        Money worstCase = worstCase(route, request.json(), inputEstimate);
        Call call = new Call(
                requestId,
                start,
                key.get().name(),
                key.get().team(),
                taskType,
                route.tier(),
                model,
                route.model(),
                runId,
                agentId,
                route.maxTokens());
        Admission admission = accounting.reserve(call, windows, worstCase);
        if (admission instanceof Admission.Denied denied) {
            sendError(res, new GatewayError.BudgetExhausted(denied.message()));
            metrics.refused(CallRecord.denied(
                    requestId,
                    start,
                    key.get().name(),
                    key.get().team(),
                    taskType,
                    route.tier(),
                    model,
                    runId,
                    agentId,
                    route.maxTokens(),
                    "rate_limit_error",
                    request.stream()));
            return Optional.empty();
        }
        ReservationId reservation = ((Admission.Admitted) admission).reservation();
        return Optional.of(new Admitted(
                requestId,
                start,
                startNanos,
                key.get(),
                request,
                taskType,
                route,
                runId,
                agentId,
                reservation,
                windows,
                inputEstimate,
                worstCase,
                new AtomicLong(),
                new AtomicBoolean()));
    }

    /**
     * The most this call can cost on any model that may serve it (the routed one or a fallback); {@code
     * classicEstimate} is the body's classic estimate.
     */
    private Money worstCase(RoutingDecision.Route route, JsonNode body, long classicEstimate) {
        CostOptions options = options(body, json.createObjectNode());
        Money worst = worstCaseOn(route.model(), route.maxTokens(), body, classicEstimate, options);
        for (String m : route.fallbacks()) {
            Money w = worstCaseOn(m, route.maxTokens(), body, classicEstimate, options);
            if (w.isGreaterThan(worst)) {
                worst = w;
            }
        }
        return worst;
    }

    /**
     * The most a call can cost on {@code model}: the input estimate for that model's tokenizer at its highest
     * input-side price, plus the cap at its output price.
     */
    private Money worstCaseOn(String model, long maxTokens, JsonNode body, long classicEstimate, CostOptions options) {
        ModelSpec spec = config.catalog().require(model);
        TokenizerFamily family = TokenizerFamily.forModel(spec);
        // Estimating is linear in the body: reuse the admission's estimate instead of a second pass.
        long input = family.equals(TokenizerFamily.CLASSIC)
                ? classicEstimate
                : InputTokenEstimator.of(family).estimate(body);
        try {
            return config.catalog().worstCase(model, input, maxTokens, options);
        } catch (PricingException e) {
            return config.catalog().worstCase(model, input, maxTokens, CostOptions.STANDARD);
        }
    }

    /**
     * What the attempts that got no answer cost the call: each at its worst case on its model, since the upstream
     * may have run and billed it (docs/gateway.md, "What failed attempts cost").
     */
    private Money unansweredCharge(Admitted a, Upstream.Result result) {
        Money charge = Money.ZERO;
        for (String model : result.unanswered()) {
            charge = charge.plus(unansweredCharge(a, model));
        }
        return charge;
    }

    private Money unansweredCharge(Admitted a, String model) {
        JsonNode body = a.request().json();
        return worstCaseOn(
                model, a.route().maxTokens(), body, a.inputEstimate(), options(body, json.createObjectNode()));
    }

    /**
     * Before the attempt that follows one sent and never answered: that one will be charged at its worst case, so
     * the call's reservation grows by as much, to keep the next attempt's worst case reserved. If a hard budget
     * cannot take it, the call ends here ({@code refusal} says why) rather than risk spending past the limit.
     */
    private boolean makeRoomToTryAgain(Admitted a, String model, AtomicReference<String> refusal) {
        ReservationId reservation = a.reservation();
        if (reservation == null) {
            return true;
        }
        Money charge = unansweredCharge(a, model);
        String reason = "an attempt on " + model + " was sent and got no answer, so the upstream may have billed it:"
                + " charged at its worst case " + charge.toUsdString() + " USD before trying again";
        System.Logger log = System.getLogger("tiergate.gateway");
        Admission grown;
        try {
            grown = accounting.enlarge(reservation, a.windows(), charge, reason);
        } catch (LedgerException e) {
            log.log(System.Logger.Level.WARNING, "call {0} not tried again: {1}", a.requestId(), e.getMessage());
            refusal.set("the ledger could not reserve another attempt");
            return false;
        }
        if (grown instanceof Admission.Denied denied) {
            log.log(System.Logger.Level.WARNING, "call {0} not tried again: {1}", a.requestId(), denied.message());
            refusal.set(denied.message());
            return false;
        }
        log.log(System.Logger.Level.WARNING, "call {0}: {1}", a.requestId(), reason);
        a.enlargedNanos().addAndGet(charge.nanos());
        return true;
    }

    private RoutingDecision passthrough(String model, String taskType, RequestFacts facts, boolean messages) {
        Optional<ModelSpec> spec = config.catalog().find(model);
        if (spec.isEmpty()) {
            return new RoutingDecision.Reject(
                    taskType,
                    "model: '" + model
                            + "' is not in the gateway's model catalog; use a catalog id, or task:<type> / tier:<name>");
        }
        if (!facts.hasRequestedMaxTokens() && messages) {
            return new RoutingDecision.Reject(taskType, "max_tokens: Field required");
        }
        long max = Math.min(
                facts.hasRequestedMaxTokens() ? facts.requestedMaxTokensValue() : 1,
                spec.get().maxOutput());
        return new RoutingDecision.Route(
                taskType,
                PASSTHROUGH_TIER,
                spec.get().id(),
                List.of(),
                max,
                false,
                List.of("model '" + model + "' passed through (the key allows it)"));
    }

    private static String taskType(CallRequest req, ParsedRequest request, ApiKeys.Key key) {
        String header = req.header(TASK).orElse("").trim();
        if (!header.isEmpty()) {
            return header;
        }
        if (request.model().startsWith("task:") && request.model().length() > 5) {
            return request.model().substring(5);
        }
        if (!key.defaultTask().isEmpty()) {
            return key.defaultTask();
        }
        return Policy.UNCLASSIFIED;
    }

    private Optional<Shadow.Job> respond(
            ResponseSink res,
            Admitted a,
            Upstream.Response r,
            Instant deadline,
            boolean sampled,
            Map<String, List<String>> headers) {
        Body read;
        String timedOut;
        try (StreamWatchdog watchdog =
                StreamWatchdog.start(r.body(), config.upstream().idleTimeout(), deadline)) {
            read = readWhole(r);
            timedOut = watchdog.firedReason();
        }
        if (!timedOut.isEmpty() || !read.complete()) {
            // The answer broke off before the caller saw a byte of it: an upstream failure, never a cut 200. What
            // the upstream billed for it is unknown, so the call is charged at the worst case it reserved.
            GatewayError error = timedOut.isEmpty()
                    ? new GatewayError.UpstreamFailed(
                            502, "api_error", "the upstream connection was lost while its response was being read")
                    : new GatewayError.UpstreamFailed(504, "timeout_error", timedOut);
            record(a, r.model(), Usage.ZERO, a.worstCase(), -1, "", "upstream_error", error.type(), r);
            sendQuietly(a, () -> sendError(res, error));
            return Optional.empty();
        }
        byte[] body = read.bytes();
        String errorType = "";
        Usage usage = Usage.ZERO;
        String stopReason = "";
        Money cost;
        JsonNode usageNode = json.createObjectNode();
        String answer = "";
        try {
            JsonNode message = sampled ? json.readTree(body) : usageAndStopReason(body);
            answer = sampled ? PairwiseJudge.answerText(message) : "";
            usageNode = message.path("usage");
            usage = Usage.fromJson(usageNode);
            stopReason = message.path("stop_reason").asText("");
        } catch (IOException | IllegalArgumentException e) {
            errorType = "invalid_upstream_usage";
        }
        // An answer whose usage cannot be read is passed on as it came, but never costed at $0: the upstream
        // billed it for an amount the gateway cannot know, so it is charged at its worst case.
        cost = errorType.isEmpty()
                ? price(r.model(), usage, options(a.request().json(), usageNode))
                        .total()
                : a.worstCase();
        res.status(200);
        routeHeaders(res, a, r.model());
        simulatedHeaders(res, r);
        res.header("x-tiergate-cost-usd", cost.plus(unansweredCharge(a, r)).toUsdString());
        res.header("content-type", "application/json");
        // Settle before the caller sees the answer: a call that reached its caller is always in the ledger, even
        // if this process dies right after. The upstream has billed the call whether or not the send succeeds.
        record(a, r.model(), usage, cost, -1, stopReason, "ok", errorType, r);
        sendQuietly(a, () -> res.send(body));
        return sampled && errorType.isEmpty()
                ? Optional.of(job(a, r.model(), headers, answer, usage, cost))
                : Optional.empty();
    }

    /**
     * A Messages response reduced to its {@code usage} and {@code stop_reason}, the rest skipped without building
     * it (the content can be long). Anything but a JSON object is read whole, as before, for the same errors.
     */
    private JsonNode usageAndStopReason(byte[] body) throws IOException {
        try (JsonParser p = json.getFactory().createParser(body)) {
            if (p.nextToken() != JsonToken.START_OBJECT) {
                return json.readTree(body);
            }
            ObjectNode kept = json.createObjectNode();
            while (p.nextToken() == JsonToken.FIELD_NAME) {
                String name = p.currentName();
                p.nextToken();
                if (name.equals("usage") || name.equals("stop_reason")) {
                    kept.set(name, json.readTree(p));
                } else {
                    p.skipChildren();
                }
            }
            if (p.currentToken() != JsonToken.END_OBJECT) {
                throw new JsonParseException(p, "unexpected end of the upstream response");
            }
            return kept;
        }
    }

    private Shadow.Job job(
            Admitted a, String servedModel, Map<String, List<String>> headers, String answer, Usage usage, Money cost) {
        return new Shadow.Job(
                a.requestId(),
                a.taskType(),
                servedModel,
                a.request().json(),
                a.route().maxTokens(),
                headers,
                answer,
                usage,
                cost);
    }

    private Optional<Shadow.Job> stream(
            ResponseSink res,
            Admitted a,
            Upstream.Response r,
            Instant deadline,
            boolean sampled,
            Map<String, List<String>> headers) {
        InputStream upstreamBody = r.body();
        StringBuilder answer = new StringBuilder();
        StreamUsageTracker tracker = new StreamUsageTracker();
        StreamedOutputEstimate streamed = new StreamedOutputEstimate(
                TokenizerFamily.forModel(config.catalog().require(r.model())));
        SseEventReader reader = new SseEventReader(upstreamBody);
        long ttft = -1;
        String status = "ok";
        String errorType = "";
        // whether the upstream's stream broke off or ended early, rather than finishing or reporting an error
        boolean cutOff = false;
        res.status(200);
        routeHeaders(res, a, r.model());
        simulatedHeaders(res, r);
        res.header("content-type", "text/event-stream");
        res.header("cache-control", "no-cache");
        try (StreamWatchdog watchdog =
                        StreamWatchdog.start(upstreamBody, config.upstream().idleTimeout(), deadline);
                OutputStream out = res.outputStream()) {
            while (true) {
                Optional<SseEvent> event;
                try {
                    event = reader.next();
                } catch (IOException e) {
                    // Once the stream has started, an upstream failure becomes an SSE error event, never a retry.
                    String why = watchdog.firedReason().isEmpty()
                            ? "upstream connection lost mid-stream ("
                                    + e.getClass().getSimpleName() + ")"
                            : watchdog.firedReason();
                    errorType = watchdog.firedReason().isEmpty() ? "api_error" : "timeout_error";
                    status = "upstream_error";
                    cutOff = true;
                    writeQuietly(out, sseError(errorType, why));
                    break;
                }
                if (event.isEmpty()) {
                    break;
                }
                watchdog.touch();
                SseEvent e = event.get();
                if (!e.complete()) {
                    // A half-received event is dropped: forwarding it would hand the caller broken JSON.
                    continue;
                }
                try {
                    tracker.accept(e);
                } catch (IllegalArgumentException unreadable) {
                    // A usage-bearing event that cannot be read: the call's usage is unknown from here on. The
                    // caller is told instead of handed broken JSON, and the call is charged at its worst case.
                    status = "upstream_error";
                    errorType = "invalid_upstream_usage";
                    writeQuietly(
                            out,
                            sseError(
                                    "api_error",
                                    "the upstream sent an unreadable " + e.name() + " event: stream stopped"));
                    break;
                }
                boolean token = e.name().equals("content_block_delta");
                if (token) {
                    // generated, so billed, whether or not the caller is still there to get it
                    streamed.accept(e.data());
                    if (sampled) {
                        appendText(answer, e.data());
                    }
                }
                if (token && ttft < 0) {
                    // time to first token: the first content delta, not message_start or a ping before any token
                    ttft = (System.nanoTime() - a.startNanos()) / 1_000_000;
                }
                try {
                    e.writeTo(out);
                    out.flush();
                } catch (IOException | UncheckedIOException clientGone) {
                    status = "client_cancelled";
                    break;
                }
            }
            if (status.equals("ok")) {
                switch (tracker.outcome()) {
                    case StreamOutcome.Completed c -> {}
                    case StreamOutcome.UpstreamError u -> {
                        status = "upstream_error";
                        errorType = u.type();
                    }
                    case StreamOutcome.Truncated t -> {
                        status = "upstream_error";
                        errorType = "api_error";
                        cutOff = true;
                        writeQuietly(out, sseError("api_error", "upstream stream ended before message_stop"));
                    }
                }
            }
        } catch (IOException | UncheckedIOException closing) {
            if (status.equals("ok")) {
                status = "client_cancelled";
            }
        } finally {
            // Closing the body cancels the upstream call if it is still running (client gone, timeout).
            closeQuietly(upstreamBody);
        }
        StreamUsageTracker.Snapshot seen = tracker.snapshot();
        Usage usage = seen.usage();
        // never more than the cap the upstream was given: it cannot have generated more
        long streamedOutput = Math.min(streamed.tokens(), a.route().maxTokens());
        if (status.equals("client_cancelled") && seen.stopReason().isEmpty() && streamedOutput > usage.outputTokens()) {
            // Left before the final usage: the output reported so far is message_start's (usually 1 token), not
            // what was streamed since. Count that instead (conservatively estimated from the text; docs/gateway.md).
            usage = new Usage(
                    usage.inputTokens(),
                    streamedOutput,
                    usage.cacheWrite5mTokens(),
                    usage.cacheWrite1hTokens(),
                    usage.cacheReadTokens(),
                    usage.webSearchRequests());
        }
        Money seenCost = price(r.model(), usage, options(a.request().json(), json.createObjectNode()))
                .total();
        // The final usage comes in the message_delta that carries the stop reason. A stream cut off before it has
        // generated tokens the gateway never saw counted (message_start says 1 output token), which the upstream
        // may bill: like unreadable usage, it is charged at its worst case, and never below what was seen.
        boolean usageUnknown = errorType.equals("invalid_upstream_usage")
                || (cutOff && seen.stopReason().isEmpty());
        Money cost = usageUnknown && a.worstCase().isGreaterThan(seenCost) ? a.worstCase() : seenCost;
        record(a, r.model(), usage, cost, ttft, seen.stopReason().orElse(""), status, errorType, r);
        return sampled && status.equals("ok")
                ? Optional.of(job(a, r.model(), headers, answer.toString(), usage, cost))
                : Optional.empty();
    }

    /** Adds a {@code text_delta}'s text to a sampled stream's answer (for the shadow judge). */
    private void appendText(StringBuilder answer, String data) {
        try {
            JsonNode delta = json.readTree(data).path("delta");
            if (delta.path("type").asText("").equals("text_delta")) {
                answer.append(delta.path("text").asText(""));
            }
        } catch (IOException e) {
            // not JSON: the caller got it as it came; the judge just does not see it
        }
    }

    private void relayUpstreamError(ResponseSink res, Admitted a, Upstream.Response r, Instant deadline) {
        int status = r.status();
        byte[] body = readAll(r, deadline);
        String type = UpstreamClient.errorType(status, new String(body, StandardCharsets.UTF_8));
        record(a, r.model(), Usage.ZERO, Money.ZERO, -1, "", "upstream_error", type, r);
        sendQuietly(a, () -> {
            if (status == 401 || status == 403) {
                sendError(
                        res,
                        new GatewayError.UpstreamFailed(
                                status, type, "the upstream rejected the gateway's credentials"));
            } else {
                res.status(status);
                res.header("content-type", "application/json");
                r.header("retry-after").ifPresent(v -> res.header("retry-after", v));
                res.send(body);
            }
        });
    }

    /** Sends an answer to a caller that may have left; the call is recorded already, so nothing is lost. */
    private static void sendQuietly(Admitted a, Runnable send) {
        try {
            send.run();
        } catch (UncheckedIOException e) {
            System.getLogger("tiergate.gateway")
                    .log(System.Logger.Level.INFO, "caller of {0} left before the response was sent", a.requestId());
        }
    }

    private Cost price(String model, Usage usage, CostOptions options) {
        try {
            return config.catalog().cost(model, usage, options);
        } catch (PricingException e) {
            // A modifier the catalog cannot price (an unknown speed or geography): never record $0 for real
            // usage; price it at standard and say so in the log.
            System.getLogger("tiergate.gateway")
                    .log(System.Logger.Level.WARNING, "pricing {0} at standard: {1}", model, e.getMessage());
            return config.catalog().cost(model, usage, CostOptions.STANDARD);
        }
    }

    /** Billing modifiers: the usage's own report wins; the request's fields fill in for streams. */
    private static CostOptions options(JsonNode request, JsonNode usage) {
        CostOptions fromUsage = CostOptions.fromUsage(usage);
        String geo = !fromUsage.inferenceGeo().isEmpty()
                ? fromUsage.inferenceGeo()
                : request.path("inference_geo").asText("");
        String speed = usage.path("speed").isTextual()
                ? fromUsage.speed()
                : request.path("speed").asText("standard");
        return new CostOptions(fromUsage.batch(), geo, speed);
    }

    /**
     * Settles the call and writes its row and metrics, once: a second record of the same call is a bug, logged.
     * {@code cost} is what the answer (or its absence) costs; the attempts {@code result} made without an answer are
     * added to it.
     */
    private void record(
            Admitted a,
            String servedModel,
            Usage usage,
            Money cost,
            long ttft,
            String stopReason,
            String status,
            String errorType,
            Upstream.Result result) {
        if (!a.claimRecord()) {
            System.getLogger("tiergate.gateway")
                    .log(
                            System.Logger.Level.ERROR,
                            "call {0} was already recorded; not recording it twice",
                            a.requestId());
            return;
        }
        settleAndLog(
                a,
                servedModel,
                usage,
                cost.plus(unansweredCharge(a, result)),
                ttft,
                stopReason,
                status,
                errorType,
                result.attempts(),
                result.unanswered().size());
    }

    private void settleAndLog(
            Admitted a,
            String servedModel,
            Usage usage,
            Money cost,
            long ttft,
            String stopReason,
            String status,
            String errorType,
            int attempts,
            int unanswered) {
        long latency = (System.nanoTime() - a.startNanos()) / 1_000_000;
        CallRecord call = new CallRecord(
                a.requestId(),
                a.start(),
                a.key().name(),
                a.key().team(),
                a.taskType(),
                a.route().tier(),
                a.request().model(),
                servedModel,
                a.runId(),
                a.agentId(),
                usage,
                cost,
                latency,
                ttft,
                stopReason,
                a.route().maxTokens(),
                stopReason.equals("max_tokens"),
                status,
                errorType,
                a.request().stream(),
                attempts,
                unanswered);
        ReservationId reservation = a.reservation();
        if (reservation != null) {
            accounting.settle(
                    reservation,
                    new Outcome(statusOf(status), servedModel, usage, cost, latency, ttft, stopReason, errorType));
        }
        recorder.record(call);
        metrics.settled(call, a.route().model());
    }

    private static CallStatus statusOf(String status) {
        return switch (status) {
            case "ok" -> CallStatus.OK;
            case "client_cancelled" -> CallStatus.CLIENT_CANCELLED;
            case "upstream_error" -> CallStatus.UPSTREAM_ERROR;
            default -> throw new IllegalArgumentException("not a settled call status: " + status);
        };
    }

    private CallRecord refused(String requestId, Instant start, String key, String task, String type) {
        return CallRecord.denied(
                requestId, start, key, "", task.isEmpty() ? Policy.UNCLASSIFIED : task, "", "", "", "", 0, type, false);
    }

    /**
     * A simulated upstream's labels ({@code x-tiergate-simulated} and its simulated latencies) go back to the caller:
     * whatever is built from the answer must be able to say it is simulated.
     */
    private static void simulatedHeaders(ResponseSink res, Upstream.Response r) {
        r.headers().forEach((name, values) -> {
            if (name.toLowerCase(java.util.Locale.ROOT).startsWith("x-tiergate-simulated") && !values.isEmpty()) {
                res.header(name.toLowerCase(java.util.Locale.ROOT), values.get(0));
            }
        });
    }

    private static void routeHeaders(ResponseSink res, Admitted a, String servedModel) {
        res.header("x-tiergate-task", a.taskType());
        res.header("x-tiergate-tier", a.route().tier());
        res.header("x-tiergate-model", servedModel);
        res.header("x-tiergate-max-tokens", Long.toString(a.route().maxTokens()));
    }

    private Optional<ApiKeys.Key> authenticate(CallRequest req) {
        return req.presentedKey().flatMap(config.keys()::find);
    }

    /**
     * The caller's {@code anthropic-*} and SDK telemetry headers, its {@code x-tiergate-call-key}, and the task type
     * as classified; never its credentials.
     */
    private static Map<String, List<String>> forwardHeaders(CallRequest req, String taskType) {
        Map<String, List<String>> out = new LinkedHashMap<>();
        // The resolved task type travels on: Anthropic ignores unknown headers, a simulated upstream shapes its
        // answer by it, and a downstream gateway can account by it.
        out.put(TASK, List.of(taskType));
        req.headers().forEach((name, values) -> {
            if ((name.startsWith("anthropic-") || name.startsWith("x-stainless-") || name.equals(CALL_KEY))
                    && !name.equals(TASK)) {
                out.put(name, values);
            }
        });
        out.putIfAbsent("anthropic-version", List.of(DEFAULT_ANTHROPIC_VERSION));
        return out;
    }

    void sendError(ResponseSink res, GatewayError error) {
        res.status(error.status());
        res.header("content-type", "application/json");
        if (error instanceof GatewayError.BudgetExhausted) {
            // SDKs retry 429s on their own unless told not to; a spent budget will not come back in seconds.
            res.header("x-should-retry", "false");
        }
        res.send(errorBody(error.type(), error.message()));
    }

    byte[] errorBody(String type, String message) {
        ObjectNode root = json.createObjectNode();
        root.put("type", "error");
        ObjectNode err = root.putObject("error");
        err.put("type", type);
        err.put("message", message);
        return root.toString().getBytes(StandardCharsets.UTF_8);
    }

    private byte[] sseError(String type, String message) {
        return ("event: error\ndata: " + new String(errorBody(type, message), StandardCharsets.UTF_8) + "\n\n")
                .getBytes(StandardCharsets.UTF_8);
    }

    private static void writeQuietly(OutputStream out, byte[] bytes) {
        try {
            out.write(bytes);
            out.flush();
        } catch (IOException | UncheckedIOException e) {
            // the caller is gone; nothing more to tell them
        }
    }

    /** An upstream body, and whether all of it came (the connection did not break, nor end short of its length). */
    private record Body(byte[] bytes, boolean complete) {}

    private static Body readWhole(Upstream.Response r) {
        Optional<String> length = r.header("content-length");
        byte[] bytes;
        try (InputStream in = r.body()) {
            bytes = HttpTransport.readBody(in, length);
        } catch (IOException e) {
            return new Body(new byte[0], false);
        }
        long expected;
        try {
            expected = length.map(v -> Long.parseLong(v.trim())).orElse(-1L);
        } catch (NumberFormatException e) {
            expected = -1;
        }
        return new Body(bytes, bytes.length >= expected);
    }

    /** A whole upstream body, read under the idle timeout and {@code deadline} (the upstream has no socket timeout). */
    private byte[] readAll(Upstream.Response r, Instant deadline) {
        try (InputStream in = r.body();
                StreamWatchdog watchdog =
                        StreamWatchdog.start(in, config.upstream().idleTimeout(), deadline)) {
            return HttpTransport.readBody(in, r.header("content-length"));
        } catch (IOException e) {
            return new byte[0];
        }
    }

    private static void closeQuietly(InputStream in) {
        try {
            in.close();
        } catch (IOException e) {
            // already closed or broken: the upstream call is over either way
        }
    }

    /**
     * {@code tgreq_} and 24 hex digits (the time, then random: see {@link RequestIds}); {@code tgreq_sim_...} when
     * the upstream is the simulator.
     */
    private String newRequestId() {
        return requestIds.next();
    }
}
