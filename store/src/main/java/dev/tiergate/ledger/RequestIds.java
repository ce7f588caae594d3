package dev.tiergate.ledger;

import java.time.Clock;
import java.util.HexFormat;
import java.util.concurrent.ThreadLocalRandom;

/**
 * Request ids in time order: a prefix, the epoch millisecond in 12 hex digits, then 12 random hex digits.
 *
 * <p>Why time order: the ledger keeps a unique index on request ids, and it only grows. Random ids land on a random
 * leaf page of that index, so every call dirties (and, once the index outgrows the page cache, first reads) a page
 * of its own; ids that grow with time all land on the last page, which the next calls' rows share. 48 random bits
 * per millisecond keep two ids of the same millisecond apart (a collision among 1,000 ids in one millisecond has a
 * chance of about 2 in a billion, and the index would refuse it rather than lose a row). Thread-safe.
 */
public final class RequestIds {
    private static final HexFormat HEX = HexFormat.of();

    private final String prefix;
    private final Clock clock;

    /** @param prefix what every id starts with, such as {@code tgreq_} */
    public RequestIds(String prefix, Clock clock) {
        this.prefix = prefix;
        this.clock = clock;
    }

    /** A new id: {@code prefix}, 12 hex digits of the current epoch millisecond, 12 random hex digits. */
    public String next() {
        long random = ThreadLocalRandom.current().nextLong() & 0xFFFF_FFFF_FFFFL;
        return prefix
                + HEX.toHexDigits(clock.millis()).substring(4)
                + HEX.toHexDigits(random).substring(4);
    }
}
