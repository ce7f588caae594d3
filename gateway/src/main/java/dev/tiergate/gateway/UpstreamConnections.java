package dev.tiergate.gateway;

import io.helidon.common.tls.Tls;
import io.helidon.webclient.api.ClientConnection;
import io.helidon.webclient.api.ConnectionKey;
import io.helidon.webclient.api.TcpClientConnection;
import io.helidon.webclient.api.WebClient;
import io.helidon.webclient.api.WebClientConfig;
import java.net.URI;
import java.time.Duration;
import java.util.Iterator;
import java.util.List;
import java.util.concurrent.ConcurrentLinkedDeque;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.locks.LockSupport;

/**
 * The upstream's kept-alive connections, handed to Helidon's WebClient one request at a time instead of its own
 * connection cache.
 *
 * <p>Why: Helidon's cache starts a virtual thread for every connection it takes back, which watches the idle
 * connection with a one-byte read under a 101 ms socket timeout, so that it sees the upstream close it; the next
 * request on that connection waits for the watcher to hand over the first byte of its response. At 1000 calls/s
 * that is a thread started, a timed park (the virtual-thread scheduler's timer thread woken to arm it and again to
 * cancel it) and two more thread switches on every call, on the gateway's one core (docs/benchmarks.md, tenth
 * round). Here a connection goes back to the pool as it is, and is watched the same way (Helidon's {@code idle()}
 * on its socket) only once it has sat idle for {@code watchAfter}: under load connections are reused long before,
 * while one left idle long enough for an upstream or proxy to close it is watched by then, and passed over when it
 * has been closed (docs/gateway.md, "Idle upstream connections").
 *
 * <p>The most recently used connection is handed out first, so that under light load one connection stays warm
 * and the others age out. Thread-safe.
 */
final class UpstreamConnections implements AutoCloseable {
    /**
     * A watched connection idle this long is given up (Helidon's watch ends and marks it closed): servers and
     * proxies close theirs long before.
     */
    static final Duration WATCH_LIMIT = Duration.ofMinutes(10);

    /** Idle connections kept at most; one more than that is closed when its request ends. */
    static final int MAX_IDLE = 256;

    private final WebClient client;
    private final ConnectionKey key;
    private final long watchAfterNanos;
    // the head is the connection released last; each connection is in here at most once, and only while idle
    private final ConcurrentLinkedDeque<Idle> idle = new ConcurrentLinkedDeque<>();
    private final AtomicInteger idleCount = new AtomicInteger();
    private final Thread watcher;
    private volatile boolean closed;

    /** An idle connection: since when ({@link System#nanoTime}), and whether Helidon watches it yet. */
    private record Idle(TcpClientConnection connection, long since, boolean watched) {}

    private static final Tls NO_TLS = Tls.builder().enabled(false).build();

    /**
     * @param client the WebClient whose settings (TLS, DNS, proxy, socket options) the connections use
     * @param base the upstream's base URL: its scheme, host and port
     * @param watchAfter how long a connection sits idle before it is watched for the upstream closing it
     */
    UpstreamConnections(WebClient client, URI base, Duration watchAfter) {
        boolean https = "https".equalsIgnoreCase(base.getScheme());
        WebClientConfig settings = client.prototype();
        this.client = client;
        this.key = ConnectionKey.create(
                base.getScheme(),
                base.getHost(),
                base.getPort() >= 0 ? base.getPort() : https ? 443 : 80,
                https ? settings.tls() : NO_TLS, // Helidon uses no TLS for http
                settings.dnsResolver(),
                settings.dnsAddressLookup(),
                settings.proxy());
        this.watchAfterNanos = watchAfter.toNanos();
        this.watcher =
                Thread.ofPlatform().daemon().name("tiergate-upstream-idle").start(this::watchLoop);
    }

    /**
     * An open connection for one request: an idle one still connected (closing those the upstream closed), or a
     * new one. Connecting may fail with Helidon's {@link java.io.UncheckedIOException}.
     */
    ClientConnection borrow() {
        Idle i;
        while ((i = idle.pollFirst()) != null) {
            idleCount.decrementAndGet();
            if (i.connection().isConnected()) {
                return i.connection();
            }
            i.connection().closeResource();
        }
        return TcpClientConnection.create(client, key, List.of(), this::release, c -> {})
                .connect();
    }

    /** Helidon's call when a request ends with the connection reusable: keep it, or say to close it. */
    private boolean release(TcpClientConnection connection) {
        if (closed || idleCount.incrementAndGet() > MAX_IDLE) {
            idleCount.decrementAndGet();
            return false;
        }
        idle.offerFirst(new Idle(connection, System.nanoTime(), false));
        if (closed) { // close() may have swept the pool just before the offer
            closeIdle();
        }
        return true;
    }

    /** How many idle connections are pooled now, and how many of them are watched (for tests). */
    int[] idleAndWatched() {
        int n = 0;
        int watched = 0;
        for (Idle i : idle) {
            n++;
            watched += i.watched() ? 1 : 0;
        }
        return new int[] {n, watched};
    }

    /** How many pooled idle connections are still connected as far as Helidon knows (for tests). */
    int idleConnected() {
        int n = 0;
        for (Idle i : idle) {
            n += i.connection().isConnected() ? 1 : 0;
        }
        return n;
    }

    private void watchLoop() {
        long tick = Math.max(watchAfterNanos / 2, Duration.ofMillis(1).toNanos());
        while (!closed) {
            LockSupport.parkNanos(tick);
            watchLongIdle();
        }
    }

    /**
     * Starts Helidon's watch on the connections idle for {@code watchAfter} or longer. Each is taken out of the pool
     * first, so that no request can be using it while its watch starts (Helidon's own cache does the same), then
     * put back at the old end.
     */
    private void watchLongIdle() {
        long now = System.nanoTime();
        Iterator<Idle> oldestFirst = idle.descendingIterator();
        while (oldestFirst.hasNext()) {
            Idle i = oldestFirst.next();
            if (now - i.since() < watchAfterNanos) {
                return; // the rest are younger
            }
            if (i.watched()) {
                // Helidon's watch marks a connection closed when the upstream closes it, or when it has idled past
                // the read timeout: close it here rather than when a request would come across it
                if (!i.connection().isConnected() && idle.removeFirstOccurrence(i)) {
                    idleCount.decrementAndGet();
                    i.connection().closeResource();
                }
                continue;
            }
            if (!idle.removeFirstOccurrence(i)) {
                continue; // a request took it meanwhile
            }
            if (i.connection().isConnected()) {
                // Helidon's watch lasts as long as the socket timeout, and requests run without one: give it a
                // limit, or it would give the connection up after its first 101 ms read
                i.connection().readTimeout(WATCH_LIMIT);
                i.connection().helidonSocket().idle();
                idle.offerLast(new Idle(i.connection(), i.since(), true));
            } else {
                idleCount.decrementAndGet();
                i.connection().closeResource();
            }
        }
    }

    private void closeIdle() {
        Idle i;
        while ((i = idle.pollFirst()) != null) {
            idleCount.decrementAndGet();
            i.connection().closeResource();
        }
    }

    /** Closes the idle connections and stops the watcher; connections in use are closed as their requests end. */
    @Override
    public void close() {
        closed = true;
        LockSupport.unpark(watcher);
        closeIdle();
    }
}
