package dev.tiergate.gateway;

import java.io.IOException;
import java.io.InputStream;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.time.Instant;
import java.time.ZonedDateTime;
import java.time.format.DateTimeFormatter;
import java.time.format.DateTimeParseException;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.ThreadLocalRandom;
import java.util.function.Function;

/**
 * Sends one call upstream, with retries and fallbacks, all before any byte reaches the caller.
 *
 * <p>Each model (the routed one, then the tier's fallbacks in order) gets {@code 1 + maxRetries} attempts on
 * 429, 529, other 5xx and connection errors. Backoff doubles from {@code retryBase} with up to 25% jitter, as
 * the official SDKs do; an upstream {@code retry-after-ms} / {@code retry-after} is honoured when it is at
 * most {@code maxRetryWait}, and a longer one moves straight on to the next fallback rather than keep the
 * caller waiting. Any other status (success or a 4xx) is returned as is.
 *
 * <p>The JDK {@link HttpClient} is used: its request timeout covers connect-to-headers only, so callers
 * enforce idle and total timeouts on the body. Thread-safe; one instance per gateway.
 */
final class UpstreamClient implements Upstream {

    private final GatewayConfig.Upstream config;
    private final HttpClient http;

    UpstreamClient(GatewayConfig.Upstream config) {
        this.config = config;
        HttpClient.Builder b = HttpClient.newBuilder()
                .connectTimeout(config.connectTimeout())
                .executor(java.util.concurrent.Executors.newVirtualThreadPerTaskExecutor());
        // Plain http (a local simulator, a test fake) gets HTTP/1.1: the JDK would otherwise try an h2c
        // upgrade. TLS negotiates HTTP/2 by ALPN.
        b.version(
                "https".equals(config.baseUrl().getScheme()) ? HttpClient.Version.HTTP_2 : HttpClient.Version.HTTP_1_1);
        this.http = b.build();
    }

    /**
     * Sends {@code path} upstream, trying {@code models} in order.
     *
     * @param bodyFor the request body for a given model (the model is written into it)
     * @param headers headers to forward, already filtered; the upstream key is added here
     * @param deadline the whole call's deadline: no attempt or wait goes past it
     */
    @Override
    public Result send(
            String path,
            List<String> models,
            Function<String, byte[]> bodyFor,
            Map<String, List<String>> headers,
            boolean stream,
            Instant deadline) {
        int attempts = 0;
        List<String> tried = new java.util.ArrayList<>();
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
                            List.copyOf(tried));
                }
                attempts++;
                Optional<Duration> wait;
                try {
                    HttpResponse<InputStream> response =
                            http.send(request(path, body, headers, stream), HttpResponse.BodyHandlers.ofInputStream());
                    int status = response.statusCode();
                    if (!isRetryable(status)) {
                        return new Response(
                                status, response.headers().map(), response.body(), model, attempts, List.copyOf(tried));
                    }
                    String errorBody = readQuietly(response.body());
                    lastError = new GatewayError.UpstreamFailed(
                            status,
                            errorType(status, errorBody),
                            "upstream " + model + " answered " + status + " after " + attempts + " attempt(s): "
                                    + abbreviate(errorBody));
                    wait = retryAfter(response.headers().map());
                } catch (IOException e) {
                    lastError = new GatewayError.UpstreamFailed(
                            502,
                            "api_error",
                            "upstream " + model + " connection failed after " + attempts + " attempt(s): "
                                    + e.getClass().getSimpleName());
                    wait = Optional.empty();
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                    return new Failed(
                            new GatewayError.UpstreamFailed(499, "api_error", "cancelled"),
                            attempts,
                            List.copyOf(tried));
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
        return new Failed(lastError, attempts, List.copyOf(tried));
    }

    private HttpRequest request(String path, byte[] body, Map<String, List<String>> headers, boolean stream) {
        HttpRequest.Builder b = HttpRequest.newBuilder(URI.create(config.baseUrl() + path))
                .timeout(config.firstByteTimeout())
                .POST(HttpRequest.BodyPublishers.ofByteArray(body));
        headers.forEach((name, values) -> values.forEach(v -> b.header(name, v)));
        b.setHeader("content-type", "application/json");
        b.setHeader("accept", stream ? "text/event-stream" : "application/json");
        if (!config.apiKey().isEmpty()) {
            b.setHeader("x-api-key", config.apiKey().reveal());
        }
        return b.build();
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

    private static String readQuietly(InputStream in) {
        try (in) {
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
}
