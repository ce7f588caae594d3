package dev.tiergate.config;

/**
 * One thing wrong with a configuration file, at a position.
 *
 * @param source the file name as the user gave it (or a label such as {@code <bundled models.yaml>})
 * @param line 1-based line, or 0 when unknown
 * @param column 1-based column, or 0 when unknown
 * @param message what is wrong, naming the subject and the offending value
 */
public record ConfigProblem(String source, int line, int column, String message) implements Comparable<ConfigProblem> {

    /** {@code FILE:LINE:COL: message}, the format editors and CI annotate. */
    public String format() {
        return source + ":" + line + ":" + column + ": " + message;
    }

    @Override
    public int compareTo(ConfigProblem o) {
        int c = Integer.compare(line, o.line);
        return c != 0 ? c : Integer.compare(column, o.column);
    }

    @Override
    public String toString() {
        return format();
    }
}
