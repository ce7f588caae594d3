// End-to-end check with the official TypeScript SDK: a plain and a streamed Messages call through the
// Tiergate gateway (built jar, simulated upstream in process, fresh SQLite ledger). Run by .ci/run after the
// Maven build; needs JAVA_HOME pointing at a JDK >= 21 (bin/with-jdk sets it) and cli/target/tiergate.jar.
import Anthropic from "@anthropic-ai/sdk";
import { spawn } from "node:child_process";
import { createHash } from "node:crypto";
import { copyFileSync, mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";

const root = resolve(dirname(fileURLToPath(import.meta.url)), "..", "..");
const jar = join(root, "cli", "target", "tiergate.jar");
const java = process.env.JAVA_HOME ? join(process.env.JAVA_HOME, "bin", "java") : "java";
const key = "tg_e2e_typescript_sdk_key";
const dir = mkdtempSync(join(tmpdir(), "tiergate-e2e-"));
copyFileSync(join(root, "examples", "policy.yaml"), join(dir, "policy.yaml"));
writeFileSync(
  join(dir, "tiergate.yaml"),
  [
    "listen: { host: 127.0.0.1, port: 0 }",
    "policy: policy.yaml",
    "upstream: { base_url: simulated, simulator_seed: 3, simulator_time_compression: 1000 }",
    "keys:",
    `  - { name: ts-e2e, sha256: ${createHash("sha256").update(key).digest("hex")} }`,
    "ledger: { sqlite: ledger.db }",
    "",
  ].join("\n"),
);

const gateway = spawn(java, ["-jar", jar, "serve", "--config", join(dir, "tiergate.yaml")], {
  stdio: ["ignore", "pipe", "pipe"],
});
let stderr = "";
gateway.stderr.on("data", (d) => (stderr += d));
const baseURL = await new Promise((ok, fail) => {
  let out = "";
  const timer = setTimeout(() => fail(new Error("gateway did not start in 60 s:\n" + out + stderr)), 60_000);
  gateway.stdout.on("data", (d) => {
    out += d;
    const m = out.match(/listening on (http:\/\/127\.0\.0\.1:\d+)/);
    if (m) {
      clearTimeout(timer);
      ok(m[1]);
    }
  });
  gateway.on("exit", (code) => fail(new Error(`gateway exited with ${code}:\n${out}${stderr}`)));
});

const client = new Anthropic({ baseURL, apiKey: key, maxRetries: 0 });
let passed = 0;
let failed = 0;
async function check(name, fn) {
  try {
    await fn();
    passed++;
    console.log(`ok   ${name}`);
  } catch (e) {
    failed++;
    console.log(`FAIL ${name}: ${e.stack ?? e}`);
  }
}
function expect(cond, what) {
  if (!cond) throw new Error(what);
}

await check("plain message is routed by task type, capped, costed and says it is simulated", async () => {
  const { data, response } = await client.messages
    .create({
      model: "task:extraction",
      max_tokens: 4000,
      messages: [{ role: "user", content: "Extract the people: Ada met Grace in London." }],
    })
    .withResponse();
  expect(response.headers.get("x-tiergate-task") === "extraction", "x-tiergate-task");
  expect(response.headers.get("x-tiergate-model") === "claude-haiku-4-5-20251001", "x-tiergate-model");
  expect(response.headers.get("x-tiergate-max-tokens") === "300", "x-tiergate-max-tokens");
  expect(/^\d+\.\d{9}$/.test(response.headers.get("x-tiergate-cost-usd") ?? ""), "x-tiergate-cost-usd");
  expect(data.model === "claude-haiku-4-5-20251001", `model ${data.model}`);
  expect(data.content[0].type === "text" && data.content[0].text.startsWith("[simulated"), "simulated text");
  expect(data.usage.output_tokens > 0 && data.usage.output_tokens <= 300, `output_tokens ${data.usage.output_tokens}`);
});

await check("streamed message arrives event by event with cumulative usage", async () => {
  const kinds = new Set();
  const stream = client.messages.stream(
    {
      model: "claude-opus-4-6",
      max_tokens: 9000,
      messages: [{ role: "user", content: "Reconcile the two reports and list the conflicts." }],
    },
    { headers: { "x-tiergate-task": "synthesis" } },
  );
  stream.on("streamEvent", (e) => kinds.add(e.type));
  const message = await stream.finalMessage();
  expect(message.model === "claude-opus-4-6", `model ${message.model}`);
  expect(kinds.has("message_start") && kinds.has("content_block_delta") && kinds.has("message_stop"), [...kinds].join());
  expect(message.usage.output_tokens > 0 && message.usage.output_tokens <= 2000, `output ${message.usage.output_tokens}`);
  expect(message.content[0].text.startsWith("[simulated"), "simulated text");
});

await check("a bad key gets Anthropic's authentication_error", async () => {
  const bad = new Anthropic({ baseURL, apiKey: "not-a-key", maxRetries: 0 });
  try {
    await bad.messages.create({ model: "task:extraction", max_tokens: 5, messages: [{ role: "user", content: "x" }] });
    throw new Error("expected a 401");
  } catch (e) {
    expect(e instanceof Anthropic.AuthenticationError, `got ${e}`);
  }
});

gateway.kill("SIGTERM");
console.log(`typescript-sdk: ${passed} passed, ${failed} failed`);
process.exit(failed === 0 ? 0 : 1);
