'use strict';
// Issue 17, per-endpoint policy: an endpoint may carry its own `retry_schedule` and
// `disable_after`, validated as the server's --retry-schedule and --disable-after are, and used
// for its deliveries instead of the server's; null gives the server's back. Two endpoints on one
// failing receiver show that the policy is the endpoint's own, not the server's.

const { describe, it, before, after } = require('node:test');
const assert = require('node:assert/strict');
const { api, createOrgWithKey, startHookd, sleep } = require('./lib/hookd');
const { BASE_ARGS, createEndpoint, emit, deliveriesOf, getJson, pollJson, startReceiver } = require('./lib/pipeline');

// the server retries slowly and disables late: what an endpoint's own policy overrides
const ARGS = [...BASE_ARGS, '--no-ping', '--retry-schedule', '30s', '--disable-after', '50'];

let server;
let rx;
before(async () => {
  server = await startHookd({ args: ARGS });
  rx = await startReceiver({ fallback: 503 });
});
after(async () => {
  if (rx) await rx.close();
  if (server) await server.cleanup();
});

describe('per-endpoint retry_schedule and disable_after', () => {
  it("an endpoint's own schedule retries it on that schedule; its neighbour keeps the server's", async () => {
    const { key } = await createOrgWithKey(server);
    const own = await createEndpoint(server, key, { url: rx.url('/own'), retry_schedule: '50ms,100ms' });
    const plain = await createEndpoint(server, key, { url: rx.url('/plain') });
    assert.equal(own.retry_schedule, '50ms,100ms');
    assert.equal(own.disable_after, null);
    assert.equal(plain.retry_schedule, null);
    const evt = await emit(server, key, { type: 'order.paid', data: {} });
    const settled = await pollJson(server, key, `/v1/deliveries?event_id=${evt.id}`,
      (j) => j.data.some((d) => d.endpoint_id === own.id && d.status === 'exhausted'),
      { what: "the own-schedule delivery exhausted after its three attempts" });
    const mine = settled.data.find((d) => d.endpoint_id === own.id);
    assert.equal(mine.attempt_count, 3, 'one attempt and the two delays of its own schedule');
    const other = (await deliveriesOf(server, key, evt.id)).find((d) => d.endpoint_id === plain.id);
    assert.equal(other.status, 'pending', "the neighbour waits on the server's 30 s");
    assert.equal(other.attempt_count, 1);
  });

  it("an endpoint's own disable_after disables it at its threshold; null restores the server's", async () => {
    const { key } = await createOrgWithKey(server);
    const strict = await createEndpoint(server, key, { url: rx.url('/strict'), retry_schedule: '10ms', disable_after: 2 });
    const lenient = await createEndpoint(server, key, { url: rx.url('/lenient'), retry_schedule: '10ms' });
    for (let i = 0; i < 2; i++) await emit(server, key, { type: 'order.paid', data: { i } });
    const off = await pollJson(server, key, `/v1/endpoints/${strict.id}`, (j) => j.is_active === false,
      { what: 'the strict endpoint disabled after 2 failed deliveries' });
    assert.equal(off.disabled_reason, 'consecutive_failures');
    await pollJson(server, key, `/v1/endpoints/${lenient.id}/deliveries`,
      (j) => j.data.length === 2 && j.data.every((d) => d.status === 'exhausted'), { what: 'both lenient deliveries ended' });
    assert.equal((await getJson(server, key, `/v1/endpoints/${lenient.id}`)).is_active, true, "the server's 50 is far");

    const reset = await api(server, 'PATCH', `/v1/endpoints/${strict.id}`, { key, body: { disable_after: null, retry_schedule: null, is_active: true } });
    assert.equal(reset.status, 200, reset.text);
    assert.equal(reset.json.disable_after, null);
    assert.equal(reset.json.retry_schedule, null);
    const evt = await emit(server, key, { type: 'order.paid', data: {} });
    await sleep(300);
    const d = (await deliveriesOf(server, key, evt.id)).find((x) => x.endpoint_id === strict.id);
    assert.equal(d.status, 'pending', "back on the server's 30 s schedule");
    assert.equal((await getJson(server, key, `/v1/endpoints/${strict.id}`)).is_active, true);
  });

  it('a PATCH of the schedule applies to the next attempt', async () => {
    const { key } = await createOrgWithKey(server);
    const ep = await createEndpoint(server, key, { url: rx.url('/later') });
    const patched = await api(server, 'PATCH', `/v1/endpoints/${ep.id}`, { key, body: { retry_schedule: '20ms' } });
    assert.equal(patched.status, 200, patched.text);
    const evt = await emit(server, key, { type: 'order.paid', data: {} });
    const j = await pollJson(server, key, `/v1/deliveries?event_id=${evt.id}`, (x) => x.data[0]?.status === 'exhausted',
      { what: 'exhausted on the patched schedule' });
    assert.equal(j.data[0].attempt_count, 2);
  });

  it('bad values are a 400 naming the field, as the server flags would be, and change nothing', async () => {
    const { key } = await createOrgWithKey(server);
    const ep = await createEndpoint(server, key, { url: rx.url('/v'), retry_schedule: '1s', disable_after: 5 });
    const cases = [
      [{ retry_schedule: '' }, 'retry_schedule'], [{ retry_schedule: '1x' }, 'retry_schedule'],
      [{ retry_schedule: '0s' }, 'retry_schedule'], [{ retry_schedule: '1s,' }, 'retry_schedule'],
      [{ retry_schedule: Array(33).fill('1s').join(',') }, 'retry_schedule'], [{ retry_schedule: 5 }, 'retry_schedule'],
      [{ disable_after: 0 }, 'disable_after'], [{ disable_after: -1 }, 'disable_after'],
      [{ disable_after: 1000001 }, 'disable_after'], [{ disable_after: '3' }, 'disable_after'], [{ disable_after: 2.5 }, 'disable_after'],
    ];
    for (const [body, field] of cases) {
      const res = await api(server, 'PATCH', `/v1/endpoints/${ep.id}`, { key, body: { ...body, name: 'changed' } });
      assert.equal(res.status, 400, `${JSON.stringify(body)}: ${res.text}`);
      assert.equal(res.json.field, field, res.text);
      const created = await api(server, 'POST', '/v1/endpoints', { key, body: { url: rx.url('/n'), ...body } });
      assert.equal(created.status, 400, `create ${JSON.stringify(body)}: ${created.text}`);
    }
    const now = await getJson(server, key, `/v1/endpoints/${ep.id}`);
    assert.deepEqual([now.name, now.retry_schedule, now.disable_after], [ep.name, '1s', 5]);
    assert.equal((await getJson(server, key, '/v1/endpoints')).data.length, 1);
    const edge = await api(server, 'PATCH', `/v1/endpoints/${ep.id}`, {
      key, body: { retry_schedule: Array(32).fill('1h').join(','), disable_after: 1000000 },
    });
    assert.equal(edge.status, 200, edge.text);
  });
});
