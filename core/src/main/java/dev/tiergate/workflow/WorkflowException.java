package dev.tiergate.workflow;

import dev.tiergate.RouterException;
import java.util.List;

/**
 * A {@link WorkflowRun} definition is invalid: duplicate task ids, unknown dependencies, cycles, no tasks. The
 * message lists every problem; {@link #problems()} has them one by one. Part of the {@link RouterException}
 * family.
 */
public final class WorkflowException extends RouterException {
    private static final long serialVersionUID = 1L;

    @SuppressWarnings("serial") // an immutable List.copyOf; these exceptions are never serialized
    private final List<String> problems;

    WorkflowException(String summary, List<String> problems) {
        super(summary + String.join("", problems.stream().map(p -> "\n  " + p).toList()));
        this.problems = List.copyOf(problems);
    }

    /** Every problem found, in task definition order. */
    public List<String> problems() {
        return problems;
    }
}
