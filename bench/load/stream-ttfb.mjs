#!/usr/bin/env node
// Streaming time to first byte, direct vs through a gateway, measured client-side (part of bench/load/run,
// which calls this with --stream; it can also be run on its own against running servers).
//
//   node stream-ttfb.mjs --direct http://127.0.0.1:9101/v1/messages --gateway http://127.0.0.1:8181/v1/messages \
//     [--direct-header 'k: v']... [--gateway-header 'k: v']... [--requests 300] [--warmup 50] \
//     [--body FILE] [--new-conn] [--out DIR]
//
// Sends --requests "stream": true Messages calls to each target, one at a time, alternating direct and
// gateway (the order within each pair flips every pair, so neither side always goes first). Before that,
// --warmup pairs that are not recorded. Per call it records, from just before the request is written:
//   headers_us  response status line and headers received
//   ttfb_us     first byte of the response body (the first SSE event) received
//   total_us    the body ended
// and checks the SSE events: the call counts as complete only with status 200 and an event sequence that
// starts with message_start and ends with message_stop. Connections are kept alive (one per target, as an SDK
// would), or a new one per call with --new-conn.
// Output: DIR/stream.tsv (one row per call), DIR/stream-summary.json, and a markdown table on stdout.
import http from 'node:http';
import fs from 'node:fs';
import path from 'node:path';

const args = process.argv.slice(2);
const opt = { directHeaders: [], gatewayHeaders: [], requests: 300, warmup: 50, body: null, newConn: false, out: null };
for (let i = 0; i < args.length; i++) {
  const a = args[i], v = () => args[++i];
  switch (a) {
    case '--direct': opt.direct = v(); break;
    case '--gateway': opt.gateway = v(); break;
    case '--direct-header': opt.directHeaders.push(v()); break;
    case '--gateway-header': opt.gatewayHeaders.push(v()); break;
    case '--requests': opt.requests = Number(v()); break;
    case '--warmup': opt.warmup = Number(v()); break;
    case '--body': opt.body = v(); break;
    case '--new-conn': opt.newConn = true; break;
    case '--out': opt.out = v(); break;
    default: console.error(`unknown option ${a}`); process.exit(2);
  }
}
if (!opt.direct || !opt.gateway) { console.error('--direct URL and --gateway URL are required'); process.exit(2); }

const body = opt.body
  ? JSON.parse(fs.readFileSync(opt.body, 'utf8'))
  : { model: 'claude-haiku-4-5-20251001', max_tokens: 64, messages: [{ role: 'user', content: 'Reply with the single word ok.' }] };
body.stream = true;
const payload = Buffer.from(JSON.stringify(body));

const parseHeaders = (list) => Object.fromEntries(list.map((h) => {
  const i = h.indexOf(':');
  return [h.slice(0, i).trim().toLowerCase(), h.slice(i + 1).trim()];
}));

function target(name, url, headerList) {
  const u = new URL(url);
  if (!['127.0.0.1', 'localhost', '[::1]'].includes(u.hostname)) { console.error(`refusing non-loopback ${url}`); process.exit(2); }
  return {
    name, url: u,
    headers: { 'content-type': 'application/json', 'anthropic-version': '2023-06-01', ...parseHeaders(headerList),
      'content-length': payload.length },
    agent: opt.newConn ? false : new http.Agent({ keepAlive: true, maxSockets: 1 }),
  };
}
const direct = target('direct', opt.direct, opt.directHeaders);
const gateway = target('gateway', opt.gateway, opt.gatewayHeaders);

function call(t) {
  return new Promise((resolve) => {
    const t0 = process.hrtime.bigint();
    const us = () => Number(process.hrtime.bigint() - t0) / 1000;
    const r = { target: t.name, status: 0, headers_us: NaN, ttfb_us: NaN, total_us: NaN, events: [], error: '' };
    const req = http.request({ host: t.url.hostname.replace(/^\[|\]$/g, ''), port: t.url.port, path: t.url.pathname + t.url.search,
      method: 'POST', headers: t.headers, agent: t.agent }, (res) => {
      r.headers_us = us();
      r.status = res.statusCode;
      let text = '';
      res.on('data', (chunk) => {
        if (Number.isNaN(r.ttfb_us)) r.ttfb_us = us();
        text += chunk.toString('utf8');
      });
      res.on('end', () => {
        r.total_us = us();
        for (const m of text.matchAll(/^event: *(\S+)/gm)) r.events.push(m[1]);
        resolve(r);
      });
      res.on('error', (e) => { r.error = e.message; resolve(r); });
    });
    req.on('error', (e) => { r.error = e.message; resolve(r); });
    req.setTimeout(30_000, () => { req.destroy(new Error('timeout')); });
    req.end(payload);
  });
}

const complete = (r) => r.status === 200 && !r.error && r.events[0] === 'message_start' && r.events.at(-1) === 'message_stop';

const rows = [];
for (let i = 0; i < opt.warmup + opt.requests; i++) {
  const pair = i % 2 === 0 ? [direct, gateway] : [gateway, direct];
  for (const t of pair) {
    const r = await call(t);
    if (i >= opt.warmup) rows.push({ pair: i - opt.warmup, ...r });
  }
}
for (const t of [direct, gateway]) if (t.agent) t.agent.destroy();

const pct = (xs, p) => {
  const s = xs.filter((x) => Number.isFinite(x)).sort((a, b) => a - b);
  if (!s.length) return NaN;
  return s[Math.min(s.length - 1, Math.max(0, Math.ceil((p / 100) * s.length) - 1))];
};
const stats = {};
for (const name of ['direct', 'gateway']) {
  const rs = rows.filter((r) => r.target === name);
  const ok = rs.filter(complete);
  stats[name] = { calls: rs.length, complete: ok.length, events_first_complete: ok[0] ? ok[0].events : (rs[0] ? rs[0].events : []),
    first_error: (rs.find((r) => !complete(r)) || {}).error || (rs.find((r) => !complete(r)) ? `status ${rs.find((r) => !complete(r)).status}` : '') };
  for (const k of ['headers_us', 'ttfb_us', 'total_us']) {
    stats[name][k] = { p50: pct(ok.map((r) => r[k]), 50), p90: pct(ok.map((r) => r[k]), 90), p99: pct(ok.map((r) => r[k]), 99) };
  }
}
// Paired differences: gateway minus direct within the same pair (adjacent calls, so the same machine load).
const paired = {};
for (const k of ['ttfb_us', 'total_us']) {
  const d = [];
  for (let p = 0; p < opt.requests; p++) {
    const g = rows.find((r) => r.pair === p && r.target === 'gateway'), dr = rows.find((r) => r.pair === p && r.target === 'direct');
    if (g && dr && complete(g) && complete(dr)) d.push(g[k] - dr[k]);
  }
  paired[k] = { pairs: d.length, p50: pct(d, 50), p90: pct(d, 90) };
}

if (opt.out) {
  fs.mkdirSync(opt.out, { recursive: true });
  const tsv = ['pair\ttarget\tstatus\theaders_us\tttfb_us\ttotal_us\tevents\tcomplete\terror']
    .concat(rows.map((r) => [r.pair, r.target, r.status, r.headers_us.toFixed(1), r.ttfb_us.toFixed(1), r.total_us.toFixed(1),
      r.events.length, complete(r) ? 1 : 0, r.error].join('\t')));
  fs.writeFileSync(path.join(opt.out, 'stream.tsv'), tsv.join('\n') + '\n');
  fs.writeFileSync(path.join(opt.out, 'stream-summary.json'), JSON.stringify({ options: { ...opt, body: undefined }, stats, paired }, null, 2) + '\n');
}

const ms = (x) => (Number.isFinite(x) ? (x / 1000).toFixed(2) : 'n/a');
const out = [];
out.push(`Streaming: ${opt.requests} \`stream: true\` calls per target, sequential, alternating direct/gateway, `
  + `${opt.newConn ? 'a new connection per call' : 'one kept-alive connection per target'}`
  + `${opt.warmup > 0 ? `, after ${opt.warmup} unrecorded warm-up pairs` : ''}.`);
out.push('');
out.push('| target | complete / calls | headers p50 ms | TTFB p50 ms | TTFB p90 ms | TTFB p99 ms | total p50 ms | total p90 ms |');
out.push('|---|---|---|---|---|---|---|---|');
for (const name of ['direct', 'gateway']) {
  const s = stats[name];
  out.push(`| ${name} | ${s.complete} / ${s.calls} | ${ms(s.headers_us.p50)} | ${ms(s.ttfb_us.p50)} | ${ms(s.ttfb_us.p90)} | ${ms(s.ttfb_us.p99)} | ${ms(s.total_us.p50)} | ${ms(s.total_us.p90)} |`);
}
const d = (k, p) => ms(stats.gateway[k][p] - stats.direct[k][p]);
out.push(`| **gateway - direct** | | ${d('headers_us', 'p50')} | **${d('ttfb_us', 'p50')}** | **${d('ttfb_us', 'p90')}** | ${d('ttfb_us', 'p99')} | ${d('total_us', 'p50')} | ${d('total_us', 'p90')} |`);
out.push('');
out.push(`Paired (gateway minus the adjacent direct call, ${paired.ttfb_us.pairs} pairs): TTFB p50 ${ms(paired.ttfb_us.p50)} ms, `
  + `p90 ${ms(paired.ttfb_us.p90)} ms; total p50 ${ms(paired.total_us.p50)} ms, p90 ${ms(paired.total_us.p90)} ms.`);
out.push('');
out.push(`SSE events of the first complete gateway stream: ${stats.gateway.events_first_complete.join(', ') || '(none)'}`);
out.push(`SSE events of the first complete direct stream: ${stats.direct.events_first_complete.join(', ') || '(none)'}`);
for (const name of ['direct', 'gateway']) {
  if (stats[name].complete < stats[name].calls) out.push(`**${name}: ${stats[name].calls - stats[name].complete} incomplete calls** (first: ${stats[name].first_error || 'bad event sequence'})`);
}
console.log(out.join('\n'));
process.exit(stats.direct.complete === stats.direct.calls && stats.gateway.complete === stats.gateway.calls ? 0 : 1);
