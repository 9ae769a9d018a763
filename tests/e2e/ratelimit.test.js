'use strict';
// §2.1 / §8 --rate-limit: a token bucket per API key (burst 2N), 429 + Retry-After; 0 = off.

const { describe, it, before, after, beforeEach, afterEach } = require('node:test');
const assert = require('node:assert/strict');
const { startHookd, api, createOrgWithKey, sleep } = require('./lib/hookd');

async function burst(server, key, n, path = '/v1/org') {
  return Promise.all(Array.from({ length: n }, () => api(server, 'GET', path, { key })));
}

// The admin key is rate limited too, so each test gets its own server: the setup requests
// of one test never eat into the next one's budget.
describe('--rate-limit 5', () => {
  let server;
  beforeEach(async () => {
    server = await startHookd({ args: ['--rate-limit', '5'] });
  });
  afterEach(async () => {
    await server?.cleanup();
  });

  it('a key that uses up its burst gets 429 rate_limited with an integer Retry-After', async () => {
    const { key } = await createOrgWithKey(server);
    const results = await burst(server, key, 30);
    const ok = results.filter((r) => r.status === 200);
    const limited = results.filter((r) => r.status === 429);
    assert.equal(ok.length + limited.length, 30, results.map((r) => r.status).join(','));
    assert.ok(limited.length >= 1, 'some requests are limited');
    // burst 2N = 10, plus whatever refilled at 5/s while the burst ran
    assert.ok(ok.length >= 10 && ok.length <= 14, `${ok.length} requests passed`);
    for (const r of limited) {
      assert.equal(r.json.error, 'rate_limited');
      const retry = r.headers.get('retry-after');
      assert.match(retry || '', /^\d+$/, `Retry-After: ${retry}`);
      assert.ok(Number(retry) >= 1);
    }
  });

  it('the limit is per key: another key is not limited by the first', async () => {
    const a = await createOrgWithKey(server);
    const b = await createOrgWithKey(server);
    const results = await burst(server, a.key, 20);
    assert.ok(results.some((r) => r.status === 429));
    const other = await api(server, 'GET', '/v1/org', { key: b.key });
    assert.equal(other.status, 200, other.text);
    assert.equal(other.json.id, b.org.id);
  });

  it('a limited key is served again after waiting Retry-After seconds', async () => {
    const { key } = await createOrgWithKey(server);
    const results = await burst(server, key, 20);
    const limited = results.find((r) => r.status === 429);
    assert.ok(limited, 'the burst was limited');
    const wait = Number(limited.headers.get('retry-after'));
    assert.ok(wait >= 1 && wait <= 5, `Retry-After ${wait}`);
    await sleep(wait * 1000 + 100);
    const res = await api(server, 'GET', '/v1/org', { key });
    assert.equal(res.status, 200, res.text);
  });

  it('unauthenticated health checks are not rate limited', async () => {
    const results = await Promise.all(
      Array.from({ length: 30 }, () => api(server, 'GET', '/healthz'))
    );
    assert.deepEqual(
      [...new Set(results.map((r) => r.status))],
      [200]
    );
  });
});

describe('--rate-limit 0', () => {
  let server;
  before(async () => {
    server = await startHookd({ args: ['--rate-limit', '0'] });
  });
  after(async () => {
    await server?.cleanup();
  });

  it('--rate-limit 0 turns the limit off', async () => {
    const { key } = await createOrgWithKey(server);
    const results = await burst(server, key, 60);
    assert.deepEqual(
      [...new Set(results.map((r) => r.status))],
      [200]
    );
    const admin = await burst(server, server.adminKey, 60, '/v1/orgs?limit=1');
    assert.deepEqual(
      [...new Set(admin.map((r) => r.status))],
      [200]
    );
  });
});

describe('HOOKD_RATE_LIMIT', () => {
  let server;
  before(async () => {
    server = await startHookd({ env: { HOOKD_RATE_LIMIT: '2' } });
  });
  after(async () => {
    await server?.cleanup();
  });

  it('HOOKD_RATE_LIMIT sets the rate limit from the environment', async () => {
    const results = await burst(server, server.adminKey, 20, '/v1/orgs?limit=1');
    const ok = results.filter((r) => r.status === 200).length;
    assert.ok(ok >= 4 && ok <= 7, `${ok} passed with a burst of 4`);
    assert.ok(results.some((r) => r.status === 429));
  });
});
