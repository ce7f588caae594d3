/** Anthropic Messages wire facts: request inspection, input-token estimates, stream usage. */
@NullMarked
package dev.tiergate.messages;

import org.jspecify.annotations.NullMarked;
