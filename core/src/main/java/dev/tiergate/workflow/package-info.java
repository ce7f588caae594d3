/**
 * Workflow runs for orchestrators: a run of typed tasks with dependencies (fan-out, fan-in), executed by N agents in
 * parallel on virtual threads, stopped cleanly when the run's budget is spent, and reported with a cost summary by
 * task type. Entry points: {@link dev.tiergate.workflow.WorkflowRun} and {@link
 * dev.tiergate.workflow.WorkflowRunner}.
 */
@NullMarked
package dev.tiergate.workflow;

import org.jspecify.annotations.NullMarked;
