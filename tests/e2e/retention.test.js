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
      const dbPath = server.dbPath;
      await server.stop();

      for (const table of ['events', 'deliveries', 'inbound_messages'])
        sql(dbPath, `UPDATE ${table} SET created_at = created_at - ${40 * DAY}`);

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
      assert.equal(await status(server, slow.key, `/v1/events/${waiting.id}`), 200);
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
});
