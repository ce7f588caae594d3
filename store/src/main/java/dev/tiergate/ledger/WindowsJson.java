package dev.tiergate.ledger;

import com.fasterxml.jackson.core.io.JsonStringEncoder;
import dev.tiergate.budget.AppliedBudget;
import java.util.List;

/**
 * The {@code windows} column of a SQLite reservation: a JSON array of {@code [budget, subject, window_start]}, one
 * per budget window the reservation holds: the same JSON value SQLite's {@code json_array} made before (a
 * character may be escaped differently, which no reader sees). Written here, in one string, so that the insert
 * binds one parameter instead of three per window. Read back only through SQLite's JSON functions (the fold, the
 * status view, the book's reload), which sum by the values in it; the fold groups rows by the text first only to
 * read each distinct list once.
 */
final class WindowsJson {
    private WindowsJson() {}

    static String of(List<AppliedBudget> windows) {
        StringBuilder json = new StringBuilder(32 * windows.size() + 2).append('[');
        for (AppliedBudget b : windows) {
            if (json.length() > 1) {
                json.append(',');
            }
            json.append("[\"");
            // quotes, backslashes and control characters escaped; everything else as is (the column is UTF-8 text)
            JsonStringEncoder.getInstance().quoteAsString(b.budget(), json);
            json.append("\",\"");
            JsonStringEncoder.getInstance().quoteAsString(b.subject(), json);
            json.append("\",").append(b.windowStart().toEpochMilli()).append(']');
        }
        return json.append(']').toString();
    }
}
