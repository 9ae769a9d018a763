'use strict';
// Several hookd nodes on one PostgreSQL database (§7, §4.5): they migrate once when they start
// together; a clean SIGTERM hands a node's queued work to the others at once; a `kill -9`ed node's
// acknowledged events are taken over once its lease expires (at-least-once: duplicates allowed
// and counted, gaps never), and nothing stays pending or in flight at the end.

const { describe, it } = require('node:test');
const assert = require('node:assert/strict');
const { startHookd, api, createOrgWithKey, randomAdminKey, sleep } = require('../e2e/lib/hookd');
const { createEndpoint, getJson, uniqueType, startReceiver, waitEventSettled } = require('../e2e/lib/pipeline');
const { useCluster } = require('./cluster');

const pg = useCluster();

const LEASE_MS = 3000;
const NODE_ARGS = [
  '--lease',
  '3s',
  '--retry-schedule',
  '200ms,400ms,800ms',
  '--allow-http',
  '--allow-private',
  '--no-ping',
];

// Nodes on one database with one admin key; all of them stopped (SIGKILL if still up) after.
function cluster(t, db, { args = NODE_ARGS } = {}) {
  const adminKey = randomAdminKey();
  const servers = [];
  const receivers = [];
  t.after(async () => {
    for (const r of receivers) await r.close();
    for (const s of servers) await s.stop('SIGKILL');
    for (const s of servers) await s.cleanup(); // the temp dirs; checks sanitizer reports
  });
  return {
    adminKey,
    servers,
    start: async (extra = []) => {
      const s = await startHookd({ db, adminKey, args: [...args, ...extra] });
      servers.push(s);
      return s;
    },
    receiver: async (opts) => {
      const r = await startReceiver(opts);
      receivers.push(r);
      return r;
    },
  };
}

// The node id a server announced in its `listening` line.
function nodeId(server) {
  const line = server.logs().find((l) => l.msg === 'listening');
  assert.ok(line && line.node, server.stderr.slice(0, 2000));
  return line.node;
}

// Every delivery of an org with the given status, all pages (admin key + org_id).
async function listAll(server, adminKey, orgId, status) {
  const out = [];
  let cursor = null;
  for (let guard = 0; guard < 100; guard++) {
    const q = `/v1/deliveries?org_id=${orgId}&status=${status}&limit=250${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}`;
    const page = await getJson(server, adminKey, q);
    out.push(...page.data);
    cursor = page.next_cursor;
    if (!cursor) return out;
  }
  throw new Error('more than 100 pages');
}

// How many times the receiver saw each event id (by webhook-id), and when first.
function seenCounts(rx) {
  const seen = new Map();
  for (const r of rx.deliveries()) {
    const id = r.headers['webhook-id'];
    const s = seen.get(id);
    if (s) s.count += 1;
    else seen.set(id, { count: 1, first: r.at });
  }
  return seen;
}

async function count(db, sql) {
  const rows = await pg.query(db, sql);
  return Number(rows[0][0]);
}

describe('several nodes on one PostgreSQL database', () => {
  it('three nodes starting together on a fresh database migrate it once and all come up', async (t) => {
    const db = await pg.newDatabase();
    const c = cluster(t, db);
    const nodes = await Promise.all([c.start(), c.start(), c.start()]);
    for (const n of nodes) {
      const h = await api(n, 'GET', '/healthz');
      assert.equal(h.status, 200, h.text);
    }
    const rows = await pg.query(db, 'SELECT version, count(*) FROM schema_migrations GROUP BY version ORDER BY version');
    assert.ok(rows.length >= 1, 'migrations recorded');
    rows.forEach(([version, n], i) => {
      assert.equal(Number(version), i + 1, `versions 1..N without a gap: ${JSON.stringify(rows)}`);
      assert.equal(Number(n), 1, `version ${version} recorded once`);
    });
    // exactly one node applied the migrations; the others found the schema up to date
    const migrated = nodes.map((n) => n.logs().filter((l) => l.msg === 'migrated'));
    const applied = migrated.flat().reduce((s, l) => s + Number(l.applied), 0);
    assert.equal(applied, rows.length, JSON.stringify(migrated));
    assert.equal(migrated.filter((m) => m.length > 0).length, 1, JSON.stringify(migrated));
    // each node registered its heartbeat under its own id
    const ids = nodes.map(nodeId);
    assert.equal(new Set(ids).size, 3);
    const hb = (await pg.query(db, 'SELECT id FROM nodes ORDER BY id')).map((r) => r[0]);
    assert.deepEqual(hb, [...ids].sort());
    // the data is shared: an org made on one node is seen by the others
    const { org, key } = await createOrgWithKey(nodes[0]);
    for (const n of nodes.slice(1)) {
      assert.equal((await getJson(n, c.adminKey, `/v1/orgs/${org.id}`)).id, org.id);
      assert.equal((await api(n, 'GET', '/v1/endpoints', { key })).status, 200);
    }
    // a clean stop removes the node's heartbeat row
    for (const n of nodes) assert.equal((await n.stop()).code, 0, n.stderr.slice(-2000));
    assert.equal(await count(db, 'SELECT count(*) FROM nodes'), 0);
  });

  it('a clean SIGTERM releases its claims: another node delivers the rest long before the lease', async (t) => {
    const db = await pg.newDatabase();
    // a long lease: work that waited for it would show
    const c = cluster(t, db, { args: [...NODE_ARGS.slice(2), '--lease', '12s'] });
    const [a, b] = await Promise.all([c.start(), c.start()]);
    const rx = await c.receiver();
    rx.handler = () => ({ status: 200, delayMs: 250 });
    const { key } = await createOrgWithKey(a);
    await createEndpoint(a, key, { url: rx.url('/drain'), max_in_flight: 4 });
    const type = uniqueType('drain');
    const ids = [];
    for (let i = 0; i < 40; i++) {
      const res = await api(a, 'POST', '/v1/events', { key, body: { type, data: { i } } });
      assert.equal(res.status, 202, res.text);
      ids.push(res.json.id);
    }
    await rx.waitFor((l) => l.length >= 4, { what: 'the first attempts' });
    const aId = nodeId(a);
    const stopped = await a.stop('SIGTERM');
    const exitedAt = Date.now();
    assert.equal(stopped.code, 0, a.stderr.slice(-2000));
    const leftAtExit = ids.filter((id) => !seenCounts(rx).has(id)).length;
    t.diagnostic(`${leftAtExit} of 40 events were still queued when the first node exited`);
    assert.ok(leftAtExit > 0, 'the node stopped with work queued');
    // nothing is held by the stopped node any more
    assert.equal(await count(db, `SELECT count(*) FROM deliveries WHERE status = 0 AND node_id = '${aId}'`), 0);
    assert.equal(await count(db, `SELECT count(*) FROM nodes WHERE id = '${aId}'`), 0);
    rx.handler = () => ({ status: 200, delayMs: 5 });
    await rx.waitFor(() => ids.every((id) => seenCounts(rx).has(id)), {
      timeoutMs: 9000, // < the 12 s lease
      what: 'every event, through the other node',
    });
    const took = Date.now() - exitedAt;
    t.diagnostic(`the other node delivered the rest within ${took} ms of the exit (lease 12 s)`);
    assert.ok(took < 9000, `taken over in ${took} ms`);
    // the receiver answered the last ones; their outcomes commit a moment later (group commit)
    let left;
    for (let i = 0; i < 100; i++) {
      const pending = await getJson(b, key, '/v1/deliveries?status=pending');
      const inFlight = await getJson(b, key, '/v1/deliveries?status=in_flight');
      left = [pending.data.length, inFlight.data.length];
      if (left[0] === 0 && left[1] === 0) break;
      await sleep(20);
    }
    assert.deepEqual(left, [0, 0]);
  });

  it('a delivery whose outcome waits for the writer is not attempted again by the periodic rescan', async (t) => {
    // The rescan of a shared database (every max(1 s, lease/3)) returns this node's own due
    // pending rows; a delivery that was attempted but whose outcome is not committed yet is such
    // a row. Hold the writer for ~2.5 s (a lock on `attempts`, which recording an outcome
    // takes first) so that at least two rescans pass while the outcome waits.
    const db = await pg.newDatabase();
    const c = cluster(t, db);
    const node = await c.start();
    const rx = await c.receiver();
    const { key } = await createOrgWithKey(node);
    await createEndpoint(node, key, { url: rx.url('/once') });
    const type = uniqueType('once');
    const warm = await api(node, 'POST', '/v1/events', { key, body: { type, data: { warm: true } } });
    assert.equal(warm.status, 202, warm.text);
    await rx.waitFor((l) => l.length === 1, { what: 'the first event' });
    await sleep(300);

    const holding = pg.query(db, 'BEGIN; LOCK TABLE attempts IN EXCLUSIVE MODE; SELECT pg_sleep(2.5); COMMIT');
    const lockDeadline = Date.now() + 5000;
    while (
      (await count(
        db,
        "SELECT count(*) FROM pg_locks l JOIN pg_class c ON c.oid = l.relation WHERE c.relname = 'attempts' AND l.mode = 'ExclusiveLock' AND l.granted"
      )) === 0
    ) {
      assert.ok(Date.now() < lockDeadline, 'the lock on attempts was not granted');
      await sleep(20);
    }
    const res = await api(node, 'POST', '/v1/events', { key, body: { type, data: { n: 1 } } });
    assert.equal(res.status, 202, res.text);
    const id = res.json.id;
    await rx.waitFor((l) => l.some((r) => r.headers['webhook-id'] === id), { what: 'the event' });
    await holding;
    const [d] = await waitEventSettled(node, key, id, 1);
    await sleep(1500); // one more rescan after the outcome was committed
    const copies = rx.deliveries().filter((r) => r.headers['webhook-id'] === id);
    const full = await getJson(node, key, `/v1/deliveries/${d.id}`);
    t.diagnostic(
      `the event was attempted ${copies.length} time(s) (attempt headers ${copies.map((r) => r.headers['x-webhook-attempt']).join(',')}); the log holds ${full.attempts.length} attempt(s) numbered ${full.attempts.map((a) => a.n).join(',')}`
    );
    assert.equal(full.status, 'delivered');
    assert.equal(copies.length, 1, 'a healthy node attempted an event again that it had delivered (200) already');
    assert.equal(full.attempts.length, 1);
  });

  it('2,000 events across three nodes, one kill -9ed halfway and restarted: every acknowledged event arrives', async (t) => {
    const TOTAL = 2000;
    const PARALLEL = 16;
    const KILL_AT = TOTAL / 2; // acknowledged events before the kill
    const RESTART_AT = (TOTAL * 3) / 4;
    const db = await pg.newDatabase();
    const c = cluster(t, db);
    const servers = await Promise.all([c.start(), c.start(), c.start()]);
    const nodes = servers.map((server, i) => ({ name: 'ABC'[i], server, alive: true, id: nodeId(server) }));
    const rx = await c.receiver();
    rx.handler = () => ({ status: 200, delayMs: 20 });
    const { org, key } = await createOrgWithKey(nodes[0].server);
    await createEndpoint(nodes[1].server, key, { url: rx.url('/mn') });
    const type = uniqueType('mn');

    const victim = nodes[2];
    const acked = new Map(); // event id → the node name that acknowledged it
    let next = 0;
    let ackedCount = 0;
    let resent = 0; // requests cut by the kill, sent again (same id) to a live node
    let killedAt = null;
    let killing = null;
    let restarting = null;
    let victimAcked = null; // ids the victim acknowledged before it died
    let victimQueued = null; // of those, the ones the receiver had not seen at the kill

    const kill = async () => {
      victim.alive = false; // no new request goes to it
      await victim.server.kill();
      killedAt = Date.now();
      const seen = seenCounts(rx);
      victimAcked = [...acked].filter(([, n]) => n === victim.name).map(([id]) => id);
      victimQueued = victimAcked.filter((id) => !seen.has(id));
    };
    const restart = async () => {
      await killing;
      const server = await c.start();
      nodes.push({ name: "C'", server, alive: true, id: nodeId(server) });
    };

    const emitStart = Date.now();
    async function worker() {
      while (next < TOTAL) {
        const i = next++;
        const id = `mn-${String(i).padStart(5, '0')}`;
        for (let attempt = 0; ; attempt++) {
          const live = nodes.filter((n) => n.alive);
          const node = live[(i + attempt) % live.length];
          let res;
          try {
            res = await api(node.server, 'POST', '/v1/events', { key, body: { type, data: { i }, id } });
          } catch (error) {
            if (!node.alive && attempt < 5) {
              resent += 1; // cut by the kill: the same producer id again, elsewhere
              continue;
            }
            throw error;
          }
          // 202, or 200 when a request cut by the kill had been committed after all
          assert.ok(res.status === 202 || (res.status === 200 && attempt > 0), `event ${i} on ${node.name}: ${res.status} ${res.text}`);
          assert.equal(res.json.id, id);
          if (!acked.has(id)) acked.set(id, node.name);
          break;
        }
        ackedCount += 1;
        if (ackedCount === KILL_AT) killing = kill();
        if (ackedCount === RESTART_AT) restarting = restart();
      }
    }
    await Promise.all(Array.from({ length: PARALLEL }, worker));
    await killing;
    await restarting;
    const emitMs = Date.now() - emitStart;
    assert.equal(acked.size, TOTAL);
    const perNode = {};
    for (const n of acked.values()) perNode[n] = (perNode[n] || 0) + 1;
    t.diagnostic(
      `emitted ${TOTAL} events in ${emitMs} ms (${JSON.stringify(perNode)}); ${resent} requests cut by the kill were sent again`
    );
    t.diagnostic(
      `the killed node had acknowledged ${victimAcked.length} events; ${victimQueued.length} of them had not reached the receiver at the kill`
    );
    assert.ok(victimAcked.length > 0);

    // every acknowledged event id reaches the receiver
    const ids = [...acked.keys()];
    await rx.waitFor(
      () => {
        const seen = seenCounts(rx);
        return ids.every((id) => seen.has(id));
      },
      { timeoutMs: 30000, intervalMs: 100, what: 'every acknowledged event' }
    ).catch((error) => {
      const seen = seenCounts(rx);
      const missing = ids.filter((id) => !seen.has(id));
      error.message = `${missing.length} acknowledged events never arrived (${missing.slice(0, 10).join(', ')}…; of the killed node's: ${missing.filter((id) => victimAcked.includes(id)).length}): ${error.message.slice(0, 500)}`;
      throw error;
    });
    const allSeenAt = Date.now();
    const seen = seenCounts(rx);

    // the killed node's queued events: taken over once its lease ran out, not before
    if (victimQueued.length > 0) {
      const firsts = victimQueued.map((id) => seen.get(id).first);
      const earliest = Math.min(...firsts) - killedAt;
      const latest = Math.max(...firsts) - killedAt;
      t.diagnostic(
        `recovery: the killed node's ${victimQueued.length} queued events arrived ${earliest}–${latest} ms after the kill (lease ${LEASE_MS} ms)`
      );
      // its last heartbeat was at most lease/3 (1 s) before the kill
      assert.ok(earliest >= LEASE_MS - 1000 - 500, `taken over ${earliest} ms after the kill, before the lease ran out`);
      assert.ok(latest < LEASE_MS + 15000, `taken over ${latest} ms after the kill`);
    } else {
      t.diagnostic('the killed node had delivered everything it acknowledged before the kill');
    }

    // duplicates: allowed (at-least-once), counted
    const dups = ids.filter((id) => seen.get(id).count > 1);
    const extra = dups.reduce((s, id) => s + seen.get(id).count - 1, 0);
    const victimSet = new Set(victimAcked);
    const dupsElsewhere = dups.filter((id) => !victimSet.has(id));
    t.diagnostic(
      `${TOTAL} events, ${ids.filter((id) => seen.has(id)).length} reached the receiver, ${dups.length} more than once (${extra} duplicate requests); ${dupsElsewhere.length} duplicated events were never held by the killed node`
    );
    // what the duplicates of events the killed node never held look like (at most 5)
    for (const id of dupsElsewhere.slice(0, 5)) {
      const copies = rx
        .deliveries()
        .filter((r) => r.headers['webhook-id'] === id)
        .map((r) => `attempt ${r.headers['x-webhook-attempt']} of ${r.headers['x-webhook-delivery']} at kill${r.at - killedAt >= 0 ? '+' : ''}${r.at - killedAt} ms`);
      t.diagnostic(`  ${id} (acknowledged by ${acked.get(id)}): ${copies.join('; ')}`);
    }

    // nothing stays pending or in flight once the leases expired (asked through a live node)
    const live = nodes.filter((n) => n.alive);
    let which = 0;
    const deadline = Date.now() + 30000;
    for (;;) {
      const node = live[which++ % live.length].server;
      const pending = await getJson(node, c.adminKey, `/v1/deliveries?org_id=${org.id}&status=pending`);
      const inFlight = await getJson(node, c.adminKey, `/v1/deliveries?org_id=${org.id}&status=in_flight`);
      if (pending.data.length === 0 && inFlight.data.length === 0) break;
      if (Date.now() > deadline) {
        assert.fail(
          `still ${pending.data.length} pending and ${inFlight.data.length} in flight 30 s after every event arrived: ${JSON.stringify([...pending.data, ...inFlight.data].slice(0, 5))}`
        );
      }
      await sleep(250);
    }
    t.diagnostic(`settled ${Date.now() - allSeenAt} ms after every event had arrived; the run took ${Date.now() - emitStart} ms`);

    // every delivery delivered, one per event
    const delivered = await listAll(live[0].server, c.adminKey, org.id, 'delivered');
    assert.equal(delivered.length, TOTAL);
    assert.equal(new Set(delivered.map((d) => d.event_id)).size, TOTAL);
    for (const status of ['failed', 'exhausted']) {
      assert.deepEqual(await listAll(live[1].server, c.adminKey, org.id, status), [], status);
    }
    assert.equal(await count(db, `SELECT count(*) FROM events WHERE org_id = '${org.id}'`), TOTAL);
    assert.deepEqual(await pg.query(db, 'SELECT status, count(*) FROM deliveries GROUP BY status'), [['1', String(TOTAL)]]);
    // the endpoint's stats sum the nodes' shards: every delivery counted once, attempts at least as often
    const ep = (await getJson(live[0].server, key, '/v1/endpoints')).data[0];
    const stats = await getJson(live[1].server, key, `/v1/endpoints/${ep.id}/stats?window=1h`);
    assert.deepEqual(stats.deliveries, { delivered: TOTAL, failed: 0, exhausted: 0 });
    assert.ok(stats.attempts.total >= TOTAL, JSON.stringify(stats.attempts));
    const shards = await count(db, 'SELECT count(DISTINCT shard) FROM endpoint_stats');
    t.diagnostic(`stats: ${JSON.stringify(stats.attempts)} in ${shards} shards`);

    // the live nodes stop cleanly and leave no claim behind
    for (const n of live) assert.equal((await n.server.stop()).code, 0, n.server.stderr.slice(-2000));
    assert.deepEqual(
      (await pg.query(db, 'SELECT id FROM nodes')).map((r) => r[0]),
      [victim.id],
      'only the killed node left its heartbeat row'
    );
  });
});
