package dev.tiergate.gateway;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.tiergate.budget.BudgetRules;
import dev.tiergate.budget.BudgetStatus;
import dev.tiergate.ledger.CallPage;
import dev.tiergate.ledger.CallQuery;
import dev.tiergate.ledger.CallStatus;
import dev.tiergate.ledger.GroupBy;
import dev.tiergate.ledger.Ledger;
import dev.tiergate.ledger.LedgerRow;
import dev.tiergate.ledger.ShadowEvidence;
import dev.tiergate.ledger.SpendGroup;
import dev.tiergate.pricing.Money;
import io.helidon.webserver.http.ServerRequest;
import io.helidon.webserver.http.ServerResponse;
import java.io.IOException;
import java.net.URLEncoder;
import java.nio.charset.StandardCharsets;
import java.time.Clock;
import java.time.Instant;
import java.time.LocalDate;
import java.time.ZoneOffset;
import java.time.format.DateTimeParseException;
import java.util.HashSet;
import java.util.List;
import java.util.Locale;
import java.util.Optional;
import java.util.Set;

/**
 * The admin JSON API, for the CLI and the dashboard: {@code GET /admin/budgets} (the current window of every
 * configured budget, unused ones at zero, and every other open window in the ledger; a {@code per_run} budget's
 * windows only once their run has made a call), {@code GET /admin/spend?by=...&since=YYYY-MM-DD}, {@code GET
 * /admin/calls?limit=&before=&since=&until=&key=&team=&task=&run=&status=} (its {@code next} link keeps the filters).
 * Only admin keys (config {@code admin_keys}) are accepted; gateway keys are not. Read-only, except {@code POST
 * /admin/feedback {"request_id": "...", "score": 0..1}}, which records an external quality score of a served call
 * as evidence for {@code tiergate calibrate}.
 */
final class AdminApi {
    /** The {@code /admin/calls} filters, carried as given into the {@code next} link. */
    private static final List<String> CALL_FILTERS = List.of("since", "until", "key", "team", "task", "run", "status");

    private final ApiKeys adminKeys;
    private final BudgetRules budgets;
    private final Ledger ledger;
    private final Clock clock;
    private final MessagesHandler errors;
    private final ObjectMapper json = new ObjectMapper();

    AdminApi(ApiKeys adminKeys, BudgetRules budgets, Ledger ledger, Clock clock, MessagesHandler errors) {
        this.adminKeys = adminKeys;
        this.budgets = budgets;
        this.ledger = ledger;
        this.clock = clock;
        this.errors = errors;
    }

    void budgets(ServerRequest req, ServerResponse res) {
        if (!authorised(req, res)) {
            return;
        }
        ArrayNode out = json.createArrayNode();
        Instant now = clock.instant();
        // the ledger holds a window only from its first call on: configured budgets not used yet are listed at zero
        for (BudgetStatus s : budgets.withUnusedWindows(ledger.budgetStatus(now), now)) {
            ObjectNode b = out.addObject();
            b.put("budget", s.budget().budget());
            b.put("subject", s.budget().subject());
            b.put("window", s.budget().window().toString().toLowerCase(Locale.ROOT));
            b.put("window_start", s.budget().windowStart().toString());
            b.put("window_end", s.budget().windowEnd().toString());
            b.put("mode", s.budget().hard() ? "hard" : "soft");
            b.put("limit_usd", s.limit().toUsdString());
            b.put("spent_usd", s.spent().toUsdString());
            b.put("reserved_usd", s.reserved().toUsdString());
            b.put("remaining_usd", s.remaining().toUsdString());
        }
        send(res, json.createObjectNode().set("budgets", out));
    }

    void spend(ServerRequest req, ServerResponse res) {
        if (!authorised(req, res)) {
            return;
        }
        GroupBy by;
        Instant since;
        try {
            by = GroupBy.parse(req.query().first("by").orElse("task"));
            since = day(param(req, "since"), LocalDate.now(clock).withDayOfMonth(1));
        } catch (IllegalArgumentException e) {
            errors.sendError(HttpTransport.response(res), new GatewayError.BadRequest(String.valueOf(e.getMessage())));
            return;
        }
        ArrayNode out = json.createArrayNode();
        for (SpendGroup g : ledger.spend(by, since)) {
            ObjectNode n = out.addObject();
            n.put("group", g.group());
            n.put("calls", g.calls());
            n.put("cost_usd", g.cost().toUsdString());
            n.put("input_tokens", g.inputTokens());
            n.put("cache_write_tokens", g.cacheWriteTokens());
            n.put("cache_read_tokens", g.cacheReadTokens());
            n.put("output_tokens", g.outputTokens());
            n.put("capped_calls", g.cappedCalls());
        }
        ObjectNode root = json.createObjectNode();
        root.put("by", by.name().toLowerCase(Locale.ROOT));
        root.put("since", since.toString());
        root.set("groups", out);
        send(res, root);
    }

    void calls(ServerRequest req, ServerResponse res) {
        if (!authorised(req, res)) {
            return;
        }
        CallQuery query;
        try {
            int limit = Integer.parseInt(req.query().first("limit").orElse("100"));
            long before = Long.parseLong(req.query().first("before").orElse(Long.toString(Long.MAX_VALUE)));
            Set<CallStatus> statuses = new HashSet<>();
            for (String s : req.query().all("status", List::of)) {
                statuses.add(CallStatus.valueOf(s.toUpperCase(Locale.ROOT)));
            }
            query = new CallQuery(
                    day(param(req, "since"), LocalDate.EPOCH),
                    day(param(req, "until"), LocalDate.of(9999, 12, 31)),
                    req.query().first("key").orElse(""),
                    req.query().first("team").orElse(""),
                    req.query().first("task").orElse(""),
                    req.query().first("run").orElse(""),
                    statuses,
                    limit,
                    before);
        } catch (IllegalArgumentException e) {
            errors.sendError(
                    HttpTransport.response(res),
                    new GatewayError.BadRequest("bad query: " + e.getMessage()
                            + " (limit 1-1000, before a number, since/until YYYY-MM-DD, status one of ok, upstream_error,"
                            + " client_cancelled, interrupted, denied)"));
            return;
        }
        CallPage page = ledger.calls(query);
        ArrayNode rows = json.createArrayNode();
        for (LedgerRow r : page.rows()) {
            ObjectNode n = rows.addObject();
            n.put("seq", r.seq());
            n.put("request_id", r.call().requestId());
            n.put("time", r.call().startedAt().toString());
            n.put("key", r.call().keyName());
            n.put("team", r.call().team());
            n.put("task_type", r.call().taskType());
            n.put("tier", r.call().tier());
            n.put("requested_model", r.call().requestedModel());
            n.put("served_model", r.outcome().servedModel());
            n.put("run", r.call().runId());
            n.put("agent", r.call().agentId());
            n.put("input_tokens", r.outcome().usage().inputTokens());
            n.put("cache_write_5m_tokens", r.outcome().usage().cacheWrite5mTokens());
            n.put("cache_write_1h_tokens", r.outcome().usage().cacheWrite1hTokens());
            n.put("cache_read_tokens", r.outcome().usage().cacheReadTokens());
            n.put("output_tokens", r.outcome().usage().outputTokens());
            n.put("cost_usd", r.outcome().cost().toUsdString());
            n.put("latency_ms", r.outcome().latencyMs());
            n.put("ttft_ms", r.outcome().timeToFirstTokenMs());
            n.put("stop_reason", r.outcome().stopReason());
            n.put("max_tokens", r.call().maxTokens());
            n.put("hit_cap", r.outcome().hitCap());
            n.put("status", r.outcome().status().wireName());
            n.put("error_type", r.outcome().errorType());
        }
        ObjectNode root = json.createObjectNode();
        root.set("calls", rows);
        if (page.hasNext()) {
            root.put("next", nextPage(req, query.limit(), page.next()));
        }
        send(res, root);
    }

    void feedback(ServerRequest req, ServerResponse res) {
        if (!authorised(req, res)) {
            return;
        }
        Optional<byte[]> body = HttpTransport.body(req, 64 * 1024);
        JsonNode root;
        try {
            root = body.isPresent() ? json.readTree(body.get()) : null;
        } catch (IOException e) {
            root = null;
        }
        if (root == null || !root.isObject()) {
            badRequest(res, "the body must be a JSON object {\"request_id\": \"...\", \"score\": 0..1}");
            return;
        }
        JsonNode id = root.path("request_id");
        JsonNode score = root.path("score");
        if (!id.isTextual() || id.asText().isBlank()) {
            badRequest(res, "request_id: a served call's request id (x-tiergate-request-id) is required, got " + id);
            return;
        }
        if (!score.isNumber() || !(score.asDouble() >= 0 && score.asDouble() <= 1)) {
            badRequest(res, "score: must be a number from 0 to 1, got " + (score.isMissingNode() ? "nothing" : score));
            return;
        }
        Optional<LedgerRow> call = ledger.call(id.asText());
        if (call.isEmpty()) {
            badRequest(res, "request_id: no call '" + id.asText() + "' in the ledger");
            return;
        }
        LedgerRow row = call.get();
        if (row.outcome().status() != CallStatus.OK || row.call().tier().equals(Shadow.TIER)) {
            badRequest(
                    res,
                    "request_id: call '" + id.asText() + "' was not served to a caller (status "
                            + row.outcome().status().wireName() + ", tier '"
                            + row.call().tier() + "')");
            return;
        }
        ShadowEvidence evidence = new ShadowEvidence(
                row.call().requestId(),
                clock.instant(),
                row.call().taskType(),
                ShadowEvidence.Source.FEEDBACK,
                new ShadowEvidence.Side(
                        row.outcome().servedModel(),
                        score.asDouble(),
                        row.outcome().usage().inputTokens(),
                        row.outcome().usage().outputTokens(),
                        row.outcome().cost()),
                ShadowEvidence.Side.NONE,
                Money.ZERO);
        ledger.recordEvidence(evidence);
        ObjectNode out = json.createObjectNode();
        out.put("request_id", evidence.requestId());
        out.put("task_type", evidence.taskType());
        out.put("model", evidence.served().model());
        out.put("score", evidence.served().score());
        out.put("source", evidence.source().wireName());
        send(res, out);
    }

    /** The link to the page after this one: the same filters, exactly as given, below {@code before}. */
    private static String nextPage(ServerRequest req, int limit, long before) {
        StringBuilder next = new StringBuilder("/admin/calls?limit=").append(limit);
        for (String name : CALL_FILTERS) {
            for (String value : req.query().all(name, List::of)) {
                // URLEncoder writes form encoding: '+' for a space, which a query decoder may keep as a plus
                next.append('&')
                        .append(name)
                        .append('=')
                        .append(URLEncoder.encode(value, StandardCharsets.UTF_8).replace("+", "%20"));
            }
        }
        return next.append("&before=").append(before).toString();
    }

    private void badRequest(ServerResponse res, String message) {
        errors.sendError(HttpTransport.response(res), new GatewayError.BadRequest(message));
    }

    private static Optional<String> param(ServerRequest req, String name) {
        return req.query().first(name).asOptional();
    }

    private static Instant day(Optional<String> text, LocalDate fallback) {
        try {
            return text.map(LocalDate::parse)
                    .orElse(fallback)
                    .atStartOfDay(ZoneOffset.UTC)
                    .toInstant();
        } catch (DateTimeParseException e) {
            throw new IllegalArgumentException("a day must be YYYY-MM-DD, got '" + text.orElse("") + "'", e);
        }
    }

    private boolean authorised(ServerRequest req, ServerResponse res) {
        Optional<String> presented = HttpTransport.headersOnly(req).presentedKey();
        if (presented.flatMap(adminKeys::find).isPresent()) {
            return true;
        }
        errors.sendError(
                HttpTransport.response(res),
                new GatewayError.Unauthorized(
                        adminKeys.size() == 0
                                ? "the admin API is off: no admin_keys in the gateway config"
                                : "the admin API needs an admin key (x-api-key or Authorization: Bearer); gateway keys are not accepted"));
        return false;
    }

    private void send(ServerResponse res, ObjectNode body) {
        res.header("content-type", "application/json");
        res.send(body.toString().getBytes(StandardCharsets.UTF_8));
    }
}
