/**
 * {@code tiergate demo}: one simulated day of multi-agent work through the gateway under three policies, and what
 * each cost. Everything it shows comes from the simulated upstream and says so.
 */
@NullMarked
package dev.tiergate.cli.demo;

import org.jspecify.annotations.NullMarked;
