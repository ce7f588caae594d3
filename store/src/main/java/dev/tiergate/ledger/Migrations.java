package dev.tiergate.ledger;

import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.Statement;
import java.util.List;

/**
 * Forward-only, versioned schema migrations: {@code migrations/<dialect>/V<n>__<name>.sql}, applied in order,
 * each in one transaction together with its row in {@code schema_version}.
 *
 * <p>A tiny runner instead of Flyway: two dialects and a handful of scripts do not need a migration framework's
 * dependency tree and startup cost, and this keeps SQLite support in our hands.
 */
final class Migrations {
    /** Every migration, oldest first; never edit one that has shipped, add the next. */
    static final List<String> ALL = List.of(
            "V1__ledger",
            "V2__shadow_evidence",
            "V3__clustered_budget_tables",
            "V4__budgets_in_the_writers_memory",
            "V5__settled_in_place");

    /** Arbitrary, fixed: the advisory lock that serialises migrations across instances ("tiergate" in ASCII). */
    private static final long POSTGRES_LOCK_KEY = 0x7469657267617465L;

    private Migrations() {}

    /** Brings the schema up to date; returns how many migrations were applied. */
    static int apply(Database db) {
        return db.write(tx -> {
            try (Statement s = tx.connection().createStatement()) {
                if (db.dialect() == Dialect.POSTGRESQL) {
                    // instances starting at once: the others wait here (until commit), then find nothing to do;
                    // taken before CREATE TABLE IF NOT EXISTS, which itself races on PostgreSQL
                    s.execute("SELECT pg_advisory_xact_lock(" + POSTGRES_LOCK_KEY + ")");
                }
                s.execute("CREATE TABLE IF NOT EXISTS schema_version ("
                        + "version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at BIGINT NOT NULL)");
            }
            int current;
            try (Statement s = tx.connection().createStatement();
                    ResultSet rs = s.executeQuery("SELECT COALESCE(MAX(version), 0) FROM schema_version")) {
                rs.next();
                current = rs.getInt(1);
            }
            if (current > ALL.size()) {
                throw new LedgerException("the ledger schema is at version " + current
                        + ", newer than this Tiergate knows (" + ALL.size() + "); upgrade Tiergate");
            }
            for (int v = current + 1; v <= ALL.size(); v++) {
                String name = ALL.get(v - 1);
                try (Statement s = tx.connection().createStatement()) {
                    for (String sql : statements(db.dialect(), name)) {
                        s.execute(sql);
                    }
                }
                try (PreparedStatement ps = tx.connection()
                        .prepareStatement("INSERT INTO schema_version (version, name, applied_at) VALUES (?, ?, ?)")) {
                    ps.setInt(1, v);
                    ps.setString(2, name);
                    ps.setLong(3, System.currentTimeMillis());
                    ps.executeUpdate();
                }
            }
            return ALL.size() - current;
        });
    }

    static List<String> statements(Dialect dialect, String name) {
        String path = "migrations/" + dialect.migrationFolder() + "/" + name + ".sql";
        try (InputStream in = Migrations.class.getResourceAsStream(path)) {
            if (in == null) {
                throw new LedgerException("migration " + path + " is missing from the classpath");
            }
            String text = new String(in.readAllBytes(), StandardCharsets.UTF_8);
            // our scripts hold no ';' inside literals, so splitting on it is exact
            return java.util.Arrays.stream(text.replaceAll("(?m)--.*$", "").split(";"))
                    .map(String::strip)
                    .filter(s -> !s.isEmpty())
                    .toList();
        } catch (IOException e) {
            throw new LedgerException("cannot read migration " + path + ": " + e.getMessage(), e);
        }
    }
}
