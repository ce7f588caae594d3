package dev.tiergate.pricing;

import java.time.LocalDate;
import java.util.Optional;
import org.jspecify.annotations.Nullable;

/**
 * Where a model is in its life. Retired models cannot be routed to; deprecated ones carry their retirement
 * date.
 *
 * @param kind current, legacy, deprecated or retired
 * @param date for deprecated: the retirement date; for retired: when it was retired, if known
 */
public record ModelStatus(Kind kind, @Nullable LocalDate date) {

    /** The life stages the catalog knows. */
    public enum Kind {
        CURRENT,
        LEGACY,
        DEPRECATED,
        RETIRED
    }

    /** The date that goes with the status, if any. */
    public Optional<LocalDate> dateIfKnown() {
        return Optional.ofNullable(date);
    }

    /** Whether the model is retired on {@code day}: retired, or deprecated with a retirement date on or before it. */
    public boolean isRetiredOn(LocalDate day) {
        return switch (kind) {
            case RETIRED -> true;
            case DEPRECATED -> date != null && !day.isBefore(date);
            case CURRENT, LEGACY -> false;
        };
    }

    @Override
    public String toString() {
        String k = kind.name().toLowerCase(java.util.Locale.ROOT);
        if (date == null) {
            return k;
        }
        return k + (kind == Kind.DEPRECATED ? " (retires " : " (since ") + date + ")";
    }
}
