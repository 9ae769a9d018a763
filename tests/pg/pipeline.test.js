'use strict';
// The pipeline's core behaviours on PostgreSQL (§7), through the real binary with
// `--db postgres://...`: tenants and endpoints, a signed delivery, retries, dedupe, the delivery
// log, and data that outlives the process. Each test has a database of its own.

const crypto = require('node:crypto');
const { describe, it } = require('node:test');
const assert = require('node:assert/strict');
const { startHookd, api, checkResponse, createOrgWithKey, randomAdminKey, sleep, TIME_RE, ORG_ID_RE, KEY_RE } = require('../e2e/lib/hookd');
const {
  BASE_ARGS,
  signStandard,
  standardSignatures,
  pipelineFixture,
  uniqueType,
  createEndpoint,
  emit,
  getJson,
  waitDelivery,
  waitEventSettled,
  stopChecked,
  startReceiver,
  verifiesV1a: verifies,
} = require('../e2e/lib/pipeline');
const { useCluster } = require('./cluster');

const pg = useCluster();
// Three attempts: the first, then after ~100 ms, then after ~200 ms more.
const SCHEDULE = ['--retry-schedule', '100ms,200ms', '--lease', '3s'];

// A hookd on a fresh database of its own, a receiver and an org with a key of every scope.
async function fixture(t, args = SCHEDULE) {
  const db = await pg.newDatabase();
  const fx = await pipelineFixture(t, { args, hookd: { db } });
  return { ...fx, db };
}

// One statement's single value (psql -At).
async function scalar(db, sql) {
  const rows = await pg.query(db, sql);
  assert.equal(rows.length, 1, `${sql}: ${JSON.stringify(rows)}`);
  return rows[0][0];
}

describe('pipeline on PostgreSQL', () => {
  it('the server says it runs on PostgreSQL and migrates the empty database', async (t) => {
    const { server, db } = await fixture(t);
    const started = server.logs().find((l) => l.db !== undefined);
    assert.ok(started, server.stderr.slice(0, 2000));
    assert.match(String(started.db), /^postgres(ql)?:\/\//);
    // the schema is in this database, not in a SQLite file
    const versions = await pg.query(db, 'SELECT version FROM schema_migrations ORDER BY version');
    assert.ok(versions.length >= 1);
    assert.deepEqual(
      versions.map((r) => Number(r[0])),
      versions.map((_, i) => i + 1)
    );
    assert.equal(server.dbPath, null);
    const health = await api(server, 'GET', '/healthz');
    assert.equal(health.status, 200, health.text);
  });

  it('org, key and endpoint creation: answered as on SQLite and stored in PostgreSQL', async (t) => {
    const { server, rx, db } = await fixture(t);
    const { org, keyObj, key } = await createOrgWithKey(server);
    assert.match(org.id, ORG_ID_RE);
    assert.match(key, KEY_RE);
    assert.match(org.created_at, TIME_RE);
    const ep = await createEndpoint(server, key, { url: rx.url('/created'), description: 'pg' });
    assert.match(ep.secret, /^whsec_/);
    // the creation ping went out and the endpoint is verified
    await rx.waitFor(() => rx.pings().length >= 1, { what: 'the creation ping' });

    // read back through the API
    const got = await getJson(server, key, `/v1/endpoints/${ep.id}`);
    assert.equal(got.url, rx.url('/created'));
    assert.equal(got.description, 'pg');
    const keys = await getJson(server, server.adminKey, `/v1/orgs/${org.id}/api-keys`);
    assert.ok(keys.data.some((k) => k.id === keyObj.id));
    // and the rows are in this database
    assert.equal(await scalar(db, `SELECT name FROM orgs WHERE id = '${org.id}'`), org.name);
    assert.equal(await scalar(db, `SELECT org_id FROM api_keys WHERE id = '${keyObj.id}'`), org.id);
    assert.equal(await scalar(db, `SELECT url FROM endpoints WHERE id = '${ep.id}'`), rx.url('/created'));
    // a key of an org sees only its org
    const other = await createOrgWithKey(server);
    const foreign = await api(server, 'GET', `/v1/endpoints/${ep.id}`, { key: other.key });
    assert.equal(foreign.status, 404, foreign.text);
  });

  it('an event is delivered once with a valid standard signature', async (t) => {
    const { server, rx, key, db } = await fixture(t);
    const ep = await createEndpoint(server, key, { url: rx.url('/signed') });
    const type = uniqueType('signed');
    const data = { amount: 42, text: 'héllo ✓', nested: { list: [1, 2, 3] } };
    const evt = await emit(server, key, { type, data });
    assert.equal(evt.deliveries, 1);
    const [req] = await rx.waitForPath('/signed', 1);
    assert.equal(req.method, 'POST');
    assert.equal(req.headers['webhook-id'], evt.id);
    const ts = req.headers['webhook-timestamp'];
    assert.match(ts, /^\d+$/);
    assert.ok(Math.abs(Number(ts) - Date.now() / 1000) < 60, `timestamp ${ts} is now`);
    const sigs = standardSignatures(req.headers['webhook-signature']);
    assert.ok(sigs.length >= 1, req.headers['webhook-signature']);
    const want = signStandard(ep.secret, evt.id, ts, req.body);
    assert.ok(
      sigs.some((s) => s.length === want.length && crypto.timingSafeEqual(Buffer.from(s), Buffer.from(want))),
      `signature ${req.headers['webhook-signature']} is not ${want}`
    );
    const body = JSON.parse(req.text);
    assert.equal(body.type, type);
    assert.deepEqual(body.data, data);

    const d = await waitDelivery(server, key, req.headers['x-webhook-delivery']);
    assert.equal(d.status, 'delivered');
    assert.equal(d.attempt_count, 1);
    assert.equal(d.last_response_status, 200);
    await sleep(300);
    assert.equal(rx.deliveries().filter((r) => r.url === '/signed').length, 1, 'delivered once');
    // in PostgreSQL: delivered (1), one attempt
    assert.equal(await scalar(db, `SELECT status FROM deliveries WHERE id = '${d.id}'`), '1');
    assert.equal(await scalar(db, `SELECT count(*) FROM attempts WHERE delivery_id = '${d.id}'`), '1');
  });

  it('503 then 200: retried once with the same body and webhook-id, delivered', async (t) => {
    const { server, rx, key } = await fixture(t);
    const ep = await createEndpoint(server, key, { url: rx.url('/r503') });
    let n = 0;
    rx.handler = (r) => (r.url === '/r503' && ++n === 1 ? 503 : 200);
    const evt = await emit(server, key, { type: uniqueType('r503'), data: { v: 1 } });
    const reqs = await rx.waitForPath('/r503', 2);
    const d = await waitDelivery(server, key, reqs[0].headers['x-webhook-delivery']);
    assert.equal(d.status, 'delivered');
    assert.equal(d.attempt_count, 2);
    const [a, b] = reqs;
    assert.ok(a.body.equals(b.body), 'byte-identical body');
    assert.equal(a.headers['webhook-id'], evt.id);
    assert.equal(b.headers['webhook-id'], evt.id);
    assert.equal(a.headers['x-webhook-attempt'], '1');
    assert.equal(b.headers['x-webhook-attempt'], '2');
    assert.ok(b.at - a.at >= 80, `the retry waited the first delay (${b.at - a.at} ms)`);
    for (const r of reqs) {
      assert.equal(
        standardSignatures(r.headers['webhook-signature'])[0],
        signStandard(ep.secret, evt.id, r.headers['webhook-timestamp'], r.body)
      );
    }
    assert.deepEqual(
      d.attempts.map((x) => [x.n, x.response_status]),
      [
        [1, 503],
        [2, 200],
      ]
    );
    await sleep(500);
    assert.equal(rx.deliveries().filter((r) => r.url === '/r503').length, 2, 'nothing after the 200');
  });

  it('400 is not retried: failed after one attempt', async (t) => {
    const { server, rx, key } = await fixture(t);
    await createEndpoint(server, key, { url: rx.url('/r400') });
    rx.handler = (r) => (r.url === '/r400' ? { status: 400, body: 'bad' } : 200);
    await emit(server, key, { type: uniqueType('r400'), data: {} });
    const [req] = await rx.waitForPath('/r400');
    const d = await waitDelivery(server, key, req.headers['x-webhook-delivery']);
    assert.equal(d.status, 'failed');
    assert.equal(d.attempt_count, 1);
    assert.equal(d.last_response_status, 400);
    assert.equal(d.next_attempt_at, null);
    await sleep(600); // longer than the whole schedule
    assert.equal(rx.deliveries().filter((r) => r.url === '/r400').length, 1, 'no retry');
    const again = await getJson(server, key, `/v1/deliveries/${d.id}`);
    assert.equal(again.status, 'failed');
    assert.equal(again.attempts.length, 1);
    assert.equal(again.attempts[0].response_body, 'bad');
  });

  it('event-id dedupe: the same id again → 200 with the original; a burst creates exactly one', async (t) => {
    const { server, rx, key, db } = await fixture(t);
    await createEndpoint(server, key, { url: rx.url('/dedupe') });
    const type = uniqueType('dedupe');
    const id = `order-${Date.now()}`;
    const first = await emit(server, key, { type, data: { n: 1 }, id });
    assert.equal(first.id, id);
    await waitEventSettled(server, key, id, 1);
    const second = await api(server, 'POST', '/v1/events', { key, body: { type, data: { n: 2 }, id } });
    assert.equal(second.status, 200, second.text);
    assert.equal(second.json.id, id);
    assert.equal(second.json.created_at, first.created_at);
    // concurrent duplicates: one 202, the rest 200
    const id2 = `burst-${Date.now()}`;
    const all = await Promise.all(
      Array.from({ length: 8 }, () => api(server, 'POST', '/v1/events', { key, body: { type, data: {}, id: id2 } }))
    );
    assert.deepEqual(
      all.map((r) => r.status).sort(),
      [200, 200, 200, 200, 200, 200, 200, 202],
      all.map((r) => `${r.status} ${r.text}`).join('\n')
    );
    await waitEventSettled(server, key, id2, 1);
    await sleep(300);
    const reqs = rx.deliveries().filter((r) => r.url === '/dedupe');
    assert.deepEqual(reqs.map((r) => r.headers['webhook-id']).sort(), [id, id2].sort());
    assert.deepEqual(JSON.parse(reqs.find((r) => r.headers['webhook-id'] === id).text).data, { n: 1 });
    assert.equal(await scalar(db, `SELECT count(*) FROM events WHERE id IN ('${id}', '${id2}')`), '2');
    assert.equal(await scalar(db, `SELECT count(*) FROM deliveries WHERE event_id IN ('${id}', '${id2}')`), '2');
  });

  it('the delivery log: lists by event, endpoint and status; a delivery with its attempts', async (t) => {
    const { server, rx, key, org, admin } = await fixture(t);
    const ep = await createEndpoint(server, key, { url: rx.url('/log') });
    let n = 0;
    rx.handler = (r) => (r.url === '/log' && ++n <= 2 ? { status: 500, body: `no ${n}` } : 200);
    const evt = await emit(server, key, { type: uniqueType('log'), data: { x: 1 } });
    const [d0] = await waitEventSettled(server, key, evt.id, 1);
    assert.equal(d0.status, 'delivered');
    assert.equal(d0.event_id, evt.id);
    assert.equal(d0.endpoint_id, ep.id);

    const d = await getJson(server, key, `/v1/deliveries/${d0.id}`);
    assert.equal(d.attempt_count, 3);
    assert.deepEqual(
      d.attempts.map((a) => [a.n, a.response_status, a.response_body]),
      [
        [1, 500, 'no 1'],
        [2, 500, 'no 2'],
        [3, 200, null], // an empty body is logged as null
      ]
    );
    for (const a of d.attempts) {
      assert.equal(typeof a.duration_ms, 'number');
      assert.equal(a.error, null);
    }
    assert.ok(d.attempts.every((a) => a.request_headers && typeof a.request_headers === 'object'));

    const byEndpoint = await getJson(server, key, `/v1/deliveries?endpoint_id=${ep.id}`);
    assert.deepEqual(byEndpoint.data.map((x) => x.id), [d0.id]);
    const delivered = await getJson(server, key, '/v1/deliveries?status=delivered');
    assert.deepEqual(delivered.data.map((x) => x.id), [d0.id]);
    const failed = await getJson(server, key, '/v1/deliveries?status=failed');
    assert.deepEqual(failed.data, []);
    // the admin key names the org
    const asAdmin = await getJson(server, admin, `/v1/deliveries?org_id=${org.id}&event_id=${evt.id}`);
    assert.deepEqual(asAdmin.data.map((x) => x.id), [d0.id]);
    const ev = await getJson(server, key, `/v1/events/${evt.id}`);
    assert.equal(ev.id, evt.id);

    // pages: 5 more events, 2 per page, in a stable order without repeats
    for (let i = 0; i < 5; i++) await emit(server, key, { type: uniqueType('page'), data: { i } });
    const seen = [];
    let cursor = null;
    for (let guard = 0; guard < 10; guard++) {
      const page = await getJson(server, key, `/v1/deliveries?limit=2${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}`);
      seen.push(...page.data.map((x) => x.id));
      cursor = page.next_cursor;
      if (!cursor) break;
    }
    assert.equal(seen.length, 6, JSON.stringify(seen));
    assert.equal(new Set(seen).size, 6);
  });

  it('payload filters: stored in PostgreSQL, applied at fan-out, changed and removed by PATCH (issue 17)', async (t) => {
    const { server, rx, db, key } = await fixture(t);
    const filter = { 'data.amount': { $gte: 100 }, 'data.currency': { $in: ['EUR', 'USD'] } };
    const picky = await createEndpoint(server, key, { url: rx.url('/picky'), filter });
    const all = await createEndpoint(server, key, { url: rx.url('/all') });
    assert.deepEqual(JSON.parse(await scalar(db, `SELECT filter FROM endpoints WHERE id = '${picky.id}'`)), filter);
    assert.equal(await scalar(db, `SELECT coalesce(filter, 'none') FROM endpoints WHERE id = '${all.id}'`), 'none');
    const type = uniqueType('pgflt');
    const yes = await emit(server, key, { type, data: { amount: 150, currency: 'EUR' } });
    const no = await emit(server, key, { type, data: { amount: 150, currency: 'GBP' } });
    assert.equal(yes.deliveries, 2);
    assert.equal(no.deliveries, 1);
    assert.deepEqual((await waitEventSettled(server, key, yes.id, 2)).map((d) => d.endpoint_id).sort(), [picky.id, all.id].sort());
    assert.deepEqual((await waitEventSettled(server, key, no.id, 1)).map((d) => d.endpoint_id), [all.id]);
    const bad = await api(server, 'PATCH', `/v1/endpoints/${picky.id}`, { key, body: { filter: { 'data.amount': { $gte: [] } } } });
    assert.equal(bad.status, 400, bad.text);
    assert.equal(bad.json.field, 'filter');
    const patched = await api(server, 'PATCH', `/v1/endpoints/${picky.id}`, { key, body: { filter: { 'data.currency': 'GBP' } } });
    assert.equal(patched.status, 200, patched.text);
    assert.equal((await emit(server, key, { type, data: { currency: 'GBP' } })).deliveries, 2);
    const removed = await api(server, 'PATCH', `/v1/endpoints/${picky.id}`, { key, body: { filter: null } });
    assert.equal(removed.json.filter, null);
    assert.equal(await scalar(db, `SELECT coalesce(filter, 'none') FROM endpoints WHERE id = '${picky.id}'`), 'none');
    assert.equal((await emit(server, key, { type, data: {} })).deliveries, 2);
    await rx.waitForPath('/picky', 3);
  });

  it('a restart on the same database keeps orgs, keys, endpoints, events and deliveries; queued work is delivered', async (t) => {
    const db = await pg.newDatabase();
    const adminKey = randomAdminKey();
    const rx = await startReceiver();
    const servers = [];
    t.after(async () => {
      await rx.close();
      for (const s of servers) await s.cleanup();
    });
    const start = async () => {
      const s = await startHookd({ db, adminKey, args: [...BASE_ARGS, '--lease', '3s', '--retry-schedule', '300ms,300ms,300ms'] });
      servers.push(s);
      return s;
    };

    const first = await start();
    const { org, keyObj, key } = await createOrgWithKey(first);
    const ep = await createEndpoint(first, key, { url: rx.url('/restart') });
    const done = await emit(first, key, { type: uniqueType('before'), data: { n: 1 } });
    const [d1] = await waitEventSettled(first, key, done.id, 1);
    // a delivery still being retried when the server stops
    rx.handler = (r) => (r.url === '/restart' && JSON.parse(r.text).data.n === 2 ? 503 : 200);
    const queued = await emit(first, key, { type: uniqueType('queued'), data: { n: 2 } });
    await rx.waitFor((l) => l.some((r) => r.headers['webhook-id'] === queued.id), { what: 'the first attempt' });
    const stopped = await stopChecked(first);
    assert.equal(stopped.code, 0, first.stderr.slice(-2000));
    // a clean stop leaves no claim and no heartbeat behind
    assert.equal(await pg.query(db, 'SELECT count(*) FROM nodes').then((r) => r[0][0]), '0');
    assert.equal(
      await pg.query(db, 'SELECT count(*) FROM deliveries WHERE node_id IS NOT NULL AND status = 0').then((r) => r[0][0]),
      '0'
    );
    rx.handler = null;

    const second = await start();
    assert.notEqual(second.port, null);
    const gotOrg = await getJson(second, adminKey, `/v1/orgs/${org.id}`);
    assert.equal(gotOrg.name, org.name);
    const keys = await getJson(second, adminKey, `/v1/orgs/${org.id}/api-keys`);
    assert.ok(keys.data.some((k) => k.id === keyObj.id));
    const gotEp = await getJson(second, key, `/v1/endpoints/${ep.id}`); // the key still works
    assert.equal(gotEp.url, rx.url('/restart'));
    const gotD1 = await getJson(second, key, `/v1/deliveries/${d1.id}`);
    assert.equal(gotD1.status, 'delivered');
    assert.equal(gotD1.attempts.length, 1);
    assert.equal((await getJson(second, key, `/v1/events/${done.id}`)).id, done.id);
    // the queued delivery is taken up by the new process
    const [dq] = await waitEventSettled(second, key, queued.id, 1, { timeoutMs: 15000 });
    assert.equal(dq.status, 'delivered');
    assert.ok(dq.attempt_count >= 2, `attempts ${dq.attempt_count}`);
    // and new work flows
    const after = await emit(second, key, { type: uniqueType('after'), data: { n: 3 } });
    const [d3] = await waitEventSettled(second, key, after.id, 1);
    assert.equal(d3.status, 'delivered');
    assert.equal(rx.deliveries().filter((r) => r.headers['webhook-id'] === done.id).length, 1, 'no redelivery');
  });

  it('an ed25519 endpoint (issue 17): its key pair kept in PostgreSQL, v1a deliveries Node verifies, both keys during a rotation', async (t) => {
    const { server, rx, key, db } = await fixture(t);
    const ep = await createEndpoint(server, key, { url: rx.url('/ed'), signature_scheme: 'ed25519' });
    assert.match(ep.public_key, /^whpk_[A-Za-z0-9+/]{43}=$/);
    assert.equal(ep.secret, undefined);
    // stored: the scheme and the secret key (whsk_), which the API never shows
    assert.equal(await scalar(db, `SELECT signature_scheme FROM endpoints WHERE id = '${ep.id}'`), 'ed25519');
    assert.match(await scalar(db, `SELECT secret FROM endpoints WHERE id = '${ep.id}'`), /^whsk_/);
    const evt = await emit(server, key, { type: uniqueType('edpg'), data: { n: 1 } });
    const [req] = await rx.waitForPath('/ed');
    const [sig] = standardSignatures(req.headers['webhook-signature']);
    assert.match(sig, /^v1a,/);
    assert.ok(verifies(ep.public_key, req, sig));
    assert.equal((await waitEventSettled(server, key, evt.id, 1))[0].status, 'delivered');

    const rot = await api(server, 'POST', `/v1/endpoints/${ep.id}/rotate-secret`, { key, body: { grace_seconds: 600 } });
    assert.equal(rot.status, 200, rot.text);
    assert.equal(rot.json.previous_public_key, ep.public_key);
    await emit(server, key, { type: uniqueType('edpg'), data: { n: 2 } });
    const list = await rx.waitForPath('/ed', 2);
    const sigs = standardSignatures(list[1].headers['webhook-signature']);
    assert.equal(sigs.length, 2, list[1].headers['webhook-signature']);
    assert.ok(verifies(rot.json.public_key, list[1], sigs[0]), 'the new key');
    assert.ok(verifies(ep.public_key, list[1], sigs[1]), 'the old key');
    assert.equal(verifies(ep.public_key, list[1], sigs[0]), false);
  });
});

describe('hookd backup on PostgreSQL (issue 15)', () => {
  it('is refused with the tool to use instead, and writes nothing', async () => {
    const { runHookd, makeTempDir, removeTempDir } = require('../e2e/lib/hookd');
    const db = await pg.newDatabase();
    const dir = makeTempDir();
    try {
      const out = require('node:path').join(dir, 'copy.db');
      const r = runHookd(['backup', '--db', db, out], { cwd: dir });
      assert.equal(r.code, 1, r.stderr);
      assert.match(r.stderr, /pg_dump/);
      assert.ok(!require('node:fs').existsSync(out));
    } finally {
      removeTempDir(dir);
    }
  });
});

describe('GET /metrics on PostgreSQL (issue 15)', () => {
  it('reads the queue from the shared store and passes promtool', async (t) => {
    const { spawnSync } = require('node:child_process');
    const db = await pg.newDatabase();
    const server = await startHookd({ db, args: ['--role', 'api', '--allow-http', '--allow-private', '--no-ping'] });
    t.after(() => server.cleanup());
    const { key } = await createOrgWithKey(server, ['events', 'webhooks']);
    await createEndpoint(server, key, { url: 'http://127.0.0.1:9/none' });
    for (let i = 0; i < 4; i++) await emit(server, key, { type: 'a.b', data: {} });
    const res = await checkResponse('GET', '/metrics', await fetch(`${server.url}/metrics`));
    assert.equal(res.status, 200);
    const text = res.text;
    const check = spawnSync('promtool', ['check', 'metrics'], { input: text, encoding: 'utf8' });
    assert.equal(check.status, 0, check.stdout + check.stderr);
    assert.match(text, /^hookd_queue_depth 4$/m);
    assert.match(text, /^hookd_store_ready 1$/m);
    assert.match(text, /^hookd_events_accepted_total 4$/m);
  });
});

describe('retention on PostgreSQL (issue 15)', () => {
  it('purges old history with its attempts, and keeps the event a pending delivery waits on', async (t) => {
    const db = await pg.newDatabase();
    const rx = await startReceiver();
    t.after(() => rx.close());
    const args = [...BASE_ARGS, '--retry-schedule', '1h'];
    let server = await startHookd({ db, args });
    const { key } = await createOrgWithKey(server);
    await createEndpoint(server, key, { url: rx.url('/ok') });
    const done = await emit(server, key, { type: uniqueType('r'), data: {} });
    const [d] = await waitEventSettled(server, key, done.id, 1);
    rx.handler = () => ({ status: 503 });
    const waiting = await emit(server, key, { type: uniqueType('r'), data: {} });
    await rx.waitFor((r) => r.length >= 2);
    await server.stop();
    await pg.query(db, `UPDATE events SET created_at = created_at - ${40 * 86400000}`);
    await pg.query(db, `UPDATE deliveries SET created_at = created_at - ${40 * 86400000}`);
    server = await startHookd({ db, args, adminKey: server.adminKey });
    t.after(() => server.cleanup());
    for (let i = 0; i < 200 && (await api(server, 'GET', `/v1/events/${done.id}`, { key })).status !== 404; i++)
      await sleep(50);
    assert.equal((await api(server, 'GET', `/v1/events/${done.id}`, { key })).status, 404);
    assert.equal(await scalar(db, `SELECT count(*) FROM attempts WHERE delivery_id = '${d.id}'`), '0');
    assert.equal((await api(server, 'GET', `/v1/events/${waiting.id}`, { key })).status, 200);
  });
});

describe('operational webhooks on PostgreSQL (issue 15)', () => {
  it('an exhausted delivery, the disable it causes and a failing source are told to the operational URL', async (t) => {
    const { Webhook } = require('standardwebhooks');
    const { server, rx, key } = await fixture(t, [...BASE_ARGS, '--no-ping', '--retry-schedule', '50ms', '--disable-after', '1']);
    const patched = await api(server, 'PATCH', '/v1/org', { key, body: { operational_webhook_url: rx.url('/ops') } });
    assert.equal(patched.status, 200, patched.text);
    const wh = new Webhook(patched.json.operational_webhook_secret);
    const told = () => rx.deliveries().filter((r) => r.url === '/ops').map((r) => wh.verify(r.text, r.headers));
    rx.handler = (req) => ({ status: req.url === '/ops' ? 200 : 500 });
    const ep = await createEndpoint(server, key, { url: rx.url('/hook') });
    const evt = await emit(server, key, { type: uniqueType('op'), data: {} });
    await rx.waitFor(() => told().length === 2, { what: 'exhausted and disabled' });
    const byType = Object.fromEntries(told().map((n) => [n.type, n.data]));
    assert.equal(byType['delivery.exhausted'].event_id, evt.id);
    assert.deepEqual([byType['endpoint.disabled'].endpoint_id, byType['endpoint.disabled'].reason], [ep.id, 'consecutive_failures']);

    const crypto = require('node:crypto');
    const src = (await api(server, 'POST', '/v1/sources', { key, body: { name: 'gh', verification: { scheme: 'github' }, secret: 's' } })).json;
    for (let i = 0; i < 5; i++) {
      const body = JSON.stringify({ i });
      const sig = crypto.createHmac('sha256', 'wrong').update(body).digest('hex');
      const res = await fetch(`${server.url}/in/${src.id}`, { method: 'POST', headers: { 'Content-Type': 'application/json', 'X-Hub-Signature-256': `sha256=${sig}` }, body });
      assert.equal(res.status, 401);
    }
    await rx.waitFor(() => told().some((n) => n.type === 'source.failing'), { what: 'source.failing' });
    assert.equal(told().find((n) => n.type === 'source.failing').data.rejected_in_row, 5);
    const list = await getJson(server, key, '/v1/endpoints');
    assert.deepEqual(list.data.map((e) => e.id), [ep.id], 'the operational endpoint is kept out of the list');
  });
});

describe('customer portal sessions on PostgreSQL (issue 16)', () => {
  it('mints, exchanges once, scopes to the org and given endpoints, expires and revokes', async (t) => {
    const { server, rx, org, key } = await fixture(t, [...BASE_ARGS, '--no-ping']);
    const a = await createEndpoint(server, key, { url: rx.url('/a') });
    await createEndpoint(server, key, { url: rx.url('/b') });
    const mint = async (body) => {
      const res = await api(server, 'POST', `/v1/orgs/${org.id}/portal-sessions`, { key, body });
      assert.equal(res.status, 201, res.text);
      return res.json;
    };
    const link = await mint({ endpoint_ids: [a.id], read_only: true });
    const ex = await api(server, 'POST', '/v1/portal/exchange', { body: { token: link.token } });
    assert.equal(ex.status, 200, ex.text);
    assert.equal((await api(server, 'POST', '/v1/portal/exchange', { body: { token: link.token } })).status, 401);
    const list = await api(server, 'GET', '/v1/endpoints', { key: ex.json.session });
    assert.deepEqual(list.json.data.map((e) => e.id), [a.id]);
    assert.equal((await api(server, 'PATCH', `/v1/endpoints/${a.id}`, { key: ex.json.session, body: { name: 'x' } })).status, 403);
    const quick = await mint({ expires_in: 1 });
    const qs = await api(server, 'POST', '/v1/portal/exchange', { body: { token: quick.token } });
    assert.equal(qs.status, 200, qs.text);
    await sleep(1200);
    assert.equal((await api(server, 'GET', '/v1/endpoints', { key: qs.json.session })).status, 401);
    assert.equal((await api(server, 'DELETE', `/v1/portal-sessions/${link.id}`, { key })).status, 200);
    assert.equal((await api(server, 'GET', '/v1/endpoints', { key: ex.json.session })).status, 401);
  });
});

describe('per-endpoint policy on PostgreSQL (issue 17)', () => {
  it("an endpoint's own retry_schedule and disable_after are kept and used", async (t) => {
    const { server, rx, key } = await fixture(t, [...BASE_ARGS, '--no-ping', '--retry-schedule', '30s', '--disable-after', '50']);
    rx.script = [];
    rx.fallback = 503;
    const ep = await createEndpoint(server, key, { url: rx.url('/own'), retry_schedule: '20ms,20ms', disable_after: 1 });
    assert.deepEqual([ep.retry_schedule, ep.disable_after], ['20ms,20ms', 1]);
    const evt = await emit(server, key, { type: uniqueType('pol'), data: {} });
    const [d] = await waitEventSettled(server, key, evt.id, 1);
    assert.equal(d.status, 'exhausted');
    assert.equal(d.attempt_count, 3);
    const after = await getJson(server, key, `/v1/endpoints/${ep.id}`);
    assert.equal(after.is_active, false, 'disabled at its own threshold of 1');
  });
});

describe('pull delivery on PostgreSQL (issue 17)', () => {
  it('a poll endpoint hands out its envelopes in order and a cursor acknowledges them', async (t) => {
    const { server, key } = await fixture(t, [...BASE_ARGS, '--no-ping']);
    const created = await api(server, 'POST', '/v1/endpoints', { key, body: { kind: 'poll' } });
    assert.equal(created.status, 201, created.text);
    const ep = created.json;
    const sent = [];
    for (let i = 0; i < 4; i++) sent.push((await emit(server, key, { type: uniqueType('poll'), data: { i } })).id);
    const read = async (cursor) => {
      const res = await api(server, 'GET', `/v1/endpoints/${ep.id}/poll?limit=3${cursor ? `&cursor=${cursor}` : ''}`, { key: ep.poll_token });
      assert.equal(res.status, 200, res.text);
      return res.json;
    };
    const first = await read();
    assert.deepEqual(first.data.map((e) => e.id), sent.slice(0, 3));
    const second = await read(first.next_cursor);
    assert.deepEqual(second.data.map((e) => e.id), sent.slice(3));
    const done = await read(second.next_cursor);
    assert.deepEqual(done.data, []);
    const [d] = await waitEventSettled(server, key, sent[0], 1);
    assert.equal(d.status, 'delivered');
  });
});

describe('FIFO ordering on PostgreSQL (issue 17, one node)', () => {
  it('each key arrives in order through failures', async (t) => {
    const { server, rx, key } = await fixture(t, [...BASE_ARGS, '--no-ping', '--retry-schedule', '20ms,20ms,20ms,20ms,20ms,20ms']);
    let calls = 0;
    const got = [];
    rx.handler = (req) => {
      const ev = JSON.parse(req.text);
      if (++calls % 3 === 0) return { status: 503 };
      got.push(`${ev.data.key}${ev.data.n}`);
      return { status: 200 };
    };
    const ep = await createEndpoint(server, key, { url: rx.url('/fifo'), ordering: 'fifo' });
    for (let n = 0; n < 5; n++)
      for (const k of ['a', 'b']) await emit(server, key, { type: uniqueType('fifo'), ordering_key: k, data: { key: k, n } });
    await rx.waitFor(() => got.length === 10, { what: 'ten deliveries', timeoutMs: 20000 });
    for (const k of ['a', 'b']) assert.deepEqual(got.filter((g) => g[0] === k), [0, 1, 2, 3, 4].map((n) => `${k}${n}`));
    assert.equal(ep.ordering, 'fifo');
  });
});
