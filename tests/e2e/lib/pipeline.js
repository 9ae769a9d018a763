'use strict';
// Helpers for the outbound pipeline tests (§2.3–§2.6, §3, §4): a hookd with a receiver and an
// org, independent signature computation, and polling of the API with deadlines.

const crypto = require('node:crypto');
const assert = require('node:assert/strict');
const { startHookd, api, createOrgWithKey, sleep, assertNoSanitizerReport } = require('./hookd');
const { startReceiver } = require('./receiver');

// ---- signatures, computed here with node:crypto only (§3) ----

function standardKey(secret) {
  assert.match(secret, /^whsec_/);
  return Buffer.from(secret.slice('whsec_'.length), 'base64');
}

// `v1,<base64 HMAC-SHA256(key = base64-decoded part after whsec_, "{id}.{ts}.{body}")>`
function signStandard(secret, id, ts, body) {
  const mac = crypto.createHmac('sha256', standardKey(secret));
  mac.update(`${id}.${ts}.`);
  mac.update(body);
  return `v1,${mac.digest('base64')}`;
}

// A KeyObject of an Ed25519 public key `whpk_<base64 of 32 bytes>`, through a JWK.
function ed25519PublicKey(whpk) {
  assert.match(whpk, /^whpk_/);
  const raw = Buffer.from(whpk.slice('whpk_'.length), 'base64');
  assert.equal(raw.length, 32, whpk);
  return crypto.createPublicKey({ key: { kty: 'OKP', crv: 'Ed25519', x: raw.toString('base64url') }, format: 'jwk' });
}

// Whether one `v1a,<base64>` entry is whpk's Ed25519 signature of req's "{id}.{ts}.{body}",
// by Node's crypto.verify (req as the receiver records it: lower-case headers, raw body).
function verifiesV1a(whpk, req, entry) {
  const content = Buffer.concat([
    Buffer.from(`${req.headers['webhook-id']}.${req.headers['webhook-timestamp']}.`),
    req.body,
  ]);
  return crypto.verify(null, content, ed25519PublicKey(whpk), Buffer.from(entry.slice('v1a,'.length), 'base64'));
}

// The `v1a,` entries of a `webhook-signature` header.
function v1aSignatures(header) {
  return String(header || '')
    .split(' ')
    .filter((s) => s.startsWith('v1a,'));
}

// `sha256=<hex HMAC-SHA256(key = the secret string's UTF-8 bytes, "{ts}.{body}")>`
function signHex(secret, ts, body) {
  const mac = crypto.createHmac('sha256', Buffer.from(secret, 'utf8'));
  mac.update(`${ts}.`);
  mac.update(body);
  return `sha256=${mac.digest('hex')}`;
}

// The list of signatures in a standard `webhook-signature` header (space separated).
function standardSignatures(header) {
  return String(header || '')
    .split(' ')
    .filter(Boolean);
}

// The list of signatures in a hex `X-Webhook-Signature` header (comma separated).
function hexSignatures(header) {
  return String(header || '')
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);
}

// ---- fixtures ----

const BASE_ARGS = ['--allow-http', '--allow-private'];

/**
 * Starts a hookd (with --allow-http --allow-private plus `args`), a receiver and an org with a
 * key of every scope; everything is stopped after the test (or suite, with `after`).
 * Returns {server, rx, org, key, admin}.
 */
async function pipelineFixture(t, { args = [], receiver = {}, hookd = {} } = {}) {
  const server = await startHookd({ ...hookd, args: [...BASE_ARGS, ...args] });
  const rx = await startReceiver(receiver);
  const cleanup = async () => {
    await rx.close();
    await server.cleanup();
  };
  if (t) t.after(cleanup);
  const { org, key } = await createOrgWithKey(server);
  return { server, rx, org, key, admin: server.adminKey, cleanup };
}

let typeCounter = 0;
// A unique event type name under `prefix` (the catalog is global: tests must not collide).
function uniqueType(prefix = 't') {
  typeCounter += 1;
  return `${prefix}_${process.pid}_${typeCounter}_${crypto.randomBytes(2).toString('hex')}`;
}

async function createEventType(server, name, description = 'a test event type') {
  const res = await api(server, 'POST', '/v1/event-types', {
    key: server.adminKey,
    body: { name, description },
  });
  assert.equal(res.status, 201, `creating event type ${name}: ${res.text}`);
  return res.json;
}

async function createEndpoint(server, key, body) {
  const res = await api(server, 'POST', '/v1/endpoints', { key, body });
  assert.equal(res.status, 201, `creating endpoint: ${res.text}`);
  return res.json;
}

async function emit(server, key, body, expected = 202) {
  const res = await api(server, 'POST', '/v1/events', { key, body });
  assert.equal(res.status, expected, `emitting ${JSON.stringify(body).slice(0, 200)}: ${res.text}`);
  return res.json;
}

async function getJson(server, key, path) {
  const res = await api(server, 'GET', path, { key });
  assert.equal(res.status, 200, `GET ${path}: ${res.text}`);
  return res.json;
}

/**
 * Polls GET `path` until pred(json) holds; returns that json. On timeout, fails with the last
 * answer.
 */
async function pollJson(server, key, path, pred, { timeoutMs = 10000, intervalMs = 25, what } = {}) {
  const deadline = Date.now() + timeoutMs;
  let last;
  for (;;) {
    const res = await api(server, 'GET', path, { key });
    last = res;
    if (res.status === 200 && pred(res.json)) return res.json;
    if (Date.now() > deadline) {
      throw new Error(
        `timed out after ${timeoutMs} ms waiting for ${what || path}; last answer ${res.status}: ${res.text.slice(0, 3000)}`
      );
    }
    await sleep(intervalMs);
  }
}

const FINAL = new Set(['delivered', 'failed', 'exhausted']);

// Waits until the delivery reaches one of `states` (default: any final state).
function waitDelivery(server, key, id, states = FINAL, opts = {}) {
  const want = states instanceof Set ? states : new Set([].concat(states));
  return pollJson(server, key, `/v1/deliveries/${id}`, (d) => want.has(d.status), {
    what: `delivery ${id} to reach ${[...want].join('|')}`,
    ...opts,
  });
}

// Every delivery of an event (GET /v1/deliveries?event_id=).
async function deliveriesOf(server, key, eventId) {
  const j = await getJson(server, key, `/v1/deliveries?event_id=${encodeURIComponent(eventId)}&limit=250`);
  return j.data;
}

// Waits until the event has `count` deliveries, all of them in a final state.
async function waitEventSettled(server, key, eventId, count, opts = {}) {
  return pollJson(
    server,
    key,
    `/v1/deliveries?event_id=${encodeURIComponent(eventId)}&limit=250`,
    (j) => j.data.length === count && j.data.every((d) => FINAL.has(d.status)),
    { what: `the ${count} deliveries of ${eventId} to settle`, ...opts }
  ).then((j) => j.data);
}

function waitEndpoint(server, key, id, pred, opts = {}) {
  return pollJson(server, key, `/v1/endpoints/${id}`, pred, { what: `endpoint ${id}`, ...opts });
}

// Stops a server started by startHookd and checks a sanitizer build said nothing.
async function stopChecked(server, signal = 'SIGTERM') {
  const r = await server.stop(signal);
  assertNoSanitizerReport(server);
  return r;
}

// Emits one event per body, `concurrency` POSTs at a time; returns the 202 bodies in order.
async function emitAll(server, key, bodies, concurrency = 8) {
  const out = new Array(bodies.length);
  let next = 0;
  const worker = async () => {
    while (next < bodies.length) {
      const i = next++;
      const res = await api(server, 'POST', '/v1/events', { key, body: bodies[i] });
      assert.equal(res.status, 202, `event ${i}: ${res.text}`);
      out[i] = res.json;
    }
  };
  await Promise.all(Array.from({ length: concurrency }, worker));
  return out;
}

// Every delivery of an endpoint (all pages).
async function endpointDeliveries(server, key, epId) {
  const all = [];
  let cursor = null;
  for (;;) {
    const q = `/v1/endpoints/${epId}/deliveries?limit=250${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}`;
    const res = await api(server, 'GET', q, { key });
    assert.equal(res.status, 200, res.text);
    all.push(...res.json.data);
    cursor = res.json.next_cursor;
    if (!cursor) return all;
  }
}

module.exports = {
  emitAll,
  endpointDeliveries,
  BASE_ARGS,
  FINAL,
  signStandard,
  signHex,
  ed25519PublicKey,
  verifiesV1a,
  v1aSignatures,
  standardSignatures,
  hexSignatures,
  pipelineFixture,
  uniqueType,
  createEventType,
  createEndpoint,
  emit,
  getJson,
  pollJson,
  waitDelivery,
  waitEventSettled,
  deliveriesOf,
  waitEndpoint,
  stopChecked,
  startReceiver,
};
