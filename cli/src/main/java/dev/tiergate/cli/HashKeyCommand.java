package dev.tiergate.cli;

import dev.tiergate.gateway.ApiKeys;
import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.io.PrintWriter;
import java.nio.charset.StandardCharsets;
import java.security.SecureRandom;
import java.util.HexFormat;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

/** {@code tiergate hash-key}: the SHA-256 a gateway config stores instead of the key. */
@Command(
        name = "hash-key",
        mixinStandardHelpOptions = true,
        description = {
            "Print the SHA-256 of a gateway key (read from standard input, one line) for the `sha256:` field of a"
                    + " key in the gateway config. The config never holds the key itself.",
            "With --generate, make a new random key and print it with its hash."
        })
final class HashKeyCommand implements Callable<Integer> {
    @Option(names = "--generate", description = "Generate a new random key (tg_ + 32 bytes of hex) and print both.")
    boolean generate;

    @Spec
    picocli.CommandLine.Model.CommandSpec spec = picocli.CommandLine.Model.CommandSpec.create();

    @Override
    public Integer call() throws IOException {
        PrintWriter out = spec.commandLine().getOut();
        if (generate) {
            byte[] random = new byte[32];
            new SecureRandom().nextBytes(random);
            String key = "tg_" + HexFormat.of().formatHex(random);
            out.println("key:    " + key);
            out.println("sha256: " + ApiKeys.sha256Hex(key));
            return 0;
        }
        String key = new BufferedReader(new InputStreamReader(System.in, StandardCharsets.UTF_8)).readLine();
        if (key == null || key.isBlank()) {
            throw new CliException("hash-key reads the key from standard input: echo -n KEY | tiergate hash-key");
        }
        out.println(ApiKeys.sha256Hex(key.strip()));
        return 0;
    }
}
