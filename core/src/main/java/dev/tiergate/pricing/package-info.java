/** Model catalog, prices per token class, and exact cost in integer nano-USD. */
@NullMarked
package dev.tiergate.pricing;

import org.jspecify.annotations.NullMarked;
