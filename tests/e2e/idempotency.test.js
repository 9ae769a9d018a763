'use strict';
// §2.1 Idempotency-Key on creating POSTs.

const crypto = require('node:crypto');
const { describe, it, before, after } = require('node:test');
const assert = require('node:assert/strict');
const { startHookd, api, createOrg, uniqueName, KEY_RE } = require('./lib/hookd');

const newKey = () => `idem-${crypto.randomUUID()}`;

async function orgsNamed(server, name) {
  const out = [];
  let cursor = null;
  do {
    const q = cursor ? `&cursor=${encodeURIComponent(cursor)}` : '';
    const res = await api(server, 'GET', `/v1/orgs?limit=250${q}`, { key: server.adminKey });
    assert.equal(res.status, 200, res.text);
    out.push(...res.json.data.filter((o) => o.name === name));
    cursor = res.json.next_cursor;
  } while (cursor);
  return out;
}

async function keysOf(server, orgId) {
  const res = await api(server, 'GET', `/v1/orgs/${orgId}/api-keys?limit=250`, {
    key: server.adminKey,
  });
  assert.equal(res.status, 200, res.text);
  return res.json.data;
}

describe('Idempotency-Key', () => {
  let server;
  before(async () => {
    server = await startHookd();
  });
  after(async () => {
    await server?.cleanup();
  });

  it('replaying POST /v1/orgs returns the first status and body and creates nothing new', async () => {
    const name = uniqueName('idem');
    const headers = { 'Idempotency-Key': newKey() };
    const first = await api(server, 'POST', '/v1/orgs', {
      key: server.adminKey,
      body: { name },
      headers,
    });
    assert.equal(first.status, 201, first.text);
    assert.equal(first.headers.get('idempotent-replayed'), null);
    for (let i = 0; i < 3; i++) {
      const again = await api(server, 'POST', '/v1/orgs', {
        key: server.adminKey,
        body: { name },
        headers,
      });
      assert.equal(again.status, 201, again.text);
      assert.deepEqual(again.json, first.json);
      assert.equal(again.headers.get('idempotent-replayed'), 'true');
    }
    assert.equal((await orgsNamed(server, name)).length, 1);
  });

  it('the same key with a different body is a 409 idempotency_conflict', async () => {
    const name = uniqueName('idem');
    const headers = { 'Idempotency-Key': newKey() };
    const first = await api(server, 'POST', '/v1/orgs', {
      key: server.adminKey,
      body: { name },
      headers,
    });
    assert.equal(first.status, 201);
    const other = uniqueName('other');
    const conflict = await api(server, 'POST', '/v1/orgs', {
      key: server.adminKey,
      body: { name: other },
      headers,
    });
    assert.equal(conflict.status, 409, conflict.text);
    assert.equal(conflict.json.error, 'idempotency_conflict');
    assert.equal((await orgsNamed(server, other)).length, 0);
    assert.equal((await orgsNamed(server, name)).length, 1);
  });

  it('different Idempotency-Keys with the same body create different orgs', async () => {
    const name = uniqueName('idem');
    const a = await api(server, 'POST', '/v1/orgs', {
      key: server.adminKey,
      body: { name },
      headers: { 'Idempotency-Key': newKey() },
    });
    const b = await api(server, 'POST', '/v1/orgs', {
      key: server.adminKey,
      body: { name },
      headers: { 'Idempotency-Key': newKey() },
    });
    assert.equal(a.status, 201);
    assert.equal(b.status, 201);
    assert.notEqual(a.json.id, b.json.id);
    assert.equal(b.headers.get('idempotent-replayed'), null);
    assert.equal((await orgsNamed(server, name)).length, 2);
  });

  it('without Idempotency-Key the same body creates again', async () => {
    const name = uniqueName('plain');
    const a = await api(server, 'POST', '/v1/orgs', { key: server.adminKey, body: { name } });
    const b = await api(server, 'POST', '/v1/orgs', { key: server.adminKey, body: { name } });
    assert.notEqual(a.json.id, b.json.id);
    assert.equal((await orgsNamed(server, name)).length, 2);
  });

  it('a replayed key creation returns the key object without its key', async () => {
    const org = await createOrg(server);
    const headers = { 'Idempotency-Key': newKey() };
    const body = { name: 'deploy', scopes: ['events'] };
    const first = await api(server, 'POST', `/v1/orgs/${org.id}/api-keys`, {
      key: server.adminKey,
      body,
      headers,
    });
    assert.equal(first.status, 201, first.text);
    assert.match(first.json.key, KEY_RE);
    const again = await api(server, 'POST', `/v1/orgs/${org.id}/api-keys`, {
      key: server.adminKey,
      body,
      headers,
    });
    assert.equal(again.status, 201, again.text);
    assert.equal(again.headers.get('idempotent-replayed'), 'true');
    assert.equal(again.json.key, undefined, 'the key is shown only once');
    const { key: _k, ...withoutKey } = first.json;
    assert.deepEqual(again.json, withoutKey);
    assert.ok(!again.text.includes(first.json.key.split('.')[1]));
    const keys = await keysOf(server, org.id);
    assert.deepEqual(
      keys.map((k) => k.id),
      [first.json.id]
    );
    // and the key shown the first time works
    const me = await api(server, 'GET', '/v1/org', { key: first.json.key });
    assert.equal(me.status, 200);
  });

  it('a key creation replayed with other scopes is a 409 and creates no key', async () => {
    const org = await createOrg(server);
    const headers = { 'Idempotency-Key': newKey() };
    await api(server, 'POST', `/v1/orgs/${org.id}/api-keys`, {
      key: server.adminKey,
      body: { name: 'deploy', scopes: ['events'] },
      headers,
    });
    const res = await api(server, 'POST', `/v1/orgs/${org.id}/api-keys`, {
      key: server.adminKey,
      body: { name: 'deploy', scopes: ['events', 'webhooks'] },
      headers,
    });
    assert.equal(res.status, 409, res.text);
    assert.equal(res.json.error, 'idempotency_conflict');
    assert.equal((await keysOf(server, org.id)).length, 1);
  });

  it('concurrent identical requests with one Idempotency-Key create exactly one org', async () => {
    const name = uniqueName('race');
    const headers = { 'Idempotency-Key': newKey() };
    const results = await Promise.all(
      Array.from({ length: 16 }, () =>
        api(server, 'POST', '/v1/orgs', { key: server.adminKey, body: { name }, headers })
      )
    );
    for (const r of results) assert.equal(r.status, 201, r.text);
    const ids = new Set(results.map((r) => r.json.id));
    assert.equal(ids.size, 1, `all answers name one org, got ${[...ids]}`);
    const fresh = results.filter((r) => r.headers.get('idempotent-replayed') !== 'true');
    assert.equal(fresh.length, 1, 'exactly one answer is the original');
    assert.equal((await orgsNamed(server, name)).length, 1);
  });

  it('concurrent identical key creations with one Idempotency-Key create exactly one key', async () => {
    const org = await createOrg(server);
    const headers = { 'Idempotency-Key': newKey() };
    const body = { name: 'race', scopes: ['webhooks'] };
    const results = await Promise.all(
      Array.from({ length: 16 }, () =>
        api(server, 'POST', `/v1/orgs/${org.id}/api-keys`, {
          key: server.adminKey,
          body,
          headers,
        })
      )
    );
    for (const r of results) assert.equal(r.status, 201, r.text);
    assert.equal(new Set(results.map((r) => r.json.id)).size, 1);
    const withKey = results.filter((r) => r.json.key !== undefined);
    assert.equal(withKey.length, 1, 'the key is shown exactly once');
    assert.equal((await keysOf(server, org.id)).length, 1);
    assert.equal((await api(server, 'GET', '/v1/org', { key: withKey[0].json.key })).status, 200);
  });

  it('an Idempotency-Key that is too long or has spaces is a 400 naming it', async () => {
    for (const bad of ['x'.repeat(300), 'has space']) {
      const name = uniqueName('badidem');
      const res = await api(server, 'POST', '/v1/orgs', {
        key: server.adminKey,
        body: { name },
        headers: { 'Idempotency-Key': bad },
      });
      assert.equal(res.status, 400, res.text);
      assert.equal(res.json.field, 'Idempotency-Key');
      assert.equal((await orgsNamed(server, name)).length, 0);
    }
  });

  it('a replay needs valid credentials first', async () => {
    const name = uniqueName('idem');
    const headers = { 'Idempotency-Key': newKey() };
    await api(server, 'POST', '/v1/orgs', { key: server.adminKey, body: { name }, headers });
    const anon = await api(server, 'POST', '/v1/orgs', { body: { name }, headers });
    assert.equal(anon.status, 401, anon.text);
    assert.ok(!anon.text.includes(name));
  });
});
