package dev.tiergate.gateway;

import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.HexFormat;
import java.util.List;
import java.util.Optional;

/**
 * Gateway keys, stored only as SHA-256 hashes and compared in constant time.
 *
 * <p>Every configured key is compared on every lookup, so the time taken does not tell an attacker which key
 * (or how much of one) matched. Thread-safe.
 */
public final class ApiKeys {

    /**
     * One gateway key's identity and rights.
     *
     * @param name a label for logs and the ledger (never the key itself)
     * @param sha256 the key's SHA-256 hash, 32 bytes
     * @param team the team the key's spend counts against ("" for none)
     * @param defaultTask the task type of requests that name none ("" for {@code unclassified})
     * @param allowModelPassthrough whether a concrete model id in the request is honoured as is
     */
    public record Key(String name, byte[] sha256, String team, String defaultTask, boolean allowModelPassthrough) {
        public Key {
            if (sha256.length != 32) {
                throw new IllegalArgumentException("key '" + name + "': sha256 must be 32 bytes, got " + sha256.length);
            }
            sha256 = sha256.clone();
        }

        @Override
        public byte[] sha256() {
            return sha256.clone();
        }

        @Override
        public boolean equals(Object o) {
            return o instanceof Key k && k.name.equals(name);
        }

        @Override
        public int hashCode() {
            return name.hashCode();
        }

        @Override
        public String toString() {
            return "Key[" + name + "]";
        }
    }

    private static final MessageDigest SHA_256 = newSha256();

    private final List<Key> keys;

    public ApiKeys(List<Key> keys) {
        this.keys = List.copyOf(keys);
    }

    /** The key whose hash matches {@code presented}, if any. */
    public Optional<Key> find(String presented) {
        byte[] hash = sha256(presented);
        Key match = null;
        for (Key k : keys) {
            // MessageDigest.isEqual is constant-time for equal lengths; every key is checked, no early exit.
            if (MessageDigest.isEqual(hash, k.sha256) && match == null) {
                match = k;
            }
        }
        return Optional.ofNullable(match);
    }

    /** How many keys are configured. */
    public int size() {
        return keys.size();
    }

    /** SHA-256 of a key, as stored in the config. */
    public static byte[] sha256(String key) {
        MessageDigest digest;
        try {
            // A clone of a digest found once: looking the algorithm up in the providers costs more than hashing.
            digest = (MessageDigest) SHA_256.clone();
        } catch (CloneNotSupportedException e) {
            digest = newSha256();
        }
        return digest.digest(key.getBytes(StandardCharsets.UTF_8));
    }

    private static MessageDigest newSha256() {
        try {
            return MessageDigest.getInstance("SHA-256");
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException("every JDK has SHA-256", e);
        }
    }

    /** SHA-256 of a key as lowercase hex, the form `tiergate hash-key` prints for the config. */
    public static String sha256Hex(String key) {
        return HexFormat.of().formatHex(sha256(key));
    }
}
