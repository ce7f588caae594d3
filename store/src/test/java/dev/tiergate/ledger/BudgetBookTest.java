package dev.tiergate.ledger;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.tiergate.budget.Admission;
import dev.tiergate.budget.AppliedBudget;
import dev.tiergate.budget.Window;
import dev.tiergate.pricing.Money;
import java.nio.file.Path;
import java.time.Instant;
import java.util.List;
import org.jspecify.annotations.Nullable;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The writer's memory of the budget windows, on a real SQLite file: what it keeps, and what it drops. */
class BudgetBookTest {
    static final Instant T0 = Instant.parse("2026-11-29T10:00:00Z");
    static final Money WORST = Money.parseUsd("0.50");

    @TempDir
    Path dir;

    /** A run's own window, as a per-run budget of 2 USD gives it. */
    static AppliedBudget run(int i) {
        return new AppliedBudget(
                "runs", "run-" + i, Window.TOTAL, Instant.EPOCH, Window.NEVER, Money.parseUsd("2"), true, false);
    }

    /** Admits {@code worst} against {@code window} alone, in a write transaction of its own. */
    static Admission.@Nullable Denied admit(SqliteDatabase db, BudgetBook book, AppliedBudget window, Money worst) {
        return db.write(tx -> book.admit(tx, List.of(window), worst));
    }

    /** Moves {@code worst} from reserved to spent at {@code cost} on {@code window}, in the book alone. */
    static void settle(SqliteDatabase db, BudgetBook book, AppliedBudget window, Money worst, Money cost) {
        db.write(tx -> book.settled(tx, WindowKey.of(window), worst.nanos(), cost.nanos()));
    }

    @Test
    void aSweepDropsTheWindowsWithNothingReservedAndKeepsTheOthers() {
        try (SqliteDatabase db = SqliteDatabase.open(dir.resolve("l.db"))) {
            BudgetBook book = new BudgetBook(4);
            for (int i = 1; i <= 6; i++) {
                assertThat(admit(db, book, run(i), WORST)).isNull();
            }
            // runs 1-5 settle at 0.20 (the file's spent is not touched here: only the book's view of it)
            for (int i = 1; i <= 5; i++) {
                settle(db, book, run(i), WORST, Money.parseUsd("0.20"));
            }
            assertThat(book.size()).isEqualTo(6);

            book.beginTransaction(false);

            assertThat(book.size()).isEqualTo(1);
            // run 6 still holds its reservation: 0.50 reserved + 1.60 is over its 2 USD
            Admission.Denied denied = admit(db, book, run(6), Money.parseUsd("1.60"));
            assertThat(denied).isNotNull();
            assertThat(denied.reserved()).isEqualTo(WORST);
            // a dropped window is read from the file again: its row is there (written on first use), spent 0
            long loads = book.loads();
            Admission.Denied again = admit(db, book, run(1), Money.parseUsd("2.01"));
            assertThat(again).isNotNull();
            assertThat(again.spent()).isEqualTo(Money.ZERO);
            assertThat(book.loads()).isEqualTo(loads + 1);
        }
    }

    @Test
    void windowsThatAllHoldReservationsAreNotSweptAtEveryTransaction() {
        try (SqliteDatabase db = SqliteDatabase.open(dir.resolve("l.db"))) {
            BudgetBook book = new BudgetBook(4);
            for (int i = 1; i <= 5; i++) {
                admit(db, book, run(i), WORST);
            }
            book.beginTransaction(false); // 5 > 4: a sweep, which keeps all five (each is reserved)
            for (int i = 6; i <= 9; i++) {
                admit(db, book, run(i), WORST);
                settle(db, book, run(i), WORST, WORST);
            }

            book.beginTransaction(false);

            // nine windows, four with nothing reserved, but no sweep until twice the five the last one kept
            assertThat(book.size()).isEqualTo(9);
            admit(db, book, run(10), WORST);
            settle(db, book, run(10), WORST, WORST);
            book.beginTransaction(false);
            assertThat(book.size()).isEqualTo(10);
            admit(db, book, run(11), WORST);
            book.beginTransaction(false);
            assertThat(book.size()).isEqualTo(6);
        }
    }

    @Test
    void aWorstCaseThatWouldOverflowTheCheckFailsTheCallInsteadOfPassingIt() {
        try (SqliteDatabase db = SqliteDatabase.open(dir.resolve("l.db"))) {
            BudgetBook book = new BudgetBook(4);
            Money huge = Money.ofNanos(Long.MAX_VALUE / 2 + 1);
            AppliedBudget unlimited = new AppliedBudget(
                    "global",
                    "",
                    Window.TOTAL,
                    Instant.EPOCH,
                    Window.NEVER,
                    Money.ofNanos(Long.MAX_VALUE),
                    true,
                    false);
            assertThat(admit(db, book, unlimited, huge)).isNull();

            // reserved + worst case is past Long.MAX_VALUE: wrapped, it would be negative and pass the check
            assertThatThrownBy(() -> admit(db, book, unlimited, huge)).isInstanceOf(ArithmeticException.class);
        }
    }
}
