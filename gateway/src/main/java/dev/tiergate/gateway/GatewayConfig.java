package dev.tiergate.gateway;

import dev.tiergate.budget.Budget;
import dev.tiergate.budget.BudgetLoader;
import dev.tiergate.budget.BudgetRules;
import dev.tiergate.budget.Mode;
import dev.tiergate.config.ConfigException;
import dev.tiergate.config.ConfigProblem;
import dev.tiergate.config.Problems;
import dev.tiergate.config.YamlNode;
import dev.tiergate.config.YamlTree;
import dev.tiergate.ledger.PostgresSettings;
import dev.tiergate.policy.Policy;
import dev.tiergate.policy.PolicyLoader;
import dev.tiergate.pricing.CatalogLoader;
import dev.tiergate.pricing.ModelCatalog;
import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.net.URI;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.security.cert.Certificate;
import java.security.cert.CertificateException;
import java.security.cert.CertificateFactory;
import java.security.cert.X509Certificate;
import java.time.Duration;
import java.time.LocalDate;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;

/**
 * Everything {@code tiergate serve} needs, read from {@code tiergate.yaml} and the environment.
 *
 * @param host the address to listen on
 * @param port the port (0: any free port)
 * @param catalog the bundled catalog plus the config's {@code models:}
 * @param policy the validated policy
 * @param keys the gateway keys (hashed)
 * @param upstream where and how calls are forwarded
 * @param maxBodyBytes requests with a larger body get 413
 * @param budgets spend budgets (none: spend is still recorded, nothing is denied)
 * @param ledger where calls and budget state are stored
 * @param lease how long a reservation lives without renewal; a crashed instance's reservations are
 *     recovered (charged at their worst case) once it passes
 * @param instanceId this gateway's name in reservation leases
 * @param adminKeys keys for the admin API (hashed)
 * @param shadow shadow evaluation ({@link ShadowSettings#OFF} without a {@code shadow:} section)
 */
public record GatewayConfig(
        String host,
        int port,
        ModelCatalog catalog,
        Policy policy,
        ApiKeys keys,
        Upstream upstream,
        long maxBodyBytes,
        BudgetRules budgets,
        LedgerSettings ledger,
        Duration lease,
        String instanceId,
        ApiKeys adminKeys,
        ShadowSettings shadow) {

    /** The same config with other upstream settings (e.g. the simulated upstream). */
    public GatewayConfig withUpstream(Upstream other) {
        return new GatewayConfig(
                host,
                port,
                catalog,
                policy,
                keys,
                other,
                maxBodyBytes,
                budgets,
                ledger,
                lease,
                instanceId,
                adminKeys,
                shadow);
    }

    /** The same config listening on {@code newPort} (0: any free port). */
    public GatewayConfig withPort(int newPort) {
        return new GatewayConfig(
                host,
                newPort,
                catalog,
                policy,
                keys,
                upstream,
                maxBodyBytes,
                budgets,
                ledger,
                lease,
                instanceId,
                adminKeys,
                shadow);
    }

    /**
     * Every budget this config enforces, for listings: the {@code budgets:} list and, with a {@code shadow:}
     * section, the shadow budget ({@value ShadowSettings#BUDGET}, a name the config may not use otherwise).
     */
    public BudgetRules enforcedBudgets() {
        List<Budget> shadowBudget = shadow.rules().budgets();
        if (shadowBudget.isEmpty()) {
            return budgets;
        }
        List<Budget> all = new ArrayList<>(budgets.budgets());
        all.addAll(shadowBudget);
        return new BudgetRules(all);
    }

    /** Anthropic's own request size limit for Messages: 32 MB. */
    public static final long DEFAULT_MAX_BODY_BYTES = 32L * 1024 * 1024;

    /**
     * How calls reach the upstream.
     *
     * @param baseUrl e.g. {@code https://api.anthropic.com}
     * @param apiKey the upstream credential
     * @param maxRetries retries per model before moving to the next fallback
     * @param retryBase first backoff; doubles per retry, with jitter
     * @param maxRetryWait the longest {@code retry-after} honoured; longer waits move on to the next fallback
     * @param connectTimeout TCP connect
     * @param firstByteTimeout until response headers arrive
     * @param idleTimeout longest silence inside a stream
     * @param totalTimeout the whole call
     * @param caCertificates certificates an https upstream may chain to besides the JDK's default trust
     *     ({@code ca_file}: a private CA, e.g. a corporate egress proxy's); empty: the default trust only
     * @param simulated whether calls go to the built-in simulated upstream, in process ({@code base_url:
     *     simulated}); everything it produces is labelled simulated
     * @param simulatorSeed the simulator's seed
     * @param simulatorTimeCompression how much faster than real time the simulator runs
     */
    public record Upstream(
            URI baseUrl,
            Secret apiKey,
            int maxRetries,
            Duration retryBase,
            Duration maxRetryWait,
            Duration connectTimeout,
            Duration firstByteTimeout,
            Duration idleTimeout,
            Duration totalTimeout,
            List<X509Certificate> caCertificates,
            boolean simulated,
            long simulatorSeed,
            double simulatorTimeCompression) {

        public Upstream {
            caCertificates = List.copyOf(caCertificates);
        }

        /** The same settings with the built-in simulated upstream instead of HTTP. */
        public Upstream simulate(long seed, double timeCompression) {
            return new Upstream(
                    baseUrl,
                    apiKey,
                    maxRetries,
                    retryBase,
                    maxRetryWait,
                    connectTimeout,
                    firstByteTimeout,
                    idleTimeout,
                    totalTimeout,
                    caCertificates,
                    true,
                    seed,
                    timeCompression);
        }

        /** Defaults for {@code baseUrl} and {@code apiKey}, as the SDKs use them. */
        public static Upstream defaults(URI baseUrl, Secret apiKey) {
            return new Upstream(
                    baseUrl,
                    apiKey,
                    2,
                    Duration.ofMillis(500),
                    Duration.ofSeconds(10),
                    Duration.ofSeconds(10),
                    Duration.ofMinutes(10),
                    Duration.ofMinutes(5),
                    Duration.ofMinutes(30),
                    List.of(),
                    false,
                    1,
                    1.0);
        }
    }

    private static final Set<String> TOP_KEYS = Set.of(
            "listen",
            "policy",
            "upstream",
            "keys",
            "max_body_bytes",
            "models",
            "budgets",
            "ledger",
            "admin_keys",
            "shadow");
    private static final Set<String> LEDGER_KEYS = Set.of("sqlite", "postgres", "lease_seconds", "instance_id");
    private static final Set<String> POSTGRES_KEYS = Set.of("url", "user", "password_env", "schema", "pool_size");
    private static final Set<String> LISTEN_KEYS = Set.of("host", "port");
    private static final Set<String> UPSTREAM_KEYS = Set.of(
            "base_url",
            "api_key_env",
            "api_key",
            "max_retries",
            "retry_base_ms",
            "max_retry_wait_ms",
            "connect_timeout_ms",
            "first_byte_timeout_ms",
            "idle_timeout_ms",
            "total_timeout_ms",
            "ca_file",
            "simulator_seed",
            "simulator_time_compression");
    private static final Set<String> KEY_KEYS =
            Set.of("name", "sha256", "team", "default_task", "allow_model_passthrough");

    /**
     * Reads a gateway config file; the policy path inside it is resolved against the file's folder.
     *
     * @param env the environment (for the upstream key)
     * @param today the day against which model retirement is checked
     * @throws ConfigException listing every problem of the config and of its policy
     */
    public static GatewayConfig load(Path file, Map<String, String> env, LocalDate today) {
        String text;
        try {
            text = Files.readString(file, StandardCharsets.UTF_8);
        } catch (NoSuchFileException e) {
            throw new ConfigException(List.of(new ConfigProblem(file.toString(), 0, 0, "no such file")));
        } catch (IOException e) {
            throw new ConfigException(List.of(new ConfigProblem(file.toString(), 0, 0, "cannot read: " + e)));
        }
        Problems problems = new Problems(file.toString());
        Optional<YamlNode.Mapping> root =
                YamlTree.parse(file.toString(), text, problems.sink()).flatMap(n -> problems.mapping(n, "the config"));
        if (root.isEmpty()) {
            problems.throwIfAny();
            throw new IllegalStateException("unreachable");
        }
        YamlNode.Mapping r = root.get();
        problems.rejectUnknownKeys(r, "the config", TOP_KEYS);
        ModelCatalog catalog = CatalogLoader.bundled();
        Optional<YamlNode> models = r.get("models");
        if (models.isPresent()) {
            catalog = CatalogLoader.withOverrides(catalog, models.get(), problems);
        }
        String host = "127.0.0.1";
        int port = 8080;
        Optional<YamlNode.Mapping> listen = r.get("listen").flatMap(n -> problems.mapping(n, "listen"));
        if (listen.isPresent()) {
            problems.rejectUnknownKeys(listen.get(), "listen", LISTEN_KEYS);
            host = problems.textOr(listen.get(), "host", "listen.host", host);
            port = listen.get()
                    .get("port")
                    .flatMap(n -> problems.wholeNumber(n, "listen.port", 0, 65535))
                    .map(Long::intValue)
                    .orElse(port);
        }
        Path base = Optional.ofNullable(file.toAbsolutePath().getParent()).orElse(Path.of("."));
        Upstream upstream = readUpstream(r, env, base, problems);
        List<ApiKeys.Key> keys = readKeys(r, "keys", problems);
        List<ApiKeys.Key> adminKeys = r.get("admin_keys").isPresent() ? readKeys(r, "admin_keys", problems) : List.of();
        BudgetRules budgets =
                r.get("budgets").map(n -> BudgetLoader.read(n, problems)).orElse(BudgetRules.NONE);
        LedgerSettings ledger = new LedgerSettings.Sqlite(base.resolve("tiergate-ledger.db"));
        Duration lease = Duration.ofSeconds(30);
        String instanceId = defaultInstanceId();
        Optional<YamlNode.Mapping> ledgerNode = r.get("ledger").flatMap(n -> problems.mapping(n, "ledger"));
        if (ledgerNode.isPresent()) {
            YamlNode.Mapping l = ledgerNode.get();
            problems.rejectUnknownKeys(l, "ledger", LEDGER_KEYS);
            if (l.get("sqlite").isPresent() && l.get("postgres").isPresent()) {
                problems.add(l, "ledger takes either `sqlite:` or `postgres:`, not both");
            }
            Optional<String> sqlite = l.get("sqlite").flatMap(n -> problems.text(n, "ledger.sqlite"));
            if (sqlite.isPresent()) {
                ledger = new LedgerSettings.Sqlite(base.resolve(sqlite.get()));
            }
            Optional<LedgerSettings> pg = l.get("postgres").flatMap(n -> readPostgres(n, env, problems));
            if (pg.isPresent()) {
                ledger = pg.get();
            }
            lease = l.get("lease_seconds")
                    .flatMap(n -> problems.wholeNumber(n, "ledger.lease_seconds", 1, 86_400))
                    .map(Duration::ofSeconds)
                    .orElse(lease);
            instanceId = problems.textOr(l, "instance_id", "ledger.instance_id", instanceId);
        }
        long maxBody = r.get("max_body_bytes")
                .flatMap(n -> problems.wholeNumber(n, "max_body_bytes", 1, Long.MAX_VALUE))
                .orElse(DEFAULT_MAX_BODY_BYTES);
        Optional<Path> policyPath = r.get("policy")
                .flatMap(n -> problems.text(n, "policy"))
                .map(p -> {
                    Path parent = file.toAbsolutePath().getParent();
                    return parent == null ? Path.of(p) : parent.resolve(p);
                });
        if (r.get("policy").isEmpty()) {
            problems.add(r, "the config needs `policy:` (the policy file's path, relative to this file)");
        }
        // Report the config's own problems together with the policy's, so one run shows everything.
        List<ConfigProblem> all = new ArrayList<>(problems.sorted());
        Policy policy = null;
        if (policyPath.isPresent()) {
            try {
                policy = PolicyLoader.load(policyPath.get(), catalog, today);
            } catch (ConfigException e) {
                all.addAll(e.problems());
            }
        }
        if (policy == null) {
            throw new ConfigException(
                    all.isEmpty() ? List.of(new ConfigProblem(file.toString(), 0, 0, "no policy")) : all);
        }
        // The checks against the policy's tiers and task types need only a loaded policy: they add to the problems
        // above rather than wait for them to be fixed, so one run lists them all.
        checkDemotionTiers(budgets, policy, file.toString(), all);
        ShadowSettings shadow = ShadowSettings.OFF;
        Optional<YamlNode> shadowNode = r.get("shadow");
        if (shadowNode.isPresent()) {
            Problems shadowProblems = new Problems(file.toString());
            shadow = ShadowSettings.read(shadowNode.get(), policy, catalog, shadowProblems);
            all.addAll(shadowProblems.sorted());
            if (budgets.find(ShadowSettings.BUDGET).isPresent()) {
                all.add(new ConfigProblem(
                        file.toString(),
                        0,
                        0,
                        "budget name '" + ShadowSettings.BUDGET
                                + "' is reserved for shadow evaluation (shadow.budget_usd); rename the budget"));
            }
        }
        if (!all.isEmpty()) {
            throw new ConfigException(all);
        }
        return new GatewayConfig(
                host,
                port,
                catalog,
                policy,
                new ApiKeys(keys),
                upstream,
                maxBody,
                budgets,
                ledger,
                lease,
                instanceId,
                new ApiKeys(adminKeys),
                shadow);
    }

    /** A soft budget that demotes to a tier the policy does not have could never take effect. */
    private static void checkDemotionTiers(BudgetRules budgets, Policy policy, String source, List<ConfigProblem> all) {
        for (Budget b : budgets.budgets()) {
            if (b.mode() instanceof Mode.Soft soft
                    && !soft.demoteToTier().isEmpty()
                    && !policy.tiers().containsKey(soft.demoteToTier())) {
                all.add(new ConfigProblem(
                        source,
                        0,
                        0,
                        "budget '" + b.name() + "' demotes to tier '"
                                + soft.demoteToTier() + "', which the policy does not define; tiers are "
                                + policy.tiers().keySet()));
            }
        }
    }

    private static Optional<LedgerSettings> readPostgres(YamlNode node, Map<String, String> env, Problems problems) {
        Optional<YamlNode.Mapping> m = problems.mapping(node, "ledger.postgres");
        if (m.isEmpty()) {
            return Optional.empty();
        }
        problems.rejectUnknownKeys(m.get(), "ledger.postgres", POSTGRES_KEYS);
        Optional<String> url = m.get().get("url").flatMap(n -> problems.text(n, "ledger.postgres.url"));
        if (m.get().get("url").isEmpty()) {
            problems.add(m.get(), "ledger.postgres needs `url` (jdbc:postgresql://HOST:PORT/DB)");
        }
        String user = problems.textOr(m.get(), "user", "ledger.postgres.user", "postgres");
        String passwordEnv =
                problems.textOr(m.get(), "password_env", "ledger.postgres.password_env", "TIERGATE_PG_PASSWORD");
        String schema = problems.textOr(m.get(), "schema", "ledger.postgres.schema", "tiergate");
        int pool = m.get()
                .get("pool_size")
                .flatMap(n -> problems.wholeNumber(n, "ledger.postgres.pool_size", 1, 1000))
                .map(Long::intValue)
                .orElse(8);
        return url.map(u -> new LedgerSettings.Postgres(
                new PostgresSettings(u, user, env.getOrDefault(passwordEnv, ""), schema, pool)));
    }

    private static String defaultInstanceId() {
        String host = System.getenv().getOrDefault("HOSTNAME", "gateway");
        return host + "-" + ProcessHandle.current().pid();
    }

    /** {@code configDir}: the config file's folder, against which {@code ca_file} is resolved. */
    private static Upstream readUpstream(
            YamlNode.Mapping r, Map<String, String> env, Path configDir, Problems problems) {
        Optional<YamlNode.Mapping> u = r.get("upstream").flatMap(n -> problems.mapping(n, "upstream"));
        URI base = URI.create("https://api.anthropic.com");
        String keyEnv = "ANTHROPIC_API_KEY";
        Upstream d = Upstream.defaults(base, Secret.of(""));
        if (u.isEmpty()) {
            return Upstream.defaults(base, Secret.of(env.getOrDefault(keyEnv, "")));
        }
        YamlNode.Mapping m = u.get();
        problems.rejectUnknownKeys(m, "upstream", UPSTREAM_KEYS);
        Optional<YamlNode> baseNode = m.get("base_url");
        boolean simulated = baseNode.filter(
                        n -> n instanceof YamlNode.Scalar sc && sc.text().equals("simulated"))
                .isPresent();
        if (baseNode.isPresent() && !simulated) {
            Optional<String> text = problems.text(baseNode.get(), "upstream.base_url");
            if (text.isPresent()) {
                try {
                    URI parsed = URI.create(text.get().replaceAll("/+$", ""));
                    if (!"http".equals(parsed.getScheme()) && !"https".equals(parsed.getScheme())) {
                        problems.add(
                                baseNode.get(),
                                "upstream.base_url must be an http or https URL, got '" + text.get() + "'");
                    } else {
                        base = parsed;
                    }
                } catch (IllegalArgumentException e) {
                    problems.add(baseNode.get(), "upstream.base_url is not a URL: '" + text.get() + "'");
                }
            }
        }
        Optional<YamlNode> caFile = m.get("ca_file");
        if (caFile.isPresent() && (simulated || !"https".equals(base.getScheme()))) {
            // Trust only matters to TLS: silently ignoring it would hide a base_url that was meant to be https.
            problems.add(
                    caFile.get(),
                    "upstream.ca_file is only used with an https upstream.base_url, but base_url is "
                            + (simulated ? "simulated" : "'" + base + "'"));
        }
        keyEnv = problems.textOr(m, "api_key_env", "upstream.api_key_env", keyEnv);
        String inlineKey = problems.textOr(m, "api_key", "upstream.api_key", "");
        Secret key = Secret.of(inlineKey.isEmpty() ? env.getOrDefault(keyEnv, "") : inlineKey);
        return new Upstream(
                base,
                key,
                m.get("max_retries")
                        .flatMap(n -> problems.wholeNumber(n, "upstream.max_retries", 0, 10))
                        .map(Long::intValue)
                        .orElse(d.maxRetries()),
                millis(m, "retry_base_ms", d.retryBase(), problems),
                millis(m, "max_retry_wait_ms", d.maxRetryWait(), problems),
                millis(m, "connect_timeout_ms", d.connectTimeout(), problems),
                millis(m, "first_byte_timeout_ms", d.firstByteTimeout(), problems),
                millis(m, "idle_timeout_ms", d.idleTimeout(), problems),
                millis(m, "total_timeout_ms", d.totalTimeout(), problems),
                caFile.map(n -> readCaFile(n, configDir, problems)).orElse(List.of()),
                simulated,
                m.get("simulator_seed")
                        .flatMap(
                                n -> problems.wholeNumber(n, "upstream.simulator_seed", Long.MIN_VALUE, Long.MAX_VALUE))
                        .orElse(1L),
                m.get("simulator_time_compression")
                        .flatMap(n -> problems.nonNegativeDecimal(n, "upstream.simulator_time_compression"))
                        .map(java.math.BigDecimal::doubleValue)
                        .filter(v -> v > 0)
                        .orElse(1.0));
    }

    /** The certificates in {@code upstream.ca_file}, or none and a problem naming the file. */
    private static List<X509Certificate> readCaFile(YamlNode node, Path configDir, Problems problems) {
        Optional<String> name = problems.text(node, "upstream.ca_file");
        if (name.isEmpty()) {
            return List.of();
        }
        Path file = configDir.resolve(name.get());
        String what = "upstream.ca_file '" + file + "'";
        byte[] bytes;
        try {
            bytes = Files.readAllBytes(file);
        } catch (NoSuchFileException e) {
            problems.add(node, what + " does not exist");
            return List.of();
        } catch (IOException e) {
            problems.add(node, what + " cannot be read: " + e);
            return List.of();
        }
        List<X509Certificate> certificates = new ArrayList<>();
        try {
            for (Certificate c :
                    CertificateFactory.getInstance("X.509").generateCertificates(new ByteArrayInputStream(bytes))) {
                certificates.add((X509Certificate) c);
            }
        } catch (CertificateException e) {
            problems.add(node, what + " holds no PEM certificate: " + e.getMessage());
            return List.of();
        }
        if (certificates.isEmpty()) {
            problems.add(node, what + " holds no PEM certificate");
        }
        return certificates;
    }

    private static Duration millis(YamlNode.Mapping m, String key, Duration fallback, Problems problems) {
        return m.get(key)
                .flatMap(n -> problems.wholeNumber(n, "upstream." + key, 0, Long.MAX_VALUE))
                .map(Duration::ofMillis)
                .orElse(fallback);
    }

    private static List<ApiKeys.Key> readKeys(YamlNode.Mapping r, String field, Problems problems) {
        List<ApiKeys.Key> keys = new ArrayList<>();
        Optional<YamlNode.Sequence> list = r.get(field).flatMap(n -> problems.sequence(n, field));
        if (r.get(field).isEmpty()) {
            problems.add(r, "the config needs `keys:` (at least one gateway key; `tiergate hash-key` makes the hash)");
        }
        if (list.isEmpty()) {
            return keys;
        }
        List<String> names = new ArrayList<>();
        for (YamlNode item : list.get().items()) {
            Optional<YamlNode.Mapping> m = problems.mapping(item, "a key entry");
            if (m.isEmpty()) {
                continue;
            }
            problems.rejectUnknownKeys(m.get(), "a key entry", KEY_KEYS);
            Optional<String> name = m.get().get("name").flatMap(n -> problems.text(n, "key name"));
            if (m.get().get("name").isEmpty()) {
                problems.add(m.get(), "a key entry needs `name`");
            }
            Optional<byte[]> hash = Optional.empty();
            Optional<YamlNode> hashNode = m.get().get("sha256");
            if (hashNode.isEmpty()) {
                problems.add(
                        m.get(),
                        "a key entry needs `sha256` (from `tiergate hash-key`; the key itself is never stored)");
            } else {
                Optional<String> hex = problems.text(hashNode.get(), "key sha256");
                if (hex.isPresent()) {
                    try {
                        byte[] bytes = HexFormat.of().parseHex(hex.get().trim().toLowerCase(java.util.Locale.ROOT));
                        if (bytes.length != 32) {
                            problems.add(
                                    hashNode.get(),
                                    "key sha256 must be 64 hex digits, got "
                                            + hex.get().length());
                        } else {
                            hash = Optional.of(bytes);
                        }
                    } catch (IllegalArgumentException e) {
                        problems.add(hashNode.get(), "key sha256 must be 64 hex digits");
                    }
                }
            }
            String team = problems.textOr(m.get(), "team", "key team", "");
            String task = problems.textOr(m.get(), "default_task", "key default_task", "");
            boolean pass = m.get()
                    .get("allow_model_passthrough")
                    .flatMap(n -> problems.bool(n, "key allow_model_passthrough"))
                    .orElse(false);
            if (name.isPresent() && names.contains(name.get())) {
                problems.add(item, "key name '" + name.get() + "' is used twice");
            }
            name.ifPresent(names::add);
            if (name.isPresent() && hash.isPresent()) {
                keys.add(new ApiKeys.Key(name.get(), hash.get(), team, task, pass));
            }
        }
        return keys;
    }
}
