package dev.tiergate.cli;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.dataformat.yaml.YAMLMapper;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import picocli.CommandLine;

class CalibrationCommandsTest {

    @TempDir
    Path dir;

    private record Run(int exit, String out, String err) {}

    private static Run run(String... args) {
        StringWriter out = new StringWriter();
        StringWriter err = new StringWriter();
        CommandLine cl = Main.commandLine();
        cl.setOut(new PrintWriter(out, true));
        cl.setErr(new PrintWriter(err, true));
        int exit = cl.execute(args);
        return new Run(exit, out.toString(), err.toString());
    }

    /** 400 items of one type: small matches big except 20 items it gets right that big misses. */
    private Path evidence() throws Exception {
        List<String> lines = new ArrayList<>();
        lines.add("item_id,task_type,model,score,input_tokens,output_tokens,cost_usd");
        for (int i = 0; i < 400; i++) {
            int big = i < 300 ? 1 : 0;
            int small = i < 320 ? 1 : 0;
            lines.add("q" + i + ",\"extract: fields\",big," + big + ",100,10,0.01");
            lines.add("q" + i + ",\"extract: fields\",small," + small + ",100,10,0.001");
        }
        Path file = dir.resolve("evidence.csv");
        Files.write(file, lines);
        return file;
    }

    @Test
    void calibrateRecommendsAndWritesAPolicyFragmentThatParses() throws Exception {
        Path out = dir.resolve("suggested.yaml");

        Run r = run(
                "calibrate", "--evidence", evidence().toString(), "--current", "big", "--write-policy", out.toString());

        assertThat(r.exit()).isZero();
        assertThat(r.out())
                .contains("extract: fields")
                .contains("small")
                .contains("90.0%")
                .contains("estimates");
        JsonNode yaml = new YAMLMapper().readTree(out.toFile());
        assertThat(yaml.at("/task_types/extract: fields/model").asText()).isEqualTo("small");
        assertThat(Files.readString(out)).contains("# switch from big: quality 0.800 vs 0.750 on n=400");
    }

    @Test
    void calibrateJsonListsCandidatesWithBounds() throws Exception {
        Run r = run("calibrate", "--evidence", evidence().toString(), "--current", "big", "--format", "json");

        JsonNode t = new ObjectMapper().readTree(r.out()).get("task_types").get(0);
        assertThat(t.get("recommended_model").asText()).isEqualTo("small");
        assertThat(t.get("candidates").get(0).get("method").asText()).isEqualTo("tango_score");
        assertThat(t.get("candidates").get(0).get("non_inferior").asBoolean()).isTrue();
    }

    @Test
    void calibrateWithoutCurrentModelIsBadInput() throws Exception {
        Run r = run("calibrate", "--evidence", evidence().toString());

        assertThat(r.exit()).isEqualTo(Main.EXIT_BAD_INPUT);
        assertThat(r.err()).contains("pass --current MODEL").contains("big, small");
    }

    @Test
    void badEvidenceIsBadInputNamingFileAndLine() throws Exception {
        Path file = dir.resolve("bad.csv");
        Files.writeString(file, "item_id,task_type,model,score,input_tokens,output_tokens,cost_usd\nq,t,m,7,1,1,0.1\n");

        Run r = run("eval-routing", "--evidence", file.toString(), "--frontier", "m");

        assertThat(r.exit()).isEqualTo(Main.EXIT_BAD_INPUT);
        assertThat(r.err()).contains(file + ":2: score 7 is outside [0, 1]");
    }

    @Test
    void evalRoutingJsonHasTheAgreedShapeAndIsDeterministic() throws Exception {
        String[] args = {"eval-routing", "--evidence", evidence().toString(), "--frontier", "big", "--format", "json"};
        Run r = run(args);

        assertThat(r.exit()).isZero();
        JsonNode root = new ObjectMapper().readTree(r.out());
        assertThat(root.get("policies")).hasSize(6);
        for (JsonNode p : root.get("policies")) {
            assertThat(p.has("name")
                            && p.has("quality")
                            && p.has("cost_usd")
                            && p.has("saving_vs_frontier")
                            && p.has("frontier_share"))
                    .isTrue();
        }
        JsonNode type = root.get("task_types").get(0);
        assertThat(type.get("type").asText()).isEqualTo("extract: fields");
        assertThat(type.get("n_train").asInt()).isEqualTo(80);
        assertThat(type.get("n_test").asInt()).isEqualTo(320);
        assertThat(type.has("recommended")
                        && type.has("frontier_quality")
                        && type.has("recommended_quality")
                        && type.has("saving"))
                .isTrue();
        assertThat(run(args).out()).isEqualTo(r.out());
    }

    @Test
    void evalRoutingRejectsAnUnknownFrontier() throws Exception {
        Run r = run("eval-routing", "--evidence", evidence().toString(), "--frontier", "gpt-9");

        assertThat(r.exit()).isEqualTo(Main.EXIT_BAD_INPUT);
        assertThat(r.err()).contains("--frontier gpt-9: no such model").contains("big, small");
    }

    @Test
    void everyCommandHasHelp() {
        assertThat(run("calibrate", "--help").out()).contains("non-inferior").contains("--write-policy");
        assertThat(run("eval-routing", "--help").out())
                .contains("oracle-per-query")
                .contains("--train-fraction");
    }
}
