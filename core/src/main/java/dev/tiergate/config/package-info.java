/**
 * Reading configuration files with positions: a YAML tree whose every node knows its line and column, and
 * problems reported as {@code FILE:LINE:COL: message}, all at once.
 */
@NullMarked
package dev.tiergate.config;

import org.jspecify.annotations.NullMarked;
