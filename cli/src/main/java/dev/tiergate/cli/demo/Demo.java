package dev.tiergate.cli.demo;

import dev.tiergate.gateway.ApiKeys;
import dev.tiergate.gateway.Gateway;
import dev.tiergate.gateway.GatewayConfig;
import dev.tiergate.ledger.GroupBy;
import dev.tiergate.ledger.SpendGroup;
import dev.tiergate.pricing.Money;
import java.io.IOException;
import java.io.PrintWriter;
import java.io.UncheckedIOException;
import java.net.http.HttpClient;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.time.LocalDate;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

/**
 * {@code tiergate demo}: one simulated day of multi-agent work, run three times through a real gateway on loopback,
 * once per {@link DemoPolicy}, each gateway with a fresh SQLite ledger, all in front of one seeded simulated
 * upstream. Prints progress, then a table of what each policy cost, where the ledgers are, and what the numbers
 * say. Everything printed from simulated calls says "simulated".
 */
public final class Demo {

    /** The frontier tier's model in every demo policy. */
    public static final String FRONTIER_MODEL = "claude-opus-4-6";

    /** The small tier's model in every demo policy. */
    public static final String SMALL_MODEL = "claude-haiku-4-5-20251001";

    /** Simulated time runs this many times faster than the wall clock unless told otherwise. */
    public static final double DEFAULT_TIME_COMPRESSION = 10_000;

    /** The gateway key the demo's agents use; it exists only in the demo's own gateway configs. */
    static final String AGENT_KEY = "tg_demo_agents_simulated_only";

    /** A soft daily budget on every demo gateway, so {@code tiergate budgets status} has something to show. */
    static final int SOFT_DAILY_BUDGET_USD = 100;

    /**
     * What to run.
     *
     * @param tasks tasks in the simulated day, at least 1
     * @param agents agents working in parallel (concurrent calls), at least 1
     * @param seed the simulator's and the workload's seed
     * @param dir where the policy files, gateway configs and ledgers go
     * @param timeCompression how much faster than simulated time the upstream answers; reported latencies stay
     *     simulated
     */
    public record Settings(int tasks, int agents, long seed, Path dir, double timeCompression) {
        public Settings {
            if (tasks < 1) {
                throw new IllegalArgumentException("--tasks must be at least 1, got " + tasks);
            }
            if (agents < 1) {
                throw new IllegalArgumentException("--agents must be at least 1, got " + agents);
            }
            if (!(timeCompression > 0) || Double.isInfinite(timeCompression)) {
                throw new IllegalArgumentException(
                        "--time-compression must be a positive number, got " + timeCompression);
            }
        }
    }

    private Demo() {}

    /**
     * Runs the demo and prints everything to {@code out}.
     *
     * @param live whether {@code out} is a terminal: progress is then one line per policy updated in place a few
     *     times a second; otherwise one line per policy once it is done
     * @param reportCommand whether {@code tiergate report} exists, to suggest it
     */
    public static void run(Settings settings, PrintWriter out, boolean live, boolean reportCommand) {
        DemoReport report = execute(settings, out, live);
        report.print(out, reportCommand);
        out.flush();
    }

    /** Runs the three policies and returns their results, printing only progress. */
    static DemoReport execute(Settings settings, PrintWriter out, boolean live) {
        long started = System.nanoTime();
        createDir(settings.dir());
        Workload workload = new Workload(settings.seed());
        List<Workload.Task> tasks = workload.tasks(settings.tasks());
        out.printf(
                "[simulated] Tiergate demo: %,d tasks (one simulated day), %d agents, seed %d; frontier = %s,"
                        + " small = %s; no real model is called%n",
                settings.tasks(), settings.agents(), settings.seed(), FRONTIER_MODEL, SMALL_MODEL);
        out.flush();
        List<PolicyResult> results = new ArrayList<>();
        try (HttpClient http = HttpClient.newBuilder()
                .version(HttpClient.Version.HTTP_1_1)
                .connectTimeout(Duration.ofSeconds(10))
                .build()) {
            for (DemoPolicy policy : DemoPolicy.values()) {
                results.add(runPolicy(settings, policy, workload, tasks, http, out, live));
            }
        }
        return new DemoReport(settings, List.copyOf(results), Duration.ofNanos(System.nanoTime() - started));
    }

    private static PolicyResult runPolicy(
            Settings settings,
            DemoPolicy policy,
            Workload workload,
            List<Workload.Task> tasks,
            HttpClient http,
            PrintWriter out,
            boolean live) {
        Path dir = settings.dir();
        Path ledgerFile = dir.resolve("ledger-" + policy.letter() + ".db");
        Path configFile = dir.resolve("gateway-" + policy.letter() + ".yaml");
        for (String suffix : List.of("", "-wal", "-shm", "-journal")) {
            deleteIfExists(Path.of(ledgerFile + suffix));
        }
        write(dir.resolve(policy.fileName()), policy.yaml());
        write(
                configFile,
                gatewayConfig(policy, settings, ledgerFile.getFileName().toString()));
        GatewayConfig config = GatewayConfig.load(configFile, Map.of(), LocalDate.now(Clock.systemUTC()));
        long started = System.nanoTime();
        try (Gateway gateway = Gateway.start(config, call -> {}, Clock.systemUTC())) {
            Progress progress = new Progress(out, live, policy, tasks.size(), () -> spent(gateway));
            Agents.Outcome outcome = Agents.run(
                    tasks,
                    workload::body,
                    gateway.baseUrl(),
                    AGENT_KEY,
                    "demo-" + policy.letter(),
                    settings.agents(),
                    http,
                    progress);
            List<SpendGroup> byModel = gateway.ledger().spend(GroupBy.MODEL, Instant.EPOCH);
            Duration wall = Duration.ofNanos(System.nanoTime() - started);
            progress.finish(outcome.completed(), total(byModel), wall);
            return PolicyResult.of(policy, ledgerFile, byModel, outcome, wall);
        }
    }

    private static Money spent(Gateway gateway) {
        return total(gateway.ledger().spend(GroupBy.RUN, Instant.EPOCH));
    }

    private static Money total(List<SpendGroup> groups) {
        Money sum = Money.ZERO;
        for (SpendGroup g : groups) {
            sum = sum.plus(g.cost());
        }
        return sum;
    }

    private static String gatewayConfig(DemoPolicy policy, Settings settings, String ledgerFile) {
        return "# tiergate demo: the gateway of policy " + policy.label() + ", with the built-in SIMULATED upstream\n"
                + "# in process (no real model is called). Written by `tiergate demo`; serve it again with\n"
                + "# `tiergate serve --config` on this file.\n"
                + "listen: { host: 127.0.0.1, port: 0 }\n"
                + "policy: " + policy.fileName() + "\n"
                + "upstream: { base_url: simulated, max_retries: 0, simulator_seed: " + settings.seed()
                + ", simulator_time_compression: " + settings.timeCompression() + " }\n"
                + "keys:\n"
                + "  - name: demo-agents\n"
                + "    sha256: " + ApiKeys.sha256Hex(AGENT_KEY) + "   # key: " + AGENT_KEY + "\n"
                + "    team: demo\n"
                + "budgets:\n"
                + "  - { name: demo-daily, scope: global, window: day, limit_usd: " + SOFT_DAILY_BUDGET_USD
                + ", mode: soft }\n"
                + "ledger: { sqlite: " + ledgerFile + " }\n";
    }

    private static void createDir(Path dir) {
        try {
            Files.createDirectories(dir);
        } catch (IOException e) {
            throw new UncheckedIOException("cannot create the demo folder " + dir + ": " + e.getMessage(), e);
        }
    }

    private static void write(Path file, String text) {
        try {
            Files.writeString(file, text, StandardCharsets.UTF_8);
        } catch (IOException e) {
            throw new UncheckedIOException("cannot write " + file + ": " + e.getMessage(), e);
        }
    }

    private static void deleteIfExists(Path file) {
        try {
            Files.deleteIfExists(file);
        } catch (IOException e) {
            throw new UncheckedIOException("cannot remove the old ledger " + file + ": " + e.getMessage(), e);
        }
    }
}
