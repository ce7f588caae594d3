package dev.tiergate.pricing;

import dev.tiergate.RouterException;

/** A cost cannot be computed exactly: unknown model, or a modifier the catalog has no price for. */
public final class PricingException extends RouterException {
    private static final long serialVersionUID = 1L;

    public PricingException(String message) {
        super(message);
    }
}
