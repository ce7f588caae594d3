package dev.tiergate.ledger;

import com.fasterxml.jackson.core.io.JsonStringEncoder;
import dev.tiergate.budget.AppliedBudget;
import java.util.List;

/**
 * The {@code windows} column of a SQLite reservation: a JSON array of {@code [budget, subject, window_start]}, one
 * per budget window the reservation holds, as SQLite's {@code json_array} would write it. Written here, in one
 * string, so that the insert binds one parameter instead of three per window; read back only by SQLite's JSON
 * functions (the fold, the status view, the book's reload).
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
