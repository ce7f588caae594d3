/** Calibration: quality and cost evidence per task type, non-inferiority decisions, routing evaluation. */
@NullMarked
package dev.tiergate.calibration;

import org.jspecify.annotations.NullMarked;
