'use strict';
// Issue 15: operational webhooks. An org may set `operational_webhook_url` (PATCH /v1/org);
// hookd then sends it its own events about the org's webhooks (endpoint.disabled with the reason,
// endpoint.enabled, delivery.exhausted, source.failing) through the normal engine: signed as any
// delivery (checked here with the Standard Webhooks library), retried, and in the delivery log of
// the operational endpoint. The org's own endpoints never get them, and the operational endpoint
// gets nothing else.

const { describe, it, before, after } = require('node:test');
const assert = require('node:assert/strict');
const { Webhook } = require('standardwebhooks');
const { api, createOrgWithKey, startHookd } = require('./lib/hookd');
const { startReceiver } = require('./lib/receiver');
const { BASE_ARGS, createEndpoint, emit, endpointDeliveries, getJson, pollJson } = require('./lib/pipeline');
const { createSource } = require('./lib/inbound');

const DISABLE_AFTER = 3;
const ARGS = [...BASE_ARGS, '--no-ping', '--retry-schedule', '50ms', '--disable-after', String(DISABLE_AFTER)];
const NOTICE_TYPES = new Set(['endpoint.disabled', 'endpoint.enabled', 'delivery.exhausted', 'source.failing']);

let server;
before(async () => {
  server = await startHookd({ args: ARGS });
});
after(async () => {
  await server.cleanup();
});

// An org with a key, a receiver for its operational webhooks (answering 200 unless given a
// handler) and the org's own view after setting the URL.
async function opsFixture(t, handler) {
  const { org, key } = await createOrgWithKey(server);
  const ops = await startReceiver(handler ? { handler } : {});
  t.after(() => ops.close());
  const res = await api(server, 'PATCH', '/v1/org', { key, body: { operational_webhook_url: ops.url('/ops') } });
  assert.equal(res.status, 200, res.text);
  return { org, key, ops, self: res.json };
}

// The notices the receiver got, verified with the operational endpoint's secret, as envelopes.
function notices(rx, secret) {
  const wh = new Webhook(secret);
  return rx.deliveries().map((r) => wh.verify(r.text, r.headers));
}

async function waitNotices(rx, secret, pred, what) {
  await rx.waitFor(() => pred(notices(rx, secret)), { what });
  return notices(rx, secret);
}

const ofType = (list, type) => list.filter((n) => n.type === type);

describe('operational webhooks', () => {
  it('PATCH /v1/org sets the URL; the org shows it with the endpoint and its secret; the endpoint is kept out of the list', async (t) => {
    const { key, self, ops } = await opsFixture(t);
    assert.equal(self.operational_webhook_url, ops.url('/ops'));
    assert.match(self.operational_endpoint_id, /^ep_/);
    assert.match(self.operational_webhook_secret, /^whsec_/);
    const again = await getJson(server, key, '/v1/org');
    assert.equal(again.operational_endpoint_id, self.operational_endpoint_id);
    const ep = await getJson(server, key, `/v1/endpoints/${self.operational_endpoint_id}`);
    assert.equal(ep.operational, true);
    assert.equal(ep.url, ops.url('/ops'));
    const list = await getJson(server, key, '/v1/endpoints');
    assert.deepEqual(list.data, [], 'the operational endpoint is not one of the org endpoints');

    // a new URL moves the same endpoint; null removes it
    const moved = await api(server, 'PATCH', '/v1/org', { key, body: { operational_webhook_url: ops.url('/ops2') } });
    assert.equal(moved.status, 200, moved.text);
    assert.equal(moved.json.operational_endpoint_id, self.operational_endpoint_id);
    assert.equal(moved.json.operational_webhook_url, ops.url('/ops2'));
    const removed = await api(server, 'PATCH', '/v1/org', { key, body: { operational_webhook_url: null } });
    assert.equal(removed.status, 200, removed.text);
    assert.equal(removed.json.operational_webhook_url, null);
    assert.equal(removed.json.operational_endpoint_id, null);
    const gone = await api(server, 'GET', `/v1/endpoints/${self.operational_endpoint_id}`, { key });
    assert.equal(gone.status, 404);
  });

  it('a bad URL is a 400 naming operational_webhook_url and changes nothing', async (t) => {
    const { key, self } = await opsFixture(t);
    for (const url of ['not a url', 'ftp://example.com/x', 42, '']) {
      const res = await api(server, 'PATCH', '/v1/org', { key, body: { operational_webhook_url: url, retention_days: 7 } });
      assert.equal(res.status, 400, `${JSON.stringify(url)}: ${res.text}`);
      assert.equal(res.json.field, 'operational_webhook_url', res.text);
    }
    const now = await getJson(server, key, '/v1/org');
    assert.equal(now.operational_webhook_url, self.operational_webhook_url);
    assert.equal(now.retention_days, null, 'the rest of the refused PATCH was not applied');
    const ro = await api(server, 'PATCH', '/v1/org', { key, body: { operational_endpoint_id: 'ep_x' } });
    assert.equal(ro.status, 400, ro.text);
    assert.equal(ro.json.field, 'operational_endpoint_id');
  });

  it('an endpoint failing until disabled: delivery.exhausted for each delivery, then endpoint.disabled (consecutive_failures), signed', async (t) => {
    const { key, self, ops } = await opsFixture(t);
    const failing = await startReceiver({ fallback: 500 });
    t.after(() => failing.close());
    const ep = await createEndpoint(server, key, { url: failing.url('/hook') });
    const sent = [];
    for (let i = 0; i < DISABLE_AFTER; i++) sent.push((await emit(server, key, { type: 'order.paid', data: { i } })).id);

    const got = await waitNotices(ops, self.operational_webhook_secret,
      (l) => ofType(l, 'endpoint.disabled').length === 1 && ofType(l, 'delivery.exhausted').length === DISABLE_AFTER,
      'three exhausted deliveries and a disable');
    const disabled = ofType(got, 'endpoint.disabled')[0];
    assert.equal(disabled.data.endpoint_id, ep.id);
    assert.equal(disabled.data.reason, 'consecutive_failures');
    assert.ok(Date.parse(disabled.data.disabled_at) > 0);
    const exhausted = ofType(got, 'delivery.exhausted');
    assert.deepEqual(exhausted.map((n) => n.data.event_id).sort(), [...sent].sort());
    for (const n of exhausted) {
      assert.equal(n.data.endpoint_id, ep.id);
      assert.match(n.data.delivery_id, /^dlv_/);
      assert.equal(n.data.attempts, 2);
      assert.equal(n.data.last_response_status, 500);
    }
    const state = await getJson(server, key, `/v1/endpoints/${ep.id}`);
    assert.equal(state.disabled_reason, 'consecutive_failures');
    assert.equal(state.disabled_at, disabled.data.disabled_at, 'the notice tells the stored time');
    // the org's endpoint got only its own events; the notices are envelopes of the usual shape
    assert.ok(failing.deliveries().every((r) => !NOTICE_TYPES.has(JSON.parse(r.text).type)));
    for (const n of got) {
      assert.match(n.id, /^evt_/);
      assert.ok(NOTICE_TYPES.has(n.type), n.type);
    }
    // a forged signature does not verify: the check above means something
    const r = ops.deliveries()[0];
    assert.throws(() => new Webhook(self.operational_webhook_secret).verify(r.text.replace('}', ' }'), r.headers));
  });

  it('410 Gone disables with reason gone; an operator disable and enable are told too', async (t) => {
    const { key, self, ops } = await opsFixture(t);
    const goneRx = await startReceiver({ fallback: 410 });
    t.after(() => goneRx.close());
    const ep = await createEndpoint(server, key, { url: goneRx.url('/hook') });
    await emit(server, key, { type: 'order.paid', data: {} });
    let got = await waitNotices(ops, self.operational_webhook_secret, (l) => ofType(l, 'endpoint.disabled').length === 1, 'a disable');
    assert.equal(ofType(got, 'endpoint.disabled')[0].data.reason, 'gone');

    const on = await api(server, 'PATCH', `/v1/endpoints/${ep.id}`, { key, body: { is_active: true } });
    assert.equal(on.status, 200, on.text);
    const off = await api(server, 'PATCH', `/v1/endpoints/${ep.id}`, { key, body: { is_active: false } });
    assert.equal(off.status, 200, off.text);
    got = await waitNotices(ops, self.operational_webhook_secret, (l) => ofType(l, 'endpoint.disabled').length === 2, 'a manual disable');
    assert.deepEqual(ofType(got, 'endpoint.enabled').map((n) => n.data), [{ endpoint_id: ep.id }]);
    const manual = ofType(got, 'endpoint.disabled')[1];
    assert.equal(manual.data.reason, 'manual');
    assert.equal(manual.data.endpoint_id, ep.id);
    // a PATCH that does not switch is_active tells nothing
    const rename = await api(server, 'PATCH', `/v1/endpoints/${ep.id}`, { key, body: { name: 'renamed' } });
    assert.equal(rename.status, 200, rename.text);
    const probe = await api(server, 'PATCH', `/v1/endpoints/${ep.id}`, { key, body: { is_active: true } });
    assert.equal(probe.status, 200);
    got = await waitNotices(ops, self.operational_webhook_secret, (l) => ofType(l, 'endpoint.enabled').length === 2, 'a second enable');
    assert.equal(got.length, 4, `disabled, enabled, disabled, enabled: ${got.map((n) => n.type)}`);
  });

  it('source.failing after five refused requests in a row, once per streak; an accepted one starts over', async (t) => {
    const { key, self, ops } = await opsFixture(t);
    const src = await createSource(server, key, { name: 'gh', verification: { scheme: 'github' }, secret: 'right' });
    let n = 0;
    const post = (secret) => {
      const body = JSON.stringify({ action: 'opened', n: ++n });
      const sig = require('node:crypto').createHmac('sha256', secret).update(body).digest('hex');
      return fetch(`${server.url}/in/${src.id}`, {
        method: 'POST',
        headers: { 'Content-Type': 'application/json', 'X-Hub-Signature-256': `sha256=${sig}` },
        body,
      });
    };
    const bad = async (count) => {
      for (let i = 0; i < count; i++) assert.equal((await post('wrong')).status, 401);
    };
    await bad(4);
    assert.equal((await post('right')).status, 202);
    await bad(7); // five in a row (told), then two more (not told again)
    let got = await waitNotices(ops, self.operational_webhook_secret, (l) => ofType(l, 'source.failing').length >= 1, 'source.failing');
    await new Promise((r) => setTimeout(r, 300));
    got = notices(ops, self.operational_webhook_secret);
    const failing = ofType(got, 'source.failing');
    assert.equal(failing.length, 1, 'once per streak');
    assert.equal(failing[0].data.source_id, src.id);
    assert.equal(failing[0].data.source_name, 'gh');
    assert.equal(failing[0].data.rejected_in_row, 5);
    assert.equal(failing[0].data.last_rejection.http_status, 401);
    assert.match(failing[0].data.last_rejection.message_id, /^in_/);
    assert.equal(typeof failing[0].data.last_rejection.error, 'string');
    // a new streak after an accepted request is told again
    assert.equal((await post('right')).status, 202);
    await bad(5);
    await waitNotices(ops, self.operational_webhook_secret, (l) => ofType(l, 'source.failing').length === 2, 'a second source.failing');
  });

  it('notices are retried and logged as deliveries of the operational endpoint', async (t) => {
    let calls = 0;
    const { key, self, ops } = await opsFixture(t, () => (++calls === 1 ? { status: 503 } : { status: 200 }));
    const ep = await createEndpoint(server, key, { url: ops.url('/customer') });
    const off = await api(server, 'PATCH', `/v1/endpoints/${ep.id}`, { key, body: { is_active: false } });
    assert.equal(off.status, 200, off.text);
    const log = await pollJson(server, key, `/v1/endpoints/${self.operational_endpoint_id}/deliveries`,
      (j) => j.data.length === 1 && j.data[0].status === 'delivered', { what: 'the notice delivered after a retry' });
    const d = await getJson(server, key, `/v1/deliveries/${log.data[0].id}`);
    assert.equal(d.attempts.length, 2);
    assert.deepEqual(d.attempts.map((a) => a.response_status).sort(), [200, 503]);
    assert.equal(d.payload.type, 'endpoint.disabled');
    assert.equal(d.payload.data.endpoint_id, ep.id);
    assert.equal(ops.deliveries().length, 2);
  });

  it("the operational endpoint's own failures make no notices, and it takes no customer events", async (t) => {
    const { key, self, ops } = await opsFixture(t, () => ({ status: 500 }));
    const custRx = await startReceiver();
    t.after(() => custRx.close());
    const ep = await createEndpoint(server, key, { url: custRx.url('/hook') });
    // notices that all fail, until the operational endpoint is disabled itself
    for (let i = 0; i < DISABLE_AFTER; i++) {
      await api(server, 'PATCH', `/v1/endpoints/${ep.id}`, { key, body: { is_active: i % 2 === 1 } });
    }
    await pollJson(server, key, `/v1/endpoints/${self.operational_endpoint_id}`, (j) => j.is_active === false,
      { what: 'the failing operational endpoint disabled' });
    const deliveries = await endpointDeliveries(server, key, self.operational_endpoint_id);
    assert.equal(deliveries.length, DISABLE_AFTER, 'one per switch, none about its own trouble');
    // customer events go to the customer endpoint only; endpoint_ids cannot name the operational one
    await api(server, 'PATCH', `/v1/endpoints/${ep.id}`, { key, body: { is_active: true } });
    await emit(server, key, { type: 'order.paid', data: {} });
    await custRx.waitFor((r) => r.filter((x) => !x.isPing).length === 1, { what: 'the customer delivery' });
    assert.equal((await endpointDeliveries(server, key, self.operational_endpoint_id)).length, DISABLE_AFTER);
    const targeted = await api(server, 'POST', '/v1/events', {
      key, body: { type: 'order.paid', data: {}, endpoint_ids: [self.operational_endpoint_id] },
    });
    assert.equal(targeted.status, 400, targeted.text);
    assert.equal(targeted.json.field, 'endpoint_ids');
    // setting the URL again brings it back, its failures forgotten
    const back = await api(server, 'PATCH', '/v1/org', { key, body: { operational_webhook_url: ops.url('/ops') } });
    assert.equal(back.status, 200, back.text);
    const revived = await getJson(server, key, `/v1/endpoints/${self.operational_endpoint_id}`);
    assert.equal(revived.is_active, true);
    assert.equal(revived.consecutive_failures, 0);
  });

  it("the operational endpoint's events filter takes notice types only, and is applied", async (t) => {
    const { key, self, ops } = await opsFixture(t);
    const path = `/v1/endpoints/${self.operational_endpoint_id}`;
    const wrong = await api(server, 'PATCH', path, { key, body: { events: ['order.paid'] } });
    assert.equal(wrong.status, 400, wrong.text);
    assert.equal(wrong.json.field, 'events');
    const ok = await api(server, 'PATCH', path, { key, body: { events: ['endpoint.*'] } });
    assert.equal(ok.status, 200, ok.text);
    const failing = await startReceiver({ fallback: 500 });
    t.after(() => failing.close());
    await createEndpoint(server, key, { url: failing.url('/hook') });
    for (let i = 0; i < DISABLE_AFTER; i++) await emit(server, key, { type: 'order.paid', data: { i } });
    const got = await waitNotices(ops, self.operational_webhook_secret, (l) => l.length >= 1, 'the disable');
    await new Promise((r) => setTimeout(r, 300));
    assert.deepEqual(notices(ops, self.operational_webhook_secret).map((n) => n.type), ['endpoint.disabled'],
      `no delivery.exhausted through the filter: ${got.map((n) => n.type)}`);
  });

  it('an org without an operational URL gets no notices and no extra deliveries', async (t) => {
    const { key } = await createOrgWithKey(server);
    const failing = await startReceiver({ fallback: 410 });
    t.after(() => failing.close());
    const ep = await createEndpoint(server, key, { url: failing.url('/hook') });
    await emit(server, key, { type: 'order.paid', data: {} });
    await pollJson(server, key, `/v1/endpoints/${ep.id}`, (j) => j.is_active === false, { what: 'the disable' });
    const events = await getJson(server, key, '/v1/events?limit=250');
    assert.deepEqual(events.data.map((e) => e.type), ['order.paid']);
  });
});
