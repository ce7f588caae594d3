package dev.tiergate.cli;

import static org.assertj.core.api.Assertions.assertThat;

import dev.tiergate.ledger.CallPage;
import dev.tiergate.ledger.CallQuery;
import dev.tiergate.ledger.CallStatus;
import dev.tiergate.ledger.GroupBy;
import dev.tiergate.ledger.Ledger;
import dev.tiergate.ledger.LedgerRow;
import dev.tiergate.ledger.SpendGroup;
import dev.tiergate.pricing.Money;
import java.math.BigDecimal;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Clock;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** {@code tiergate demo} end to end: simulator, three gateways, three ledgers, the table. */
class DemoCommandIT {
    private static final int TASKS = 200;
    private static final Pattern ROW = Pattern.compile(
            "^\\[simulated] \\(([abc])\\) .+? +([\\d,]+) +\\$([\\d,.]+) +\\$([\\d,.]+) +([\\d.]+)% +([\\d.]+)%"
                    + " +([\\d.]+)% +([\\d.]+) s +([\\d.]+) s +(-|[\\d.]+%)$");

    @TempDir
    Path dir;

    @Test
    void threePoliciesCostLessInTurnAndTheSameSeedGivesTheSameLedgers() {
        CliTest.Run first = demo(dir.resolve("one"));
        assertThat(first.exit()).as(first.err()).isZero();
        List<String> lines = first.out().lines().toList();

        // One progress line per policy (output is not a terminal), then the table.
        assertThat(lines.stream().filter(l -> l.startsWith("[simulated] policy (")))
                .hasSize(3)
                .allSatisfy(l -> assertThat(l).contains("200/200 calls"));
        List<Matcher> rows = new ArrayList<>();
        for (String line : lines) {
            Matcher m = ROW.matcher(line);
            if (m.matches()) {
                rows.add(m);
            }
        }
        assertThat(rows).extracting(m -> m.group(1)).containsExactly("a", "b", "c");
        assertThat(rows).allSatisfy(m -> assertThat(m.group(2)).isEqualTo("200"));
        BigDecimal a = usd(rows.get(0).group(3));
        BigDecimal b = usd(rows.get(1).group(3));
        BigDecimal c = usd(rows.get(2).group(3));
        assertThat(c).isLessThan(b);
        assertThat(b).isLessThan(a);
        // Per month is the exact day x 30, rounded once: within 30 half-cents of the rounded day x 30.
        assertThat(usd(rows.get(0).group(4)))
                .isCloseTo(
                        a.multiply(BigDecimal.valueOf(30)),
                        org.assertj.core.api.Assertions.within(new BigDecimal("0.15")));
        assertThat(rows.get(0).group(5)).isEqualTo("100.0");
        assertThat(new BigDecimal(rows.get(1).group(5))).isLessThan(new BigDecimal("20"));
        assertThat(rows.get(0).group(10)).isEqualTo("-");
        assertThat(rows.get(2).group(10)).endsWith("%");

        // Every line of the table and the reading says simulated; the rest points at the ledgers.
        int table = lines.indexOf(lines.stream()
                .filter(l -> l.contains("one simulated day of 200 tasks"))
                .findFirst()
                .orElseThrow());
        for (String line : lines.subList(table, table + 7)) {
            assertThat(line).startsWith("[simulated]");
        }
        assertThat(lines.stream().filter(l -> l.startsWith("[simulated] Routing the small task types")))
                .singleElement()
                .satisfies(l -> assertThat(l).contains("saving").contains("claude-haiku-4-5-20251001"));
        assertThat(first.out()).contains("spend --db " + dir.resolve("one").resolve("ledger-c.db") + " --by task");
        assertThat(first.out()).contains("budgets status --db");

        // Three ledgers, one OK row per task each.
        for (String p : List.of("a", "b", "c")) {
            Path db = dir.resolve("one").resolve("ledger-" + p + ".db");
            assertThat(db).exists();
            assertThat(Files.exists(dir.resolve("one").resolve("policy-" + p + ".yaml")))
                    .isTrue();
            List<LedgerRow> calls = calls(db);
            assertThat(calls).hasSize(TASKS);
            assertThat(calls).allSatisfy(r -> {
                assertThat(r.outcome().status()).isEqualTo(CallStatus.OK);
                assertThat(r.call().runId()).isEqualTo("demo-" + p);
            });
        }

        // The same seed again: the same costs, task type by task type, in every ledger.
        CliTest.Run second = demo(dir.resolve("two"));
        assertThat(second.exit()).as(second.err()).isZero();
        for (String p : List.of("a", "b", "c")) {
            assertThat(spend(dir.resolve("two").resolve("ledger-" + p + ".db")))
                    .isEqualTo(spend(dir.resolve("one").resolve("ledger-" + p + ".db")));
        }
    }

    private static CliTest.Run demo(Path into) {
        return CliTest.run(
                "demo",
                "--tasks",
                Integer.toString(TASKS),
                "--agents",
                "8",
                "--seed",
                "7",
                "--time-compression",
                "1000000",
                "--dir",
                into.toString());
    }

    private static BigDecimal usd(String text) {
        return new BigDecimal(text.replace(",", ""));
    }

    private static List<LedgerRow> calls(Path db) {
        List<LedgerRow> rows = new ArrayList<>();
        try (Ledger ledger = Ledger.sqlite(db, "test", Clock.systemUTC())) {
            CallQuery q = CallQuery.latest(1000);
            CallPage page = ledger.calls(q);
            rows.addAll(page.rows());
            while (page.hasNext()) {
                q = q.after(page);
                page = ledger.calls(q);
                rows.addAll(page.rows());
            }
        }
        return rows;
    }

    private static List<SpendGroup> spend(Path db) {
        try (Ledger ledger = Ledger.sqlite(db, "test", Clock.systemUTC())) {
            List<SpendGroup> groups = ledger.spend(GroupBy.TASK_TYPE, Instant.EPOCH);
            assertThat(groups.stream().map(SpendGroup::cost).reduce(Money.ZERO, Money::plus))
                    .isGreaterThan(Money.ZERO);
            return groups;
        }
    }
}
