package dev.tiergate.messages;

/**
 * How an Anthropic Messages stream ended, as seen by {@link StreamUsageTracker}.
 *
 * <p>Consume with an exhaustive {@code switch}: a new case should break compilation where it matters.
 */
public sealed interface StreamOutcome {

    /** {@code message_stop} arrived and no {@code error} event came before it. */
    record Completed() implements StreamOutcome {}

    /**
     * The upstream sent an {@code error} event mid-stream (after HTTP 200), e.g. {@code overloaded_error}.
     *
     * @param type the Anthropic error type, e.g. {@code overloaded_error}; {@code api_error} if the event had none
     * @param message the human-readable message, empty if the event had none; never match on its wording
     */
    record UpstreamError(String type, String message) implements StreamOutcome {}

    /** The stream ended (or is being read) without {@code message_stop}: cut, cancelled or still running. */
    record Truncated() implements StreamOutcome {}
}
