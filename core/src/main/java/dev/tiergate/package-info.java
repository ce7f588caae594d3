/** Tiergate core: the root holds only the exception base; the work is in the sub-packages. */
@NullMarked
package dev.tiergate;

import org.jspecify.annotations.NullMarked;
