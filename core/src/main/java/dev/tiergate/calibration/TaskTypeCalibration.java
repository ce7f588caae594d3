package dev.tiergate.calibration;

import dev.tiergate.pricing.Money;
import java.util.List;
import java.util.Optional;

/**
 * Calibration of one task type: the decision, the current model's quality and cost, and every comparison made.
 *
 * @param taskType the task type
 * @param currentModel the model the policy uses today
 * @param decision switch to a cheaper model, or keep the current one (with the reason)
 * @param currentQuality the current model's quality on all its items of this type
 * @param currentCostPerCall the current model's mean cost per call on this type ({@link Money#ZERO} without evidence)
 * @param cheaper comparisons with models cheaper per call than the current one, cheapest first
 * @param others comparisons with models that cost the same or more, cheapest first
 */
public record TaskTypeCalibration(
        String taskType,
        String currentModel,
        Decision decision,
        Estimate currentQuality,
        Money currentCostPerCall,
        List<Comparison> cheaper,
        List<Comparison> others) {

    /** Copies the lists. */
    public TaskTypeCalibration {
        cheaper = List.copyOf(cheaper);
        others = List.copyOf(others);
    }

    /** The model to use: the switch target, or the current model. */
    public String recommendedModel() {
        return switch (decision) {
            case Decision.Switch s -> s.model();
            case Decision.Keep k -> currentModel;
        };
    }

    /** The comparison behind a switch; empty when the decision is to keep. */
    public Optional<Comparison> recommendation() {
        return switch (decision) {
            case Decision.Switch s ->
                cheaper.stream().filter(c -> c.model().equals(s.model())).findFirst();
            case Decision.Keep k -> Optional.empty();
        };
    }

    /** Projected saving per call of following the recommendation (zero when keeping), on the paired items. */
    public Money savingPerCall() {
        return recommendation()
                .map(c -> c.currentCostPerCall().minus(c.costPerCall()))
                .orElse(Money.ZERO);
    }

    /** The saving as a fraction of the current cost per call, in [0, 1]; 0 when keeping or when cost is zero. */
    public double savingFraction() {
        return recommendation()
                .filter(c -> c.currentCostPerCall().nanos() > 0)
                .map(c -> 1
                        - (double) c.costPerCall().nanos()
                                / c.currentCostPerCall().nanos())
                .orElse(0.0);
    }

    /**
     * Models measurably better than the current one (lower bound of the difference above epsilon), cheapest first.
     * Non-empty means the task type looks under-classified: it runs on a model whose quality is measurably below
     * another model's.
     */
    public List<Comparison> measurablyBetter() {
        return others.stream().filter(Comparison::measurablyBetter).toList();
    }

    /** Whether {@link #measurablyBetter()} is non-empty. */
    public boolean underClassified() {
        return !measurablyBetter().isEmpty();
    }
}
