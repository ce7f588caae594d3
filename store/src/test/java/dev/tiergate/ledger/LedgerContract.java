package dev.tiergate.ledger;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.tiergate.budget.Admission;
import dev.tiergate.budget.AppliedBudget;
import dev.tiergate.budget.BudgetLoader;
import dev.tiergate.budget.BudgetRules;
import dev.tiergate.budget.BudgetStatus;
import dev.tiergate.budget.CallAttributes;
import dev.tiergate.budget.ReservationId;
import dev.tiergate.pricing.Money;
import dev.tiergate.pricing.Usage;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import java.util.SplittableRandom;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.Phaser;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * The behaviour every {@link Ledger} must have, run against a real database by each dialect's subclass. Each test
 * gets an empty database; {@link #open} may be called more than once to get several instances sharing it.
 */
abstract class LedgerContract {
    static final Instant T0 = Instant.parse("2026-11-29T10:00:00Z");
    static final Duration LEASE = Duration.ofSeconds(30);

    static final BudgetRules RULES = BudgetLoader.parse("budgets.yaml", """
            budgets:
              - { name: team-a, scope: team, team: a, window: day, limit_usd: 4.50 }
              - { name: global, scope: global, window: month, limit_usd: 100 }
              - { name: tight, scope: key, key: tight-key, window: total, limit_usd: 0.10 }
              - { name: soft-x, scope: task_type, task_type: x, window: day, limit_usd: 1, mode: soft }
              - { name: runs, scope: run, per_run: true, window: total, limit_usd: 2 }
            """);

    final TestClock clock = new TestClock(T0);
    final List<Ledger> opened = new ArrayList<>();
    Ledger ledger;
    private int requests;

    /** A new ledger instance on this test's database. */
    abstract Ledger open(String instanceId, TestClock clock);

    /** A plain JDBC connection to this test's database, auto-commit, outside any ledger. */
    abstract java.sql.Connection connect() throws java.sql.SQLException;

    /** The schema holding this test's tables ({@code main} on SQLite). */
    abstract String schema();

    @BeforeEach
    void openFirstInstance() {
        ledger = track(open("gw-1", clock));
    }

    @AfterEach
    void closeAll() {
        opened.forEach(Ledger::close);
    }

    Ledger track(Ledger l) {
        opened.add(l);
        return l;
    }

    static Money usd(String amount) {
        return Money.parseUsd(amount);
    }

    Call call(CallAttributes a) {
        return call(a, "small", "claude-haiku-4-5-20251001");
    }

    Call call(CallAttributes a, String tier, String routedModel) {
        return new Call(
                "req-" + (++requests),
                clock.instant(),
                a.keyName(),
                a.team(),
                a.taskType(),
                tier,
                "task:" + a.taskType(),
                routedModel,
                a.runId(),
                "agent-1",
                300);
    }

    static Outcome ok(Money cost) {
        return Outcome.ok("claude-haiku-4-5-20251001", Usage.of(1000, 200), cost, 420, 80, "end_turn");
    }

    Admission reserve(Ledger l, CallAttributes a, Money worstCase) {
        return l.reserve(
                call(a),
                RULES.applicable(a, clock.instant()),
                worstCase,
                clock.instant().plus(LEASE));
    }

    static ReservationId admitted(Admission a) {
        assertThat(a).isInstanceOf(Admission.Admitted.class);
        return ((Admission.Admitted) a).reservation();
    }

    BudgetStatus status(String budget, CallAttributes a) {
        AppliedBudget b = RULES.applicable(a, clock.instant()).stream()
                .filter(x -> x.budget().equals(budget))
                .findFirst()
                .orElseThrow();
        return ledger.status(List.of(b)).get(0);
    }

    static final CallAttributes TEAM_A = CallAttributes.of("k1", "a", "extraction", "");

    /** A call of team {@code a} with a different value in every column, to catch columns swapped in a statement. */
    static final CallAttributes EVERY_COLUMN = CallAttributes.of("key-k", "a", "task-t", "run-r");

    /** {@link #EVERY_COLUMN}'s call, now, routed to the frontier tier with its own agent and output cap. */
    Call everyColumn(String requestId) {
        return new Call(
                requestId,
                clock.instant(),
                "key-k",
                "a",
                "task-t",
                "frontier",
                "task:task-t",
                "claude-opus-4-6",
                "run-r",
                "agent-g",
                4096);
    }

    /** Reserves {@code worstCase} for {@code call} under {@link #EVERY_COLUMN}'s budgets, now, with the usual lease. */
    ReservationId reserveUnderEveryColumnBudget(Call call, Money worstCase) {
        return admitted(ledger.reserve(
                call,
                RULES.applicable(EVERY_COLUMN, clock.instant()),
                worstCase,
                clock.instant().plus(LEASE)));
    }

    @Test
    void reservationIdsGrowWithTheClockSoThatNewRowsLandOnTheLastPage() {
        ReservationId first = admitted(reserve(ledger, TEAM_A, usd("0.01")));
        clock.advance(Duration.ofMillis(1));
        ReservationId second = admitted(reserve(ledger, TEAM_A, usd("0.01")));
        clock.advance(Duration.ofSeconds(1));
        ReservationId third = admitted(reserve(ledger, TEAM_A, usd("0.01")));

        assertThat(List.of(first, second, third))
                .extracting(ReservationId::value)
                .allSatisfy(id -> assertThat(id).matches("rsv_[0-9a-f]{24}"))
                .isSorted();
    }

    @Test
    void reserveHoldsTheWorstCaseAndSettleReplacesItWithTheExactCost() {
        ReservationId r = admitted(reserve(ledger, TEAM_A, usd("0.35")));
        assertThat(status("team-a", TEAM_A).reserved()).isEqualTo(usd("0.35"));
        assertThat(status("global", TEAM_A).reserved()).isEqualTo(usd("0.35"));

        Settlement s = ledger.settle(r, ok(usd("0.012345678")));

        assertThat(s).isEqualTo(new Settlement.Settled(List.of()));
        for (String b : List.of("team-a", "global")) {
            BudgetStatus st = status(b, TEAM_A);
            assertThat(st.reserved()).isEqualTo(Money.ZERO);
            assertThat(st.spent()).isEqualTo(usd("0.012345678"));
        }
        assertThat(status("team-a", TEAM_A).remaining()).isEqualTo(usd("4.487654322"));
        LedgerRow row = ledger.calls(CallQuery.latest(10)).rows().get(0);
        assertThat(row.call().team()).isEqualTo("a");
        assertThat(row.outcome().status()).isEqualTo(CallStatus.OK);
        assertThat(row.outcome().cost()).isEqualTo(usd("0.012345678"));
        assertThat(row.outcome().usage()).isEqualTo(Usage.of(1000, 200));
        assertThat(row.outcome().latencyMs()).isEqualTo(420);
        assertThat(row.reservationId()).isEqualTo(r.value());
    }

    @Test
    void releaseFreesTheReservationAndRecordsACallThatCostNothing() {
        ReservationId r = admitted(reserve(ledger, TEAM_A, usd("1")));
        ledger.release(
                r,
                new Outcome(
                        CallStatus.UPSTREAM_ERROR,
                        "claude-haiku-4-5-20251001",
                        Usage.ZERO,
                        Money.ZERO,
                        3,
                        -1,
                        "",
                        "connection_refused"));
        assertThat(status("team-a", TEAM_A).reserved()).isEqualTo(Money.ZERO);
        assertThat(status("team-a", TEAM_A).spent()).isEqualTo(Money.ZERO);
        LedgerRow row = ledger.calls(CallQuery.latest(1)).rows().get(0);
        assertThat(row.outcome().status()).isEqualTo(CallStatus.UPSTREAM_ERROR);
        assertThat(row.outcome().timeToFirstTokenMs()).isEqualTo(-1);
        assertThatThrownBy(() -> ledger.release(admitted(reserve(ledger, TEAM_A, usd("1"))), ok(usd("0.1"))))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("settle");
    }

    @Test
    void deniesWhenTheDailyBudgetWouldBeExceededAndSaysWhy() {
        ledger.settle(admitted(reserve(ledger, TEAM_A, usd("4.2"))), ok(usd("4.2")));
        ReservationId open = admitted(reserve(ledger, TEAM_A, usd("0.1")));

        Admission a = reserve(ledger, TEAM_A, usd("0.35"));

        assertThat(a).isInstanceOf(Admission.Denied.class);
        assertThat(((Admission.Denied) a).message())
                .isEqualTo("budget 'team-a' daily limit 4.500000000 USD: spent 4.200000000 + reserved 0.100000000"
                        + " + this call's estimate 0.350000000 would exceed it");
        // nothing reserved anywhere, the other budget included
        assertThat(status("global", TEAM_A).reserved()).isEqualTo(usd("0.1"));
        LedgerRow denied = ledger.calls(CallQuery.latest(1)).rows().get(0);
        assertThat(denied.outcome().status()).isEqualTo(CallStatus.DENIED);
        assertThat(denied.outcome().cost()).isEqualTo(Money.ZERO);
        assertThat(denied.outcome().errorType()).isEqualTo("budget_exhausted");
        // exactly at the limit is allowed
        ledger.release(open, ok(Money.ZERO));
        assertThat(reserve(ledger, TEAM_A, usd("0.3"))).isInstanceOf(Admission.Admitted.class);
    }

    @Test
    void reservesAgainstEveryBudgetOrNone() {
        CallAttributes both = CallAttributes.of("tight-key", "a", "y", "");
        ReservationId first = admitted(reserve(ledger, both, usd("0.08")));

        Admission second = reserve(ledger, both, usd("0.05"));

        assertThat(second).isInstanceOf(Admission.Denied.class);
        assertThat(((Admission.Denied) second).budget().budget()).isEqualTo("tight");
        // team-a had room, but took no part of the denied call
        assertThat(status("team-a", both).reserved()).isEqualTo(usd("0.08"));
        assertThat(status("global", both).reserved()).isEqualTo(usd("0.08"));
        ledger.settle(first, ok(usd("0.01")));
        assertThat(reserve(ledger, both, usd("0.05"))).isInstanceOf(Admission.Admitted.class);
    }

    List<AppliedBudget> windows(CallAttributes a) {
        return RULES.applicable(a, clock.instant());
    }

    @Test
    void enlargingAReservationHoldsMoreOnEveryWindowUntilItsSettlementReleasesAllOfIt() {
        ReservationId r = admitted(reserve(ledger, TEAM_A, usd("0.35")));

        Admission a = ledger.enlarge(r, windows(TEAM_A), usd("0.2"), "attempt 1 sent, never answered");

        assertThat(a).isEqualTo(new Admission.Admitted(r));
        assertThat(status("team-a", TEAM_A).reserved()).isEqualTo(usd("0.55"));
        assertThat(status("global", TEAM_A).reserved()).isEqualTo(usd("0.55"));
        assertThat(ledger.events(T0)).singleElement().satisfies(e -> {
            assertThat(e.kind()).isEqualTo(LedgerEvent.Kind.RESERVATION_ENLARGED);
            assertThat(e.requestId()).isEqualTo("req-1");
            assertThat(e.amount()).isEqualTo(usd("0.2"));
            assertThat(e.detail())
                    .isEqualTo("attempt 1 sent, never answered; reservation " + r.value()
                            + " of request req-1 now holds 0.550000000 USD");
        });

        // a cost above the first worst case but within the enlarged one raises no event
        Settlement s = ledger.settle(r, ok(usd("0.5")));

        assertThat(s).isEqualTo(new Settlement.Settled(List.of()));
        for (String b : List.of("team-a", "global")) {
            assertThat(status(b, TEAM_A).reserved()).isEqualTo(Money.ZERO);
            assertThat(status(b, TEAM_A).spent()).isEqualTo(usd("0.5"));
        }
        assertThatThrownBy(() -> ledger.enlarge(r, windows(TEAM_A), usd("0.1"), "late"))
                .isInstanceOf(LedgerException.class)
                .hasMessageContaining("is not open");
    }

    @Test
    void anEnlargementAHardBudgetCannotTakeIsDeniedAndChangesNothing() {
        ledger.settle(admitted(reserve(ledger, TEAM_A, usd("4"))), ok(usd("4")));
        ReservationId r = admitted(reserve(ledger, TEAM_A, usd("0.3")));
        int rows = ledger.calls(CallQuery.latest(100)).rows().size();

        Admission a = ledger.enlarge(r, windows(TEAM_A), usd("0.25"), "attempt 1 sent, never answered");

        assertThat(a).isInstanceOf(Admission.Denied.class);
        assertThat(((Admission.Denied) a).message())
                .isEqualTo("budget 'team-a' daily limit 4.500000000 USD: spent 4.000000000 + reserved 0.300000000"
                        + " + this call's estimate 0.250000000 would exceed it");
        assertThat(status("team-a", TEAM_A).reserved()).isEqualTo(usd("0.3"));
        assertThat(status("global", TEAM_A).reserved()).isEqualTo(usd("0.3"));
        assertThat(ledger.calls(CallQuery.latest(100)).rows()).hasSize(rows);
        assertThat(ledger.events(T0)).isEmpty();
        // exactly to the limit is allowed
        assertThat(ledger.enlarge(r, windows(TEAM_A), usd("0.2"), "attempt 1")).isEqualTo(new Admission.Admitted(r));
        assertThat(status("team-a", TEAM_A).reserved()).isEqualTo(usd("0.5"));
    }

    @Test
    void recoveryChargesAnEnlargedReservationAtAllItHolds() {
        ReservationId r = admitted(reserve(ledger, TEAM_A, usd("0.1")));
        ledger.enlarge(r, windows(TEAM_A), usd("0.05"), "attempt 1 sent, never answered");
        clock.advance(LEASE.plusSeconds(1));

        Recovery recovery = track(open("gw-2", clock)).recoverExpired(clock.instant());

        assertThat(recovery.charged()).isEqualTo(usd("0.15"));
        assertThat(status("team-a", TEAM_A).spent()).isEqualTo(usd("0.15"));
        assertThat(status("team-a", TEAM_A).reserved()).isEqualTo(Money.ZERO);
        assertThat(ledger.calls(CallQuery.latest(1)).rows().get(0).outcome().cost())
                .isEqualTo(usd("0.15"));
    }

    @Test
    void anEnlargementMustNameTheWindowsItsReservationHolds() {
        ReservationId r = admitted(reserve(ledger, TEAM_A, usd("0.1")));
        CallAttributes other = CallAttributes.of("tight-key", "a", "y", "");

        assertThatThrownBy(() -> ledger.enlarge(r, windows(other), usd("0.01"), "attempt 1"))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("not the ones given");
        assertThatThrownBy(() -> ledger.enlarge(r, windows(TEAM_A), Money.ZERO, "attempt 1"))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("positive");
        assertThat(status("team-a", TEAM_A).reserved()).isEqualTo(usd("0.1"));
    }

    @Test
    void dailyAndMonthlyWindowsRollOver() {
        clock.set(Instant.parse("2026-11-30T23:00:00Z"));
        ledger.settle(admitted(reserve(ledger, TEAM_A, usd("4.5"))), ok(usd("4.5")));
        assertThat(reserve(ledger, TEAM_A, usd("0.01"))).isInstanceOf(Admission.Denied.class);

        clock.set(Instant.parse("2026-12-01T00:00:00Z"));
        assertThat(status("team-a", TEAM_A).spent()).isEqualTo(Money.ZERO);
        assertThat(status("global", TEAM_A).spent()).isEqualTo(Money.ZERO);
        ReservationId r = admitted(reserve(ledger, TEAM_A, usd("4.5")));
        ledger.settle(r, ok(usd("1")));

        clock.set(Instant.parse("2026-11-30T12:00:00Z"));
        assertThat(status("team-a", TEAM_A).spent()).isEqualTo(usd("4.5"));
        assertThat(status("global", TEAM_A).spent()).isEqualTo(usd("4.5"));
        assertThat(ledger.budgetStatus(Instant.parse("2026-12-01T01:00:00Z")))
                .extracting(s -> s.budget().budget() + "@" + s.budget().windowStart() + "="
                        + s.spent().toUsdString())
                .containsExactly("global@2026-12-01T00:00:00Z=1.000000000", "team-a@2026-12-01T00:00:00Z=1.000000000");
    }

    @Test
    void recoveryChargesAnExpiredLeaseAtItsWorstCaseAndRecordsItInterrupted() {
        ReservationId crashed = admitted(reserve(ledger, TEAM_A, usd("0.4")));
        ReservationId alive = admitted(reserve(ledger, TEAM_A, usd("0.2")));
        clock.advance(Duration.ofSeconds(20));
        assertThat(ledger.renew(List.of(alive), clock.instant().plus(LEASE))).isEqualTo(1);
        clock.advance(Duration.ofSeconds(15));

        // another instance recovers what the first one left behind
        Ledger other = track(open("gw-2", clock));
        assertThat(other.renew(List.of(alive), clock.instant().plus(LEASE)))
                .as("leases are renewed by their owner only")
                .isZero();
        Recovery recovery = other.recoverExpired(clock.instant());

        assertThat(recovery.requestIds()).containsExactly("req-1");
        assertThat(recovery.charged()).isEqualTo(usd("0.4"));
        assertThat(status("team-a", TEAM_A).spent()).isEqualTo(usd("0.4"));
        assertThat(status("team-a", TEAM_A).reserved()).isEqualTo(usd("0.2"));
        LedgerRow row = ledger.calls(CallQuery.latest(1)).rows().get(0);
        assertThat(row.call().requestId()).isEqualTo("req-1");
        assertThat(row.outcome().status()).isEqualTo(CallStatus.INTERRUPTED);
        assertThat(row.outcome().cost()).isEqualTo(usd("0.4"));
        assertThat(other.recoverExpired(clock.instant()).requestIds()).isEmpty();

        // the crashed instance comes back and settles: the worst case stays charged, the exact cost is kept
        Settlement late = ledger.settle(crashed, ok(usd("0.05")));
        assertThat(late).isInstanceOf(Settlement.AlreadyRecovered.class);
        assertThat(status("team-a", TEAM_A).spent()).isEqualTo(usd("0.4"));
        assertThat(ledger.events(T0)).singleElement().satisfies(e -> {
            assertThat(e.kind()).isEqualTo(LedgerEvent.Kind.SETTLED_AFTER_RECOVERY);
            assertThat(e.requestId()).isEqualTo("req-1");
            assertThat(e.amount()).isEqualTo(usd("0.05"));
        });
        ledger.settle(alive, ok(usd("0.1")));
        assertThatThrownBy(() -> ledger.settle(alive, ok(usd("0.1"))))
                .isInstanceOf(LedgerException.class)
                .hasMessageContaining("already settled as ok");
    }

    @Test
    void anInterruptedCallIsReadBackWithEveryColumnOfItsCallAndItsWorstCase() {
        // Recovery writes the row by statements of its own (SQLite: in the reservation's row, then the fold;
        // PostgreSQL: from the deleted reservation), so the call's columns are checked there too.
        Call call = everyColumn("req-crashed");
        ReservationId r = reserveUnderEveryColumnBudget(call, usd("0.123456789"));
        clock.advance(LEASE.plusSeconds(1));
        Instant recoveredAt = clock.instant();
        assertThat(track(open("gw-2", clock)).recoverExpired(recoveredAt).requestIds())
                .containsExactly("req-crashed");

        LedgerRow expected = new LedgerRow(
                0,
                call,
                new Outcome(
                        CallStatus.INTERRUPTED,
                        "claude-opus-4-6",
                        Usage.ZERO,
                        usd("0.123456789"),
                        -1,
                        -1,
                        "",
                        "lease_expired"),
                recoveredAt,
                r.value());
        assertThat(ledger.call("req-crashed"))
                .hasValueSatisfying(row -> assertThat(row)
                        .usingRecursiveComparison()
                        .ignoringFields("seq")
                        .isEqualTo(expected));
        assertThat(ledger.spend(GroupBy.RUN, T0))
                .containsExactly(new SpendGroup("run-r", 1, usd("0.123456789"), 0, 0, 0, 0, 0));
    }

    @Test
    void aSoftBudgetNeverDeniesAndRecordsWhenItIsCrossed() {
        CallAttributes x = CallAttributes.of("k1", "", "x", "");
        ledger.settle(admitted(reserve(ledger, x, usd("0.9"))), ok(usd("0.9")));
        ReservationId r = admitted(reserve(ledger, x, usd("5")));

        Settlement s = ledger.settle(r, ok(usd("0.2")));

        assertThat(((Settlement.Settled) s).events()).singleElement().satisfies(e -> {
            assertThat(e.kind()).isEqualTo(LedgerEvent.Kind.SOFT_LIMIT_CROSSED);
            assertThat(e.budget()).isEqualTo("soft-x");
            assertThat(e.amount()).isEqualTo(usd("1.1"));
        });
        assertThat(ledger.events(T0)).hasSize(1);
        assertThat(RULES.demotion(dev.tiergate.policy.Priority.LOW, List.of(status("soft-x", x))))
                .isEmpty(); // soft-x demotes nothing; the core test covers demotion
        ledger.settle(admitted(reserve(ledger, x, usd("1"))), ok(usd("0.2")));
        assertThat(ledger.events(T0)).as("alerts once per crossing").hasSize(1);
    }

    @Test
    void aCostAboveItsReservationIsChargedAndFlagged() {
        Settlement s = ledger.settle(admitted(reserve(ledger, TEAM_A, usd("0.1"))), ok(usd("0.15")));
        assertThat(((Settlement.Settled) s).events())
                .singleElement()
                .satisfies(e -> assertThat(e.amount()).isEqualTo(usd("0.05")));
        assertThat(status("team-a", TEAM_A).spent()).isEqualTo(usd("0.15"));
    }

    @Test
    void aRunCapRequestedByTheFirstCallSticks() {
        CallAttributes first = CallAttributes.of("k1", "", "y", "run-7").withRequestedRunBudget(usd("0.5"));
        CallAttributes later = CallAttributes.of("k1", "", "y", "run-7");
        ledger.settle(admitted(reserve(ledger, first, usd("0.3"))), ok(usd("0.3")));

        Admission a = reserve(ledger, later, usd("0.3"));

        assertThat(a).isInstanceOf(Admission.Denied.class);
        assertThat(((Admission.Denied) a).limit()).isEqualTo(usd("0.5"));
        assertThat(((Admission.Denied) a).message()).startsWith("budget 'runs' for run 'run-7' total limit 0.5");
        assertThat(reserve(ledger, later.withRequestedRunBudget(usd("5")), usd("0.3")))
                .as("a higher cap sent later is ignored")
                .isInstanceOf(Admission.Denied.class);
        // a run first seen without a cap follows the config until a call asks for a lower one, which then covers
        // what the run spent before it
        CallAttributes other = CallAttributes.of("k1", "", "y", "run-8");
        ledger.settle(admitted(reserve(ledger, other, usd("0.3"))), ok(usd("0.3")));
        Admission late = reserve(ledger, other.withRequestedRunBudget(usd("0.4")), usd("0.2"));
        assertThat(late).isInstanceOf(Admission.Denied.class);
        assertThat(((Admission.Denied) late).limit()).isEqualTo(usd("0.4"));
        assertThat(((Admission.Denied) late).spent()).isEqualTo(usd("0.3"));
    }

    /** Budgets with none for runs: a run's cap comes from its calls' header only ({@code run-requested}). */
    static final BudgetRules NO_RUN_BUDGETS = BudgetLoader.parse("budgets.yaml", """
            budgets:
              - { name: global, scope: global, window: month, limit_usd: 100 }
            """);

    Admission reserveWithoutRunBudgets(CallAttributes a, Money worstCase) {
        return ledger.reserve(
                call(a),
                NO_RUN_BUDGETS.applicable(a, clock.instant()),
                worstCase,
                clock.instant().plus(LEASE));
    }

    @Test
    void aRequestedRunCapCoversTheRunsCallsBeforeItAndAfterItWithoutTheHeader() {
        CallAttributes plain = CallAttributes.of("k1", "", "y", "run-9");
        CallAttributes capped = plain.withRequestedRunBudget(usd("0.5"));
        ledger.settle(admitted(reserveWithoutRunBudgets(plain, usd("0.3"))), ok(usd("0.3")));
        assertThat(ledger.budgetStatus(clock.instant()))
                .as("a run without a cap has no budget to list")
                .extracting(st -> st.budget().budget())
                .containsExactly("global");

        Admission late = reserveWithoutRunBudgets(capped, usd("0.3"));

        assertThat(late).isInstanceOf(Admission.Denied.class);
        assertThat(((Admission.Denied) late).message())
                .startsWith("budget 'run-requested' for run 'run-9' total limit 0.5")
                .contains("spent 0.300000000");
        ReservationId inFlight = admitted(reserveWithoutRunBudgets(capped, usd("0.15")));
        Admission withoutHeader = reserveWithoutRunBudgets(plain, usd("0.1"));
        assertThat(withoutHeader)
                .as("a call that does not repeat the header counts against the cap")
                .isInstanceOf(Admission.Denied.class);
        assertThat(((Admission.Denied) withoutHeader).reserved()).isEqualTo(usd("0.15"));
        ledger.settle(inFlight, ok(usd("0.1")));
        assertThat(reserveWithoutRunBudgets(plain.withRequestedRunBudget(usd("5")), usd("0.15")))
                .as("a higher cap sent later is ignored")
                .isInstanceOf(Admission.Denied.class);
        Admission lower = reserveWithoutRunBudgets(plain.withRequestedRunBudget(usd("0.45")), usd("0.06"));
        assertThat(lower).as("a lower cap sent later tightens it").isInstanceOf(Admission.Denied.class);
        assertThat(((Admission.Denied) lower).limit()).isEqualTo(usd("0.45"));
        assertThat(ledger.budgetStatus(clock.instant()))
                .filteredOn(st -> st.budget().budget().equals("run-requested"))
                .singleElement()
                .satisfies(st -> {
                    assertThat(st.budget().subject()).isEqualTo("run-9");
                    assertThat(st.limit()).isEqualTo(usd("0.45"));
                    assertThat(st.spent()).isEqualTo(usd("0.4"));
                    assertThat(st.reserved()).isEqualTo(Money.ZERO);
                });
    }

    @Test
    void runIdsWithQuotesBracketsBackslashesAndControlCharactersAreChargedToTheirOwnWindow() {
        // a run id comes from a request header (x-tiergate-run) and becomes part of a budget window's key (and, on
        // SQLite, of the JSON that lists a reservation's windows)
        List<String> runs = List.of("run \"7\"", "run [8], \\9", "run-\u00e9-{}", "run\t\n\u0001/\uD83D\uDE00");
        for (String run : runs) {
            CallAttributes a = CallAttributes.of("k1", "", "y", run);
            ledger.settle(admitted(reserve(ledger, a, usd("0.3"))), ok(usd("0.1")));
            // the interrupted path charges the same windows at the worst case
            admitted(reserve(ledger, a, usd("0.2")));
        }
        // while those reservations are open, the listing of every window shows each on its own run's window
        assertThat(ledger.budgetStatus(clock.instant()))
                .filteredOn(st -> st.budget().budget().equals("runs"))
                .extracting(st -> st.budget().subject() + "=" + st.reserved().toUsdString())
                .containsExactlyInAnyOrder(
                        "run \"7\"=0.200000000",
                        "run [8], \\9=0.200000000",
                        "run-\u00e9-{}=0.200000000",
                        "run\t\n\u0001/\uD83D\uDE00=0.200000000");
        assertThat(ledger.budgetStatus(clock.instant()))
                .filteredOn(st -> st.budget().budget().equals("global"))
                .extracting(st -> st.reserved().toUsdString())
                .containsExactly("0.800000000");
        clock.advance(LEASE.multipliedBy(2));
        assertThat(ledger.recoverExpired(clock.instant()).requestIds()).hasSize(runs.size());
        for (String run : runs) {
            BudgetStatus st = status("runs", CallAttributes.of("k1", "", "y", run));
            assertThat(st.spent()).as(run).isEqualTo(usd("0.3"));
            assertThat(st.reserved()).as(run).isEqualTo(Money.ZERO);
        }
        assertThat(status("global", CallAttributes.of("k1", "", "y", "")).spent())
                .isEqualTo(usd("1.2"));
    }

    @Test
    void groupsSpendAndPagesCallsWithFilters() {
        CallAttributes b = CallAttributes.of("k2", "b", "summary", "run-1");
        ledger.settle(admitted(reserve(ledger, TEAM_A, usd("1"))), ok(usd("0.5")));
        ledger.settle(admitted(reserve(ledger, TEAM_A, usd("1"))), ok(usd("0.25")));
        clock.advance(Duration.ofDays(1));
        for (int i = 0; i < 3; i++) {
            // routed to the frontier tier's model, answered by its fallback
            Call frontier = call(b, "frontier", "claude-opus-4-6");
            ledger.settle(
                    admitted(ledger.reserve(
                            frontier,
                            RULES.applicable(b, clock.instant()),
                            usd("0.1"),
                            clock.instant().plus(LEASE))),
                    Outcome.ok("claude-opus-4-5", Usage.of(10, 300), usd("0.1"), 5, 1, "max_tokens"));
        }

        assertThat(ledger.spend(GroupBy.TEAM, T0))
                .extracting(g -> g.group() + " " + g.calls() + " " + g.cost().toUsdString() + " " + g.cappedCalls())
                .containsExactly("a 2 0.750000000 0", "b 3 0.300000000 3");
        assertThat(ledger.spend(GroupBy.TIER, T0))
                .extracting(g -> g.group() + " " + g.calls() + " " + g.cost().toUsdString())
                .containsExactly("small 2 0.750000000", "frontier 3 0.300000000");
        assertThat(ledger.spend(GroupBy.MODEL, T0))
                .as("by the model that answered, not the one routed to")
                .extracting(g -> g.group() + " " + g.calls() + " " + g.cost().toUsdString())
                .containsExactly("claude-haiku-4-5-20251001 2 0.750000000", "claude-opus-4-5 3 0.300000000");
        assertThat(ledger.spend(GroupBy.DAY, T0))
                .extracting(g -> g.group() + " " + g.cost().toUsdString())
                .containsExactly("2026-11-29 0.750000000", "2026-11-30 0.300000000");
        assertThat(ledger.spend(GroupBy.RUN, T0.plus(Duration.ofHours(1))))
                .extracting(SpendGroup::group, SpendGroup::outputTokens)
                .containsExactly(org.assertj.core.groups.Tuple.tuple("run-1", 900L));

        CallPage page1 = ledger.calls(CallQuery.latest(2));
        assertThat(page1.rows()).extracting(r -> r.call().requestId()).containsExactly("req-5", "req-4");
        assertThat(page1.hasNext()).isTrue();
        CallPage page2 = ledger.calls(CallQuery.latest(2).after(page1));
        assertThat(page2.rows()).extracting(r -> r.call().requestId()).containsExactly("req-3", "req-2");
        CallPage page3 = ledger.calls(CallQuery.latest(2).after(page2));
        assertThat(page3.rows()).extracting(r -> r.call().requestId()).containsExactly("req-1");
        assertThat(page3.hasNext()).isFalse();

        CallQuery teamA = new CallQuery(
                T0,
                T0.plus(Duration.ofDays(9)),
                "",
                "a",
                "",
                "",
                Set.of(CallStatus.OK, CallStatus.DENIED),
                10,
                Long.MAX_VALUE);
        assertThat(ledger.calls(teamA).rows())
                .extracting(r -> r.call().requestId())
                .containsExactly("req-2", "req-1");
        assertThat(ledger.calls(new CallQuery(
                                T0, T0.plus(Duration.ofDays(9)), "", "", "", "run-1", Set.of(), 10, Long.MAX_VALUE))
                        .rows())
                .hasSize(3)
                .allSatisfy(r -> assertThat(r.outcome().hitCap()).isTrue());
    }

    @Test
    void aCallIsReadBackWithEveryColumnAsItWasWritten() {
        // Every column a different value, so that two columns swapped in a statement with positional parameters
        // (the reservation's insert, the settlement, SQLite's fold into the ledger) come back wrong.
        Call call = everyColumn("req-full");
        ReservationId r = reserveUnderEveryColumnBudget(call, usd("0.5"));
        clock.advance(Duration.ofMillis(8765));
        // a stream that reached max_tokens, then broke before message_stop; answered by the fallback
        Outcome outcome = new Outcome(
                CallStatus.UPSTREAM_ERROR,
                "claude-opus-4-5",
                new Usage(1001, 2002, 3003, 4004, 5005, 6),
                usd("0.070707070"),
                8008,
                909,
                "max_tokens",
                "api_error");
        ledger.settle(r, outcome);

        LedgerRow expected = new LedgerRow(0, call, outcome, clock.instant(), r.value());
        assertThat(ledger.calls(CallQuery.latest(10)).rows()).singleElement().satisfies(row -> {
            assertThat(row.seq()).isPositive();
            assertThat(row).usingRecursiveComparison().ignoringFields("seq").isEqualTo(expected);
            assertThat(row.outcome().hitCap()).isTrue();
        });
        assertThat(ledger.call("req-full"))
                .hasValueSatisfying(row -> assertThat(row)
                        .usingRecursiveComparison()
                        .ignoringFields("seq")
                        .isEqualTo(expected));
        // the hit_cap column is read by spend only; cache writes are summed there (5-minute + 1-hour)
        assertThat(ledger.spend(GroupBy.RUN, T0))
                .containsExactly(new SpendGroup("run-r", 1, usd("0.070707070"), 1001, 3003 + 4004, 5005, 2002, 1));
        assertThat(status("team-a", EVERY_COLUMN).spent()).isEqualTo(usd("0.070707070"));

        // a denied call's row is written by another statement, with the call's columns only
        CallAttributes d = CallAttributes.of("tight-key", "team-d", "task-d", "run-d");
        Call refused = new Call(
                "req-denied",
                clock.instant().minusMillis(250),
                "tight-key",
                "team-d",
                "task-d",
                "small",
                "task:task-d",
                "claude-haiku-4-5-20251001",
                "run-d",
                "agent-d",
                777);
        assertThat(ledger.reserve(
                        refused,
                        RULES.applicable(d, clock.instant()),
                        usd("5"),
                        clock.instant().plus(LEASE)))
                .isInstanceOf(Admission.Denied.class);
        assertThat(ledger.call("req-denied"))
                .hasValueSatisfying(row -> assertThat(row)
                        .usingRecursiveComparison()
                        .ignoringFields("seq")
                        .isEqualTo(new LedgerRow(
                                0,
                                refused,
                                new Outcome(
                                        CallStatus.DENIED,
                                        "claude-haiku-4-5-20251001",
                                        Usage.ZERO,
                                        Money.ZERO,
                                        -1,
                                        -1,
                                        "",
                                        "budget_exhausted"),
                                clock.instant(),
                                "")));
    }

    @Test
    void reopeningAppliesNoMigrationTwice() {
        ledger.settle(admitted(reserve(ledger, TEAM_A, usd("1"))), ok(usd("0.5")));
        Ledger again = track(open("gw-1b", clock));
        assertThat(again.spend(GroupBy.TEAM, T0)).hasSize(1);
    }

    @Test
    void aLedgerOfTheEarlierMigrationRunnerIsAdoptedWithEveryRowAndTotal() throws Exception {
        CallAttributes b = CallAttributes.of("k2", "b", "summary", "run-1");
        ledger.settle(admitted(reserve(ledger, TEAM_A, usd("1"))), ok(usd("0.5")));
        ledger.settle(admitted(reserve(ledger, b, usd("1"))), ok(usd("0.25")));
        admitted(reserve(ledger, TEAM_A, usd("0.3"))); // still open when the old gateway stops
        List<String> before = totals(ledger);
        closeAll();
        opened.clear();
        try (var c = connect()) {
            OldRunner.pretendOld(c, schema(), OldRunner.SCRIPTS.size());
        }

        ledger = track(open("gw-1", clock));

        assertThat(totals(ledger)).isEqualTo(before);
        try (var c = connect()) {
            assertThat(OldRunner.history(c, schema())).containsExactly("5 BASELINE true");
            assertThat(OldRunner.hasItsTable(c, schema())).isFalse();
        }
        ledger.settle(admitted(reserve(ledger, TEAM_A, usd("1"))), ok(usd("0.125")));
        assertThat(status("team-a", TEAM_A).spent()).isEqualTo(usd("0.625"));
        assertThat(status("team-a", TEAM_A).reserved()).isEqualTo(usd("0.3"));
    }

    /** What a reader of the ledger sees: spend by team, both budgets' windows, every call with its cost. */
    List<String> totals(Ledger l) {
        List<String> seen = new ArrayList<>();
        l.spend(GroupBy.TEAM, T0).forEach(g -> seen.add(g.group() + " " + g.calls() + " " + g.cost()));
        l.budgetStatus(clock.instant())
                .forEach(st -> seen.add(st.budget().budget() + " " + st.spent() + " " + st.reserved()));
        l.calls(CallQuery.latest(100))
                .rows()
                .forEach(r -> seen.add(r.call().requestId() + " " + r.outcome().status() + " "
                        + r.outcome().cost()));
        return seen;
    }

    @Test
    void sixtyFourConcurrentCallersNeverOverspendAHardBudget() throws Exception {
        hammer(List.of(ledger));
    }

    @Test
    void twoInstancesOnOneDatabaseNeverOverspendAHardBudget() throws Exception {
        hammer(List.of(ledger, track(open("gw-2", clock))));
    }

    /**
     * 64 virtual threads, in rounds: all reserve at once, hold their reservations until every one has reserved,
     * then a quarter of them try to enlarge their reservation by another worst case, then all settle a random cost
     * up to what they hold (or release). Another thread samples the budget throughout.
     */
    void hammer(List<Ledger> instances) throws Exception {
        CallAttributes a = CallAttributes.of("tight-key", "", "y", "");
        AppliedBudget tight = RULES.applicable(a, clock.instant()).stream()
                .filter(b -> b.budget().equals("tight"))
                .findFirst()
                .orElseThrow();
        // the first round's calls all fit with room to grow (64 x 0.001 of 0.10), the later ones run out
        Money small = usd("0.001");
        Money large = usd("0.003");
        int callers = 64;
        int rounds = 6;
        Phaser phaser = new Phaser(callers);
        AtomicBoolean done = new AtomicBoolean();
        AtomicLong worstSeen = new AtomicLong();
        AtomicInteger samples = new AtomicInteger();
        AtomicInteger admittedCount = new AtomicInteger();
        AtomicInteger deniedCount = new AtomicInteger();
        AtomicInteger enlargedCount = new AtomicInteger();
        ConcurrentLinkedQueue<String> violations = new ConcurrentLinkedQueue<>();

        Thread sampler = Thread.ofPlatform().start(() -> {
            while (!done.get()) {
                BudgetStatus s = instances.get(0).status(List.of(tight)).get(0);
                long used = s.spent().plus(s.reserved()).nanos();
                worstSeen.accumulateAndGet(used, Math::max);
                samples.incrementAndGet();
                if (used > s.limit().nanos()) {
                    violations.add("spent " + s.spent() + " + reserved " + s.reserved() + " > " + s.limit());
                }
            }
        });
        try (ExecutorService pool = Executors.newVirtualThreadPerTaskExecutor()) {
            List<Future<?>> futures = new ArrayList<>();
            for (int t = 0; t < callers; t++) {
                int caller = t;
                futures.add(pool.submit(() -> {
                    SplittableRandom random = new SplittableRandom(caller);
                    Ledger l = instances.get(caller % instances.size());
                    for (int round = 0; round < rounds; round++) {
                        Money worst = round == 0 ? small : large;
                        phaser.arriveAndAwaitAdvance();
                        Call c = new Call(
                                "c" + caller + "-" + round,
                                clock.instant(),
                                "tight-key",
                                "",
                                "y",
                                "small",
                                "m",
                                "m",
                                "",
                                "",
                                100);
                        Admission adm = l.reserve(
                                c, List.of(tight), worst, clock.instant().plus(LEASE));
                        phaser.arriveAndAwaitAdvance(); // every reservation of the round is held here
                        if (adm instanceof Admission.Admitted ok) {
                            admittedCount.incrementAndGet();
                            Money most = worst;
                            // a quarter of the calls try again after an attempt that may have been billed
                            if (random.nextInt(4) == 0
                                    && l.enlarge(ok.reservation(), List.of(tight), worst, "attempt 1 unanswered")
                                            instanceof Admission.Admitted) {
                                enlargedCount.incrementAndGet();
                                most = worst.plus(worst);
                            }
                            Money cost = Money.ofNanos(random.nextLong(most.nanos() + 1));
                            if (random.nextInt(8) == 0) {
                                l.release(ok.reservation(), ok(Money.ZERO));
                            } else {
                                l.settle(ok.reservation(), ok(cost));
                            }
                        } else {
                            deniedCount.incrementAndGet();
                        }
                    }
                    return null;
                }));
            }
            for (Future<?> f : futures) {
                f.get(60, TimeUnit.SECONDS);
            }
        } finally {
            done.set(true);
            sampler.join(10_000);
        }

        assertThat(violations).isEmpty();
        assertThat(samples.get()).isPositive();
        assertThat(worstSeen.get()).isLessThanOrEqualTo(tight.limit().nanos());
        assertThat(deniedCount.get()).as("the budget ran out").isPositive();
        assertThat(enlargedCount.get()).as("reservations grew").isPositive();
        BudgetStatus end = ledger.status(List.of(tight)).get(0);
        assertThat(end.reserved()).isEqualTo(Money.ZERO);
        List<SpendGroup> byKey = ledger.spend(GroupBy.KEY, Instant.EPOCH);
        assertThat(byKey).singleElement().satisfies(g -> {
            assertThat(g.cost()).isEqualTo(end.spent());
            assertThat(g.calls()).isEqualTo((long) callers * rounds);
        });
        long denied = ledger.calls(new CallQuery(
                        Instant.EPOCH,
                        Instant.parse("9999-01-01T00:00:00Z"),
                        "tight-key",
                        "",
                        "",
                        "",
                        Set.of(CallStatus.DENIED),
                        1000,
                        Long.MAX_VALUE))
                .rows()
                .size();
        assertThat(denied).isEqualTo(deniedCount.get());
    }

    @Test
    void evidenceIsStoredAndReadBackInOrderAndCallsAreFoundByRequestId() {
        ReservationId r = admitted(reserve(ledger, TEAM_A, usd("0.01")));
        ledger.settle(r, ok(usd("0.002")));
        assertThat(ledger.call("req-1")).hasValueSatisfying(row -> {
            assertThat(row.call().taskType()).isEqualTo("extraction");
            assertThat(row.outcome().servedModel()).isEqualTo("claude-haiku-4-5-20251001");
        });
        assertThat(ledger.call("req-404")).isEmpty();

        ShadowEvidence judged = new ShadowEvidence(
                "req-1",
                clock.instant(),
                "extraction",
                ShadowEvidence.Source.JUDGE,
                new ShadowEvidence.Side("claude-opus-4-6", 1, 1000, 200, usd("0.01")),
                new ShadowEvidence.Side("claude-haiku-4-5-20251001", 0.5, 1000, 180, usd("0.0019")),
                usd("0.003"));
        ShadowEvidence feedback = new ShadowEvidence(
                "req-1",
                clock.instant().plusSeconds(1),
                "extraction",
                ShadowEvidence.Source.FEEDBACK,
                new ShadowEvidence.Side("claude-opus-4-6", 0.25, 1000, 200, usd("0.01")),
                ShadowEvidence.Side.NONE,
                Money.ZERO);
        ledger.recordEvidence(judged);
        ledger.recordEvidence(feedback);

        assertThat(ledger.evidence(Instant.EPOCH)).containsExactly(judged, feedback);
        assertThat(ledger.evidence(clock.instant().plusSeconds(1))).containsExactly(feedback);
        assertThat(feedback.hasCandidate()).isFalse();
    }
}
