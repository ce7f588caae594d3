package dev.tiergate.config;

import dev.tiergate.RouterException;
import java.util.List;
import java.util.stream.Collectors;

/** A configuration file is invalid; carries every problem found, in file order. */
public final class ConfigException extends RouterException {
    private static final long serialVersionUID = 1L;

    @SuppressWarnings("serial") // a List.copyOf of records; never serialized in practice
    private final List<ConfigProblem> problems;

    public ConfigException(List<ConfigProblem> problems) {
        super(problems.size() + " problem(s):\n"
                + problems.stream().map(ConfigProblem::format).collect(Collectors.joining("\n")));
        if (problems.isEmpty()) {
            throw new IllegalArgumentException("a ConfigException needs at least one problem");
        }
        this.problems = List.copyOf(problems);
    }

    /** Every problem as {@code FILE:LINE:COL: message}, one per line, for printing. */
    public String lines() {
        return problems.stream().map(ConfigProblem::format).collect(Collectors.joining("\n"));
    }

    /** Every problem found, in the order of the file. */
    public List<ConfigProblem> problems() {
        return problems;
    }
}
