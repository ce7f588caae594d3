package dev.tiergate.gateway;

import dev.tiergate.pricing.Money;
import dev.tiergate.pricing.Usage;
import java.time.Instant;

/**
 * One served (or refused) call, as it goes to the log and the ledger. Never holds a credential: the key is
 * named, not quoted.
 *
 * @param requestId the gateway's id for the call ({@code x-tiergate-request-id})
 * @param time when the call arrived
 * @param keyName the gateway key's configured name
 * @param team the key's team ("" for none)
 * @param taskType the task type the call was classified as
 * @param tier the tier it was routed to ("" when refused before routing)
 * @param requestedModel the {@code model} field the caller sent
 * @param servedModel the model that answered ("" if none did)
 * @param runId workflow run id from {@code x-tiergate-run} ("" for none)
 * @param agentId agent id from {@code x-tiergate-agent} ("" for none)
 * @param usage tokens by class (what was seen, for cancelled and failed streams too)
 * @param cost the exact cost of {@code usage} on {@code servedModel}, plus the worst case of each unanswered attempt
 * @param latencyMillis arrival to last byte
 * @param timeToFirstTokenMillis arrival to the first {@code content_block_delta} (-1 when not streamed or none)
 * @param stopReason the upstream's stop_reason ("" if none)
 * @param maxTokens the effective {@code max_tokens} sent upstream
 * @param hitCap whether the output stopped at that cap
 * @param status ok, upstream_error, client_cancelled, interrupted or denied
 * @param errorType the Anthropic error type when not ok ("" otherwise)
 * @param stream whether the call was streamed
 * @param attempts upstream attempts made (retries and fallbacks included)
 * @param unansweredAttempts of those, the ones sent that never got an answer, each charged at its worst case in
 *     {@code cost} because the upstream may have billed it
 */
public record CallRecord(
        String requestId,
        Instant time,
        String keyName,
        String team,
        String taskType,
        String tier,
        String requestedModel,
        String servedModel,
        String runId,
        String agentId,
        Usage usage,
        Money cost,
        long latencyMillis,
        long timeToFirstTokenMillis,
        String stopReason,
        long maxTokens,
        boolean hitCap,
        String status,
        String errorType,
        boolean stream,
        int attempts,
        int unansweredAttempts) {

    /** A call refused before any upstream attempt: nothing used, nothing spent. */
    public static CallRecord denied(
            String requestId,
            Instant time,
            String keyName,
            String team,
            String taskType,
            String tier,
            String requestedModel,
            String runId,
            String agentId,
            long maxTokens,
            String errorType,
            boolean stream) {
        return new CallRecord(
                requestId,
                time,
                keyName,
                team,
                taskType,
                tier,
                requestedModel,
                "",
                runId,
                agentId,
                Usage.ZERO,
                Money.ZERO,
                0,
                -1,
                "",
                maxTokens,
                false,
                "denied",
                errorType,
                stream,
                0,
                0);
    }
}
