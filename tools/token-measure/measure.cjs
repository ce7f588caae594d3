#!/usr/bin/env node
// Builds and counts the token-estimate corpus with the public legacy Claude tokenizer
// (@anthropic-ai/tokenizer 0.0.4). See docs/token-estimate.md.
//
//   node measure.cjs build  OUT.jsonl   assemble excerpts from files on the measuring machine, count them
//   node measure.cjs recount IN.jsonl   recount the committed fixture; prints rows whose count differs
//
// The tokenizer is resolved through NODE_PATH so no node_modules lands in the repository:
//   (cd /tmp/tokmeasure && npm install @anthropic-ai/tokenizer@0.0.4)
//   NODE_PATH=/tmp/tokmeasure/node_modules node tools/token-measure/measure.cjs build out.jsonl
'use strict';
const fs = require('fs');
const path = require('path');
const { countTokens } = require('@anthropic-ai/tokenizer');

// Deterministic PRNG (mulberry32) so the generated identifier samples are reproducible.
function rng(seed) {
  return () => {
    seed |= 0; seed = (seed + 0x6d2b79f5) | 0;
    let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function stripHtml(html) {
  const main = (html.match(/<main>([\s\S]*?)<\/main>/) || [null, html])[1];
  return main
    .replace(/<script[\s\S]*?<\/script>/g, '')
    .replace(/<style[\s\S]*?<\/style>/g, '')
    .replace(/<[^>]+>/g, '')
    .replace(/&lt;/g, '<').replace(/&gt;/g, '>').replace(/&quot;/g, '"').replace(/&#39;/g, "'")
    .replace(/&amp;/g, '&')
    .replace(/\n{3,}/g, '\n\n')
    .trim();
}

// Cuts an excerpt of about `len` characters starting at a line boundary near `at` (0..1 of the text).
function excerpt(text, at, len) {
  let start = Math.floor(text.length * at);
  const nl = text.indexOf('\n', start);
  start = nl >= 0 && nl - start < 200 ? nl + 1 : start;
  let s = text.slice(start, start + len);
  // never split a surrogate pair
  if (s.length && /[\ud800-\udbff]$/.test(s)) s = s.slice(0, -1);
  return s;
}

const SIZES = [60, 400, 1500, 4000];
const rows = [];
function add(category, source, text) {
  if (!text || text.trim().length === 0) return;
  rows.push({ id: `${category}-${rows.filter(r => r.category === category).length + 1}`, category, source, text });
}
function addExcerpts(category, source, text, sizes = SIZES) {
  sizes.forEach((len, i) => add(category, source, excerpt(text, (i * 0.23) % 0.9, len)));
}
const read = p => fs.readFileSync(p, 'utf8');
const exists = p => fs.existsSync(p);

function build(out) {
  const RBE = '/root/.rustup/toolchains/stable-x86_64-unknown-linux-gnu/share/doc/rust/html/rust-by-example';
  const here = path.resolve(__dirname, '../..');

  // English prose: project docs (our own) and Rust by Example (MIT/Apache-2.0).
  for (const f of ['/work/shared/STYLE.md', '/work/shared/DESIGN.md', '/work/shared/reference/gateway-stack.md',
                   '/work/shared/reference/peers.md', '/work/shared/reference/anthropic-api.md'])
    if (exists(f)) addExcerpts('prose', path.basename(f), read(f));
  for (const p of ['error/result.html', 'fn/closures.html', 'trait.html', 'generics.html'])
    if (exists(`${RBE}/${p}`)) addExcerpts('prose', `rust-by-example/${p}`, stripHtml(read(`${RBE}/${p}`)), [300, 2500]);

  // Source code: our own Java and peer-bench scripts, tiktoken's JS (MIT), CPython stdlib (PSF).
  for (const f of [`${here}/core/src/main/java/dev/tiergate/pricing/Money.java`,
                   '/work/shared/peer-bench/MinimalForwarder.java', '/work/shared/peer-bench/fake-upstream.mjs',
                   '/work/shared/peer-bench/run.sh', '/work/shared/peer-bench/post.lua',
                   '/tmp/tokmeasure/node_modules/tiktoken/lite/tiktoken_bg.cjs',
                   '/usr/lib/python3.11/fileinput.py', '/usr/lib/python3.11/stat.py'])
    if (exists(f)) addExcerpts('code', path.basename(f), read(f), [80, 700, 2500]);

  // JSON: package.json files on disk and tool definitions / request bodies written for this corpus.
  for (const f of ['/tmp/tokmeasure/node_modules/tiktoken/package.json',
                   '/tmp/tokmeasure/node_modules/@anthropic-ai/tokenizer/package.json',
                   '/tmp/tokmeasure/node_modules/undici-types/package.json'])
    if (exists(f)) add('json', path.basename(path.dirname(f)) + '/package.json', read(f).slice(0, 3000));
  const tools = [
    { name: 'get_weather', description: 'Get the current weather in a given location. Returns temperature and conditions.',
      input_schema: { type: 'object', properties: { location: { type: 'string', description: 'The city and state, e.g. San Francisco, CA' },
        unit: { type: 'string', enum: ['celsius', 'fahrenheit'], description: 'Temperature unit' } }, required: ['location'] } },
    { name: 'search_tickets', description: 'Search support tickets by free text, status and date range. Results are paginated.',
      input_schema: { type: 'object', properties: { query: { type: 'string' }, status: { type: 'string', enum: ['open', 'pending', 'closed'] },
        created_after: { type: 'string', format: 'date-time' }, page_size: { type: 'integer', minimum: 1, maximum: 100 },
        cursor: { type: 'string', description: 'Opaque cursor from the previous page' } }, required: ['query'] } },
    { name: 'run_sql', description: 'Run a read-only SQL query against the analytics warehouse and return at most 500 rows as JSON.',
      input_schema: { type: 'object', properties: { sql: { type: 'string' }, timeout_ms: { type: 'integer', default: 30000 } }, required: ['sql'] } },
  ];
  add('json', 'tool definitions (written)', JSON.stringify(tools));
  add('json', 'tool definitions pretty (written)', JSON.stringify(tools, null, 2));
  add('json', 'tool_use input (written)', JSON.stringify({ query: 'refund not received', status: 'open', created_after: '2026-10-01T00:00:00Z', page_size: 25 }));
  const r = rng(7);
  const rowsJson = Array.from({ length: 40 }, (_, i) => ({ id: 1000 + i, sku: `SKU-${Math.floor(r() * 1e6)}`, price: +(r() * 500).toFixed(2),
    in_stock: r() > 0.3, updated_at: `2026-11-${String(1 + (i % 28)).padStart(2, '0')}T${String(i % 24).padStart(2, '0')}:15:00Z` }));
  add('json', 'tool_result rows (generated)', JSON.stringify(rowsJson));
  add('json', 'tool_result rows pretty (generated)', JSON.stringify(rowsJson.slice(0, 12), null, 2));

  // Markup: Maven POMs (Apache-2.0).
  for (const f of ['/root/.m2/repository/javax/annotation/javax.annotation-api/1.3.2/javax.annotation-api-1.3.2.pom',
                   '/root/.m2/repository/javax/enterprise/cdi-api/1.2/cdi-api-1.2.pom'])
    if (exists(f)) addExcerpts('markup', path.basename(f), read(f), [200, 1500, 4000]);

  // Logs / tool output.
  if (exists('/var/log/dpkg.log')) addExcerpts('logs', 'dpkg.log', read('/var/log/dpkg.log'), [150, 1500, 4000]);
  if (exists('/var/log/alternatives.log')) addExcerpts('logs', 'alternatives.log', read('/var/log/alternatives.log'), [1500]);

  // Identifiers and numbers (generated): hex digests, base64, UUIDs, numeric tables.
  const g = rng(42);
  const hex = n => Array.from({ length: n }, () => '0123456789abcdef'[Math.floor(g() * 16)]).join('');
  const b64chars = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/';
  const b64 = n => Array.from({ length: n }, () => b64chars[Math.floor(g() * 64)]).join('');
  add('ids', 'sha256 hex (generated)', Array.from({ length: 8 }, () => hex(64)).join('\n'));
  add('ids', 'base64 blob (generated)', b64(1200));
  add('ids', 'base64 short (generated)', b64(44));
  add('ids', 'uuids (generated)', Array.from({ length: 20 }, () => `${hex(8)}-${hex(4)}-4${hex(3)}-a${hex(3)}-${hex(12)}`).join(', '));
  add('ids', 'numbers csv (generated)', Array.from({ length: 60 }, () => [Math.floor(g() * 1e9), (g() * 1000).toFixed(3), Math.floor(g() * 100)].join(',')).join('\n'));
  const lower = n => Array.from({ length: n }, () => 'abcdefghijklmnopqrstuvwxyz'[Math.floor(g() * 26)]).join('');
  add('ids', 'random lowercase words (generated)', Array.from({ length: 40 }, () => lower(4 + Math.floor(g() * 26))).join(' '));
  add('ids', 'random lowercase run (generated)', lower(1500));
  add('ids', 'request ids (generated)', Array.from({ length: 15 }, () => `req_011C${b64(20).replace(/[+/]/g, 'x')}`).join(' '));

  // CJK: Rust by Example translations (MIT/Apache-2.0).
  for (const lang of ['zh', 'ja', 'ko'])
    for (const p of ['error/result.html', 'fn/closures.html', 'hello.html'])
      if (exists(`${RBE}/${lang}/${p}`)) addExcerpts('cjk', `rust-by-example/${lang}/${p}`, stripHtml(read(`${RBE}/${lang}/${p}`)), [120, 1500]);

  // Other non-Latin scripts and emoji: paragraphs written for this corpus, plus Spanish Rust by Example.
  const others = {
    'russian (written)': 'Маршрутизатор распределяет запросы между моделями в зависимости от бюджета команды. Если дневной лимит почти исчерпан, запрос отправляется в более дешёвую модель, а администратор получает уведомление. Все расходы записываются в журнал с точностью до нано-доллара.',
    'ukrainian (written)': 'Шлюз приймає запити від агентів, оцінює кількість вхідних токенів і перевіряє, чи вистачає бюджету. Якщо ні, запит відхиляється з зрозумілим повідомленням про помилку.',
    'greek (written)': 'Ο δρομολογητής κόστους επιλέγει το φθηνότερο μοντέλο που ικανοποιεί την πολιτική της ομάδας. Κάθε αίτημα καταγράφεται με το ακριβές κόστος του.',
    'arabic (written)': 'يقوم الموجّه بتوزيع الطلبات على النماذج حسب ميزانية الفريق. إذا تجاوز الطلب الحد اليومي، يتم رفضه مع رسالة خطأ واضحة تشرح السبب.',
    'hebrew (written)': 'הנתב מחלק בקשות בין מודלים לפי התקציב של הצוות. כל בקשה נרשמת ביומן עם העלות המדויקת שלה.',
    'hindi (written)': 'राउटर टीम के बजट के अनुसार अनुरोधों को मॉडलों में बाँटता है। यदि दैनिक सीमा पार हो जाती है, तो अनुरोध अस्वीकार कर दिया जाता है।',
    'thai (written)': 'เราเตอร์จะกระจายคำขอไปยังโมเดลต่างๆ ตามงบประมาณของทีม หากเกินขีดจำกัดรายวัน คำขอจะถูกปฏิเสธพร้อมข้อความแสดงข้อผิดพลาดที่ชัดเจน',
    'emoji (written)': 'Deploy done 🚀✅ budget ok 💰👍 but latency 🐢⚠️ — team 👩‍💻👨‍💻 celebrating 🎉🎉🎉 flags 🇩🇪🇯🇵🇧🇷 faces 😀😂🥲🤔😴',
    'emoji dense (written)': '🔥💯🙏😍🥳🤖🧠📈📉🧾💸🪙🏦🛒📦🚚🛠️🔧🔒🔑🧪🧬🌍🌏🌎☕🍕🍣🥐🍜',
    'mixed zh-en (written)': '请把 InputTokenEstimator 的 bound 写进 docs/token-estimate.md，并在 CI 里运行 mvn verify。预算单位是 nano-USD，不要用 double。',
  };
  for (const [k, v] of Object.entries(others)) add('other-scripts', k, v);
  for (const p of ['error/result.html', 'hello.html'])
    if (exists(`${RBE}/es/${p}`)) addExcerpts('other-scripts', `rust-by-example/es/${p}`, stripHtml(read(`${RBE}/es/${p}`)), [300, 2000]);

  // Large composites (tens of thousands of tokens): a category's texts joined and repeated.
  // Stored as references so the fixture stays small; the Java test rebuilds them the same way.
  const composites = [];
  for (const cat of ['prose', 'code', 'json', 'cjk']) {
    const members = rows.filter(x => x.category === cat).map(x => x.id);
    const joined = members.map(id => rows.find(x => x.id === id).text).join('\n\n');
    const repeat = Math.max(1, Math.ceil(200000 / joined.length));
    composites.push({ id: `${cat}-large`, category: cat, source: `all ${cat} samples joined by a blank line, repeated ${repeat}x`, compose: members, repeat });
  }
  const byId = new Map(rows.map(x => [x.id, x]));
  const textOf = c => Array(c.repeat).fill(c.compose.map(id => byId.get(id).text).join('\n\n')).join('\n\n');

  const outRows = [...rows, ...composites].map(x => {
    const text = x.text ?? textOf(x);
    return { ...x, chars: text.length, tokens: countTokens(text) };
  });
  fs.writeFileSync(out, outRows.map(x => JSON.stringify(x)).join('\n') + '\n');
  console.error(`wrote ${outRows.length} samples to ${out}`);
}

function recount(file) {
  const all = fs.readFileSync(file, 'utf8').trim().split('\n').map(l => JSON.parse(l));
  const byId = new Map(all.map(x => [x.id, x]));
  let bad = 0;
  for (const x of all) {
    const text = x.text ?? Array(x.repeat).fill(x.compose.map(id => byId.get(id).text).join('\n\n')).join('\n\n');
    const n = countTokens(text);
    if (n !== x.tokens || text.length !== x.chars) { bad++; console.log(`${x.id}: fixture ${x.tokens} tokens/${x.chars} chars, now ${n}/${text.length}`); }
  }
  console.log(`${all.length} samples, ${bad} differ`);
  process.exitCode = bad ? 1 : 0;
}

const [mode, file] = process.argv.slice(2);
if (mode === 'build' && file) build(file);
else if (mode === 'recount' && file) recount(file);
else { console.error('usage: measure.cjs build OUT.jsonl | recount IN.jsonl'); process.exitCode = 2; }
