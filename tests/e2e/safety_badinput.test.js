'use strict';
// A bad-input battery against POST /v1/events and POST /v1/endpoints (§2.1, issue 6 "input
// limits"): random and mutated bodies from a seeded PRNG, wrong content types, invalid UTF-8,
// 10,000-deep nesting, huge and many headers, bodies over --max-body, malformed HTTP, and
// slow-loris partial requests. Every answer must be a 4xx (never a 5xx) or a closed connection,
// the server must keep answering /healthz and ordinary requests meanwhile, stop cleanly, and
// (with HOOKD_BIN pointing at a sanitizer build) print no sanitizer report.

const { describe, it, before, after } = require('node:test');
const assert = require('node:assert/strict');
const net = require('node:net');
const crypto = require('node:crypto');
const { startHookd, api, createOrgWithKey, rawRequest, parseRawResponse, sleep } = require('./lib/hookd');
const { signStandard, signHex } = require('./lib/pipeline');

const hmacOf = (secret, data, enc) => crypto.createHmac('sha256', Buffer.from(secret, 'utf8')).update(data).digest(enc);

// Correct signature headers for a body, so that the fuzzed body gets past verification.
function signFor(verification, secret, body, ts) {
  const withTs = Buffer.concat([Buffer.from(`${ts}.`), body]);
  switch (verification.scheme) {
    case 'standard': {
      const id = `msg_${crypto.randomBytes(6).toString('hex')}`;
      return { 'webhook-id': id, 'webhook-timestamp': ts, 'webhook-signature': signStandard(secret, id, ts, body) };
    }
    case 'hookd':
      return { 'X-Webhook-Timestamp': ts, 'X-Webhook-Signature': signHex(secret, ts, body) };
    case 'github':
      return { 'X-Hub-Signature-256': `sha256=${hmacOf(secret, body, 'hex')}`, 'X-GitHub-Event': 'push', 'X-GitHub-Delivery': crypto.randomUUID() };
    case 'stripe':
      return { 'Stripe-Signature': `t=${ts},v1=${hmacOf(secret, withTs, 'hex')}` };
    case 'shopify':
      return { 'X-Shopify-Hmac-Sha256': hmacOf(secret, body, 'base64'), 'X-Shopify-Topic': 'orders/create' };
    case 'hmac':
      return { 'X-Ts': ts, 'X-Sig': `v1=${hmacOf(secret, withTs, 'base64')}` };
    case 'basic':
      return { Authorization: `Basic ${Buffer.from(`${verification.username}:${secret}`).toString('base64')}` };
    default:
      return {};
  }
}

const MAX_BODY = 65536;
const SEED = Number(process.env.SAFETY_SEED || 0x5eed1234);

// mulberry32: a small seeded PRNG, so that a failing body can be reproduced from the seed
function prng(seed) {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function randomBytes(rand, n) {
  const b = Buffer.alloc(n);
  for (let i = 0; i < n; i++) b[i] = Math.floor(rand() * 256);
  return b;
}

const TOKENS = ['{', '}', '[', ']', '"', '\\', '\\u', '\\ud800', ':', ',', '1e999', '-0', '18446744073709551616',
  'null', 'true', '\u0000', '\xff', '\xc0\xaf', '"type"', '"url"', '"data"', '"headers"', '{"a":', ' ', '\t', '\r\n'];

// A mutation of a valid JSON body: flips, insertions, deletions, duplications, truncation.
function mutate(rand, base) {
  let b = Buffer.from(base);
  const n = 1 + Math.floor(rand() * 4);
  for (let k = 0; k < n; k++) {
    const at = Math.floor(rand() * (b.length + 1));
    const op = Math.floor(rand() * 6);
    if (op === 0 && b.length) {
      b[Math.min(at, b.length - 1)] ^= 1 << Math.floor(rand() * 8);
    } else if (op === 1) {
      b = Buffer.concat([b.subarray(0, at), randomBytes(rand, 1 + Math.floor(rand() * 8)), b.subarray(at)]);
    } else if (op === 2) {
      b = Buffer.concat([b.subarray(0, at), b.subarray(Math.min(b.length, at + 1 + Math.floor(rand() * 10)))]);
    } else if (op === 3) {
      const tok = TOKENS[Math.floor(rand() * TOKENS.length)];
      b = Buffer.concat([b.subarray(0, at), Buffer.from(tok, 'latin1'), b.subarray(at)]);
    } else if (op === 4) {
      const end = Math.min(b.length, at + Math.floor(rand() * 20));
      b = Buffer.concat([b.subarray(0, end), b.subarray(at, end), b.subarray(end)]);
    } else {
      b = b.subarray(0, at);
    }
  }
  return b;
}

const hex = (buf) => Buffer.from(buf).subarray(0, 80).toString('hex');

// Sends a request with fetch; a network error (connection closed) is an answer too.
async function send(server, method, path, { key, body, headers = {} } = {}) {
  try {
    const res = await api(server, method, path, { key, body, headers });
    return { status: res.status, text: res.text, json: res.json };
  } catch (err) {
    // the server closed or reset the connection: an acceptable answer; anything else is ours
    const code = String(err.cause?.code || '');
    if (/ECONNRESET|EPIPE|UND_ERR_SOCKET|UND_ERR_CLOSED|other side closed/.test(code + ' ' + (err.cause?.message || ''))) {
      return { status: null, closed: true, text: code };
    }
    throw err;
  }
}

// One request written as raw bytes (header values as latin1, anything but CR, LF and NUL):
// {status|null, closed, text}.
async function rawPost(server, path, headers, body) {
  let head = `POST ${path} HTTP/1.1\r\nHost: 127.0.0.1\r\n`;
  for (const [k, v] of Object.entries(headers)) head += `${k}: ${v}\r\n`;
  head += `Content-Length: ${body.length}\r\nConnection: close\r\n\r\n`;
  const r = await rawRequest(server, Buffer.concat([Buffer.from(head, 'latin1'), body]), { timeoutMs: 5000 });
  const { status } = parseRawResponse(r.text);
  if (status === null && /timeout/.test(String(r.error))) return { status: null, closed: false, text: 'no answer within 5 s' };
  return { status, closed: status === null, text: status === null ? String(r.error || 'closed') : parseRawResponse(r.text).body };
}

async function runPool(items, concurrency, fn) {
  let next = 0;
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (next < items.length) {
        const i = next++;
        await fn(items[i], i);
      }
    })
  );
}

describe('bad-input battery', { timeout: 60000 }, () => {
  let server;
  let evKey; // an org with no endpoints: events accepted by mistake go nowhere
  let epKey; // an org for endpoint bodies (--no-ping, default URL rules: nothing is contacted)
  let cleanKey; // an org that must end up with nothing in it

  before(async () => {
    server = await startHookd({ args: ['--no-ping', '--max-body', String(MAX_BODY)] });
    evKey = (await createOrgWithKey(server)).key;
    epKey = (await createOrgWithKey(server)).key;
    cleanKey = (await createOrgWithKey(server)).key;
  });

  after(async () => {
    if (!server) return;
    const health = await send(server, 'GET', '/healthz');
    const stopped = await server.stop();
    await server.cleanup(); // throws on a sanitizer report
    assert.equal(health.status, 200, `/healthz after the battery: ${health.status} ${health.text}`);
    assert.equal(stopped.code, 0, `hookd stopped with ${JSON.stringify(stopped)}`);
  });

  async function assertStillServing(what) {
    const h = await send(server, 'GET', '/healthz');
    assert.equal(h.status, 200, `/healthz after ${what}: ${h.status} ${h.text}`);
    const ok = await send(server, 'POST', '/v1/events', { key: evKey, body: { type: 'safety.alive', data: {} } });
    assert.equal(ok.status, 202, `a normal request after ${what}: ${ok.status} ${ok.text}`);
  }

  async function assertNothingIn(key, what) {
    for (const p of ['/v1/endpoints', '/v1/events']) {
      const res = await send(server, 'GET', p, { key });
      assert.equal(res.status, 200, res.text);
      assert.deepEqual(res.json.data, [], `${what}: ${p} holds ${res.text.slice(0, 300)}`);
    }
  }

  it(`random and mutated bodies (seed ${SEED.toString(16)}): never a 5xx; pure noise is always a 4xx`, async (t) => {
    const rand = prng(SEED);
    const eventBase = Buffer.from(
      JSON.stringify({ type: 'fuzz.evt', data: { a: [1, 2.5, -3e10, 's\u00e9\u{1F600}', true, null, { b: {} }] }, id: 'fz_1' })
    );
    const endpointBase = Buffer.from(
      JSON.stringify({
        url: 'https://93.184.215.14/hook',
        name: 'fuzz',
        description: 'd',
        events: [],
        headers: { 'X-A': 'b' },
        metadata: { k: [1, { v: 'w' }] },
        rate_limit: 5,
        max_in_flight: 3,
        timeout_seconds: 10,
      })
    );
    const cases = [];
    for (const [path, key, base] of [
      ['/v1/events', evKey, eventBase],
      ['/v1/endpoints', epKey, endpointBase],
    ]) {
      for (let i = 0; i < 120; i++) {
        cases.push({ path, key, body: randomBytes(rand, Math.floor(rand() * 600)), noise: true });
      }
      for (let i = 0; i < 120; i++) cases.push({ path, key, body: mutate(rand, base), noise: false });
    }
    const failures = [];
    const tally = {};
    await runPool(cases, 8, async (c, i) => {
      const res = await send(server, 'POST', c.path, {
        key: c.key,
        body: c.body,
        headers: { 'Content-Type': 'application/json' },
      });
      const s = res.closed ? 'closed' : String(res.status);
      tally[s] = (tally[s] || 0) + 1;
      const bad = res.closed ? false : res.status >= 500 || (c.noise && !(res.status >= 400 && res.status < 500));
      if (bad) failures.push(`#${i} POST ${c.path} → ${res.status} ${res.text.slice(0, 200)}; body hex ${hex(c.body)}`);
      if (!res.closed && res.status >= 400 && !res.json?.error) {
        failures.push(`#${i} POST ${c.path} → ${res.status} without a JSON error body: ${res.text.slice(0, 100)}`);
      }
    });
    t.diagnostic(`answers by status: ${JSON.stringify(tally)}`);
    assert.deepEqual(failures, [], `answers by status: ${JSON.stringify(tally)}`);
    await assertStillServing('the random bodies');
  });

  it(`/in/{source}: random bodies and garbled signature headers for every scheme (seed ${SEED.toString(16)}): never a 5xx`, async (t) => {
    const rand = prng(SEED + 7);
    const { key: srcKey } = await createOrgWithKey(server); // no endpoints: forwarded events go nowhere
    const schemes = [
      { scheme: 'none' },
      { scheme: 'standard' },
      { scheme: 'hookd' },
      { scheme: 'github' },
      { scheme: 'stripe' },
      { scheme: 'shopify' },
      { scheme: 'basic', username: 'u' },
      { scheme: 'hmac', header: 'X-Sig', prefix: 'v1=', encoding: 'base64', timestamp_header: 'X-Ts', signed_payload: 'timestamp.body' },
    ];
    const sources = [];
    for (const verification of schemes) {
      const res = await send(server, 'POST', '/v1/sources', {
        key: srcKey,
        body: { name: `fuzz-${verification.scheme}`, verification, event_type: 'fuzz.inbound', forward: true },
      });
      assert.equal(res.status, 201, `source ${verification.scheme}: ${res.text}`);
      sources.push(res.json);
    }
    const ts = String(Math.floor(Date.now() / 1000));
    const garble = () => {
      const pick = Math.floor(rand() * 4);
      if (pick === 0) return randomBytes(rand, Math.floor(rand() * 200)).toString('latin1').replace(/[\r\n\0]/g, 'x');
      if (pick === 1) return 'a'.repeat(Math.floor(rand() * 5000));
      if (pick === 2) return ['v1,', 'v1,=', 'sha256=', 't=,v1=', 't=1,v1=zz', ',,,', 'v1', ' ', 'Basic', 'Basic !!!', 'Basic ' + Buffer.from(':').toString('base64')][Math.floor(rand() * 11)];
      return mutate(rand, Buffer.from(`t=${ts},v1=${'ab'.repeat(32)} v1,${'A'.repeat(43)}=`)).toString('latin1').replace(/[\r\n\0]/g, ' ');
    };
    const SIG_HEADERS = ['webhook-id', 'webhook-timestamp', 'webhook-signature', 'svix-id', 'svix-timestamp', 'svix-signature',
      'X-Webhook-Signature', 'X-Webhook-Timestamp', 'X-Hub-Signature-256', 'X-GitHub-Event', 'X-GitHub-Delivery',
      'Stripe-Signature', 'X-Shopify-Hmac-Sha256', 'X-Shopify-Topic', 'X-Shopify-Webhook-Id', 'Authorization', 'X-Sig', 'X-Ts'];
    const cases = [];
    for (let i = 0; i < 240; i++) {
      const src = sources[i % sources.length];
      const headers = { 'Content-Type': rand() < 0.85 ? 'application/json' : ['text/plain', 'application/x-www-form-urlencoded', ''][Math.floor(rand() * 3)] };
      for (const h of SIG_HEADERS) if (rand() < 0.4) headers[h] = garble();
      const body = rand() < 0.5 ? randomBytes(rand, Math.floor(rand() * 800)) : mutate(rand, Buffer.from('{"type":"x.y","id":"evt_1","data":{"a":[1,"b",{"c":null}]}}'));
      // half of them correctly signed, so that the body gets past verification
      if (rand() < 0.5) Object.assign(headers, signFor(src.verification, src.secret, body, ts));
      cases.push({ src, headers, body });
    }
    const failures = [];
    const tally = {};
    await runPool(cases, 8, async (c, i) => {
      const res = await rawPost(server, `/in/${c.src.id}`, c.headers, c.body);
      const st = res.closed ? 'closed' : String(res.status);
      tally[st] = (tally[st] || 0) + 1;
      if (res.status === null ? !res.closed : res.status >= 500) {
        failures.push(`#${i} ${c.src.verification.scheme} → ${res.status} ${res.text.slice(0, 150)}; headers ${JSON.stringify(c.headers).slice(0, 300)}; body hex ${hex(c.body)}`);
      }
    });
    t.diagnostic(`answers by status: ${JSON.stringify(tally)}`);
    assert.deepEqual(failures, [], `answers by status: ${JSON.stringify(tally)}`);
    await assertStillServing('the inbound fuzzing');
  });

  it('wrong content types → 415 (and nothing created); JSON with parameters is JSON', async () => {
    const evBody = { type: 'safety.ct', data: {} };
    const epBody = { url: 'https://93.184.215.14/ct' };
    const wrong = [
      'text/plain',
      'text/json',
      'text/html; charset=utf-8',
      'application/x-www-form-urlencoded',
      'multipart/form-data; boundary=xyz',
      'application/xml',
      'application/jsonx',
      'application/json-patch+json',
      'application/vnd.api+json',
      'application/octet-stream',
      'image/png',
      'json',
      'application',
      '*/*',
      'application/*',
      '\u00e9/\u00e9',
    ];
    const failures = [];
    for (const ct of wrong) {
      for (const [path, body] of [
        ['/v1/events', evBody],
        ['/v1/endpoints', epBody],
      ]) {
        const res = await send(server, 'POST', path, {
          key: cleanKey,
          body: Buffer.from(JSON.stringify(body)),
          headers: { 'Content-Type': ct },
        });
        if (res.status !== 415 || res.json?.error !== 'unsupported_media_type') {
          failures.push(`${path} Content-Type ${JSON.stringify(ct)} → ${res.status} ${res.text.slice(0, 150)}`);
        }
      }
    }
    assert.deepEqual(failures, []);
    await assertNothingIn(cleanKey, 'wrong content types');
    // JSON, whatever the spelling of its parameters (and case-insensitive per RFC 9110)
    for (const ct of ['application/json', 'application/json; charset=utf-8', 'application/json;charset=UTF-8', 'Application/JSON']) {
      const res = await send(server, 'POST', '/v1/events', {
        key: evKey,
        body: Buffer.from(JSON.stringify(evBody)),
        headers: { 'Content-Type': ct },
      });
      assert.equal(res.status, 202, `Content-Type ${ct}: ${res.status} ${res.text}`);
    }
    // odd but harmless spellings: any answer but a 5xx
    for (const ct of ['', ';', 'application/json;', 'application/json; charset=latin1', 'application/json,text/plain']) {
      const res = await send(server, 'POST', '/v1/events', {
        key: evKey,
        body: Buffer.from(JSON.stringify(evBody)),
        headers: { 'Content-Type': ct },
      });
      assert.ok(res.closed || res.status < 500, `Content-Type ${JSON.stringify(ct)} → ${res.status} ${res.text}`);
    }
  });

  it('invalid UTF-8 and lone surrogates in strings → 400, nothing created', async () => {
    const bad = {
      'a lone continuation byte': Buffer.from([0x80]),
      '0xff': Buffer.from([0xff]),
      'an overlong "/"': Buffer.from([0xc0, 0xaf]),
      'an overlong NUL': Buffer.from([0xc0, 0x80]),
      'a UTF-8 encoded surrogate': Buffer.from([0xed, 0xa0, 0x80]),
      'a truncated 3-byte sequence': Buffer.from([0xe2, 0x82]),
      'a code point over U+10FFFF': Buffer.from([0xf4, 0x90, 0x80, 0x80]),
      'a 5-byte sequence': Buffer.from([0xf8, 0x88, 0x80, 0x80, 0x80]),
    };
    const escapes = {
      'a lone high surrogate escape': '\\ud800',
      'a lone low surrogate escape': '\\udc00',
      'a high surrogate then a letter': '\\ud800\\u0041',
      'two high surrogates': '\\ud800\\ud800',
    };
    const templates = [
      ['/v1/events', 'type', (s) => ['{"type":"a.', s, '","data":{}}']],
      ['/v1/events', 'data string', (s) => ['{"type":"a.b","data":{"s":"x', s, 'y"}}']],
      ['/v1/events', 'data key', (s) => ['{"type":"a.b","data":{"k', s, '":1}}']],
      ['/v1/events', 'id', (s) => ['{"type":"a.b","data":{},"id":"x', s, '"}']],
      ['/v1/endpoints', 'name', (s) => ['{"url":"https://93.184.215.14/u","name":"n', s, '"}']],
      ['/v1/endpoints', 'description', (s) => ['{"url":"https://93.184.215.14/u","description":"', s, '"}']],
      ['/v1/endpoints', 'url', (s) => ['{"url":"https://93.184.215.14/', s, '"}']],
      ['/v1/endpoints', 'header value', (s) => ['{"url":"https://93.184.215.14/u","headers":{"X-A":"', s, '"}}']],
      ['/v1/endpoints', 'metadata', (s) => ['{"url":"https://93.184.215.14/u","metadata":{"m":"', s, '"}}']],
    ];
    const failures = [];
    for (const [path, where, tpl] of templates) {
      const variants = [
        ...Object.entries(bad).map(([what, bytes]) => [what, Buffer.concat(tpl('').map((p, i) => (i === 1 ? bytes : Buffer.from(p, 'latin1'))))]),
        ...Object.entries(escapes).map(([what, esc]) => [what, Buffer.from(tpl(esc).join(''), 'latin1')]),
      ];
      for (const [what, body] of variants) {
        const res = await send(server, 'POST', path, { key: cleanKey, body, headers: { 'Content-Type': 'application/json' } });
        if (res.status !== 400) failures.push(`${path} ${where}, ${what} → ${res.status} ${res.text.slice(0, 150)}`);
      }
    }
    assert.deepEqual(failures, []);
    await assertNothingIn(cleanKey, 'invalid UTF-8');
  });

  it('10,000-deep nesting → 400 invalid_json; deeper than the body limit → 413; a shallow body still works', async () => {
    const D = 10000;
    const bodies = [
      ['/v1/events', 'data arrays', `{"type":"a.b","data":${'['.repeat(D)}${']'.repeat(D)}}`],
      ['/v1/events', 'data objects', `{"type":"a.b","data":${'{"a":'.repeat(D)}1${'}'.repeat(D)}}`],
      ['/v1/events', 'unclosed arrays', `{"type":"a.b","data":${'['.repeat(D)}`],
      ['/v1/events', 'top-level arrays', '['.repeat(D) + ']'.repeat(D)],
      ['/v1/endpoints', 'metadata', `{"url":"https://93.184.215.14/d","metadata":{"m":${'['.repeat(D)}${']'.repeat(D)}}}`],
      ['/v1/endpoints', 'headers', `{"url":"https://93.184.215.14/d","headers":${'{"a":'.repeat(D)}1${'}'.repeat(D)}}`],
      ['/v1/events', '65 levels', `{"type":"a.b","data":${'['.repeat(65)}${']'.repeat(65)}}`],
    ];
    for (const [path, what, body] of bodies) {
      const res = await send(server, 'POST', path, { key: cleanKey, body, headers: { 'Content-Type': 'application/json' } });
      assert.equal(res.status, 400, `${path} ${what}: ${res.status} ${res.text.slice(0, 200)}`);
      assert.equal(res.json?.error, 'invalid_json', `${path} ${what}: ${res.text.slice(0, 200)}`);
    }
    const huge = `{"type":"a.b","data":${'['.repeat(MAX_BODY)}${']'.repeat(MAX_BODY)}}`;
    const res = await send(server, 'POST', '/v1/events', { key: cleanKey, body: huge, headers: { 'Content-Type': 'application/json' } });
    assert.ok(res.closed || res.status === 413, `${huge.length} bytes of nesting: ${res.status} ${res.text.slice(0, 200)}`);
    await assertNothingIn(cleanKey, 'deep nesting');
    const shallow = await send(server, 'POST', '/v1/events', { key: evKey, body: { type: 'a.b', data: [[[[[[[[[[1]]]]]]]]]] } });
    assert.equal(shallow.status, 202, shallow.text);
  });

  it('bodies over --max-body → 413 (declared, and chunked); exactly --max-body is not a 413', async () => {
    const over = Buffer.alloc(MAX_BODY + 1, 0x20);
    over.write('{"type":"a.b","data":{}}');
    for (const path of ['/v1/events', '/v1/endpoints']) {
      const res = await send(server, 'POST', path, { key: cleanKey, body: over, headers: { 'Content-Type': 'application/json' } });
      assert.ok(res.closed || res.status === 413, `${path} ${over.length} bytes: ${res.status} ${res.text.slice(0, 200)}`);
      if (!res.closed) assert.equal(res.json?.error, 'payload_too_large');
    }
    // chunked, no Content-Length
    const chunk = 'x'.repeat(8192);
    let raw = `POST /v1/events HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${cleanKey}\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n`;
    for (let i = 0; i < 10; i++) raw += `${chunk.length.toString(16)}\r\n${chunk}\r\n`;
    raw += '0\r\n\r\n';
    const r = await rawRequest(server, raw, { timeoutMs: 10000 });
    const parsed = parseRawResponse(r.text);
    assert.ok(parsed.status === 413 || (parsed.status === null && r.error !== 'timeout'), `chunked over the limit: ${r.text.slice(0, 200)} ${r.error}`);
    // exactly the limit: read and parsed (a 202 here)
    const exact = Buffer.alloc(MAX_BODY, 0x20);
    exact.write('{"type":"a.b","data":{}}');
    const ok = await send(server, 'POST', '/v1/events', { key: evKey, body: exact, headers: { 'Content-Type': 'application/json' } });
    assert.equal(ok.status, 202, ok.text.slice(0, 200));
    await assertNothingIn(cleanKey, 'oversized bodies');
  });

  it('huge and many headers, long request lines, malformed HTTP: a 4xx or a closed connection, never a 5xx', async (t) => {
    const auth = `Authorization: Bearer ${evKey}\r\n`;
    const body = '{"type":"a.b","data":{}}';
    const post = (extra, opts = {}) =>
      `POST ${opts.path || '/v1/events'} HTTP/1.1\r\nHost: x\r\n${opts.noAuth ? '' : auth}Content-Type: application/json\r\n` +
      `${extra}Content-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`;
    const manyHeaders = (n) => Array.from({ length: n }, (_, i) => `X-H${i}: v${i}\r\n`).join('');
    // kind: 'reject' = a 4xx or a closed connection, promptly;
    //       'lenient' = a 2xx is acceptable too (a tolerant parser may accept it);
    //       'wait' = the request is incomplete from the server's side (it waits for declared
    //                bytes): staying open until the server's connection timeout is acceptable;
    //       'version' = an unsupported HTTP version: 505 is the answer RFC 9110 defines.
    const cases = [
      ['a 40 KiB header', post(`X-Big: ${'a'.repeat(40 * 1024)}\r\n`), 'reject'],
      ['a 1 MiB header', post(`X-Big: ${'a'.repeat(1024 * 1024)}\r\n`), 'reject'],
      ['5,000 small headers (~60 KiB)', post(manyHeaders(5000)), 'reject'],
      ['a 40 KiB request target', post('', { path: '/v1/events?' + 'q'.repeat(40 * 1024) }), 'reject'],
      ['a 40 KiB Authorization', post(`Authorization: Bearer ${'k'.repeat(40 * 1024)}\r\n`, { noAuth: true }), 'reject'],
      ['a 20 KiB Authorization', post(`Authorization: Bearer ${'k'.repeat(20 * 1024)}\r\n`, { noAuth: true }), 'reject'],
      ['200 small headers (fits)', post(manyHeaders(200)), 'lenient'],
      ['garbage request line', 'GARBAGE\r\n\r\n', 'reject'],
      ['binary noise', Buffer.from(randomBytes(prng(SEED + 1), 2000)).toString('latin1'), 'reject'],
      ['a bare CR in the request line', 'GET /healthz HTTP/1.1\rHost: x\r\n\r\n', 'reject'],
      ['HTTP/1.1 without Host', `GET /healthz HTTP/1.1\r\nConnection: close\r\n\r\n`, 'lenient'],
      ['HTTP/9.9', `GET /healthz HTTP/9.9\r\nHost: x\r\n\r\n`, 'version'],
      ['a header without a colon', post('NoColonHere\r\n'), 'reject'],
      ['an obs-fold continuation line', post('X-A: a\r\n  folded\r\n'), 'lenient'],
      ['a NUL in a header value', post('X-A: a\u0000b\r\n'), 'lenient'],
      // RFC 9112 §5.1: whitespace between a field name and the colon MUST be answered 400
      // (a request-smuggling vector behind proxies that read "Content-Length :" as Content-Length)
      ['a space before the colon', post('X-A : b\r\n'), 'reject'],
      ['Content-Length and Transfer-Encoding', post('Transfer-Encoding: chunked\r\n'), 'reject'],
      ['two different Content-Lengths', post('Content-Length: 3\r\n'), 'reject'],
      ['a negative Content-Length', `POST /v1/events HTTP/1.1\r\nHost: x\r\n${auth}Content-Length: -1\r\nConnection: close\r\n\r\n${body}`, 'reject'],
      ['a non-numeric Content-Length', `POST /v1/events HTTP/1.1\r\nHost: x\r\n${auth}Content-Length: 1e3\r\nConnection: close\r\n\r\n${body}`, 'reject'],
      ['a 20-digit Content-Length', `POST /v1/events HTTP/1.1\r\nHost: x\r\n${auth}Content-Length: 99999999999999999999\r\nConnection: close\r\n\r\n${body}`, 'reject'],
      ['a bad chunk size', `POST /v1/events HTTP/1.1\r\nHost: x\r\n${auth}Transfer-Encoding: chunked\r\nConnection: close\r\n\r\nzz\r\n${body}\r\n0\r\n\r\n`, 'reject'],
      ['a chunk size over 64 bits', `POST /v1/events HTTP/1.1\r\nHost: x\r\n${auth}Transfer-Encoding: chunked\r\nConnection: close\r\n\r\n10000000000000018\r\n${body}\r\n0\r\n\r\n`, 'reject'],
      ['a 2^64-1 chunk size', `POST /v1/events HTTP/1.1\r\nHost: x\r\n${auth}Transfer-Encoding: chunked\r\nConnection: close\r\n\r\nffffffffffffffff\r\n${body}\r\n0\r\n\r\n`, 'wait'],
      ['Transfer-Encoding: gzip', `POST /v1/events HTTP/1.1\r\nHost: x\r\n${auth}Transfer-Encoding: gzip\r\nConnection: close\r\n\r\n${body}`, 'wait'],
      ['Transfer-Encoding: chunked, gzip', `POST /v1/events HTTP/1.1\r\nHost: x\r\n${auth}Transfer-Encoding: chunked, gzip\r\nConnection: close\r\n\r\n${body}`, 'wait'],
      ['an unknown method', `FOO /v1/events HTTP/1.1\r\nHost: x\r\n${auth}Connection: close\r\n\r\n`, 'reject'],
      ['CONNECT', `CONNECT 127.0.0.1:22 HTTP/1.1\r\nHost: 127.0.0.1:22\r\nConnection: close\r\n\r\n`, 'reject'],
      ['TRACE', `TRACE /v1/events HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n`, 'reject'],
      ['an absolute-form target', post('', { path: 'http://169.254.169.254/latest/meta-data/' }), 'lenient'],
      ['a path with NUL and dot segments', `GET /v1/../v1/endpoints/%00/../%ff HTTP/1.1\r\nHost: x\r\n${auth}Connection: close\r\n\r\n`, 'reject'],
      ['a 5 KiB endpoint id', `GET /v1/endpoints/${'e'.repeat(5000)} HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${epKey}\r\nConnection: close\r\n\r\n`, 'reject'],
    ];
    const failures = [];
    const seen = [];
    await runPool(cases, 6, async ([what, data, kind]) => {
      const r = await rawRequest(server, data, { timeoutMs: kind === 'wait' ? 1500 : 5000 });
      const { status } = parseRawResponse(r.text);
      const timedOut = /timeout/.test(String(r.error));
      seen.push(`${what}: ${status ?? (timedOut ? 'still open' : 'closed')}`);
      if (status === null) {
        if (timedOut && kind !== 'wait') failures.push(`${what}: no answer and the connection stayed open for 5 s`);
        return; // closed without an answer
      }
      const ok =
        (status >= 400 && status < 500) ||
        (kind === 'lenient' && status >= 200 && status < 300) ||
        (kind === 'version' && status === 505);
      if (!ok) failures.push(`${what}: ${r.text.slice(0, 160).replace(/\r\n/g, ' | ')}`);
    });
    t.diagnostic(seen.join('; '));
    assert.deepEqual(failures, [], seen.join('\n'));

    await assertStillServing('malformed HTTP');
  });

  it('Expect: 100-continue with a declared length over --max-body is answered 413 at once, not 100 Continue', async () => {
    const auth = `Authorization: Bearer ${evKey}\r\n`;
    // Expect: 100-continue with a declared length over --max-body: the 413 comes at once, instead
    // of a "100 Continue" that invites the client to upload what will be refused
    const expect = await rawRequest(
      server,
      `POST /v1/events HTTP/1.1\r\nHost: x\r\n${auth}Content-Type: application/json\r\nExpect: 100-continue\r\n` +
        `Content-Length: ${MAX_BODY * 16}\r\nConnection: close\r\n\r\n`,
      { timeoutMs: 2000, until: /HTTP\/1\.1 \d{3}[^\r]*\r\n/ }
    );
    assert.equal(
      parseRawResponse(expect.text).status,
      413,
      `Expect: 100-continue with Content-Length ${MAX_BODY * 16} (--max-body ${MAX_BODY}): ${JSON.stringify(expect.text.slice(0, 120))}`
    );
  });

  it('slow-loris: 100 partial requests hang while /healthz and normal requests are answered promptly', async () => {
    const sockets = [];
    const open = (head) =>
      new Promise((resolve) => {
        const s = net.connect(server.port, '127.0.0.1');
        s.got = '';
        s.on('data', (c) => (s.got += c.toString('latin1')));
        s.on('error', () => {});
        s.on('connect', () => {
          s.write(head);
          resolve(s);
        });
        sockets.push(s);
      });
    try {
      // 50 with an unfinished header block, 50 with a body that never completes
      for (let i = 0; i < 50; i++) await open(`POST /v1/events HTTP/1.1\r\nHost: x\r\nX-Slow-${i}: `);
      for (let i = 0; i < 50; i++) {
        await open(
          `POST /v1/events HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${evKey}\r\nContent-Type: application/json\r\nContent-Length: 100000\r\n\r\n{"type":`
        );
      }
      // and 200 idle connections that never send a byte
      for (let i = 0; i < 200; i++) {
        const s = net.connect(server.port, '127.0.0.1');
        s.on('error', () => {});
        sockets.push(s);
      }
      const latencies = [];
      const failures = [];
      for (let round = 0; round < 15; round++) {
        // drip one more byte into every partial request
        for (const s of sockets.slice(0, 100)) if (!s.destroyed) s.write('a');
        const t0 = Date.now();
        const [h, e] = await Promise.all([
          send(server, 'GET', '/healthz'),
          send(server, 'POST', '/v1/events', { key: evKey, body: { type: 'safety.loris', data: { round } } }),
        ]);
        latencies.push(Date.now() - t0);
        if (h.status !== 200) failures.push(`round ${round}: /healthz ${h.status} ${h.text}`);
        if (e.status !== 202) failures.push(`round ${round}: POST /v1/events ${e.status} ${e.text}`);
        await sleep(150);
      }
      const worst = Math.max(...latencies);
      assert.deepEqual(failures, []);
      assert.ok(worst < 1500, `answered in at most ${worst} ms while 300 connections dangle: ${latencies.join(', ')}`);
      // whatever the partial requests got so far (normally nothing until the server's timeout) is a 4xx
      const answers = sockets.filter((s) => s.got).map((s) => parseRawResponse(s.got).status);
      assert.ok(
        answers.every((st) => st >= 400 && st < 500),
        `answers to partial requests: ${JSON.stringify(answers)}`
      );
    } finally {
      for (const s of sockets) s.destroy();
    }
    await sleep(100);
    await assertStillServing('the slow-loris sockets');
  });
});
