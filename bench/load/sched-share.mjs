#!/usr/bin/env node
// Who ran on the gateway's CPU(s) during one measured run, from `perf script` of a
// `perf record -e sched:sched_switch -k CLOCK_MONOTONIC` on those CPUs (bench/load/run --sched). Each switch
// starts a stretch of the incoming task; each stretch is cut to the measured window (the java client's timeline,
// first send to last answer, on the same clock; otherwise the whole recording) and added to its task's group.
// Gateway threads are grouped by name without their numbers ("C2 CompilerThre", "ForkJoinPool" for the
// virtual-thread carriers, "tiergate-sqlite" for the ledger's threads, "GC Thread"); other processes' by command.
// Prints one markdown row: the share of the CPUs' time per group, the largest first.
// Usage: node sched-share.mjs PERF_SCRIPT_TXT GATEWAY_PID CPUS [TIMELINE]
// (PERF_SCRIPT_TXT from `perf script -F cpu,pid,tid,time,event,trace`)
import fs from 'node:fs';

const [file, gwPidArg, cpusArg, timeline] = process.argv.slice(2);
if (!file || !gwPidArg || !cpusArg) {
  console.error('usage: sched-share.mjs PERF_SCRIPT_TXT GATEWAY_PID CPUS [TIMELINE]');
  process.exit(2);
}
const gwPid = Number(gwPidArg);
const cpus = Number(cpusArg);

// The measured window, in ns: the timeline's lines are "due sent end status" (System.nanoTime, CLOCK_MONOTONIC).
let from = -Infinity, to = Infinity;
if (timeline && fs.existsSync(timeline)) {
  from = Infinity; to = -Infinity;
  for (const line of fs.readFileSync(timeline, 'utf8').split('\n')) {
    const v = line.split(' ');
    if (v.length < 3 || !/^\d+$/.test(v[1])) continue;
    from = Math.min(from, Number(v[1])); to = Math.max(to, Number(v[2]));
  }
}

// "  1234/1240  [001] 64018.377892: sched:sched_switch: prev_comm=... ==> next_comm=X next_pid=N ...": the task
// switched out is the event's own (pid/tid). Idle time ends without an event of its own, so each CPU's stretch runs
// from one switch on that CPU to its next, whoever it was.
const re = /^\s*(\d+)\/\s*(\d+)\s+\[(\d+)\]\s+([\d.]+): sched:sched_switch: .*==> next_comm=(.*?) next_pid=(\d+)/;
const processOf = new Map(); // tid -> pid, learnt when the thread switches out
const current = new Map(); // cpu -> [start, tid, comm] of the task running there
const stretches = []; // [start, end, tid, comm]
let first = Infinity, end = -Infinity;
for (const line of fs.readFileSync(file, 'utf8').split('\n')) {
  const m = re.exec(line);
  if (!m) continue;
  const pid = Number(m[1]), tid = Number(m[2]), cpu = Number(m[3]);
  const t = Math.round(Number(m[4]) * 1e9);
  processOf.set(tid, pid);
  first = Math.min(first, t); end = Math.max(end, t);
  const ran = current.get(cpu);
  if (ran) stretches.push([ran[0], t, ran[1], ran[2]]);
  current.set(cpu, [t, Number(m[6]), m[5]]);
}
if (from === -Infinity) { from = first; to = end; }
const window = (to - from) * cpus;
if (!(window > 0) || stretches.length === 0) {
  console.log('| (no scheduler events in the measured window) |');
  process.exit(0);
}

const groups = new Map();
for (const [s, e, tid, comm] of stretches) {
  const ns = Math.min(e, to) - Math.max(s, from);
  if (ns <= 0) continue;
  let group;
  if (tid === 0 || comm.startsWith('swapper')) group = 'idle';
  else if (processOf.get(tid) === gwPid) group = 'gw: ' + comm.replace(/#\d+/g, '').replace(/(-\d+)+-?$/, '').trim();
  else group = 'other: ' + comm.replace(/[/:]\d+.*$/, '').replace(/-\d+$/, '');
  groups.set(group, (groups.get(group) || 0) + ns);
}
const pct = (ns) => (100 * ns / window).toFixed(1);
const gw = [...groups].filter(([g]) => g.startsWith('gw: ')).reduce((a, [, v]) => a + v, 0);
const others = [...groups].filter(([g]) => g.startsWith('other: ')).reduce((a, [, v]) => a + v, 0);
const top = [...groups].filter(([g]) => g !== 'idle').sort((a, b) => b[1] - a[1]).slice(0, 8)
  .map(([g, v]) => `${g} ${pct(v)}`).join(', ');
console.log(`| ${pct(gw)} | ${pct(others)} | ${pct(groups.get('idle') || 0)} | ${top} |`);
