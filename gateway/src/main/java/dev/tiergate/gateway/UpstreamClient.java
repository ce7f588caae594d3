package dev.tiergate.gateway;

import io.helidon.common.socket.SocketOptions;
import io.helidon.common.tls.Tls;
import io.helidon.common.tls.TlsConfig;
import io.helidon.http.Header;
import io.helidon.http.HeaderNames;
import io.helidon.http.HeaderValues;
import io.helidon.webclient.api.ClientConnection;
import io.helidon.webclient.api.HttpClientResponse;
import io.helidon.webclient.api.Proxy;
import io.helidon.webclient.api.WebClient;
import io.helidon.webclient.http1.Http1Client;
import io.helidon.webclient.http1.Http1ClientConfig;
import io.helidon.webclient.http1.Http1ClientRequest;
import java.io.FilterInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.net.SocketTimeoutException;
import java.net.URI;
import java.nio.charset.StandardCharsets;
import java.security.GeneralSecurityException;
import java.security.KeyStore;
import java.security.cert.X509Certificate;
import java.time.Duration;
import java.time.Instant;
import java.time.ZonedDateTime;
import java.time.format.DateTimeFormatter;
import java.time.format.DateTimeParseException;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ThreadLocalRandom;
import java.util.function.Function;
import javax.net.ssl.TrustManager;
import javax.net.ssl.TrustManagerFactory;
import javax.net.ssl.X509TrustManager;
import org.jspecify.annotations.Nullable;

/**
 * Sends one call upstream, with retries and fallbacks, all before any byte reaches the caller.
 *
 * <p>Each model (the routed one, then the tier's fallbacks in order) gets {@code 1 + maxRetries} attempts on
 * 429, 529, other 5xx and connection errors. Backoff doubles from {@code retryBase} with up to 25% jitter, as
 * the official SDKs do; an upstream {@code retry-after-ms} / {@code retry-after} is honoured when it is at
 * most {@code maxRetryWait}, and a longer one moves straight on to the next fallback rather than keep the
 * caller waiting. Any other status (success or a 4xx) is returned as is. An attempt that was sent and got no
 * answer (the connection lost once made, or no headers within {@code first_byte_timeout_ms}) may have been billed:
 * it is reported in {@link Result#unanswered}, and the attempt after it goes ahead only if the caller's {@link
 * Unanswered} gate agrees (the gateway first reserves room for it).
 *
 * <p>Calls go through Helidon's WebClient over HTTP/1.1 with keep-alive connections pooled by {@link
 * UpstreamConnections} and TCP_NODELAY, for
 * {@code http} (a local simulator, an egress proxy, a test fake) and {@code https} (api.anthropic.com) alike. Over
 * https the server's certificate must chain to the JDK's default trust or to {@code ca_file}, and match the host
 * name. The official Python SDK, too, talks HTTP/1.1 with keep-alive to api.anthropic.com by default; the JDK client,
 * which negotiated HTTP/2 there, cost about 400 µs more CPU per call (docs/benchmarks.md). There is no socket
 * timeout: the wait for the headers is watched here, and callers watch the body they read (idle and total
 * timeouts). Thread-safe; one instance per
 * gateway.
 */
final class UpstreamClient implements Upstream {
    /**
     * How long an upstream connection sits idle in the pool before it is watched for the upstream closing it
     * (UpstreamConnections): far longer than the gaps between calls under load, far shorter than the idle timeouts
     * of servers and proxies (seconds to minutes).
     */
    static final Duration WATCH_IDLE_AFTER = Duration.ofMillis(250);

    /** Helidon's read timeout of zero: no socket timeout (see {@link #exchange}). */
    private static final Duration NO_SOCKET_TIMEOUT = Duration.ZERO;

    private static final Header JSON = HeaderValues.createCached("content-type", "application/json");
    private static final Header ACCEPT_SSE = HeaderValues.createCached("accept", "text/event-stream");
    private static final Header ACCEPT_JSON = HeaderValues.createCached("accept", "application/json");

    private final GatewayConfig.Upstream config;
    private final Http1Client http1;
    private final Map<String, URI> uris = new ConcurrentHashMap<>();
    private final Map<String, io.helidon.http.HeaderName> names = new ConcurrentHashMap<>();
    private final Optional<Header> apiKey;
    private final UpstreamConnections connections;

    UpstreamClient(GatewayConfig.Upstream config) {
        this(config, WATCH_IDLE_AFTER);
    }

    /** @param watchIdleAfter how long a pooled connection idles before it is watched ({@link #WATCH_IDLE_AFTER}) */
    UpstreamClient(GatewayConfig.Upstream config, Duration watchIdleAfter) {
        this.config = config;
        WebClient client = WebClient.builder()
                // Helidon leaves Nagle on by default: a streamed event would wait ~40 ms for an ACK.
                .socketOptions(SocketOptions.builder()
                        .tcpNoDelay(true)
                        .connectTimeout(config.connectTimeout())
                        .build())
                .connectTimeout(config.connectTimeout())
                // No redirects, no proxy from system properties: the upstream is exactly the base URL.
                .followRedirects(false)
                .proxy(Proxy.noProxy())
                .tls(tls(config.caCertificates()))
                .keepAlive(true)
                .build();
        // Straight to HTTP/1.1: the WebClient would otherwise discover the protocol on every request.
        this.http1 = client.client(Http1Client.PROTOCOL);
        this.connections = new UpstreamConnections(client, config.baseUrl(), watchIdleAfter);
        this.apiKey = config.apiKey().isEmpty()
                ? Optional.empty()
                : Optional.of(
                        HeaderValues.createCached("x-api-key", config.apiKey().reveal()));
    }

    /**
     * TLS for an https upstream (Helidon uses none for http): the JDK's default trust plus {@code caCertificates},
     * and host names verified, as browsers and the SDKs do.
     */
    private static Tls tls(List<X509Certificate> caCertificates) {
        TlsConfig.Builder tls = Tls.builder().endpointIdentificationAlgorithm(Tls.ENDPOINT_IDENTIFICATION_HTTPS);
        if (!caCertificates.isEmpty()) {
            // Helidon trusts only the certificates listed once any are: list the defaults too, so ca_file adds to them.
            tls.trust(defaultTrust()).addTrust(caCertificates);
        }
        return tls.build();
    }

    private static List<X509Certificate> defaultTrust() {
        try {
            TrustManagerFactory factory = TrustManagerFactory.getInstance(TrustManagerFactory.getDefaultAlgorithm());
            factory.init((KeyStore) null);
            List<X509Certificate> trusted = new ArrayList<>();
            for (TrustManager manager : factory.getTrustManagers()) {
                if (manager instanceof X509TrustManager x509) {
                    trusted.addAll(List.of(x509.getAcceptedIssuers()));
                }
            }
            return trusted;
        } catch (GeneralSecurityException e) {
            throw new IllegalStateException("the JDK's default trust store cannot be read", e);
        }
    }

    /** The pooled connections, for tests. */
    UpstreamConnections connections() {
        return connections;
    }

    /** The WebClient's settings, for tests: socket options, TLS. */
    Http1ClientConfig settings() {
        return http1.prototype();
    }

    /**
     * Sends {@code path} upstream, trying {@code models} in order.
     *
     * @param bodyFor the request body for a given model (the model is written into it)
     * @param headers headers to forward, already filtered; the upstream key is added here
     * @param deadline the whole call's deadline: no attempt or wait goes past it
     * @param gate asked before the attempt that would follow one sent and never answered
     */
    @Override
    public Result send(
            String path,
            List<String> models,
            Function<String, byte[]> bodyFor,
            Map<String, List<String>> headers,
            boolean stream,
            Instant deadline,
            Unanswered gate) {
        int attempts = 0;
        List<String> tried = new ArrayList<>();
        List<String> unanswered = new ArrayList<>();
        // the model of the last attempt if it was sent and never answered, until the gate lets the next one go
        String waiting = null;
        GatewayError.UpstreamFailed lastError =
                new GatewayError.UpstreamFailed(502, "api_error", "no upstream model to try");
        for (String model : models) {
            tried.add(model);
            byte[] body = bodyFor.apply(model);
            for (int retry = 0; retry <= config.maxRetries(); retry++) {
                if (Instant.now().isAfter(deadline)) {
                    return new Failed(
                            new GatewayError.UpstreamFailed(
                                    504, "timeout_error", "upstream deadline passed after " + attempts + " attempt(s)"),
                            attempts,
                            tried,
                            unanswered);
                }
                if (waiting != null) {
                    if (!gate.tryAgainAfter(waiting)) {
                        if (retry == 0) {
                            tried.removeLast(); // a fallback never tried
                        }
                        return new Failed(lastError, attempts, tried, unanswered);
                    }
                    waiting = null;
                }
                attempts++;
                Optional<Duration> wait;
                try {
                    Answer response = exchange(path, body, headers, stream, deadline);
                    int status = response.status();
                    if (!isRetryable(status)) {
                        return new Response(
                                status, response.headers(), response.body(), model, attempts, tried, unanswered);
                    }
                    String errorBody = readQuietly(response.body(), config.idleTimeout(), deadline);
                    lastError = new GatewayError.UpstreamFailed(
                            status,
                            errorType(status, errorBody),
                            "upstream " + model + " answered " + status + " after " + attempts + " attempt(s): "
                                    + abbreviate(errorBody));
                    wait = retryAfter(response.headers());
                } catch (NoAnswer e) {
                    lastError = new GatewayError.UpstreamFailed(
                            502,
                            "api_error",
                            "upstream " + model + " sent no answer after " + attempts + " attempt(s): " + e.failure());
                    unanswered.add(model);
                    waiting = model;
                    wait = Optional.empty();
                } catch (IOException e) {
                    lastError = new GatewayError.UpstreamFailed(
                            502,
                            "api_error",
                            "upstream " + model + " connection failed after " + attempts + " attempt(s): "
                                    + e.getClass().getSimpleName());
                    wait = Optional.empty();
                }
                if (retry == config.maxRetries()) {
                    break;
                }
                int attemptNo = attempts;
                Duration pause = wait.orElseGet(() -> backoff(attemptNo));
                if (pause.compareTo(config.maxRetryWait()) > 0) {
                    // The upstream asks for a longer wait than we let a caller sit through: try the next model.
                    break;
                }
                if (!sleepUntil(Instant.now().plus(pause), deadline)) {
                    break;
                }
            }
        }
        return new Failed(lastError, attempts, tried, unanswered);
    }

    private Duration backoff(int attempt) {
        long base = config.retryBase().toMillis() << Math.min(attempt - 1, 10);
        long capped = Math.min(base, 8_000);
        double jitter = 1 - ThreadLocalRandom.current().nextDouble(0.25);
        return Duration.ofMillis((long) (capped * jitter));
    }

    static boolean isRetryable(int status) {
        return status == 429 || status >= 500;
    }

    /** {@code retry-after-ms}, else {@code retry-after} in seconds or as an HTTP date. */
    static Optional<Duration> retryAfter(Map<String, List<String>> headers) {
        Optional<String> ms = header(headers, "retry-after-ms");
        if (ms.isPresent()) {
            try {
                return Optional.of(
                        Duration.ofMillis((long) Double.parseDouble(ms.get().trim())));
            } catch (NumberFormatException e) {
                // fall back to retry-after
            }
        }
        Optional<String> after = header(headers, "retry-after");
        if (after.isEmpty()) {
            return Optional.empty();
        }
        String v = after.get().trim();
        try {
            return Optional.of(Duration.ofMillis((long) (Double.parseDouble(v) * 1000)));
        } catch (NumberFormatException e) {
            try {
                ZonedDateTime at = ZonedDateTime.parse(v, DateTimeFormatter.RFC_1123_DATE_TIME);
                Duration d = Duration.between(Instant.now(), at.toInstant());
                return Optional.of(d.isNegative() ? Duration.ZERO : d);
            } catch (DateTimeParseException ignored) {
                return Optional.empty();
            }
        }
    }

    private static Optional<String> header(Map<String, List<String>> headers, String name) {
        for (Map.Entry<String, List<String>> e : headers.entrySet()) {
            if (e.getKey().equalsIgnoreCase(name) && !e.getValue().isEmpty()) {
                return Optional.of(e.getValue().get(0));
            }
        }
        return Optional.empty();
    }

    private static boolean sleepUntil(Instant until, Instant deadline) {
        Instant end = until.isAfter(deadline) ? deadline : until;
        long nanos = Duration.between(Instant.now(), end).toNanos();
        if (nanos > 0) {
            try {
                Thread.sleep(Duration.ofNanos(nanos));
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                return false;
            }
        }
        return !until.isAfter(deadline);
    }

    /** Up to 16 KiB of an error body, read under the idle timeout and the call's deadline (no socket timeout). */
    private static String readQuietly(InputStream in, Duration idle, Instant deadline) {
        try (in;
                StreamWatchdog watchdog = StreamWatchdog.start(in, idle, deadline)) {
            return new String(in.readNBytes(16 * 1024), StandardCharsets.UTF_8);
        } catch (IOException e) {
            return "";
        }
    }

    static String errorType(int status, String body) {
        int i = body.indexOf("\"type\"", body.indexOf("\"error\"") + 1);
        if (i >= 0) {
            int q1 = body.indexOf('"', body.indexOf(':', i) + 1);
            int q2 = q1 < 0 ? -1 : body.indexOf('"', q1 + 1);
            if (q1 >= 0 && q2 > q1) {
                return body.substring(q1 + 1, q2);
            }
        }
        return switch (status) {
            case 429 -> "rate_limit_error";
            case 529 -> "overloaded_error";
            case 504 -> "timeout_error";
            default -> "api_error";
        };
    }

    private static String abbreviate(String s) {
        String one = s.replaceAll("\\s+", " ").trim();
        return one.length() > 300 ? one.substring(0, 300) + "..." : one;
    }

    /** An upstream answer whose body is still to be read; closing the body ends the exchange. */
    private record Answer(int status, Map<String, List<String>> headers, InputStream body) {}

    /**
     * Sends a POST and returns once the response headers are in, or fails once {@code first_byte_timeout_ms} or the
     * call's deadline has passed without them.
     *
     * <p>No socket timeout: a read under one is a timed park of the virtual thread, which wakes the virtual-thread
     * scheduler's timer thread to arm it and again to cancel it, two preemptions of the gateway's core per call
     * (docs/benchmarks.md, tenth round). The wait for the headers is bounded by a {@link StreamWatchdog} that
     * closes the connection instead, and every body read by the caller's own (idle timeout and deadline).
     */
    private Answer exchange(
            String path, byte[] body, Map<String, List<String>> headers, boolean stream, Instant deadline)
            throws IOException {
        URI uri = uris.computeIfAbsent(path, p -> URI.create(config.baseUrl() + p));
        HttpClientResponse response;
        ClientConnection connection;
        try {
            connection = connections.borrow();
        } catch (UncheckedIOException e) {
            throw e.getCause();
        } catch (RuntimeException e) {
            throw new IOException("upstream connection failed: " + e, e);
        }
        // Connected: from here on the request may reach the upstream, which may run (and bill) it even if no
        // answer ever comes back.
        StreamWatchdog headerWait = null;
        try {
            headerWait = StreamWatchdog.start(connection::closeResource, config.firstByteTimeout(), deadline);
            Http1ClientRequest request =
                    http1.post().uri(uri).readTimeout(NO_SOCKET_TIMEOUT).connection(connection);
            headers.forEach((name, values) -> request.header(names.computeIfAbsent(name, HeaderNames::create), values));
            request.header(JSON);
            request.header(stream ? ACCEPT_SSE : ACCEPT_JSON);
            apiKey.ifPresent(request::header);
            response = request.submit(body);
        } catch (UncheckedIOException e) {
            closeQuietly(connection);
            IOException cause = e.getCause();
            throw new NoAnswer(timedOut(headerWait).orElse(cause != null ? cause : new IOException(e.getMessage(), e)));
        } catch (RuntimeException e) {
            closeQuietly(connection);
            // Helidon reports a connection that dies before the headers as unchecked exceptions of its own.
            throw new NoAnswer(timedOut(headerWait).orElse(new IOException("upstream exchange failed: " + e, e)));
        } finally {
            if (headerWait != null) {
                headerWait.close();
            }
        }
        Map<String, List<String>> responseHeaders = new LinkedHashMap<>();
        for (Header h : response.headers()) {
            responseHeaders.put(h.name(), h.allValues());
        }
        return new Answer(response.status().code(), responseHeaders, new Body(response));
    }

    /**
     * An exchange that failed after its connection was made: the request may have reached the upstream, which may
     * have run (and billed) it. Telling a request lost on its way (a pooled connection the upstream had just closed)
     * from one lost after the upstream took it is not possible from here, so both count.
     */
    private static final class NoAnswer extends IOException {
        private static final long serialVersionUID = 1L;
        private final String failure;

        NoAnswer(IOException cause) {
            super(cause.getMessage(), cause);
            this.failure = cause.getClass().getSimpleName();
        }

        /** The failure's kind, for messages: {@code SocketException}, {@code SocketTimeoutException}. */
        String failure() {
            return failure;
        }
    }

    /** The failure to report when the wait for the headers was cut by its watchdog (rather than the connection). */
    private static Optional<IOException> timedOut(@Nullable StreamWatchdog headerWait) {
        if (headerWait == null || headerWait.firedReason().isEmpty()) {
            return Optional.empty();
        }
        return Optional.of(new SocketTimeoutException("no response headers: " + headerWait.firedReason()));
    }

    /** Closes a connection whose exchange failed, so that it never goes back to the pool (closing twice is fine). */
    private static void closeQuietly(@Nullable ClientConnection connection) {
        if (connection != null) {
            connection.closeResource();
        }
    }

    /** Closes the idle upstream connections and stops watching them. */
    @Override
    public void close() {
        connections.close();
    }

    /**
     * A Helidon response body as an {@link InputStream} with the manners the callers rely on: failures are
     * {@link IOException}s, and closing it early drops the connection (which cancels the upstream call) instead of
     * reading on. Closing after the end returns the connection to the pool. Safe to close from another thread.
     */
    private static final class Body extends FilterInputStream {
        private final HttpClientResponse response;

        Body(HttpClientResponse response) {
            super(response.inputStream());
            this.response = response;
        }

        @Override
        public int read() throws IOException {
            try {
                return super.read();
            } catch (UncheckedIOException e) {
                throw e.getCause();
            } catch (RuntimeException e) {
                throw new IOException("upstream body failed: " + e, e);
            }
        }

        @Override
        public int read(byte[] b, int off, int len) throws IOException {
            try {
                return super.read(b, off, len);
            } catch (UncheckedIOException e) {
                throw e.getCause();
            } catch (RuntimeException e) {
                throw new IOException("upstream body failed: " + e, e);
            }
        }

        @Override
        public void close() {
            // Not the entity stream's close: that reads the next chunk, which would wait on a silent upstream.
            response.close();
        }
    }
}
