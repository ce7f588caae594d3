package dev.tiergate.policy;

/** How much a task type matters when budgets get tight: low-priority types are demoted first. */
public enum Priority {
    LOW,
    NORMAL,
    HIGH
}
