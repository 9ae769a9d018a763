'use strict';
// §4.1 attempts and retries: what is retried and what is not, the schedule, Retry-After,
// timeouts, redirects; §2.6 manual retry and its 409s; §2.4 replay.

const { describe, it, before, after } = require('node:test');
const assert = require('node:assert/strict');
const { api, createOrgWithKey, sleep } = require('./lib/hookd');
const {
  signStandard,
  standardSignatures,
  pipelineFixture,
  uniqueType,
  createEndpoint,
  emit,
  getJson,
  waitDelivery,
  waitEndpoint,
  waitEventSettled,
  pollJson,
  startReceiver,
} = require('./lib/pipeline');

// Three attempts: the first, then after ~100 ms, then after ~200 ms more.
const SCHEDULE = ['--retry-schedule', '100ms,200ms'];
const ATTEMPTS = 3;

describe('pipeline: retries', () => {
  let fx;
  before(async () => {
    fx = await pipelineFixture(null, { args: SCHEDULE });
  });
  after(async () => {
    await fx?.cleanup();
  });

  // A fresh org with one endpoint at rx.url(path): {key, ep}.
  async function oneEndpoint(path, extra = {}) {
    const { server, rx } = fx;
    const { key } = await createOrgWithKey(server);
    const ep = await createEndpoint(server, key, { url: rx.url(path), ...extra });
    return { key, ep };
  }

  it('503 then 200: retried with the identical body and webhook-id, a new attempt number', async () => {
    const { server, rx } = fx;
    const { key, ep } = await oneEndpoint('/r503');
    rx.handler = (r) => (r.url === '/r503' ? (rx.requests.filter((x) => x.url === '/r503' && !x.isPing).length === 1 ? 503 : 200) : 200);
    try {
      const evt = await emit(server, key, { type: uniqueType('r503'), data: { v: 1 } });
      const reqs = await rx.waitForPath('/r503', 2);
      const d = await waitDelivery(server, key, reqs[0].headers['x-webhook-delivery']);
      assert.equal(d.status, 'delivered');
      assert.equal(d.attempt_count, 2);
      assert.equal(d.last_response_status, 200);
      assert.equal(reqs.length, 2);
      const [a, b] = reqs;
      assert.ok(a.body.equals(b.body), 'byte-identical body');
      assert.equal(a.headers['webhook-id'], evt.id);
      assert.equal(b.headers['webhook-id'], evt.id);
      assert.equal(a.headers['x-webhook-delivery'], b.headers['x-webhook-delivery']);
      assert.equal(a.headers['x-webhook-attempt'], '1');
      assert.equal(b.headers['x-webhook-attempt'], '2');
      for (const r of reqs) {
        assert.equal(
          standardSignatures(r.headers['webhook-signature'])[0],
          signStandard(ep.secret, evt.id, r.headers['webhook-timestamp'], r.body)
        );
      }
      assert.ok(b.at - a.at >= 80, `the retry waited the first delay (${b.at - a.at} ms)`);
      assert.deepEqual(
        d.attempts.map((x) => [x.n, x.response_status, x.error]),
        [
          [1, 503, null],
          [2, 200, null],
        ]
      );
      for (const x of d.attempts) assert.equal(typeof x.duration_ms, 'number');
    } finally {
      rx.handler = null;
    }
  });

  it('400 is not retried: failed after one attempt, response body logged (first 1 KiB)', async () => {
    const { server, rx } = fx;
    const { key } = await oneEndpoint('/r400');
    const long = 'E'.repeat(5000);
    rx.handler = (r) => (r.url === '/r400' ? { status: 400, body: long } : 200);
    try {
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
      assert.equal(again.attempts[0].response_status, 400);
      assert.equal(again.attempts[0].response_body, 'E'.repeat(1024));
    } finally {
      rx.handler = null;
    }
  });

  it('410 Gone: failed at once and the endpoint is disabled with disabled_reason "gone"', async () => {
    const { server, rx } = fx;
    const { key, ep } = await oneEndpoint('/r410');
    rx.handler = (r) => (r.url === '/r410' ? 410 : 200);
    try {
      await emit(server, key, { type: uniqueType('r410'), data: {} });
      const [req] = await rx.waitForPath('/r410');
      const d = await waitDelivery(server, key, req.headers['x-webhook-delivery']);
      assert.equal(d.status, 'failed');
      assert.equal(d.attempt_count, 1);
      assert.equal(d.last_response_status, 410);
      const e = await waitEndpoint(server, key, ep.id, (x) => x.is_active === false);
      assert.equal(e.disabled_reason, 'gone');
      assert.ok(e.disabled_at, 'disabled_at set');
      assert.equal(e.consecutive_failures, 1, 'it counts as a failure');
      // a disabled endpoint gets nothing more
      const evt2 = await emit(server, key, { type: uniqueType('r410'), data: {} });
      assert.equal(evt2.deliveries, 0);
      await sleep(300);
      assert.equal(rx.deliveries().filter((r) => r.url === '/r410').length, 1);
    } finally {
      rx.handler = null;
    }
  });

  it('always 503: exhausted after the schedule, attempt count = delays + 1', async () => {
    const { server, rx } = fx;
    const { key } = await oneEndpoint('/rall');
    rx.handler = (r) => (r.url === '/rall' ? { status: 503, body: 'down' } : 200);
    try {
      await emit(server, key, { type: uniqueType('rall'), data: {} });
      const [req] = await rx.waitForPath('/rall');
      const d = await waitDelivery(server, key, req.headers['x-webhook-delivery']);
      assert.equal(d.status, 'exhausted');
      assert.equal(d.attempt_count, ATTEMPTS);
      assert.equal(d.last_response_status, 503);
      assert.equal(d.next_attempt_at, null);
      assert.deepEqual(
        d.attempts.map((x) => [x.n, x.response_status]),
        [
          [1, 503],
          [2, 503],
          [3, 503],
        ]
      );
      await sleep(400);
      const reqs = rx.deliveries().filter((r) => r.url === '/rall');
      assert.equal(reqs.length, ATTEMPTS, 'no attempt after exhaustion');
      assert.deepEqual(
        reqs.map((r) => r.headers['x-webhook-attempt']),
        ['1', '2', '3']
      );
      // the gaps follow the schedule (±10 % jitter, plus scheduling slack)
      assert.ok(reqs[1].at - reqs[0].at >= 80, `first gap ${reqs[1].at - reqs[0].at}`);
      assert.ok(reqs[2].at - reqs[1].at >= 170, `second gap ${reqs[2].at - reqs[1].at}`);
    } finally {
      rx.handler = null;
    }
  });

  it('408, 425, 429 and 500 are retried; 401, 403, 404, 422 are not', async () => {
    const { server, rx } = fx;
    const { key } = await createOrgWithKey(server);
    const codes = [408, 425, 429, 500, 401, 403, 404, 422];
    const eps = {};
    for (const c of codes) eps[c] = await createEndpoint(server, key, { url: rx.url(`/code${c}`) });
    const seen = {};
    rx.handler = (r) => {
      const m = /^\/code(\d+)$/.exec(r.url);
      if (!m) return 200;
      seen[m[1]] = (seen[m[1]] || 0) + 1;
      return seen[m[1]] === 1 ? Number(m[1]) : 200;
    };
    try {
      const evt = await emit(server, key, { type: uniqueType('codes'), data: {} });
      assert.equal(evt.deliveries, codes.length);
      const ds = await waitEventSettled(server, key, evt.id, codes.length);
      for (const c of codes) {
        const d = ds.find((x) => x.endpoint_id === eps[c].id);
        if ([408, 425, 429, 500].includes(c)) {
          assert.equal(d.status, 'delivered', `${c} retried`);
          assert.equal(d.attempt_count, 2, `${c}`);
        } else {
          assert.equal(d.status, 'failed', `${c} not retried`);
          assert.equal(d.attempt_count, 1, `${c}`);
          assert.equal(d.last_response_status, c);
        }
      }
    } finally {
      rx.handler = null;
    }
  });

  it('a refused connection is retried and classified; ends exhausted', async () => {
    const { server } = fx;
    const { key } = await createOrgWithKey(server);
    const dead = await startReceiver();
    const ep = await createEndpoint(server, key, { url: dead.url('/gone') });
    await dead.close(); // nothing listens there any more
    const evt = await emit(server, key, { type: uniqueType('conn'), data: {} });
    const [dl] = (await getJson(server, key, `/v1/deliveries?event_id=${evt.id}`)).data;
    const d = await waitDelivery(server, key, dl.id);
    assert.equal(d.endpoint_id, ep.id);
    assert.equal(d.status, 'exhausted');
    assert.equal(d.attempt_count, ATTEMPTS);
    assert.equal(d.last_response_status, null);
    for (const a of d.attempts) {
      assert.equal(a.response_status, null);
      assert.equal(a.error, 'connect');
    }
    assert.equal(d.last_error, 'connect');
  });

  it('timeout: an attempt longer than timeout_seconds is classified "timeout" and retried', async () => {
    const { server, rx } = fx;
    const { key } = await oneEndpoint('/slow', { timeout_seconds: 1 });
    let n = 0;
    rx.handler = (r) => {
      if (r.url !== '/slow') return 200;
      n += 1;
      return n === 1 ? { status: 200, delayMs: 2500 } : 200;
    };
    try {
      const started = Date.now();
      await emit(server, key, { type: uniqueType('slow'), data: {} });
      const [req] = await rx.waitForPath('/slow');
      const d = await waitDelivery(server, key, req.headers['x-webhook-delivery'], ['delivered', 'failed', 'exhausted'], {
        timeoutMs: 8000,
      });
      assert.equal(d.status, 'delivered');
      assert.equal(d.attempt_count, 2);
      const [a1, a2] = d.attempts;
      assert.equal(a1.error, 'timeout');
      assert.equal(a1.response_status, null);
      assert.ok(a1.duration_ms >= 900 && a1.duration_ms < 2400, `first attempt took ${a1.duration_ms} ms`);
      assert.equal(a2.response_status, 200);
      assert.ok(Date.now() - started < 2400 + 1000, 'the retry did not wait for the slow answer');
    } finally {
      rx.handler = null;
    }
  });

  it('a 302 redirect is not followed (the Location target gets nothing) and is retried', async () => {
    const { server, rx } = fx;
    const target = await startReceiver();
    try {
      const { key } = await oneEndpoint('/redir');
      rx.handler = (r) =>
        r.url === '/redir' ? { status: 302, headers: { Location: target.url('/target') } } : 200;
      await emit(server, key, { type: uniqueType('redir'), data: {} });
      const [req] = await rx.waitForPath('/redir');
      const d = await waitDelivery(server, key, req.headers['x-webhook-delivery']);
      assert.equal(d.status, 'exhausted', 'a 3xx is a failure, retried until the schedule ends');
      assert.equal(d.attempt_count, ATTEMPTS);
      assert.equal(d.last_response_status, 302);
      assert.equal(d.attempts[0].response_headers.location, target.url('/target'));
      assert.equal(rx.deliveries().filter((r) => r.url === '/redir').length, ATTEMPTS);
      assert.equal(target.requests.length, 0, 'the Location was never requested');
    } finally {
      rx.handler = null;
      await target.close();
    }
  });

  it('manual retry: 202 for failed/exhausted (attempt numbers go on), 409 for delivered and pending/in_flight', async () => {
    const { server, rx } = fx;
    const { key } = await oneEndpoint('/manual', { timeout_seconds: 5 });
    let mode = 'fail';
    rx.handler = (r) => {
      if (r.url !== '/manual') return 200;
      if (mode === 'fail') return 503;
      if (mode === 'bad') return 400;
      if (mode === 'hang') return { hang: true };
      return 200;
    };
    try {
      // exhausted → retry → delivered on attempt 4
      await emit(server, key, { type: uniqueType('manual'), data: { n: 1 } });
      const [first] = await rx.waitForPath('/manual');
      const id = first.headers['x-webhook-delivery'];
      let d = await waitDelivery(server, key, id);
      assert.equal(d.status, 'exhausted');
      mode = 'ok';
      const r = await api(server, 'POST', `/v1/deliveries/${id}/retry`, { key, body: {} });
      assert.equal(r.status, 202, r.text);
      d = await waitDelivery(server, key, id, 'delivered');
      assert.equal(d.attempt_count, ATTEMPTS + 1);
      const reqs = rx.deliveries().filter((x) => x.headers['x-webhook-delivery'] === id);
      assert.equal(reqs.at(-1).headers['x-webhook-attempt'], String(ATTEMPTS + 1));
      assert.ok(reqs.at(-1).body.equals(reqs[0].body), 'same bytes on the manual retry');
      assert.deepEqual(
        d.attempts.map((x) => x.n),
        [1, 2, 3, 4]
      );
      // delivered → 409
      const again = await api(server, 'POST', `/v1/deliveries/${id}/retry`, { key, body: {} });
      assert.equal(again.status, 409, again.text);
      assert.equal(typeof again.json.error, 'string');

      // failed (400) → retry → delivered on attempt 2
      mode = 'bad';
      await emit(server, key, { type: uniqueType('manual'), data: { n: 2 } });
      const list = await rx.waitFor((l) => l.filter((x) => x.url === '/manual' && x.headers['x-webhook-delivery'] !== id).length >= 1);
      const id2 = list.find((x) => x.url === '/manual' && x.headers['x-webhook-delivery'] !== id).headers['x-webhook-delivery'];
      d = await waitDelivery(server, key, id2);
      assert.equal(d.status, 'failed');
      mode = 'ok';
      const r2 = await api(server, 'POST', `/v1/deliveries/${id2}/retry`, { key, body: {} });
      assert.equal(r2.status, 202, r2.text);
      d = await waitDelivery(server, key, id2, 'delivered');
      assert.equal(d.attempt_count, 2);

      // in flight (the receiver does not answer) → 409
      mode = 'hang';
      const before = new Set(rx.deliveries().map((x) => x.headers['x-webhook-delivery']));
      await emit(server, key, { type: uniqueType('manual'), data: { n: 3 } });
      const l3 = await rx.waitFor((l) => l.some((x) => x.url === '/manual' && !before.has(x.headers['x-webhook-delivery'])));
      const id3 = l3.find((x) => x.url === '/manual' && !before.has(x.headers['x-webhook-delivery'])).headers['x-webhook-delivery'];
      const cur = await getJson(server, key, `/v1/deliveries/${id3}`);
      assert.equal(cur.status, 'in_flight', 'an attempt is running');
      const r3 = await api(server, 'POST', `/v1/deliveries/${id3}/retry`, { key, body: {} });
      assert.equal(r3.status, 409, r3.text);

      // unknown delivery → 404
      const r4 = await api(server, 'POST', '/v1/deliveries/dlv_01ARZ3NDEKTSV4RRFFQ69G5FAV/retry', { key, body: {} });
      assert.equal(r4.status, 404, r4.text);
    } finally {
      mode = 'ok';
      rx.handler = null;
    }
  });

  it('replay: failed deliveries of an endpoint are re-delivered as new deliveries of the same events', async () => {
    const { server, rx } = fx;
    const { key, ep } = await oneEndpoint('/replay');
    let ok = false;
    rx.handler = (r) => (r.url === '/replay' ? (ok ? 200 : 400) : 200);
    try {
      const since = new Date(Date.now() - 1000).toISOString();
      const type = uniqueType('replay');
      const e1 = await emit(server, key, { type, data: { n: 1 } });
      const e2 = await emit(server, key, { type, data: { n: 2 } });
      const failed = await waitEndpoint(server, key, ep.id, (x) => x.consecutive_failures >= 2);
      assert.equal(failed.is_active, true);
      const old = (await getJson(server, key, `/v1/endpoints/${ep.id}/deliveries?status=failed`)).data;
      assert.equal(old.length, 2);
      // until before everything: nothing to replay
      const none = await api(server, 'POST', `/v1/endpoints/${ep.id}/replay`, {
        key,
        body: { since: new Date(Date.now() - 3600e3).toISOString(), until: new Date(Date.now() - 1800e3).toISOString() },
      });
      assert.equal(none.status, 202, none.text);
      assert.equal(none.json.queued, 0);
      // since is required
      const bad = await api(server, 'POST', `/v1/endpoints/${ep.id}/replay`, { key, body: {} });
      assert.equal(bad.status, 400, bad.text);
      assert.equal(bad.json.field, 'since');
      const badStatus = await api(server, 'POST', `/v1/endpoints/${ep.id}/replay`, {
        key,
        body: { since, status: ['pending'] },
      });
      assert.equal(badStatus.status, 400, badStatus.text);
      assert.equal(badStatus.json.field, 'status');

      ok = true;
      const before = rx.deliveries().filter((r) => r.url === '/replay').length;
      const res = await api(server, 'POST', `/v1/endpoints/${ep.id}/replay`, { key, body: { since } });
      assert.equal(res.status, 202, res.text);
      assert.equal(res.json.queued, 2);
      const reqs = (await rx.waitForPath('/replay', before + 2)).slice(before);
      assert.deepEqual(reqs.map((r) => r.headers['webhook-id']).sort(), [e1.id, e2.id].sort());
      for (const r of reqs) {
        assert.ok(!old.some((o) => o.id === r.headers['x-webhook-delivery']), 'a fresh delivery');
        assert.equal(r.headers['x-webhook-attempt'], '1');
      }
      const delivered = await pollDelivered(server, key, ep.id, 2);
      assert.deepEqual(delivered.map((x) => x.event_id).sort(), [e1.id, e2.id].sort());
      // the old ones stay as they were
      for (const o of old) assert.equal((await getJson(server, key, `/v1/deliveries/${o.id}`)).status, 'failed');
      // replaying failed ones again re-queues them again; delivered ones only when asked
      const onlyDelivered = await api(server, 'POST', `/v1/endpoints/${ep.id}/replay`, {
        key,
        body: { since, status: ['delivered'] },
      });
      assert.equal(onlyDelivered.status, 202, onlyDelivered.text);
      assert.equal(onlyDelivered.json.queued, 2);
      await rx.waitForPath('/replay', before + 4);
    } finally {
      rx.handler = null;
    }
  });
});

async function pollDelivered(server, key, epId, n) {
  const j = await pollJson(
    server,
    key,
    `/v1/endpoints/${epId}/deliveries?status=delivered`,
    (x) => x.data.length >= n,
    { what: `${n} delivered deliveries of ${epId}` }
  );
  return j.data;
}

describe('pipeline: Retry-After', () => {
  let fx;
  before(async () => {
    fx = await pipelineFixture(null, { args: ['--retry-schedule', '300ms,2s'] });
  });
  after(async () => {
    await fx?.cleanup();
  });

  // The gap between the first two attempts when the first answer is `first`.
  async function gapAfter(first, path) {
    const { server, rx } = fx;
    const { key } = await createOrgWithKey(server);
    await createEndpoint(server, key, { url: rx.url(path) });
    let n = 0;
    const prev = rx.handler;
    rx.handler = (r) => {
      if (r.url !== path) return prev ? prev(r) : 200;
      n += 1;
      return n === 1 ? first : 200;
    };
    await emit(server, key, { type: uniqueType('ra'), data: {} });
    const reqs = await rx.waitForPath(path, 2, { timeoutMs: 8000 });
    const d = await waitDelivery(server, key, reqs[0].headers['x-webhook-delivery']);
    assert.equal(d.status, 'delivered');
    return reqs[1].at - reqs[0].at;
  }

  it('without Retry-After the schedule applies (~300 ms)', async () => {
    const gap = await gapAfter({ status: 503 }, '/ra-none');
    assert.ok(gap >= 250 && gap < 900, `gap ${gap} ms`);
  });

  it('503 with Retry-After: 1 waits at least ~1 s', async () => {
    const gap = await gapAfter({ status: 503, headers: { 'Retry-After': '1' } }, '/ra-503');
    assert.ok(gap >= 950, `gap ${gap} ms`);
    assert.ok(gap < 2500, `gap ${gap} ms`);
  });

  it('429 with Retry-After as an HTTP date lengthens the delay', async () => {
    const when = new Date(Date.now() + 2600).toUTCString(); // 1.6–2.6 s ahead (1 s resolution)
    const gap = await gapAfter({ status: 429, headers: { 'Retry-After': when } }, '/ra-date');
    assert.ok(gap >= 1300, `gap ${gap} ms`);
    assert.ok(gap < 3500, `gap ${gap} ms`);
  });

  it('Retry-After: 0 never shortens the scheduled delay', async () => {
    const gap = await gapAfter({ status: 429, headers: { 'Retry-After': '0' } }, '/ra-zero');
    assert.ok(gap >= 250, `gap ${gap} ms`);
  });

  it('a huge Retry-After is capped by the schedule', async () => {
    const gap = await gapAfter({ status: 503, headers: { 'Retry-After': '3600' } }, '/ra-cap');
    assert.ok(gap >= 250, `gap ${gap} ms`);
    assert.ok(gap < 4500, `capped: gap ${gap} ms`);
  });
});
