package dev.tiergate.gateway;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.tiergate.budget.BudgetStatus;
import dev.tiergate.ledger.CallQuery;
import dev.tiergate.ledger.CallStatus;
import dev.tiergate.ledger.LedgerRow;
import dev.tiergate.pricing.Money;
import dev.tiergate.testing.FakeAnthropic;
import dev.tiergate.testing.FakeResponse;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.OutputStream;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.time.LocalDate;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CopyOnWriteArrayList;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The Messages pipeline when things break after a call's budget was reserved: a caller that left, an upstream
 * answer cut off or unreadable, a failure nobody foresaw. Every such call is still settled and recorded, exactly
 * once, and leaves no reservation open in the running gateway (which would hold budget until a restart).
 * In process against a real fake upstream, so that a caller's connection can fail on cue.
 */
class MessagesHandlerFailureIT {
    private static final ObjectMapper JSON = new ObjectMapper();

    /** Haiku 4.5's output price over the task's 300-token cap: any worst case is at least this. */
    private static final Money CAP_AT_OUTPUT_PRICE = Money.parseUsd("0.0015");

    @TempDir
    Path dir;

    private FakeAnthropic fake;
    private Accounting accounting;
    private MessagesHandler handler;
    private final List<CallRecord> recorded = new CopyOnWriteArrayList<>();

    @BeforeEach
    void start() throws IOException {
        fake = FakeAnthropic.start();
        Files.writeString(dir.resolve("policy.yaml"), GatewayHarness.POLICY);
        Files.writeString(dir.resolve("tiergate.yaml"), """
                listen: { host: 127.0.0.1, port: 0 }
                policy: policy.yaml
                upstream: { base_url: %s, max_retries: 1, retry_base_ms: 1, idle_timeout_ms: 5000 }
                keys:
                  - { name: agents, sha256: %s, team: team-a }
                ledger:
                  sqlite: %s
                budgets:
                  - { name: day, scope: global, window: day, limit_usd: 5 }
                """.formatted(
                        fake.baseUrl(), ApiKeys.sha256Hex(GatewayHarness.KEY), dir.resolve("ledger.db")));
        GatewayConfig config = GatewayConfig.load(
                dir.resolve("tiergate.yaml"), Map.of("ANTHROPIC_API_KEY", "sk-test"), LocalDate.of(2026, 11, 29));
        Clock clock = Clock.systemUTC();
        GatewayMetrics metrics = new GatewayMetrics(config.policy().taskTypes().keySet());
        accounting = new Accounting(
                config.budgets(), config.ledger().open(config.instanceId(), clock), metrics, clock, config.lease());
        handler = new MessagesHandler(config, Gateway.upstreamFor(config), recorded::add, metrics, accounting, clock);
    }

    @AfterEach
    void stop() {
        handler.close();
        accounting.close();
        fake.close();
    }

    private static CallRequest request(boolean stream) {
        String body = "{\"model\":\"task:extraction\",\"max_tokens\":300,\"stream\":" + stream
                + ",\"messages\":[{\"role\":\"user\",\"content\":\"hello\"}]}";
        return CallRequest.inMemory(
                Map.of("x-api-key", List.of(GatewayHarness.KEY), "anthropic-version", List.of("2023-06-01")),
                body.getBytes(StandardCharsets.UTF_8),
                null);
    }

    /** The one ledger row, after checking that the budget holds no reservation and counts exactly that row. */
    private LedgerRow onlyRowWithNothingReserved() {
        List<LedgerRow> rows = accounting.ledger().calls(CallQuery.latest(10)).rows();
        assertThat(rows).hasSize(1);
        BudgetStatus day = accounting.ledger().budgetStatus(Instant.now()).stream()
                .filter(s -> s.budget().budget().equals("day"))
                .findFirst()
                .orElseThrow();
        assertThat(day.reserved()).isEqualTo(Money.ZERO);
        assertThat(day.spent()).isEqualTo(rows.get(0).outcome().cost());
        assertThat(recorded).hasSize(1);
        return rows.get(0);
    }

    @Test
    void anUpstreamErrorRelayedToACallerWhoLeftIsStillRecorded() {
        fake.enqueue(FakeResponse.error(400, "invalid_request_error", "messages: bad"));
        Sink gone = new Sink(true);

        handler.messages(request(false), gone);

        LedgerRow row = onlyRowWithNothingReserved();
        assertThat(row.outcome().status()).isEqualTo(CallStatus.UPSTREAM_ERROR);
        assertThat(row.outcome().errorType()).isEqualTo("invalid_request_error");
        assertThat(row.outcome().cost()).isEqualTo(Money.ZERO);
    }

    @Test
    void anUpstreamThatFailsEveryAttemptForACallerWhoLeftIsStillRecorded() {
        fake.setDefault(FakeResponse.error(529, "overloaded_error", "busy"));
        Sink gone = new Sink(true);

        handler.messages(request(false), gone);

        assertThat(fake.requestCount()).isEqualTo(2); // the first attempt and one retry
        LedgerRow row = onlyRowWithNothingReserved();
        assertThat(row.outcome().status()).isEqualTo(CallStatus.UPSTREAM_ERROR);
        assertThat(row.outcome().errorType()).isEqualTo("overloaded_error");
    }

    @Test
    void aBodyCutOffMidReadIsAnUpstreamErrorChargedAtItsWorstCaseNeverACut200() throws Exception {
        fake.setDefault(FakeResponse.resetAfter("HTTP/1.1 200 OK\r\ncontent-type: application/json\r\n"
                + "content-length: 400\r\n\r\n{\"id\":\"msg_1\",\"type\":\"message\","));
        Sink caller = new Sink(false);

        handler.messages(request(false), caller);

        assertThat(caller.status).isEqualTo(502);
        JsonNode error = JSON.readTree(caller.body.toByteArray()).path("error");
        assertThat(error.path("type").asText()).isEqualTo("api_error");
        assertThat(error.path("message").asText()).contains("connection was lost");
        LedgerRow row = onlyRowWithNothingReserved();
        assertThat(row.outcome().status()).isEqualTo(CallStatus.UPSTREAM_ERROR);
        // what the upstream billed is unknown: the worst case reserved, never $0
        assertThat(row.outcome().cost().isGreaterThan(CAP_AT_OUTPUT_PRICE)).isTrue();
    }

    @Test
    void aStreamWithAnUnreadableUsageEventStopsWithAnErrorEventAndIsChargedItsWorstCase() {
        fake.enqueue(FakeResponse.stream()
                .messageStart(FakeResponse.usage(100, 1))
                .text("partial")
                .event("message_delta", "{\"type\":\"message_delta\",\"usage\":{\"output_tokens\":\"many\"}}")
                .messageStop()
                .build());
        Sink caller = new Sink(false);

        handler.messages(request(true), caller);

        String events = caller.body.toString(StandardCharsets.UTF_8);
        assertThat(events).contains("partial").contains("event: error").contains("unreadable message_delta");
        assertThat(events).doesNotContain("\"many\"").doesNotContain("message_stop");
        LedgerRow row = onlyRowWithNothingReserved();
        assertThat(row.outcome().status()).isEqualTo(CallStatus.UPSTREAM_ERROR);
        assertThat(row.outcome().errorType()).isEqualTo("invalid_upstream_usage");
        assertThat(row.outcome().cost().isGreaterThan(CAP_AT_OUTPUT_PRICE)).isTrue();
    }

    @Test
    void aFailureNobodyForesawStillSettlesTheCallAtItsWorstCase() {
        fake.enqueue(
                FakeResponse.stream().messageStart(FakeResponse.usage(100, 1)).build());
        Sink broken = new Sink(false) {
            @Override
            public OutputStream outputStream() {
                throw new IllegalStateException("a transport bug");
            }
        };

        assertThatThrownBy(() -> handler.messages(request(true), broken)).hasMessage("a transport bug");

        LedgerRow row = onlyRowWithNothingReserved();
        assertThat(row.outcome().status()).isEqualTo(CallStatus.UPSTREAM_ERROR);
        assertThat(row.outcome().errorType()).isEqualTo("gateway_error");
        assertThat(row.outcome().cost().isGreaterThan(CAP_AT_OUTPUT_PRICE)).isTrue();
    }

    @Test
    void timeToFirstTokenIsTheFirstContentDeltaNotTheMessageStart() {
        // a first stream warms the JVM's path, so that its first-time costs do not blur the pause measured next
        handler.messages(request(true), new Sink(false));
        fake.enqueue(FakeResponse.stream()
                .messageStart(FakeResponse.usage(100, 1))
                .ping()
                .pause(Duration.ofMillis(500))
                .text("late")
                .messageDelta("end_turn", "{\"output_tokens\":3}")
                .messageStop()
                .build());

        handler.messages(request(true), new Sink(false));

        assertThat(recorded).hasSize(2).last().satisfies(c -> {
            assertThat(c.status()).isEqualTo("ok");
            assertThat(c.timeToFirstTokenMillis()).isGreaterThanOrEqualTo(500);
            // the pause came before the first token, not after it
            assertThat(c.latencyMillis() - c.timeToFirstTokenMillis()).isLessThan(250);
        });
    }

    /** A caller's end of the response; with {@code gone}, one that left: sending throws, as the transports do. */
    private static class Sink implements ResponseSink {
        private final boolean gone;
        int status = 200;
        final ByteArrayOutputStream body = new ByteArrayOutputStream();

        Sink(boolean gone) {
            this.gone = gone;
        }

        @Override
        public void header(String name, String value) {}

        @Override
        public void status(int s) {
            status = s;
        }

        @Override
        public void send(byte[] b) {
            if (gone) {
                throw new UncheckedIOException(new IOException("caller disconnected"));
            }
            body.writeBytes(b);
        }

        @Override
        public OutputStream outputStream() {
            return body;
        }
    }
}
