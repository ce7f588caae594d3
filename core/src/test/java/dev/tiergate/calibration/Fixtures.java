package dev.tiergate.calibration;

import dev.tiergate.pricing.Money;
import java.util.ArrayList;
import java.util.List;

/** Builds evidence in tests: one outcome per item {@code type/i} with the given scores and cost per call. */
final class Fixtures {
    private Fixtures() {}

    static List<Outcome> outcomes(String type, String model, String usdPerCall, double... scores) {
        List<Outcome> out = new ArrayList<>();
        for (int i = 0; i < scores.length; i++) {
            out.add(new Outcome(type + "/" + i, type, model, scores[i], 100, 10, Money.parseUsd(usdPerCall)));
        }
        return out;
    }

    /** {@code n} scores: {@code ones} ones first, then zeros. */
    static double[] scores(int n, int ones) {
        double[] s = new double[n];
        for (int i = 0; i < ones; i++) {
            s[i] = 1;
        }
        return s;
    }

    /** A copy of {@code base} with the items at {@code flip} indexes set to {@code value}. */
    static double[] with(double[] base, double value, int from, int to) {
        double[] s = base.clone();
        for (int i = from; i < to; i++) {
            s[i] = value;
        }
        return s;
    }

    @SafeVarargs
    static Evidence evidence(List<Outcome>... parts) {
        List<Outcome> all = new ArrayList<>();
        for (List<Outcome> p : parts) {
            all.addAll(p);
        }
        return Evidence.of(all);
    }
}
