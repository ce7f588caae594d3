package dev.tiergate.bench;

import dev.tiergate.budget.Admission;
import dev.tiergate.budget.AppliedBudget;
import dev.tiergate.budget.BudgetStatus;
import dev.tiergate.budget.Window;
import dev.tiergate.ledger.Call;
import dev.tiergate.ledger.GroupBy;
import dev.tiergate.ledger.Ledger;
import dev.tiergate.ledger.Outcome;
import dev.tiergate.ledger.PostgresSettings;
import dev.tiergate.ledger.RequestIds;
import dev.tiergate.ledger.Settlement;
import dev.tiergate.ledger.SpendGroup;
import dev.tiergate.ledger.WriteStats;
import dev.tiergate.pricing.Money;
import dev.tiergate.pricing.Usage;
import io.zonky.test.db.postgres.embedded.EmbeddedPostgres;
import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.lang.management.ManagementFactory;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Clock;
import java.time.Instant;
import java.time.LocalDate;
import java.time.ZoneOffset;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.locks.LockSupport;
import java.util.function.Supplier;

/**
 * Load driver for the spend ledger: reserve + settle (+ ledger row) pairs against three budgets per call.
 *
 * <pre>
 * # SQLite, open loop: a pair every 1 ms from its own virtual thread; latency from the scheduled start
 * java -cp bench/target/benchmarks.jar dev.tiergate.bench.LedgerLoad --sqlite --rate 1000 --seconds 20
 *     [--budgets N]   # SQLite only: charge only the first N of the three budgets (0-3)
 * # SQLite, one pair after another on one thread (service time and CPU per pair without queueing)
 * java -cp bench/target/benchmarks.jar dev.tiergate.bench.LedgerLoad --sqlite --sequential --rate 1000 --seconds 20
 * # PostgreSQL (embedded), closed loop: two gateway instances in two JVMs, as fast as they go
 * java -cp bench/target/benchmarks.jar dev.tiergate.bench.LedgerLoad --postgres --instances 2 --seconds 20
 * </pre>
 *
 * <p>Every run then checks the books: one ledger row per pair, nothing left reserved, spent = pairs x cost.
 */
public final class LedgerLoad {
    private static final Money WORST_CASE = Money.parseUsd("0.05");
    private static final Money COST = Money.parseUsd("0.012345678");
    private static final Money LIMIT = Money.parseUsd("1000000000");

    private LedgerLoad() {}

    /** The gateway's request ids (time-ordered), or with {@code --request-ids random} the random ones it had before. */
    private static Supplier<String> requestIds = new RequestIds("tgreq_", Clock.systemUTC())::next;

    /** With {@code --platform-threads}: open-loop pairs run on pooled platform threads instead of virtual threads. */
    private static boolean platformCallers;

    private static String nextRequestId(AtomicLong pairs) {
        pairs.incrementAndGet();
        return requestIds.get();
    }

    /** 24 random hex digits: the gateway's request ids until they were put in time order. */
    private static String randomRequestId() {
        byte[] b = new byte[12];
        java.util.concurrent.ThreadLocalRandom.current().nextBytes(b);
        return "tgreq_" + java.util.HexFormat.of().formatHex(b);
    }

    public static void main(String[] args) throws Exception {
        Map<String, String> o = options(args);
        platformCallers = o.containsKey("platform-threads");
        String idKind = o.getOrDefault("request-ids", "ordered");
        switch (idKind) {
            case "ordered" -> {}
            case "random" -> requestIds = LedgerLoad::randomRequestId;
            default -> throw new IllegalArgumentException("--request-ids is ordered or random, got " + idKind);
        }
        if (o.containsKey("sqlite")) {
            sqlite(o);
        } else if (o.containsKey("postgres-url")) {
            postgresInstance(o);
        } else if (o.containsKey("postgres")) {
            postgres(o);
        } else {
            System.err.println("usage: LedgerLoad --sqlite [--file F] [--rate 1000] [--seconds 20] [--warmup 10]"
                    + " [--sequential: rate x seconds pairs back to back on one thread]"
                    + " [--request-ids ordered|random: the gateway's time-ordered ids (default) or random ones]"
                    + " [--platform-threads: open-loop pairs on platform threads, not virtual threads]"
                    + " [--timeline F: open loop; each measured pair's due time (CLOCK_MONOTONIC ns), lateness and"
                    + " service]"
                    + " [--host-probe: open loop; find when the host ran slow (HostProbe), also report the pairs clear"
                    + " of it]\n"
                    + "       LedgerLoad --postgres [--instances 2] [--threads 8] [--pool 8] [--seconds 20]"
                    + " [--warmup 10] [--synchronous-commit on]");
            System.exit(2);
        }
    }

    // ---- SQLite: open loop at a fixed rate ----

    private static void sqlite(Map<String, String> o) throws Exception {
        int rate = Integer.parseInt(o.getOrDefault("rate", "1000"));
        int seconds = Integer.parseInt(o.getOrDefault("seconds", "20"));
        int warmup = Integer.parseInt(o.getOrDefault("warmup", "10"));
        String given = o.getOrDefault("file", "");
        Path file = given.isEmpty() ? Files.createTempDirectory("ledger-load").resolve("ledger.db") : Path.of(given);
        Clock clock = Clock.systemUTC();
        Instant since = clock.instant();
        try (Ledger ledger = Ledger.sqlite(file, "bench-1", clock)) {
            // --budgets N: only the first N of the three (how much of the cost and tail the windows bring)
            List<AppliedBudget> all = budgets(clock.instant());
            List<AppliedBudget> budgets = all.subList(0, Integer.parseInt(o.getOrDefault("budgets", "3")));
            AtomicLong ids = new AtomicLong();
            System.out.printf(Locale.ROOT, "sqlite %s, warm-up %d s at %d/s%n", file, warmup, rate);
            boolean sequential = o.containsKey("sequential");
            if (sequential) {
                sequential(ledger, budgets, ids, rate * warmup);
            } else {
                paced(ledger, budgets, ids, rate, warmup);
            }
            System.out.printf(
                    Locale.ROOT,
                    "measuring %d %s%n",
                    sequential ? rate * seconds : seconds,
                    sequential ? "pairs" : "s");
            long cpu0 = processCpuNanos();
            WriteStats writes0 = ledger.writeStats();
            long from = System.nanoTime();
            HostProbe probe = o.containsKey("host-probe") && !sequential
                    ? HostProbe.start(Runtime.getRuntime().availableProcessors())
                    : null;
            Paced run;
            try {
                run = sequential
                        ? sequential(ledger, budgets, ids, rate * seconds)
                        : paced(ledger, budgets, ids, rate, seconds);
            } finally {
                if (probe != null) {
                    probe.close();
                }
            }
            long to = System.nanoTime();
            long cpu = processCpuNanos() - cpu0;
            System.out.printf(
                    Locale.ROOT,
                    "pairs %d in %.2f s = %.1f/s (target %d/s), denied %d, errors %d%n",
                    run.done(),
                    run.wallSeconds(),
                    run.done() / run.wallSeconds(),
                    rate,
                    run.denied(),
                    run.errors());
            System.out.printf(
                    Locale.ROOT,
                    "process CPU %.1f µs per pair (driver, JIT and GC included; the stable figure on a busy machine)%n",
                    cpu / 1000.0 / run.done());
            System.out.println("latency from scheduled start (incl. queueing): " + percentiles(run.fromSchedule()));
            System.out.println("latency from actual start (service time):     " + percentiles(run.service()));
            System.out.println("scheduler lateness (driver, not ledger):      " + percentiles(run.lateness()));
            System.out.println(describeWrites(writes0, ledger.writeStats()));
            if (probe != null) {
                List<HostProbe.Window> windows = probe.slowWindows();
                System.out.println(probe.describe(windows, from, to));
                System.out.println("service time clear of them (and of the " + HOST_SETTLE_MS + " ms after each):  "
                        + percentiles(clearOfHost(run, windows)));
            }
            String timeline = o.getOrDefault("timeline", "");
            if (!timeline.isEmpty()) {
                writeTimeline(Path.of(timeline), run);
            }
            audit(ledger, budgets, since, ids.get());
        }
    }

    private record Paced(
            long done,
            long denied,
            long errors,
            double wallSeconds,
            long[] fromSchedule,
            long[] service,
            long[] lateness,
            long[] due) {}

    /** A queue that built up while the host ran slow drains within this long after (tens of ms at 1000/s). */
    private static final long HOST_SETTLE_MS = 50;

    /** The service times of the pairs that ran clear of every slow window of the host. */
    private static long[] clearOfHost(Paced run, List<HostProbe.Window> windows) {
        long settle = TimeUnit.MILLISECONDS.toNanos(HOST_SETTLE_MS);
        long[] clear = new long[run.due().length];
        int n = 0;
        for (int i = 0; i < run.due().length; i++) {
            long start = run.due()[i] + run.lateness()[i];
            if (HostProbe.clear(windows, start, start + run.service()[i], settle)) {
                clear[n++] = run.service()[i];
            }
        }
        return Arrays.copyOf(clear, n);
    }

    /**
     * One line per measured pair: when it was due ({@code System.nanoTime()}, that is CLOCK_MONOTONIC, the clock of
     * {@code perf record -k mono}), its lateness and its service time in ns; to line slow pairs up with a profile.
     */
    private static void writeTimeline(Path file, Paced run) throws java.io.IOException {
        StringBuilder sb = new StringBuilder("due_ns lateness_ns service_ns\n");
        for (int i = 0; i < run.due().length; i++) {
            sb.append(run.due()[i])
                    .append(' ')
                    .append(run.lateness()[i])
                    .append(' ')
                    .append(run.service()[i])
                    .append('\n');
        }
        Files.writeString(file, sb);
    }

    /**
     * {@code n} pairs one after another on one thread: the cost of a pair with nothing else running, so that CPU per
     * pair and service time can be compared between versions on a machine too busy for a paced run to be steady.
     */
    private static Paced sequential(Ledger ledger, List<AppliedBudget> budgets, AtomicLong ids, int n) {
        long[] service = new long[n];
        long denied = 0;
        long t0 = System.nanoTime();
        for (int i = 0; i < n; i++) {
            long start = System.nanoTime();
            if (!pair(ledger, budgets, nextRequestId(ids))) {
                denied++;
            }
            service[i] = System.nanoTime() - start;
        }
        double wall = (System.nanoTime() - t0) / 1e9;
        return new Paced(n, denied, 0, wall, service, service, new long[] {0}, new long[0]);
    }

    /**
     * Starts a pair every {@code 1/rate} s, each on its own virtual thread (or pooled platform thread), for {@code seconds}; the schedule does
     * not wait for slow pairs (open loop), so a stall shows up in the latency of the pairs scheduled behind it.
     */
    private static Paced paced(Ledger ledger, List<AppliedBudget> budgets, AtomicLong ids, int rate, int seconds)
            throws InterruptedException {
        int n = rate * seconds;
        long period = TimeUnit.SECONDS.toNanos(1) / rate;
        long[] fromSchedule = new long[n];
        long[] service = new long[n];
        long[] lateness = new long[n];
        long[] dueAt = new long[n];
        AtomicLong denied = new AtomicLong();
        AtomicLong errors = new AtomicLong();
        long t0 = System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(20);
        try (ExecutorService pool = platformCallers
                ? Executors.newCachedThreadPool(Thread.ofPlatform().daemon().factory())
                : Executors.newVirtualThreadPerTaskExecutor()) {
            for (int i = 0; i < n; i++) {
                long due = t0 + i * period;
                dueAt[i] = due;
                long wait;
                while ((wait = due - System.nanoTime()) > 0) {
                    LockSupport.parkNanos(wait);
                }
                int k = i;
                pool.execute(() -> {
                    long start = System.nanoTime();
                    lateness[k] = start - due;
                    try {
                        if (!pair(ledger, budgets, nextRequestId(ids))) {
                            denied.incrementAndGet();
                        }
                    } catch (RuntimeException e) {
                        if (errors.incrementAndGet() == 1) {
                            e.printStackTrace();
                        }
                    }
                    long end = System.nanoTime();
                    fromSchedule[k] = end - due;
                    service[k] = end - start;
                });
            }
        }
        double wall = (System.nanoTime() - t0) / 1e9;
        return new Paced(n - errors.get(), denied.get(), errors.get(), wall, fromSchedule, service, lateness, dueAt);
    }

    /** One call's ledger work: reserve its worst case against every budget, then settle its exact cost. */
    private static boolean pair(Ledger ledger, List<AppliedBudget> budgets, String requestId) {
        Instant now = Instant.now();
        Call call = new Call(
                requestId,
                now,
                "bench-key",
                "a",
                "extraction",
                "small",
                "task:extraction",
                "claude-haiku-4-5",
                "",
                "",
                1024);
        Admission admission = ledger.reserve(call, budgets, WORST_CASE, now.plusSeconds(120));
        if (!(admission instanceof Admission.Admitted a)) {
            return false;
        }
        Settlement s = ledger.settle(
                a.reservation(), Outcome.ok("claude-haiku-4-5", Usage.of(1200, 300), COST, 850, 240, "end_turn"));
        return s instanceof Settlement.Settled;
    }

    /** Global per day, team per day, task type per month: the three windows every call locks. */
    private static List<AppliedBudget> budgets(Instant now) {
        LocalDate today = LocalDate.ofInstant(now, ZoneOffset.UTC);
        Instant day = today.atStartOfDay(ZoneOffset.UTC).toInstant();
        Instant month = today.withDayOfMonth(1).atStartOfDay(ZoneOffset.UTC).toInstant();
        Instant nextMonth = today.withDayOfMonth(1)
                .plusMonths(1)
                .atStartOfDay(ZoneOffset.UTC)
                .toInstant();
        return List.of(
                new AppliedBudget("global-daily", "", Window.DAY, day, day.plusSeconds(86_400), LIMIT, true, false),
                new AppliedBudget("team-a", "", Window.DAY, day, day.plusSeconds(86_400), LIMIT, true, false),
                new AppliedBudget("extraction-monthly", "", Window.MONTH, month, nextMonth, LIMIT, true, false));
    }

    /** The measured part's commits, and how often and how long every write waited for a WAL restart. */
    private static String describeWrites(WriteStats before, WriteStats after) {
        long transactions = after.transactions() - before.transactions();
        long writes = after.writes() - before.writes();
        long holds = after.holds() - before.holds();
        double heldMs = (after.heldNanos() - before.heldNanos()) / 1e6;
        return String.format(
                Locale.ROOT,
                "writes %d in %d transactions (%d on the caller's thread); writes held back for a WAL restart %d"
                        + " times, %.1f ms in all%s",
                writes,
                transactions,
                after.writesOnCaller() - before.writesOnCaller(),
                holds,
                heldMs,
                holds == 0 ? "" : String.format(Locale.ROOT, " (%.2f ms each)", heldMs / holds));
    }

    /** No lost rows, nothing left reserved, and each budget's spend equals pairs x cost. */
    private static void audit(Ledger ledger, List<AppliedBudget> budgets, Instant since, long pairs) {
        long rows = 0;
        for (SpendGroup g : ledger.spend(GroupBy.KEY, since)) {
            rows += g.calls();
        }
        boolean ok = rows == pairs;
        StringBuilder sb = new StringBuilder();
        for (BudgetStatus s : ledger.status(budgets)) {
            boolean good = s.reserved().nanos() == 0 && s.spent().equals(COST.times(pairs));
            ok &= good;
            sb.append(String.format(
                    Locale.ROOT,
                    "%n  %s: spent %s, reserved %s%s",
                    s.budget().budget(),
                    s.spent().toUsdString(),
                    s.reserved().toUsdString(),
                    good ? "" : "  <-- expected spent " + COST.times(pairs).toUsdString() + ", reserved 0"));
        }
        System.out.printf(
                Locale.ROOT,
                "audit: %d pairs, %d ledger rows%s%n%s%n",
                pairs,
                rows,
                sb,
                ok ? "audit OK" : "AUDIT FAILED");
        if (!ok) {
            System.exit(1);
        }
    }

    // ---- PostgreSQL: closed loop, several gateway instances (JVMs) on one server ----

    private static void postgres(Map<String, String> o) throws Exception {
        int instances = Integer.parseInt(o.getOrDefault("instances", "2"));
        String syncCommit = o.getOrDefault("synchronous-commit", "on");
        // zonky's default is synchronous_commit=off; a ledger wants the server default (on) unless told otherwise
        try (EmbeddedPostgres pg = EmbeddedPostgres.builder()
                .setServerConfig("synchronous_commit", syncCommit)
                .setServerConfig("max_connections", "200")
                .start()) {
            String url = pg.getJdbcUrl("postgres", "postgres");
            PostgresSettings settings = new PostgresSettings(url, "postgres", "", "bench", 2);
            Clock clock = Clock.systemUTC();
            Instant since = clock.instant();
            List<AppliedBudget> budgets = budgets(clock.instant());
            try (Ledger ledger = Ledger.postgres(settings, "bench-audit", clock)) {
                // creates the schema once, before the instances race to migrate it
                ledger.status(budgets);
            }
            String java =
                    Path.of(System.getProperty("java.home"), "bin", "java").toString();
            int warmup = Integer.parseInt(o.getOrDefault("warmup", "10"));
            long startAt = System.currentTimeMillis() + 3_000 + warmup * 1000L;
            System.out.printf(
                    Locale.ROOT,
                    "embedded PostgreSQL %s (synchronous_commit=%s), %d instance JVMs, measuring from %s%n",
                    url,
                    syncCommit,
                    instances,
                    Instant.ofEpochMilli(startAt));
            List<Process> children = new ArrayList<>();
            for (int i = 1; i <= instances; i++) {
                children.add(new ProcessBuilder(
                                java,
                                "-Xmx256m",
                                "-cp",
                                System.getProperty("java.class.path"),
                                LedgerLoad.class.getName(),
                                "--postgres-url",
                                url,
                                "--instance",
                                "bench-" + i,
                                "--start-at",
                                Long.toString(startAt),
                                "--seconds",
                                o.getOrDefault("seconds", "20"),
                                "--threads",
                                o.getOrDefault("threads", "8"),
                                "--pool",
                                o.getOrDefault("pool", "8"))
                        .redirectErrorStream(true)
                        .start());
            }
            long pairs = 0;
            long total = 0;
            double sum = 0;
            for (Process p : children) {
                try (BufferedReader r =
                        new BufferedReader(new InputStreamReader(p.getInputStream(), StandardCharsets.UTF_8))) {
                    for (String line; (line = r.readLine()) != null; ) {
                        System.out.println("  " + line);
                        if (line.startsWith("RESULT ")) {
                            String[] f = line.split(" ");
                            pairs += Long.parseLong(f[1]);
                            sum += Double.parseDouble(f[2]);
                            total += Long.parseLong(f[3]);
                        }
                    }
                }
                p.waitFor();
            }
            System.out.printf(
                    Locale.ROOT,
                    "TOTAL %d instances: %d pairs in the common window = %.0f pairs/s (sum of instance rates)%n",
                    instances,
                    pairs,
                    sum);
            try (Ledger ledger = Ledger.postgres(settings, "bench-audit", clock)) {
                audit(ledger, budgets, since, total);
            }
        }
    }

    /** One gateway instance: {@code threads} virtual threads doing pairs back to back on one pool. */
    private static void postgresInstance(Map<String, String> o) throws Exception {
        String instance = o.getOrDefault("instance", "bench-1");
        int threads = Integer.parseInt(o.getOrDefault("threads", "8"));
        int poolSize = Integer.parseInt(o.getOrDefault("pool", "8"));
        long startAt = Long.parseLong(o.getOrDefault("start-at", Long.toString(System.currentTimeMillis())));
        long endAt = startAt + 1000L * Integer.parseInt(o.getOrDefault("seconds", "20"));
        PostgresSettings settings =
                new PostgresSettings(o.getOrDefault("postgres-url", ""), "postgres", "", "bench", poolSize);
        Clock clock = Clock.systemUTC();
        List<AppliedBudget> budgets = budgets(clock.instant());
        AtomicLong measured = new AtomicLong();
        AtomicLong all = new AtomicLong();
        AtomicLong errors = new AtomicLong();
        long[][] latencies = new long[threads][];
        try (Ledger ledger = Ledger.postgres(settings, instance, clock);
                ExecutorService pool = Executors.newVirtualThreadPerTaskExecutor()) {
            for (int t = 0; t < threads; t++) {
                int k = t;
                pool.execute(() -> {
                    long[] lat = new long[1 << 16];
                    int m = 0;
                    for (long now = System.currentTimeMillis(); now < endAt; now = System.currentTimeMillis()) {
                        long s = System.nanoTime();
                        try {
                            pair(ledger, budgets, instance + "-" + all.incrementAndGet());
                        } catch (RuntimeException e) {
                            if (errors.incrementAndGet() == 1) {
                                e.printStackTrace();
                            }
                            continue;
                        }
                        if (now >= startAt) {
                            measured.incrementAndGet();
                            if (m == lat.length) {
                                lat = Arrays.copyOf(lat, m * 2);
                            }
                            lat[m++] = System.nanoTime() - s;
                        }
                    }
                    latencies[k] = Arrays.copyOf(lat, m);
                });
            }
        }
        long cpu = processCpuNanos();
        long[] merged = Arrays.stream(latencies).flatMapToLong(Arrays::stream).toArray();
        double seconds = (endAt - startAt) / 1000.0;
        System.out.printf(
                Locale.ROOT,
                "%s: %d pairs in %.0f s = %.0f pairs/s, errors %d, JVM CPU %.0f µs/pair (whole run), pair latency %s%n",
                instance,
                measured.get(),
                seconds,
                measured.get() / seconds,
                errors.get(),
                cpu / 1000.0 / Math.max(1, all.get()),
                percentiles(merged));
        System.out.printf(
                Locale.ROOT, "RESULT %d %.1f %d%n", measured.get(), measured.get() / seconds, all.get() - errors.get());
    }

    // ---- helpers ----

    private static long processCpuNanos() {
        return ((com.sun.management.OperatingSystemMXBean) ManagementFactory.getOperatingSystemMXBean())
                .getProcessCpuTime();
    }

    private static String percentiles(long[] nanos) {
        long[] s = nanos.clone();
        Arrays.sort(s);
        if (s.length == 0) {
            return "no samples";
        }
        return String.format(
                Locale.ROOT,
                "p50 %s  p90 %s  p99 %s  p99.9 %s  max %s  (n=%d)",
                micros(s, 0.50),
                micros(s, 0.90),
                micros(s, 0.99),
                micros(s, 0.999),
                micros(s, 1.0),
                s.length);
    }

    private static String micros(long[] sorted, double q) {
        int i = (int) Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1));
        return String.format(Locale.ROOT, "%.0f µs", sorted[i] / 1000.0);
    }

    /** {@code --name value} and bare {@code --flag} options (a flag maps to ""); shared by the bench drivers. */
    static Map<String, String> options(String[] args) {
        Map<String, String> o = new HashMap<>();
        for (int i = 0; i < args.length; i++) {
            if (!args[i].startsWith("--")) {
                throw new IllegalArgumentException("expected an option such as --seconds, got " + args[i]);
            }
            String key = args[i].substring(2);
            boolean flag = i + 1 == args.length || args[i + 1].startsWith("--");
            o.put(key, flag ? "" : args[++i]);
        }
        return o;
    }
}
