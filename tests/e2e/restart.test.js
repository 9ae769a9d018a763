'use strict';
// §7/§8 durability across restarts, the one-process-per-SQLite-file lock, clean SIGTERM.

const crypto = require('node:crypto');
const { describe, it } = require('node:test');
const assert = require('node:assert/strict');
const {
  startHookd,
  api,
  createOrg,
  createKey,
  createOrgWithKey,
  makeTempDir,
  removeTempDir,
  runHookdAsync,
  randomAdminKey,
  uniqueName,
  assertNoSanitizerReport,
} = require('./lib/hookd');

// A temp dir that lives for one test, and every server started in it stopped afterwards.
function scratch(t) {
  const dir = makeTempDir();
  const servers = [];
  t.after(async () => {
    for (const s of servers) await s.stop();
    removeTempDir(dir);
    for (const s of servers) assertNoSanitizerReport(s);
  });
  return {
    dir,
    start: async (opts = {}) => {
      const s = await startHookd({ dir, ...opts });
      servers.push(s);
      return s;
    },
  };
}

describe('restart', () => {
  it('SIGTERM stops the server cleanly with exit code 0', async (t) => {
    const { start } = scratch(t);
    const server = await start();
    assert.equal((await api(server, 'GET', '/healthz')).status, 200);
    const { code, signal } = await server.stop('SIGTERM');
    assert.equal(signal, null);
    assert.equal(code, 0, server.stderr);
  });

  it('SIGINT stops the server cleanly with exit code 0', async (t) => {
    const { start } = scratch(t);
    const server = await start();
    const { code } = await server.stop('SIGINT');
    assert.equal(code, 0, server.stderr);
  });

  it('a restart on the same database keeps orgs, keys, revocations and settings', async (t) => {
    const { start } = scratch(t);
    const adminKey = randomAdminKey();
    const first = await start({ adminKey });
    const { org, key } = await createOrgWithKey(first, ['webhooks']);
    const revoked = await createKey(first, org.id, ['events']);
    await api(first, 'DELETE', `/v1/api-keys/${revoked.id}`, { key: adminKey });
    const patched = await api(first, 'PATCH', '/v1/org', {
      key,
      body: { signature_scheme: 'hex' },
    });
    assert.equal(patched.status, 200);
    const secret = patched.json.primary_secret;
    const gone = await createOrg(first);
    await api(first, 'DELETE', `/v1/orgs/${gone.id}`, { key: adminKey });
    assert.equal((await first.stop()).code, 0);

    const second = await start({ adminKey });
    assert.notEqual(second.port, null);
    const get = await api(second, 'GET', `/v1/orgs/${org.id}`, { key: adminKey });
    assert.equal(get.status, 200, get.text);
    assert.deepEqual(get.json, { ...org, signature_scheme: 'hex' });
    const me = await api(second, 'GET', '/v1/org', { key });
    assert.equal(me.status, 200, me.text);
    assert.equal(me.json.primary_secret, secret);
    assert.equal(me.json.signature_scheme, 'hex');
    assert.equal((await api(second, 'GET', '/v1/org', { key: revoked.key })).status, 401);
    const keys = await api(second, 'GET', `/v1/orgs/${org.id}/api-keys`, { key: adminKey });
    assert.equal(keys.json.data.length, 2);
    assert.equal(keys.json.data.find((k) => k.id === revoked.id).revoked_at !== null, true);
    assert.equal(
      (await api(second, 'GET', `/v1/orgs/${gone.id}`, { key: adminKey })).status,
      404
    );
  });

  it('the minted admin key is printed on the first start only and works after a restart', async (t) => {
    const { start } = scratch(t);
    const first = await start({ adminKey: null });
    const adminKey = first.adminKey;
    assert.ok(adminKey, `no admin key printed: ${first.stdout}`);
    const org = await createOrg(first);
    await first.stop();

    const second = await start({ adminKey: null });
    assert.equal(second.adminKey, null, 'no new admin key');
    assert.ok(!second.stdout.includes('created the admin key'), second.stdout);
    const res = await api(second, 'GET', `/v1/orgs/${org.id}`, { key: adminKey });
    assert.equal(res.status, 200, res.text);
  });

  it('an Idempotency-Key replay survives a restart', async (t) => {
    const { start } = scratch(t);
    const adminKey = randomAdminKey();
    const first = await start({ adminKey });
    const headers = { 'Idempotency-Key': `restart-${crypto.randomUUID()}` };
    const name = uniqueName('durable');
    const a = await api(first, 'POST', '/v1/orgs', { key: adminKey, body: { name }, headers });
    assert.equal(a.status, 201);
    await first.stop();
    const second = await start({ adminKey });
    const b = await api(second, 'POST', '/v1/orgs', { key: adminKey, body: { name }, headers });
    assert.equal(b.status, 201, b.text);
    assert.deepEqual(b.json, a.json);
    assert.equal(b.headers.get('idempotent-replayed'), 'true');
    const list = await api(second, 'GET', '/v1/orgs?limit=250', { key: adminKey });
    assert.equal(list.json.data.filter((o) => o.name === name).length, 1);
  });

  it('writes answered before SIGTERM are all there after the restart', async (t) => {
    const { start } = scratch(t);
    const adminKey = randomAdminKey();
    const first = await start({ adminKey });
    const results = await Promise.all(
      Array.from({ length: 25 }, (_, i) =>
        api(first, 'POST', '/v1/orgs', { key: adminKey, body: { name: `burst-${i}` } })
      )
    );
    for (const r of results) assert.equal(r.status, 201, r.text);
    await first.stop();
    const second = await start({ adminKey });
    const list = await api(second, 'GET', '/v1/orgs?limit=250', { key: adminKey });
    const ids = new Set(list.json.data.map((o) => o.id));
    for (const r of results) assert.ok(ids.has(r.json.id), `${r.json.id} survived`);
  });

  it('a second hookd on the same SQLite file refuses to start and names the lock', async (t) => {
    const { dir, start } = scratch(t);
    const adminKey = randomAdminKey();
    const first = await start({ adminKey });
    const org = await createOrg(first);
    const second = await runHookdAsync(
      [
        'serve',
        '--listen',
        '127.0.0.1:0',
        '--db',
        `sqlite:${first.dbPath}`,
        '--admin-key',
        randomAdminKey(),
      ],
      { cwd: dir }
    );
    assert.notEqual(second.code, 0, 'the second process must not run');
    assert.equal(second.code !== null, true, 'it exits on its own');
    assert.match(second.stderr, /lock/i);
    assert.ok(!second.stderr.includes('"msg":"listening"'), second.stderr);
    // the first one is unharmed
    const res = await api(first, 'GET', `/v1/orgs/${org.id}`, { key: adminKey });
    assert.equal(res.status, 200, res.text);
  });

  it('after the first server stops, the database can be served again', async (t) => {
    const { start } = scratch(t);
    const first = await start();
    await first.stop();
    const second = await start();
    assert.equal((await api(second, 'GET', '/readyz')).status, 200);
  });

  it('a killed server leaves a database that the next start serves', async (t) => {
    const { start } = scratch(t);
    const adminKey = randomAdminKey();
    const first = await start({ adminKey });
    const org = await createOrg(first);
    await first.kill();
    const second = await start({ adminKey });
    const res = await api(second, 'GET', `/v1/orgs/${org.id}`, { key: adminKey });
    assert.equal(res.status, 200, res.text);
  });
});
