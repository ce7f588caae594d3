package dev.tiergate.cli;

import picocli.CommandLine;
import picocli.CommandLine.Command;

/** Entry point of the {@code tiergate} command. */
@Command(
        name = "tiergate",
        mixinStandardHelpOptions = true,
        versionProvider = Main.Version.class,
        description = "Tiergate: route each task type to the cheapest model tier that does the job, cap output,"
                + " enforce budgets exactly and show where the money goes.",
        subcommands = {
            CommandLine.HelpCommand.class,
            PolicyCommand.class,
            RouteCommand.class,
            ModelsCommand.class,
            CostCommand.class,
            ServeCommand.class,
            HashKeyCommand.class,
            CalibrateCommand.class,
            SimulateUpstreamCommand.class,
            EvalRoutingCommand.class,
            BudgetsCommand.class,
            SpendCommand.class,
            ReportCommand.class,
            CapsCommand.class,
            DemoCommand.class
        })
public final class Main {

    /** Exit code for bad input: invalid policy, unknown model, malformed usage. */
    public static final int EXIT_BAD_INPUT = 2;

    private Main() {}

    /** Builds the command line with every subcommand and Tiergate's error handling. */
    public static CommandLine commandLine() {
        CommandLine cl = new CommandLine(new Main());
        cl.setExecutionExceptionHandler((ex, commandLine, parseResult) -> {
            if (ex instanceof CliException cli) {
                commandLine.getErr().println("tiergate: " + cli.getMessage());
                return cli.exitCode();
            }
            throw ex;
        });
        cl.setParameterExceptionHandler((ex, args) -> {
            CommandLine c = ex.getCommandLine();
            c.getErr().println("tiergate: " + ex.getMessage());
            c.getErr().println("Try '" + c.getCommandSpec().qualifiedName() + " --help'.");
            return EXIT_BAD_INPUT;
        });
        return cl;
    }

    public static void main(String[] args) {
        System.exit(commandLine().execute(args));
    }

    static final class Version implements CommandLine.IVersionProvider {
        @Override
        public String[] getVersion() {
            String v = Main.class.getPackage().getImplementationVersion();
            return new String[] {"tiergate " + (v == null ? "dev" : v)};
        }
    }
}
