package dev.tiergate.cli;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.tiergate.calibration.Outcome;
import dev.tiergate.ledger.Ledger;
import dev.tiergate.ledger.ShadowEvidence;
import dev.tiergate.pricing.Money;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Clock;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** {@code tiergate calibrate --db}: the gateway ledger's shadow evidence as calibration evidence. */
class CalibrateFromLedgerTest {
    static final String SERVED = "claude-opus-4-6";
    static final String CANDIDATE = "claude-haiku-4-5-20251001";

    @TempDir
    Path dir;

    private static ShadowEvidence judged(int i, double candidateScore) {
        return new ShadowEvidence(
                "tgreq_" + i,
                Instant.parse("2026-11-29T10:00:00Z").plusSeconds(i),
                "synthesis",
                ShadowEvidence.Source.JUDGE,
                new ShadowEvidence.Side(SERVED, 1, 1000, 200, Money.parseUsd("0.01")),
                new ShadowEvidence.Side(CANDIDATE, candidateScore, 1000, 180, Money.parseUsd("0.0019")),
                Money.parseUsd("0.0035"));
    }

    private Path ledgerWith(List<ShadowEvidence> evidence) {
        Path db = dir.resolve("tiergate.db");
        try (Ledger ledger = Ledger.sqlite(db, "gw", Clock.systemUTC())) {
            evidence.forEach(ledger::recordEvidence);
        }
        return db;
    }

    @Test
    void judgeEvidenceGivesTheServedAndTheCandidateOutcomeAndFeedbackReplacesTheServedScore() {
        ShadowEvidence feedback = new ShadowEvidence(
                "tgreq_1",
                Instant.parse("2026-11-29T11:00:00Z"),
                "synthesis",
                ShadowEvidence.Source.FEEDBACK,
                new ShadowEvidence.Side(SERVED, 0.25, 1000, 200, Money.parseUsd("0.01")),
                ShadowEvidence.Side.NONE,
                Money.ZERO);
        // feedback first in the list: the judge's convention must not override it
        List<Outcome> outcomes = LedgerEvidence.outcomes(List.of(feedback, judged(1, 0.5), judged(2, 1)));
        assertThat(outcomes)
                .extracting(o -> o.itemId() + " " + o.model() + " " + o.score())
                .containsExactlyInAnyOrder(
                        "tgreq_1 " + SERVED + " 0.25",
                        "tgreq_1 " + CANDIDATE + " 0.5",
                        "tgreq_2 " + SERVED + " 1.0",
                        "tgreq_2 " + CANDIDATE + " 1.0");
        assertThat(outcomes).allSatisfy(o -> assertThat(o.taskType()).isEqualTo("synthesis"));
    }

    @Test
    void calibrateReadsTheLedgersEvidenceAndCombinesItWithAnEvidenceFile() throws Exception {
        List<ShadowEvidence> evidence = new ArrayList<>();
        for (int i = 0; i < 80; i++) {
            evidence.add(judged(i, 1));
        }
        Path db = ledgerWith(evidence);

        CliTest.Run r = CliTest.run(
                "calibrate", "--db", db.toString(), "--current", SERVED, "--epsilon", "0.1", "--format", "json");
        assertThat(r.exit()).as(r.err()).isZero();
        JsonNode root = new ObjectMapper().readTree(r.out());
        assertThat(root.path("evidence").asText()).contains("ledger").contains("160 outcomes");
        assertThat(root.toString()).contains("synthesis").contains("\"recommended_model\":\"" + CANDIDATE + "\"");

        Path csv = dir.resolve("extra.csv");
        Files.write(
                csv,
                List.of(
                        "item_id,task_type,model,score,input_tokens,output_tokens,cost_usd",
                        "q1,extraction," + SERVED + ",1,100,10,0.01",
                        "q1,extraction," + CANDIDATE + ",1,100,10,0.001"));
        CliTest.Run both = CliTest.run(
                "calibrate",
                "--evidence",
                csv.toString(),
                "--db",
                db.toString(),
                "--current",
                SERVED,
                "--epsilon",
                "0.1",
                "--format",
                "json");
        assertThat(both.exit()).as(both.err()).isZero();
        assertThat(both.out()).contains("extraction").contains("synthesis").contains(csv.toString());
    }

    @Test
    void calibrateNeedsAnEvidenceFileOrALedger() {
        CliTest.Run r = CliTest.run("calibrate", "--current", SERVED);
        assertThat(r.exit()).isEqualTo(2);
        assertThat(r.err()).contains("--evidence FILE").contains("--db FILE");
    }

    @Test
    void sinceKeepsOnlyTheLedgersEvidenceFromThatDayOn() throws Exception {
        List<ShadowEvidence> evidence = new ArrayList<>();
        for (int i = 0; i < 40; i++) {
            evidence.add(judged(i, 1)); // 2026-11-29
        }
        for (int i = 40; i < 100; i++) {
            ShadowEvidence e = judged(i, 0);
            // a day later, and the candidate lost every comparison
            evidence.add(new ShadowEvidence(
                    e.requestId(),
                    e.recordedAt().plusSeconds(86_400),
                    e.taskType(),
                    e.source(),
                    e.served(),
                    e.candidate(),
                    e.judgeCost()));
        }
        Path db = ledgerWith(evidence);

        CliTest.Run all = CliTest.run("calibrate", "--db", db.toString(), "--current", SERVED, "--format", "json");
        assertThat(all.exit()).as(all.err()).isZero();
        assertThat(new ObjectMapper().readTree(all.out()).path("evidence").asText())
                .contains("200 outcomes");

        CliTest.Run later = CliTest.run(
                "calibrate", "--db", db.toString(), "--since", "2026-11-30", "--current", SERVED, "--format", "json");
        assertThat(later.exit()).as(later.err()).isZero();
        assertThat(new ObjectMapper().readTree(later.out()).path("evidence").asText())
                .contains("120 outcomes since 2026-11-30");

        CliTest.Run bad = CliTest.run("calibrate", "--db", db.toString(), "--since", "30/11/2026", "--current", SERVED);
        assertThat(bad.exit()).isEqualTo(2);
        assertThat(bad.err()).contains("--since must be a day YYYY-MM-DD, got '30/11/2026'");

        Path csv = dir.resolve("e.csv");
        Files.write(csv, List.of("item_id,task_type,model,score,input_tokens,output_tokens,cost_usd"));
        CliTest.Run noLedger =
                CliTest.run("calibrate", "--evidence", csv.toString(), "--since", "2026-11-30", "--current", SERVED);
        assertThat(noLedger.exit()).isEqualTo(2);
        assertThat(noLedger.err()).contains("--since selects the ledger's evidence");
    }
}
