package dev.tiergate.cli;

import dev.tiergate.config.ConfigException;
import dev.tiergate.gateway.CallRecorder;
import dev.tiergate.gateway.Gateway;
import dev.tiergate.gateway.GatewayConfig;
import java.io.PrintWriter;
import java.nio.file.Path;
import java.time.Clock;
import java.time.LocalDate;
import java.util.concurrent.Callable;
import java.util.concurrent.CountDownLatch;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

/** {@code tiergate serve}: run the Anthropic-compatible gateway. */
@Command(
        name = "serve",
        mixinStandardHelpOptions = true,
        description = {
            "Run the Anthropic-compatible gateway: POST /v1/messages (JSON and SSE), /v1/messages/count_tokens,"
                    + " GET /healthz, GET /metrics (Prometheus).",
            "Point any Anthropic SDK at it (base URL http://HOST:PORT, a gateway key as the API key) and name the task"
                    + " type with the x-tiergate-task header or model \"task:<type>\".",
            "The upstream key comes from the environment variable named by upstream.api_key_env (default"
                    + " ANTHROPIC_API_KEY). Every call is logged as one JSON line on stderr. Stop with Ctrl-C (calls in"
                    + " flight get up to 30 s to finish and be settled).",
            "Exit 2 if the config or its policy is invalid (every problem listed as FILE:LINE:COL), or if the upstream"
                    + " is the Anthropic API and no upstream key is set (use --simulated to try the gateway without one)."
        })
final class ServeCommand implements Callable<Integer> {
    @Option(
            names = "--config",
            required = true,
            paramLabel = "FILE",
            description = "Gateway config YAML (see examples/tiergate.yaml and docs/gateway.md).")
    Path config = Path.of("");

    @Option(
            names = "--simulated",
            description = "Answer every call from the built-in simulated upstream instead of the configured one (no"
                    + " upstream key needed). Without it, serving the Anthropic API with no upstream key is refused.")
    boolean simulated;

    @Spec
    picocli.CommandLine.Model.CommandSpec spec = picocli.CommandLine.Model.CommandSpec.create();

    @Override
    public Integer call() throws InterruptedException {
        PrintWriter out = spec.commandLine().getOut();
        PrintWriter err = spec.commandLine().getErr();
        GatewayConfig cfg;
        try {
            cfg = GatewayConfig.load(config, System.getenv(), LocalDate.now(Clock.systemUTC()));
        } catch (ConfigException e) {
            err.println(e.lines());
            return Main.EXIT_BAD_INPUT;
        }
        boolean defaultAnthropic = cfg.upstream().baseUrl().toString().equals("https://api.anthropic.com");
        if (simulated) {
            cfg = cfg.withUpstream(cfg.upstream().simulate(cfg.upstream().simulatorSeed(), 1.0));
        } else if (!cfg.upstream().simulated() && cfg.upstream().apiKey().isEmpty() && defaultAnthropic) {
            // Refused rather than simulated: a production gateway whose key went missing must not answer agents
            // with simulated text at simulated prices; the simulator is always asked for by name.
            err.println(config + ": no upstream key: the Anthropic API refuses calls without one. Set the variable"
                    + " named by upstream.api_key_env (default ANTHROPIC_API_KEY) for real calls, or start with"
                    + " --simulated (or upstream.base_url: simulated) to answer from the built-in simulator.");
            return Main.EXIT_BAD_INPUT;
        } else if (!cfg.upstream().simulated() && cfg.upstream().apiKey().isEmpty()) {
            err.println("tiergate: warning: no upstream API key (set the variable named by upstream.api_key_env);"
                    + " the upstream will refuse calls unless it needs no key");
        }
        if (cfg.upstream().simulated()) {
            err.println("tiergate: SIMULATED upstream: every answer comes from the built-in simulator, not a real"
                    + " model (set ANTHROPIC_API_KEY, or upstream.base_url, for real calls)");
        }
        CallLog.toJsonLines(System.err);
        Gateway gateway = Gateway.start(cfg, CallRecorder.log(), Clock.systemUTC());
        CountDownLatch stopped = new CountDownLatch(1);
        Runtime.getRuntime().addShutdownHook(new Thread(() -> {
            gateway.close();
            stopped.countDown();
        }));
        out.printf(
                "Tiergate gateway listening on %s (upstream %s, policy %s: %d tiers, %d task types, %d keys)%n",
                gateway.baseUrl(),
                cfg.upstream().simulated()
                        ? "SIMULATED (built-in)"
                        : cfg.upstream().baseUrl(),
                cfg.policy().source(),
                cfg.policy().tiers().size(),
                cfg.policy().taskTypes().size(),
                cfg.keys().size());
        out.flush();
        stopped.await();
        return 0;
    }
}
