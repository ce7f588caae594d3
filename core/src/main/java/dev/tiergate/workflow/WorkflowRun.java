package dev.tiergate.workflow;

import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Collections;
import java.util.Deque;
import java.util.HashMap;
import java.util.HashSet;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;

/**
 * A workflow run as an orchestrator defines it: an id, an optional budget, and tasks whose dependencies form a
 * directed acyclic graph (fan-out: many tasks depend on one; fan-in: one task depends on many).
 *
 * <p>Validated when built, every problem listed at once: a blank run id, no tasks, duplicate task ids, dependencies
 * on unknown tasks, and dependency cycles, each named as {@code a -> b -> a} (a waits for b, which waits for a).
 * The definition order of {@link #tasks()} is the tie-break order in which {@link WorkflowRunner} starts tasks that
 * are ready at the same time. Immutable and thread-safe.
 *
 * @param id the run id, sent as {@code x-tiergate-run}; not blank
 * @param budget the run's cap, or {@link RunBudget#unlimited()}
 * @param tasks the tasks in definition order; at least one
 * @throws WorkflowException listing every problem if the definition is invalid
 */
public record WorkflowRun(String id, RunBudget budget, List<WorkflowTask> tasks) {

    /** Copies the task list and validates the graph. */
    public WorkflowRun {
        tasks = List.copyOf(tasks);
        List<String> problems = problems(id, tasks);
        if (!problems.isEmpty()) {
            throw new WorkflowException(
                    "workflow run '" + id + "' is invalid (" + problems.size() + " problem"
                            + (problems.size() == 1 ? "" : "s") + "):",
                    problems);
        }
    }

    /** A run of {@code tasks} in this order. */
    public static WorkflowRun of(String id, RunBudget budget, WorkflowTask... tasks) {
        return new WorkflowRun(id, budget, List.of(tasks));
    }

    /** The task with this id, if the run has one. */
    public Optional<WorkflowTask> task(String taskId) {
        return tasks.stream().filter(t -> t.id().equals(taskId)).findFirst();
    }

    private static List<String> problems(String id, List<WorkflowTask> tasks) {
        List<String> problems = new ArrayList<>();
        if (id.isBlank()) {
            problems.add("run id must not be blank");
        }
        if (tasks.isEmpty()) {
            problems.add("a run needs at least one task");
            return problems;
        }
        Map<String, WorkflowTask> byId = new HashMap<>();
        Set<String> duplicates = new LinkedHashSet<>();
        for (WorkflowTask task : tasks) {
            if (byId.putIfAbsent(task.id(), task) != null) {
                duplicates.add(task.id());
            }
        }
        for (String duplicate : duplicates) {
            long count = tasks.stream().filter(t -> t.id().equals(duplicate)).count();
            problems.add("task id '" + duplicate + "' is defined " + count + " times");
        }
        for (WorkflowTask task : tasks) {
            for (String dependency : task.dependsOn()) {
                if (!byId.containsKey(dependency)) {
                    problems.add("task '" + task.id() + "' depends on unknown task '" + dependency + "'");
                }
            }
        }
        for (List<String> cycle : cycles(tasks, byId)) {
            problems.add("dependency cycle: " + String.join(" -> ", cycle));
        }
        return problems;
    }

    /** Each cycle found by a depth-first search in definition order, as a closed path of ids. */
    private static List<List<String>> cycles(List<WorkflowTask> tasks, Map<String, WorkflowTask> byId) {
        Map<String, Integer> order = new HashMap<>();
        for (int i = 0; i < tasks.size(); i++) {
            order.putIfAbsent(tasks.get(i).id(), i);
        }
        Set<String> done = new HashSet<>();
        Set<List<String>> found = new LinkedHashSet<>();
        for (WorkflowTask task : tasks) {
            visit(task.id(), byId, order, new ArrayDeque<>(), done, found);
        }
        return List.copyOf(found);
    }

    private static void visit(
            String id,
            Map<String, WorkflowTask> byId,
            Map<String, Integer> order,
            Deque<String> path,
            Set<String> done,
            Set<List<String>> found) {
        if (done.contains(id)) {
            return;
        }
        if (path.contains(id)) {
            List<String> onPath = new ArrayList<>(path);
            // the path deque holds the newest id first; the cycle runs from id's earlier visit to now
            Collections.reverse(onPath);
            List<String> cycle = new ArrayList<>(onPath.subList(onPath.indexOf(id), onPath.size()));
            found.add(closedFromFirstDefined(cycle, order));
            return;
        }
        WorkflowTask task = byId.get(id);
        if (task == null) {
            return; // an unknown dependency, reported on its own
        }
        path.push(id);
        for (String dependency : task.dependsOn()) {
            visit(dependency, byId, order, path, done, found);
        }
        path.pop();
        done.add(id);
    }

    /** The cycle rotated to start at its earliest-defined task and closed by repeating it: a -> b -> a. */
    private static List<String> closedFromFirstDefined(List<String> cycle, Map<String, Integer> order) {
        int start = 0;
        for (int i = 1; i < cycle.size(); i++) {
            if (order.getOrDefault(cycle.get(i), Integer.MAX_VALUE)
                    < order.getOrDefault(cycle.get(start), Integer.MAX_VALUE)) {
                start = i;
            }
        }
        List<String> closed = new ArrayList<>(cycle.subList(start, cycle.size()));
        closed.addAll(cycle.subList(0, start));
        closed.add(closed.get(0));
        return List.copyOf(closed);
    }
}
