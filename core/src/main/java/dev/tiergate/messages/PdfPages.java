package dev.tiergate.messages;

/**
 * Counts page objects ({@code /Type /Page}, not {@code /Pages}) in base64 PDF data while decoding it, without
 * materialising the decoded bytes. Pages declared inside compressed object streams are invisible here, so a
 * result of zero means "unknown", not "empty".
 */
final class PdfPages {
    private static final byte[] TYPE = {'/', 'T', 'y', 'p', 'e'};
    private static final byte[] PAGE = {'/', 'P', 'a', 'g', 'e'};
    private static final int[] SEXTETS = new int[128];

    static {
        java.util.Arrays.fill(SEXTETS, -1);
        String alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
        for (int i = 0; i < alphabet.length(); i++) {
            SEXTETS[alphabet.charAt(i)] = i;
        }
    }

    private PdfPages() {}

    static long count(String base64) {
        Matcher matcher = new Matcher();
        int bits = 0;
        int buffered = 0;
        for (int i = 0, n = base64.length(); i < n; i++) {
            char c = base64.charAt(i);
            int sextet = c < 128 ? SEXTETS[c] : -1;
            if (sextet < 0) {
                continue; // padding, line breaks, or junk: skip, never fail admission on it
            }
            bits = (bits << 6) | sextet;
            buffered += 6;
            if (buffered >= 8) {
                buffered -= 8;
                matcher.accept((bits >>> buffered) & 0xFF);
            }
        }
        return matcher.pages;
    }

    private static final class Matcher {
        long pages;
        private int typeAt;
        private int pageAt = -1; // -1: not after "/Type"
        private boolean checkPlural;

        void accept(int b) {
            if (checkPlural) {
                checkPlural = false;
                if (b != 's') {
                    pages++;
                }
            }
            if (pageAt >= 0) {
                if (pageAt == 0 && (b == ' ' || b == '\n' || b == '\r' || b == '\t')) {
                    return;
                }
                if (b == PAGE[pageAt]) {
                    pageAt++;
                    if (pageAt == PAGE.length) {
                        pageAt = -1;
                        checkPlural = true;
                    }
                    return;
                }
                pageAt = -1;
            }
            if (b == TYPE[typeAt]) {
                typeAt++;
                if (typeAt == TYPE.length) {
                    typeAt = 0;
                    pageAt = 0;
                }
            } else {
                typeAt = b == '/' ? 1 : 0;
            }
        }
    }
}
