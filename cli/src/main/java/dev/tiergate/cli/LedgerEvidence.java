package dev.tiergate.cli;

import dev.tiergate.calibration.Outcome;
import dev.tiergate.ledger.ShadowEvidence;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * The ledger's shadow and feedback evidence as calibration outcomes: item id = the served call's request id; one
 * outcome for the served model and, for judge evidence, one for the candidate.
 *
 * <p>Judge evidence gives the served model 1 by convention and the candidate 1, 0.5 or 0. Feedback replaces the
 * served model's score on that item (the latest feedback wins): it is an external judgment of the answer the caller
 * actually got. A candidate's judged score is kept either way.
 */
final class LedgerEvidence {
    private LedgerEvidence() {}

    static List<Outcome> outcomes(List<ShadowEvidence> evidence) {
        // (item, model) -> outcome, judge rows first so that feedback overrides the served score
        Map<String, Outcome> byItemAndModel = new LinkedHashMap<>();
        List<ShadowEvidence> ordered = new ArrayList<>();
        evidence.stream().filter(e -> e.source() == ShadowEvidence.Source.JUDGE).forEach(ordered::add);
        evidence.stream()
                .filter(e -> e.source() == ShadowEvidence.Source.FEEDBACK)
                .forEach(ordered::add);
        for (ShadowEvidence e : ordered) {
            put(byItemAndModel, e, e.served());
            if (e.hasCandidate()) {
                put(byItemAndModel, e, e.candidate());
            }
        }
        return List.copyOf(byItemAndModel.values());
    }

    private static void put(Map<String, Outcome> out, ShadowEvidence e, ShadowEvidence.Side side) {
        out.put(
                e.requestId() + "\u0000" + side.model(),
                new Outcome(
                        e.requestId(),
                        e.taskType(),
                        side.model(),
                        side.score(),
                        side.inputTokens(),
                        side.outputTokens(),
                        side.cost()));
    }
}
