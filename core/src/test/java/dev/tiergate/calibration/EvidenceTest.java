package dev.tiergate.calibration;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.assertj.core.api.InstanceOfAssertFactories.LIST;

import dev.tiergate.pricing.Money;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class EvidenceTest {

    private static final String HEADER = "item_id,task_type,model,score,input_tokens,output_tokens,cost_usd";

    @Test
    void readsAFileAndIndexesItByTaskTypeModelAndItem(@TempDir Path dir) throws Exception {
        Path file = dir.resolve("e.csv");
        Files.writeString(
                file,
                HEADER + "\n" + "q1,math,big,1,100,20,0.0103\n" + "q1,math,small,0.5,100,20,0.00024672\n"
                        + "\"q,2\",code,big,0,10,1,0.001\n");

        Evidence ev = Evidence.read(file, CallPricer.NONE);

        assertThat(ev.taskTypes()).containsExactly("code", "math");
        assertThat(ev.models()).containsExactly("big", "small");
        assertThat(ev.items("code")).containsExactly("q,2");
        Outcome o = ev.outcome("math", "q1", "small").orElseThrow();
        assertThat(o.score()).isEqualTo(0.5);
        assertThat(o.cost()).isEqualTo(Money.ofNanos(246_720));
        assertThat(o.inputTokens()).isEqualTo(100);
    }

    @Test
    void listsEveryBadRowWithItsLineAndLoadsNothing() {
        List<String> lines = List.of(
                HEADER,
                "q1,math,big,1,100,20,0.01",
                "q2,math,big,1.5,100,20,0.01",
                "q3,math,,1,-4,x,0.01",
                "q4,math,big,1,100,20",
                "q1,math,big,0,100,20,0.01",
                "q1,code,small,0,100,20,0.01",
                "q5,math,big,1,100,20,-0.01",
                "q6,math,big,1,100,20,");

        assertThatThrownBy(() -> Evidence.parse("e.csv", lines, CallPricer.NONE))
                .isInstanceOf(EvidenceException.class)
                .hasMessageStartingWith("invalid evidence file e.csv: 9 problems, nothing loaded")
                .extracting(e -> ((EvidenceException) e).problems(), LIST)
                .containsExactly(
                        "e.csv:3: score 1.5 is outside [0, 1]",
                        "e.csv:4: model is empty",
                        "e.csv:4: input_tokens -4 is negative",
                        "e.csv:4: output_tokens 'x' is not a whole number",
                        "e.csv:5: expected 7 fields, found 6",
                        "e.csv:6: duplicate row for item 'q1' and model 'big' (first at line 2)",
                        "e.csv:7: item 'q1' has task_type 'code' but line 2 gives 'math'",
                        "e.csv:8: cost_usd -0.01 is negative",
                        "e.csv:9: cost_usd is empty and no price is known for model 'big'; give cost_usd or use a"
                                + " model from the catalog");
    }

    @Test
    void capsTheListingAtTwentyAndCountsTheRest() {
        List<String> lines = new ArrayList<>(List.of(HEADER));
        for (int i = 0; i < 25; i++) {
            lines.add("q" + i + ",math,big,2,1,1,0.1");
        }

        assertThatThrownBy(() -> Evidence.parse("e.csv", lines, CallPricer.NONE))
                .hasMessageContaining("e.csv:21: score 2 is outside [0, 1]")
                .hasMessageNotContaining("e.csv:22:")
                .hasMessageEndingWith("... and 5 more problems");
    }

    @Test
    void pricesRowsWithoutACostThroughThePricer() {
        CallPricer pricer = (model, in, out) ->
                model.equals("big") ? Optional.of(Money.ofNanos(in * 10 + out * 30)) : Optional.empty();

        Evidence ev = Evidence.parse("e.csv", List.of(HEADER, "q1,math,big,1,100,20,"), pricer);

        assertThat(ev.outcome("math", "q1", "big").orElseThrow().cost()).isEqualTo(Money.ofNanos(1_600));
    }

    @Test
    void rejectsAHeaderWithoutTheRequiredColumns() {
        assertThatThrownBy(() -> Evidence.parse("e.csv", List.of("item_id,model,score", "q,m,1"), CallPricer.NONE))
                .hasMessageContaining(
                        "e.csv:1: header lacks column(s) task_type, input_tokens, output_tokens," + " cost_usd");
    }

    @Test
    void rejectsAnEmptyFileAndAFileWithOnlyAHeader() {
        assertThatThrownBy(() -> Evidence.parse("e.csv", List.of(), CallPricer.NONE))
                .hasMessageContaining("e.csv:1: empty file");
        assertThatThrownBy(() -> Evidence.parse("e.csv", List.of(HEADER, ""), CallPricer.NONE))
                .hasMessageContaining("e.csv:1: no rows after the header");
    }

    @Test
    void acceptsColumnsInAnyOrderAndABom() {
        Evidence ev = Evidence.parse(
                "e.csv",
                List.of(
                        "\uFEFFmodel,item_id,task_type,score,cost_usd,input_tokens,output_tokens",
                        "big,q1,t,1,0.5,1,1"),
                CallPricer.NONE);

        assertThat(ev.outcome("t", "q1", "big").orElseThrow().cost()).isEqualTo(Money.parseUsd("0.5"));
    }
}
