'use strict';
// Issue 15 retention (SPEC §4.6): history older than --retention (events, deliveries, attempts,
// inbound messages) is purged in batches while the server runs; a delivery still pending keeps
// its event; a longer --retention keeps it all. History is aged by rewriting its timestamps in
// the stopped server's SQLite file.

const { describe, it } = require('node:test');
const assert = require('node:assert/strict');
const { spawnSync } = require('node:child_process');
const { startHookd, api, createOrgWithKey, makeTempDir, removeTempDir, randomAdminKey } = require('./lib/hookd');
const { startReceiver, createEndpoint, emit, waitEventSettled, pollJson } = require('./lib/pipeline');

const DAY = 86400000;
const ARGS = ['--allow-http', '--allow-private', '--no-ping', '--retry-schedule', '1h'];

function sql(dbPath, text) {
  const r = spawnSync('sqlite3', [dbPath, text], { encoding: 'utf8' });
  assert.equal(r.status, 0, r.stderr);
  return r.stdout.trim();
}

async function status(server, key, path) {
  return (await api(server, 'GET', path, { key })).status;
}

describe('retention', () => {
  it('purges what is older than --retention, keeps what a pending delivery needs, and keeps all with a longer one', async () => {
    const dir = makeTempDir();
    const adminKey = randomAdminKey();
    const rx = await startReceiver();
    let server = await startHookd({ dir, adminKey, args: ARGS });
    try {
      const ok = await createOrgWithKey(server);
      const slow = await createOrgWithKey(server);
      await createEndpoint(server, ok.key, { url: rx.url('/ok') });
      rx.handler = (req) => ({ status: req.url === '/slow' ? 503 : 200 });
      await createEndpoint(server, slow.key, { url: rx.url('/slow') });
      const done = await emit(server, ok.key, { type: 'a.b', data: { n: 1 } });
      const [delivered] = await waitEventSettled(server, ok.key, done.id, 1);
      const waiting = await emit(server, slow.key, { type: 'a.b', data: { n: 2 } });
      await rx.waitFor((r) => r.some((q) => q.url === '/slow'));
      const src = await api(server, 'POST', '/v1/sources', { key: ok.key, body: { name: 's', verification: { scheme: 'none' }, forward: false } });
      const message = await api(server, 'POST', `/in/${src.json.id}`, { body: { a: 1 } });
      assert.equal(message.status, 202, message.text);
      // an org that keeps its history longer than the server
      const keeper = await createOrgWithKey(server, ['events', 'webhooks']);
      const set = await api(server, 'PATCH', '/v1/org', { key: keeper.key, body: { retention_days: 50 } });
      assert.equal(set.status, 200, set.text);
      assert.equal(set.json.retention_days, 50);
      await createEndpoint(server, keeper.key, { url: rx.url('/ok') });
      const kept = await emit(server, keeper.key, { type: 'a.b', data: { n: 4 } });
      await waitEventSettled(server, keeper.key, kept.id, 1);
      const dbPath = server.dbPath;
      await server.stop();

      for (const table of ['events', 'deliveries', 'inbound_messages'])
        sql(dbPath, `UPDATE ${table} SET created_at = created_at - ${40 * DAY}`);
      sql(dbPath, `UPDATE endpoint_stats SET bucket = bucket - ${40 * DAY}`);
      const okStats = `SELECT count(*) FROM endpoint_stats s JOIN endpoints e ON e.id = s.endpoint_id WHERE e.org_id = '${ok.org.id}'`;
      const keptStats = okStats.replace(ok.org.id, keeper.org.id);
      assert.notEqual(sql(dbPath, okStats), '0');

      // 60 days: 40-day-old history stays
      server = await startHookd({ dir, adminKey, args: [...ARGS, '--retention', '60d'] });
      await new Promise((r) => setTimeout(r, 1500));
      assert.equal(await status(server, ok.key, `/v1/events/${done.id}`), 200);
      assert.equal(await status(server, ok.key, `/v1/inbound/${message.json.id}`), 200);
      await server.stop();

      // the default 30 days: it goes, but for the event a pending delivery waits on
      server = await startHookd({ dir, adminKey, args: ARGS });
      await pollJson(server, ok.key, `/v1/events?limit=5`, (j) => j.data.length === 0, { what: 'the old event to be purged', timeoutMs: 10000 });
      assert.equal(await status(server, ok.key, `/v1/events/${done.id}`), 404);
      assert.equal(await status(server, ok.key, `/v1/deliveries/${delivered.id}`), 404);
      assert.equal(await status(server, ok.key, `/v1/inbound/${message.json.id}`), 404);
      assert.equal(sql(dbPath, `SELECT count(*) FROM attempts WHERE delivery_id = '${delivered.id}'`), '0');
      assert.equal(sql(dbPath, okStats), '0', 'the endpoint stats of the purged span');
      assert.notEqual(sql(dbPath, keptStats), '0', 'its org keeps 50 days of stats');
      assert.equal(await status(server, slow.key, `/v1/events/${waiting.id}`), 200);
      assert.equal(await status(server, keeper.key, `/v1/events/${kept.id}`), 200, 'its org keeps 50 days');
      const pending = (await api(server, 'GET', `/v1/deliveries?event_id=${waiting.id}`, { key: slow.key })).json.data;
      assert.equal(pending.length, 1);
      assert.equal(pending[0].status, 'pending');
      const fresh = await emit(server, ok.key, { type: 'a.b', data: { n: 3 } });
      await new Promise((r) => setTimeout(r, 1200));
      assert.equal(await status(server, ok.key, `/v1/events/${fresh.id}`), 200, 'new history stays');
    } finally {
      await server?.cleanup();
      await rx.close();
      removeTempDir(dir);
    }
  });

  it("an org's retention_days is 1 to 3650 days, or null for the server's", async () => {
    const server = await startHookd();
    try {
      const { key } = await createOrgWithKey(server, ['webhooks']);
      assert.equal((await api(server, 'GET', '/v1/org', { key })).json.retention_days, null);
      for (const bad of [0, 3651, -1, 'ten', 1.5]) {
        const res = await api(server, 'PATCH', '/v1/org', { key, body: { retention_days: bad } });
        assert.equal(res.status, 400, `${bad}: ${res.text}`);
        assert.equal(res.json.field, 'retention_days');
      }
      assert.equal((await api(server, 'PATCH', '/v1/org', { key, body: { retention_days: 7 } })).json.retention_days, 7);
      assert.equal((await api(server, 'PATCH', '/v1/org', { key, body: { signature_scheme: 'hex' } })).json.retention_days, 7);
      assert.equal((await api(server, 'PATCH', '/v1/org', { key, body: { retention_days: null } })).json.retention_days, null);
    } finally {
      await server.cleanup();
    }
  });
});
