/** The {@code tiergate} command line. */
@NullMarked
package dev.tiergate.cli;

import org.jspecify.annotations.NullMarked;
