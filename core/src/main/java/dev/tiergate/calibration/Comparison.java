package dev.tiergate.calibration;

import dev.tiergate.pricing.Money;

/**
 * One model compared with the current model of a task type on the items both answered (paired).
 *
 * @param model the compared model
 * @param pairedItems items answered by both models
 * @param quality the compared model's quality on the paired items
 * @param currentQuality the current model's quality on the same items
 * @param difference mean of {@code score(model) - score(current)} per paired item
 * @param differenceLowerBound one-sided lower confidence bound of the difference at {@code boundConfidence}
 * @param boundConfidence the one-sided level of the bound: the criteria's confidence, Bonferroni-adjusted for the
 *     number of models tested alongside this one
 * @param method how the bound was computed
 * @param costPerCall mean cost of the model per paired item (an estimate when the evidence's costs are)
 * @param currentCostPerCall mean cost of the current model on the same items
 * @param enoughSamples whether {@code pairedItems >= minSamples}
 * @param nonInferior whether enough samples and {@code differenceLowerBound > -epsilon}
 * @param measurablyBetter whether enough samples and {@code differenceLowerBound > epsilon}
 */
public record Comparison(
        String model,
        int pairedItems,
        Estimate quality,
        Estimate currentQuality,
        double difference,
        double differenceLowerBound,
        double boundConfidence,
        IntervalMethod method,
        Money costPerCall,
        Money currentCostPerCall,
        boolean enoughSamples,
        boolean nonInferior,
        boolean measurablyBetter) {

    /** Validates counts and the bound. */
    public Comparison {
        if (pairedItems < 0) {
            throw new IllegalArgumentException("pairedItems must be >= 0: " + pairedItems);
        }
        if (differenceLowerBound > difference + 1e-9) {
            throw new IllegalArgumentException(
                    "lower bound " + differenceLowerBound + " exceeds the estimate " + difference);
        }
    }

    /** How a paired difference's bound was computed. */
    public enum IntervalMethod {
        /** Every paired score is 0 or 1: Tango's score interval for paired proportions. */
        TANGO_SCORE,
        /**
         * Graded scores: the smaller of Hall's skewness-corrected t bound on the per-item differences and Tango's
         * bound on their signs.
         */
        GRADED,
        /** No paired items: the bound is -1. */
        NONE
    }
}
