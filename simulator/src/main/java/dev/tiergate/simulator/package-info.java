/**
 * The simulated Anthropic upstream: a deterministic model of Messages API calls ({@link
 * dev.tiergate.simulator.SimulatedUpstream}), per-model profiles ({@link dev.tiergate.simulator.SimulatorProfiles})
 * and an HTTP server speaking the wire format ({@link dev.tiergate.simulator.SimulatorServer}). Everything it
 * produces is labelled simulated.
 */
@NullMarked
package dev.tiergate.simulator;

import org.jspecify.annotations.NullMarked;
