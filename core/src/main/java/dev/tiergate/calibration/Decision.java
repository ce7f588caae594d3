package dev.tiergate.calibration;

/** What calibration recommends for one task type: switch to a cheaper model, or keep the current one. */
public sealed interface Decision permits Decision.Switch, Decision.Keep {

    /**
     * Switch to {@code model}: the cheapest model shown non-inferior to the current one.
     *
     * @param model the recommended model
     */
    record Switch(String model) implements Decision {}

    /**
     * Keep the current model.
     *
     * @param reason why no cheaper model was recommended
     */
    record Keep(Reason reason) implements Decision {}

    /** Why calibration keeps the current model. */
    enum Reason {
        /** The evidence has no outcomes of the current model on this task type. */
        NO_EVIDENCE_FOR_CURRENT("no evidence for the current model"),
        /** No model in the evidence is cheaper per call than the current one. */
        NO_CHEAPER_MODEL("no cheaper model in the evidence"),
        /** Cheaper models exist but none has min-samples items paired with the current model. */
        TOO_FEW_SAMPLES("n < min-samples"),
        /** Cheaper models were tested and none is non-inferior by the margin at the confidence level. */
        NOT_NON_INFERIOR("no cheaper model shown non-inferior");

        private final String text;

        Reason(String text) {
            this.text = text;
        }

        /** A short human-readable reason, e.g. {@code n < min-samples}. */
        public String text() {
            return text;
        }
    }
}
