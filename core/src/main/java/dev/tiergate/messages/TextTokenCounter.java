package dev.tiergate.messages;

import java.io.Writer;

/**
 * A one-pass, character-class aware upper estimate of the tokens in a stream of text, in millitokens.
 *
 * <p>Not thread-safe: one instance per estimate. It is a {@link Writer} so Jackson can serialize JSON straight
 * into it without building the string. Text may arrive in any number of chunks; runs that span chunks are
 * counted as one run. The weights are calibrated in {@code docs/token-estimate.md}; change them only together
 * with that table and {@code InputTokenEstimatorAccuracyTest}.
 */
final class TextTokenCounter extends Writer {

    // Millitokens, so that fractional weights sum without floating point.
    static final long ONE = 1_000;

    /** An ASCII letter segment this long or longer with under a quarter vowels is treated as random. */
    static final int RANDOM_MIN_LETTERS = 6;
    /** Letters per extra token inside an ordinary word segment up to {@link #LONG_WORD} letters. */
    static final int LETTERS_PER_TOKEN = 5;
    /** Beyond this many letters a segment is not an English word any more: charge like random text. */
    static final int LONG_WORD = 20;
    /** Millitokens per letter of random-looking letters (measured about 1.9 letters per token). */
    static final long RANDOM_LETTER = 556;
    /** Digits per token: the tokenizer splits numbers into chunks of at most three, often two. */
    static final int DIGITS_PER_TOKEN = 2;
    /** Millitokens per ASCII punctuation or symbol character: many pairs such as {@code ":{"} merge. */
    static final long PUNCT = 700;

    static final long CYRILLIC = 1_000;
    static final long TWO_BYTE = 1_400;
    static final long CJK = 1_400;
    static final long HANGUL = 1_600;
    static final long OTHER_BMP = 2_000;
    static final long SUPPLEMENTARY = 3_000;

    private static final int NONE = 0;
    private static final int LETTERS = 1;
    private static final int DIGITS = 2;
    private static final int SPACE = 3;
    private static final int PUNCTUATION = 4;

    private long millis;
    private int run = NONE;
    private int runLength;

    // Letter-run state: the current segment (split at camelCase and acronym boundaries) and its shape.
    private int segment;
    private int segmentUppers;
    private int segmentVowels;
    private int upperStreak;
    private boolean previousLower;

    // Whitespace run state: a single space before a word merges into the word's token.
    private boolean runIsSingleSpace;

    private char pendingHigh;

    /** Millitokens counted so far, including the run in progress. */
    long millitokens() {
        return millis + openRunCost() + (pendingHigh != 0 ? OTHER_BMP : 0);
    }

    void accept(CharSequence text) {
        for (int i = 0, n = text.length(); i < n; i++) {
            accept(text.charAt(i));
        }
    }

    void accept(char c) {
        if (pendingHigh != 0) {
            char high = pendingHigh;
            pendingHigh = 0;
            if (Character.isLowSurrogate(c)) {
                closeRun();
                millis += codePointCost(Character.toCodePoint(high, c));
                return;
            }
            // A lone high surrogate becomes U+FFFD on the wire: three UTF-8 bytes.
            millis += OTHER_BMP;
        }
        if (c < 128) {
            acceptAscii(c);
        } else if (Character.isHighSurrogate(c)) {
            closeRun();
            pendingHigh = c;
        } else {
            closeRun();
            millis += Character.isLowSurrogate(c) ? OTHER_BMP : codePointCost(c);
        }
    }

    private void acceptAscii(char c) {
        boolean upper = c >= 'A' && c <= 'Z';
        boolean lower = c >= 'a' && c <= 'z';
        int kind;
        if (upper || lower) {
            kind = LETTERS;
        } else if (c >= '0' && c <= '9') {
            kind = DIGITS;
        } else if (c == ' ' || c == '\n' || c == '\t' || c == '\r') {
            kind = SPACE;
        } else {
            kind = PUNCTUATION;
        }
        if (kind != run) {
            closeRun();
            run = kind;
            runIsSingleSpace = c == ' ';
        } else if (kind == SPACE) {
            runIsSingleSpace = false;
        }
        runLength++;
        if (kind == LETTERS) {
            // The tokenizer starts a new piece at a lower-to-upper step (camelCase) and at the end of an
            // acronym (HTTPServer -> HTTP, Server).
            boolean boundary = segment > 0 && ((upper && previousLower) || (lower && upperStreak >= 2));
            if (boundary) {
                millis += segmentCost();
                segment = 0;
                segmentUppers = 0;
                segmentVowels = 0;
            }
            segment++;
            if (upper) {
                segmentUppers++;
            }
            if (isVowel(c)) {
                segmentVowels++;
            }
            upperStreak = upper ? upperStreak + 1 : 0;
            previousLower = lower;
        }
    }

    private static boolean isVowel(char c) {
        return switch (c) {
            case 'a', 'e', 'i', 'o', 'u', 'A', 'E', 'I', 'O', 'U' -> true;
            default -> false;
        };
    }

    private long segmentCost() {
        long cost;
        if (segment >= RANDOM_MIN_LETTERS && segmentVowels * 4 < segment) {
            cost = segment * RANDOM_LETTER;
        } else {
            int wordPart = Math.min(segment, LONG_WORD);
            cost = ONE + ONE * ((wordPart - 1) / LETTERS_PER_TOKEN) + RANDOM_LETTER * (segment - wordPart);
        }
        // Mixed-case noise (base64, random ids) splits into one- or two-letter pieces.
        return cost + ONE * Math.max(0, segmentUppers - 1);
    }

    private long openRunCost() {
        return switch (run) {
            case LETTERS -> segment > 0 ? segmentCost() : 0;
            case DIGITS -> ONE * ((runLength + DIGITS_PER_TOKEN - 1) / DIGITS_PER_TOKEN);
            case SPACE -> runIsSingleSpace ? 0 : ONE;
            case PUNCTUATION -> ONE * ((runLength * PUNCT + ONE - 1) / ONE);
            default -> 0;
        };
    }

    private void closeRun() {
        millis += openRunCost();
        run = NONE;
        runLength = 0;
        segment = 0;
        segmentUppers = 0;
        segmentVowels = 0;
        upperStreak = 0;
        previousLower = false;
        runIsSingleSpace = false;
    }

    static long codePointCost(int cp) {
        if (cp >= 0x0400 && cp <= 0x052F) {
            return CYRILLIC;
        }
        if (cp < 0x800) {
            return TWO_BYTE;
        }
        if (cp >= 0xAC00 && cp <= 0xD7AF) {
            return HANGUL;
        }
        if ((cp >= 0x3000 && cp <= 0x30FF) // CJK punctuation, hiragana, katakana
                || (cp >= 0x3400 && cp <= 0x4DBF)
                || (cp >= 0x4E00 && cp <= 0x9FFF)
                || (cp >= 0xFF00 && cp <= 0xFFEF)) { // full-width forms
            return CJK;
        }
        return cp < 0x10000 ? OTHER_BMP : SUPPLEMENTARY;
    }

    @Override
    public void write(char[] chars, int offset, int length) {
        for (int i = offset, end = offset + length; i < end; i++) {
            accept(chars[i]);
        }
    }

    @Override
    public void write(int c) {
        accept((char) c);
    }

    @Override
    public void write(String s, int offset, int length) {
        for (int i = offset, end = offset + length; i < end; i++) {
            accept(s.charAt(i));
        }
    }

    /** Ends the text: the next character starts a new run, as after a block boundary. */
    void endText() {
        closeRun();
        if (pendingHigh != 0) {
            pendingHigh = 0;
            millis += OTHER_BMP;
        }
    }

    @Override
    public void flush() {}

    @Override
    public void close() {}
}
