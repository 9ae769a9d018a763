'use strict';
// Issue 17: an endpoint's payload filter, a declarative match over the envelope. Validated at
// registration (400 on the field `filter`, nothing stored), shown on the endpoint, applied at
// fan-out to subscriptions and to endpoint_ids, not to test sends.

const { describe, it, before, after } = require('node:test');
const assert = require('node:assert/strict');
const { api, createOrgWithKey, sleep } = require('./lib/hookd');
const {
  pipelineFixture,
  uniqueType,
  createEventType,
  createEndpoint,
  emit,
  getJson,
  waitEventSettled,
} = require('./lib/pipeline');

// The endpoint ids an event was fanned out to, once its deliveries have settled.
async function receivers(server, key, evt) {
  if (evt.deliveries === 0) {
    const stored = await getJson(server, key, `/v1/deliveries?event_id=${evt.id}`);
    return stored.data.map((d) => d.endpoint_id);
  }
  const ds = await waitEventSettled(server, key, evt.id, evt.deliveries);
  return ds.map((d) => d.endpoint_id).sort();
}

describe('payload filters (issue 17)', () => {
  let fx;
  before(async () => {
    fx = await pipelineFixture(null);
  });
  after(async () => {
    await fx?.cleanup();
  });

  it('each operator class decides which endpoints get an event', async () => {
    const { server, rx } = fx;
    const { key } = await createOrgWithKey(server);
    const type = uniqueType('flt');
    await createEventType(server, type);
    const filters = {
      none: null,
      equal: { 'data.currency': 'EUR' },
      eq: { 'data.customer.country': { $eq: 'DE' } },
      ne: { 'data.currency': { $ne: 'EUR' } },
      range: { 'data.amount': { $gte: 100, $lt: 1000 } },
      gt: { 'data.amount': { $gt: 500 } },
      lte: { 'data.amount': { $lte: 100 } },
      string_cmp: { 'data.plan': { $gt: 'basic' } },
      in: { 'data.currency': { $in: ['EUR', 'USD'] } },
      nin: { 'data.currency': { $nin: ['EUR', 'USD'] } },
      exists: { 'data.coupon': { $exists: true } },
      absent: { 'data.coupon': { $exists: false } },
      or: { $or: [{ 'data.currency': 'GBP' }, { 'data.amount': { $gt: 900 } }] },
      and: { $and: [{ 'data.currency': 'EUR' }, { 'data.customer.country': { $in: ['DE', 'FR'] } }] },
      both: { 'data.amount': { $gte: 100 }, 'data.currency': { $in: ['EUR', 'USD'] } },
      by_type: { type },
    };
    const ids = {};
    for (const [name, filter] of Object.entries(filters)) {
      const body = { url: rx.url(`/op-${name}`), events: [type] };
      if (filter) body.filter = filter;
      const ep = await createEndpoint(server, key, body);
      assert.deepEqual(ep.filter, filter, `${name}: the answer shows the filter`);
      ids[ep.id] = name;
    }
    const cases = [
      {
        data: { amount: 150, currency: 'EUR', customer: { country: 'DE' }, plan: 'pro' },
        expect: ['none', 'equal', 'eq', 'range', 'string_cmp', 'in', 'absent', 'and', 'both', 'by_type'],
      },
      {
        data: { amount: 950, currency: 'GBP', coupon: null, customer: { country: 'US' }, plan: 'basic' },
        expect: ['none', 'ne', 'range', 'gt', 'nin', 'exists', 'or', 'by_type'],
      },
      {
        // a number where strings are expected and the other way round: no comparison matches
        data: { amount: '150', currency: 1, plan: 3 },
        expect: ['none', 'ne', 'nin', 'absent', 'by_type'],
      },
      { data: {}, expect: ['none', 'ne', 'nin', 'absent', 'by_type'] },
      { data: { amount: 100, currency: 'USD' }, expect: ['none', 'ne', 'range', 'lte', 'in', 'absent', 'both', 'by_type'] },
    ];
    for (const c of cases) {
      const evt = await emit(server, key, { type, data: c.data });
      const got = (await receivers(server, key, evt)).map((id) => ids[id]).sort();
      assert.deepEqual(got, [...c.expect].sort(), `data ${JSON.stringify(c.data)}`);
      assert.equal(evt.deliveries, c.expect.length);
    }
    // the receiver got exactly those requests: 'none' all five events, 'gt' one
    await rx.waitForPath('/op-none', cases.length);
    await rx.waitForPath('/op-gt', 1);
    await sleep(200);
    assert.equal(rx.deliveries().filter((r) => r.url === '/op-gt').length, 1);
    assert.equal(rx.deliveries().filter((r) => r.url === '/op-string_cmp').length, 1);
  });

  it('PATCH changes the filter, keeps it when not named, and null removes it', async () => {
    const { server, rx } = fx;
    const { key } = await createOrgWithKey(server);
    const type = uniqueType('fltpatch');
    await createEventType(server, type);
    const ep = await createEndpoint(server, key, { url: rx.url('/patch'), events: [type], filter: { 'data.amount': { $gte: 100 } } });
    assert.equal((await emit(server, key, { type, data: { amount: 50 } })).deliveries, 0);
    assert.equal((await emit(server, key, { type, data: { amount: 150 } })).deliveries, 1);

    const changed = await api(server, 'PATCH', `/v1/endpoints/${ep.id}`, { key, body: { filter: { 'data.amount': { $lt: 100 } } } });
    assert.equal(changed.status, 200, changed.text);
    assert.deepEqual(changed.json.filter, { 'data.amount': { $lt: 100 } });
    assert.equal((await emit(server, key, { type, data: { amount: 50 } })).deliveries, 1);
    assert.equal((await emit(server, key, { type, data: { amount: 150 } })).deliveries, 0);

    const renamed = await api(server, 'PATCH', `/v1/endpoints/${ep.id}`, { key, body: { name: 'renamed' } });
    assert.equal(renamed.status, 200, renamed.text);
    assert.deepEqual(renamed.json.filter, { 'data.amount': { $lt: 100 } }, 'a PATCH without filter keeps it');
    assert.equal((await emit(server, key, { type, data: { amount: 150 } })).deliveries, 0);

    const removed = await api(server, 'PATCH', `/v1/endpoints/${ep.id}`, { key, body: { filter: null } });
    assert.equal(removed.status, 200, removed.text);
    assert.equal(removed.json.filter, null);
    assert.equal((await getJson(server, key, `/v1/endpoints/${ep.id}`)).filter, null);
    assert.equal((await emit(server, key, { type, data: { amount: 150 } })).deliveries, 1);
    assert.equal((await emit(server, key, { type, data: 'not even an object' })).deliveries, 1);
    await rx.waitForPath('/patch', 4);
  });

  it('bad filters are refused with 400 on filter, naming the fault, and nothing is stored', async () => {
    const { server, rx } = fx;
    const { key } = await createOrgWithKey(server);
    const bad = [
      [{ 'data.amount': { $gte: true } }, 'data.amount: $gte takes a number or a string'],
      [{ 'data.currency': { $in: 'EUR' } }, 'data.currency: $in takes an array'],
      [{ 'data.x': { $exists: 'yes' } }, 'data.x: $exists takes true or false'],
      [{ 'data.x': { $regex: '^a' } }, 'data.x: unknown operator $regex'],
      [{ amount: 1 }, 'amount: a path starts with id, type, timestamp or data'],
      [{ 'data..x': 1 }, 'data..x: a path has no empty segment'],
      [{ $or: [] }, '$or takes a non-empty array of filters'],
      [{ $and: [{ 'data.x': 1 }, 2] }, '$and takes an array of filters (objects)'],
      [{}, 'an empty filter matches everything; use null for no filter'],
      [{ 'data.x': { $in: Array.from({ length: 101 }, (_, i) => i) } }, 'data.x: $in takes at most 100 items'],
      [{ 'data.x': 'y'.repeat(5000) }, 'filter is larger than 4096 bytes serialized'],
      [{ $or: [{ $or: [{ $or: [{ $or: [{ $or: [{ $or: [{ $or: [{ $or: [{ 'data.x': 1 }] }] }] }] }] }] }] }] }, 'filters nest deeper than 8 levels'],
      [[{ 'data.x': 1 }], 'filter must be an object'],
      ['data.x = 1', 'filter must be an object'],
    ];
    for (const [filter, message] of bad) {
      const res = await api(server, 'POST', '/v1/endpoints', { key, body: { url: rx.url('/bad'), filter } });
      assert.equal(res.status, 400, `${JSON.stringify(filter).slice(0, 100)}: ${res.text}`);
      assert.equal(res.json.error, 'validation_error');
      assert.equal(res.json.field, 'filter');
      assert.equal(res.json.message, message);
    }
    assert.deepEqual((await getJson(server, key, '/v1/endpoints')).data, [], 'no endpoint was created');
    assert.equal(rx.pings().filter((r) => r.url === '/bad').length, 0, 'nor pinged');

    const filter = { 'data.amount': { $gte: 100 } };
    const ep = await createEndpoint(server, key, { url: rx.url('/kept'), filter });
    for (const [bodyFilter, message] of bad.slice(0, 4)) {
      const res = await api(server, 'PATCH', `/v1/endpoints/${ep.id}`, { key, body: { filter: bodyFilter, name: 'changed' } });
      assert.equal(res.status, 400, res.text);
      assert.equal(res.json.field, 'filter');
      assert.equal(res.json.message, message);
    }
    const kept = await getJson(server, key, `/v1/endpoints/${ep.id}`);
    assert.deepEqual(kept.filter, filter, 'the old filter is kept');
    assert.equal(kept.name, ep.name, 'and nothing else of the refused PATCH was stored');
    const listed = (await getJson(server, key, '/v1/endpoints')).data;
    assert.deepEqual(listed.map((e) => e.filter), [filter], 'the list shows it too');
  });

  it('endpoint_ids honours the filter; a test send ignores it', async () => {
    const { server, rx } = fx;
    const { key } = await createOrgWithKey(server);
    const type = uniqueType('fltids');
    await createEventType(server, type);
    const big = await createEndpoint(server, key, { url: rx.url('/ids-big'), filter: { 'data.amount': { $gte: 100 } } });
    const any = await createEndpoint(server, key, { url: rx.url('/ids-any') });

    const small = await emit(server, key, { type, data: { amount: 5 }, endpoint_ids: [big.id, any.id] });
    assert.equal(small.deliveries, 1);
    assert.deepEqual(await receivers(server, key, small), [any.id]);
    const large = await emit(server, key, { type, data: { amount: 500 }, endpoint_ids: [big.id] });
    assert.equal(large.deliveries, 1);
    assert.deepEqual(await receivers(server, key, large), [big.id]);
    const none = await emit(server, key, { type, data: { amount: 5 }, endpoint_ids: [big.id] });
    assert.equal(none.deliveries, 0);

    // the test event's data has no amount: the filter would refuse it, the test send does not
    const test = await api(server, 'POST', `/v1/endpoints/${big.id}/test`, { key, body: {} });
    assert.equal(test.status, 202, test.text);
    const [req] = await rx.waitFor((l) => l.some((r) => r.headers['webhook-id'] === test.json.event_id), { what: 'the test send' }).then((l) =>
      l.filter((r) => r.headers['webhook-id'] === test.json.event_id)
    );
    assert.equal(req.url, '/ids-big');
    assert.equal(JSON.parse(req.body).type, 'webhook.test');
    await sleep(200);
    assert.equal(rx.deliveries().filter((r) => r.url === '/ids-big').length, 2, 'the large event and the test');
  });

  it('paths reach the envelope: id, type and timestamp as well as data', async () => {
    const { server, rx } = fx;
    const { key } = await createOrgWithKey(server);
    const t1 = uniqueType('fltenv');
    const t2 = uniqueType('fltenv');
    await createEventType(server, t1);
    await createEventType(server, t2);
    const ep = await createEndpoint(server, key, {
      url: rx.url('/env'),
      filter: { type: { $in: [t1] }, id: { $gte: 'evt_' }, timestamp: { $gt: '2000-01-01T00:00:00.000Z' } },
    });
    const a = await emit(server, key, { type: t1, data: {} });
    const b = await emit(server, key, { type: t2, data: {} });
    assert.equal(a.deliveries, 1);
    assert.equal(b.deliveries, 0);
    const own = await emit(server, key, { type: t1, id: 'abc-1', data: {} });
    assert.equal(own.deliveries, 0, "a producer's id below evt_ fails id $gte");
    assert.deepEqual(await receivers(server, key, a), [ep.id]);
  });
});
