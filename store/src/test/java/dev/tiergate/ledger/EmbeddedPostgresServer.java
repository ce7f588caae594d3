package dev.tiergate.ledger;

import io.zonky.test.db.postgres.embedded.EmbeddedPostgres;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.util.concurrent.atomic.AtomicInteger;

/** One embedded PostgreSQL server per test JVM, started on first use; each test takes a fresh schema. */
final class EmbeddedPostgresServer {
    private static final AtomicInteger SCHEMAS = new AtomicInteger();
    private static volatile EmbeddedPostgres server;

    private EmbeddedPostgresServer() {}

    static synchronized EmbeddedPostgres get() {
        if (server == null) {
            try {
                EmbeddedPostgres started = EmbeddedPostgres.builder().start();
                Runtime.getRuntime().addShutdownHook(new Thread(() -> {
                    try {
                        started.close();
                    } catch (IOException e) {
                        // the JVM is exiting; the temp data dir is removed with it
                    }
                }));
                server = started;
            } catch (IOException e) {
                throw new UncheckedIOException("cannot start embedded PostgreSQL", e);
            }
        }
        return server;
    }

    /** Settings for a schema no other test uses. */
    static PostgresSettings freshSchema(int poolSize) {
        EmbeddedPostgres pg = get();
        return new PostgresSettings(
                pg.getJdbcUrl("postgres", "postgres"), "postgres", "", "t" + SCHEMAS.incrementAndGet(), poolSize);
    }
}
