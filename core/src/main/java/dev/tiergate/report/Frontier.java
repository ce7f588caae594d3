package dev.tiergate.report;

import dev.tiergate.policy.Policy;
import dev.tiergate.policy.Tier;
import dev.tiergate.pricing.ModelCatalog;
import dev.tiergate.pricing.ModelSpec;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Optional;
import java.util.TreeSet;

/**
 * The model a report calls "frontier": the most expensive by output price (base price card; ties broken by input
 * price, then by the order candidates were found).
 *
 * @param model the catalog id of the frontier model
 * @param basis where the candidates came from
 * @param description the rule in words, for the report's reader
 */
public record Frontier(String model, Basis basis, String description) {

    /** Where the frontier candidates came from. */
    public enum Basis {
        /** The models of a policy's tiers (not their fallbacks). */
        POLICY,
        /** The models that served calls in the ledger, as no policy was given. */
        LEDGER
    }

    /**
     * The most expensive model by output price among {@code policy}'s tier models.
     *
     * @throws dev.tiergate.pricing.PricingException if a tier model is not in {@code catalog}
     */
    public static Frontier ofPolicy(Policy policy, ModelCatalog catalog) {
        List<ModelSpec> candidates = new ArrayList<>();
        for (Tier tier : policy.tiers().values()) {
            candidates.add(catalog.require(tier.model()));
        }
        ModelSpec top = mostExpensive(candidates)
                .orElseThrow(() -> new ReportException("policy " + policy.source() + " has no tiers"));
        return new Frontier(
                top.id(),
                Basis.POLICY,
                "most expensive model by output price among the tier models of policy " + policy.source());
    }

    /**
     * The most expensive model by output price among the models that served {@code calls}. Models the catalog does
     * not know are skipped.
     *
     * @throws ReportException if no served model is in the catalog (including when {@code calls} is empty)
     */
    public static Frontier ofCalls(List<CallFacts> calls, ModelCatalog catalog) {
        List<ModelSpec> candidates = new ArrayList<>();
        TreeSet<String> unknown = new TreeSet<>();
        for (CallFacts c : calls) {
            Optional<ModelSpec> spec = catalog.find(c.model());
            if (spec.isPresent()) {
                candidates.add(spec.get());
            } else if (!c.model().isEmpty()) {
                unknown.add(c.model());
            }
        }
        ModelSpec top = mostExpensive(candidates)
                .orElseThrow(() -> new ReportException("cannot pick a frontier model: none of the " + calls.size()
                        + " calls was served by a model in the catalog (unknown: " + unknown
                        + "); give the policy, or add the models to the catalog"));
        return new Frontier(
                top.id(),
                Basis.LEDGER,
                "most expensive model by output price among the models seen in the ledger (no policy given)");
    }

    private static Optional<ModelSpec> mostExpensive(List<ModelSpec> candidates) {
        // On a tie reduce keeps the earlier candidate: the first tier in file order, or the first call.
        Comparator<ModelSpec> byPrice = Comparator.<ModelSpec>comparingLong(
                        m -> m.prices().outputPerMTok())
                .thenComparingLong(m -> m.prices().inputPerMTok());
        return candidates.stream().reduce((a, b) -> byPrice.compare(b, a) > 0 ? b : a);
    }
}
