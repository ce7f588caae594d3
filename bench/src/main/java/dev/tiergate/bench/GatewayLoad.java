package dev.tiergate.bench;

import java.io.BufferedInputStream;
import java.io.EOFException;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.ConnectException;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.net.SocketTimeoutException;
import java.net.URI;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.locks.LockSupport;

/**
 * The gateway harness's second load generator ({@code bench/load/run --client java}): POSTs one body over kept-alive
 * HTTP/1.1 connections, evenly paced, and keeps every request's due, send and end time, so that the requests that
 * overlapped a slow window of the host ({@link HostProbe}, running beside it) can be set apart.
 *
 * <p>Why beside wrk: wrk's Lua hooks cannot tie a response to its request, so its percentiles cannot leave out the
 * 10-70 ms windows in which this VM's CPUs run about ten times slower (docs/benchmarks.md), and those windows make
 * every p99 measured here. The percentiles it prints as {@code WRKJSON} are the ones wrk reports (latency from the
 * moment a request is sent, transport errors left out), so that the harness reads both clients alike.
 *
 * <pre>
 * java -cp bench/target/benchmarks.jar dev.tiergate.bench.GatewayLoad --url http://127.0.0.1:18181/v1/messages
 *     --body body.json [--header 'x-api-key: k']... [--rate 1000 (0 = as fast as the connections go)]
 *     [--seconds 15] [--warmup 2] [--connections 32] [--host-probe] [--timeline FILE]
 * </pre>
 */
public final class GatewayLoad {
    /** After a slow window the target's queue takes a while to drain: requests this soon after one are not clear. */
    static final long HOST_SETTLE_NANOS = TimeUnit.MILLISECONDS.toNanos(50);

    private static final int TIMEOUT_MILLIS = 10_000;

    private GatewayLoad() {}

    /** What to send, where, how fast and for how long. {@code rate} 0: back to back on every connection. */
    record Plan(URI url, byte[] request, int rate, long warmupNanos, long measureNanos, int connections) {}

    /** One finished request: when it was due, sent and answered ({@code System.nanoTime()}), and its HTTP status. */
    record Sample(long due, long sent, long end, int status) {}

    /** What a run measured: the samples after the warm-up, counts and errors of the whole run. */
    record Result(List<Sample> measured, long okInRun, Errors errors, long startNanos, long endNanos) {}

    /** Errors as wrk counts them: a status of 400 or more, and transport failures by kind. */
    static final class Errors {
        final AtomicLong connect = new AtomicLong();
        final AtomicLong read = new AtomicLong();
        final AtomicLong write = new AtomicLong();
        final AtomicLong status = new AtomicLong();
        final AtomicLong timeout = new AtomicLong();

        long total() {
            return connect.get() + read.get() + write.get() + status.get() + timeout.get();
        }
    }

    /** One HTTP response read off a connection: its status, and whether the server will close the connection. */
    record Response(int status, boolean close) {}

    /** The bytes of one {@code POST} of {@code body} to {@code url}, with {@code headers} ("Name: value"). */
    static byte[] request(URI url, List<String> headers, byte[] body) {
        StringBuilder head = new StringBuilder()
                .append("POST ")
                .append(url.getRawPath().isEmpty() ? "/" : url.getRawPath())
                .append(" HTTP/1.1\r\nHost: ")
                .append(url.getHost())
                .append(':')
                .append(url.getPort())
                .append("\r\nContent-Type: application/json\r\nContent-Length: ")
                .append(body.length)
                .append("\r\n");
        for (String h : headers) {
            head.append(h).append("\r\n");
        }
        byte[] start = head.append("\r\n").toString().getBytes(StandardCharsets.ISO_8859_1);
        byte[] all = Arrays.copyOf(start, start.length + body.length);
        System.arraycopy(body, 0, all, start.length, body.length);
        return all;
    }

    /**
     * Reads one whole response (status line, headers, a body framed by Content-Length or chunked, discarded).
     * Throws {@link EOFException} when the server closed the connection before a whole response.
     */
    static Response readResponse(InputStream in, byte[] scratch) throws IOException {
        String statusLine = line(in);
        if (!statusLine.startsWith("HTTP/1.") || statusLine.length() < 12) {
            throw new IOException("not an HTTP/1.x status line: " + statusLine);
        }
        int status = Integer.parseInt(statusLine.substring(9, 12));
        long length = -1;
        boolean chunked = false;
        boolean close = statusLine.startsWith("HTTP/1.0");
        for (String h = line(in); !h.isEmpty(); h = line(in)) {
            int colon = h.indexOf(':');
            if (colon < 0) {
                throw new IOException("malformed header line: " + h);
            }
            String name = h.substring(0, colon).trim().toLowerCase(Locale.ROOT);
            String value = h.substring(colon + 1).trim().toLowerCase(Locale.ROOT);
            switch (name) {
                case "content-length" -> length = Long.parseLong(value);
                case "transfer-encoding" -> chunked = value.contains("chunked");
                case "connection" -> close = value.contains("close") || (close && !value.contains("keep-alive"));
                default -> {}
            }
        }
        if (chunked) {
            for (long size = chunkSize(line(in)); size > 0; size = chunkSize(line(in))) {
                skip(in, size, scratch);
                if (!line(in).isEmpty()) {
                    throw new IOException("chunk not followed by CRLF");
                }
            }
            while (!line(in).isEmpty()) {} // trailer fields, up to the blank line
        } else if (length >= 0) {
            skip(in, length, scratch);
        } else if (status >= 200 && status != 204 && status != 304) {
            throw new IOException("response with neither Content-Length nor chunked framing (status " + status + ")");
        }
        return new Response(status, close);
    }

    private static long chunkSize(String line) throws IOException {
        int end = line.indexOf(';'); // chunk extensions
        try {
            return Long.parseLong((end < 0 ? line : line.substring(0, end)).trim(), 16);
        } catch (NumberFormatException e) {
            throw new IOException("bad chunk size line: " + line, e);
        }
    }

    private static void skip(InputStream in, long n, byte[] scratch) throws IOException {
        long left = n;
        while (left > 0) {
            int r = in.read(scratch, 0, (int) Math.min(scratch.length, left));
            if (r < 0) {
                throw new EOFException("connection closed with " + left + " body bytes to come");
            }
            left -= r;
        }
    }

    /** One line up to CRLF (or LF), without it; ISO-8859-1 as HTTP header bytes are. */
    private static String line(InputStream in) throws IOException {
        StringBuilder b = new StringBuilder(64);
        for (int c = in.read(); c != '\n'; c = in.read()) {
            if (c < 0) {
                throw new EOFException("connection closed mid-response");
            }
            if (c != '\r') {
                b.append((char) c);
            }
        }
        return b.toString();
    }

    /** One kept-alive connection, opened on first use and again after the server closed it or an error. */
    private static final class Connection implements AutoCloseable {
        private final InetSocketAddress address;
        private final byte[] scratch = new byte[16 * 1024];
        private Socket socket = new Socket();
        private InputStream in = InputStream.nullInputStream();
        private OutputStream out = OutputStream.nullOutputStream();
        private boolean open;

        /** When the request being exchanged was sent, {@code System.nanoTime()}. */
        long sentNanos;

        Connection(URI url) {
            address = new InetSocketAddress(url.getHost(), url.getPort());
        }

        /** Opens the connection if it is not open; a failure here is a connect error. */
        void ensureOpen() throws IOException {
            if (!open) {
                socket = new Socket();
                socket.setTcpNoDelay(true);
                socket.connect(address, TIMEOUT_MILLIS);
                socket.setSoTimeout(TIMEOUT_MILLIS);
                in = new BufferedInputStream(socket.getInputStream(), 16 * 1024);
                out = socket.getOutputStream();
                open = true;
            }
        }

        void write(byte[] request) throws IOException {
            out.write(request);
            out.flush();
        }

        int read() throws IOException {
            Response r = readResponse(in, scratch);
            if (r.close()) {
                close();
            }
            return r.status();
        }

        @Override
        public void close() {
            open = false;
            try {
                socket.close();
            } catch (IOException e) {
                // closing a connection being thrown away: nothing to keep from it
            }
        }
    }

    /** Runs {@code plan} and returns what it measured; every request started is waited for. */
    static Result run(Plan plan) throws InterruptedException {
        long start = System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(20);
        long measureFrom = start + plan.warmupNanos();
        long stopAt = measureFrom + plan.measureNanos();
        // paced: request i is due at start + i / rate; the warm-up's requests are the first ones
        long total = plan.rate() == 0 ? Long.MAX_VALUE : plan.rate() * (stopAt - start) / TimeUnit.SECONDS.toNanos(1);
        AtomicLong next = new AtomicLong();
        AtomicLong ok = new AtomicLong();
        Errors errors = new Errors();
        List<List<Sample>> perConnection = new ArrayList<>();
        Thread[] threads = new Thread[plan.connections()];
        for (int c = 0; c < threads.length; c++) {
            List<Sample> mine = new ArrayList<>();
            perConnection.add(mine);
            // platform threads: a blocked read wakes in the kernel, with no poller hand-off to add to what is measured
            threads[c] = Thread.ofPlatform()
                    .name("gateway-load-" + c)
                    .start(() -> drive(plan, start, measureFrom, stopAt, total, next, ok, errors, mine));
        }
        for (Thread t : threads) {
            t.join();
        }
        long end = System.nanoTime();
        List<Sample> measured = new ArrayList<>();
        perConnection.forEach(measured::addAll);
        measured.sort((a, b) -> Long.compare(a.due(), b.due()));
        return new Result(measured, ok.get(), errors, measureFrom, end);
    }

    private static void drive(
            Plan plan,
            long start,
            long measureFrom,
            long stopAt,
            long total,
            AtomicLong next,
            AtomicLong ok,
            Errors errors,
            List<Sample> samples) {
        try (Connection connection = new Connection(plan.url())) {
            while (true) {
                long due;
                if (plan.rate() == 0) {
                    due = System.nanoTime();
                    if (due >= stopAt) {
                        return;
                    }
                } else {
                    long i = next.getAndIncrement();
                    if (i >= total) {
                        return;
                    }
                    due = start + i * TimeUnit.SECONDS.toNanos(1) / plan.rate();
                    for (long wait = due - System.nanoTime(); wait > 0; wait = due - System.nanoTime()) {
                        LockSupport.parkNanos(wait);
                    }
                }
                int status = exchange(connection, plan.request(), errors);
                long end = System.nanoTime();
                if (status >= 200 && status < 300) {
                    ok.incrementAndGet();
                } else if (status >= 400) {
                    errors.status.incrementAndGet();
                }
                if (due >= measureFrom && status > 0) {
                    samples.add(new Sample(due, connection.sentNanos, end, status));
                }
            }
        }
    }

    /** Sends one request and reads its response; the status, or -1 after a transport error (counted). */
    private static int exchange(Connection connection, byte[] request, Errors errors) {
        try {
            connection.ensureOpen();
        } catch (IOException e) {
            errors.connect.incrementAndGet();
            LockSupport.parkNanos(TimeUnit.MILLISECONDS.toNanos(1)); // a target that is down: do not spin
            return -1;
        }
        connection.sentNanos = System.nanoTime();
        try {
            connection.write(request);
        } catch (IOException e) {
            errors.write.incrementAndGet();
            connection.close();
            return -1;
        }
        try {
            return connection.read();
        } catch (SocketTimeoutException e) {
            errors.timeout.incrementAndGet();
        } catch (ConnectException e) {
            errors.connect.incrementAndGet();
        } catch (IOException e) {
            errors.read.incrementAndGet();
        }
        connection.close();
        return -1;
    }

    public static void main(String[] args) throws Exception {
        List<String> headers = new ArrayList<>();
        List<String> rest = new ArrayList<>();
        for (int i = 0; i < args.length; i++) {
            if (args[i].equals("--header") && i + 1 < args.length) {
                headers.add(args[++i]);
            } else {
                rest.add(args[i]);
            }
        }
        Map<String, String> o = LedgerLoad.options(rest.toArray(String[]::new));
        if (!o.containsKey("url") || !o.containsKey("body")) {
            System.err.println("usage: GatewayLoad --url http://HOST:PORT/PATH --body FILE [--header 'Name: value']..."
                    + " [--rate 1000 (0 = back to back)] [--seconds 15] [--warmup 2] [--connections 32] [--host-probe]"
                    + " [--timeline FILE: each measured request's due, send and end time, ns]");
            System.exit(2);
        }
        URI url = URI.create(o.get("url"));
        if (!"http".equals(url.getScheme()) || url.getPort() < 0) {
            throw new IllegalArgumentException("--url must be http://HOST:PORT/PATH, got " + url);
        }
        Plan plan = new Plan(
                url,
                request(url, headers, Files.readAllBytes(Path.of(o.get("body")))),
                Integer.parseInt(o.getOrDefault("rate", "1000")),
                TimeUnit.SECONDS.toNanos(Long.parseLong(o.getOrDefault("warmup", "2"))),
                TimeUnit.SECONDS.toNanos(Long.parseLong(o.getOrDefault("seconds", "15"))),
                Integer.parseInt(o.getOrDefault("connections", "32")));
        HostProbe probe = o.containsKey("host-probe") ? HostProbe.start(1) : null;
        Result r;
        try {
            r = run(plan);
        } finally {
            if (probe != null) {
                probe.close();
            }
        }
        List<HostProbe.Window> windows = probe == null ? List.of() : probe.slowWindows();
        String timeline = o.getOrDefault("timeline", "");
        if (!timeline.isEmpty()) {
            writeTimeline(Path.of(timeline), r.measured(), windows);
        }
        System.out.print(
                report(plan, r, probe == null ? "" : probe.describe(windows, r.startNanos(), r.endNanos()), windows));
    }

    /**
     * Every measured request as a line {@code due sent end status} ({@code System.nanoTime()}, which is
     * CLOCK_MONOTONIC and so comparable with another JVM's {@code -Xlog} {@code timenanos}), then the host's slow
     * windows as {@code # slow start end}: to line up slow requests with what the target was doing.
     */
    static void writeTimeline(Path file, List<Sample> samples, List<HostProbe.Window> windows) throws IOException {
        StringBuilder b = new StringBuilder("# due_ns sent_ns end_ns status\n");
        for (Sample s : samples) {
            b.append(s.due())
                    .append(' ')
                    .append(s.sent())
                    .append(' ')
                    .append(s.end())
                    .append(' ')
                    .append(s.status());
            b.append('\n');
        }
        for (HostProbe.Window w : windows) {
            b.append("# slow ")
                    .append(w.startNanos())
                    .append(' ')
                    .append(w.endNanos())
                    .append('\n');
        }
        Files.writeString(file, b);
    }

    /** The human lines and the harness's WRKJSON line; the host's windows only when a probe ran ({@code hostLine}). */
    static String report(Plan plan, Result r, String hostLine, List<HostProbe.Window> windows) {
        List<Sample> m = r.measured();
        long[] fromSend = m.stream().mapToLong(s -> s.end() - s.sent()).toArray();
        long[] fromDue = m.stream().mapToLong(s -> s.end() - s.due()).toArray();
        long[] lateness = m.stream().mapToLong(s -> s.sent() - s.due()).toArray();
        long[] clear = m.stream()
                .filter(s -> HostProbe.clear(windows, s.sent(), s.end(), HOST_SETTLE_NANOS))
                .mapToLong(s -> s.end() - s.sent())
                .toArray();
        Arrays.sort(fromSend);
        Arrays.sort(fromDue);
        Arrays.sort(lateness);
        Arrays.sort(clear);
        long lastEnd = m.stream().mapToLong(Sample::end).max().orElse(r.startNanos());
        double seconds = Math.max(1, lastEnd - r.startNanos()) / 1e9;
        Errors e = r.errors();
        StringBuilder out = new StringBuilder();
        out.append(String.format(
                Locale.ROOT,
                "%s at %s, %d connections; measured %d responses in %.2f s = %.1f/s (%d 2xx in the whole run);"
                        + " errors: connect %d, read %d, write %d, status %d, timeout %d%n",
                plan.url(),
                plan.rate() == 0 ? "full speed" : plan.rate() + "/s",
                plan.connections(),
                m.size(),
                seconds,
                m.size() / seconds,
                r.okInRun(),
                e.connect.get(),
                e.read.get(),
                e.write.get(),
                e.status.get(),
                e.timeout.get()));
        out.append("latency from send (as wrk):            ")
                .append(line(fromSend))
                .append('\n');
        out.append("latency from due time (incl. waiting):  ")
                .append(line(fromDue))
                .append('\n');
        out.append("send lateness (this client):            ")
                .append(line(lateness))
                .append('\n');
        if (!hostLine.isEmpty()) {
            out.append(hostLine).append('\n');
            out.append("latency from send, clear of them and of the 50 ms after each: ")
                    .append(line(clear))
                    .append('\n');
        }
        out.append(String.format(
                Locale.ROOT,
                "WRKJSON {\"requests\":%d,\"duration_us\":%d,\"bytes\":0,\"err_connect\":%d,\"err_read\":%d,"
                        + "\"err_write\":%d,\"err_status\":%d,\"err_timeout\":%d,\"lat_min_us\":%d,\"lat_mean_us\":%.1f,"
                        + "\"lat_p50_us\":%d,\"lat_p90_us\":%d,\"lat_p99_us\":%d,\"lat_p999_us\":%d,\"lat_max_us\":%d,"
                        + "\"ok_in_run\":%d,\"host_probe\":%b,\"host_slow_pct\":%.2f,\"clear_n\":%d,"
                        + "\"clear_p50_us\":%d,\"clear_p90_us\":%d,\"clear_p99_us\":%d}%n",
                m.size(),
                Math.round(seconds * 1e6),
                e.connect.get(),
                e.read.get(),
                e.write.get(),
                e.status.get(),
                e.timeout.get(),
                micros(fromSend, 0),
                Arrays.stream(fromSend).average().orElse(0) / 1000,
                micros(fromSend, 0.50),
                micros(fromSend, 0.90),
                micros(fromSend, 0.99),
                micros(fromSend, 0.999),
                micros(fromSend, 1),
                r.okInRun(),
                !hostLine.isEmpty(),
                100 * HostProbe.fractionCovered(windows, r.startNanos(), r.endNanos()),
                clear.length,
                micros(clear, 0.50),
                micros(clear, 0.90),
                micros(clear, 0.99)));
        return out.toString();
    }

    /** The {@code q} quantile of sorted nanoseconds, in whole microseconds (0 for none); q 0 is the minimum. */
    static long micros(long[] sorted, double q) {
        if (sorted.length == 0) {
            return 0;
        }
        int i = (int) Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1));
        return sorted[i] / 1000;
    }

    private static String line(long[] sorted) {
        return String.format(
                Locale.ROOT,
                "p50 %d µs  p90 %d  p99 %d  p99.9 %d  max %d  (n=%d)",
                micros(sorted, 0.50),
                micros(sorted, 0.90),
                micros(sorted, 0.99),
                micros(sorted, 0.999),
                micros(sorted, 1),
                sorted.length);
    }
}
