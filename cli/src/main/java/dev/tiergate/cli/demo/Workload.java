package dev.tiergate.cli.demo;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.tiergate.messages.InputTokenEstimator;
import dev.tiergate.messages.TokenizerFamily;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Random;
import java.util.SplittableRandom;

/**
 * The demo's day of work: a fixed mix of task types, each task a Messages request built deterministically from the
 * seed and the task's index. The same seed gives the same tasks, in the same order, byte for byte.
 */
final class Workload {

    /**
     * One task type's part of the day.
     *
     * @param taskType the {@code x-tiergate-task} value; {@link #UNCLASSIFIED} tasks send no header
     * @param percent share of the day's tasks
     * @param minInputTokens smallest prompt, in tokens
     * @param maxInputTokens largest prompt, in tokens; sizes are log-uniform in between
     */
    record Share(String taskType, int percent, int minInputTokens, int maxInputTokens) {}

    static final String UNCLASSIFIED = "unclassified";

    /** The mix: 17% of tasks are the frontier types, as in a typical multi-agent system (see docs/demo.md). */
    static final List<Share> MIX = List.of(
            new Share("synthesis", 5, 6_000, 20_000),
            new Share("architecture_code", 4, 4_000, 16_000),
            new Share("edge_cases", 3, 1_500, 6_000),
            new Share("judge", 5, 2_000, 8_000),
            new Share("summarization", 18, 1_500, 8_000),
            new Share("extraction", 22, 800, 4_000),
            new Share("classification", 20, 300, 1_500),
            new Share("template_filling", 10, 500, 2_000),
            new Share("reranking", 8, 1_500, 6_000),
            new Share(UNCLASSIFIED, 5, 300, 4_000));

    /** What an agent written without caps asks for, whatever the task. */
    static final int REQUESTED_MAX_TOKENS = 4096;

    /** The model every agent asks for; the gateway's policy decides what actually serves it. */
    static final String REQUESTED_MODEL = "claude-opus-4-6";

    /** Share of tasks sent with {@code "stream": true}, so the gateway's SSE path carries part of the day. */
    static final int STREAM_PERCENT = 30;

    /**
     * One task.
     *
     * @param index position in the day, from 0
     * @param taskType its task type
     * @param inputTokens the prompt size aimed at (the ledger records what the upstream counted)
     * @param stream whether it is sent as a stream
     */
    record Task(int index, String taskType, int inputTokens, boolean stream) {

        /** The task's id, also its simulator call key: the same task draws the same outcome under every policy. */
        String id() {
            return "task-" + index;
        }

        boolean classified() {
            return !taskType.equals(UNCLASSIFIED);
        }
    }

    private static final ObjectMapper JSON = new ObjectMapper();
    private static final String[] WORDS =
            ("the report says revenue grew in the third quarter while costs held steady across every region"
                            + " but the audit notes a gap between invoices and shipments that nobody has explained"
                            + " customer service tickets mention delays in the northern warehouse and a new carrier"
                            + " contract signed in march module payment gateway retries idempotency key ledger"
                            + " settlement reconciliation policy owner deadline risk mitigation evidence source")
                    .split(" ");
    private static final int CORPUS_CHARS = 400_000;

    private final long seed;
    private final String corpus;
    private final double charsPerToken;

    Workload(long seed) {
        this.seed = seed;
        SplittableRandom random = new SplittableRandom(seed);
        StringBuilder text = new StringBuilder(CORPUS_CHARS + 32);
        while (text.length() < CORPUS_CHARS) {
            text.append(WORDS[random.nextInt(WORDS.length)]);
            text.append(random.nextInt(12) == 0 ? ". " : " ");
        }
        this.corpus = text.toString();
        long tokens = InputTokenEstimator.of(TokenizerFamily.CLASSIC).estimateText(corpus);
        this.charsPerToken = (double) corpus.length() / tokens;
    }

    /**
     * The day's tasks: each task type's exact share of {@code count} (largest remainders), shuffled by the seed.
     */
    List<Task> tasks(int count) {
        List<String> types = new ArrayList<>(count);
        int[] counts = new int[MIX.size()];
        int assigned = 0;
        for (int i = 0; i < MIX.size(); i++) {
            counts[i] = count * MIX.get(i).percent() / 100;
            assigned += counts[i];
        }
        // Largest remainders, ties to the earlier type: the shares add up to exactly count.
        List<Integer> order = new ArrayList<>();
        for (int i = 0; i < MIX.size(); i++) {
            order.add(i);
        }
        order.sort((x, y) -> Integer.compare(
                count * MIX.get(y).percent() % 100, count * MIX.get(x).percent() % 100));
        for (int k = 0; assigned < count; k++, assigned++) {
            counts[order.get(k % order.size())]++;
        }
        for (int i = 0; i < MIX.size(); i++) {
            types.addAll(Collections.nCopies(counts[i], MIX.get(i).taskType()));
        }
        Collections.shuffle(types, new Random(seed));
        SplittableRandom random = new SplittableRandom(seed ^ 0x5DEECE66DL);
        List<Task> tasks = new ArrayList<>(count);
        for (int i = 0; i < count; i++) {
            Share share = share(types.get(i));
            double logMin = Math.log(share.minInputTokens());
            double logMax = Math.log(share.maxInputTokens());
            int input = (int) Math.round(Math.exp(logMin + random.nextDouble() * (logMax - logMin)));
            boolean stream = random.nextInt(100) < STREAM_PERCENT;
            tasks.add(new Task(i, types.get(i), input, stream));
        }
        return List.copyOf(tasks);
    }

    /** The Messages request body of {@code task}: a system prompt for its kind of agent and a document to work on. */
    byte[] body(Task task) {
        SplittableRandom random = new SplittableRandom(seed * 31 + task.index());
        int chars = (int) Math.min(corpus.length() - 1, Math.round(task.inputTokens() * charsPerToken));
        int start = random.nextInt(corpus.length() - chars);
        ObjectNode body = JSON.createObjectNode();
        body.put("model", REQUESTED_MODEL);
        body.put("max_tokens", REQUESTED_MAX_TOKENS);
        if (task.stream()) {
            body.put("stream", true);
        }
        body.put("system", "You are the " + task.taskType().replace('_', ' ') + " agent of a research team.");
        ObjectNode message = body.putArray("messages").addObject();
        message.put("role", "user");
        message.put(
                "content",
                instruction(task.taskType()) + " (" + task.id() + ")\n\n" + corpus.substring(start, start + chars));
        try {
            return JSON.writeValueAsBytes(body);
        } catch (com.fasterxml.jackson.core.JsonProcessingException e) {
            throw new IllegalStateException("a generated request body always serializes", e);
        }
    }

    private static String instruction(String taskType) {
        return switch (taskType) {
            case "synthesis" -> "Reconcile the conflicting evidence in these documents and state what holds.";
            case "architecture_code" -> "Change the payment module below to retry idempotently; keep its layering.";
            case "edge_cases" -> "List the inputs this procedure gets wrong, with the reason for each.";
            case "judge" -> "Judge the other agents' answers below: which is right, and why?";
            case "summarization" -> "Summarize this report in five bullet points.";
            case "extraction" -> "Extract every person, company and date as JSON.";
            case "classification" -> "Is this ticket about billing? Answer yes or no.";
            case "template_filling" -> "Fill the customer letter template from these notes.";
            case "reranking" -> "Rank these passages by relevance to the question.";
            default -> "Help with the following.";
        };
    }

    private static Share share(String taskType) {
        for (Share s : MIX) {
            if (s.taskType().equals(taskType)) {
                return s;
            }
        }
        throw new IllegalArgumentException("not a task type of the demo's mix: " + taskType);
    }
}
