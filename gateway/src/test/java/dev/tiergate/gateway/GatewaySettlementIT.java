package dev.tiergate.gateway;

import static org.assertj.core.api.Assertions.assertThat;

import dev.tiergate.budget.BudgetStatus;
import dev.tiergate.ledger.CallQuery;
import dev.tiergate.ledger.CallStatus;
import dev.tiergate.ledger.Ledger;
import dev.tiergate.ledger.LedgerRow;
import dev.tiergate.pricing.Money;
import dev.tiergate.testing.FakeResponse;
import io.zonky.test.db.postgres.embedded.EmbeddedPostgres;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.Statement;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** A call in flight is settled even when the gateway stops under it or the ledger's connection dies under it. */
class GatewaySettlementIT {
    private static final String BUDGET = "budgets:\n  - { name: day, scope: global, window: day, limit_usd: 50 }\n";

    @TempDir
    Path dir;

    final HttpClient http = HttpClient.newHttpClient();

    /** A stream that takes about a second: 5 events 200 ms apart. */
    private static FakeResponse slowStream() {
        return FakeResponse.stream()
                .eventDelay(Duration.ofMillis(200))
                .messageStart(FakeResponse.usage(1000, 1))
                .text("a", "b")
                .messageDelta("end_turn", "{\"output_tokens\":200}")
                .messageStop()
                .build();
    }

    private CompletableFuture<HttpResponse<String>> streamedCall(GatewayHarness h) {
        return http.sendAsync(
                HttpRequest.newBuilder(URI.create(h.baseUrl() + "/v1/messages"))
                        .header("x-api-key", GatewayHarness.KEY)
                        .header("anthropic-version", "2023-06-01")
                        .POST(HttpRequest.BodyPublishers.ofString("{\"model\":\"task:extraction\",\"max_tokens\":300,"
                                + "\"stream\":true,\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}]}"))
                        .build(),
                HttpResponse.BodyHandlers.ofString());
    }

    private static BudgetStatus day(Ledger ledger) {
        return ledger.budgetStatus(Instant.now()).stream()
                .filter(s -> s.budget().budget().equals("day"))
                .findFirst()
                .orElseThrow();
    }

    @Test
    void aStoppingGatewayLetsTheCallInFlightFinishAndSettlesIt() throws Exception {
        CompletableFuture<HttpResponse<String>> call;
        try (GatewayHarness h = new GatewayHarness(dir, BUDGET)) {
            h.fake.setDefault(slowStream());
            call = streamedCall(h);
            assertThat(h.fake.takeRequest(Duration.ofSeconds(10))).isNotNull();
            h.stopGateway(); // while the stream still has most of its second to go
        }
        HttpResponse<String> res = call.get(10, TimeUnit.SECONDS);
        assertThat(res.statusCode()).isEqualTo(200);
        try (Ledger ledger = Ledger.sqlite(dir.resolve("tiergate-ledger.db"), "check", Clock.systemUTC())) {
            List<LedgerRow> rows = ledger.calls(CallQuery.latest(10)).rows();
            assertThat(rows).singleElement().satisfies(r -> {
                assertThat(r.outcome().status()).isIn(CallStatus.OK, CallStatus.CLIENT_CANCELLED);
                assertThat(r.outcome().cost()).isGreaterThan(Money.ZERO);
            });
            // nothing left for lease recovery to charge at its worst case
            assertThat(day(ledger).reserved()).isEqualTo(Money.ZERO);
            assertThat(day(ledger).spent()).isEqualTo(rows.get(0).outcome().cost());
        }
    }

    @Test
    void aSettlementThatMeetsADeadDatabaseConnectionIsRetriedOnAFreshOne() throws Exception {
        try (EmbeddedPostgres pg = EmbeddedPostgres.builder().start()) {
            String url = pg.getJdbcUrl("postgres", "postgres");
            String ledgerConfig =
                    "ledger:\n  postgres: { url: \"" + url + "\", user: postgres, schema: gw, pool_size: 2 }\n";
            try (GatewayHarness h = new GatewayHarness(dir, BUDGET + ledgerConfig)) {
                h.fake.setDefault(slowStream());
                CompletableFuture<HttpResponse<String>> call = streamedCall(h);
                assertThat(h.fake.takeRequest(Duration.ofSeconds(10))).isNotNull();
                // the server drops every client connection, the ledger writer's among them, mid-call
                try (Connection c = DriverManager.getConnection(url, "postgres", "");
                        Statement s = c.createStatement()) {
                    s.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE pid <> pg_backend_pid()"
                            + " AND backend_type = 'client backend'");
                }
                assertThat(call.get(10, TimeUnit.SECONDS).statusCode()).isEqualTo(200);
                h.awaitCalls(1);
                Ledger ledger = h.gateway.ledger();
                List<LedgerRow> rows = ledger.calls(CallQuery.latest(10)).rows();
                assertThat(rows).singleElement().satisfies(r -> {
                    assertThat(r.outcome().status()).isEqualTo(CallStatus.OK);
                    // Haiku 4.5: 1,000 input x $1 + 200 output x $5 per million = $0.002
                    assertThat(r.outcome().cost().toUsdString()).isEqualTo("0.002000000");
                });
                assertThat(day(ledger).reserved()).isEqualTo(Money.ZERO);
                assertThat(day(ledger).spent().toUsdString()).isEqualTo("0.002000000");
            }
        }
    }
}
