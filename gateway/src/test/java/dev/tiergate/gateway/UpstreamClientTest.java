package dev.tiergate.gateway;

import static org.assertj.core.api.Assertions.assertThat;

import java.net.URI;
import org.junit.jupiter.api.Test;

class UpstreamClientTest {

    private static UpstreamClient client(String baseUrl) {
        return new UpstreamClient(GatewayConfig.Upstream.defaults(URI.create(baseUrl), Secret.of("k")));
    }

    @Test
    void plainHttpGoesThroughHelidonWithNagleOff() {
        UpstreamClient c = client("http://127.0.0.1:9");
        assertThat(c.clientName()).isEqualTo("helidon");
        // Without TCP_NODELAY a streamed response's first bytes wait ~40 ms for a delayed ACK.
        assertThat(c.tcpNoDelay()).isTrue();
    }

    @Test
    void httpsKeepsTheJdkClientForHttp2() {
        assertThat(client("https://api.anthropic.com").clientName()).isEqualTo("jdk");
    }
}
