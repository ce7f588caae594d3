#!/usr/bin/env node
// Where the gateway's CPU went in one measured run, per measured request, from `perf script` of a
// `perf record -F 999 -g -k CLOCK_MONOTONIC -C <gateway CPUs>` (bench/load/run --profile). JIT-compiled Java frames
// are named through the JVM's perf map (`jcmd PID Compiler.perfmap`, read by perf from /tmp/perf-PID.map), and
// -XX:+PreserveFramePointer lets perf walk Java stacks.
//
// Prints markdown: CPU time per measured request by thread group (the gateway's threads grouped by name, other
// processes together), then the gateway's carrier threads (where requests run) split by what each sample was
// inside, from the innermost frame that names a part: the ledger (SQLite and its JDBC driver), the upstream client,
// JSON, the call log, metrics, other Tiergate code, the Helidon server, virtual-thread scheduling. A sample in a
// native library without frame pointers (SQLite's, libc's) loses the Java frames above it: it is then named by
// its library ("native: ...", SQLite's own counted as the ledger), and kernel samples by their system call.
// Window: the java client's timeline (first send to last answer, System.nanoTime = CLOCK_MONOTONIC), the samples
// outside it left out; requests: the timeline's lines.
// Threads are grouped by name with trailing numbers dropped; the kernel cuts names to 15 characters, so with a
// thread dump (`jcmd PID Thread.print`, taken after the run) the full names are used, found by native thread id.
// Usage: node cpu-profile.mjs PERF_SCRIPT_TXT GATEWAY_PID TIMELINE [THREAD_DUMP]
// (PERF_SCRIPT_TXT from `perf script -F comm,pid,tid,time,period,ip,sym,dso`)
import fs from 'node:fs';

const [file, gwPidArg, timeline, threadDump] = process.argv.slice(2);
if (!file || !gwPidArg || !timeline) {
  console.error('usage: cpu-profile.mjs PERF_SCRIPT_TXT GATEWAY_PID TIMELINE [THREAD_DUMP]');
  process.exit(2);
}
const gwPid = Number(gwPidArg);

// native thread id -> the Java thread's full name, from lines like `"name" #22 [1857] prio=5 ... nid=1857 ...`
const fullNames = new Map();
if (threadDump && fs.existsSync(threadDump)) {
  for (const line of fs.readFileSync(threadDump, 'utf8').split('\n')) {
    const t = /^"(.*)" .*\bnid=(\d+)\b/.exec(line);
    if (t) fullNames.set(Number(t[2]), t[1]);
  }
}

let from = Infinity, to = -Infinity, requests = 0;
for (const line of fs.readFileSync(timeline, 'utf8').split('\n')) {
  const v = line.split(' ');
  if (v.length < 3 || !/^\d+$/.test(v[1])) continue;
  requests++;
  from = Math.min(from, Number(v[1])); to = Math.max(to, Number(v[2]));
}
if (requests === 0) {
  console.log('(no measured requests in the timeline)');
  process.exit(0);
}

// The innermost frame matching one of these names the part a carrier sample belongs to (first rule wins per frame).
const PARTS = [
  ['ledger (SQLite, JDBC, budgets)', /org\.sqlite\.|dev\.tiergate\.ledger\.|libsqlitejdbc/],
  ['call log', /CallRecorder|dev\.tiergate\.cli\.CallLog|java\.util\.logging\./],
  ['metrics', /io\.micrometer\.|GatewayMetrics/],
  ['upstream client (Helidon WebClient)', /UpstreamClient|io\.helidon\.webclient\./],
  ['JSON (Jackson)', /com\.fasterxml\.jackson\.|ParsedRequest/],
  ['Tiergate handler (routing, cost, responses)', /dev\.tiergate\./],
  ['Helidon server', /io\.helidon\./],
  ['virtual-thread scheduling', /jdk\.internal\.vm\.Continuation|java\.lang\.VirtualThread|ForkJoinPool|DelayScheduler|Thaw|Freeze|StackChunk/],
];

function group(comm) {
  // the virtual-thread carriers, and the pool's delay scheduler (timed parks): perf cuts their names alike
  if (/^ForkJoinPool/.test(comm)) return 'carrier';
  return comm.replace(/[#\d]+$/, '').replace(/-\d+$/, '').trim() || comm;
}

function partOf(frames) {
  for (const f of frames) {
    for (const [name, re] of PARTS) if (re.test(f)) return name;
  }
  return leafPart(frames);
}

// What the innermost frame is: a system call, a native library, or (JIT-compiled or interpreted) Java, by package.
function leafPart(frames) {
  const leaf = frames[0] || '';
  if (/\[kernel\.kallsyms\]/.test(leaf)) {
    const sys = frames.find((f) => /\b__x64_sys_(\w+)/.test(f));
    if (sys) return 'kernel: ' + /__x64_sys_(\w+)/.exec(sys)[1];
    if (frames.some((f) => /handle_softirqs|asm_sysvec|asm_common_interrupt/.test(f))) return 'kernel: interrupts';
    return 'kernel: other';
  }
  const lib = /\(([^()]*)\)\s*$/.exec(leaf);
  const java = /(?:^|\s|L)((?:[a-z]\w*\.)+)[A-Z][\w$]*[.:]/.exec(leaf);
  if (lib && /perf-\d+\.map|libjvm/.test(lib[1]) && java) return 'Java: ' + java[1].split('.').slice(0, 3).join('.');
  return 'native: ' + (lib ? lib[1].split('/').pop().replace(/-[0-9a-f-]{36}-/, '-') : 'unknown');
}

// A sample: "comm  pid/tid  time:  period" then its callchain, one frame per line ("addr sym (dso)").
const header = /^(.*?)\s+(\d+)\/(\d+)\s+([\d.]+):\s+(\d+)/;
const groups = new Map(), parts = new Map();
// the ledger's writer thread (SQLite's group commit), split by its innermost frame
const WRITER = 'tiergate-sqlite-writer';
const writerParts = new Map();
let carrierNs = 0, gatewayNs = 0, totalNs = 0;
for (const sample of fs.readFileSync(file, 'utf8').split('\n\n')) {
  const lines = sample.split('\n').filter((l) => l.trim() !== '');
  if (lines.length === 0) continue;
  const m = header.exec(lines[0]);
  if (!m) continue;
  const t = Math.round(Number(m[4]) * 1e9);
  if (t < from || t > to) continue;
  const ns = Number(m[5]);
  totalNs += ns;
  if (Number(m[2]) !== gwPid) {
    groups.set('other processes', (groups.get('other processes') || 0) + ns);
    continue;
  }
  gatewayNs += ns;
  const g = group(fullNames.get(Number(m[3])) ?? m[1]);
  groups.set('gw: ' + g, (groups.get('gw: ' + g) || 0) + ns);
  if (g === WRITER) {
    const p = leafPart(lines.slice(1).map((l) => l.trim().replace(/^[0-9a-f]+\s+/, '')));
    writerParts.set(p, (writerParts.get(p) || 0) + ns);
  }
  if (g !== 'carrier') continue;
  carrierNs += ns;
  const frames = lines.slice(1).map((l) => l.trim().replace(/^[0-9a-f]+\s+/, ''));
  const p = partOf(frames);
  parts.set(p, (parts.get(p) || 0) + ns);
}

const us = (ns) => (ns / requests / 1000).toFixed(1);
const rows = (map) => [...map.entries()].sort((a, b) => b[1] - a[1]);
console.log(`${requests} measured requests over ${((to - from) / 1e9).toFixed(1)} s; sampled CPU time on the gateway's CPUs: ` +
  `gateway ${us(gatewayNs)} µs per request, everything ${us(totalNs)}.`);
console.log();
console.log('| thread group | µs per request | share of the gateway |');
console.log('|---|---|---|');
for (const [k, ns] of rows(groups)) {
  console.log(`| ${k} | ${us(ns)} | ${k.startsWith('gw: ') ? (100 * ns / gatewayNs).toFixed(1) + '%' : '-'} |`);
}
console.log();
console.log('| carrier threads: inside | µs per request | share of the carriers |');
console.log('|---|---|---|');
for (const [k, ns] of rows(parts)) {
  if (ns / carrierNs < 0.005) continue;
  console.log(`| ${k} | ${us(ns)} | ${(100 * ns / carrierNs).toFixed(1)}% |`);
}
const writerNs = [...writerParts.values()].reduce((a, b) => a + b, 0);
if (writerNs > 0) {
  console.log();
  console.log(`| ${WRITER}: innermost frame | µs per request | share of the writer |`);
  console.log('|---|---|---|');
  for (const [k, ns] of rows(writerParts)) {
    if (ns / writerNs < 0.005) continue;
    console.log(`| ${k} | ${us(ns)} | ${(100 * ns / writerNs).toFixed(1)}% |`);
  }
}
