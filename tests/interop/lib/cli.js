'use strict';
// Runs `hookd sign` and `hookd verify` (§5) for the interop tests, and finds the build they test.

const { spawnSync } = require('node:child_process');
const crypto = require('node:crypto');
const path = require('node:path');

const REPO = path.resolve(__dirname, '..', '..', '..');
const BIN = process.env.HOOKD_BIN
  ? path.resolve(process.env.HOOKD_BIN)
  : path.join(REPO, 'build', 'hookd');
// libhookd.a and libhookd.so sit next to the program (build/ or build-asan/).
const BUILD_DIR = path.dirname(BIN);

function run(args, input) {
  const res = spawnSync(BIN, args, { input: input ?? Buffer.alloc(0), timeout: 30000 });
  // hookd may refuse a request (a missing header, a usage error) without reading stdin and exit
  // while the body is still being written: the exit status is the answer, not the broken pipe.
  if (res.error && !(res.error.code === 'EPIPE' && res.status !== null)) throw res.error;
  return { status: res.status, stdout: res.stdout.toString(), stderr: res.stderr.toString() };
}

function secretArgs(secret) {
  return (Array.isArray(secret) ? secret : [secret]).flatMap((s) => ['--secret', s]);
}

// `hookd sign`; returns the printed headers as an object, names as printed.
function sign({ secret, body, scheme, id, timestamp }) {
  const args = ['sign', ...secretArgs(secret)];
  if (scheme) args.push('--scheme', scheme);
  if (id !== undefined) args.push('--id', id);
  if (timestamp !== undefined) args.push('--timestamp', String(timestamp));
  const res = run(args, Buffer.from(body));
  if (res.status !== 0) throw new Error(`hookd sign exited ${res.status}: ${res.stderr}`);
  const headers = {};
  for (const line of res.stdout.split('\n')) {
    if (line === '') continue;
    const colon = line.indexOf(': ');
    if (colon <= 0) throw new Error(`hookd sign printed '${line}'`);
    headers[line.slice(0, colon)] = line.slice(colon + 2);
  }
  return headers;
}

// `hookd verify`; headers is an object or a list of [name, value]; returns { status, stderr }.
function verify({ secret, body, headers, scheme, tolerance }) {
  const args = ['verify', ...secretArgs(secret)];
  if (scheme) args.push('--scheme', scheme);
  if (tolerance !== undefined) args.push('--tolerance', String(tolerance));
  const list = Array.isArray(headers) ? headers : Object.entries(headers);
  for (const [name, value] of list) args.push('-H', `${name}: ${value}`);
  return run(args, Buffer.from(body));
}

// A secret in the Standard Webhooks format, as hookd mints them.
function newSecret() {
  return `whsec_${crypto.randomBytes(32).toString('base64')}`;
}

function nowSeconds() {
  return Math.floor(Date.now() / 1000);
}

// The same bytes with one bit of byte i flipped.
function flipByte(buf, i) {
  const copy = Buffer.from(buf);
  copy[i] ^= 0x01;
  return copy;
}

module.exports = { REPO, BIN, BUILD_DIR, run, sign, verify, newSecret, nowSeconds, flipByte };
