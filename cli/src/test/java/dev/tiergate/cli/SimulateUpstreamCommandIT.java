package dev.tiergate.cli;

import static org.assertj.core.api.Assertions.assertThat;

import dev.tiergate.simulator.SimulatorServer;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.time.Duration;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import picocli.CommandLine;

class SimulateUpstreamCommandIT {

    @Test
    void listensUntilStoppedAndAnswersAsSimulated() throws Exception {
        SimulateUpstreamCommand command = new SimulateUpstreamCommand();
        CommandLine cl = new CommandLine(command);
        StringWriter out = new StringWriter();
        cl.setOut(new PrintWriter(out, true));
        CompletableFuture<Integer> exit = new CompletableFuture<>();
        Thread.ofVirtual()
                .start(() -> exit.complete(
                        cl.execute("--seed", "7", "--time-compression", "1000", "--failure-rate", "overloaded=0.05")));

        SimulatorServer server = command.started.get(10, TimeUnit.SECONDS);
        assertThat(out.toString())
                .startsWith("simulated Anthropic upstream listening on http://127.0.0.1:" + server.port()
                        + " (seed 7, time compression 1000)")
                .contains("simulated failures on every model: rate_limit 0, overloaded 0.05, mid_stream 0");

        HttpClient http = HttpClient.newHttpClient();
        HttpResponse<String> r = http.send(
                HttpRequest.newBuilder(URI.create(server.baseUrl() + "/v1/messages"))
                        .timeout(Duration.ofSeconds(10))
                        .header("x-tiergate-task", "classification")
                        .header("x-tiergate-call-key", "cli-1")
                        .POST(HttpRequest.BodyPublishers.ofString("{\"model\":\"claude-haiku-4-5-20251001\","
                                + "\"max_tokens\":16,\"messages\":[{\"role\":\"user\",\"content\":\"yes or no?\"}]}"))
                        .build(),
                HttpResponse.BodyHandlers.ofString());
        assertThat(r.headers().firstValue("x-tiergate-simulated")).hasValue("true");
        assertThat(r.body()).contains("[simulated claude-haiku-4-5-20251001]");

        command.stop.countDown();
        assertThat(exit.get(10, TimeUnit.SECONDS)).isZero();
    }
}
