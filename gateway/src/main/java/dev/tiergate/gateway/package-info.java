/** The Anthropic-compatible HTTP gateway: authenticate, classify, route, cap, forward, stream, cost, record. */
@NullMarked
package dev.tiergate.gateway;

import org.jspecify.annotations.NullMarked;
