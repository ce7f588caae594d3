/** Task-type policy: tiers, task types, caps, rules, validation and routing. */
@NullMarked
package dev.tiergate.policy;

import org.jspecify.annotations.NullMarked;
