package dev.tiergate.cli.demo;

import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;

/** The three policies the demo compares; each is a bundled, readable policy file. */
enum DemoPolicy {
    ALL_FRONTIER("a", "all frontier, no caps", "policy-a.yaml"),
    TWO_TIER("b", "two-tier, no caps", "policy-b.yaml"),
    TWO_TIER_CAPPED("c", "two-tier + caps", "policy-c.yaml");

    private final String letter;
    private final String title;
    private final String resource;

    DemoPolicy(String letter, String title, String resource) {
        this.letter = letter;
        this.title = title;
        this.resource = resource;
    }

    /** {@code a}, {@code b} or {@code c}. */
    String letter() {
        return letter;
    }

    /** {@code (b) two-tier, no caps}. */
    String label() {
        return "(" + letter + ") " + title;
    }

    /** The file name it is written under in the demo folder. */
    String fileName() {
        return resource;
    }

    /** The policy file's text. */
    String yaml() {
        try (InputStream in = DemoPolicy.class.getResourceAsStream(resource)) {
            if (in == null) {
                throw new IllegalStateException("bundled demo policy " + resource + " is missing from the jar");
            }
            return new String(in.readAllBytes(), StandardCharsets.UTF_8);
        } catch (IOException e) {
            throw new UncheckedIOException("reading bundled demo policy " + resource, e);
        }
    }
}
