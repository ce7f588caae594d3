package dev.tiergate.budget;

/** Identifies one reservation in the store; opaque. */
public record ReservationId(String value) {
    public ReservationId {
        if (value.isBlank()) {
            throw new IllegalArgumentException("a reservation id must not be blank");
        }
    }

    @Override
    public String toString() {
        return value;
    }
}
