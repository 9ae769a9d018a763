'use strict';
// §2.3 event types and subscription checks, §2.4 endpoints (ping, PATCH, DELETE, test),
// §2.5 fan-out (filters, inactive endpoints, endpoint_ids, producer-id dedupe),
// §4.3 auto-disable, §2.6 delivery lists and GET /v1/events/{id}.

const { describe, it, before, after } = require('node:test');
const assert = require('node:assert/strict');
const { api, createOrgWithKey, createKey, sleep, TIME_RE } = require('./lib/hookd');
const {
  signStandard,
  standardSignatures,
  pipelineFixture,
  uniqueType,
  createEventType,
  createEndpoint,
  emit,
  getJson,
  pollJson,
  waitDelivery,
  waitEventSettled,
  waitEndpoint,
  startReceiver,
} = require('./lib/pipeline');

const DISABLE_AFTER = 3;

describe('pipeline: catalog, endpoints and fan-out', () => {
  let fx;
  before(async () => {
    fx = await pipelineFixture(null, {
      args: ['--retry-schedule', '100ms,200ms', '--disable-after', String(DISABLE_AFTER)],
    });
  });
  after(async () => {
    await fx?.cleanup();
  });

  it('event types: create, get, list sorted by name, patch, delete', async () => {
    const { server } = fx;
    const { key } = await createOrgWithKey(server, ['events']);
    const p = uniqueType('cat');
    const b = await createEventType(server, `${p}.b`, 'bee');
    const a = await createEventType(server, `${p}.a`, 'ay');
    assert.equal(a.name, `${p}.a`);
    assert.equal(a.description, 'ay');
    const dup = await api(server, 'POST', '/v1/event-types', { key: server.adminKey, body: { name: `${p}.a`, description: 'x' } });
    assert.equal(dup.status, 409, dup.text);
    const bad = await api(server, 'POST', '/v1/event-types', { key: server.adminKey, body: { name: 'Bad Name', description: 'x' } });
    assert.equal(bad.status, 400, bad.text);
    assert.equal(bad.json.field, 'name');
    // org keys may read, not write
    const forbidden = await api(server, 'POST', '/v1/event-types', { key, body: { name: `${p}.c`, description: 'x' } });
    assert.equal(forbidden.status, 403, forbidden.text);
    const one = await getJson(server, key, `/v1/event-types/${p}.b`);
    assert.equal(one.name, b.name);
    const list = await getJson(server, key, '/v1/event-types?limit=250');
    const names = list.data.map((t) => t.name);
    const mine = names.filter((n) => n.startsWith(p + '.'));
    assert.deepEqual(mine, [`${p}.a`, `${p}.b`]);
    const patched = await api(server, 'PATCH', `/v1/event-types/${p}.b`, { key: server.adminKey, body: { description: 'bee 2' } });
    assert.equal(patched.status, 200, patched.text);
    assert.equal(patched.json.description, 'bee 2');
    const del = await api(server, 'DELETE', `/v1/event-types/${p}.b`, { key: server.adminKey });
    assert.equal(del.status, 200, del.text);
    assert.equal((await api(server, 'GET', `/v1/event-types/${p}.b`, { key })).status, 404);
  });

  it('an event type that endpoints subscribe to cannot be deleted: 409 naming them (issue 18)', async () => {
    const { server, rx } = fx;
    const admin = server.adminKey;
    const { key } = await createOrgWithKey(server);
    const p = uniqueType('sub');
    await createEventType(server, `${p}.created`, 'c');
    await createEventType(server, `${p}.paid`, 'p');
    const exact = await createEndpoint(server, key, { url: rx.url('/sub-a'), events: [`${p}.created`] });
    const wild = await createEndpoint(server, key, { url: rx.url('/sub-b'), events: [`${p}.*`] });
    const refused = await api(server, 'DELETE', `/v1/event-types/${p}.created`, { key: admin });
    assert.equal(refused.status, 409, refused.text);
    assert.equal(refused.json.error, 'conflict');
    assert.ok(refused.json.message.includes(exact.id), refused.text);
    assert.ok(!refused.json.message.includes(wild.id), 'the wildcard still matches p.paid');
    assert.equal((await api(server, 'GET', `/v1/event-types/${p}.created`, { key })).status, 200);
    // taken out of the endpoint's events, the type can go
    const patched = await api(server, 'PATCH', `/v1/endpoints/${exact.id}`, { key, body: { events: [`${p}.paid`] } });
    assert.equal(patched.status, 200, patched.text);
    assert.equal((await api(server, 'DELETE', `/v1/event-types/${p}.created`, { key: admin })).status, 200);
    // the last type under a wildcard is held by it too
    assert.equal((await api(server, 'DELETE', `/v1/endpoints/${exact.id}`, { key })).status, 200);
    const last = await api(server, 'DELETE', `/v1/event-types/${p}.paid`, { key: admin });
    assert.equal(last.status, 409, last.text);
    assert.ok(last.json.message.includes(wild.id), last.text);
    // and what is left stays consistent: the wildcard endpoint can be saved again as it is
    const resave = await api(server, 'PATCH', `/v1/endpoints/${wild.id}`, { key, body: { events: [`${p}.*`] } });
    assert.equal(resave.status, 200, resave.text);
  });

  it('ping: a failing ping (non-2xx or no answer) saves nothing; a good one sets verified_at', async () => {
    const { server } = fx;
    const { key } = await createOrgWithKey(server);
    const rx = await startReceiver({ pingAnswer: 500 });
    try {
      const res = await api(server, 'POST', '/v1/endpoints', { key, body: { url: rx.url('/p') } });
      assert.equal(res.status, 400, res.text);
      assert.equal(res.json.error, 'ping_failed');
      assert.equal(res.json.status_code, 500);
      assert.equal(typeof res.json.message, 'string');
      assert.equal(rx.pings().length, 1, 'the ping was sent');
      rx.pingAnswer = 404;
      const res404 = await api(server, 'POST', '/v1/endpoints', { key, body: { url: rx.url('/p') } });
      assert.equal(res404.status, 400, res404.text);
      assert.equal(res404.json.status_code, 404);
      // nobody listening: no status code
      const dead = await startReceiver();
      const deadUrl = dead.url('/dead');
      await dead.close();
      const resDead = await api(server, 'POST', '/v1/endpoints', { key, body: { url: deadUrl } });
      assert.equal(resDead.status, 400, resDead.text);
      assert.equal(resDead.json.error, 'ping_failed');
      assert.equal(resDead.json.status_code, null);
      const list = await getJson(server, key, '/v1/endpoints');
      assert.deepEqual(list.data, [], 'nothing saved');
      // a redirect is not a success either
      rx.pingAnswer = { status: 302, headers: { Location: rx.url('/elsewhere') } };
      const res302 = await api(server, 'POST', '/v1/endpoints', { key, body: { url: rx.url('/p') } });
      assert.equal(res302.status, 400, res302.text);
      assert.equal(res302.json.status_code, 302);

      // the ping is a signed webhook.ping event; success sets verified_at
      rx.pingAnswer = 204;
      const t0 = Date.now();
      const ok = await api(server, 'POST', '/v1/endpoints', { key, body: { url: rx.url('/p') } });
      assert.equal(ok.status, 201, ok.text);
      assert.match(ok.json.verified_at, TIME_RE);
      assert.ok(Math.abs(Date.parse(ok.json.verified_at) - t0) < 10000);
      const ping = rx.pings().at(-1);
      const env = JSON.parse(ping.text);
      assert.equal(env.type, 'webhook.ping');
      assert.equal(ping.headers['x-webhook-event'], 'webhook.ping');
      assert.equal(ping.headers['content-type'], 'application/json');
      assert.equal(ping.headers['webhook-id'], env.id);
      // a ping is not a delivery: no id that the delivery log could not find (issue 18)
      assert.equal(ping.headers['x-webhook-delivery'], undefined);
      assert.equal(
        standardSignatures(ping.headers['webhook-signature'])[0],
        signStandard(ok.json.secret, env.id, ping.headers['webhook-timestamp'], ping.body)
      );
      assert.equal((await getJson(server, key, '/v1/endpoints')).data.length, 1);

      // PATCH to a new URL re-pings it with the existing secret; a failing one changes nothing
      const ep = ok.json;
      rx.pingAnswer = 500;
      const badPatch = await api(server, 'PATCH', `/v1/endpoints/${ep.id}`, { key, body: { url: rx.url('/p2') } });
      assert.equal(badPatch.status, 400, badPatch.text);
      assert.equal(badPatch.json.error, 'ping_failed');
      assert.equal((await getJson(server, key, `/v1/endpoints/${ep.id}`)).url, rx.url('/p'));
      rx.pingAnswer = 200;
      const goodPatch = await api(server, 'PATCH', `/v1/endpoints/${ep.id}`, { key, body: { url: rx.url('/p3') } });
      assert.equal(goodPatch.status, 200, goodPatch.text);
      assert.equal(goodPatch.json.url, rx.url('/p3'));
      assert.equal(goodPatch.json.secret, undefined);
      const ping3 = rx.pings().at(-1);
      assert.equal(ping3.url, '/p3');
      const env3 = JSON.parse(ping3.text);
      assert.equal(
        standardSignatures(ping3.headers['webhook-signature'])[0],
        signStandard(ep.secret, env3.id, ping3.headers['webhook-timestamp'], ping3.body)
      );
    } finally {
      await rx.close();
    }
  });

  it('filters: [] and omitted = all, exact names, prefix.* at any depth; others get nothing', async () => {
    const { server, rx } = fx;
    const { key } = await createOrgWithKey(server);
    const p = uniqueType('flt');
    for (const n of ['order.created', 'order.paid', 'user.created', 'orderx.created']) {
      await createEventType(server, `${p}.${n}`);
    }
    const eps = {
      omitted: await createEndpoint(server, key, { url: rx.url('/f-omitted') }),
      empty: await createEndpoint(server, key, { url: rx.url('/f-empty'), events: [] }),
      orderWild: await createEndpoint(server, key, { url: rx.url('/f-orderwild'), events: [`${p}.order.*`] }),
      userExact: await createEndpoint(server, key, { url: rx.url('/f-userexact'), events: [`${p}.user.created`] }),
      top: await createEndpoint(server, key, { url: rx.url('/f-top'), events: [`${p}.*`] }),
      two: await createEndpoint(server, key, {
        url: rx.url('/f-two'),
        events: [`${p}.order.paid`, `${p}.user.created`],
      }),
    };
    const cases = [
      [`${p}.order.created`, ['omitted', 'empty', 'orderWild', 'top']],
      [`${p}.order.paid`, ['omitted', 'empty', 'orderWild', 'top', 'two']],
      [`${p}.user.created`, ['omitted', 'empty', 'userExact', 'top', 'two']],
      [`${p}.order.created.v2`, ['omitted', 'empty', 'orderWild', 'top']], // any depth; not in the catalog
      [`${p}.orderx.created`, ['omitted', 'empty', 'top']], // "order.*" is not a string prefix
      [`${p}.order`, ['omitted', 'empty', 'top']], // the prefix itself does not match "order.*"
      [`${p}_other.thing`, ['omitted', 'empty']],
    ];
    const idToName = Object.fromEntries(Object.entries(eps).map(([k, v]) => [v.id, k]));
    for (const [type, want] of cases) {
      const evt = await emit(server, key, { type, data: { type } });
      assert.equal(evt.deliveries, want.length, `${type}: ${JSON.stringify(evt)}`);
      const ds = await waitEventSettled(server, key, evt.id, want.length);
      assert.deepEqual(ds.map((d) => idToName[d.endpoint_id]).sort(), [...want].sort(), type);
      for (const d of ds) assert.equal(d.status, 'delivered');
    }
    // and the receiver saw exactly that
    const got = {};
    for (const r of rx.deliveries().filter((x) => x.url.startsWith('/f-'))) {
      const t = r.headers['x-webhook-event'];
      (got[t] ||= []).push(r.url);
    }
    for (const [type, want] of cases) {
      assert.deepEqual(
        (got[type] || []).sort(),
        want.map((w) => eps[w].url.slice(rx.base.length)).sort(),
        `receiver for ${type}`
      );
    }
  });

  it('inactive endpoints get no delivery at all (created inactive or disabled by PATCH)', async () => {
    const { server, rx } = fx;
    const { key } = await createOrgWithKey(server);
    const off = await createEndpoint(server, key, { url: rx.url('/off'), is_active: false });
    assert.equal(off.is_active, false);
    const on = await createEndpoint(server, key, { url: rx.url('/on') });
    const type = uniqueType('inactive');
    const e1 = await emit(server, key, { type, data: {} });
    assert.equal(e1.deliveries, 1);
    const ds = await waitEventSettled(server, key, e1.id, 1);
    assert.equal(ds[0].endpoint_id, on.id);
    const patched = await api(server, 'PATCH', `/v1/endpoints/${on.id}`, { key, body: { is_active: false } });
    assert.equal(patched.status, 200, patched.text);
    assert.equal(patched.json.is_active, false);
    const e2 = await emit(server, key, { type, data: {} });
    assert.equal(e2.deliveries, 0);
    await sleep(300);
    assert.equal(rx.deliveries().filter((r) => r.url === '/off').length, 0);
    assert.equal(rx.deliveries().filter((r) => r.url === '/on').length, 1);
    assert.deepEqual((await getJson(server, key, `/v1/deliveries?event_id=${e2.id}`)).data, []);
    // ?is_active= filters the list
    const act = await getJson(server, key, '/v1/endpoints?is_active=false');
    assert.deepEqual(act.data.map((e) => e.id).sort(), [off.id, on.id].sort());
    assert.deepEqual((await getJson(server, key, '/v1/endpoints?is_active=true')).data, []);
  });

  it('endpoint_ids restricts the fan-out (filter not applied; inactive skipped; unknown id → 400)', async () => {
    const { server, rx } = fx;
    const { key } = await createOrgWithKey(server);
    const p = uniqueType('eids');
    await createEventType(server, `${p}.a`);
    await createEventType(server, `${p}.b`);
    const a = await createEndpoint(server, key, { url: rx.url('/ids-a'), events: [`${p}.a`] });
    const b = await createEndpoint(server, key, { url: rx.url('/ids-b'), events: [`${p}.b`] });
    const c = await createEndpoint(server, key, { url: rx.url('/ids-c'), is_active: false });
    const evt = await emit(server, key, { type: `${p}.a`, data: {}, endpoint_ids: [b.id] });
    assert.equal(evt.deliveries, 1);
    const ds = await waitEventSettled(server, key, evt.id, 1);
    assert.equal(ds[0].endpoint_id, b.id, 'only b, whose filter does not even match');
    const [req] = await rx.waitForPath('/ids-b');
    assert.equal(req.headers['webhook-id'], evt.id);
    const evt2 = await emit(server, key, { type: `${p}.a`, data: {}, endpoint_ids: [a.id, c.id] });
    assert.equal(evt2.deliveries, 1, 'the inactive one is skipped');
    // another org's endpoint or a made-up id
    const other = await createOrgWithKey(server);
    const foreign = await createEndpoint(server, other.key, { url: rx.url('/ids-foreign') });
    for (const ids of [['ep_01ARZ3NDEKTSV4RRFFQ69G5FAV'], [a.id, foreign.id]]) {
      const type = uniqueType('eidsbad');
      const res = await api(server, 'POST', '/v1/events', { key, body: { type, data: {}, endpoint_ids: ids } });
      assert.equal(res.status, 400, res.text);
      assert.equal(res.json.field, 'endpoint_ids');
      const stored = await getJson(server, key, `/v1/events?type=${type}`);
      assert.deepEqual(stored.data, [], 'no partial write');
    }
    await sleep(200);
    assert.equal(rx.deliveries().filter((r) => r.url === '/ids-foreign').length, 0);
    assert.equal(rx.deliveries().filter((r) => r.url === '/ids-a').length, 1);
  });

  it('producer id dedupe: the same id again → 200 with the original, no new delivery', async () => {
    const { server, rx } = fx;
    const { key } = await createOrgWithKey(server);
    await createEndpoint(server, key, { url: rx.url('/dedupe') });
    const type = uniqueType('dedupe');
    const id = `order-${Date.now()}_x`;
    const first = await emit(server, key, { type, data: { n: 1 }, id });
    assert.equal(first.id, id);
    assert.equal(first.deliveries, 1);
    await waitEventSettled(server, key, id, 1);
    const second = await api(server, 'POST', '/v1/events', { key, body: { type, data: { n: 2 }, id } });
    assert.equal(second.status, 200, second.text);
    assert.equal(second.json.id, id);
    assert.equal(second.json.type, type);
    assert.equal(second.json.created_at, first.created_at);
    await sleep(300);
    const reqs = rx.deliveries().filter((r) => r.url === '/dedupe');
    assert.equal(reqs.length, 1);
    assert.equal(reqs[0].headers['webhook-id'], id);
    assert.deepEqual(JSON.parse(reqs[0].text).data, { n: 1 });
    assert.equal((await getJson(server, key, `/v1/deliveries?event_id=${id}`)).data.length, 1);
    // ids are per org: another org may use it
    const other = await createOrgWithKey(server);
    const res = await api(server, 'POST', '/v1/events', { key: other.key, body: { type, data: {}, id } });
    assert.equal(res.status, 202, res.text);
    // Idempotency-Key: the first response replayed, no new event or delivery
    const headers = { 'Idempotency-Key': `evt-${Date.now()}-${Math.random()}` };
    const k1 = await api(server, 'POST', '/v1/events', { key, body: { type, data: { k: 1 } }, headers });
    assert.equal(k1.status, 202, k1.text);
    const k2 = await api(server, 'POST', '/v1/events', { key, body: { type, data: { k: 1 } }, headers });
    assert.equal(k2.status, 202, k2.text);
    assert.deepEqual(k2.json, k1.json);
    await waitEventSettled(server, key, k1.json.id, 1);
    await sleep(200);
    assert.equal(rx.deliveries().filter((r) => r.url === '/dedupe' && JSON.parse(r.text).data.k === 1).length, 1);
    // concurrent duplicates: exactly one is created
    const id2 = `burst-${Date.now()}`;
    const all = await Promise.all(
      Array.from({ length: 8 }, () => api(server, 'POST', '/v1/events', { key, body: { type, data: {}, id: id2 } }))
    );
    assert.deepEqual(all.map((r) => r.status).sort(), [200, 200, 200, 200, 200, 200, 200, 202]);
    await waitEventSettled(server, key, id2, 1);
    await sleep(200);
    assert.equal(rx.deliveries().filter((r) => r.headers['webhook-id'] === id2).length, 1);
  });

  it('auto-disable at --disable-after consecutive failures; a success resets the count; re-enable resets the fields', async () => {
    const { server, rx } = fx;
    const { key } = await createOrgWithKey(server);
    const ep = await createEndpoint(server, key, { url: rx.url('/ad') });
    let ok = false;
    rx.handler = (r) => (r.url === '/ad' ? (ok ? 200 : 400) : 200);
    try {
      const type = uniqueType('ad');
      const one = async () => {
        const evt = await emit(server, key, { type, data: {} });
        return (await waitEventSettled(server, key, evt.id, evt.deliveries))[0];
      };
      // fail, fail, success: the count resets
      for (let i = 1; i < DISABLE_AFTER; i++) {
        assert.equal((await one()).status, 'failed');
        const e = await waitEndpoint(server, key, ep.id, (x) => x.consecutive_failures === i);
        assert.equal(e.is_active, true);
        assert.ok(e.last_failure_at);
      }
      ok = true;
      assert.equal((await one()).status, 'delivered');
      let e = await waitEndpoint(server, key, ep.id, (x) => x.consecutive_failures === 0);
      assert.ok(e.last_success_at);
      ok = false;
      // then DISABLE_AFTER failures in a row disable it
      for (let i = 1; i < DISABLE_AFTER; i++) await one();
      e = await getJson(server, key, `/v1/endpoints/${ep.id}`);
      assert.equal(e.is_active, true, 'one short of the threshold');
      assert.equal(e.consecutive_failures, DISABLE_AFTER - 1);
      await one();
      e = await waitEndpoint(server, key, ep.id, (x) => x.is_active === false);
      assert.equal(e.disabled_reason, 'consecutive_failures');
      assert.match(e.disabled_at, TIME_RE);
      assert.equal(e.consecutive_failures, DISABLE_AFTER);
      // said in the log, with the ids and the reason (issue 18)
      const disabled = server.logs().filter((l) => l.msg === 'endpoint disabled' && l.endpoint === ep.id);
      assert.equal(disabled.length, 1, JSON.stringify(disabled));
      assert.equal(disabled[0].level, 'warn');
      assert.equal(disabled[0].reason, 'consecutive_failures');
      assert.equal(disabled[0].org, ep.org_id);
      const none = await emit(server, key, { type, data: {} });
      assert.equal(none.deliveries, 0);
      // re-enable
      const re = await api(server, 'PATCH', `/v1/endpoints/${ep.id}`, { key, body: { is_active: true } });
      assert.equal(re.status, 200, re.text);
      assert.equal(re.json.is_active, true);
      assert.equal(re.json.consecutive_failures, 0);
      assert.equal(re.json.disabled_at, null);
      assert.equal(re.json.disabled_reason, null);
      assert.ok(
        server.logs().some((l) => l.msg === 'endpoint enabled' && l.endpoint === ep.id && l.level === 'warn'),
        'the re-enable is logged'
      );
      ok = true;
      assert.equal((await one()).status, 'delivered');
    } finally {
      rx.handler = null;
    }
  });

  it('a delivery out of attempts is logged at warn with its ids, attempts and last status (issue 18)', async () => {
    const { server, rx } = fx;
    const { key } = await createOrgWithKey(server);
    const ep = await createEndpoint(server, key, { url: rx.url('/gone-wrong') });
    rx.handler = (r) => (r.url === '/gone-wrong' ? 503 : 200);
    try {
      const evt = await emit(server, key, { type: uniqueType('ex'), data: {} });
      const [d] = await waitEventSettled(server, key, evt.id, evt.deliveries);
      assert.equal(d.status, 'exhausted');
      let line;
      for (let i = 0; i < 100 && !line; i++) {
        line = server.logs().find((l) => l.msg === 'delivery exhausted' && l.delivery === d.id);
        if (!line) await sleep(20);
      }
      assert.ok(line, 'the exhausted delivery is logged');
      assert.equal(line.level, 'warn');
      assert.equal(line.endpoint, ep.id);
      assert.equal(line.attempts, 3);
      assert.equal(line.status, 503);
    } finally {
      rx.handler = null;
    }
  });

  it('auto-disable ends the endpoint\'s queued deliveries failed ("endpoint inactive")', async () => {
    const { server, rx } = fx;
    const { key } = await createOrgWithKey(server);
    const ep = await createEndpoint(server, key, { url: rx.url('/adq'), max_in_flight: 1 });
    rx.handler = (r) => (r.url === '/adq' ? { status: 400, delayMs: 150 } : 200);
    try {
      const type = uniqueType('adq');
      const evts = [];
      for (let i = 0; i < 8; i++) evts.push(await emit(server, key, { type, data: { i } }));
      const e = await waitEndpoint(server, key, ep.id, (x) => x.is_active === false, { timeoutMs: 8000 });
      assert.equal(e.disabled_reason, 'consecutive_failures');
      const all = await pollJson(
        server,
        key,
        `/v1/endpoints/${ep.id}/deliveries?limit=250`,
        (j) => j.data.length === 8 && j.data.every((d) => ['failed', 'exhausted'].includes(d.status)),
        { what: 'all 8 deliveries to end', timeoutMs: 8000 }
      );
      for (const d of all.data) assert.equal(d.status, 'failed', JSON.stringify(d));
      const attempted = rx.deliveries().filter((r) => r.url === '/adq').length;
      assert.ok(attempted >= DISABLE_AFTER && attempted < 8, `attempted ${attempted}`);
      const inactive = all.data.filter((d) => d.attempt_count === 0);
      assert.ok(inactive.length >= 1, 'some were still queued');
      for (const d of inactive) assert.equal(d.last_error, 'endpoint inactive');
      // they can be brought back with replay once the endpoint is enabled again
      rx.handler = null;
      const re = await api(server, 'PATCH', `/v1/endpoints/${ep.id}`, { key, body: { is_active: true } });
      assert.equal(re.status, 200, re.text);
      const rep = await api(server, 'POST', `/v1/endpoints/${ep.id}/replay`, {
        key,
        body: { since: new Date(Date.now() - 60000).toISOString() },
      });
      assert.equal(rep.status, 202, rep.text);
      assert.equal(rep.json.queued, 8);
      await pollJson(
        server,
        key,
        `/v1/endpoints/${ep.id}/deliveries?status=delivered&limit=250`,
        (j) => j.data.length === 8,
        { what: '8 replayed deliveries delivered' }
      );
    } finally {
      rx.handler = null;
    }
  });

  it('PATCH is_active:false ends the queued deliveries failed ("endpoint inactive")', async () => {
    const { server, rx } = fx;
    const { key } = await createOrgWithKey(server);
    const ep = await createEndpoint(server, key, { url: rx.url('/pause'), max_in_flight: 1, timeout_seconds: 10 });
    rx.handler = (r) => (r.url === '/pause' ? { hang: true } : 200);
    try {
      const type = uniqueType('pause');
      for (let i = 0; i < 3; i++) await emit(server, key, { type, data: { i } });
      const [req] = await rx.waitForPath('/pause');
      const inFlight = req.headers['x-webhook-delivery'];
      const res = await api(server, 'PATCH', `/v1/endpoints/${ep.id}`, { key, body: { is_active: false } });
      assert.equal(res.status, 200, res.text);
      const all = (await getJson(server, key, `/v1/endpoints/${ep.id}/deliveries`)).data;
      const queued = all.filter((d) => d.id !== inFlight);
      assert.equal(queued.length, 2);
      for (const d of queued) {
        const x = await waitDelivery(server, key, d.id, ['failed', 'exhausted', 'delivered'], { timeoutMs: 3000 });
        assert.equal(x.status, 'failed', JSON.stringify(x));
        assert.equal(x.last_error, 'endpoint inactive');
        assert.equal(x.attempt_count, 0);
      }
      assert.equal(rx.deliveries().filter((r) => r.url === '/pause').length, 1);
    } finally {
      rx.handler = null;
    }
  });

  it('DELETE /v1/orgs/{id}: the queued deliveries of its endpoints are never sent', async () => {
    const { server, rx } = fx;
    const { org, key } = await createOrgWithKey(server);
    const ep = await createEndpoint(server, key, { url: rx.url('/orgdel'), max_in_flight: 1 });
    // the first request takes 1 s (so the others queue behind it), later ones are answered at once
    rx.handler = (r) =>
      r.url === '/orgdel' && rx.deliveries().filter((x) => x.url === '/orgdel').length === 1
        ? { status: 200, delayMs: 1000 }
        : 200;
    try {
      const type = uniqueType('orgdel');
      for (let i = 0; i < 3; i++) await emit(server, key, { type, data: { i } });
      const [req] = await rx.waitForPath('/orgdel');
      const queued = (await getJson(server, key, `/v1/endpoints/${ep.id}/deliveries`)).data.filter(
        (d) => d.id !== req.headers['x-webhook-delivery']
      );
      assert.equal(queued.length, 2);
      for (const d of queued) assert.ok(['pending', 'in_flight'].includes(d.status), d.status);
      const del = await api(server, 'DELETE', `/v1/orgs/${org.id}`, { key: server.adminKey });
      assert.equal(del.status, 200, del.text);
      // the org and its endpoints are gone (§2.2: endpoints deleted, queued deliveries exhausted)
      const gone = await api(server, 'GET', `/v1/endpoints/${ep.id}?org_id=${org.id}`, { key: server.adminKey });
      assert.equal(gone.status, 404, gone.text);
      // let the slow first attempt end, and give the queue time to move on
      await pollJson(server, server.adminKey, '/healthz', () => req.answeredAt !== undefined, { timeoutMs: 3000 });
      await sleep(700);
      const sent = rx.deliveries().filter((r) => r.url === '/orgdel');
      assert.equal(
        sent.length,
        1,
        `deliveries queued for an endpoint of a deleted org were sent anyway: ${sent
          .slice(1)
          .map((r) => r.headers['x-webhook-delivery'])
          .join(', ')}`
      );
    } finally {
      rx.handler = null;
    }
  });

  it('max_in_flight and rate_limit bound the requests to one endpoint', async () => {
    const { server } = fx;
    const { key } = await createOrgWithKey(server);
    const rx = await startReceiver({ handler: () => ({ status: 200, delayMs: 150 }) });
    const rx2 = await startReceiver();
    try {
      await createEndpoint(server, key, { url: rx.url('/mif'), max_in_flight: 2 });
      const ep2 = await createEndpoint(server, key, { url: rx2.url('/rate'), rate_limit: 5 });
      assert.equal(ep2.rate_limit, 5);
      const type = uniqueType('limits');
      const t0 = Date.now();
      for (let i = 0; i < 10; i++) await emit(server, key, { type, data: { i } });
      await rx.waitFor((l) => l.length >= 10, { what: '10 deliveries to /mif' });
      const got = await rx2.waitFor((l) => l.length >= 10, { what: '10 deliveries to /rate' });
      assert.ok(rx.maxInFlight <= 2, `at most 2 in flight (saw ${rx.maxInFlight})`);
      assert.equal(rx.maxInFlight, 2, 'and it does use 2');
      // 5/s: ten deliveries need at least ~1 s beyond the burst
      const span = got.at(-1).at - t0;
      assert.ok(span >= 800, `10 deliveries at 5/s took ${span} ms`);
    } finally {
      await rx.close();
      await rx2.close();
    }
  });

  it('a slow ping does not block the API: other requests are answered meanwhile', async () => {
    const { server } = fx;
    const { key } = await createOrgWithKey(server);
    const slow = await startReceiver({ pingAnswer: { status: 200, delayMs: 2000 } });
    try {
      const creates = Array.from({ length: 12 }, (_, i) =>
        api(server, 'POST', '/v1/endpoints', { key, body: { url: slow.url(`/slow${i}`), timeout_seconds: 5 } })
      );
      await slow.waitFor(() => slow.pings().length >= 12, { what: '12 pings' }).catch(() => {});
      const t0 = Date.now();
      const probes = await Promise.all([
        api(server, 'GET', '/healthz'),
        api(server, 'GET', '/v1/endpoints', { key }),
        api(server, 'GET', '/v1/org', { key }),
      ]);
      const took = Date.now() - t0;
      for (const p of probes) assert.equal(p.status, 200, p.text);
      assert.ok(took < 1000, `answered in ${took} ms while 12 pings hang`);
      const results = await Promise.all(creates);
      for (const r of results) assert.equal(r.status, 201, r.text);
    } finally {
      await slow.close();
    }
  });

  it('scopes: emitting needs "events", the delivery log needs "webhooks"', async () => {
    const { server } = fx;
    const { org } = await createOrgWithKey(server);
    const ev = (await createKey(server, org.id, ['events'])).key;
    const wh = (await createKey(server, org.id, ['webhooks'])).key;
    assert.equal((await api(server, 'POST', '/v1/events', { key: wh, body: { type: 'a.b', data: {} } })).status, 403);
    assert.equal((await api(server, 'GET', '/v1/deliveries', { key: ev })).status, 403);
    assert.equal((await api(server, 'GET', '/v1/endpoints', { key: ev })).status, 403);
    assert.equal((await api(server, 'POST', '/v1/events', { key: ev, body: { type: 'a.b', data: {} } })).status, 202);
    assert.equal((await api(server, 'GET', '/v1/deliveries', { key: wh })).status, 200);
  });

  it('DELETE: {"status":"deleted"}, queued deliveries → exhausted, gone from lists, history readable', async () => {
    const { server, rx } = fx;
    const { key } = await createOrgWithKey(server);
    const ep = await createEndpoint(server, key, { url: rx.url('/del'), max_in_flight: 1, timeout_seconds: 10 });
    rx.handler = (r) => (r.url === '/del' ? { hang: true } : 200);
    try {
      const type = uniqueType('del');
      const evts = [];
      for (let i = 0; i < 3; i++) evts.push(await emit(server, key, { type, data: { i } }));
      await rx.waitForPath('/del'); // the first is in flight and hangs; two are queued
      const before = (await getJson(server, key, `/v1/endpoints/${ep.id}/deliveries`)).data;
      assert.equal(before.length, 3);
      const res = await api(server, 'DELETE', `/v1/endpoints/${ep.id}`, { key });
      assert.equal(res.status, 200, res.text);
      assert.equal(res.json.status, 'deleted');
      assert.equal(res.json.id, ep.id);
      assert.equal((await api(server, 'GET', `/v1/endpoints/${ep.id}`, { key })).status, 404);
      assert.deepEqual((await getJson(server, key, '/v1/endpoints')).data, []);
      const inFlight = rx.deliveries().find((r) => r.url === '/del').headers['x-webhook-delivery'];
      const queued = before.filter((d) => d.id !== inFlight);
      assert.equal(queued.length, 2);
      for (const d of queued) {
        const x = await waitDelivery(server, key, d.id, ['exhausted', 'failed', 'delivered'], { timeoutMs: 3000 });
        assert.equal(x.status, 'exhausted', JSON.stringify(x));
        assert.equal(x.attempt_count, 0);
      }
      // no new deliveries for it
      const e2 = await emit(server, key, { type, data: {} });
      assert.equal(e2.deliveries, 0);
      assert.equal(rx.deliveries().filter((r) => r.url === '/del').length, 1);
      // past deliveries remain readable
      const old = await getJson(server, key, `/v1/deliveries/${inFlight}`);
      assert.equal(old.endpoint_id, ep.id);
    } finally {
      rx.handler = null;
    }
  });

  it('deliveries list: filters status, endpoint_id, event_id (and per-endpoint list); bad status → 400', async () => {
    const { server, rx } = fx;
    const { key } = await createOrgWithKey(server);
    const good = await createEndpoint(server, key, { url: rx.url('/lst-ok') });
    const bad = await createEndpoint(server, key, { url: rx.url('/lst-bad') });
    rx.handler = (r) => (r.url === '/lst-bad' ? 422 : 200);
    try {
      const type = uniqueType('lst');
      const e1 = await emit(server, key, { type, data: { n: 1 } });
      const e2 = await emit(server, key, { type, data: { n: 2 } });
      await waitEventSettled(server, key, e1.id, 2);
      await waitEventSettled(server, key, e2.id, 2);
      const all = (await getJson(server, key, '/v1/deliveries?limit=250')).data;
      assert.equal(all.length, 4);
      for (const d of all) {
        for (const f of [
          'id',
          'event_id',
          'endpoint_id',
          'event_type',
          'status',
          'attempt_count',
          'next_attempt_at',
          'last_attempt_at',
          'last_response_status',
          'last_error',
          'created_at',
          'delivered_at',
        ]) {
          assert.ok(f in d, `field ${f} in ${JSON.stringify(d)}`);
        }
      }
      // newest first
      const created = all.map((d) => d.created_at + d.id);
      assert.deepEqual(created, [...created].sort().reverse());
      const failed = (await getJson(server, key, '/v1/deliveries?status=failed')).data;
      assert.equal(failed.length, 2);
      assert.ok(failed.every((d) => d.status === 'failed' && d.endpoint_id === bad.id));
      const delivered = (await getJson(server, key, '/v1/deliveries?status=delivered')).data;
      assert.equal(delivered.length, 2);
      assert.ok(delivered.every((d) => d.endpoint_id === good.id));
      assert.deepEqual((await getJson(server, key, '/v1/deliveries?status=pending')).data, []);
      const byEp = (await getJson(server, key, `/v1/deliveries?endpoint_id=${good.id}`)).data;
      assert.equal(byEp.length, 2);
      assert.ok(byEp.every((d) => d.endpoint_id === good.id));
      const byEvt = (await getJson(server, key, `/v1/deliveries?event_id=${e1.id}`)).data;
      assert.deepEqual(byEvt.map((d) => d.endpoint_id).sort(), [good.id, bad.id].sort());
      const both = (await getJson(server, key, `/v1/deliveries?event_id=${e2.id}&status=failed`)).data;
      assert.equal(both.length, 1);
      assert.equal(both[0].endpoint_id, bad.id);
      const perEp = (await getJson(server, key, `/v1/endpoints/${bad.id}/deliveries?status=failed`)).data;
      assert.deepEqual(perEp.map((d) => d.id).sort(), failed.map((d) => d.id).sort());
      const future = encodeURIComponent(new Date(Date.now() + 3600e3).toISOString());
      assert.deepEqual((await getJson(server, key, `/v1/deliveries?since=${future}`)).data, []);
      const bogus = await api(server, 'GET', '/v1/deliveries?status=bogus', { key });
      assert.equal(bogus.status, 400, bogus.text);
      assert.equal(bogus.json.field, 'status');
      // another org sees none of them
      const other = await createOrgWithKey(server);
      assert.deepEqual((await getJson(server, other.key, `/v1/deliveries?event_id=${e1.id}`)).data, []);
      assert.equal((await api(server, 'GET', `/v1/deliveries/${all[0].id}`, { key: other.key })).status, 404);
    } finally {
      rx.handler = null;
    }
  });

  it('GET /v1/events/{id} shows the payload (the envelope sent) and its deliveries; GET /v1/events filters by type', async () => {
    const { server, rx } = fx;
    const { key } = await createOrgWithKey(server);
    const a = await createEndpoint(server, key, { url: rx.url('/ev-a') });
    const b = await createEndpoint(server, key, { url: rx.url('/ev-b') });
    const type = uniqueType('evget');
    const evt = await emit(server, key, { type, data: { hello: 'world', list: [1, 2] } });
    await waitEventSettled(server, key, evt.id, 2);
    const [req] = await rx.waitForPath('/ev-a');
    const got = await getJson(server, key, `/v1/events/${evt.id}`);
    assert.equal(got.id, evt.id);
    assert.equal(got.type, type);
    assert.equal(got.created_at, evt.created_at);
    assert.deepEqual(got.payload, JSON.parse(req.text));
    assert.equal(JSON.stringify(got.payload), req.text);
    assert.equal(got.deliveries.length, 2);
    assert.deepEqual(got.deliveries.map((d) => d.endpoint_id).sort(), [a.id, b.id].sort());
    assert.ok(got.deliveries.some((d) => d.id === req.headers['x-webhook-delivery']));
    for (const d of got.deliveries) assert.equal(d.status, 'delivered');
    const list = await getJson(server, key, `/v1/events?type=${type}`);
    assert.deepEqual(list.data.map((e) => e.id), [evt.id]);
    assert.equal((await api(server, 'GET', '/v1/events/evt_01ARZ3NDEKTSV4RRFFQ69G5FAV', { key })).status, 404);
  });

  it('POST /v1/endpoints/{id}/test sends a real, logged delivery', async () => {
    const { server, rx } = fx;
    const { key } = await createOrgWithKey(server);
    const ep = await createEndpoint(server, key, { url: rx.url('/test') });
    const res = await api(server, 'POST', `/v1/endpoints/${ep.id}/test`, { key, body: {} });
    assert.equal(res.status, 202, res.text);
    assert.match(res.json.delivery_id, /^dlv_/);
    const [req] = await rx.waitForPath('/test');
    assert.equal(req.headers['x-webhook-delivery'], res.json.delivery_id);
    assert.equal(req.headers['x-webhook-event'], 'webhook.test');
    assert.equal(
      standardSignatures(req.headers['webhook-signature'])[0],
      signStandard(ep.secret, req.headers['webhook-id'], req.headers['webhook-timestamp'], req.body)
    );
    const d = await waitDelivery(server, key, res.json.delivery_id, 'delivered');
    assert.equal(d.endpoint_id, ep.id);
    const res2 = await api(server, 'POST', `/v1/endpoints/${ep.id}/test`, { key, body: { event_type: 'order.created' } });
    assert.equal(res2.status, 202, res2.text);
    const reqs = await rx.waitForPath('/test', 2);
    assert.equal(reqs[1].headers['x-webhook-event'], 'order.created');
    assert.equal(JSON.parse(reqs[1].text).type, 'order.created');
  });
});

describe('pipeline: subscriptions are checked against the catalog', () => {
  it('endpoint events must exist in the catalog (exact) or match one (wildcard): else 400 unknown_event_type', async (t) => {
    // its own server: a crash here must not take the other tests down with it
    const { server, rx, key } = await pipelineFixture(t);
    const p = uniqueType('sub');
    await createEventType(server, `${p}.order.created`);
    const pingsBefore = rx.pings().length;
    for (const events of [[`${p}.order.deleted`], [`${p}.user.*`], [`${p}.order.created`, `${p}.nope`], [`${p}x.*`]]) {
      const res = await api(server, 'POST', '/v1/endpoints', { key, body: { url: rx.url('/sub'), events } }).catch(
        async (err) => {
          await Promise.race([server.exited, sleep(1000)]);
          assert.fail(
            `POST /v1/endpoints ${JSON.stringify(events)}: ${err.message}; hookd ` +
              `${server.exitSignal ? 'killed by ' + server.exitSignal : 'exit ' + server.exitCode}; ` +
              `stderr ends: ${server.stderr.slice(-120)}`
          );
        }
      );
      assert.equal(res.status, 400, `${JSON.stringify(events)}: ${res.text}`);
      assert.equal(res.json.error, 'unknown_event_type');
      assert.equal(res.json.field, 'events');
    }
    assert.equal((await getJson(server, key, '/v1/endpoints')).data.length, 0, 'nothing saved');
    assert.equal(rx.pings().length, pingsBefore, 'refused before the ping');
    // these are fine
    for (const events of [[`${p}.order.created`], [`${p}.order.*`], [`${p}.*`], []]) {
      const res = await api(server, 'POST', '/v1/endpoints', { key, body: { url: rx.url('/sub'), events } });
      assert.equal(res.status, 201, `${JSON.stringify(events)}: ${res.text}`);
      assert.deepEqual(res.json.events, events);
    }
    // PATCH checks too, and replaces the list
    const ep = (await getJson(server, key, '/v1/endpoints')).data[0];
    const bad = await api(server, 'PATCH', `/v1/endpoints/${ep.id}`, { key, body: { events: [`${p}.zzz`] } });
    assert.equal(bad.status, 400, bad.text);
    assert.equal(bad.json.error, 'unknown_event_type');
    const good = await api(server, 'PATCH', `/v1/endpoints/${ep.id}`, { key, body: { events: [`${p}.order.created`] } });
    assert.equal(good.status, 200, good.text);
    assert.deepEqual(good.json.events, [`${p}.order.created`]);
  });
});
