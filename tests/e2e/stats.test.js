'use strict';
// Issue 15, SPEC §2.4: GET /v1/endpoints/{id}/stats?window= counts an endpoint's deliveries by how
// they ended, its attempts and their latency, over 1h to 30d, in total and as a series; it is
// kept in the store (a restart keeps it) and is the endpoint's own org's only.

const { describe, it } = require('node:test');
const assert = require('node:assert/strict');
const { startHookd, api, createOrgWithKey, makeTempDir, removeTempDir, randomAdminKey } = require('./lib/hookd');
const { startReceiver, createEndpoint, emitAll, waitEventSettled, getJson, BASE_ARGS } = require('./lib/pipeline');

const ARGS = [...BASE_ARGS, '--no-ping', '--retry-schedule', '50ms'];
const OK = 6;
const BAD = 4; // more quick attempts than slow ones: the median is a quick one, even on a busy machine
const DELAY_MS = 250;

function sumSeries(series, pick) {
  return series.reduce((n, p) => n + pick(p), 0);
}

describe('endpoint stats', () => {
  it('counts deliveries by how they ended, attempts and latency, and keeps them over a restart', async () => {
    const dir = makeTempDir();
    const adminKey = randomAdminKey();
    // "ok" events are answered 200 after DELAY_MS, the others 500 at once: retried once, then exhausted
    const rx = await startReceiver({
      handler: (req) => (req.text.includes('"ok":true') ? { status: 200, delayMs: DELAY_MS } : { status: 500 }),
    });
    let server = await startHookd({ dir, adminKey, args: ARGS });
    try {
      const { key } = await createOrgWithKey(server);
      const ep = await createEndpoint(server, key, { url: rx.url('/hook') });
      const bodies = [
        ...Array.from({ length: OK }, (_, i) => ({ type: 'a.b', data: { ok: true, i } })),
        ...Array.from({ length: BAD }, (_, i) => ({ type: 'a.b', data: { ok: false, i } })),
      ];
      const events = await emitAll(server, key, bodies);
      for (const ev of events) await waitEventSettled(server, key, ev.id, 1);

      const check = async () => {
        const s = await getJson(server, key, `/v1/endpoints/${ep.id}/stats`);
        assert.equal(s.endpoint_id, ep.id);
        assert.equal(s.window, '24h');
        assert.deepEqual(s.deliveries, { delivered: OK, failed: 0, exhausted: BAD });
        assert.equal(s.success_rate, OK / (OK + BAD));
        assert.deepEqual(s.attempts, { total: OK + 2 * BAD, failed: 2 * BAD });
        // the quantiles of OK slow answers and 2 * BAD quick ones, within a bucket (25 %)
        assert.ok(s.latency_ms.p50 < DELAY_MS, `p50 ${s.latency_ms.p50}`);
        assert.ok(s.latency_ms.p95 >= DELAY_MS / 1.25, `p95 ${s.latency_ms.p95}`);
        assert.ok(s.latency_ms.p99 >= s.latency_ms.p95);
        assert.equal(s.step_seconds, 3600);
        assert.equal(s.series.length, 24);
        assert.equal(Date.parse(s.until) - Date.parse(s.since), 24 * 3600 * 1000);
        assert.ok(Date.parse(s.until) > Date.now() && Date.parse(s.until) - Date.now() <= 3600 * 1000);
        assert.equal(sumSeries(s.series, (p) => p.deliveries.delivered), OK);
        assert.equal(sumSeries(s.series, (p) => p.attempts.total), OK + 2 * BAD);
        const busy = s.series.filter((p) => p.attempts.total > 0);
        assert.ok(busy.length >= 1 && busy.length <= 2, 'every attempt in the last step or two');
        assert.equal(s.series[0].success_rate, null);
        assert.deepEqual(s.series[0].latency_ms, { p50: null, p95: null, p99: null });
        return s;
      };
      const before = await check();

      const hour = await getJson(server, key, `/v1/endpoints/${ep.id}/stats?window=1h`);
      assert.equal(hour.step_seconds, 300);
      assert.equal(hour.series.length, 12);
      assert.deepEqual(hour.deliveries, before.deliveries);
      const month = await getJson(server, key, `/v1/endpoints/${ep.id}/stats?window=30d`);
      assert.equal(month.step_seconds, 86400);
      assert.equal(month.series.length, 30);
      assert.deepEqual(month.attempts, before.attempts);
      const week = await getJson(server, key, `/v1/endpoints/${ep.id}/stats?window=7d`);
      assert.equal(week.series.length, 28);

      // an endpoint nothing went to: zeros and nulls
      const quiet = await createEndpoint(server, key, { url: rx.url('/quiet') });
      const none = await getJson(server, key, `/v1/endpoints/${quiet.id}/stats?window=6h`);
      assert.deepEqual(none.deliveries, { delivered: 0, failed: 0, exhausted: 0 });
      assert.equal(none.success_rate, null);
      assert.deepEqual(none.latency_ms, { p50: null, p95: null, p99: null });
      assert.equal(none.series.length, 72);

      await server.stop();
      server = await startHookd({ dir, adminKey, args: ARGS });
      await check();
    } finally {
      await server.stop();
      await rx.close();
      removeTempDir(dir);
    }
  });

  it('refuses a window outside 1h..30d naming the field, and other orgs\' endpoints', async () => {
    const server = await startHookd({ args: [...ARGS] });
    try {
      const a = await createOrgWithKey(server);
      const b = await createOrgWithKey(server);
      const ep = await createEndpoint(server, a.key, { url: 'http://127.0.0.1:9/x' });
      for (const w of ['30m', '31d', 'abc', '', '-1h', '1h30m', '99999999999999999999d']) {
        const r = await api(server, 'GET', `/v1/endpoints/${ep.id}/stats?window=${encodeURIComponent(w)}`, { key: a.key });
        assert.equal(r.status, 400, `window=${w}: ${r.text}`);
        assert.equal(r.json.error, 'validation_error');
        assert.equal(r.json.field, 'window');
      }
      for (const w of ['1h', '60m', '36h', '30d', '720h']) {
        const r = await api(server, 'GET', `/v1/endpoints/${ep.id}/stats?window=${w}`, { key: a.key });
        assert.equal(r.status, 200, `window=${w}: ${r.text}`);
        assert.equal(r.json.window, w);
      }
      const other = await api(server, 'GET', `/v1/endpoints/${ep.id}/stats`, { key: b.key });
      assert.equal(other.status, 404, other.text);
      const unknown = await api(server, 'GET', `/v1/endpoints/${ep.id}/stats?span=1h`, { key: a.key });
      assert.equal(unknown.status, 400, unknown.text);
      const events = await createOrgWithKey(server, ['events']);
      const scope = await api(server, 'GET', `/v1/endpoints/${ep.id}/stats`, { key: events.key });
      assert.equal(scope.status, 403, scope.text);
    } finally {
      await server.stop();
    }
  });
});
