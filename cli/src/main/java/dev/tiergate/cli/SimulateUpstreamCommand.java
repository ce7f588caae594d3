package dev.tiergate.cli;

import dev.tiergate.config.ConfigException;
import dev.tiergate.simulator.SimulatedUpstream;
import dev.tiergate.simulator.SimulatorProfiles;
import dev.tiergate.simulator.SimulatorServer;
import java.io.PrintWriter;
import java.io.UncheckedIOException;
import java.math.BigDecimal;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;
import java.util.concurrent.Callable;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CountDownLatch;
import org.jspecify.annotations.Nullable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

/** {@code tiergate simulate-upstream}: the simulated Anthropic upstream over HTTP, until killed. */
@Command(
        name = "simulate-upstream",
        mixinStandardHelpOptions = true,
        description = {
            "Run a SIMULATED Anthropic Messages API on 127.0.0.1 (POST /v1/messages, JSON and SSE;"
                    + " POST /v1/messages/count_tokens; GET /healthz) until killed. No real model is called and no"
                    + " key is needed: answers are filler text starting with '[simulated MODEL]', ids start with"
                    + " msg_sim_, and every response has the header x-tiergate-simulated: true.",
            "Output lengths, latencies and failures follow per-model profiles and are deterministic from --seed."
                    + " See docs/simulator.md."
        })
final class SimulateUpstreamCommand implements Callable<Integer> {
    private static final Set<String> FAILURE_KINDS = Set.of("rate_limit", "overloaded", "mid_stream");

    @Option(names = "--port", defaultValue = "0", description = "Port to listen on; 0 picks a free one. Default: 0.")
    int port;

    @Option(
            names = "--seed",
            defaultValue = "1",
            description = "Seed every simulated outcome derives from. Default: 1.")
    long seed;

    @Option(
            names = "--time-compression",
            paramLabel = "X",
            defaultValue = "1",
            description = "Run X times faster than simulated time (100: a simulated second takes 10 ms); reported"
                    + " latencies stay simulated. Default: 1.")
    double timeCompression;

    @Option(
            names = "--profiles",
            paramLabel = "FILE",
            description = "YAML file overriding the built-in per-model and per-task-type profiles.")
    @Nullable
    Path profilesFile;

    @Option(
            names = "--failure-rate",
            paramLabel = "KIND=RATE",
            description = "Inject failures on every model, overriding the profiles: rate_limit (429),"
                    + " overloaded (529), mid_stream (error event after some text; streamed calls only)."
                    + " Repeatable, e.g. --failure-rate rate_limit=0.02 --failure-rate overloaded=0.01.")
    Map<String, Double> failureRates = new LinkedHashMap<>();

    @Option(
            names = "--retry-after",
            paramLabel = "SECONDS",
            defaultValue = "2",
            description = "retry-after of injected 429s when --failure-rate is given; 0 sends none. Default: 2.")
    long retryAfterSeconds;

    @Spec
    picocli.CommandLine.Model.CommandSpec spec = picocli.CommandLine.Model.CommandSpec.create();

    // Seams for tests: learn the server once it listens, and stop it without killing the JVM.
    final CompletableFuture<SimulatorServer> started = new CompletableFuture<>();
    final CountDownLatch stop = new CountDownLatch(1);

    @Override
    public Integer call() throws InterruptedException {
        SimulatorProfiles profiles = profiles();
        SimulatedUpstream upstream;
        try {
            upstream = SimulatedUpstream.create(seed, profiles, timeCompression);
        } catch (IllegalArgumentException e) {
            throw new CliException("--time-compression: " + e.getMessage());
        }
        SimulatorServer server;
        try {
            server = SimulatorServer.start(upstream, port);
        } catch (IllegalArgumentException e) {
            throw new CliException("--port: " + e.getMessage());
        } catch (UncheckedIOException e) {
            throw new CliException(String.valueOf(e.getMessage()), 1);
        }
        Thread hook = new Thread(server::close, "simulate-upstream-shutdown");
        Runtime.getRuntime().addShutdownHook(hook);
        try (server) {
            PrintWriter out = spec.commandLine().getOut();
            out.printf(
                    "simulated Anthropic upstream listening on %s (seed %d, time compression %s)%n",
                    server.baseUrl(), seed, plain(timeCompression));
            if (!failureRates.isEmpty()) {
                SimulatorProfiles.Failures f = profiles.defaultModel().failures();
                out.printf(
                        "simulated failures on every model: rate_limit %s, overloaded %s, mid_stream %s"
                                + " (retry-after %d s)%n",
                        plain(f.rateLimit()), plain(f.overloaded()), plain(f.midStream()), f.retryAfterSeconds());
            }
            out.flush();
            started.complete(server);
            stop.await();
        } finally {
            try {
                Runtime.getRuntime().removeShutdownHook(hook);
            } catch (IllegalStateException e) {
                // The JVM is already shutting down: the hook closes the server.
            }
        }
        return 0;
    }

    private SimulatorProfiles profiles() {
        SimulatorProfiles profiles;
        try {
            profiles = profilesFile == null ? SimulatorProfiles.builtIn() : SimulatorProfiles.load(profilesFile);
        } catch (ConfigException e) {
            throw new CliException(e.lines());
        } catch (UncheckedIOException e) {
            throw new CliException("cannot read --profiles " + profilesFile + ": " + e.getMessage());
        }
        if (failureRates.isEmpty()) {
            return profiles;
        }
        for (String kind : failureRates.keySet()) {
            if (!FAILURE_KINDS.contains(kind)) {
                throw new CliException(
                        "--failure-rate: unknown kind '" + kind + "'; known kinds: " + new TreeSet<>(FAILURE_KINDS));
            }
        }
        try {
            return profiles.withFailures(new SimulatorProfiles.Failures(
                    failureRates.getOrDefault("rate_limit", 0.0),
                    failureRates.getOrDefault("overloaded", 0.0),
                    failureRates.getOrDefault("mid_stream", 0.0),
                    retryAfterSeconds));
        } catch (IllegalArgumentException e) {
            throw new CliException("--failure-rate: " + e.getMessage());
        }
    }

    private static String plain(double value) {
        return BigDecimal.valueOf(value).stripTrailingZeros().toPlainString();
    }
}
