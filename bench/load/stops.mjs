#!/usr/bin/env node
// What the gateway was doing while its slow requests waited (bench/load/run --ftrace). Reads the java client's
// timeline of one measured run and a kernel trace of the same run (tracefs, trace_clock mono, record-tgid; events
// sched_switch with a kernel stack on every switch into uninterruptible sleep, sched_waking, hrtimer_expire_entry,
// and the entries of clock_nanosleep and nanosleep).
//
// The slow requests come in episodes: requests over 2 ms whose sends are less than 5 ms apart. For each episode,
// from 1 ms before its first send to the end of its slowest request, it tells:
//   - how the gateway's CPU was shared: idle, the gateway's threads by name, other processes;
//   - whether a carrier (ForkJoinPool thread) slept in nanosleep for about 1, 2, 5, 10, 15, 20 or 25 ms: the steps
//     of SQLite's busy handler, a virtual thread waiting inside a JNI call for a lock, its carrier pinned;
//   - the longest wait of a gateway thread in uninterruptible sleep (disk I/O), with its kernel stack;
//   - the slowest start of a gateway thread woken while the gateway's CPU was idle: from its wake-up to its
//     running there. Over a millisecond with nothing else to run means the host ran the halted vCPU late.
// Then one line per cause: how many episodes and slow requests each explains.
// Usage: node stops.mjs TIMELINE FTRACE GATEWAY_PID GATEWAY_CPU
import fs from 'node:fs';
import readline from 'node:readline';

const [timeline, ftrace, gwPidArg, gwCpuArg] = process.argv.slice(2);
if (!timeline || !ftrace || !gwPidArg || gwCpuArg === undefined) {
  console.error('usage: stops.mjs TIMELINE FTRACE GATEWAY_PID GATEWAY_CPU');
  process.exit(2);
}
const gwPid = Number(gwPidArg);
const gwCpu = Number(gwCpuArg);
const SLOW_NS = 2e6, APART_NS = 5e6, BEFORE_NS = 1e6;
const BUSY_STEPS_MS = [1, 2, 5, 10, 15, 20, 25];

// the timeline: "due sent end status" in ns (System.nanoTime, CLOCK_MONOTONIC: the trace's mono clock)
const requests = [];
for (const line of fs.readFileSync(timeline, 'utf8').split('\n')) {
  const v = line.split(' ');
  if (v.length < 3 || !/^\d+$/.test(v[1])) continue;
  requests.push([Number(v[1]), Number(v[2])]);
}
requests.sort((a, b) => a[0] - b[0]);
const episodes = [];
for (const [sent, end] of requests) {
  if (end - sent <= SLOW_NS) continue;
  const last = episodes[episodes.length - 1];
  if (last && sent - last.lastSent < APART_NS) {
    last.lastSent = sent; last.to = Math.max(last.to, end); last.n++;
    last.worst = Math.max(last.worst, end - sent);
  } else {
    episodes.push({ from: sent - BEFORE_NS, lastSent: sent, to: end, n: 1, worst: end - sent });
  }
}

// "  comm-tid  (  tgid) [cpu] flags  seconds.micros: event: fields", then for a stack " => frame+0x.../0x..."
// (a syscall's entry reads "sys_name(args)")
const lineRe = /^\s*(.+?)-(\d+)\s+\(\s*(\S+)\)\s+\[(\d+)\]\s+\S+\s+(\d+)\.(\d+):\s+(\w+)(?::\s*|\()(.*)$/;
const switches = []; // on the gateway's CPU: [t, next tid, next comm]
const dWaits = []; // [from, to, tid, comm, stack summary]
const timedSleeps = []; // [from, to, tid, comm]: a gateway thread asleep, woken by a timer
const tgidOf = new Map();
const asleepSince = new Map(); // tid -> [t, comm, 'D' stack | 'S']
let pendingStack = null; // the D switch whose stack follows
const lastTimerOn = new Map(); // cpu -> when a sleeper's timer (hrtimer_wakeup) last expired there
const nanosleepAt = new Map(); // tid -> when it last entered clock_nanosleep or nanosleep
const wokenAt = new Map(); // gateway tid -> [when woken, whether the gateway's CPU was idle then]
const lateWakes = []; // [woken, ran, tid, comm]: gateway threads woken while the gateway's CPU was idle
let runningOnGwCpu = -1;

const rl = readline.createInterface({ input: fs.createReadStream(ftrace), crlfDelay: Infinity });
for await (const line of rl) {
  if (pendingStack) {
    const f = line.trim();
    if (f.startsWith('=>')) {
      const frame = f.slice(3).split('+')[0];
      if (frame.startsWith('__x64_sys_')) pendingStack.syscall ??= frame.slice(10);
      else if (!/^(__schedule|schedule|io_schedule|__traceiter|trace_)/.test(frame)) pendingStack.top ??= frame;
      continue;
    }
    if (f.endsWith('<stack trace>')) continue;
    pendingStack = null;
  }
  const m = lineRe.exec(line);
  if (!m) continue;
  const tid = Number(m[2]), cpu = Number(m[4]);
  const t = Number(m[5]) * 1e9 + Number(m[6].padEnd(9, '0'));
  if (/^\d+$/.test(m[3])) tgidOf.set(tid, Number(m[3]));
  const event = m[7], fields = m[8];
  if (event === 'sys_clock_nanosleep' || event === 'sys_nanosleep') {
    nanosleepAt.set(tid, t);
  } else if (event === 'hrtimer_expire_entry') {
    if (fields.includes('function=hrtimer_wakeup')) lastTimerOn.set(cpu, t);
  } else if (event === 'sched_waking') {
    const w = /comm=(.*) pid=(\d+)/.exec(fields);
    const wtid = Number(w[2]);
    const since = asleepSince.get(wtid);
    if (since) {
      asleepSince.delete(wtid);
      if (tgidOf.get(wtid) === gwPid) wokenAt.set(wtid, [t, runningOnGwCpu === 0]);
      if (since[2] === 'S') {
        // woken by its own timer, having gone to sleep in nanosleep (not a futex wait with a timeout)
        const slept = nanosleepAt.get(wtid) ?? -Infinity;
        if (t - (lastTimerOn.get(cpu) ?? -Infinity) < 20_000 && since[0] - slept < 1e6 && slept <= since[0]) {
          timedSleeps.push([since[0], t, wtid, since[1]]);
        }
      } else {
        dWaits.push([since[0], t, wtid, since[1], since[2]]);
      }
    }
  } else if (event === 'sched_switch') {
    const p = /prev_comm=(.*) prev_pid=(\d+) prev_prio=\d+ prev_state=(\S+)/.exec(fields);
    const n = /next_comm=(.*) next_pid=(\d+)/.exec(fields);
    if (cpu === gwCpu) {
      const next = Number(n[2]);
      switches.push([t, next, n[1]]);
      runningOnGwCpu = next;
      const woken = wokenAt.get(next);
      if (woken) {
        wokenAt.delete(next);
        if (woken[1]) lateWakes.push([woken[0], t, next, n[1]]);
      }
    }
    const prevTid = Number(p[2]);
    if (Number(m[3]) === gwPid) {
      if (p[3].startsWith('D')) {
        const stack = { top: undefined, syscall: undefined };
        asleepSince.set(prevTid, [t, p[1], stack]);
        pendingStack = stack;
      } else if (p[3].startsWith('S')) {
        asleepSince.set(prevTid, [t, p[1], 'S']);
      }
    }
  }
}

/** The longest of [from, to, ...] stretches, or undefined. */
const longest = (stretches) => stretches.reduce((a, b) => (!a || b[1] - b[0] > a[1] - a[0] ? b : a), undefined);
const name = (comm) => comm.replace(/(-\d+)+-?$/, '').replace(/\/\d+$/, '');
const busyStep = (ns) => BUSY_STEPS_MS.some((ms) => Math.abs(ns / 1e6 - ms) < 0.15);
const causes = new Map();
const rows = [];
for (const e of episodes) {
  // the gateway CPU's time in the episode, by who ran
  const share = new Map();
  let who = 'idle', since = e.from;
  let i = 0;
  while (i < switches.length && switches[i][0] <= e.from) {
    who = switches[i][1] === 0 ? 'idle' : name(switches[i][2]);
    i++;
  }
  for (; i < switches.length && switches[i][0] < e.to; i++) {
    share.set(who, (share.get(who) ?? 0) + switches[i][0] - since);
    since = switches[i][0];
    who = switches[i][1] === 0 ? 'idle' : name(switches[i][2]);
  }
  share.set(who, (share.get(who) ?? 0) + e.to - since);
  const span = e.to - e.from;
  const idle = (share.get('idle') ?? 0) / span;
  const busy = timedSleeps.filter(([s, t, , comm]) => s < e.to && t > e.from && comm.startsWith('ForkJoinPool')
    && busyStep(t - s));
  const d = longest(dWaits.filter(([s, t]) => s < e.to && t > e.from && t - s > 2e5));
  // the slowest start of a gateway thread woken while its CPU was idle: an idle vCPU that the host ran late
  const wake = longest(lateWakes.filter(([w, r]) => w < e.to && r > e.from));
  const wakeNs = wake ? wake[1] - wake[0] : 0;
  let cause;
  if (busy.length > 0) cause = 'a carrier asleep in steps of SQLite\'s busy handler (a JNI call waiting for a lock)';
  else if (d) cause = `${name(d[3])} in uninterruptible sleep: ${d[4].top ?? '?'} (${d[4].syscall ?? '?'})`;
  else if (wakeNs > 1e6) cause = 'a gateway thread woken on the idle gateway CPU and run over 1 ms later (the host ran the vCPU late)';
  else if (idle < 0.2) cause = 'the gateway\'s CPU busy (queueing)';
  else cause = 'none of these: the gateway\'s CPU mostly idle, no gateway thread in disk I/O';
  const c = causes.get(cause) ?? { episodes: 0, requests: 0 };
  c.episodes++; c.requests += e.n; causes.set(cause, c);
  const top = [...share].sort((a, b) => b[1] - a[1]).slice(0, 4)
    .map(([k, v]) => `${k} ${(v / 1e6).toFixed(1)}`).join(', ');
  rows.push(`| ${((e.lastSent - requests[0][0]) / 1e9).toFixed(3)} | ${e.n} | ${(e.worst / 1e6).toFixed(1)} | ${top} | `
    + `${busy.map(([s, t]) => ((t - s) / 1e6).toFixed(1)).join(' + ') || '-'} | `
    + `${wake ? `${name(wake[3])} ${(wakeNs / 1e6).toFixed(2)}` : '-'} | `
    + `${d ? `${name(d[3])} ${((d[1] - d[0]) / 1e6).toFixed(1)} ms ${d[4].top ?? '?'} (${d[4].syscall ?? '?'})` : '-'} |`);
}
const slow = episodes.reduce((a, e) => a + e.n, 0);
console.log(`${episodes.length} episodes, ${slow} requests over 2 ms (of ${requests.length}); what each episode overlapped:`);
console.log();
console.log('| cause | episodes | requests over 2 ms |');
console.log('|---|---|---|');
for (const [cause, c] of [...causes].sort((a, b) => b[1].requests - a[1].requests)) {
  console.log(`| ${cause} | ${c.episodes} | ${c.requests} |`);
}
if (process.env.STOPS_EPISODES) {
  console.log();
  console.log('| last send, s | requests over 2 ms | worst ms | gateway CPU, ms by who ran | carrier timed sleeps, ms | '
    + 'slowest start on the idle CPU, ms | longest disk wait |');
  console.log('|---|---|---|---|---|---|---|');
  for (const r of rows) console.log(r);
}
