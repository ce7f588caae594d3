package dev.tiergate.workflow;

import com.fasterxml.jackson.databind.JsonNode;
import dev.tiergate.pricing.Money;
import dev.tiergate.pricing.Usage;

/**
 * What a {@link TaskExecutor} reports for one task: it completed, it failed, or budget admission refused it.
 *
 * <p>Costs are what the call actually cost in nano-USD (the gateway's {@code x-tiergate-cost-usd}, or the ledger's
 * settled amount), not estimates.
 */
public sealed interface TaskOutcome permits TaskOutcome.Completed, TaskOutcome.Failed, TaskOutcome.BudgetDenied {

    /** What the call cost; zero for {@link BudgetDenied}, which never reaches the upstream. */
    Money cost();

    /** The call's tokens; {@link Usage#ZERO} unless {@link Completed}. */
    default Usage usage() {
        return Usage.ZERO;
    }

    /**
     * The task did its work. Dependents receive this in {@link TaskContext#dependencies()}.
     *
     * @param output the result, typically the Messages response body; the node is shared with every dependent, so
     *     treat it as read-only
     * @param cost what the call cost; not negative
     * @param usage the call's tokens
     */
    record Completed(JsonNode output, Money cost, Usage usage) implements TaskOutcome {

        /** Requires a cost that is not negative. */
        public Completed {
            requireNotNegative(cost);
        }

        /**
         * The output's text: the concatenated {@code text} blocks of a Messages response's {@code content}, the
         * string itself if the output is a JSON string, otherwise the output as JSON. Never null; may be empty.
         */
        public String text() {
            if (output.isTextual()) {
                return output.asText();
            }
            JsonNode content = output.path("content");
            if (content.isArray()) {
                StringBuilder sb = new StringBuilder();
                for (JsonNode block : content) {
                    if ("text".equals(block.path("type").asText())) {
                        sb.append(block.path("text").asText());
                    }
                }
                return sb.toString();
            }
            return output.toString();
        }
    }

    /**
     * The task was tried and did not do its work (an upstream error, a refused request, an exception). Its
     * dependents are skipped; the rest of the run goes on.
     *
     * @param reason what went wrong, for the report; not blank
     * @param cost what the attempt still cost (zero if nothing was billed); not negative
     */
    record Failed(String reason, Money cost) implements TaskOutcome {

        /** Requires a reason and a cost that is not negative. */
        public Failed {
            if (reason.isBlank()) {
                throw new IllegalArgumentException("a failure needs a reason");
            }
            requireNotNegative(cost);
        }

        /** A failure that cost nothing. */
        public static Failed of(String reason) {
            return new Failed(reason, Money.ZERO);
        }
    }

    /**
     * Budget admission refused the call, so nothing was sent upstream: the gateway answered 429 with {@code
     * x-should-retry: false}, or the ledger returned {@code Admission.Denied}. The runner stops admitting tasks of
     * this run.
     *
     * @param message the denial as the budget explained it, e.g. {@code budget 'run nightly-42' total limit ...}
     */
    record BudgetDenied(String message) implements TaskOutcome {

        /** Requires a message. */
        public BudgetDenied {
            if (message.isBlank()) {
                throw new IllegalArgumentException("a budget denial needs a message");
            }
        }

        @Override
        public Money cost() {
            return Money.ZERO;
        }
    }

    private static void requireNotNegative(Money cost) {
        if (cost.isNegative()) {
            throw new IllegalArgumentException("a task's cost must not be negative, got " + cost);
        }
    }
}
