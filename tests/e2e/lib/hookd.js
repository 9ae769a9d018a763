'use strict';
// Black-box harness for hookd: starts `hookd serve` on a free loopback port with a
// SQLite file in a temp dir, talks to it over HTTP, and always cleans up after itself.

const { spawn, spawnSync } = require('node:child_process');
const crypto = require('node:crypto');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const { checkAnswerAsync, checkResponse } = require('./openapi');

const BIN = process.env.HOOKD_BIN
  ? path.resolve(process.env.HOOKD_BIN)
  : path.resolve(__dirname, '..', '..', '..', 'build', 'hookd');

// Sanitizer builds start and answer more slowly; be generous but bounded.
const START_TIMEOUT_MS = 15000;
const STOP_TIMEOUT_MS = 10000;

const KEY_RE = /^key_[0-9A-HJKMNP-TV-Z]{26}\.[A-Za-z0-9_-]{43}$/;
const ORG_ID_RE = /^org_[0-9A-HJKMNP-TV-Z]{26}$/;
const KEY_ID_RE = /^key_[0-9A-HJKMNP-TV-Z]{26}$/;
const TIME_RE = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/;
const SECRET_RE = /^whsec_[A-Za-z0-9+/]{43}=$/;

const liveChildren = new Set();
const tempDirs = new Set();

// Last line of defence: no hookd outlives the test process, no temp dir is left behind.
process.on('exit', () => {
  for (const child of liveChildren) {
    try {
      child.kill('SIGKILL');
    } catch {
      /* already gone */
    }
  }
  for (const dir of tempDirs) {
    try {
      fs.rmSync(dir, { recursive: true, force: true });
    } catch {
      /* best effort */
    }
  }
});

function makeTempDir() {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'hookd-e2e-'));
  tempDirs.add(dir);
  return dir;
}

function removeTempDir(dir) {
  fs.rmSync(dir, { recursive: true, force: true });
  tempDirs.delete(dir);
}

// The environment for a child: ours minus every HOOKD_* variable, plus the given ones.
function childEnv(extra = {}) {
  const env = {};
  for (const [k, v] of Object.entries(process.env)) {
    if (!k.startsWith('HOOKD_')) env[k] = v;
  }
  return { ...env, ...extra };
}

// With HOOKD_BIN pointing to a sanitizer build, a report on stderr is a failure of its own.
function assertNoSanitizerReport(server) {
  const m = /(ERROR: (Address|Leak|Thread|Memory)Sanitizer|runtime error:)[^\n]*/.exec(server.stderr);
  if (m) {
    const at = server.stderr.indexOf(m[0]);
    throw new Error(`sanitizer report from hookd:\n${server.stderr.slice(at, at + 4000)}`);
  }
}

function randomAdminKey() {
  return 'adm_' + crypto.randomBytes(24).toString('hex');
}

function sleep(ms) {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/**
 * Starts `hookd serve`.
 *   args      extra arguments after `serve`
 *   env       extra environment (HOOKD_* of the test process are never inherited)
 *   adminKey  a fixed admin key (default: a random one); null: let hookd mint one on
 *             first start (it is then read from stdout when printed)
 *   dir       directory for the database (default: a new temp dir)
 *   dbPath    database file (default: <dir>/hookd.db)
 *   db        a whole --db URL (e.g. postgres://...) in place of sqlite:<dbPath>; the database
 *             lives outside the temp dir, so a server started again with the same `db` (and
 *             adminKey) finds its data; server.dbPath is then null
 *   listen    default 127.0.0.1:0
 *   noDb / noListen  do not pass --db / --listen (for precedence tests)
 */
async function startHookd(opts = {}) {
  const dir = opts.dir || makeTempDir();
  const dbPath = opts.db ? null : opts.dbPath || path.join(dir, 'hookd.db');
  const adminKey = opts.adminKey === undefined ? randomAdminKey() : opts.adminKey;
  const args = ['serve'];
  if (!opts.noListen) args.push('--listen', opts.listen || '127.0.0.1:0');
  if (!opts.noDb) args.push('--db', opts.db || `sqlite:${dbPath}`);
  if (adminKey) args.push('--admin-key', adminKey);
  args.push(...(opts.args || []));

  const child = spawn(BIN, args, {
    cwd: dir,
    env: childEnv(opts.env),
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  liveChildren.add(child);

  const server = {
    child,
    args,
    dir,
    dbPath,
    db: opts.db || null,
    adminKey,
    port: null,
    url: null,
    tls: false,
    stdout: '',
    stderr: '',
    stderrLines: [],
    exitCode: undefined,
    exitSignal: undefined,
  };

  const exited = new Promise((resolve) => {
    child.on('error', (error) => {
      // e.g. HOOKD_BIN does not exist: reported by the start below
      server.exitCode = null;
      server.stderr += `cannot run ${BIN}: ${error.message}\n`;
      liveChildren.delete(child);
      resolve({ code: null, signal: null });
    });
    child.on('exit', (code, signal) => {
      server.exitCode = code;
      server.exitSignal = signal;
      liveChildren.delete(child);
      resolve({ code, signal });
    });
  });
  server.exited = exited;

  let stderrRest = '';
  let onProgress = () => {};
  child.stdout.setEncoding('utf8');
  child.stderr.setEncoding('utf8');
  child.stdout.on('data', (chunk) => {
    server.stdout += chunk;
    onProgress();
  });
  child.stderr.on('data', (chunk) => {
    server.stderr += chunk;
    stderrRest += chunk;
    let nl;
    while ((nl = stderrRest.indexOf('\n')) >= 0) {
      const line = stderrRest.slice(0, nl);
      stderrRest = stderrRest.slice(nl + 1);
      server.stderrLines.push(line);
      let obj = null;
      try {
        obj = JSON.parse(line);
      } catch {
        /* not JSON: kept as text */
      }
      if (obj && obj.msg === 'listening' && server.port === null) {
        server.port = obj.port;
        server.tls = obj.tls === true;
      }
    }
    onProgress();
  });

  server.logs = () =>
    server.stderrLines
      .map((l) => {
        try {
          return JSON.parse(l);
        } catch {
          return null;
        }
      })
      .filter(Boolean);

  server.stop = async (signal = 'SIGTERM') => {
    if (server.exitCode === undefined) {
      child.kill(signal);
      const timer = setTimeout(() => child.kill('SIGKILL'), STOP_TIMEOUT_MS);
      await exited;
      clearTimeout(timer);
    }
    return { code: server.exitCode, signal: server.exitSignal };
  };
  server.kill = () => server.stop('SIGKILL');
  // Stops the server (if still running) and removes its temp dir (unless given by the caller).
  server.cleanup = async () => {
    await server.stop();
    if (!opts.dir) removeTempDir(dir);
    assertNoSanitizerReport(server);
  };

  const wantKey = adminKey === null;
  const bootstrapRe = /created the admin key[^\n]*\n\s+(\S+)\n/;
  await new Promise((resolve, reject) => {
    let settled = false;
    let graceTimer = null;
    const finish = (err) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      clearTimeout(graceTimer);
      if (err) reject(err);
      else resolve();
    };
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      finish(new Error(`hookd did not start within ${START_TIMEOUT_MS} ms\n${server.stderr}`));
    }, START_TIMEOUT_MS);
    onProgress = () => {
      if (server.port === null) return;
      if (!wantKey || bootstrapRe.test(server.stdout)) {
        finish();
      } else if (graceTimer === null) {
        // the minted key is printed before "listening" but stdout may lag behind; a store
        // that already holds keys prints nothing, so do not wait for it forever
        graceTimer = setTimeout(() => finish(), 500);
      }
    };
    exited.then(({ code, signal }) => {
      if (server.port !== null) finish();
      else finish(new Error(`hookd exited (${code ?? signal}) before listening\n${server.stderr}`));
    });
  });
  onProgress = () => {};
  if (wantKey) {
    const m = bootstrapRe.exec(server.stdout);
    server.adminKey = m ? m[1] : null;
  }
  server.url = `${server.tls ? 'https' : 'http'}://127.0.0.1:${server.port}`;
  return server;
}

// The --role a server was started with (flag or environment), for the document's check.
function roleOf(server) {
  const args = server.args || [];
  const at = args.indexOf('--role');
  if (at >= 0) return args[at + 1];
  const flag = args.find((a) => a.startsWith('--role='));
  return flag ? flag.slice('--role='.length) : undefined;
}

/**
 * One HTTP request. body: an object/array (sent as JSON with Content-Type
 * application/json unless headers say otherwise), a string or Buffer (sent as bytes, with
 * no Content-Type unless headers give one). key: sent as `Authorization: Bearer <key>`.
 * The answer is checked against the OpenAPI document (lib/openapi.js): a status the operation
 * does not document, or a body that does not fit its schema, throws.
 */
async function api(server, method, urlPath, { key, body, headers = {} } = {}) {
  const h = { ...headers };
  let payload;
  if (key !== undefined && key !== null) h.Authorization = `Bearer ${key}`;
  if (body !== undefined) {
    if (typeof body === 'string') {
      payload = Buffer.from(body, 'utf8');
    } else if (Buffer.isBuffer(body) || body instanceof Uint8Array) {
      payload = body;
    } else {
      payload = Buffer.from(JSON.stringify(body), 'utf8');
      const hasType = Object.keys(h).some((k) => k.toLowerCase() === 'content-type');
      if (!hasType) h['Content-Type'] = 'application/json';
    }
  }
  const res = await fetch(server.url + urlPath, { method, headers: h, body: payload });
  const text = await res.text();
  let json;
  try {
    json = JSON.parse(text);
  } catch {
    json = undefined;
  }
  const answer = { status: res.status, contentType: res.headers.get('content-type'), text, headers: Object.fromEntries(res.headers) };
  await checkAnswerAsync(method, urlPath, answer, { role: roleOf(server) });
  return { status: res.status, headers: res.headers, text, json };
}

let nameCounter = 0;
function uniqueName(prefix = 'org') {
  nameCounter += 1;
  return `${prefix}-${process.pid}-${nameCounter}-${crypto.randomBytes(3).toString('hex')}`;
}

async function createOrg(server, name = uniqueName('org')) {
  const res = await api(server, 'POST', '/v1/orgs', { key: server.adminKey, body: { name } });
  if (res.status !== 201) throw new Error(`creating org: ${res.status} ${res.text}`);
  return res.json;
}

async function createKey(server, orgId, scopes = ['events', 'webhooks', 'sources'], name) {
  const res = await api(server, 'POST', `/v1/orgs/${orgId}/api-keys`, {
    key: server.adminKey,
    body: { name: name || uniqueName('key'), scopes },
  });
  if (res.status !== 201) throw new Error(`creating key: ${res.status} ${res.text}`);
  return res.json;
}

// An org with one key holding the given scopes: {org, keyObj, key}.
async function createOrgWithKey(server, scopes = ['events', 'webhooks', 'sources']) {
  const org = await createOrg(server);
  const keyObj = await createKey(server, org.id, scopes);
  return { org, keyObj, key: keyObj.key };
}

// Runs the hookd binary to completion: {code, signal, stdout, stderr}.
function runHookd(args, { env = {}, cwd, input, timeout = 15000 } = {}) {
  const r = spawnSync(BIN, args, {
    env: childEnv(env),
    cwd: cwd || os.tmpdir(),
    input,
    encoding: 'utf8',
    timeout,
  });
  if (r.error) throw r.error;
  return { code: r.status, signal: r.signal, stdout: r.stdout, stderr: r.stderr };
}

// Same, without blocking the event loop (so a running server keeps being served).
function runHookdAsync(args, { env = {}, cwd, timeout = 15000 } = {}) {
  return new Promise((resolve, reject) => {
    const child = spawn(BIN, args, {
      env: childEnv(env),
      cwd: cwd || os.tmpdir(),
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    liveChildren.add(child);
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (c) => (stdout += c));
    child.stderr.setEncoding('utf8').on('data', (c) => (stderr += c));
    const timer = setTimeout(() => child.kill('SIGKILL'), timeout);
    child.on('error', reject);
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      liveChildren.delete(child);
      resolve({ code, signal, stdout, stderr });
    });
  });
}

// A JSON object body padded with whitespace to exactly `size` bytes.
function paddedOrgBody(size, name = uniqueName('pad')) {
  const core = JSON.stringify({ name });
  if (size < core.length) throw new Error('size too small');
  return core.slice(0, -1) + ' '.repeat(size - core.length) + '}';
}

// Writes raw bytes on a new TCP connection and collects what comes back until the server
// closes the connection, `until` matches the collected text, or timeoutMs passes.
function rawRequest(server, data, { until, timeoutMs = 5000 } = {}) {
  const net = require('node:net');
  return new Promise((resolve) => {
    const socket = net.connect(server.port, '127.0.0.1');
    let text = '';
    let done = false;
    const finish = (error) => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      socket.destroy();
      resolve({ text, error: error ? error.code || String(error) : null });
    };
    const timer = setTimeout(() => finish(new Error('timeout')), timeoutMs);
    socket.setEncoding('latin1');
    socket.on('data', (chunk) => {
      text += chunk;
      if (until && until.test(text)) finish();
    });
    socket.on('end', () => finish());
    socket.on('error', (e) => finish(e));
    socket.on('connect', () => socket.write(data));
  });
}

// Parses a raw HTTP/1.1 response: {status, headers (lower-case names), body}.
function parseRawResponse(text) {
  const split = text.indexOf('\r\n\r\n');
  const head = split >= 0 ? text.slice(0, split) : text;
  const body = split >= 0 ? text.slice(split + 4) : '';
  const lines = head.split('\r\n');
  const m = /^HTTP\/1\.[01] (\d{3})/.exec(lines[0] || '');
  const headers = {};
  for (const line of lines.slice(1)) {
    const i = line.indexOf(':');
    if (i > 0) headers[line.slice(0, i).trim().toLowerCase()] = line.slice(i + 1).trim();
  }
  return { status: m ? Number(m[1]) : null, headers, body };
}

module.exports = {
  assertNoSanitizerReport,
  rawRequest,
  parseRawResponse,
  BIN,
  KEY_RE,
  KEY_ID_RE,
  ORG_ID_RE,
  TIME_RE,
  SECRET_RE,
  startHookd,
  api,
  checkResponse,
  createOrg,
  createKey,
  createOrgWithKey,
  runHookd,
  runHookdAsync,
  makeTempDir,
  removeTempDir,
  uniqueName,
  paddedOrgBody,
  randomAdminKey,
  sleep,
};
