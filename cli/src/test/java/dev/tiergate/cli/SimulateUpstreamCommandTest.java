package dev.tiergate.cli;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class SimulateUpstreamCommandTest {
    @TempDir
    Path dir;

    @Test
    void helpSaysItIsSimulated() {
        CliTest.Run r = CliTest.run("simulate-upstream", "--help");
        assertThat(r.exit()).isZero();
        assertThat(r.out())
                .contains("SIMULATED Anthropic Messages API")
                .contains("[simulated MODEL]")
                .contains("--time-compression")
                .contains("--failure-rate");
    }

    @Test
    void rejectsUnknownFailureKindsBeforeListening() {
        CliTest.Run r = CliTest.run("simulate-upstream", "--failure-rate", "timeout=0.1");
        assertThat(r.exit()).isEqualTo(2);
        assertThat(r.err())
                .contains("--failure-rate: unknown kind 'timeout'; known kinds: [mid_stream, overloaded, rate_limit]");
    }

    @Test
    void rejectsFailureRatesAboveOne() {
        CliTest.Run r = CliTest.run(
                "simulate-upstream", "--failure-rate", "rate_limit=0.7", "--failure-rate", "overloaded=0.7");
        assertThat(r.exit()).isEqualTo(2);
        assertThat(r.err()).contains("at most 1");
    }

    @Test
    void rejectsABadProfilesFileWithLocatedProblems() throws Exception {
        Path p = dir.resolve("profiles.yaml");
        Files.writeString(p, "models:\n  claude-opus-4-6: { verbosty: 3 }\n");
        CliTest.Run r = CliTest.run("simulate-upstream", "--profiles", p.toString());
        assertThat(r.exit()).isEqualTo(2);
        assertThat(r.err()).contains(p + ":2:22: unknown key 'verbosty'");
    }

    @Test
    void rejectsANonPositiveTimeCompression() {
        CliTest.Run r = CliTest.run("simulate-upstream", "--time-compression", "0");
        assertThat(r.exit()).isEqualTo(2);
        assertThat(r.err()).contains("--time-compression: time compression must be a finite number above 0");
    }
}
