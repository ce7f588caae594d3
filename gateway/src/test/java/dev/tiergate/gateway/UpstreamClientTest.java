package dev.tiergate.gateway;

import static org.assertj.core.api.Assertions.assertThat;

import io.helidon.common.tls.Tls;
import java.net.URI;
import org.junit.jupiter.api.Test;

class UpstreamClientTest {

    private static UpstreamClient client(String baseUrl) {
        return new UpstreamClient(GatewayConfig.Upstream.defaults(URI.create(baseUrl), Secret.of("k")));
    }

    @Test
    void callsGoWithNagleOff() {
        // Without TCP_NODELAY a streamed response's first bytes wait ~40 ms for a delayed ACK.
        assertThat(client("http://127.0.0.1:9").settings().socketOptions().tcpNoDelay())
                .isTrue();
        assertThat(client("https://api.anthropic.com")
                        .settings()
                        .socketOptions()
                        .tcpNoDelay())
                .isTrue();
    }

    @Test
    void httpsVerifiesTheUpstreamsHostName() {
        Tls tls = client("https://api.anthropic.com").settings().tls();
        assertThat(tls.enabled()).isTrue();
        assertThat(tls.prototype().trustAll()).isFalse();
        assertThat(tls.prototype().endpointIdentificationAlgorithm()).isEqualTo(Tls.ENDPOINT_IDENTIFICATION_HTTPS);
    }
}
