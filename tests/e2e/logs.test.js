'use strict';
// §8 logs: one JSON object per line on stderr, one line per request, never a key's secret.

const { describe, it, before, after } = require('node:test');
const assert = require('node:assert/strict');
const { startHookd, api, createOrgWithKey, sleep } = require('./lib/hookd');

// Request log lines are written when a request completes; give them a moment to arrive.
async function waitForLog(server, predicate, timeoutMs = 3000) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const found = server.logs().filter(predicate);
    if (found.length > 0 || Date.now() > deadline) return found;
    await sleep(20);
  }
}

describe('logs', () => {
  let server;
  before(async () => {
    server = await startHookd({ adminKey: null });
  });
  after(async () => {
    await server?.cleanup();
  });

  it('every stderr line is one JSON object with ts, level and msg', async () => {
    await api(server, 'GET', '/healthz');
    await waitForLog(server, (l) => l.msg === 'request' && l.path === '/healthz');
    assert.ok(server.stderrLines.length >= 2);
    for (const line of server.stderrLines) {
      let obj;
      assert.doesNotThrow(() => (obj = JSON.parse(line)), `not JSON: ${line}`);
      assert.equal(typeof obj, 'object');
      assert.match(obj.ts, /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/);
      assert.ok(['debug', 'info', 'warn', 'error'].includes(obj.level), line);
      assert.equal(typeof obj.msg, 'string');
    }
  });

  it('each request logs method, path, status, duration_ms and the key id', async () => {
    const { keyObj, key } = await createOrgWithKey(server, ['events']);
    const marker = `/v1/org`;
    await api(server, 'GET', marker, { key });
    const lines = await waitForLog(
      server,
      (l) => l.msg === 'request' && l.path === marker && l.key_id === keyObj.id
    );
    assert.equal(lines.length, 1, JSON.stringify(server.logs().filter((l) => l.path === marker)));
    const line = lines[0];
    assert.equal(line.method, 'GET');
    assert.equal(line.status, 200);
    assert.equal(typeof line.duration_ms, 'number');
    assert.ok(line.duration_ms >= 0);
  });

  it('milliseconds are written with at most three decimals (issue 18)', async () => {
    const debug = await startHookd({ args: ['--log-level', 'debug'] });
    try {
      const res = await api(debug, 'POST', '/v1/orgs', { key: debug.adminKey, body: { name: 'ms' } });
      assert.equal(res.status, 201);
      await waitForLog(debug, (l) => l.msg === 'request' && l.path === '/v1/orgs');
      const timed = debug.stderrLines.filter((l) => /"(duration_ms|ms)":/.test(l));
      assert.ok(timed.some((l) => l.includes('"write batch"')), 'a write batch line');
      assert.ok(timed.some((l) => l.includes('"duration_ms"')), 'a request line');
      for (const line of timed)
        for (const [, value] of line.matchAll(/"(?:duration_ms|ms)":([^,}]+)/g))
          assert.match(value, /^\d+(\.\d{1,3})?$/, line);
    } finally {
      await debug.cleanup();
    }
  });

  it('a write answered later (POST /v1/orgs) is logged with its 201 and the admin key id', async () => {
    const adminId = server.adminKey.split('.')[0];
    const isCreate = (l) => l.msg === 'request' && l.method === 'POST' && l.path === '/v1/orgs';
    const before = server.logs().filter(isCreate).length;
    const res = await api(server, 'POST', '/v1/orgs', {
      key: server.adminKey,
      body: { name: 'logged' },
    });
    assert.equal(res.status, 201);
    let lines = [];
    for (let i = 0; i < 150 && lines.length <= before; i++) {
      lines = server.logs().filter(isCreate);
      if (lines.length <= before) await sleep(20);
    }
    assert.equal(lines.length, before + 1, JSON.stringify(lines));
    assert.equal(lines[before].status, 201);
    assert.equal(lines[before].key_id, adminId);
  });

  it('failed requests are logged with their status, and without a key id when unauthenticated', async () => {
    const path = `/v1/orgs/org_01ARZ3NDEKTSV4RRFFQ69G5FAV`;
    await api(server, 'GET', path);
    const lines = await waitForLog(server, (l) => l.msg === 'request' && l.path === path);
    assert.equal(lines.length, 1);
    assert.equal(lines[0].status, 401);
    assert.equal(lines[0].key_id ?? null, null);
  });

  it('request logs never contain the secret part of a key', async () => {
    const { keyObj, key } = await createOrgWithKey(server, ['webhooks']);
    const secret = key.split('.')[1];
    const adminSecret = server.adminKey.split('.')[1];
    await api(server, 'GET', '/v1/org', { key });
    await api(server, 'GET', '/v1/org', { headers: { 'X-API-Key': key } });
    await api(server, 'POST', '/v1/org/rotate-secret', { key });
    await api(server, 'GET', `/v1/org?api_key=${encodeURIComponent(key)}`, { key });
    await api(server, 'DELETE', `/v1/api-keys/${keyObj.id}`, { key: server.adminKey });
    await api(server, 'GET', '/v1/org', { key }); // revoked now: 401
    await waitForLog(server, (l) => l.msg === 'request' && l.status === 401 && l.path === '/v1/org');
    assert.ok(server.stderr.includes(keyObj.id), 'the key id is logged');
    assert.ok(!server.stderr.includes(secret), 'the org key secret is not logged');
    assert.ok(!server.stderr.includes(adminSecret), 'the admin key secret is not logged');
  });

  it('a wrong secret presented with a real key id is not logged either', async () => {
    const { key } = await createOrgWithKey(server);
    const wrong = `${key.split('.')[0]}.${'Q'.repeat(43)}`;
    const res = await api(server, 'GET', '/v1/org', { key: wrong });
    assert.equal(res.status, 401);
    await sleep(50);
    assert.ok(!server.stderr.includes('Q'.repeat(43)));
  });

  it('the org primary secret is never logged', async () => {
    const { key } = await createOrgWithKey(server, ['webhooks']);
    const res = await api(server, 'GET', '/v1/org', { key });
    const rotated = await api(server, 'POST', '/v1/org/rotate-secret', { key });
    await sleep(50);
    assert.ok(!server.stderr.includes(res.json.primary_secret));
    assert.ok(!server.stderr.includes(rotated.json.primary_secret));
  });
});

describe('logs with a fixed admin key', () => {
  let server;
  before(async () => {
    server = await startHookd();
  });
  after(async () => {
    await server?.cleanup();
  });

  it('the --admin-key value never appears in the logs', async () => {
    await api(server, 'GET', '/v1/orgs', { key: server.adminKey });
    await api(server, 'GET', '/v1/orgs', { headers: { 'X-API-Key': server.adminKey } });
    const lines = await waitForLog(server, (l) => l.msg === 'request' && l.path === '/v1/orgs');
    assert.ok(lines.length >= 1);
    assert.ok(lines.every((l) => l.status === 200));
    assert.ok(!server.stderr.includes(server.adminKey));
  });
});

describe('--log-level', () => {
  it('--log-level warn leaves out the info request lines', async (t) => {
    const server = await startHookd({ args: ['--log-level', 'warn'] });
    t.after(() => server.cleanup());
    await api(server, 'GET', '/healthz');
    await api(server, 'GET', '/v1/orgs', { key: server.adminKey });
    await sleep(100);
    assert.ok(!server.logs().some((l) => l.msg === 'request'), server.stderr);
    // only the lifecycle lines that tools rely on are written whatever the level
    const lifecycle = ['listening', 'stopping', 'stopped'];
    const info = server.logs().filter((l) => l.level === 'info' && !lifecycle.includes(l.msg));
    assert.deepEqual(info, []);
  });

  it('the --log-level flag beats HOOKD_LOG_LEVEL', async (t) => {
    const server = await startHookd({
      args: ['--log-level', 'info'],
      env: { HOOKD_LOG_LEVEL: 'error' },
    });
    t.after(() => server.cleanup());
    await api(server, 'GET', '/healthz');
    const lines = await waitForLog(server, (l) => l.msg === 'request' && l.path === '/healthz');
    assert.equal(lines.length, 1);
  });

  it('HOOKD_LOG_LEVEL=error silences info lines', async (t) => {
    const server = await startHookd({ env: { HOOKD_LOG_LEVEL: 'error' } });
    t.after(() => server.cleanup());
    await api(server, 'GET', '/healthz');
    await sleep(100);
    assert.ok(!server.logs().some((l) => l.msg === 'request'));
  });
});
