'use strict';
// Helpers for the inbound source tests (§2.7): requests to POST /in/{id} signed the way each
// sender signs them, with the senders' own libraries where they publish one (GitHub:
// @octokit/webhooks-methods, Stripe: stripe, Standard Webhooks: standardwebhooks / svix),
// `hookd sign --scheme hex` for the hookd preset, node:crypto for Shopify and custom schemes.

const crypto = require('node:crypto');
const assert = require('node:assert/strict');
const { api, checkResponse, runHookd, sleep } = require('./hookd');

function nowSeconds() {
  return Math.floor(Date.now() / 1000);
}

// The same bytes with one bit of byte i flipped (i defaults to the middle of the body).
function flipByte(body, i) {
  const copy = Buffer.from(body);
  const at = i === undefined ? Math.floor(copy.length / 2) : i;
  copy[at] ^= 0x01;
  return copy;
}

// A whsec_ secret as hookd mints them.
function newSecret() {
  return `whsec_${crypto.randomBytes(32).toString('base64')}`;
}

// ---- the senders' libraries ----

let octokit = null;
// @octokit/webhooks-methods is ESM only.
async function octokitSign(secret, payload) {
  if (!octokit) octokit = await import('@octokit/webhooks-methods');
  return octokit.sign(secret, payload);
}

let stripeClient = null;
function stripeHeader(payload, secret, timestamp) {
  if (!stripeClient) {
    const Stripe = require('stripe');
    stripeClient = new Stripe('sk_test_hookd_interop');
  }
  const opts = { payload, secret };
  if (timestamp !== undefined) opts.timestamp = timestamp;
  return stripeClient.webhooks.generateTestHeaderString(opts);
}

function standardSign(secret, msgId, date, payload) {
  const { Webhook } = require('standardwebhooks');
  return new Webhook(secret).sign(msgId, date, payload);
}

function svixSign(secret, msgId, date, payload) {
  const { Webhook } = require('svix');
  return new Webhook(secret).sign(msgId, date, payload);
}

// `hookd sign --scheme hex`: {X-Webhook-Signature, X-Webhook-Timestamp}; secret may be a list
// (a rotation: one signature per secret).
function hookdSignHex(secret, body, timestamp) {
  const args = ['sign', ...[].concat(secret).flatMap((s) => ['--secret', s]), '--scheme', 'hex'];
  if (timestamp !== undefined) args.push('--timestamp', String(timestamp));
  const r = runHookd(args, { input: body });
  if (r.code !== 0) throw new Error(`hookd sign exited ${r.code}: ${r.stderr}`);
  const headers = {};
  for (const line of r.stdout.split('\n')) {
    if (line === '') continue;
    const colon = line.indexOf(': ');
    assert.ok(colon > 0, `hookd sign printed '${line}'`);
    headers[line.slice(0, colon)] = line.slice(colon + 2);
  }
  return headers;
}

function hmac(secret, data, encoding) {
  return crypto.createHmac('sha256', Buffer.from(secret, 'utf8')).update(data).digest(encoding);
}

// ---- requests ----

/**
 * POST /in/{sourceId} with the exact bytes of `body` (string or Buffer). Content-Type is
 * application/json unless `contentType` says otherwise (null: no Content-Type at all).
 */
async function sendIn(server, sourceId, body, headers = {}, { contentType = 'application/json' } = {}) {
  const h = { ...headers };
  if (contentType !== null) h['Content-Type'] = contentType;
  const res = await fetch(`${server.url}/in/${sourceId}`, {
    method: 'POST',
    headers: h,
    body: Buffer.isBuffer(body) ? body : Buffer.from(body, 'utf8'),
  });
  return checkResponse('POST', `/in/${sourceId}`, res);
}

// API call that waits out 429s (for servers started with a tiny --rate-limit).
async function apiPatient(server, method, path, opts = {}) {
  for (let i = 0; ; i++) {
    const res = await api(server, method, path, opts);
    if (res.status !== 429 || i >= 20) return res;
    await sleep(Number(res.headers.get('retry-after') || 1) * 1000 + 50);
  }
}

async function createSource(server, key, body, { patient = false } = {}) {
  const call = patient ? apiPatient : api;
  const res = await call(server, 'POST', '/v1/sources', { key, body });
  assert.equal(res.status, 201, `creating source ${JSON.stringify(body)}: ${res.text}`);
  return res.json;
}

// GET /v1/sources/{id}/messages (status filter optional): the list object.
async function messages(server, key, sourceId, { status, limit = 250, cursor, patient = false } = {}) {
  const q = new URLSearchParams({ limit: String(limit) });
  if (status) q.set('status', status);
  if (cursor) q.set('cursor', cursor);
  const call = patient ? apiPatient : api;
  const res = await call(server, 'GET', `/v1/sources/${sourceId}/messages?${q}`, { key });
  assert.equal(res.status, 200, `messages of ${sourceId}: ${res.text}`);
  return res.json;
}

// A header of a recorded inbound message, by case-insensitive name.
function headerOf(headersObj, name) {
  const want = name.toLowerCase();
  for (const [k, v] of Object.entries(headersObj || {})) if (k.toLowerCase() === want) return v;
  return undefined;
}

const MSG_ID_RE = /^in_[0-9A-HJKMNP-TV-Z]{26}$/;
const EVT_ID_RE = /^evt_[0-9A-HJKMNP-TV-Z]{26}$/;
const SRC_ID_RE = /^src_[0-9A-HJKMNP-TV-Z]{26}$/;

// A well-formed source id that names nothing.
function unknownSourceId() {
  const alphabet = '0123456789ABCDEFGHJKMNPQRSTVWXYZ';
  let s = 'src_';
  for (const b of crypto.randomBytes(26)) s += alphabet[b & 31];
  return s;
}

module.exports = {
  nowSeconds,
  flipByte,
  newSecret,
  octokitSign,
  stripeHeader,
  standardSign,
  svixSign,
  hookdSignHex,
  hmac,
  sendIn,
  apiPatient,
  createSource,
  messages,
  headerOf,
  unknownSourceId,
  MSG_ID_RE,
  EVT_ID_RE,
  SRC_ID_RE,
};
