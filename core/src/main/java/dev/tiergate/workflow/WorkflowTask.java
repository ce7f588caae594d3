package dev.tiergate.workflow;

import com.fasterxml.jackson.databind.JsonNode;
import java.util.HashSet;
import java.util.List;
import java.util.Set;

/**
 * One task of a {@link WorkflowRun}: what to ask for, of which task type, after which other tasks.
 *
 * <p>The request is opaque to the runner: it is whatever the {@link TaskExecutor} understands, typically an
 * Anthropic Messages request body. The record keeps its own deep copy; the node {@link #request()} returns is
 * shared by everyone who reads this task, so executors that want to change it copy it first ({@link
 * JsonNode#deepCopy()}).
 *
 * @param id unique within the run; not blank
 * @param taskType the Tiergate task type ({@code x-tiergate-task}); not blank
 * @param request the payload for the executor
 * @param dependsOn ids of the tasks that must complete before this one starts, in the order the executor sees their
 *     outputs; no repeats; may be empty
 */
public record WorkflowTask(String id, String taskType, JsonNode request, List<String> dependsOn) {

    /** Requires a non-blank id and task type and distinct dependencies; copies the request and the list. */
    public WorkflowTask {
        if (id.isBlank()) {
            throw new IllegalArgumentException("task id must not be blank");
        }
        if (taskType.isBlank()) {
            throw new IllegalArgumentException("task '" + id + "': task type must not be blank");
        }
        request = request.deepCopy();
        dependsOn = List.copyOf(dependsOn);
        Set<String> seen = new HashSet<>();
        for (String dependency : dependsOn) {
            if (!seen.add(dependency)) {
                throw new IllegalArgumentException(
                        "task '" + id + "' lists dependency '" + dependency + "' more than once");
            }
        }
    }

    /** A task of {@code taskType} with {@code request} that starts after every task in {@code dependsOn}. */
    public static WorkflowTask of(String id, String taskType, JsonNode request, String... dependsOn) {
        return new WorkflowTask(id, taskType, request, List.of(dependsOn));
    }
}
