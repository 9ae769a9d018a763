'use strict';
// Issue 16: the customer portal's sessions, through the API. A product team (admin key, or an org
// key with `webhooks`) mints a one-time link; the portal page exchanges it once for a short session
// that sees only that org's endpoints (maybe only some, maybe read-only) and their deliveries, and
// nothing else: no org settings, keys, sources, events, or another org. Links and sessions expire,
// can be revoked, and are stored as hashes only.

const crypto = require('node:crypto');
const { spawnSync } = require('node:child_process');
const { describe, it, before, after } = require('node:test');
const assert = require('node:assert/strict');
const { startHookd, api, createOrgWithKey, sleep } = require('./lib/hookd');
const { BASE_ARGS, createEndpoint, emit, waitEventSettled, startReceiver } = require('./lib/pipeline');

let server;
let rx;
before(async () => {
  server = await startHookd({ args: [...BASE_ARGS, '--no-ping'] });
  rx = await startReceiver();
});
after(async () => {
  if (rx) await rx.close();
  if (server) await server.cleanup();
});

async function mint(orgId, body = {}, key = server.adminKey) {
  const res = await api(server, 'POST', `/v1/orgs/${orgId}/portal-sessions`, { key, body });
  assert.equal(res.status, 201, res.text);
  return res.json;
}

async function exchange(token, expected = 200) {
  const res = await api(server, 'POST', '/v1/portal/exchange', { body: { token } });
  assert.equal(res.status, expected, res.text);
  return res.json;
}

// An org with two endpoints, one delivered event each, and a key.
async function orgWithEndpoints() {
  const { org, key } = await createOrgWithKey(server);
  const a = await createEndpoint(server, key, { url: rx.url('/a'), name: 'a' });
  const b = await createEndpoint(server, key, { url: rx.url('/b'), name: 'b' });
  const evt = await emit(server, key, { type: 'order.paid', data: { n: 1 } });
  const deliveries = await waitEventSettled(server, key, evt.id, 2);
  const deliveryOf = (ep) => deliveries.find((d) => d.endpoint_id === ep.id);
  return { org, key, a, b, deliveryOf };
}

describe('customer portal sessions', () => {
  it('a link is minted by an admin or the org itself, exchanged once for a session of that org', async () => {
    const { org, key, a, b } = await orgWithEndpoints();
    const link = await mint(org.id, {}, key);
    assert.match(link.id, /^ps_/);
    assert.equal(link.url, `/portal#token=${link.token}`);
    assert.equal(link.read_only, false);
    assert.equal(link.endpoint_ids, null);
    assert.ok(Date.parse(link.expires_at) - Date.now() > 3500 * 1000, 'an hour by default');

    const s = await exchange(link.token);
    assert.match(s.session, /^ps_/);
    assert.notEqual(s.session, link.token);
    assert.equal(s.org.id, org.id);
    assert.equal(s.org.name, org.name);
    assert.deepEqual(s.org.portal, { name: null, logo_url: null, accent_color: null });
    await exchange(link.token, 401); // once only
    assert.equal((await api(server, 'GET', '/v1/endpoints', { key: link.token })).status, 401, 'the link is not a session');

    const list = await api(server, 'GET', '/v1/endpoints', { key: s.session });
    assert.equal(list.status, 200, list.text);
    assert.deepEqual(list.json.data.map((e) => e.id).sort(), [a.id, b.id].sort());
    const me = await api(server, 'GET', '/v1/portal/session', { key: s.session });
    assert.equal(me.status, 200, me.text);
    assert.equal(me.json.org.id, org.id);
    assert.equal(me.json.session, undefined, 'the session credential is shown once');

    // another org's key cannot mint for this org
    const other = await createOrgWithKey(server);
    const res = await api(server, 'POST', `/v1/orgs/${org.id}/portal-sessions`, { key: other.key, body: {} });
    assert.equal(res.status, 404, res.text);
  });

  it("a session sees nothing outside its org's endpoints and deliveries", async () => {
    const { org, a, deliveryOf } = await orgWithEndpoints();
    const other = await orgWithEndpoints();
    const { session } = await exchange((await mint(org.id)).token);
    for (const [method, path] of [
      ['GET', '/v1/org'], ['PATCH', '/v1/org'], ['GET', '/v1/events'], ['POST', '/v1/events'], ['GET', '/v1/sources'],
      ['GET', '/v1/deliveries'], ['GET', `/v1/orgs/${org.id}/api-keys`], ['GET', '/v1/orgs'],
      ['POST', `/v1/orgs/${org.id}/portal-sessions`],
    ]) {
      const res = await api(server, method, path, { key: session, body: method === 'GET' ? undefined : {} });
      assert.equal(res.status, 403, `${method} ${path}: ${res.text}`);
    }
    for (const path of [`/v1/endpoints/${other.a.id}`, `/v1/endpoints/${other.a.id}/deliveries`,
      `/v1/deliveries/${other.deliveryOf(other.a).id}`, `/v1/endpoints/${other.a.id}/stats`]) {
      const res = await api(server, 'GET', path, { key: session });
      assert.equal(res.status, 404, `${path}: ${res.text}`);
    }
    const own = await api(server, 'GET', `/v1/deliveries/${deliveryOf(a).id}`, { key: session });
    assert.equal(own.status, 200, own.text);
    const log = await api(server, 'GET', `/v1/endpoints/${a.id}/deliveries`, { key: session });
    assert.equal(log.status, 200, log.text);
    assert.equal(log.json.data.length, 1);
  });

  it('endpoint_ids limits it to those endpoints; it cannot add one', async () => {
    const { org, a, b, deliveryOf } = await orgWithEndpoints();
    const link = await mint(org.id, { endpoint_ids: [a.id] });
    assert.deepEqual(link.endpoint_ids, [a.id]);
    const { session } = await exchange(link.token);
    const list = await api(server, 'GET', '/v1/endpoints', { key: session });
    assert.deepEqual(list.json.data.map((e) => e.id), [a.id]);
    assert.equal(list.json.next_cursor, null);
    assert.equal((await api(server, 'GET', `/v1/endpoints/${b.id}`, { key: session })).status, 404);
    assert.equal((await api(server, 'GET', `/v1/deliveries/${deliveryOf(b).id}`, { key: session })).status, 404);
    assert.equal((await api(server, 'POST', `/v1/deliveries/${deliveryOf(b).id}/retry`, { key: session, body: {} })).status, 404);
    assert.equal((await api(server, 'PATCH', `/v1/endpoints/${b.id}`, { key: session, body: { name: 'x' } })).status, 404);
    const add = await api(server, 'POST', '/v1/endpoints', { key: session, body: { url: rx.url('/c') } });
    assert.equal(add.status, 403, add.text);
    const edit = await api(server, 'PATCH', `/v1/endpoints/${a.id}`, { key: session, body: { name: 'renamed' } });
    assert.equal(edit.status, 200, edit.text);

    // endpoint_ids must name the org's own endpoints
    const other = await orgWithEndpoints();
    const bad = await api(server, 'POST', `/v1/orgs/${org.id}/portal-sessions`, {
      key: server.adminKey, body: { endpoint_ids: [other.a.id] },
    });
    assert.equal(bad.status, 400, bad.text);
    assert.equal(bad.json.field, 'endpoint_ids');
  });

  it('read_only allows every GET and refuses every write', async () => {
    const { org, a, deliveryOf } = await orgWithEndpoints();
    const { session } = await exchange((await mint(org.id, { read_only: true })).token);
    assert.equal((await api(server, 'GET', `/v1/endpoints/${a.id}`, { key: session })).status, 200);
    assert.equal((await api(server, 'GET', `/v1/endpoints/${a.id}/stats`, { key: session })).status, 200);
    for (const [method, path, body] of [
      ['PATCH', `/v1/endpoints/${a.id}`, { name: 'x' }], ['DELETE', `/v1/endpoints/${a.id}`],
      ['POST', `/v1/endpoints/${a.id}/rotate-secret`, {}], ['POST', `/v1/endpoints/${a.id}/test`, {}],
      ['POST', '/v1/endpoints', { url: rx.url('/c') }], ['POST', `/v1/deliveries/${deliveryOf(a).id}/retry`, {}],
    ]) {
      const res = await api(server, method, path, { key: session, body });
      assert.equal(res.status, 403, `${method} ${path}: ${res.text}`);
    }
    assert.equal((await api(server, 'GET', `/v1/endpoints/${a.id}`, { key: session })).json.name, 'a');
  });

  it('links and sessions expire, and revoking ends both', async () => {
    const { org } = await orgWithEndpoints();
    const late = await mint(org.id, { expires_in: 1 });
    const quick = await mint(org.id, { expires_in: 1 });
    const { session } = await exchange(quick.token);
    assert.equal((await api(server, 'GET', '/v1/endpoints', { key: session })).status, 200);
    await sleep(1200);
    await exchange(late.token, 401);
    assert.equal((await api(server, 'GET', '/v1/endpoints', { key: session })).status, 401);

    const live = await mint(org.id);
    const unused = await mint(org.id);
    const s = await exchange(live.token);
    const rev = await api(server, 'DELETE', `/v1/portal-sessions/${live.id}?org_id=${org.id}`, { key: server.adminKey });
    assert.equal(rev.status, 200, rev.text);
    assert.ok(Date.parse(rev.json.revoked_at) > 0);
    assert.equal((await api(server, 'GET', '/v1/endpoints', { key: s.session })).status, 401);
    assert.equal((await api(server, 'DELETE', `/v1/portal-sessions/${unused.id}?org_id=${org.id}`, { key: server.adminKey })).status, 200);
    await exchange(unused.token, 401);
    const listed = await api(server, 'GET', `/v1/orgs/${org.id}/portal-sessions`, { key: server.adminKey });
    assert.equal(listed.status, 200, listed.text);
    assert.equal(listed.json.data.length, 4);
    assert.ok(listed.json.data.every((p) => p.token === undefined && p.session === undefined));
    // another org cannot revoke it
    const other = await createOrgWithKey(server);
    assert.equal((await api(server, 'DELETE', `/v1/portal-sessions/${late.id}`, { key: other.key })).status, 404);
 
    // deleting the org ends its sessions
    const last = await exchange((await mint(org.id)).token);
    assert.equal((await api(server, 'GET', '/v1/endpoints', { key: last.session })).status, 200);
    assert.equal((await api(server, 'DELETE', `/v1/orgs/${org.id}`, { key: server.adminKey })).status, 200);
    assert.equal((await api(server, 'GET', '/v1/endpoints', { key: last.session })).status, 401);
  });

  it('bad requests name their field and change nothing', async () => {
    const { org, key } = await orgWithEndpoints();
    for (const [body, field] of [
      [{ expires_in: 0 }, 'expires_in'], [{ expires_in: 8 * 86400 }, 'expires_in'], [{ read_only: 'yes' }, 'read_only'],
      [{ endpoint_ids: 'ep_x' }, 'endpoint_ids'], [{ endpoint_ids: ['ep_nope'] }, 'endpoint_ids'], [{ nope: 1 }, 'nope'],
    ]) {
      const res = await api(server, 'POST', `/v1/orgs/${org.id}/portal-sessions`, { key, body });
      assert.equal(res.status, 400, `${JSON.stringify(body)}: ${res.text}`);
      assert.equal(res.json.field, field, res.text);
    }
    const listed = await api(server, 'GET', `/v1/orgs/${org.id}/portal-sessions`, { key });
    assert.equal(listed.json.data.length, 0);
    for (const token of ['', 'nodot', 'ps_x.y', `${(await mint(org.id)).id}.wrong`]) {
      const res = await api(server, 'POST', '/v1/portal/exchange', { body: { token } });
      assert.equal(res.status, 401, `${token}: ${res.text}`);
    }
    const missing = await api(server, 'POST', '/v1/portal/exchange', { body: {} });
    assert.equal(missing.status, 400);
    assert.equal(missing.json.field, 'token');
  });

  it('an org brands its portal; the exchange shows the branding', async () => {
    const { org, key } = await orgWithEndpoints();
    const portal = { name: 'Acme webhooks', logo_url: 'https://acme.example/logo.png', accent_color: '#aa3300' };
    const res = await api(server, 'PATCH', '/v1/org', { key, body: { portal } });
    assert.equal(res.status, 200, res.text);
    assert.deepEqual(res.json.portal, portal);
    const s = await exchange((await mint(org.id)).token);
    assert.deepEqual(s.org.portal, portal);
    for (const [bad, field] of [[{ accent_color: 'red' }, 'portal.accent_color'], [{ logo_url: 'javascript:alert(1)' }, 'portal.logo_url'], [{ color: '#000000' }, 'portal.color']]) {
      const r = await api(server, 'PATCH', '/v1/org', { key, body: { portal: bad } });
      assert.equal(r.status, 400, r.text);
      assert.equal(r.json.field, field, r.text);
    }
    const cleared = await api(server, 'PATCH', '/v1/org', { key, body: { portal: { logo_url: null } } });
    assert.deepEqual(cleared.json.portal, { ...portal, logo_url: null });
  });

  it('keeps only hashes of the link and the session', async () => {
    const { org } = await orgWithEndpoints();
    const link = await mint(org.id);
    const s = await exchange(link.token);
    const r = spawnSync('sqlite3', [server.dbPath, `SELECT hex(link_hash), hex(session_hash) FROM portal_sessions WHERE id = '${link.id}'`], { encoding: 'utf8' });
    assert.equal(r.status, 0, r.stderr);
    const sha = (t) => crypto.createHash('sha256').update(t).digest('hex').toUpperCase();
    assert.equal(r.stdout.trim(), `${sha(link.token)}|${sha(s.session)}`);
    const dump = spawnSync('sqlite3', [server.dbPath, '.dump portal_sessions'], { encoding: 'utf8' });
    assert.ok(!dump.stdout.includes(link.token.split('.')[1]) && !dump.stdout.includes(s.session.split('.')[1]));
  });
});
