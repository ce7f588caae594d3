package dev.tiergate.ledger;

import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

/**
 * Ledgers as Tiergate's earlier migration runner left them: the same scripts, recorded one row per script in a
 * {@code schema_version} table instead of Flyway's history. Tests only, to check that such ledgers are adopted.
 */
final class OldRunner {
    /** The scripts the earlier runner knew, oldest first. */
    static final List<String> SCRIPTS = List.of(
            "V1__ledger",
            "V2__shadow_evidence",
            "V3__clustered_budget_tables",
            "V4__budgets_in_the_writers_memory",
            "V5__settled_in_place");

    private OldRunner() {}

    /** Runs the first {@code version} scripts on {@code c} (whose default schema is the ledger's) as it did. */
    static void migrate(Connection c, Dialect dialect, String schema, int version) throws SQLException {
        createTable(c, schema);
        try (Statement s = c.createStatement()) {
            for (int v = 1; v <= version; v++) {
                for (String sql : statements(dialect, SCRIPTS.get(v - 1))) {
                    s.execute(sql);
                }
            }
        }
        record(c, schema, version);
    }

    /**
     * Turns a ledger migrated by Flyway into what the earlier runner would have left at {@code version}: no Flyway
     * history, {@code schema_version} rows 1 to {@code version}. The tables must be those of that version.
     */
    static void pretendOld(Connection c, String schema, int version) throws SQLException {
        try (Statement s = c.createStatement()) {
            s.execute("DROP TABLE " + schema + "." + Migrations.HISTORY);
        }
        createTable(c, schema);
        record(c, schema, version);
    }

    /** Flyway's history, one "version type success" line per row in the order applied. */
    static List<String> history(Connection c, String schema) throws SQLException {
        List<String> rows = new ArrayList<>();
        try (Statement s = c.createStatement();
                ResultSet rs = s.executeQuery("SELECT version, type, success FROM " + schema + "." + Migrations.HISTORY
                        + " ORDER BY installed_rank")) {
            while (rs.next()) {
                rows.add(rs.getString(1) + " " + rs.getString(2) + " " + rs.getBoolean(3));
            }
        }
        return rows;
    }

    /** Whether {@code schema} still has the earlier runner's table. */
    static boolean hasItsTable(Connection c, String schema) {
        try (Statement s = c.createStatement();
                ResultSet rs = s.executeQuery("SELECT COUNT(*) FROM " + schema + ".schema_version")) {
            return rs.next();
        } catch (SQLException e) {
            return false; // no such table (on autocommit, so PostgreSQL's aborted statement ends there)
        }
    }

    private static void createTable(Connection c, String schema) throws SQLException {
        try (Statement s = c.createStatement()) {
            s.execute("CREATE TABLE " + schema + ".schema_version ("
                    + "version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at BIGINT NOT NULL)");
        }
    }

    private static void record(Connection c, String schema, int version) throws SQLException {
        try (PreparedStatement ps = c.prepareStatement(
                "INSERT INTO " + schema + ".schema_version (version, name, applied_at) VALUES (?, ?, ?)")) {
            for (int v = 1; v <= version; v++) {
                ps.setInt(1, v);
                ps.setString(2, SCRIPTS.get(v - 1));
                ps.setLong(3, 1_764_000_000_000L);
                ps.executeUpdate();
            }
        }
    }

    private static List<String> statements(Dialect dialect, String name) {
        String path = "migrations/" + dialect.migrationFolder() + "/" + name + ".sql";
        try (InputStream in = Migrations.class.getResourceAsStream(path)) {
            if (in == null) {
                throw new IllegalStateException(path + " is missing from the classpath");
            }
            String text = new String(in.readAllBytes(), StandardCharsets.UTF_8);
            // as the earlier runner did: the scripts hold no ';' inside literals
            return Arrays.stream(text.replaceAll("(?m)--.*$", "").split(";"))
                    .map(String::strip)
                    .filter(s -> !s.isEmpty())
                    .toList();
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }
}
