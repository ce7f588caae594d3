package dev.tiergate.ledger;

import java.time.Instant;

/**
 * What is known about a call when it is admitted; kept with its reservation so that even a call whose gateway
 * died is written to the ledger. Empty strings mean "not given".
 *
 * @param requestId the gateway's id for the call; one ledger row per request id
 * @param startedAt when the gateway received the call
 * @param keyName the name of the gateway key used (never the key itself)
 * @param team the team the call is attributed to
 * @param taskType the task type as classified
 * @param tier the tier routed to
 * @param requestedModel the {@code model} the caller sent (an id or an alias such as {@code task:extraction})
 * @param routedModel the model the router chose
 * @param runId the workflow run id
 * @param agentId the agent id within the run
 * @param maxTokens effective {@code max_tokens} sent upstream
 */
public record Call(
        String requestId,
        Instant startedAt,
        String keyName,
        String team,
        String taskType,
        String tier,
        String requestedModel,
        String routedModel,
        String runId,
        String agentId,
        long maxTokens) {
    public Call {
        if (requestId.isBlank()) {
            throw new IllegalArgumentException("a call needs a request id");
        }
        if (maxTokens < 0) {
            throw new IllegalArgumentException("max_tokens must not be negative, got " + maxTokens);
        }
    }
}
