package dev.tiergate.budget;

import dev.tiergate.pricing.Money;

/**
 * What a call is attributed to, for choosing the budgets that apply. Empty strings mean "not given".
 *
 * @param keyName the name of the gateway key the call used (never the key itself)
 * @param team the team the call is attributed to
 * @param taskType the task type as classified
 * @param runId the workflow run id ({@code x-tiergate-run})
 * @param requestedRunBudget the run cap the caller asked for ({@code x-tiergate-run-budget-usd}); {@link Money#ZERO}
 *     when not given. A hard cap on the run that can only lower it: below a configured hard run budget's
 *     limit, or below a cap an earlier call of the run requested
 */
public record CallAttributes(String keyName, String team, String taskType, String runId, Money requestedRunBudget) {
    public CallAttributes {
        if (requestedRunBudget.isNegative()) {
            throw new IllegalArgumentException("requested run budget must not be negative, got " + requestedRunBudget);
        }
    }

    /** A call without a requested run budget. */
    public static CallAttributes of(String keyName, String team, String taskType, String runId) {
        return new CallAttributes(keyName, team, taskType, runId, Money.ZERO);
    }

    /** This call with the run cap from {@code x-tiergate-run-budget-usd}. */
    public CallAttributes withRequestedRunBudget(Money cap) {
        return new CallAttributes(keyName, team, taskType, runId, cap);
    }
}
