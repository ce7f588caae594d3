package dev.tiergate.gateway;

import io.helidon.webserver.WebServer;
import io.helidon.webserver.http.ServerRequest;
import io.helidon.webserver.http.ServerResponse;
import java.nio.charset.StandardCharsets;
import java.time.Clock;

/**
 * The running gateway: a Helidon SE web server on virtual threads with the Messages routes, health and
 * metrics. Start with {@link #start}, stop with {@link #close}.
 */
public final class Gateway implements AutoCloseable {
    private final WebServer server;
    private final GatewayConfig config;
    private final Accounting accounting;

    private Gateway(WebServer server, GatewayConfig config, Accounting accounting) {
        this.server = server;
        this.config = config;
        this.accounting = accounting;
    }

    /** Starts a gateway that records calls to {@code recorder}. */
    public static Gateway start(GatewayConfig config, CallRecorder recorder, Clock clock) {
        GatewayMetrics metrics = new GatewayMetrics();
        Accounting accounting = new Accounting(
                config.budgets(), config.ledger().open(config.instanceId(), clock), clock, config.lease());
        MessagesHandler handler = new MessagesHandler(
                config, new UpstreamClient(config.upstream()), recorder, metrics, accounting, clock);
        AdminApi admin = new AdminApi(config.adminKeys(), accounting.ledger(), clock, handler);
        WebServer server = WebServer.builder()
                .host(config.host())
                .port(config.port())
                // Helidon leaves Nagle on by default: every streamed event would wait ~40 ms for an ACK.
                .connectionOptions(o -> o.tcpNoDelay(true))
                .shutdownHook(false)
                .routing(r -> r.post("/v1/messages", guarded(handler, handler::messages))
                        .post("/v1/messages/count_tokens", guarded(handler, handler::countTokens))
                        .get("/admin/budgets", admin::budgets)
                        .get("/admin/spend", admin::spend)
                        .get("/admin/calls", admin::calls)
                        .get("/healthz", (req, res) -> {
                            res.header("content-type", "application/json");
                            res.send("{\"status\":\"ok\"}".getBytes(StandardCharsets.UTF_8));
                        })
                        .get("/metrics", (req, res) -> {
                            res.header("content-type", "text/plain; version=0.0.4; charset=utf-8");
                            res.send(metrics.scrape().getBytes(StandardCharsets.UTF_8));
                        })
                        .any((req, res) -> handler.sendError(
                                res,
                                new GatewayError.NotFound("no route for "
                                        + req.prologue().method().text() + " "
                                        + req.path().path()))))
                .build()
                .start();
        return new Gateway(server, config, accounting);
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

    @Override
    public void close() {
        server.stop();
        accounting.close();
    }

    private interface Handler {
        void handle(ServerRequest req, ServerResponse res);
    }

    /** Any unexpected failure becomes an Anthropic-shaped 500 instead of the server's own error page. */
    private static io.helidon.webserver.http.Handler guarded(MessagesHandler handler, Handler h) {
        return (req, res) -> {
            try {
                h.handle(req, res);
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
