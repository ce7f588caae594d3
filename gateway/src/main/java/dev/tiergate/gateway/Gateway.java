package dev.tiergate.gateway;

import dev.tiergate.simulator.SimulatedUpstream;
import dev.tiergate.simulator.SimulatorProfiles;
import io.helidon.webserver.WebServer;
import java.nio.charset.StandardCharsets;
import java.time.Clock;
import java.time.Duration;

/**
 * The running gateway: a Helidon SE web server on virtual threads with the Messages routes, health and
 * metrics. Start with {@link #start}, stop with {@link #close}.
 */
public final class Gateway implements AutoCloseable {
    /** Request ids of calls answered by the built-in simulator start with this (real ones with {@code tgreq_}). */
    public static final String SIMULATED_REQUEST_ID_PREFIX = "tgreq_sim_";

    private final WebServer server;
    private final GatewayConfig config;
    private final Accounting accounting;
    private final MessagesHandler handler;

    private Gateway(WebServer server, GatewayConfig config, Accounting accounting, MessagesHandler handler) {
        this.server = server;
        this.config = config;
        this.accounting = accounting;
        this.handler = handler;
    }

    /** Starts a gateway that records calls to {@code recorder}. */
    public static Gateway start(GatewayConfig config, CallRecorder recorder, Clock clock) {
        GatewayMetrics metrics = new GatewayMetrics(config.policy().taskTypes().keySet());
        Accounting accounting = new Accounting(
                config.budgets(), config.ledger().open(config.instanceId(), clock), metrics, clock, config.lease());
        metrics.ledger(accounting.ledger());
        MessagesHandler handler =
                new MessagesHandler(config, upstreamFor(config), recorder, metrics, accounting, clock);
        AdminApi admin =
                new AdminApi(config.adminKeys(), config.enforcedBudgets(), accounting.ledger(), clock, handler);
        WebServer server = WebServer.builder()
                .host(config.host())
                .port(config.port())
                // Helidon leaves Nagle on by default: every streamed event would wait ~40 ms for an ACK.
                .connectionOptions(o -> o.tcpNoDelay(true))
                .shutdownHook(false)
                // stop() lets requests in flight finish (up to DRAIN) before it closes their connections
                .shutdownGracePeriod(DRAIN)
                .routing(r -> r.post("/v1/messages", guarded(handler, config, handler::messages))
                        .post("/v1/messages/count_tokens", guarded(handler, config, handler::countTokens))
                        .get("/admin/budgets", admin::budgets)
                        .get("/admin/spend", admin::spend)
                        .get("/admin/calls", admin::calls)
                        .post("/admin/feedback", admin::feedback)
                        .get("/healthz", (req, res) -> {
                            res.header("content-type", "application/json");
                            res.send("{\"status\":\"ok\"}".getBytes(StandardCharsets.UTF_8));
                        })
                        .get("/metrics", (req, res) -> {
                            res.header("content-type", "text/plain; version=0.0.4; charset=utf-8");
                            res.send(metrics.scrape().getBytes(StandardCharsets.UTF_8));
                        })
                        .any((req, res) -> handler.sendError(
                                HttpTransport.response(res),
                                new GatewayError.NotFound("no route for "
                                        + req.prologue().method().text() + " "
                                        + req.path().path()))))
                .build()
                .start();
        return new Gateway(server, config, accounting, handler);
    }

    /** HTTP to the configured base URL, or the built-in simulator in process. */
    static Upstream upstreamFor(GatewayConfig config) {
        GatewayConfig.Upstream u = config.upstream();
        if (u.simulated()) {
            return new SimulatedUpstreamAdapter(
                    SimulatedUpstream.create(
                            u.simulatorSeed(), SimulatorProfiles.builtIn(), u.simulatorTimeCompression()),
                    u.maxRetries());
        }
        return new UpstreamClient(u);
    }

    /** The port the gateway listens on (useful with port 0). */
    public int port() {
        return server.port();
    }

    /** {@code http://HOST:PORT}. */
    public String baseUrl() {
        return "http://" + config.host() + ":" + port();
    }

    /** The ledger this gateway records to (shared with other instances on PostgreSQL). */
    public dev.tiergate.ledger.Ledger ledger() {
        return accounting.ledger();
    }

    /** How long {@link #close} waits for calls in flight to finish and settle. */
    static final Duration DRAIN = Duration.ofSeconds(30);

    /** Stops accepting calls, lets the calls in flight finish and settle (up to {@link #DRAIN}), then stops. */
    @Override
    public void close() {
        long start = System.nanoTime();
        server.stop(); // waits for running requests, up to DRAIN
        // what the server's wait left unsettled gets the rest of the same DRAIN, not a second one
        Duration left = DRAIN.minusNanos(System.nanoTime() - start);
        accounting.awaitIdle(left.isNegative() ? Duration.ZERO : left);
        handler.close();
        accounting.close();
    }

    private interface Handler {
        void handle(CallRequest req, ResponseSink res);
    }

    /** Any unexpected failure becomes an Anthropic-shaped 500 instead of the server's own error page. */
    private static io.helidon.webserver.http.Handler guarded(MessagesHandler handler, GatewayConfig config, Handler h) {
        return (req, res) -> {
            try {
                h.handle(HttpTransport.request(req, config.maxBodyBytes()), HttpTransport.response(res));
            } catch (RuntimeException e) {
                System.getLogger("tiergate.gateway")
                        .log(
                                System.Logger.Level.ERROR,
                                "unexpected failure serving " + req.path().path(),
                                e);
                if (!res.isSent()) {
                    res.status(500);
                    res.header("content-type", "application/json");
                    res.send(handler.errorBody(
                            "api_error",
                            "internal gateway error: " + e.getClass().getSimpleName()));
                }
            }
        };
    }
}
