#!/usr/bin/env node
// Zero-latency fake Anthropic Messages API upstream for the gateway load harness (bench/load/run).
// Adapted from the team's internal peer-bench harness (fake-upstream.mjs); the streaming answer now
// follows the event sequence of the real API, ping included, with several text deltas.
//
//   POST /v1/messages  -> a valid non-streaming Message JSON (model echoed from the request), or with
//                         "stream": true an SSE sequence: message_start, content_block_start, ping,
//                         content_block_delta x STREAM_DELTAS, content_block_stop, message_delta (usage),
//                         message_stop. Each event is a separate write (a separate chunk).
//   GET  /health       -> {"ok":true,"served":N,"streamed":M}
//
// Env: HOST (default 127.0.0.1), PORT (default 9101), DELAY_MS (default 0: wait before answering, a slow
//      model), STREAM_DELTAS (default 5), STREAM_GAP_MS (default 0: pause between stream events),
//      TLS_PORT with TLS_CERT and TLS_KEY (PEM files): the same API over https on that port as well, as
//      api.anthropic.com serves it (HTTP/1.1 over TLS), while PORT stays plain http.
// No dependencies; Node >= 18.
import fs from 'node:fs';
import http from 'node:http';
import https from 'node:https';

const HOST = process.env.HOST || '127.0.0.1';
const PORT = Number(process.env.PORT || 9101);
const DELAY_MS = Number(process.env.DELAY_MS || 0);
const STREAM_DELTAS = Math.max(1, Number(process.env.STREAM_DELTAS || 5));
const STREAM_GAP_MS = Number(process.env.STREAM_GAP_MS || 0);

let served = 0;
let streamed = 0;
let seq = 0;

function messageBody(model, inputTokens) {
  seq = (seq + 1) % 1e9;
  return {
    id: 'msg_fake' + seq.toString(36).padStart(16, '0'),
    type: 'message',
    role: 'assistant',
    model,
    content: [{ type: 'text', text: 'ok' }],
    stop_reason: 'end_turn',
    stop_sequence: null,
    usage: { input_tokens: inputTokens, cache_creation_input_tokens: 0, cache_read_input_tokens: 0, output_tokens: 1 },
  };
}

function sendJson(res, status, obj) {
  const buf = Buffer.from(JSON.stringify(obj));
  res.writeHead(status, {
    'content-type': 'application/json',
    'content-length': buf.length,
    'request-id': 'req_fake' + seq,
  });
  res.end(buf);
}

function sendStream(res, msg) {
  res.writeHead(200, {
    'content-type': 'text/event-stream; charset=utf-8',
    'cache-control': 'no-cache',
    'request-id': 'req_fake' + seq,
  });
  const ev = (name, data) => `event: ${name}\ndata: ${JSON.stringify(data)}\n\n`;
  const words = ['The', ' answer', ' is', ' ok', '.', ' Nothing', ' else', ' to', ' add', '.'];
  const events = [
    ev('message_start', {
      type: 'message_start',
      message: { ...msg, content: [], stop_reason: null, stop_sequence: null,
        usage: { ...msg.usage, output_tokens: 1 } },
    }),
    ev('content_block_start', { type: 'content_block_start', index: 0, content_block: { type: 'text', text: '' } }),
    ev('ping', { type: 'ping' }),
  ];
  for (let i = 0; i < STREAM_DELTAS; i++) {
    events.push(ev('content_block_delta', {
      type: 'content_block_delta', index: 0, delta: { type: 'text_delta', text: words[i % words.length] },
    }));
  }
  events.push(
    ev('content_block_stop', { type: 'content_block_stop', index: 0 }),
    ev('message_delta', { type: 'message_delta', delta: { stop_reason: 'end_turn', stop_sequence: null },
      usage: { output_tokens: STREAM_DELTAS } }),
    ev('message_stop', { type: 'message_stop' }));
  if (STREAM_GAP_MS <= 0) {
    for (let i = 0; i < events.length - 1; i++) res.write(events[i]);
    res.end(events[events.length - 1]);
    return;
  }
  let i = 0;
  const next = () => {
    if (res.destroyed) return;
    if (i === events.length - 1) return res.end(events[i]);
    res.write(events[i++]);
    setTimeout(next, STREAM_GAP_MS);
  };
  next();
}

const handle = (req, res) => {
  if (req.method === 'GET' && (req.url === '/health' || req.url === '/')) {
    return sendJson(res, 200, { ok: true, served, streamed });
  }
  if (req.method !== 'POST' || !req.url.startsWith('/v1/messages')) {
    return sendJson(res, 404, { type: 'error', error: { type: 'not_found_error', message: 'not found' } });
  }
  const chunks = [];
  req.on('data', (c) => chunks.push(c));
  req.on('end', () => {
    const raw = Buffer.concat(chunks);
    let body;
    try {
      body = JSON.parse(raw.toString('utf8'));
    } catch {
      return sendJson(res, 400, { type: 'error', error: { type: 'invalid_request_error', message: 'body is not JSON' } });
    }
    const model = typeof body.model === 'string' ? body.model : 'unknown-model';
    const msg = messageBody(model, Math.max(1, Math.ceil(raw.length / 4)));
    const answer = () => {
      served++;
      if (body.stream === true) { streamed++; sendStream(res, msg); }
      else sendJson(res, 200, msg);
    };
    if (DELAY_MS > 0) setTimeout(answer, DELAY_MS);
    else answer();
  });
};

const servers = [[http.createServer(handle), 'http', PORT]];
if (process.env.TLS_PORT) {
  const tls = { cert: fs.readFileSync(process.env.TLS_CERT), key: fs.readFileSync(process.env.TLS_KEY) };
  servers.push([https.createServer(tls, handle), 'https', Number(process.env.TLS_PORT)]);
}
for (const [server, scheme, port] of servers) {
  server.keepAliveTimeout = 65_000;
  server.headersTimeout = 66_000;
  server.on('error', (e) => { console.error(`fake-upstream: ${e.message}`); process.exit(1); });
  server.listen(port, HOST, () => {
    console.log(`fake-upstream listening on ${scheme}://${HOST}:${port} (delay ${DELAY_MS} ms, ${STREAM_DELTAS} deltas) pid ${process.pid}`);
  });
}
const stop = () => {
  console.log(`fake-upstream served ${served} messages (${streamed} streamed)`);
  let open = servers.length;
  for (const [server] of servers) server.close(() => { if (--open === 0) process.exit(0); });
  setTimeout(() => process.exit(0), 500).unref();
};
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
