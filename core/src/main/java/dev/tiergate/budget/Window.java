package dev.tiergate.budget;

import java.time.Instant;
import java.time.LocalDate;
import java.time.ZoneId;

/** The period a budget's limit covers. Calendar windows start at midnight in the budget's zone. */
public enum Window {
    /** Since the budget was first used; never rolls over. */
    TOTAL("total"),
    /** One calendar day. */
    DAY("daily"),
    /** One calendar month. */
    MONTH("monthly");

    /** The end of the {@link #TOTAL} window: far enough to never arrive, small enough to store as epoch millis. */
    public static final Instant NEVER = Instant.parse("9999-12-31T00:00:00Z");

    private final String adjective;

    Window(String adjective) {
        this.adjective = adjective;
    }

    /** The word used in messages: {@code total}, {@code daily}, {@code monthly}. */
    public String adjective() {
        return adjective;
    }

    /** The config name: {@code total}, {@code day}, {@code month}. */
    public String configName() {
        return name().toLowerCase(java.util.Locale.ROOT);
    }

    /** Start of the window that contains {@code now} in {@code zone}; {@link Instant#EPOCH} for {@link #TOTAL}. */
    public Instant start(Instant now, ZoneId zone) {
        LocalDate today = now.atZone(zone).toLocalDate();
        return switch (this) {
            case TOTAL -> Instant.EPOCH;
            case DAY -> today.atStartOfDay(zone).toInstant();
            case MONTH -> today.withDayOfMonth(1).atStartOfDay(zone).toInstant();
        };
    }

    /** End (exclusive) of the window that contains {@code now}; {@link #NEVER} for {@link #TOTAL}. */
    public Instant end(Instant now, ZoneId zone) {
        LocalDate today = now.atZone(zone).toLocalDate();
        return switch (this) {
            case TOTAL -> NEVER;
            // atStartOfDay, not plusHours(24): a day is 23 or 25 hours across a DST change
            case DAY -> today.plusDays(1).atStartOfDay(zone).toInstant();
            case MONTH ->
                today.withDayOfMonth(1).plusMonths(1).atStartOfDay(zone).toInstant();
        };
    }
}
