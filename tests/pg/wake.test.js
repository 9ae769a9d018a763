'use strict';
// LISTEN/NOTIFY between nodes (§7): an event accepted by an `api` node wakes an idle `worker`
// node at once. With --lease 30s the periodic rescan only comes every 5 s, so a delivery within
// 1.5 s can only come from the wake-up.

const { describe, it } = require('node:test');
const assert = require('node:assert/strict');
const { startHookd, api, createOrgWithKey, randomAdminKey, sleep } = require('../e2e/lib/hookd');
const { createEndpoint, startReceiver } = require('../e2e/lib/pipeline');
const { useCluster } = require('./cluster');

const pg = useCluster();
const ARGS = ['--lease', '30s', '--allow-http', '--allow-private', '--no-ping'];

describe('postgres: wake-ups between nodes', () => {
  it('an event accepted by an api node is delivered by an idle worker within 1.5 s', async (t) => {
    const db = await pg.newDatabase();
    const adminKey = randomAdminKey();
    const rx = await startReceiver();
    const apiNode = await startHookd({ db, adminKey, args: [...ARGS, '--role', 'api'] });
    const worker = await startHookd({ db, adminKey, args: [...ARGS, '--role', 'worker'] });
    t.after(async () => {
      await rx.close();
      for (const s of [apiNode, worker]) {
        await s.stop('SIGKILL');
        await s.cleanup();
      }
    });
    const { key } = await createOrgWithKey(apiNode);
    await createEndpoint(apiNode, key, { url: rx.url('/wake') });
    await sleep(6000); // past the worker's first rescans: from now on it idles for 5 s at a time
    for (let i = 0; i < 3; i++) {
      const started = Date.now();
      const res = await api(apiNode, 'POST', '/v1/events', { key, body: { type: 'wake.test', data: { i } } });
      assert.equal(res.status, 202, res.text);
      await rx.waitFor((list) => list.length >= i + 1, { timeoutMs: 1500, what: `event ${i} via the worker` });
      t.diagnostic(`event ${i}: delivered ${Date.now() - started} ms after the POST`);
    }
  });
});
