'use strict';
// §2.2 organizations and API keys, and the caller's own org (GET/PATCH /v1/org, rotate-secret).

const { describe, it, before, after } = require('node:test');
const assert = require('node:assert/strict');
const {
  startHookd,
  api,
  createOrg,
  createKey,
  createOrgWithKey,
  uniqueName,
  KEY_RE,
  KEY_ID_RE,
  ORG_ID_RE,
  TIME_RE,
  SECRET_RE,
} = require('./lib/hookd');

function near(isoTime, toleranceMs = 60000) {
  return Math.abs(Date.parse(isoTime) - Date.now()) < toleranceMs;
}

async function listAll(server, path) {
  const out = [];
  let cursor = null;
  do {
    const sep = path.includes('?') ? '&' : '?';
    const q = cursor ? `&cursor=${encodeURIComponent(cursor)}` : '';
    const res = await api(server, 'GET', `${path}${sep}limit=250${q}`, { key: server.adminKey });
    assert.equal(res.status, 200, res.text);
    out.push(...res.json.data);
    cursor = res.json.next_cursor;
  } while (cursor);
  return out;
}

describe('organizations', () => {
  let server;
  before(async () => {
    server = await startHookd();
  });
  after(async () => {
    await server?.cleanup();
  });

  it('POST /v1/orgs creates an org: 201 with id, name, signature_scheme, created_at', async () => {
    const name = uniqueName('acme');
    const res = await api(server, 'POST', '/v1/orgs', { key: server.adminKey, body: { name } });
    assert.equal(res.status, 201, res.text);
    assert.match(res.headers.get('content-type'), /^application\/json/);
    assert.match(res.json.id, ORG_ID_RE);
    assert.equal(res.json.name, name);
    assert.equal(res.json.signature_scheme, 'standard');
    assert.match(res.json.created_at, TIME_RE);
    assert.ok(near(res.json.created_at), res.json.created_at);
    assert.equal(res.json.primary_secret, undefined, 'the admin view does not show the secret');
  });

  it('GET /v1/orgs/{id} returns the org as created', async () => {
    const org = await createOrg(server);
    const res = await api(server, 'GET', `/v1/orgs/${org.id}`, { key: server.adminKey });
    assert.equal(res.status, 200, res.text);
    assert.deepEqual(res.json, org);
  });

  it('GET /v1/orgs lists a new org', async () => {
    const org = await createOrg(server);
    const res = await api(server, 'GET', '/v1/orgs', { key: server.adminKey });
    assert.equal(res.status, 200, res.text);
    assert.ok(Array.isArray(res.json.data));
    assert.ok('next_cursor' in res.json);
    const found = (await listAll(server, '/v1/orgs')).filter((o) => o.id === org.id);
    assert.deepEqual(found, [org]);
  });

  it('org ids are unique and sort by creation time', async () => {
    const a = await createOrg(server);
    await new Promise((r) => setTimeout(r, 3));
    const b = await createOrg(server);
    assert.notEqual(a.id, b.id);
    assert.ok(b.id > a.id, `${b.id} should sort after ${a.id}`);
    assert.ok(b.created_at >= a.created_at);
  });

  it('the time part of an id is its created_at', async () => {
    const crockford = '0123456789ABCDEFGHJKMNPQRSTVWXYZ';
    const idTime = (id) =>
      [...id.slice(id.indexOf('_') + 1, id.indexOf('_') + 11)].reduce(
        (t, c) => t * 32 + crockford.indexOf(c),
        0
      );
    const org = await createOrg(server);
    assert.equal(idTime(org.id), Date.parse(org.created_at));
    const key = await createKey(server, org.id, ['events']);
    assert.equal(idTime(key.id), Date.parse(key.created_at));
  });

  it('two orgs with the same name are two orgs', async () => {
    const name = uniqueName('same');
    const a = await createOrg(server, name);
    const b = await createOrg(server, name);
    assert.notEqual(a.id, b.id);
  });

  it('DELETE /v1/orgs/{id} answers {id, status: deleted}; the org is then gone', async () => {
    const org = await createOrg(server);
    const del = await api(server, 'DELETE', `/v1/orgs/${org.id}`, { key: server.adminKey });
    assert.equal(del.status, 200, del.text);
    assert.deepEqual(del.json, { id: org.id, status: 'deleted' });
    const get = await api(server, 'GET', `/v1/orgs/${org.id}`, { key: server.adminKey });
    assert.equal(get.status, 404, get.text);
    assert.equal(get.json.error, 'not_found');
    const again = await api(server, 'DELETE', `/v1/orgs/${org.id}`, { key: server.adminKey });
    assert.equal(again.status, 404, again.text);
    assert.ok(!(await listAll(server, '/v1/orgs')).some((o) => o.id === org.id));
  });

  it('a deleted org has no keys list and accepts no new key', async () => {
    const org = await createOrg(server);
    await api(server, 'DELETE', `/v1/orgs/${org.id}`, { key: server.adminKey });
    const list = await api(server, 'GET', `/v1/orgs/${org.id}/api-keys`, { key: server.adminKey });
    assert.equal(list.status, 404, list.text);
    const create = await api(server, 'POST', `/v1/orgs/${org.id}/api-keys`, {
      key: server.adminKey,
      body: { name: 'late', scopes: ['events'] },
    });
    assert.equal(create.status, 404, create.text);
    assert.equal(create.json.error, 'not_found');
  });

  it('deleting an org revokes its keys and leaves other orgs alone', async () => {
    const a = await createOrgWithKey(server);
    const b = await createOrgWithKey(server);
    await api(server, 'DELETE', `/v1/orgs/${a.org.id}`, { key: server.adminKey });
    assert.equal((await api(server, 'GET', '/v1/org', { key: a.key })).status, 401);
    const still = await api(server, 'GET', '/v1/org', { key: b.key });
    assert.equal(still.status, 200, still.text);
    assert.equal(still.json.id, b.org.id);
    const bGet = await api(server, 'GET', `/v1/orgs/${b.org.id}`, { key: server.adminKey });
    assert.equal(bGet.status, 200);
  });
});

describe('API keys', () => {
  let server;
  before(async () => {
    server = await startHookd();
  });
  after(async () => {
    await server?.cleanup();
  });

  it('POST /v1/orgs/{id}/api-keys returns 201 with the key shown once', async () => {
    const org = await createOrg(server);
    const name = uniqueName('ci');
    const res = await api(server, 'POST', `/v1/orgs/${org.id}/api-keys`, {
      key: server.adminKey,
      body: { name, scopes: ['webhooks', 'events'] },
    });
    assert.equal(res.status, 201, res.text);
    const k = res.json;
    assert.match(k.id, KEY_ID_RE);
    assert.equal(k.org_id, org.id);
    assert.equal(k.name, name);
    assert.deepEqual([...k.scopes].sort(), ['events', 'webhooks']);
    assert.match(k.created_at, TIME_RE);
    assert.ok(near(k.created_at));
    assert.equal(k.revoked_at, null);
    assert.match(k.key, KEY_RE);
    assert.ok(k.key.startsWith(`${k.id}.`), 'the key starts with its id');
  });

  it('every scope can be granted, and duplicates collapse', async () => {
    const org = await createOrg(server);
    const all = await createKey(server, org.id, ['events', 'webhooks', 'sources']);
    assert.deepEqual([...all.scopes].sort(), ['events', 'sources', 'webhooks']);
    const dup = await createKey(server, org.id, ['events', 'events']);
    assert.deepEqual(dup.scopes, ['events']);
  });

  it('a new key authenticates at once as its org', async () => {
    const org = await createOrg(server);
    const k = await createKey(server, org.id, ['sources']);
    const res = await api(server, 'GET', '/v1/org', { key: k.key });
    assert.equal(res.status, 200, res.text);
    assert.equal(res.json.id, org.id);
  });

  it('the keys list shows every key of the org and never the key itself', async () => {
    const org = await createOrg(server);
    const k1 = await createKey(server, org.id, ['events']);
    const k2 = await createKey(server, org.id, ['webhooks']);
    const other = await createOrg(server);
    await createKey(server, other.id, ['events']);
    const res = await api(server, 'GET', `/v1/orgs/${org.id}/api-keys`, { key: server.adminKey });
    assert.equal(res.status, 200, res.text);
    assert.equal(res.json.next_cursor, null);
    assert.deepEqual(res.json.data.map((k) => k.id).sort(), [k1.id, k2.id].sort());
    for (const item of res.json.data) {
      assert.equal(item.key, undefined, 'a listed key never carries its secret');
      assert.equal(item.org_id, org.id);
      assert.equal(item.revoked_at, null);
      const created = item.id === k1.id ? k1 : k2;
      const { key: _secret, ...shown } = created;
      assert.deepEqual(item, shown);
    }
    assert.ok(!res.text.includes(k1.key.split('.')[1]));
    assert.ok(!res.text.includes(k2.key.split('.')[1]));
  });

  it('DELETE /v1/api-keys/{id} revokes: 200 with revoked_at set, shown in the list', async () => {
    const org = await createOrg(server);
    const k = await createKey(server, org.id, ['events']);
    const res = await api(server, 'DELETE', `/v1/api-keys/${k.id}`, { key: server.adminKey });
    assert.equal(res.status, 200, res.text);
    assert.equal(res.json.id, k.id);
    assert.equal(res.json.org_id, org.id);
    assert.equal(res.json.key, undefined);
    assert.match(res.json.revoked_at, TIME_RE);
    assert.ok(near(res.json.revoked_at));
    const list = await api(server, 'GET', `/v1/orgs/${org.id}/api-keys`, { key: server.adminKey });
    const item = list.json.data.find((x) => x.id === k.id);
    assert.equal(item.revoked_at, res.json.revoked_at);
    assert.equal((await api(server, 'GET', '/v1/org', { key: k.key })).status, 401);
  });

  it('revoking one key leaves the org and its other keys working', async () => {
    const org = await createOrg(server);
    const k1 = await createKey(server, org.id, ['events']);
    const k2 = await createKey(server, org.id, ['events']);
    await api(server, 'DELETE', `/v1/api-keys/${k1.id}`, { key: server.adminKey });
    assert.equal((await api(server, 'GET', '/v1/org', { key: k1.key })).status, 401);
    assert.equal((await api(server, 'GET', '/v1/org', { key: k2.key })).status, 200);
  });

  it('revoking an unknown key is a 404', async () => {
    const res = await api(server, 'DELETE', '/v1/api-keys/key_01ARZ3NDEKTSV4RRFFQ69G5FAV', {
      key: server.adminKey,
    });
    assert.equal(res.status, 404, res.text);
    assert.equal(res.json.error, 'not_found');
  });
});

describe("the caller's own org", () => {
  let server;
  before(async () => {
    server = await startHookd();
  });
  after(async () => {
    await server?.cleanup();
  });

  it('GET /v1/org returns the org with its primary_secret and signature_scheme', async () => {
    const { org, key } = await createOrgWithKey(server, ['events']);
    const res = await api(server, 'GET', '/v1/org', { key });
    assert.equal(res.status, 200, res.text);
    assert.equal(res.json.id, org.id);
    assert.equal(res.json.name, org.name);
    assert.equal(res.json.created_at, org.created_at);
    assert.equal(res.json.signature_scheme, 'standard');
    assert.match(res.json.primary_secret, SECRET_RE);
  });

  it('every org gets its own primary secret', async () => {
    const a = await createOrgWithKey(server);
    const b = await createOrgWithKey(server);
    const sa = (await api(server, 'GET', '/v1/org', { key: a.key })).json.primary_secret;
    const sb = (await api(server, 'GET', '/v1/org', { key: b.key })).json.primary_secret;
    assert.match(sa, SECRET_RE);
    assert.match(sb, SECRET_RE);
    assert.notEqual(sa, sb);
    assert.equal(Buffer.from(sa.slice(6), 'base64').length, 32);
  });

  it('PATCH /v1/org switches the signature scheme to hex and back', async () => {
    const { org, key } = await createOrgWithKey(server, ['webhooks']);
    const before = (await api(server, 'GET', '/v1/org', { key })).json;
    const hex = await api(server, 'PATCH', '/v1/org', { key, body: { signature_scheme: 'hex' } });
    assert.equal(hex.status, 200, hex.text);
    assert.equal(hex.json.id, org.id);
    assert.equal(hex.json.signature_scheme, 'hex');
    assert.equal(hex.json.primary_secret, before.primary_secret, 'the secret is unchanged');
    assert.equal((await api(server, 'GET', '/v1/org', { key })).json.signature_scheme, 'hex');
    const admin = await api(server, 'GET', `/v1/orgs/${org.id}`, { key: server.adminKey });
    assert.equal(admin.json.signature_scheme, 'hex');
    const back = await api(server, 'PATCH', '/v1/org', {
      key,
      body: { signature_scheme: 'standard' },
      headers: { 'Content-Type': 'application/json; charset=utf-8' },
    });
    assert.equal(back.status, 200, back.text);
    assert.equal((await api(server, 'GET', '/v1/org', { key })).json.signature_scheme, 'standard');
  });

  it('PATCH /v1/org with an empty object changes nothing', async () => {
    const { key } = await createOrgWithKey(server, ['webhooks']);
    const before = (await api(server, 'GET', '/v1/org', { key })).json;
    const res = await api(server, 'PATCH', '/v1/org', { key, body: {} });
    assert.equal(res.status, 200, res.text);
    assert.deepEqual((await api(server, 'GET', '/v1/org', { key })).json, before);
  });

  it('POST /v1/org/rotate-secret returns the org with a new primary secret', async () => {
    const { org, key } = await createOrgWithKey(server, ['webhooks']);
    const old = (await api(server, 'GET', '/v1/org', { key })).json.primary_secret;
    const res = await api(server, 'POST', '/v1/org/rotate-secret', { key });
    assert.equal(res.status, 200, res.text);
    assert.equal(res.json.id, org.id);
    assert.match(res.json.primary_secret, SECRET_RE);
    assert.notEqual(res.json.primary_secret, old);
    const now = (await api(server, 'GET', '/v1/org', { key })).json;
    assert.equal(now.primary_secret, res.json.primary_secret);
    assert.equal(now.signature_scheme, 'standard', 'rotation keeps the scheme');
  });

  it('rotating one org secret leaves other orgs alone', async () => {
    const a = await createOrgWithKey(server, ['webhooks']);
    const b = await createOrgWithKey(server, ['webhooks']);
    const bBefore = (await api(server, 'GET', '/v1/org', { key: b.key })).json.primary_secret;
    await api(server, 'POST', '/v1/org/rotate-secret', { key: a.key, body: {} });
    const bAfter = (await api(server, 'GET', '/v1/org', { key: b.key })).json.primary_secret;
    assert.equal(bAfter, bBefore);
  });

  it('an admin key patches and rotates an org named by org_id in the body', async () => {
    const { org, key } = await createOrgWithKey(server, ['events']);
    const old = (await api(server, 'GET', '/v1/org', { key })).json;
    const patch = await api(server, 'PATCH', '/v1/org', {
      key: server.adminKey,
      body: { org_id: org.id, signature_scheme: 'hex' },
    });
    assert.equal(patch.status, 200, patch.text);
    assert.equal(patch.json.id, org.id);
    assert.equal(patch.json.signature_scheme, 'hex');
    const rot = await api(server, 'POST', '/v1/org/rotate-secret', {
      key: server.adminKey,
      body: { org_id: org.id },
    });
    assert.equal(rot.status, 200, rot.text);
    assert.notEqual(rot.json.primary_secret, old.primary_secret);
    const now = (await api(server, 'GET', '/v1/org', { key })).json;
    assert.equal(now.signature_scheme, 'hex');
    assert.equal(now.primary_secret, rot.json.primary_secret);
  });

  it('an admin key naming an unknown org in PATCH gets 404', async () => {
    const res = await api(server, 'PATCH', '/v1/org', {
      key: server.adminKey,
      body: { org_id: 'org_01ARZ3NDEKTSV4RRFFQ69G5FAV', signature_scheme: 'hex' },
    });
    assert.equal(res.status, 404, res.text);
    assert.equal(res.json.error, 'not_found');
  });
});

describe('bootstrap admin key', () => {
  let server;
  before(async () => {
    server = await startHookd({ adminKey: null });
  });
  after(async () => {
    await server?.cleanup();
  });

  it('first start with an empty store prints an admin key once, and it works', async () => {
    assert.match(
      server.stdout,
      /hookd: created the admin key; it is shown only this once, store it now:\n {2}key_\S+\n/
    );
    assert.match(server.adminKey, KEY_RE);
    const res = await api(server, 'GET', '/v1/orgs', { key: server.adminKey });
    assert.equal(res.status, 200, res.text);
    const org = await createOrg(server);
    assert.match(org.id, ORG_ID_RE);
  });

  it('the minted admin key never appears on stderr', () => {
    assert.ok(!server.stderr.includes(server.adminKey.split('.')[1]));
  });
});

describe('--admin-key', () => {
  let server;
  before(async () => {
    server = await startHookd();
  });
  after(async () => {
    await server?.cleanup();
  });

  it('with --admin-key nothing is minted or printed, and that key is the admin', async () => {
    assert.equal(server.stdout, '');
    const res = await api(server, 'POST', '/v1/orgs', { key: server.adminKey, body: { name: 'a' } });
    assert.equal(res.status, 201, res.text);
  });
});

describe('HOOKD_ADMIN_KEY', () => {
  let server;
  const fixed = `env-admin-${'x'.repeat(20)}`;
  before(async () => {
    server = await startHookd({ adminKey: '', env: { HOOKD_ADMIN_KEY: fixed } });
  });
  after(async () => {
    await server?.cleanup();
  });

  it('HOOKD_ADMIN_KEY sets a fixed admin key and nothing is minted', async () => {
    assert.equal(server.stdout, '');
    const res = await api(server, 'GET', '/v1/orgs', { key: fixed });
    assert.equal(res.status, 200, res.text);
    const bad = await api(server, 'GET', '/v1/orgs', { key: fixed + 'y' });
    assert.equal(bad.status, 401);
  });
});
