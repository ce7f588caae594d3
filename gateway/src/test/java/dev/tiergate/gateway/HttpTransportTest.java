package dev.tiergate.gateway;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.ByteArrayInputStream;
import java.nio.charset.StandardCharsets;
import java.util.Optional;
import org.junit.jupiter.api.Test;

class HttpTransportTest {
    private static final byte[] BODY = "{\"type\":\"message\"}".getBytes(StandardCharsets.UTF_8);

    private static byte[] read(Optional<String> contentLength) throws Exception {
        return HttpTransport.readBody(new ByteArrayInputStream(BODY), contentLength);
    }

    @Test
    void aDeclaredLengthIsReadExactly() throws Exception {
        assertThat(read(Optional.of(Integer.toString(BODY.length)))).isEqualTo(BODY);
    }

    @Test
    void aDeclaredLengthIsReadOnToTheEndOfTheStream() throws Exception {
        // the end must be seen for the client to pool the connection; a body longer than declared loses nothing
        ByteArrayInputStream in = new ByteArrayInputStream(BODY);
        assertThat(HttpTransport.readBody(in, Optional.of("5"))).isEqualTo(BODY);
        assertThat(in.available()).isZero();
    }

    @Test
    void aBodyThatEndsBeforeItsDeclaredLengthIsReturnedAsFarAsItCame() throws Exception {
        assertThat(read(Optional.of("1000"))).isEqualTo(BODY);
    }

    @Test
    void withoutAUsableLengthTheBodyIsReadToItsEnd() throws Exception {
        assertThat(read(Optional.empty())).isEqualTo(BODY);
        assertThat(read(Optional.of("twelve"))).isEqualTo(BODY);
        assertThat(read(Optional.of("-1"))).isEqualTo(BODY);
        // A huge declared length is not allocated up front.
        assertThat(read(Optional.of(Long.toString(Long.MAX_VALUE)))).isEqualTo(BODY);
    }
}
