'use strict';
// §2.1 authentication and authorization: 401 / 403 / 404 matrix.

const { describe, it, before, after } = require('node:test');
const assert = require('node:assert/strict');
const { startHookd, api, createOrg, createKey, createOrgWithKey } = require('./lib/hookd');

function assertError(res, status, code) {
  assert.equal(res.status, status, `expected ${status}, got ${res.status}: ${res.text}`);
  assert.equal(res.json?.error, code, res.text);
  assert.equal(typeof res.json.message, 'string');
  assert.ok(res.json.message.length > 0);
}

describe('authentication', () => {
  let server;
  before(async () => {
    server = await startHookd();
  });
  after(async () => {
    await server?.cleanup();
  });

  it('a request without any key is refused with 401 unauthorized', async () => {
    assertError(await api(server, 'GET', '/v1/orgs'), 401, 'unauthorized');
    assertError(await api(server, 'GET', '/v1/org'), 401, 'unauthorized');
  });

  it('an unknown key is refused with 401', async () => {
    const bogus = [
      'nonsense',
      'key_01ARZ3NDEKTSV4RRFFQ69G5FAV.AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA',
      'key_.x',
      '.',
      'key_01ARZ3NDEKTSV4RRFFQ69G5FAV',
      'a'.repeat(5000),
    ];
    for (const key of bogus) {
      assertError(await api(server, 'GET', '/v1/orgs', { key }), 401, 'unauthorized');
    }
  });

  it('a real key id with a wrong secret is refused with 401', async () => {
    const { key } = await createOrgWithKey(server);
    const id = key.split('.')[0];
    const wrong = `${id}.${'B'.repeat(43)}`;
    assertError(await api(server, 'GET', '/v1/org', { key: wrong }), 401, 'unauthorized');
    // the admin key with one character changed is refused too
    const adm = server.adminKey.slice(0, -1) + (server.adminKey.endsWith('0') ? '1' : '0');
    assertError(await api(server, 'GET', '/v1/orgs', { key: adm }), 401, 'unauthorized');
  });

  it('a malformed Authorization header is refused with 401', async () => {
    for (const value of [
      `Basic ${Buffer.from('user:pass').toString('base64')}`,
      'Bearer',
      'Bearer ',
      server.adminKey, // no scheme
      `Token ${server.adminKey}`,
    ]) {
      const res = await api(server, 'GET', '/v1/orgs', { headers: { Authorization: value } });
      assertError(res, 401, 'unauthorized');
    }
  });

  it('the admin key works as Bearer and as X-API-Key', async () => {
    const a = await api(server, 'GET', '/v1/orgs', { key: server.adminKey });
    assert.equal(a.status, 200, a.text);
    const b = await api(server, 'GET', '/v1/orgs', { headers: { 'X-API-Key': server.adminKey } });
    assert.equal(b.status, 200, b.text);
    assert.ok(Array.isArray(b.json.data));
  });

  it('the Bearer scheme is matched case-insensitively', async () => {
    const res = await api(server, 'GET', '/v1/orgs', {
      headers: { Authorization: `bearer ${server.adminKey}` },
    });
    assert.equal(res.status, 200, res.text);
  });

  it('an org key works as Bearer and as X-API-Key', async () => {
    const { org, key } = await createOrgWithKey(server, ['events']);
    const a = await api(server, 'GET', '/v1/org', { key });
    assert.equal(a.status, 200, a.text);
    assert.equal(a.json.id, org.id);
    const b = await api(server, 'GET', '/v1/org', { headers: { 'X-API-Key': key } });
    assert.equal(b.status, 200, b.text);
    assert.equal(b.json.id, org.id);
  });

  it('both headers carrying the same key are accepted', async () => {
    const { org, key } = await createOrgWithKey(server);
    const res = await api(server, 'GET', '/v1/org', {
      headers: { Authorization: `Bearer ${key}`, 'X-API-Key': key },
    });
    assert.equal(res.status, 200, res.text);
    assert.equal(res.json.id, org.id);
  });

  it('both headers carrying different valid keys are refused with 401', async () => {
    const a = await createOrgWithKey(server);
    const b = await createOrgWithKey(server);
    const res = await api(server, 'GET', '/v1/org', {
      headers: { Authorization: `Bearer ${a.key}`, 'X-API-Key': b.key },
    });
    assertError(res, 401, 'unauthorized');
    const res2 = await api(server, 'GET', '/v1/orgs', {
      headers: { Authorization: `Bearer ${server.adminKey}`, 'X-API-Key': a.key },
    });
    assertError(res2, 401, 'unauthorized');
  });

  it('authentication is checked before the body is validated', async () => {
    const res = await api(server, 'POST', '/v1/orgs', { body: '{not json' });
    assertError(res, 401, 'unauthorized');
  });
});

describe('authorization', () => {
  let server;
  before(async () => {
    server = await startHookd();
  });
  after(async () => {
    await server?.cleanup();
  });

  it('an org key on admin-only routes gets 403 forbidden', async () => {
    const { org, keyObj, key } = await createOrgWithKey(server, ['events', 'webhooks', 'sources']);
    const calls = [
      ['GET', '/v1/orgs'],
      ['POST', '/v1/orgs', { name: 'sneaky' }],
      ['GET', `/v1/orgs/${org.id}`],
      ['DELETE', `/v1/orgs/${org.id}`],
      ['GET', `/v1/orgs/${org.id}/api-keys`],
      ['POST', `/v1/orgs/${org.id}/api-keys`, { name: 'more', scopes: ['events'] }],
      ['DELETE', `/v1/api-keys/${keyObj.id}`],
    ];
    for (const [method, path, body] of calls) {
      assertError(await api(server, method, path, { key, body }), 403, 'forbidden');
    }
    // and nothing was done: the org and the key are still there, no org was created
    const get = await api(server, 'GET', `/v1/orgs/${org.id}`, { key: server.adminKey });
    assert.equal(get.status, 200);
    const me = await api(server, 'GET', '/v1/org', { key });
    assert.equal(me.status, 200);
    const list = await api(server, 'GET', '/v1/orgs?limit=250', { key: server.adminKey });
    assert.ok(!list.json.data.some((o) => o.name === 'sneaky'));
  });

  it('a known key lacking the scope gets 403 (not 400) even with a bad body', async () => {
    const { key } = await createOrgWithKey(server, ['events']);
    assertError(
      await api(server, 'PATCH', '/v1/org', { key, body: { signature_scheme: 'hex' } }),
      403,
      'forbidden'
    );
    assertError(await api(server, 'POST', '/v1/org/rotate-secret', { key }), 403, 'forbidden');
    assertError(
      await api(server, 'PATCH', '/v1/org', { key, body: '{broken' }),
      403,
      'forbidden'
    );
  });

  it('the 403 names the scope the key lacks (issue 18)', async () => {
    const { key } = await createOrgWithKey(server, ['sources']);
    const events = await api(server, 'POST', '/v1/events', { key, body: { type: 'a.b', data: {} } });
    assertError(events, 403, 'forbidden');
    assert.match(events.json.message, /\bevents scope\b/);
    const endpoints = await api(server, 'GET', '/v1/endpoints', { key });
    assertError(endpoints, 403, 'forbidden');
    assert.match(endpoints.json.message, /\bwebhooks scope\b/);
  });

  it('a sources-only key cannot change the org secret', async () => {
    const { org, key } = await createOrgWithKey(server, ['sources']);
    const before = await api(server, 'GET', '/v1/org', { key });
    assertError(await api(server, 'POST', '/v1/org/rotate-secret', { key }), 403, 'forbidden');
    const after = await api(server, 'GET', '/v1/org', { key });
    assert.equal(after.json.id, org.id);
    assert.equal(after.json.primary_secret, before.json.primary_secret);
  });

  it('GET /v1/org works with an org key whatever its scopes', async () => {
    for (const scopes of [['events'], ['webhooks'], ['sources'], ['events', 'sources']]) {
      const { org, key } = await createOrgWithKey(server, scopes);
      const res = await api(server, 'GET', '/v1/org', { key });
      assert.equal(res.status, 200, res.text);
      assert.equal(res.json.id, org.id);
    }
  });

  it('an admin key on GET /v1/org must name the org with org_id', async () => {
    const res = await api(server, 'GET', '/v1/org', { key: server.adminKey });
    assertError(res, 400, 'validation_error');
    assert.equal(res.json.field, 'org_id');
    const org = await createOrg(server);
    const ok = await api(server, 'GET', `/v1/org?org_id=${org.id}`, { key: server.adminKey });
    assert.equal(ok.status, 200, ok.text);
    assert.equal(ok.json.id, org.id);
  });

  it('an admin key naming an unknown org gets 404', async () => {
    const res = await api(server, 'GET', '/v1/org?org_id=org_01ARZ3NDEKTSV4RRFFQ69G5FAV', {
      key: server.adminKey,
    });
    assertError(res, 404, 'not_found');
  });

  it("an org key can never read another org's secret through org_id", async () => {
    const a = await createOrgWithKey(server);
    const b = await createOrgWithKey(server);
    const res = await api(server, 'GET', `/v1/org?org_id=${b.org.id}`, { key: a.key });
    assert.ok(res.status === 200 || res.status === 404, res.text);
    if (res.status === 200) {
      assert.equal(res.json.id, a.org.id);
    }
    assert.ok(!res.text.includes(b.org.id));
    const bSecret = (await api(server, 'GET', '/v1/org', { key: b.key })).json.primary_secret;
    assert.ok(!res.text.includes(bSecret));
  });

  it("an org key can never change another org's settings through org_id", async () => {
    const a = await createOrgWithKey(server);
    const b = await createOrgWithKey(server);
    const bBefore = (await api(server, 'GET', '/v1/org', { key: b.key })).json;
    const patch = await api(server, 'PATCH', '/v1/org', {
      key: a.key,
      body: { org_id: b.org.id, signature_scheme: 'hex' },
    });
    assert.ok([200, 400, 404].includes(patch.status), patch.text);
    if (patch.status === 200) assert.equal(patch.json.id, a.org.id);
    const rotate = await api(server, 'POST', '/v1/org/rotate-secret', {
      key: a.key,
      body: { org_id: b.org.id },
    });
    assert.ok([200, 400, 404].includes(rotate.status), rotate.text);
    if (rotate.status === 200) assert.equal(rotate.json.id, a.org.id);
    const bAfter = (await api(server, 'GET', '/v1/org', { key: b.key })).json;
    assert.deepEqual(bAfter, bBefore);
  });

  it('a revoked key is refused on the very next request', async () => {
    const { org, keyObj, key } = await createOrgWithKey(server);
    assert.equal((await api(server, 'GET', '/v1/org', { key })).status, 200);
    const rev = await api(server, 'DELETE', `/v1/api-keys/${keyObj.id}`, { key: server.adminKey });
    assert.equal(rev.status, 200, rev.text);
    assertError(await api(server, 'GET', '/v1/org', { key }), 401, 'unauthorized');
    assertError(
      await api(server, 'GET', '/v1/org', { headers: { 'X-API-Key': key } }),
      401,
      'unauthorized'
    );
    // other keys of the org keep working
    const other = await createKey(server, org.id, ['events']);
    assert.equal((await api(server, 'GET', '/v1/org', { key: other.key })).status, 200);
  });

  it('the keys of a deleted org are refused with 401', async () => {
    const { org, key } = await createOrgWithKey(server);
    const k2 = await createKey(server, org.id, ['events']);
    const del = await api(server, 'DELETE', `/v1/orgs/${org.id}`, { key: server.adminKey });
    assert.equal(del.status, 200, del.text);
    assertError(await api(server, 'GET', '/v1/org', { key }), 401, 'unauthorized');
    assertError(await api(server, 'GET', '/v1/org', { key: k2.key }), 401, 'unauthorized');
  });

  it('a deleted org is not found through the admin key either', async () => {
    const org = await createOrg(server);
    await api(server, 'DELETE', `/v1/orgs/${org.id}`, { key: server.adminKey });
    assertError(
      await api(server, 'GET', `/v1/org?org_id=${org.id}`, { key: server.adminKey }),
      404,
      'not_found'
    );
  });

  it('public routes need no key', async () => {
    const h = await api(server, 'GET', '/healthz');
    assert.equal(h.status, 200);
    assert.deepEqual(h.json, { status: 'ok' });
    const r = await api(server, 'GET', '/readyz');
    assert.equal(r.status, 200);
    assert.deepEqual(r.json, { status: 'ready' });
  });
});
