package dev.tiergate.gateway;

import com.anthropic.client.AnthropicClient;
import com.anthropic.client.okhttp.AnthropicOkHttpClient;
import dev.tiergate.testing.FakeAnthropic;
import io.helidon.common.testing.virtualthreads.PinningRecorder;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Clock;
import java.time.Duration;
import java.time.LocalDate;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.TimeUnit;
import java.util.function.Function;

/** A real gateway on port 0 in front of a {@link FakeAnthropic}, with the calls it recorded. */
final class GatewayHarness implements AutoCloseable {
    static final String KEY = "tg-test-key-1";
    static final String PASSTHROUGH_KEY = "tg-test-key-passthrough";
    static final String UPSTREAM_SECRET = "sk-ant-upstream-SECRET-do-not-leak";

    static final String POLICY = """
            tiers:
              frontier: { model: claude-opus-4-6, fallbacks: [claude-opus-4-5] }
              small:    { model: claude-haiku-4-5-20251001 }
            default_tier: small
            default_max_tokens: 1024
            task_types:
              synthesis:      { tier: frontier, max_tokens: 2000, priority: high }
              extraction:     { tier: small,    max_tokens: 300 }
              classification: { tier: small,    max_tokens: 10 }
            rules:
              - when: { input_tokens_over: 150000 }
                route_to: frontier
            """;

    final FakeAnthropic fake;
    final Gateway gateway;
    final List<CallRecord> calls = new CopyOnWriteArrayList<>();
    private boolean stopped;

    /**
     * Pinned parking shorter than this is not reported: JFR's and Helidon's default, 20 ms. At 1 ms the JDK's own
     * one-time waits (a poller thread waiting ~2 ms for its class to initialise) failed tests we cannot fix.
     */
    static final Duration PINNED_AT_MOST = Duration.ofMillis(PinningRecorder.DEFAULT_THRESHOLD);

    private final PinningRecorder pinning = PinningRecorder.create();

    GatewayHarness(Path dir) {
        this(dir, "");
    }

    GatewayHarness(Path dir, String extraConfig) {
        this(dir, POLICY, upstreamUrl ->
                """
                listen: { host: 127.0.0.1, port: 0 }
                policy: policy.yaml
                upstream:
                  base_url: %s
                  max_retries: 2
                  retry_base_ms: 1
                  max_retry_wait_ms: 200
                  idle_timeout_ms: 5000
                keys:
                  - name: agents
                    sha256: %s
                    team: team-a
                  - name: passthrough
                    sha256: %s
                    allow_model_passthrough: true
                %s
                """.formatted(upstreamUrl, ApiKeys.sha256Hex(KEY), ApiKeys.sha256Hex(PASSTHROUGH_KEY), extraConfig));
    }

    /**
     * A gateway from {@code policy} and the config {@code configForUpstreamUrl} writes given the fake upstream's
     * base URL, for tests that need their own tiers, retries or keys.
     */
    GatewayHarness(Path dir, String policy, Function<String, String> configForUpstreamUrl) {
        this(dir, policy, FakeAnthropic.start(), configForUpstreamUrl);
    }

    /**
     * A gateway in front of {@code fake} (which the harness closes) with the default policy, one key
     * ({@link #KEY}, named {@code agents}) and {@code upstreamSettings} (YAML lines such as {@code max_retries: 0})
     * in its {@code upstream:} section beside the fake's base URL.
     */
    static GatewayHarness withUpstream(Path dir, FakeAnthropic fake, String upstreamSettings) {
        return new GatewayHarness(dir, POLICY, fake, url ->
                """
                listen: { host: 127.0.0.1, port: 0 }
                policy: policy.yaml
                upstream:
                  base_url: %s
                %s\
                keys:
                  - { name: agents, sha256: %s }
                """.formatted(url, upstreamSettings.strip().indent(2), ApiKeys.sha256Hex(KEY)));
    }

    /** The same, in front of {@code fake} (e.g. a TLS one), which the harness closes. */
    GatewayHarness(Path dir, String policy, FakeAnthropic fake, Function<String, String> configForUpstreamUrl) {
        // every gateway IT fails if a virtual thread parks while pinned to its carrier for this long or longer
        pinning.record(PINNED_AT_MOST);
        this.fake = fake;
        try {
            Files.writeString(dir.resolve("policy.yaml"), policy);
            Files.writeString(dir.resolve("tiergate.yaml"), configForUpstreamUrl.apply(fake.baseUrl()));
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        GatewayConfig config = GatewayConfig.load(
                dir.resolve("tiergate.yaml"), Map.of("ANTHROPIC_API_KEY", UPSTREAM_SECRET), LocalDate.of(2026, 11, 29));
        gateway = Gateway.start(config, calls::add, Clock.systemUTC());
    }

    String baseUrl() {
        return gateway.baseUrl();
    }

    /** A new official Java SDK client of this gateway, with the test key and no retries; the caller closes it. */
    AnthropicClient sdk() {
        return AnthropicOkHttpClient.builder()
                .baseUrl(baseUrl())
                .apiKey(KEY)
                .maxRetries(0)
                .timeout(Duration.ofSeconds(10))
                .build();
    }

    /** Waits until {@code n} calls have been recorded (streams record after the caller's last byte). */
    List<CallRecord> awaitCalls(int n) {
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
        while (calls.size() < n) {
            if (System.nanoTime() > deadline) {
                throw new AssertionError("expected " + n + " recorded calls, got " + calls);
            }
            Thread.onSpinWait();
            java.util.concurrent.locks.LockSupport.parkNanos(
                    Duration.ofMillis(5).toNanos());
        }
        return List.copyOf(calls);
    }

    @Override
    public void close() {
        try {
            stopGateway();
            fake.close();
        } finally {
            pinning.close(); // throws PinningAssertionError listing each pinned stack, if any
        }
    }

    /** Stops the gateway (and closes its ledger) but keeps the fake upstream running. Idempotent. */
    void stopGateway() {
        if (!stopped) {
            stopped = true;
            gateway.close();
        }
    }
}
