package dev.tiergate.calibration;

import dev.tiergate.RouterException;
import java.util.List;

/**
 * An evidence file is invalid. The message lists problems as {@code FILE:LINE: problem}, at most {@value
 * #MAX_LISTED} of them followed by a count of the rest; {@link #problems()} has them all. Part of the {@link
 * RouterException} family.
 */
public final class EvidenceException extends RouterException {
    private static final long serialVersionUID = 1L;

    /** How many problems the message lists before summarising the rest. */
    public static final int MAX_LISTED = 20;

    @SuppressWarnings("serial") // an immutable List.copyOf; these exceptions are never serialized
    private final List<String> problems;

    EvidenceException(String summary, List<String> problems) {
        super(format(summary, problems));
        this.problems = List.copyOf(problems);
    }

    /** Every problem found, each {@code FILE:LINE: problem}, in file order. */
    public List<String> problems() {
        return problems;
    }

    private static String format(String summary, List<String> problems) {
        StringBuilder sb = new StringBuilder(summary);
        for (int i = 0; i < Math.min(MAX_LISTED, problems.size()); i++) {
            sb.append('\n').append("  ").append(problems.get(i));
        }
        if (problems.size() > MAX_LISTED) {
            sb.append('\n')
                    .append("  ... and ")
                    .append(problems.size() - MAX_LISTED)
                    .append(" more problems");
        }
        return sb.toString();
    }
}
