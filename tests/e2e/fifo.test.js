'use strict';
// Issue 17, FIFO ordering per key (work in progress: SQLite; the PostgreSQL nodes' test is to
// come). An endpoint with `ordering: "fifo"` starts a delivery of a key only once the previous
// one of that key has ended; a retrying delivery holds its own key only.

const { describe, it } = require('node:test');
const assert = require('node:assert/strict');
const { api, createOrgWithKey, startHookd } = require('./lib/hookd');
const { BASE_ARGS, createEndpoint, emit, pollJson, startReceiver } = require('./lib/pipeline');

describe('FIFO ordering per key', () => {
  it('a receiver that fails at random still sees each key in order, and other keys move on meanwhile', async (t) => {
    const server = await startHookd({ args: [...BASE_ARGS, '--no-ping', '--retry-schedule', '20ms,20ms,20ms,20ms,20ms,20ms,20ms,20ms'] });
    t.after(() => server.cleanup());
    // a seeded coin: the same failures every run
    let seed = 7;
    const coin = () => {
      seed = (seed * 1103515245 + 12345) % 2147483648;
      return seed % 3 === 0;
    };
    const got = [];
    const rx = await startReceiver({
      handler: (req) => {
        const ev = JSON.parse(req.text);
        if (coin()) return { status: 503 };
        got.push({ key: ev.data.key, n: ev.data.n, at: Date.now() });
        return { status: 200 };
      },
    });
    t.after(() => rx.close());
    const { key } = await createOrgWithKey(server);
    const ep = await createEndpoint(server, key, { url: rx.url('/fifo'), ordering: 'fifo', max_in_flight: 10 });
    assert.equal(ep.ordering, 'fifo');
    const KEYS = ['a', 'b', 'c'];
    const N = 8;
    for (let n = 0; n < N; n++)
      for (const k of KEYS) await emit(server, key, { type: 'order.paid', ordering_key: k, data: { key: k, n } });
    await pollJson(server, key, `/v1/endpoints/${ep.id}/deliveries?limit=250`,
      (j) => j.data.length === N * KEYS.length && j.data.every((d) => d.status === 'delivered'),
      { what: 'every delivery delivered', timeoutMs: 20000 });
    for (const k of KEYS) {
      const seen = got.filter((g) => g.key === k).map((g) => g.n);
      assert.deepEqual(seen, [...Array(N).keys()], `key ${k} in order`);
    }
    // the keys interleave: no key waited for all of another's
    const firstOf = (k) => got.findIndex((g) => g.key === k);
    const lastOf = (k) => got.length - 1 - [...got].reverse().findIndex((g) => g.key === k);
    assert.ok(KEYS.every((k) => KEYS.every((o) => k === o || firstOf(k) < lastOf(o))), 'other keys moved on');
  });

  it('ordering is validated and shown', async (t) => {
    const server = await startHookd({ args: [...BASE_ARGS, '--no-ping'] });
    t.after(() => server.cleanup());
    const { key } = await createOrgWithKey(server);
    const bad = await api(server, 'POST', '/v1/endpoints', { key, body: { url: 'http://127.0.0.1:9/x', ordering: 'lifo' } });
    assert.equal(bad.status, 400, bad.text);
    assert.equal(bad.json.field, 'ordering');
    const ep = await createEndpoint(server, key, { url: 'http://127.0.0.1:9/x' });
    assert.equal(ep.ordering, 'none');
  });
});
