'use strict';
// §4.2 isolation and fairness: a saturated endpoint costs its own slots only (no head-of-line
// blocking), max_in_flight and rate_limit hold per endpoint, --max-connections holds globally.

const { describe, it } = require('node:test');
const assert = require('node:assert/strict');
const { api, createOrgWithKey, sleep } = require('./lib/hookd');
const { pipelineFixture, startReceiver, createEndpoint, uniqueType, pollJson, emitAll, endpointDeliveries } = require(
  './lib/pipeline'
);



async function waitAllDelivered(server, key, epId, n, timeoutMs) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const ds = await endpointDeliveries(server, key, epId);
    const done = ds.filter((d) => d.status === 'delivered');
    if (ds.length === n && done.length === n) return ds;
    if (Date.now() > deadline) {
      const by = {};
      for (const d of ds) by[d.status] = (by[d.status] || 0) + 1;
      throw new Error(`timed out after ${timeoutMs} ms: ${ds.length}/${n} deliveries, by status ${JSON.stringify(by)}`);
    }
    await sleep(50);
  }
}

function percentile(sorted, p) {
  if (sorted.length === 0) return NaN;
  const i = Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1);
  return sorted[Math.max(0, i)];
}

// The largest number of [start, end) intervals open at once.
function maxOverlap(intervals) {
  const points = [];
  for (const [s, e] of intervals) {
    points.push([s, 1]);
    points.push([e, -1]);
  }
  points.sort((a, b) => a[0] - b[0] || a[1] - b[1]); // ends before starts at the same instant
  let cur = 0;
  let max = 0;
  for (const [, d] of points) {
    cur += d;
    max = Math.max(max, cur);
  }
  return max;
}

describe('isolation (§4.2)', { timeout: 60000 }, () => {
  it('a saturated endpoint does not delay another: 200 fast deliveries complete while 50 slow ones are held', async (t) => {
    const SLOW_MIF = 5;
    const SLOW_N = 50;
    const FAST_N = 200;
    const HOLD_MS = 10000;
    const fx = await pipelineFixture(null);
    const { server, key } = fx;
    let release;
    const released = new Promise((r) => (release = r));
    let releasedAt = null;
    const slow = await startReceiver({
      handler: () => ({ status: 200, delayMs: HOLD_MS, releaseOn: released }),
    });
    const fast = await startReceiver();
    t.after(async () => {
      release();
      await slow.close();
      await fast.close();
      await fx.cleanup();
    });
    const slowEp = await createEndpoint(server, key, { url: slow.url('/slow'), max_in_flight: SLOW_MIF, timeout_seconds: 30 });
    const fastEp = await createEndpoint(server, key, { url: fast.url('/fast'), max_in_flight: 10 });
    const type = uniqueType('iso');

    // the slow endpoint's 50 first, so that they are queued ahead of the fast ones
    await emitAll(
      server,
      key,
      Array.from({ length: SLOW_N }, (_, i) => ({ type, data: { slow: i }, endpoint_ids: [slowEp.id] }))
    );
    await slow.waitFor((l) => l.length >= SLOW_MIF, { what: `${SLOW_MIF} held requests at the slow receiver` });
    const t0 = Date.now();
    await emitAll(
      server,
      key,
      Array.from({ length: FAST_N }, (_, i) => ({ type, data: { fast: i }, endpoint_ids: [fastEp.id] }))
    );
    const fastDs = await waitAllDelivered(server, key, fastEp.id, FAST_N, HOLD_MS - 1000);
    const fastDoneAt = Date.now();

    // the slow receiver is still saturated and has not answered anything
    const slowAnswered = slow.deliveries().filter((r) => r.answeredAt !== undefined);
    assert.equal(slowAnswered.length, 0, 'the slow receiver answered before every fast delivery was done');
    assert.equal(slow.inFlight, SLOW_MIF, `the slow endpoint kept its ${SLOW_MIF} slots busy meanwhile`);
    assert.equal(slow.deliveries().length, SLOW_MIF, 'and no more than max_in_flight were sent to it');
    const firstSlowAt = Math.min(...slow.deliveries().map((r) => r.at));
    for (const d of fastDs) {
      assert.ok(Date.parse(d.delivered_at) <= fastDoneAt, `${d.id} delivered_at ${d.delivered_at}`);
    }
    assert.equal(fast.deliveries().length, FAST_N, 'each fast delivery sent once');

    // accept → delivered latency of the fast endpoint, from the deliveries API
    const lat = fastDs.map((d) => Date.parse(d.delivered_at) - Date.parse(d.created_at)).sort((a, b) => a - b);
    const p50 = percentile(lat, 50);
    const p99 = percentile(lat, 99);
    t.diagnostic(
      `fast endpoint with the slow one saturated (${SLOW_MIF} held, ${SLOW_N - SLOW_MIF} queued): ` +
        `${FAST_N} deliveries in ${fastDoneAt - t0} ms, accept→delivered p50 ${p50} ms, p99 ${p99} ms, max ${lat.at(-1)} ms`
    );
    assert.ok(p99 < 2000, `fast p99 ${p99} ms`);
    assert.ok(fastDoneAt - firstSlowAt < HOLD_MS, 'done before the slow receiver would answer its first request');

    // release: the 50 slow ones complete, never more than max_in_flight at once
    releasedAt = Date.now();
    release();
    await waitAllDelivered(server, key, slowEp.id, SLOW_N, 15000);
    assert.ok(slow.maxInFlight <= SLOW_MIF, `max_in_flight ${SLOW_MIF} exceeded: ${slow.maxInFlight}`);
    assert.equal(slow.maxInFlight, SLOW_MIF);
    assert.equal(slow.deliveries().length, SLOW_N, 'each slow delivery sent once');
    assert.ok(
      slow.deliveries().every((r) => r.answeredAt >= releasedAt),
      'no slow request answered before the release'
    );
  });

  it('a dead endpoint (connections that never answer) does not delay another either', async (t) => {
    const fx = await pipelineFixture(null);
    const { server, key } = fx;
    const dead = await startReceiver({ handler: () => ({ hang: true }) });
    const fast = await startReceiver();
    t.after(async () => {
      await dead.close();
      await fast.close();
      await fx.cleanup();
    });
    const deadEp = await createEndpoint(server, key, { url: dead.url('/dead'), max_in_flight: 3, timeout_seconds: 20 });
    const fastEp = await createEndpoint(server, key, { url: fast.url('/fast2') });
    const type = uniqueType('iso_dead');
    await emitAll(server, key, Array.from({ length: 20 }, () => ({ type, data: {}, endpoint_ids: [deadEp.id] })));
    await dead.waitFor((l) => l.length >= 3, { what: '3 hanging requests' });
    await emitAll(server, key, Array.from({ length: 50 }, () => ({ type, data: {}, endpoint_ids: [fastEp.id] })));
    const ds = await waitAllDelivered(server, key, fastEp.id, 50, 5000);
    const lat = ds.map((d) => Date.parse(d.delivered_at) - Date.parse(d.created_at)).sort((a, b) => a - b);
    t.diagnostic(`fast endpoint beside a dead one: p99 ${percentile(lat, 99)} ms`);
    assert.equal(dead.deliveries().length, 3, 'the dead endpoint got only its max_in_flight');
  });

  it('rate_limit 5/s: over any window the receiver sees at most rate × window + burst', async (t) => {
    const RATE = 5;
    const BURST = Math.max(RATE, 1);
    const N = 30;
    const fx = await pipelineFixture(null);
    const { server, key } = fx;
    const rx = await startReceiver();
    const rx2 = await startReceiver();
    t.after(async () => {
      await rx.close();
      await rx2.close();
      await fx.cleanup();
    });
    const ep = await createEndpoint(server, key, { url: rx.url('/rate'), rate_limit: RATE });
    assert.equal(ep.rate_limit, RATE);
    const type = uniqueType('rate');
    const t0 = Date.now();
    await emitAll(server, key, Array.from({ length: N }, (_, i) => ({ type, data: { i }, endpoint_ids: [ep.id] })), 16);
    const got = await rx.waitFor((l) => l.length >= N, { timeoutMs: 15000, what: `${N} rate-limited deliveries` });
    const at = got.map((r) => r.at).sort((a, b) => a - b);
    // every window [at[i], at[j]]: j - i + 1 arrivals in (at[j] - at[i]) ms
    // arrival jitter on a loaded machine: under ASAN the first burst has been seen to arrive
    // ~90 ms late against the next tokens; a limiter that does not hold sends all 30 at once
    const SLACK_MS = 150;
    let worst = null;
    for (let i = 0; i < at.length; i++) {
      for (let j = i; j < at.length; j++) {
        const windowS = (at[j] - at[i] + SLACK_MS) / 1000;
        const allowed = RATE * windowS + BURST;
        const count = j - i + 1;
        if (count > allowed && (!worst || count - allowed > worst.excess)) {
          worst = { count, windowMs: at[j] - at[i], allowed, excess: count - allowed };
        }
      }
    }
    const span = at.at(-1) - t0;
    t.diagnostic(`rate_limit ${RATE}/s: ${N} deliveries over ${span} ms (ideal ≥ ${((N - BURST) / RATE) * 1000} ms)`);
    assert.equal(worst, null, `rate × window + burst exceeded: ${JSON.stringify(worst)}`);
    assert.ok(span >= ((N - BURST) / RATE) * 1000 - 200, `${N} deliveries at ${RATE}/s took only ${span} ms`);
    assert.ok(span < ((N - BURST) / RATE) * 1000 + 4000, `the limit should not starve the endpoint: ${span} ms`);
    // and the limit is per endpoint: another endpoint of the same org is not slowed down
    const ep2 = await createEndpoint(server, key, { url: rx2.url('/free') });
    const t1 = Date.now();
    await emitAll(server, key, Array.from({ length: 30 }, () => ({ type, data: {}, endpoint_ids: [ep2.id] })), 16);
    await rx2.waitFor((l) => l.length >= 30, { what: '30 unlimited deliveries' });
    assert.ok(Date.now() - t1 < 3000, `an unlimited endpoint took ${Date.now() - t1} ms for 30 deliveries`);
  });

  // The cap is one budget over all delivery loops (the loops take turns on it); endpoints take
  // turns within a loop, so the order across endpoints is asserted with one loop.
  for (const threads of [1, 2]) {
  it(`--max-connections 3 over ${threads} delivery loop(s): receivers of several endpoints together never see more than 3 concurrent requests${threads === 1 ? '; no global head-of-line blocking' : ''}`, async (t) => {
    const CAP = 3;
    const fx = await pipelineFixture(null, { args: ['--max-connections', String(CAP), '--no-ping', '--delivery-threads', String(threads)] });
    const { server, key } = fx;
    const rxs = [];
    for (let i = 0; i < 3; i++) rxs.push(await startReceiver({ handler: () => ({ status: 200, delayMs: 150 }) }));
    t.after(async () => {
      for (const rx of rxs) await rx.close();
      await fx.cleanup();
    });
    // each endpoint allows far more than the global cap
    const a = await createEndpoint(server, key, { url: rxs[0].url('/capA'), max_in_flight: 10 });
    const b = await createEndpoint(server, key, { url: rxs[1].url('/capB'), max_in_flight: 10 });
    const c = await createEndpoint(server, key, { url: rxs[2].url('/capC'), max_in_flight: 10 });
    const d = await createEndpoint(server, key, { url: rxs[0].url('/capD'), max_in_flight: 10 });
    const type = uniqueType('cap');
    const N_A = 30;
    const N_SMALL = 5;
    // A's backlog first, then the small ones
    await emitAll(server, key, Array.from({ length: N_A }, (_, i) => ({ type, data: { i }, endpoint_ids: [a.id] })), 8);
    await emitAll(
      server,
      key,
      Array.from({ length: N_SMALL }, (_, i) => ({ type, data: { i }, endpoint_ids: [b.id, c.id, d.id] })),
      8
    );
    const total = N_A + 3 * N_SMALL;
    const deadline = Date.now() + 20000;
    const answered = () => rxs.reduce((n, rx) => n + rx.deliveries().filter((r) => r.answeredAt).length, 0);
    while (answered() < total) {
      if (Date.now() > deadline) throw new Error(`timed out waiting for the capped deliveries (${answered()}/${total})`);
      await sleep(50);
    }
    const all = rxs.flatMap((rx) => rx.deliveries());
    const overlap = maxOverlap(all.map((r) => [r.at, r.answeredAt]));
    t.diagnostic(`--max-connections ${CAP}: at most ${overlap} concurrent requests over ${total} deliveries`);
    assert.ok(overlap <= CAP, `the receivers saw ${overlap} concurrent requests with --max-connections ${CAP}`);
    assert.equal(overlap, CAP, 'and the cap is used');
    assert.equal(all.length, total, 'each delivery sent once');
    // the small endpoints take turns with A instead of waiting behind its backlog
    const order = all.sort((x, y) => x.at - y.at).map((r) => r.url);
    const lastSmall = Math.max(...['/capB', '/capC', '/capD'].map((u) => order.lastIndexOf(u)));
    const aBefore = order.slice(0, lastSmall).filter((u) => u === '/capA').length;
    t.diagnostic(`A deliveries sent before the small endpoints were done: ${aBefore}/${N_A}`);
    if (threads === 1)
      assert.ok(aBefore < N_A - 10, `the small endpoints waited behind A's backlog: ${aBefore} of A's ${N_A} went first`);
    await pollJson(server, key, `/v1/deliveries?status=delivered&limit=250`, (j) => j.data.length === total, {
      what: `${total} delivered`,
    });
  });
  }
});
