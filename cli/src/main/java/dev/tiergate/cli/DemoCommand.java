package dev.tiergate.cli;

import dev.tiergate.cli.demo.Demo;
import dev.tiergate.cli.demo.DemoException;
import dev.tiergate.config.ConfigException;
import java.io.Console;
import java.io.PrintWriter;
import java.io.UncheckedIOException;
import java.lang.reflect.Method;
import java.nio.file.Path;
import java.util.concurrent.Callable;
import java.util.logging.Level;
import java.util.logging.Logger;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

/** {@code tiergate demo}: a simulated day of multi-agent work under three policies, and what each cost. */
@Command(
        name = "demo",
        mixinStandardHelpOptions = true,
        description = {
            "SIMULATED: run one day of multi-agent work through the gateway on loopback, in front of the simulated"
                    + " upstream (no real model, no key), three times: (a) everything on the frontier model, no caps;"
                    + " (b) two-tier routing, no caps; (c) two-tier routing with per-task-type caps.",
            "Prints progress, then one table: cost per day and per month, frontier share of calls and of spend,"
                    + " truncation, p50/p95 simulated latency, savings against (a). Keeps the three SQLite ledgers"
                    + " in --dir and prints how to explore them. See docs/demo.md."
        })
final class DemoCommand implements Callable<Integer> {
    @Option(
            names = "--tasks",
            paramLabel = "N",
            description = "Tasks in the simulated day (default: ${DEFAULT-VALUE}).")
    int tasks = 10_000;

    @Option(
            names = "--agents",
            paramLabel = "N",
            description = "Agents working in parallel, i.e. calls in flight (default: ${DEFAULT-VALUE}).")
    int agents = 20;

    @Option(
            names = "--seed",
            paramLabel = "N",
            description = "Seed of the workload and the simulator (default: ${DEFAULT-VALUE}).")
    long seed = 1;

    @Option(
            names = "--dir",
            paramLabel = "DIR",
            description = "Where the ledgers, policies and gateway configs go; its old demo ledgers are replaced"
                    + " (default: ${DEFAULT-VALUE}).")
    Path dir = Path.of("tiergate-demo");

    @Option(
            names = "--time-compression",
            paramLabel = "X",
            description = "Simulated time runs X times faster than the wall clock; reported latencies stay"
                    + " simulated (default: ${DEFAULT-VALUE}).")
    double timeCompression = Demo.DEFAULT_TIME_COMPRESSION;

    @Spec
    picocli.CommandLine.Model.CommandSpec spec = picocli.CommandLine.Model.CommandSpec.create();

    @Override
    public Integer call() {
        Demo.Settings settings;
        try {
            settings = new Demo.Settings(tasks, agents, seed, dir, timeCompression);
        } catch (IllegalArgumentException e) {
            throw new CliException(String.valueOf(e.getMessage()));
        }
        PrintWriter out = spec.commandLine().getOut();
        // The gateway's and web server's own log lines would break the table apart: keep only severe ones.
        Logger root = Logger.getLogger("");
        Level before = root.getLevel();
        root.setLevel(Level.SEVERE);
        boolean report = spec.parent() != null && spec.parent().subcommands().containsKey("report");
        try {
            Demo.run(settings, out, isTerminal(), report);
        } catch (ConfigException e) {
            throw new CliException("a bundled demo policy is invalid: " + e.getMessage(), 1);
        } catch (DemoException | UncheckedIOException e) {
            throw new CliException(String.valueOf(e.getMessage()), 1);
        } finally {
            root.setLevel(before);
        }
        return 0;
    }

    /** Whether standard output is a terminal, where a progress line can be rewritten in place. */
    private static boolean isTerminal() {
        Console console = System.console();
        if (console == null) {
            return false;
        }
        // From JDK 22 System.console() is non-null even when output is redirected; isTerminal() tells. Release 21
        // does not have the method, so ask for it by name.
        try {
            Method m = Console.class.getMethod("isTerminal");
            return Boolean.TRUE.equals(m.invoke(console));
        } catch (ReflectiveOperationException e) {
            return true;
        }
    }
}
