'use strict';
// PostgreSQL restarting under load (issue 14): hookd keeps running. While the server is down,
// requests that need the store get 503 (never a 202 without a commit), /readyz says so, and
// deliveries pause; once it is back the node carries on by itself, no restart, and every
// event it acknowledged reaches the receiver.

const { describe, it } = require('node:test');
const assert = require('node:assert/strict');
const { startHookd, api, createOrgWithKey, sleep } = require('../e2e/lib/hookd');
const { createEndpoint, startReceiver } = require('../e2e/lib/pipeline');
const { useCluster } = require('./cluster');

const pg = useCluster();
const ARGS = ['--lease', '3s', '--allow-http', '--allow-private', '--no-ping', '--rate-limit', '0'];

describe('postgres: the database going away', () => {
  it('503s while PostgreSQL is down, then carries on and delivers every acknowledged event', async (t) => {
    if (!pg.owned) {
      t.skip('HOOKD_TEST_DB names a cluster this test may not stop');
      return;
    }
    const db = await pg.newDatabase();
    const rx = await startReceiver();
    const node = await startHookd({ db, args: [...ARGS, '--role', 'all', '--log-level', 'error'] });
    t.after(async () => {
      await rx.close();
      await node.stop('SIGKILL');
      await node.cleanup();
    });
    const { key } = await createOrgWithKey(node);
    await createEndpoint(node, key, { url: rx.url('/outage') });

    const accepted = new Set();
    const statuses = { up: new Map(), down: new Map(), recovering: new Map() };
    let phase = 'up';
    let stop = false;
    let i = 0;
    // four clients emitting all along, the outage included
    const client = async () => {
      while (!stop) {
        const during = phase;
        const res = await api(node, 'POST', '/v1/events', { key, body: { type: 'outage.test', data: { i: i++ } } });
        const seen = statuses[during];
        seen.set(res.status, (seen.get(res.status) || 0) + 1);
        if (res.status === 202) accepted.add(res.json.id);
        else await sleep(20);
      }
    };
    const clients = Array.from({ length: 4 }, client);

    await sleep(1000);
    await pg.down();
    phase = 'down';
    const whileDown = Date.now();
    // a 202 answered during the stop's last moments may have committed just before it: only
    // requests sent once the server is gone count as "down"
    await sleep(300);
    statuses.down.clear();
    let readyDown;
    for (const until = whileDown + 3000; Date.now() < until; ) {
      readyDown = await api(node, 'GET', '/readyz');
      await sleep(200);
    }
    const recvDown = rx.deliveries().length;
    await sleep(500);
    const recvDownLater = rx.deliveries().length;
    phase = 'recovering'; // each connection may fail once more, as it finds the server gone
    await pg.up();
    await sleep(1500);
    phase = 'up';
    statuses.up.clear();
    await sleep(2000);
    stop = true;
    await Promise.all(clients);

    t.diagnostic(`while down: ${JSON.stringify([...statuses.down])}; recovering: ${JSON.stringify([...statuses.recovering])}; after: ${JSON.stringify([...statuses.up])}`);
    assert.equal(node.exitCode, undefined, 'hookd exited while PostgreSQL was down');
    assert.ok((statuses.down.get(503) || 0) > 0, 'no 503 while PostgreSQL was down');
    for (const status of statuses.down.keys())
      assert.equal(status, 503, `answered ${status} while PostgreSQL was down`);
    assert.equal(readyDown.status, 503, `/readyz while down: ${readyDown.text}`);
    assert.equal(recvDownLater, recvDown, 'deliveries went on without a database');
    for (const status of statuses.up.keys()) assert.equal(status, 202, `answered ${status} once it was back`);
    assert.ok((statuses.up.get(202) || 0) > 0, 'nothing accepted once PostgreSQL was back');
    assert.equal((await api(node, 'GET', '/readyz')).status, 200);

    const seen = () => new Set(rx.deliveries().map((r) => r.headers['webhook-id']));
    await rx.waitFor(() => [...accepted].every((id) => seen().has(id)), {
      timeoutMs: 20000,
      what: `the ${accepted.size} acknowledged events`,
    });
  });
});
