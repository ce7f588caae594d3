#!/usr/bin/env node
// Markdown summary of bench/load/run's results.tsv: the added cost of the gateway (gateway minus direct in
// the same repeat) per mode, then every run. Adapted from the team's internal peer-bench harness
// (summarize.mjs): added RSS, load average and the compact "added" table first.
// Usage: node summarize.mjs results.tsv
import fs from 'node:fs';

const file = process.argv[2];
if (!file) { console.error('usage: summarize.mjs results.tsv'); process.exit(2); }
const lines = fs.readFileSync(file, 'utf8').trim().split('\n');
const cols = lines[0].split('\t');
const rows = lines.slice(1).map((l) => {
  const v = l.split('\t');
  const o = {};
  cols.forEach((c, i) => { o[c] = /^-?\d+(\.\d+)?$/.test(v[i]) ? Number(v[i]) : v[i]; });
  return o;
});

const ms = (us) => (us / 1000).toFixed(2);
const f1 = (x) => (typeof x === 'number' ? x.toFixed(1) : x);
const f0 = (x) => (typeof x === 'number' ? Math.round(x).toLocaleString('en-US') : x);
const modes = [...new Set(rows.map((r) => r.mode))];
const mean = (a) => a.reduce((s, x) => s + x, 0) / (a.length || 1);
const out = [];

out.push('Added by the gateway (gateway minus direct, same repeat; latencies client-side):');
out.push('');
out.push('| mode | repeat | req/s direct | req/s gateway | added p50 ms | added p90 ms | added p99 ms | gateway/direct throughput | gw CPU µs/req | gw RSS MB | load avg | steal % |');
out.push('|---|---|---|---|---|---|---|---|---|---|---|---|');
for (const m of modes) {
  const reps = [...new Set(rows.filter((x) => x.mode === m).map((x) => x.repeat))];
  const acc = { d50: [], d90: [], d99: [], ratio: [], cpu: [] };
  for (const rep of reps) {
    const d = rows.find((x) => x.mode === m && x.repeat === rep && x.target === 'direct');
    const g = rows.find((x) => x.mode === m && x.repeat === rep && x.target === 'gateway');
    if (!d || !g) continue;
    const d50 = (g.p50_us - d.p50_us) / 1000, d90 = (g.p90_us - d.p90_us) / 1000, d99 = (g.p99_us - d.p99_us) / 1000;
    const ratio = g.achieved_rps / d.achieved_rps;
    acc.d50.push(d50); acc.d90.push(d90); acc.d99.push(d99); acc.ratio.push(ratio); acc.cpu.push(g.gw_cpu_us_per_req);
    const sat = g.target_rps > 0 && g.achieved_rps < 0.95 * g.target_rps ? ' (below target: saturated)' : '';
    out.push(`| ${m} | ${rep} | ${f0(d.achieved_rps)} | ${f0(g.achieved_rps)}${sat} | ${d50.toFixed(2)} | ${d90.toFixed(2)} | ${d99.toFixed(2)} | ${ratio.toFixed(3)} | ${f1(g.gw_cpu_us_per_req)} | ${f1(g.gw_rss_mb)} | ${g.load1} | ${f1(g.steal_pct)} |`);
  }
  if (acc.d50.length > 1) {
    out.push(`| ${m} | mean | | | ${mean(acc.d50).toFixed(2)} | ${mean(acc.d90).toFixed(2)} | ${mean(acc.d99).toFixed(2)} | ${mean(acc.ratio).toFixed(3)} | ${mean(acc.cpu).toFixed(1)} | | | |`);
  }
}
const probed = rows.filter((r) => typeof r.clear_p99_us === 'number');
if (probed.length > 0) {
  // bench/load/run --client java: the same runs, over the requests clear of the host's slow windows (and of the
  // 50 ms after each), found by a probe running beside the client (dev.tiergate.bench.HostProbe).
  out.push('');
  out.push('Clear of the host\'s slow windows (java client; requests that overlapped a window, or the 50 ms after one, left out):');
  out.push('');
  out.push('| mode | repeat | host slow % direct / gateway | requests clear direct / gateway | added p50 ms | added p90 ms | added p99 ms | gateway p99 ms |');
  out.push('|---|---|---|---|---|---|---|---|');
  for (const m of modes) {
    for (const rep of [...new Set(probed.filter((x) => x.mode === m).map((x) => x.repeat))]) {
      const d = probed.find((x) => x.mode === m && x.repeat === rep && x.target === 'direct');
      const g = probed.find((x) => x.mode === m && x.repeat === rep && x.target === 'gateway');
      if (!d || !g) continue;
      out.push(`| ${m} | ${rep} | ${d.host_slow_pct.toFixed(1)} / ${g.host_slow_pct.toFixed(1)} | ${f0(d.clear_n)} / ${f0(g.clear_n)} | ${ms(g.clear_p50_us - d.clear_p50_us)} | ${ms(g.clear_p90_us - d.clear_p90_us)} | ${ms(g.clear_p99_us - d.clear_p99_us)} | ${ms(g.clear_p99_us)} |`);
    }
  }
}
out.push('');
out.push('Every run:');
out.push('');
out.push('| mode | repeat | target | achieved req/s | errors | p50 ms | p90 ms | p99 ms | p99.9 ms | gw CPU % of 1 core | gw CPU µs/req | gw RSS MB (peak) | upstream CPU % | wrk CPU % | other CPU % | steal % | load avg |');
out.push('|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|');
for (const m of modes) {
  for (const r of rows.filter((x) => x.mode === m)) {
    out.push(`| ${m} | ${r.repeat} | ${r.target} | ${f1(r.achieved_rps)} | ${r.errors} | ${ms(r.p50_us)} | ${ms(r.p90_us)} | ${ms(r.p99_us)} | ${ms(r.p999_us)} | ${f1(r.gw_cpu_pct)} | ${r.target === 'gateway' ? f1(r.gw_cpu_us_per_req) : '-'} | ${f1(r.gw_rss_mb)} (${f1(r.gw_rss_peak_mb)}) | ${f1(r.up_cpu_pct)} | ${f1(r.wrk_cpu_pct)} | ${f1(r.other_cpu_pct)} | ${f1(r.steal_pct)} | ${r.load1} |`);
  }
}
const errs = rows.reduce((s, r) => s + (Number(r.errors) || 0), 0);
out.push('');
out.push(errs ? `**${errs} errors** (wrk: connect/read/write/timeout or non-2xx status); see raw/.` : 'No errors in any run.');
console.log(out.join('\n'));
