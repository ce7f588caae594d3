package dev.tiergate.ledger;

/**
 * Where a PostgreSQL ledger lives.
 *
 * @param jdbcUrl e.g. {@code jdbc:postgresql://db:5432/tiergate}
 * @param user the database user
 * @param password the password; never logged
 * @param schema the schema holding Tiergate's tables (created if missing)
 * @param maxPoolSize connections per gateway instance for reads (admin queries, status); the ledger writer keeps one
 *     more of its own
 */
public record PostgresSettings(String jdbcUrl, String user, String password, String schema, int maxPoolSize) {
    public PostgresSettings {
        if (!jdbcUrl.startsWith("jdbc:postgresql:")) {
            throw new IllegalArgumentException("a PostgreSQL JDBC URL starts with jdbc:postgresql:, got " + jdbcUrl);
        }
        if (!schema.matches("[a-z_][a-z0-9_]*")) {
            throw new IllegalArgumentException("schema must be a lower-case SQL identifier, got '" + schema + "'");
        }
        if (maxPoolSize < 1) {
            throw new IllegalArgumentException("maxPoolSize must be at least 1, got " + maxPoolSize);
        }
    }

    @Override
    public String toString() {
        return "PostgresSettings[" + jdbcUrl + ", user " + user + ", schema " + schema + ", pool " + maxPoolSize + "]";
    }
}
