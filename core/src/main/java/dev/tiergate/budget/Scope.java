package dev.tiergate.budget;

/** Which calls a budget counts. */
public sealed interface Scope permits Scope.Global, Scope.Key, Scope.Team, Scope.TaskType, Scope.Run, Scope.EachRun {

    /** The config word: {@code global}, {@code key}, {@code team}, {@code task_type}, {@code run}. */
    String configName();

    /** Every call through the gateway. */
    record Global() implements Scope {
        @Override
        public String configName() {
            return "global";
        }
    }

    /** Calls made with the gateway key named {@code keyName} (the key's name, never the key). */
    record Key(String keyName) implements Scope {
        @Override
        public String configName() {
            return "key";
        }
    }

    /** Calls attributed to {@code team}. */
    record Team(String team) implements Scope {
        @Override
        public String configName() {
            return "team";
        }
    }

    /** Calls of one task type. */
    record TaskType(String taskType) implements Scope {
        @Override
        public String configName() {
            return "task_type";
        }
    }

    /** Calls of the one workflow run {@code runId}; overrides {@link EachRun} for that run. */
    record Run(String runId) implements Scope {
        @Override
        public String configName() {
            return "run";
        }
    }

    /** Each workflow run separately ({@code per_run: true}): every run id gets its own limit. */
    record EachRun() implements Scope {
        @Override
        public String configName() {
            return "run";
        }
    }
}
