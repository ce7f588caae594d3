package dev.tiergate.ledger;

import java.nio.file.Path;
import org.junit.jupiter.api.io.TempDir;

/** The ledger contract on a SQLite file in a temp folder. */
class SqliteLedgerTest extends LedgerContract {
    @TempDir
    Path dir;

    @Override
    Ledger open(String instanceId, TestClock clock) {
        return Ledger.sqlite(dir.resolve("tiergate.db"), instanceId, clock);
    }
}
