/** Test support: {@link dev.tiergate.testing.FakeAnthropic}, a scripted Anthropic upstream on a real port. */
@NullMarked
package dev.tiergate.testing;

import org.jspecify.annotations.NullMarked;
