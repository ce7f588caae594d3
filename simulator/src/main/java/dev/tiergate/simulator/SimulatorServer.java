package dev.tiergate.simulator;

import com.fasterxml.jackson.core.JacksonException;
import com.fasterxml.jackson.databind.JsonNode;
import com.sun.net.httpserver.Headers;
import com.sun.net.httpserver.HttpExchange;
import com.sun.net.httpserver.HttpServer;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.io.UncheckedIOException;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;

/**
 * The simulated upstream over HTTP on {@code 127.0.0.1}, speaking the Anthropic Messages wire format.
 *
 * <p>Routes: {@code POST /v1/messages} (JSON, or SSE when {@code "stream": true}, each event flushed after its
 * simulated delay divided by the time compression), {@code POST /v1/messages/count_tokens}, {@code GET /healthz}.
 * Any API key (or none) is accepted. The task type comes from the {@value SimulatedUpstream#TASK_HEADER} header,
 * else from the body ({@link SimulatedUpstream#taskTypeOf}); a {@value SimulatedUpstream#CALL_KEY_HEADER} header
 * fixes the call key. Every response carries {@code x-tiergate-simulated: true}, and simulated calls also
 * {@code x-tiergate-simulated-ttft-ms} and {@code x-tiergate-simulated-latency-ms} (uncompressed).
 *
 * <p>One virtual thread per exchange. {@link #close()} stops accepting and ends open streams.
 */
public final class SimulatorServer implements AutoCloseable {

    /** Header on every response: the answer did not come from a real model. */
    public static final String SIMULATED_HEADER = "x-tiergate-simulated";

    private final SimulatedUpstream upstream;
    private final HttpServer server;
    private final ExecutorService executor;

    private SimulatorServer(SimulatedUpstream upstream, HttpServer server, ExecutorService executor) {
        this.upstream = upstream;
        this.server = server;
        this.executor = executor;
    }

    /**
     * Starts a server on {@code 127.0.0.1:port}; port 0 picks a free one.
     *
     * @throws UncheckedIOException if the port cannot be bound
     */
    public static SimulatorServer start(SimulatedUpstream upstream, int port) {
        if (port < 0 || port > 65_535) {
            throw new IllegalArgumentException("port must be in [0, 65535], got " + port);
        }
        HttpServer http;
        try {
            http = HttpServer.create(new InetSocketAddress(InetAddress.getLoopbackAddress(), port), 0);
        } catch (IOException e) {
            throw new UncheckedIOException("cannot listen on 127.0.0.1:" + port + ": " + e.getMessage(), e);
        }
        ExecutorService executor = Executors.newVirtualThreadPerTaskExecutor();
        SimulatorServer server = new SimulatorServer(upstream, http, executor);
        http.setExecutor(executor);
        http.createContext("/", server::handle);
        http.start();
        return server;
    }

    /** The bound port. */
    public int port() {
        return server.getAddress().getPort();
    }

    /** {@code http://127.0.0.1:PORT}, for an SDK's base URL. */
    public String baseUrl() {
        return "http://127.0.0.1:" + port();
    }

    /** The simulator answering the calls. */
    public SimulatedUpstream upstream() {
        return upstream;
    }

    @Override
    public void close() {
        server.stop(0);
        executor.shutdownNow();
    }

    private void handle(HttpExchange exchange) throws IOException {
        try (exchange) {
            String path = exchange.getRequestURI().getPath();
            String method = exchange.getRequestMethod();
            switch (path) {
                case "/v1/messages" -> {
                    if (requirePost(exchange, method)) {
                        messages(exchange);
                    }
                }
                case "/v1/messages/count_tokens" -> {
                    if (requirePost(exchange, method)) {
                        countTokens(exchange);
                    }
                }
                case "/healthz" -> sendJson(exchange, 200, "{\"status\":\"ok\",\"simulated\":true}");
                default -> sendError(exchange, 404, "not_found_error", "no route " + method + " " + path);
            }
        } catch (IOException e) {
            // The client went away mid-response: nothing to tell it.
        }
    }

    private static boolean requirePost(HttpExchange exchange, String method) throws IOException {
        if (method.equals("POST")) {
            return true;
        }
        exchange.getResponseHeaders().set("allow", "POST");
        sendError(exchange, 405, "invalid_request_error", "method " + method + " not allowed; use POST");
        return false;
    }

    private void messages(HttpExchange exchange) throws IOException {
        JsonNode body = readJson(exchange);
        if (body == null) {
            return;
        }
        String task = exchange.getRequestHeaders().getFirst(SimulatedUpstream.TASK_HEADER);
        String taskType = task != null && !task.isBlank() ? task.strip() : SimulatedUpstream.taskTypeOf(body);
        String callKey = exchange.getRequestHeaders().getFirst(SimulatedUpstream.CALL_KEY_HEADER);
        SimulatedResponse response =
                callKey != null ? upstream.respond(body, taskType, callKey) : upstream.respond(body, taskType);
        Headers headers = exchange.getResponseHeaders();
        headers.set("x-tiergate-simulated-ttft-ms", millis(response.latency().timeToFirstToken()));
        headers.set("x-tiergate-simulated-latency-ms", millis(response.latency().total()));
        switch (response) {
            case SimulatedResponse.Message m -> {
                headers.set("request-id", "req_sim_" + m.id().substring("msg_sim_".length()));
                pause(m.latency().total());
                sendJson(exchange, 200, m.body());
            }
            case SimulatedResponse.Stream s -> stream(exchange, s.id(), s.events());
            case SimulatedResponse.MidStreamFailure f -> stream(exchange, f.id(), f.events());
            case SimulatedResponse.Failure f -> {
                headers.set("request-id", f.requestId());
                if (f.retryAfter().isPresent()) {
                    headers.set("retry-after", Long.toString(f.retryAfter().getAsLong()));
                }
                pause(f.latency().total());
                sendJson(exchange, f.status(), f.body());
            }
        }
    }

    private void countTokens(HttpExchange exchange) throws IOException {
        JsonNode body = readJson(exchange);
        if (body == null) {
            return;
        }
        var invalid = upstream.validate(body, false, SimulatorProfiles.UNCLASSIFIED);
        if (invalid.isPresent()) {
            sendJson(exchange, 400, invalid.get().body());
            return;
        }
        sendJson(exchange, 200, "{\"input_tokens\":" + upstream.countTokens(body) + "}");
    }

    private void stream(HttpExchange exchange, String id, List<SimulatedResponse.Event> events) throws IOException {
        Headers headers = exchange.getResponseHeaders();
        headers.set("request-id", "req_sim_" + id.substring("msg_sim_".length()));
        headers.set("content-type", "text/event-stream; charset=utf-8");
        headers.set("cache-control", "no-cache");
        headers.set(SIMULATED_HEADER, "true");
        exchange.sendResponseHeaders(200, 0);
        OutputStream out = exchange.getResponseBody();
        // Pace against deadlines from the start, so many tiny compressed waits do not add up to drift.
        long start = System.nanoTime();
        long dueNanos = 0;
        for (SimulatedResponse.Event event : events) {
            dueNanos += upstream.wallTime(event.delay()).toNanos();
            long wait = start + dueNanos - System.nanoTime();
            if (wait > 0) {
                sleep(wait);
            }
            out.write(event.wire().getBytes(StandardCharsets.UTF_8));
            out.flush();
        }
    }

    private void pause(Duration simulated) {
        long nanos = upstream.wallTime(simulated).toNanos();
        if (nanos > 0) {
            sleep(nanos);
        }
    }

    private static void sleep(long nanos) {
        try {
            Thread.sleep(Duration.ofNanos(nanos));
        } catch (InterruptedException e) {
            // close() interrupts open exchanges: stop waiting and let the write fail or finish.
            Thread.currentThread().interrupt();
        }
    }

    /** The body as JSON, or {@code null} after answering 400 when it is not JSON. */
    private static @org.jspecify.annotations.Nullable JsonNode readJson(HttpExchange exchange) throws IOException {
        byte[] bytes;
        try (InputStream in = exchange.getRequestBody()) {
            bytes = in.readAllBytes();
        }
        try {
            JsonNode node = Wire.JSON.readTree(bytes);
            if (node != null && !node.isMissingNode()) {
                return node;
            }
            sendError(exchange, 400, "invalid_request_error", "request body is empty; expected a JSON object");
        } catch (JacksonException e) {
            sendError(
                    exchange,
                    400,
                    "invalid_request_error",
                    "request body is not valid JSON: " + e.getOriginalMessage());
        }
        return null;
    }

    private static void sendError(HttpExchange exchange, int status, String type, String message) throws IOException {
        sendJson(exchange, status, Wire.errorBody(type, message, "req_sim_error"));
    }

    private static void sendJson(HttpExchange exchange, int status, String json) throws IOException {
        byte[] bytes = json.getBytes(StandardCharsets.UTF_8);
        Headers headers = exchange.getResponseHeaders();
        headers.set("content-type", "application/json");
        headers.set(SIMULATED_HEADER, "true");
        exchange.sendResponseHeaders(status, bytes.length);
        try (OutputStream out = exchange.getResponseBody()) {
            out.write(bytes);
        }
    }

    private static String millis(Duration d) {
        return String.format(Locale.ROOT, "%.3f", d.toNanos() / 1e6);
    }
}
