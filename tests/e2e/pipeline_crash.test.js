'use strict';
// §4.5 durability and crash safety: an acknowledged event is never lost, neither across a
// `kill -9` (at-least-once: duplicates allowed and counted, gaps never) nor across a SIGTERM
// (in-flight attempts finish, the rest is taken up by the next start, exit code 0).

const { describe, it } = require('node:test');
const assert = require('node:assert/strict');
const {
  startHookd,
  api,
  createOrgWithKey,
  makeTempDir,
  removeTempDir,
  randomAdminKey,
  assertNoSanitizerReport,
  sleep,
} = require('./lib/hookd');
const { BASE_ARGS, startReceiver, createEndpoint, uniqueType, pollJson } = require('./lib/pipeline');

const ARGS = [...BASE_ARGS, '--retry-schedule', '100ms,200ms,300ms'];

// A temp dir and the servers started in it (all on one database file), cleaned up after.
function scratch(t) {
  const dir = makeTempDir();
  const adminKey = randomAdminKey();
  const servers = [];
  const receivers = [];
  t.after(async () => {
    for (const r of receivers) await r.close();
    for (const s of servers) await s.stop('SIGKILL');
    removeTempDir(dir);
    for (const s of servers) assertNoSanitizerReport(s);
  });
  return {
    start: async () => {
      const s = await startHookd({ dir, adminKey, args: ARGS });
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

// Emits n events with at most `parallel` requests at a time; every one must be acknowledged.
async function emitMany(server, key, type, n, parallel = 20) {
  const ids = new Array(n);
  let next = 0;
  async function worker() {
    while (next < n) {
      const i = next++;
      const res = await api(server, 'POST', '/v1/events', { key, body: { type, data: { i } } });
      assert.equal(res.status, 202, `event ${i}: ${res.status} ${res.text}`);
      assert.equal(res.json.deliveries, 1);
      ids[i] = res.json.id;
    }
  }
  await Promise.all(Array.from({ length: parallel }, worker));
  return ids;
}

// How many times the receiver saw each event id (by webhook-id).
function seenCounts(rx) {
  const seen = new Map();
  for (const r of rx.deliveries()) {
    const id = r.headers['webhook-id'];
    seen.set(id, (seen.get(id) || 0) + 1);
  }
  return seen;
}

function report(t, what, ids, seen) {
  const dups = ids.filter((id) => (seen.get(id) || 0) > 1);
  const extra = dups.reduce((s, id) => s + seen.get(id) - 1, 0);
  const msg = `${what}: ${ids.length} events, ${ids.filter((id) => seen.has(id)).length} reached the receiver, ${dups.length} of them more than once (${extra} duplicate requests)`;
  t.diagnostic(msg);
  return { dups, extra };
}

describe('pipeline: crash safety', () => {
  it('kill -9 with 200 acknowledged events queued: after a restart every event reaches the receiver', async (t) => {
    const { start, receiver } = scratch(t);
    const rx = await receiver();
    rx.handler = () => ({ status: 200, delayMs: 200 }); // slow: 5 in flight → ~25/s
    const first = await start();
    const { key } = await createOrgWithKey(first);
    const ep = await createEndpoint(first, key, { url: rx.url('/crash'), max_in_flight: 5 });
    const type = uniqueType('crash');
    const ids = await emitMany(first, key, type, 200);
    assert.equal(new Set(ids).size, 200);
    const beforeKill = seenCounts(rx).size;
    assert.ok(rx.maxInFlight <= 5, `max_in_flight 5 respected (saw ${rx.maxInFlight})`);
    await first.kill();
    assert.equal(first.exitSignal, 'SIGKILL');
    t.diagnostic(`${beforeKill} events had reached the receiver before kill -9`);
    assert.ok(beforeKill < 200, 'some deliveries were still queued when hookd was killed');

    rx.handler = () => ({ status: 200, delayMs: 20 });
    const second = await start();
    // every acknowledged event arrives (at least once)
    await rx.waitFor(
      () => {
        const seen = seenCounts(rx);
        return ids.every((id) => seen.has(id));
      },
      { timeoutMs: 30000, what: 'every acknowledged event after the restart' }
    ).catch((err) => {
      const seen = seenCounts(rx);
      const missing = ids.filter((id) => !seen.has(id));
      throw new Error(`${missing.length} acknowledged events never arrived (e.g. ${missing.slice(0, 3).join(', ')}): ${err.message.slice(0, 300)}`);
    });
    report(t, 'kill -9', ids, seenCounts(rx));
    // and the log says so: 200 delivered deliveries, none left behind
    const done = await pollJson(
      second,
      key,
      `/v1/endpoints/${ep.id}/deliveries?status=delivered&limit=250`,
      (j) => j.data.length === 200,
      { what: '200 delivered deliveries', timeoutMs: 10000 }
    );
    assert.deepEqual(done.data.map((d) => d.event_id).sort(), [...ids].sort());
    for (const st of ['pending', 'in_flight', 'failed', 'exhausted']) {
      const j = await api(second, 'GET', `/v1/deliveries?status=${st}`, { key });
      assert.deepEqual(j.json.data, [], `no ${st} deliveries left`);
    }
    // no event id arrives that was not acknowledged
    const known = new Set(ids);
    for (const r of rx.deliveries()) assert.ok(known.has(r.headers['webhook-id']), r.headers['webhook-id']);
  });

  it('SIGTERM with deliveries in flight: in-flight attempts finish, exit 0, the rest is delivered after a restart', async (t) => {
    const { start, receiver } = scratch(t);
    const rx = await receiver();
    rx.handler = () => ({ status: 200, delayMs: 400 });
    const first = await start();
    const { key } = await createOrgWithKey(first);
    const ep = await createEndpoint(first, key, { url: rx.url('/term'), max_in_flight: 5 });
    const type = uniqueType('term');
    const ids = await emitMany(first, key, type, 60);
    await rx.waitFor(() => rx.inFlight >= 5, { what: '5 requests in flight' });
    const inFlight = rx.deliveries().filter((r) => r.answer && !r.answeredAt).map((r) => r.headers['x-webhook-delivery']);
    const t0 = Date.now();
    const stopping = first.stop('SIGTERM');
    // during the grace the listener still answers: /readyz says 503 (load balancers take the
    // node out) and a new request gets 503 unavailable, never a refused connection
    let ready = null;
    for (let i = 0; i < 100; i++) {
      ready = await api(first, 'GET', '/readyz').catch(() => null);
      if (ready === null || ready.status === 503) break;
      await sleep(10);
    }
    assert.ok(ready !== null, 'the listener answers during the grace');
    assert.equal(ready.status, 503, ready.text);
    const late = await api(first, 'POST', '/v1/events', { key, body: { type, data: { late: true } } }).catch(
      () => null
    );
    assert.ok(late !== null, 'a request during the grace is answered, not refused');
    assert.equal(late.status, 503, late.text);
    assert.equal(late.json.error, 'unavailable');
    const { code, signal } = await stopping;
    const took = Date.now() - t0;
    assert.equal(signal, null, first.stderr.slice(-2000));
    assert.equal(code, 0, first.stderr.slice(-2000));
    assert.ok(took < 12000, `stopped within the 10 s grace (${took} ms)`);
    t.diagnostic(`SIGTERM took ${took} ms; ${seenCounts(rx).size} events had arrived; late POST: ${late.status}`);

    rx.handler = () => ({ status: 200, delayMs: 10 });
    const second = await start();
    // the attempts in flight at SIGTERM were allowed to finish and their outcome was kept
    for (const id of inFlight) {
      const d = await api(second, 'GET', `/v1/deliveries/${id}`, { key });
      assert.equal(d.status, 200, d.text);
      assert.equal(d.json.status, 'delivered', `in flight at SIGTERM: ${d.text.slice(0, 400)}`);
      assert.equal(d.json.attempt_count, 1);
    }
    await rx.waitFor(
      () => {
        const seen = seenCounts(rx);
        return ids.every((id) => seen.has(id));
      },
      { timeoutMs: 20000, what: 'every acknowledged event after the restart' }
    );
    const { dups } = report(t, 'SIGTERM', ids, seenCounts(rx));
    await pollJson(
      second,
      key,
      `/v1/endpoints/${ep.id}/deliveries?status=delivered&limit=250`,
      (j) => j.data.length === ids.length,
      { what: `${ids.length} delivered deliveries`, timeoutMs: 10000 }
    );
    assert.deepEqual(dups, [], 'a clean stop delivers nothing twice');
  });

  it('after SIGTERM the API stops accepting events while in-flight attempts drain', async (t) => {
    const { start, receiver } = scratch(t);
    const rx = await receiver();
    rx.handler = () => ({ status: 200, delayMs: 1500 });
    const server = await start();
    const { key } = await createOrgWithKey(server);
    await createEndpoint(server, key, { url: rx.url('/drain'), max_in_flight: 2 });
    const type = uniqueType('drain');
    const ids = await emitMany(server, key, type, 4, 1);
    await rx.waitFor(() => rx.inFlight >= 2, { what: '2 requests in flight' });
    const stopping = server.stop('SIGTERM');
    const deadline = Date.now() + 3000;
    while (!server.logs().some((l) => l.msg === 'stopping') && Date.now() < deadline) await sleep(10);
    await sleep(100); // well after the signal was taken in; the attempts still run for ~1.4 s
    assert.equal(server.exitCode, undefined, 'still draining');
    const late = await api(server, 'POST', '/v1/events', { key, body: { type, data: { late: true } } }).catch(
      (err) => ({ status: null, text: err.cause?.code || err.message })
    );
    const { code } = await stopping;
    assert.equal(code, 0);
    assert.ok(
      late.status === null || late.status === 503,
      `a POST /v1/events 100 ms after SIGTERM, while hookd drains, got ${late.status} ${late.text}`
    );
    // whatever happened, nothing acknowledged is lost
    if (late.status === 202) ids.push(late.json.id);
    rx.handler = null;
    await start();
    await rx.waitFor(() => ids.every((id) => seenCounts(rx).has(id)), { what: 'every acknowledged event' });
  });
});
