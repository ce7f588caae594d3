package dev.tiergate.ledger;

import java.util.Locale;

/** The few places SQLite and PostgreSQL SQL differ; everything else is shared. */
enum Dialect {
    SQLITE("strftime('%Y-%m-%d', started_at / 1000, 'unixepoch')"),
    POSTGRESQL("to_char(to_timestamp(started_at / 1000) AT TIME ZONE 'UTC', 'YYYY-MM-DD')");

    private final String utcDay;

    Dialect(String utcDay) {
        this.utcDay = utcDay;
    }

    /** Resource folder of this dialect's migrations. */
    String migrationFolder() {
        return name().toLowerCase(Locale.ROOT);
    }

    /** The ledger column or expression to group by. */
    String groupExpression(GroupBy by) {
        return switch (by) {
            case TASK_TYPE -> "task_type";
            case TIER -> "tier";
            case MODEL -> "served_model";
            case KEY -> "key_name";
            case TEAM -> "team";
            case RUN -> "run_id";
            case DAY -> utcDay;
        };
    }
}
