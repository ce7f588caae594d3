package dev.tiergate.cli;

import dev.tiergate.config.ConfigException;
import dev.tiergate.policy.Policy;
import dev.tiergate.policy.RequestFacts;
import dev.tiergate.policy.Router;
import dev.tiergate.policy.RoutingDecision;
import dev.tiergate.pricing.CostOptions;
import dev.tiergate.pricing.ModelCatalog;
import java.io.PrintWriter;
import java.nio.file.Path;
import java.util.concurrent.Callable;
import org.jspecify.annotations.Nullable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

/** {@code tiergate route}: show where a request would go, and why. */
@Command(
        name = "route",
        mixinStandardHelpOptions = true,
        description = {
            "Show the routing decision for one request: tier, model, fallbacks, effective max_tokens, the worst-case"
                    + " cost a budget would reserve, and why.",
            "Exit 0 for a route, 1 when the policy rejects the request, 2 for bad input."
        })
final class RouteCommand implements Callable<Integer> {
    @Option(names = "--policy", required = true, paramLabel = "FILE", description = "The policy YAML file.")
    Path policyFile = Path.of("");

    @Option(
            names = "--task",
            paramLabel = "TYPE",
            defaultValue = Policy.UNCLASSIFIED,
            description = "The task type (default: ${DEFAULT-VALUE}, which goes to the default tier).")
    String task = Policy.UNCLASSIFIED;

    @Option(names = "--max-tokens", paramLabel = "N", description = "The request's max_tokens (omit: none given).")
    @Nullable
    Long maxTokens;

    @Option(
            names = "--input-tokens",
            paramLabel = "N",
            defaultValue = "0",
            description = "Estimated input tokens of the request (default: ${DEFAULT-VALUE}).")
    long inputTokens;

    @Mixin
    CatalogOption catalog = new CatalogOption();

    @Spec
    picocli.CommandLine.Model.CommandSpec spec = picocli.CommandLine.Model.CommandSpec.create();

    @Override
    public Integer call() {
        if (inputTokens < 0) {
            throw new CliException("--input-tokens must not be negative, got " + inputTokens);
        }
        ModelCatalog models = catalog.load();
        Policy policy;
        try {
            policy = PolicyCommand.loadPolicy(policyFile, models);
        } catch (ConfigException e) {
            throw new CliException("invalid policy:\n" + e.lines());
        }
        Long requested = maxTokens;
        RequestFacts facts = requested == null
                ? RequestFacts.withoutMaxTokens(inputTokens)
                : RequestFacts.of(inputTokens, requested);
        RoutingDecision decision = new Router(policy, models).route(task, facts);
        PrintWriter out = spec.commandLine().getOut();
        return switch (decision) {
            case RoutingDecision.Route r -> {
                out.printf("task type:   %s%n", r.taskType());
                out.printf("tier:        %s%n", r.tier());
                out.printf("model:       %s%n", r.model());
                out.printf("fallbacks:   %s%n", r.fallbacks().isEmpty() ? "(none)" : String.join(", ", r.fallbacks()));
                out.printf("max_tokens:  %d%s%n", r.maxTokens(), r.capped() ? " (capped)" : "");
                out.printf(
                        "worst case:  %s USD (reserved before the call: %d input tokens at the highest input price"
                                + " + %d output tokens)%n",
                        models.worstCase(r.model(), inputTokens, r.maxTokens(), CostOptions.STANDARD)
                                .toUsdString(),
                        inputTokens,
                        r.maxTokens());
                out.println("why:");
                r.reasons().forEach(reason -> out.println("  - " + reason));
                yield 0;
            }
            case RoutingDecision.Reject r -> {
                out.printf("rejected:    %s%n", r.reason());
                yield 1;
            }
        };
    }
}
