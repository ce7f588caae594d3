package dev.tiergate.testing;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.BufferedOutputStream;
import java.io.IOException;
import java.io.OutputStream;
import java.io.UncheckedIOException;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.ProtocolException;
import java.net.ServerSocket;
import java.net.Socket;
import java.net.SocketTimeoutException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.GeneralSecurityException;
import java.security.KeyStore;
import java.security.cert.Certificate;
import java.time.Duration;
import java.util.Base64;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Queue;
import java.util.Set;
import java.util.UUID;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import javax.net.ssl.KeyManagerFactory;
import javax.net.ssl.SSLContext;
import javax.net.ssl.SSLParameters;
import javax.net.ssl.SSLSocket;
import javax.net.ssl.TrustManagerFactory;
import org.jspecify.annotations.Nullable;

/**
 * A fake Anthropic Messages API on a real HTTP/1.1 port of 127.0.0.1, for integration tests (as OkHttp's
 * MockWebServer): plain http ({@link #start}) or https ({@link #startTls}).
 *
 * <p>Serves {@code POST /v1/messages} from a FIFO queue of {@link FakeResponse}s ({@link #enqueue}), falling back
 * to a default ({@link #setDefault}); {@code POST /v1/messages/count_tokens} from its own queue
 * ({@link #enqueueCountTokens}), falling back to a deterministic estimate (see {@link #estimateInputTokens}). Any
 * other request gets a 404 {@code not_found_error}. Every request is recorded before it is answered
 * ({@link #takeRequest}, {@link #requests()}).
 *
 * <p>HTTP: keep-alive (a connection stays open until the client closes it, unless a test drops the idle ones:
 * {@link #closeIdleConnections}, {@link #resetIdleConnections}, {@link #closeOnNextRequest}), request bodies with
 * Content-Length or {@code Transfer-Encoding: chunked}, {@code Expect: 100-continue}. JSON responses carry
 * Content-Length; SSE responses are chunked, one chunk per event, flushed. One virtual thread per connection.
 * Thread-safe: scripts may be queued from any thread.
 *
 * <pre>{@code
 * try (FakeAnthropic fake = FakeAnthropic.start()) {
 *     fake.enqueue(FakeResponse.error(429, "rate_limit_error", "slow down").withHeader("retry-after", "1"));
 *     // point the client at fake.baseUrl() ...
 *     RecordedRequest request = fake.takeRequest(Duration.ofSeconds(5));
 * }
 * }</pre>
 */
public final class FakeAnthropic implements AutoCloseable {

    /** Answers {@code /v1/messages} when nothing is queued, until {@link #setDefault} changes it. */
    public static final FakeResponse DEFAULT_MESSAGE = FakeResponse.message("Hello from FakeAnthropic.");

    // How often blocked writers look for a client disconnect or close(); bounds the cost of stopping a watcher.
    private static final long POLL_MILLIS = 20;

    private final ServerSocket server;
    private final @Nullable TlsIdentity tls;
    private final Thread acceptor;
    private final Set<Socket> sockets = ConcurrentHashMap.newKeySet();
    // Kept-alive connections waiting for their next request, by TCP socket.
    private final Map<Socket, IdleConnection> idle = new ConcurrentHashMap<>();
    private final Queue<FakeResponse> messages = new ConcurrentLinkedQueue<>();
    private final Queue<FakeResponse> countTokens = new ConcurrentLinkedQueue<>();
    private final BlockingQueue<RecordedRequest> untaken = new LinkedBlockingQueue<>();
    private final List<RecordedRequest> received = new CopyOnWriteArrayList<>();
    private final AtomicInteger sequence = new AtomicInteger();
    private final AtomicInteger connections = new AtomicInteger();
    private final AtomicBoolean closeOnNextRequest = new AtomicBoolean();
    private final CountDownLatch closed = new CountDownLatch(1);
    private volatile FakeResponse defaultMessage = DEFAULT_MESSAGE;
    private final Map<String, FakeResponse> defaultByModel = new ConcurrentHashMap<>();
    private volatile @Nullable FakeResponse defaultCountTokens;

    private FakeAnthropic(ServerSocket server, @Nullable TlsIdentity tls) {
        this.server = server;
        this.tls = tls;
        this.acceptor = Thread.ofVirtual().name("fake-anthropic-accept").start(this::acceptLoop);
    }

    /**
     * Starts a fake serving plain http on 127.0.0.1 and a free port.
     *
     * @throws UncheckedIOException if no port can be bound
     */
    public static FakeAnthropic start() {
        return new FakeAnthropic(bindLoopback(), null);
    }

    /**
     * Starts a fake serving https on 127.0.0.1 and a free port, with a self-signed certificate for {@code 127.0.0.1}
     * and {@code localhost} that no client trusts unless told to ({@link #certificateFile()}). The certificate is
     * made by the JDK's {@code keytool} on first use and shared by every TLS fake of this JVM; its private key
     * never leaves memory.
     *
     * @throws UncheckedIOException if no port can be bound
     * @throws IllegalStateException if the certificate cannot be made
     */
    public static FakeAnthropic startTls() {
        return new FakeAnthropic(bindLoopback(), TlsIdentity.INSTANCE);
    }

    private static ServerSocket bindLoopback() {
        try {
            ServerSocket server = new ServerSocket();
            server.bind(new InetSocketAddress(InetAddress.getByAddress(new byte[] {127, 0, 0, 1}), 0));
            return server;
        } catch (IOException e) {
            throw new UncheckedIOException("FakeAnthropic could not bind 127.0.0.1:0", e);
        }
    }

    /**
     * {@code http://127.0.0.1:PORT} ({@code https://} for a TLS fake), without a trailing slash: the client's
     * Anthropic base URL.
     */
    public String baseUrl() {
        return (tls == null ? "http" : "https") + "://127.0.0.1:" + port();
    }

    /**
     * The PEM file of the certificate a TLS fake serves, for a client to trust (the gateway's
     * {@code upstream.ca_file}); deleted when the JVM exits.
     *
     * @throws IllegalStateException for a plain-http fake
     */
    public Path certificateFile() {
        if (tls == null) {
            throw new IllegalStateException("FakeAnthropic serves plain http: start it with startTls()");
        }
        return tls.pem();
    }

    /** The bound port. */
    public int port() {
        return server.getLocalPort();
    }

    /** Queues the answer to the next {@code /v1/messages} request that finds no earlier script queued. */
    public void enqueue(FakeResponse response) {
        messages.add(response);
    }

    /** Answers {@code /v1/messages} with {@code response} whenever the queue is empty. */
    public void setDefault(FakeResponse response) {
        defaultMessage = response;
    }

    /**
     * Answers {@code /v1/messages} requests for {@code model} with {@code response} whenever the queue is empty
     * (before the general default); for concurrent callers that each talk to their own model, as a judge does.
     */
    public void setDefault(String model, FakeResponse response) {
        defaultByModel.put(model, response);
    }

    /**
     * Queues the answer to the next {@code /v1/messages/count_tokens} request, usually
     * {@link FakeResponse#tokenCount(long)}; any other kind (an error, a reset) is served as it is.
     */
    public void enqueueCountTokens(FakeResponse response) {
        countTokens.add(response);
    }

    /** Answers {@code count_tokens} with {@code response} whenever its queue is empty, instead of the estimate. */
    public void setDefaultCountTokens(FakeResponse response) {
        defaultCountTokens = response;
    }

    /**
     * Waits for the next request not taken yet, in arrival order.
     *
     * @throws AssertionError if none arrives within {@code timeout}
     */
    public RecordedRequest takeRequest(Duration timeout) {
        try {
            RecordedRequest request = untaken.poll(timeout.toNanos(), TimeUnit.NANOSECONDS);
            if (request == null) {
                throw new AssertionError("FakeAnthropic: no request within " + timeout + "; " + received.size()
                        + " received in all, all taken");
            }
            return request;
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new AssertionError("interrupted while waiting for a request", e);
        }
    }

    /** Every request received so far, in arrival order, whether taken or not. */
    public List<RecordedRequest> requests() {
        return List.copyOf(received);
    }

    /** Number of requests received so far. */
    public int requestCount() {
        return received.size();
    }

    /** TCP connections accepted so far: with keep-alive, one per concurrent client call, not one per request. */
    public int connectionsAccepted() {
        return connections.get();
    }

    /** Kept-alive connections waiting for their next request right now. */
    public int idleConnections() {
        return idle.size();
    }

    /**
     * Closes every kept-alive connection that is waiting for its next request, as an upstream's idle timeout does:
     * over TLS a {@code close_notify} first, then a FIN. Connections busy with a request are left alone; one whose
     * next request is arriving just now may be closed under it, as on a real server. Returns once the client's side
     * has been sent the close.
     *
     * @return how many connections were closed
     */
    public int closeIdleConnections() {
        return dropIdle(false);
    }

    /**
     * Resets every kept-alive connection that is waiting for its next request (TCP RST, no TLS alert), as a
     * restarted proxy or a load balancer that forgot the connection does. Otherwise as {@link #closeIdleConnections}.
     *
     * @return how many connections were reset
     */
    public int resetIdleConnections() {
        return dropIdle(true);
    }

    private int dropIdle(boolean rst) {
        int dropped = 0;
        for (Socket socket : idle.keySet()) {
            IdleConnection connection = idle.remove(socket);
            if (connection == null) {
                continue; // its next request came in meanwhile
            }
            try {
                if (rst) {
                    reset(socket);
                } else {
                    connection.io().close();
                }
            } catch (IOException e) {
                closeQuietly(socket);
            }
            // The JDK defers a socket's close (and its FIN or RST) while a thread still reads it, here the
            // connection's own: once that thread is done, the client has been told.
            try {
                if (!connection.ended().await(5, TimeUnit.SECONDS)) {
                    throw new IllegalStateException("FakeAnthropic: a dropped connection's thread did not end in 5 s");
                }
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                throw new IllegalStateException("interrupted while FakeAnthropic dropped idle connections", e);
            }
            dropped++;
        }
        return dropped;
    }

    /** A kept-alive connection between requests: the socket HTTP goes through (TLS or not), and its thread's end. */
    private record IdleConnection(Socket io, CountDownLatch ended) {}

    /**
     * Makes the next request that arrives on a kept-alive connection (not a connection's first) find it closed, as
     * when an upstream's idle timeout fires while the request is on its way: the fake closes the connection as the
     * request starts to arrive, without answering or recording it.
     */
    public void closeOnNextRequest() {
        closeOnNextRequest.set(true);
    }

    /** Stops accepting, closes every connection and ends every stream; idempotent. */
    @Override
    public void close() {
        closed.countDown();
        try {
            server.close();
        } catch (IOException e) {
            // Closing a server socket only fails if it is already broken; nothing left to release.
        }
        for (Socket socket : sockets) {
            closeQuietly(socket);
        }
        try {
            acceptor.join(Duration.ofSeconds(5));
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }

    /**
     * The {@code count_tokens} answer when nothing is scripted: one token per 4 characters (rounded up, at least 1)
     * of all text in {@code system} and {@code messages} (string contents and {@code text} fields of blocks).
     */
    public static long estimateInputTokens(JsonNode request) {
        long chars = textLength(request.path("system")) + textLength(request.path("messages"));
        return Math.max(1, (chars + 3) / 4);
    }

    private static long textLength(JsonNode node) {
        if (node.isTextual()) {
            return node.asText().length();
        }
        long total = 0;
        if (node.isArray()) {
            for (JsonNode element : node) {
                total += textLength(element);
            }
        } else if (node.isObject()) {
            total += node.path("text").isTextual() ? node.path("text").asText().length() : 0;
            total += textLength(node.path("content"));
        }
        return total;
    }

    private boolean isClosed() {
        return closed.getCount() == 0;
    }

    private void acceptLoop() {
        while (!isClosed()) {
            Socket socket;
            try {
                socket = server.accept();
            } catch (IOException e) {
                // close() closed the server socket; any other accept failure also ends the fake's life.
                return;
            }
            sockets.add(socket);
            connections.incrementAndGet();
            if (isClosed()) {
                closeQuietly(socket);
                return;
            }
            Thread.ofVirtual().name("fake-anthropic-conn").start(() -> serve(socket));
        }
    }

    private void serve(Socket socket) {
        CountDownLatch ended = new CountDownLatch(1);
        // Over TLS the bytes go through a TLS layer over the TCP socket, but timeouts, resets and drops still act on
        // the TCP socket itself, so that a reset reaches the client as a bare RST, as over http.
        try (socket;
                Socket io = tls == null ? socket : tls.serverSocketOver(socket)) {
            socket.setTcpNoDelay(true);
            HttpInput in = new HttpInput(io.getInputStream());
            OutputStream out = new BufferedOutputStream(io.getOutputStream(), 16 * 1024);
            for (boolean reused = false; !isClosed(); reused = true) {
                HttpInput.Head head;
                byte[] body;
                try {
                    idle.put(socket, new IdleConnection(io, ended));
                    boolean next;
                    try {
                        next = in.awaitRequest();
                    } finally {
                        idle.remove(socket);
                    }
                    if (next && reused && closeOnNextRequest.compareAndSet(true, false)) {
                        return;
                    }
                    head = next ? in.readHead() : null;
                    if (head == null) {
                        return;
                    }
                    String expect = head.first("expect");
                    if (expect != null && expect.equalsIgnoreCase("100-continue")) {
                        out.write("HTTP/1.1 100 Continue\r\n\r\n".getBytes(StandardCharsets.ISO_8859_1));
                        out.flush();
                    }
                    body = in.readBody(head);
                } catch (ProtocolException e) {
                    writeFixed(
                            out,
                            400,
                            Map.of(),
                            errorBody("invalid_request_error", e.getMessage()),
                            "req_fake_bad",
                            true);
                    return;
                }
                RecordedRequest request = new RecordedRequest(
                        sequence.getAndIncrement(), head.method(), head.target(), head.headers(), body, head.chunked());
                received.add(request);
                untaken.add(request);
                String connection = head.first("connection");
                boolean clientCloses = connection != null
                        && connection.toLowerCase(Locale.ROOT).contains("close");
                if (!respond(socket, in, out, request, clientCloses) || clientCloses) {
                    return;
                }
            }
        } catch (IOException e) {
            // The client went away or the fake is closing: the connection simply ends.
        } finally {
            idle.remove(socket);
            sockets.remove(socket);
            ended.countDown();
        }
    }

    /** Answers one request; returns whether the connection can serve another. */
    private boolean respond(Socket socket, HttpInput in, OutputStream out, RecordedRequest request, boolean closing)
            throws IOException {
        FakeResponse response = pick(request);
        String requestId = "req_fake_" + request.sequence();
        switch (response) {
            case FakeResponse.Message message -> {
                String model = message.model().isEmpty() ? request.model().orElse("claude-fake") : message.model();
                String id = "msg_fake_" + request.sequence();
                if (request.json().path("stream").asBoolean(false)) {
                    return writeStream(socket, in, out, request, Messages.toStream(message, model, id), closing);
                }
                writeFixed(out, 200, Map.of(), Messages.toJson(message, model, id), requestId, closing);
                return true;
            }
            case FakeResponse.Json json -> {
                writeFixed(out, json.status(), json.headers(), json.body(), requestId, closing);
                return true;
            }
            case FakeResponse.TokenCount count -> {
                writeFixed(out, 200, Map.of(), "{\"input_tokens\":" + count.inputTokens() + "}", requestId, closing);
                return true;
            }
            case FakeResponse.Stream stream -> {
                return writeStream(socket, in, out, request, stream, closing);
            }
            case FakeResponse.Silence silence -> {
                // wait for the client to give up (it closes: read ends) or for the limit, whichever comes first
                socket.setSoTimeout((int) Math.max(1, silence.limit().toMillis()));
                try {
                    while (socket.getInputStream().read() >= 0) {
                        // a client that sends more while waiting: ignore it
                    }
                } catch (java.net.SocketTimeoutException | java.net.SocketException e) {
                    // the limit passed, or the client reset the connection
                }
                return false;
            }
            case FakeResponse.Reset reset -> {
                out.write(reset.partial().getBytes(StandardCharsets.UTF_8));
                out.flush();
                reset(socket);
                return false;
            }
        }
    }

    private FakeResponse pick(RecordedRequest request) {
        if (!request.method().equals("POST")) {
            return FakeResponse.error(
                    404, "not_found_error", "FakeAnthropic serves POST only, got " + request.method());
        }
        switch (request.path()) {
            case "/v1/messages" -> {
                FakeResponse next = messages.poll();
                if (next != null) {
                    return next;
                }
                FakeResponse byModel = defaultByModel.get(request.model().orElse(""));
                return byModel != null ? byModel : defaultMessage;
            }
            case "/v1/messages/count_tokens" -> {
                FakeResponse next = countTokens.poll();
                if (next == null) {
                    next = defaultCountTokens;
                }
                return next != null ? next : FakeResponse.tokenCount(estimateInputTokens(request.json()));
            }
            default -> {
                return FakeResponse.error(404, "not_found_error", "FakeAnthropic has no route " + request.path());
            }
        }
    }

    private static void writeFixed(
            OutputStream out, int status, Map<String, String> headers, String body, String requestId, boolean closing)
            throws IOException {
        byte[] bytes = body.getBytes(StandardCharsets.UTF_8);
        StringBuilder head = statusLine(status);
        if (!headers.containsKey("content-type")) {
            head.append("content-type: application/json\r\n");
        }
        appendCommon(head, headers, requestId, closing);
        head.append("content-length: ").append(bytes.length).append("\r\n\r\n");
        out.write(head.toString().getBytes(StandardCharsets.UTF_8));
        out.write(bytes);
        out.flush();
    }

    /** Plays a stream; returns whether the connection can serve another request. */
    private boolean writeStream(
            Socket socket,
            HttpInput in,
            OutputStream out,
            RecordedRequest request,
            FakeResponse.Stream stream,
            boolean closing)
            throws IOException {
        StringBuilder head = statusLine(200);
        if (!stream.headers().containsKey("content-type")) {
            head.append("content-type: text/event-stream; charset=utf-8\r\n");
        }
        head.append("cache-control: no-cache\r\n");
        appendCommon(head, stream.headers(), "req_fake_" + request.sequence(), closing);
        head.append("transfer-encoding: chunked\r\n\r\n");
        DisconnectWatcher watcher = new DisconnectWatcher(socket, in, request);
        try {
            out.write(head.toString().getBytes(StandardCharsets.UTF_8));
            out.flush();
            for (StreamStep step : stream.steps()) {
                switch (step) {
                    case StreamStep.Event event -> writeChunk(out, render(event, request));
                    case StreamStep.Bytes bytes -> writeChunk(out, bytes.text().getBytes(StandardCharsets.UTF_8));
                    case StreamStep.Pause pause -> {
                        if (watcher.gone(pause.duration())) {
                            return false;
                        }
                    }
                    case StreamStep.Await await -> {
                        if (!awaitGate(await.gate(), watcher)) {
                            return false;
                        }
                    }
                    case StreamStep.Reset ignored -> {
                        watcher.stop();
                        reset(socket);
                        return false;
                    }
                    case StreamStep.Disconnect ignored -> {
                        watcher.stop();
                        socket.close();
                        return false;
                    }
                }
            }
            out.write("0\r\n\r\n".getBytes(StandardCharsets.ISO_8859_1));
            out.flush();
            return true;
        } catch (IOException e) {
            if (!isClosed()) {
                request.markClientDisconnected();
            }
            return false;
        } finally {
            watcher.stop();
        }
    }

    /** Waits for the gate; false if the client left or the fake closed first. */
    private boolean awaitGate(CountDownLatch gate, DisconnectWatcher watcher) {
        try {
            while (!gate.await(POLL_MILLIS, TimeUnit.MILLISECONDS)) {
                if (watcher.isGone() || isClosed()) {
                    return false;
                }
            }
            return !watcher.isGone() && !isClosed();
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            return false;
        }
    }

    private static byte[] render(StreamStep.Event event, RecordedRequest request) {
        String data = event.data();
        if (event.name().equals("message_start")) {
            data = Messages.withModel(data, request.model().orElse("claude-fake"));
        }
        StringBuilder text = new StringBuilder("event: ").append(event.name()).append('\n');
        for (String line : data.split("\n", -1)) {
            text.append("data: ").append(line).append('\n');
        }
        return text.append('\n').toString().getBytes(StandardCharsets.UTF_8);
    }

    private static void writeChunk(OutputStream out, byte[] bytes) throws IOException {
        if (bytes.length == 0) {
            return; // an empty chunk would end the body
        }
        out.write((Integer.toHexString(bytes.length) + "\r\n").getBytes(StandardCharsets.ISO_8859_1));
        out.write(bytes);
        out.write('\r');
        out.write('\n');
        out.flush();
    }

    private static StringBuilder statusLine(int status) {
        return new StringBuilder("HTTP/1.1 ")
                .append(status)
                .append(' ')
                .append(reason(status))
                .append("\r\n");
    }

    private static void appendCommon(
            StringBuilder head, Map<String, String> headers, String requestId, boolean closing) {
        if (!headers.containsKey("request-id")) {
            head.append("request-id: ").append(requestId).append("\r\n");
        }
        for (Map.Entry<String, String> header : headers.entrySet()) {
            head.append(header.getKey()).append(": ").append(header.getValue()).append("\r\n");
        }
        if (closing) {
            head.append("connection: close\r\n");
        }
    }

    private static String reason(int status) {
        return switch (status) {
            case 200 -> "OK";
            case 400 -> "Bad Request";
            case 401 -> "Unauthorized";
            case 403 -> "Forbidden";
            case 404 -> "Not Found";
            case 408 -> "Request Timeout";
            case 409 -> "Conflict";
            case 413 -> "Payload Too Large";
            case 429 -> "Too Many Requests";
            case 500 -> "Internal Server Error";
            case 502 -> "Bad Gateway";
            case 503 -> "Service Unavailable";
            case 504 -> "Gateway Timeout";
            case 529 -> "Overloaded";
            default -> "Status " + status;
        };
    }

    private static String errorBody(String type, @Nullable String message) {
        ObjectNode body = Wire.JSON.createObjectNode().put("type", "error");
        body.putObject("error").put("type", type).put("message", message == null ? "" : message);
        return body.toString();
    }

    private static void reset(Socket socket) throws IOException {
        // SO_LINGER 0 makes close() send RST instead of FIN: the client sees "connection reset".
        socket.setSoLinger(true, 0);
        socket.close();
    }

    private static void closeQuietly(Socket socket) {
        try {
            socket.close();
        } catch (IOException e) {
            // Already closed or broken: nothing to release.
        }
    }

    /**
     * Watches the request side while a stream is written, so a client that closes its connection mid-stream is
     * noticed even while the stream waits on a gate and writes nothing. Bytes it reads stay buffered in
     * {@link HttpInput} for the next request.
     */
    private final class DisconnectWatcher {
        private final Socket socket;
        private final CountDownLatch gone = new CountDownLatch(1);
        private volatile boolean stopping;
        private final Thread thread;

        DisconnectWatcher(Socket socket, HttpInput in, RecordedRequest request) throws IOException {
            this.socket = socket;
            socket.setSoTimeout((int) POLL_MILLIS);
            this.thread = Thread.ofVirtual().name("fake-anthropic-watch").start(() -> watch(in, request));
        }

        private void watch(HttpInput in, RecordedRequest request) {
            try {
                while (!stopping) {
                    try {
                        if (!in.readAhead()) {
                            break;
                        }
                    } catch (SocketTimeoutException e) {
                        // Nothing from the client yet: look again unless the stream is over.
                    }
                }
                if (stopping) {
                    return;
                }
            } catch (IOException e) {
                if (stopping) {
                    return;
                }
            }
            if (!isClosed()) {
                request.markClientDisconnected();
            }
            gone.countDown();
        }

        boolean isGone() {
            return gone.getCount() == 0;
        }

        /** Waits up to {@code duration}; true if the client left (or the fake closed) meanwhile. */
        boolean gone(Duration duration) {
            try {
                return gone.await(duration.toNanos(), TimeUnit.NANOSECONDS) || isClosed();
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                return true;
            }
        }

        void stop() throws IOException {
            stopping = true;
            try {
                thread.join();
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
            if (!socket.isClosed()) {
                socket.setSoTimeout(0);
            }
        }
    }

    /**
     * One handshake on platform threads initialises the JDK's TLS classes. Otherwise a fake's connection thread
     * and its client's (the gateway's, in the same JVM) would initialise them at once, and the one that waits
     * for the other is a virtual thread pinned to its carrier, which the gateway ITs fail on. Not a method of
     * {@link TlsIdentity}: it runs inside that class's initialisation, which its other thread would wait for.
     */
    private static void warmUp(SSLContext server, Certificate certificate)
            throws IOException, GeneralSecurityException, InterruptedException {
        KeyStore trust = KeyStore.getInstance(KeyStore.getDefaultType());
        trust.load(null, null);
        trust.setCertificateEntry("fake-anthropic", certificate);
        TrustManagerFactory tmf = TrustManagerFactory.getInstance(TrustManagerFactory.getDefaultAlgorithm());
        tmf.init(trust);
        SSLContext client = SSLContext.getInstance("TLS");
        client.init(null, tmf.getTrustManagers(), null);
        try (ServerSocket listener = bindLoopback()) {
            // Bounded waits: a client side that failed before connecting or writing must not hang the tests.
            listener.setSoTimeout(30_000);
            Thread clientSide = Thread.ofPlatform()
                    .name("fake-anthropic-tls-warm-up")
                    .start(() -> {
                        try (SSLSocket socket = (SSLSocket) client.getSocketFactory()
                                .createSocket(listener.getInetAddress(), listener.getLocalPort())) {
                            SSLParameters parameters = socket.getSSLParameters();
                            parameters.setEndpointIdentificationAlgorithm("HTTPS");
                            socket.setSSLParameters(parameters);
                            socket.getOutputStream().write(1);
                            socket.getOutputStream().flush();
                        } catch (IOException e) {
                            // The server side fails too, and reports it.
                        }
                    });
            try (Socket accepted = listener.accept();
                    Socket socket = server.getSocketFactory().createSocket(accepted, null, true)) {
                socket.setSoTimeout(30_000);
                if (socket.getInputStream().read() != 1) {
                    throw new IOException("the TLS warm-up handshake failed");
                }
            } finally {
                clientSide.join();
            }
        }
    }

    /** The TLS fakes' one self-signed certificate and key, made on first use (class initialisation). */
    private record TlsIdentity(SSLContext context, Path pem) {
        static final TlsIdentity INSTANCE = create();

        Socket serverSocketOver(Socket socket) throws IOException {
            return context.getSocketFactory().createSocket(socket, null, true);
        }

        private static TlsIdentity create() {
            try {
                Path dir = Files.createTempDirectory("fake-anthropic-tls");
                dir.toFile().deleteOnExit();
                Path store = dir.resolve("fake-anthropic.p12");
                char[] password = UUID.randomUUID().toString().toCharArray();
                // The JDK has no public API to make a certificate; its keytool does. The SAN lets a client that
                // verifies host names (as the gateway does) accept the certificate for https://127.0.0.1:PORT.
                Path keytool = Path.of(System.getProperty("java.home"), "bin", "keytool");
                Process process = new ProcessBuilder(
                                keytool.toString(),
                                "-genkeypair",
                                "-alias",
                                "fake-anthropic",
                                "-keyalg",
                                "EC",
                                "-groupname",
                                "secp256r1",
                                "-dname",
                                "CN=localhost",
                                "-ext",
                                "san=ip:127.0.0.1,dns:localhost",
                                "-validity",
                                "2",
                                "-storetype",
                                "PKCS12",
                                "-keystore",
                                store.toString(),
                                "-storepass",
                                new String(password))
                        .redirectErrorStream(true)
                        .start();
                String output = new String(process.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
                if (process.waitFor() != 0) {
                    throw new IOException(keytool + " failed: " + output.strip());
                }
                KeyStore keys = KeyStore.getInstance(store.toFile(), password);
                // The key lives on in memory only.
                Files.delete(store);
                KeyManagerFactory kmf = KeyManagerFactory.getInstance(KeyManagerFactory.getDefaultAlgorithm());
                kmf.init(keys, password);
                SSLContext context = SSLContext.getInstance("TLS");
                context.init(kmf.getKeyManagers(), null, null);
                Certificate certificate = keys.getCertificate("fake-anthropic");
                Path pem = dir.resolve("fake-anthropic.pem");
                Files.writeString(
                        pem,
                        "-----BEGIN CERTIFICATE-----\n"
                                + Base64.getMimeEncoder(64, new byte[] {'\n'}).encodeToString(certificate.getEncoded())
                                + "\n-----END CERTIFICATE-----\n");
                pem.toFile().deleteOnExit();
                warmUp(context, certificate);
                return new TlsIdentity(context, pem);
            } catch (IOException | GeneralSecurityException e) {
                throw new IllegalStateException("FakeAnthropic could not make its TLS certificate: " + e, e);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                throw new IllegalStateException("interrupted while FakeAnthropic made its TLS certificate", e);
            }
        }
    }
}
