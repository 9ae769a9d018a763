'use strict';
// §2.5 envelope, §3 signing: the exact bytes POSTed, every header, both signature schemes
// verified here with node:crypto (and the standardwebhooks library), secret rotation, one-shot
// webhook_url deliveries signed with the org's primary secret, custom headers.

const { describe, it, before, after } = require('node:test');
const assert = require('node:assert/strict');
const crypto = require('node:crypto');
const { Webhook } = require('standardwebhooks');
const { api, createOrgWithKey, TIME_RE, SECRET_RE } = require('./lib/hookd');
const {
  signStandard,
  signHex,
  standardSignatures,
  hexSignatures,
  pipelineFixture,
  uniqueType,
  createEndpoint,
  emit,
  getJson,
  waitDelivery,
  waitEventSettled,
  startReceiver,
} = require('./lib/pipeline');

const DLV_RE = /^dlv_[0-9A-HJKMNP-TV-Z]{26}$/;
const EVT_RE = /^evt_[0-9A-HJKMNP-TV-Z]{26}$/;
const UA_RE = /^hookd\/\d+\.\d+\.\d+/;

// Checks what every delivery carries (§3 "Always") and returns the parsed envelope.
function checkCommon(req, { type, attempt = 1 }) {
  assert.equal(req.method, 'POST');
  assert.equal(req.headers['content-type'], 'application/json');
  assert.match(req.headers['user-agent'], UA_RE);
  assert.equal(req.headers['x-webhook-event'], type);
  assert.match(req.headers['x-webhook-delivery'], DLV_RE);
  assert.equal(req.headers['x-webhook-attempt'], String(attempt));
  assert.equal(Number(req.headers['content-length']), req.body.length);
  return JSON.parse(req.text);
}

function nearNow(unixSeconds, atMs, slackS = 5) {
  assert.match(String(unixSeconds), /^\d{10}$/);
  assert.ok(
    Math.abs(Number(unixSeconds) - atMs / 1000) <= slackS,
    `timestamp ${unixSeconds} is near the time of arrival ${atMs / 1000}`
  );
}

describe('pipeline: envelope and signatures', () => {
  let fx;
  before(async () => {
    fx = await pipelineFixture(null, { args: ['--retry-schedule', '100ms,200ms'] });
  });
  after(async () => {
    await fx?.cleanup();
  });

  it('standard scheme: exact envelope bytes, every header, signature verified independently', async () => {
    const { server, rx } = fx;
    const { key } = await createOrgWithKey(server);
    const type = uniqueType('sig');
    const ep = await createEndpoint(server, key, { url: rx.url('/std') });
    assert.match(ep.secret, SECRET_RE);
    assert.equal(ep.signature_scheme, 'standard');
    // sent with insignificant whitespace and escapes: stored and sent compact, with its strings
    // and numbers as the producer wrote them
    const raw =
      `{ "type" : "${type}" , "data" : { "b" : 1 , "a" : [ 1 , 2.5 , true , null ] ,` +
      ` "s" : "caf\\u00e9 \\"q\\" é", "n": { "deep": { } } } }`;
    const res = await api(server, 'POST', '/v1/events', {
      key,
      body: raw,
      headers: { 'Content-Type': 'application/json' },
    });
    assert.equal(res.status, 202, res.text);
    const evt = res.json;
    assert.match(evt.id, EVT_RE);
    assert.equal(evt.type, type);
    assert.equal(evt.deliveries, 1);
    assert.match(evt.created_at, TIME_RE);

    const [req] = await rx.waitForPath('/std');
    const env = checkCommon(req, { type });
    // exactly the four keys, in order, compact, data as sent (values)
    assert.deepEqual(Object.keys(env), ['id', 'type', 'timestamp', 'data']);
    assert.equal(env.id, evt.id);
    assert.equal(env.type, type);
    assert.match(env.timestamp, TIME_RE);
    assert.ok(Math.abs(Date.parse(env.timestamp) - Date.parse(evt.created_at)) < 5000);
    assert.deepEqual(env.data, {
      b: 1,
      a: [1, 2.5, true, null],
      s: 'café "q" é',
      n: { deep: {} },
    });
    assert.equal(
      req.text,
      `{"id":"${evt.id}","type":"${type}","timestamp":"${env.timestamp}","data":` +
        `{"b":1,"a":[1,2.5,true,null],"s":"caf\\u00e9 \\"q\\" é","n":{"deep":{}}}}`,
      'the body is the compact envelope'
    );

    // standard scheme headers
    assert.equal(req.headers['webhook-id'], evt.id);
    nearNow(req.headers['webhook-timestamp'], req.at);
    const sigs = standardSignatures(req.headers['webhook-signature']);
    assert.equal(sigs.length, 1, req.headers['webhook-signature']);
    assert.equal(sigs[0], signStandard(ep.secret, evt.id, req.headers['webhook-timestamp'], req.body));
    // and the reference library accepts it unchanged
    const wh = new Webhook(ep.secret);
    assert.deepEqual(wh.verify(req.text, req.headers), env);
    // a signature made with another secret does not match (the check above can fail)
    assert.notEqual(
      sigs[0],
      signStandard('whsec_' + Buffer.alloc(32, 1).toString('base64'), evt.id, req.headers['webhook-timestamp'], req.body)
    );

    // the log shows the same request: delivery id, headers as signed and sent, payload
    const dlvId = req.headers['x-webhook-delivery'];
    const d = await waitDelivery(server, key, dlvId, 'delivered');
    assert.equal(d.event_id, evt.id);
    assert.equal(d.endpoint_id, ep.id);
    assert.equal(d.event_type, type);
    assert.equal(d.attempt_count, 1);
    assert.equal(d.last_response_status, 200);
    assert.match(d.delivered_at, TIME_RE);
    assert.deepEqual(d.payload, env);
    assert.equal(d.attempts.length, 1);
    const logged = Object.fromEntries(
      Object.entries(d.attempts[0].request_headers).map(([k, v]) => [k.toLowerCase(), v])
    );
    for (const h of [
      'content-type',
      'user-agent',
      'x-webhook-event',
      'x-webhook-delivery',
      'x-webhook-attempt',
      'webhook-id',
      'webhook-timestamp',
      'webhook-signature',
    ]) {
      assert.equal(logged[h], req.headers[h], `request_headers.${h}`);
    }
  });

  it('hex scheme: X-Webhook-Signature sha256=<hex> over "{ts}.{body}" keyed by the secret string', async () => {
    const { server, rx } = fx;
    const { key } = await createOrgWithKey(server);
    const type = uniqueType('hex');
    const ep = await createEndpoint(server, key, { url: rx.url('/hex'), signature_scheme: 'hex' });
    assert.equal(ep.signature_scheme, 'hex');
    const evt = await emit(server, key, { type, data: { amount: 42, currency: 'EUR' } });
    const [req] = await rx.waitForPath('/hex');
    const env = checkCommon(req, { type });
    assert.equal(req.text, `{"id":"${evt.id}","type":"${type}","timestamp":"${env.timestamp}","data":{"amount":42,"currency":"EUR"}}`);
    const ts = req.headers['x-webhook-timestamp'];
    nearNow(ts, req.at);
    const sigs = hexSignatures(req.headers['x-webhook-signature']);
    assert.deepEqual(sigs, [signHex(ep.secret, ts, req.body)]);
    assert.match(sigs[0], /^sha256=[0-9a-f]{64}$/);
    // the key is the whole secret string, not its decoded bytes
    const wrongKey = crypto
      .createHmac('sha256', Buffer.from(ep.secret.slice(6), 'base64'))
      .update(`${ts}.`)
      .update(req.body)
      .digest('hex');
    assert.notEqual(sigs[0], `sha256=${wrongKey}`);
  });

  it('one event goes byte-identical to every endpoint, with the same webhook-id', async () => {
    const { server } = fx;
    // a fresh org so that only these endpoints subscribe
    const rx = await startReceiver();
    try {
      const o = await createOrgWithKey(server);
      const a = await createEndpoint(server, o.key, { url: rx.url('/a') });
      const b = await createEndpoint(server, o.key, { url: rx.url('/b'), signature_scheme: 'hex' });
      const c = await createEndpoint(server, o.key, { url: rx.url('/c') });
      const type = uniqueType('fan');
      const evt = await emit(server, o.key, { type, data: { x: [1, { y: 'z' }] } });
      assert.equal(evt.deliveries, 3);
      const got = await rx.waitFor((l) => l.length >= 3);
      assert.equal(got.length, 3);
      assert.deepEqual(got.map((r) => r.url).sort(), ['/a', '/b', '/c']);
      for (const r of got) assert.ok(r.body.equals(got[0].body), 'same bytes everywhere');
      const byUrl = Object.fromEntries(got.map((r) => [r.url, r]));
      assert.equal(byUrl['/a'].headers['webhook-id'], evt.id);
      assert.equal(byUrl['/c'].headers['webhook-id'], evt.id);
      const dlvIds = new Set(got.map((r) => r.headers['x-webhook-delivery']));
      assert.equal(dlvIds.size, 3, 'one delivery id per endpoint');
      // each endpoint's own secret
      const ra = byUrl['/a'];
      assert.equal(
        standardSignatures(ra.headers['webhook-signature'])[0],
        signStandard(a.secret, evt.id, ra.headers['webhook-timestamp'], ra.body)
      );
      const rc = byUrl['/c'];
      assert.equal(
        standardSignatures(rc.headers['webhook-signature'])[0],
        signStandard(c.secret, evt.id, rc.headers['webhook-timestamp'], rc.body)
      );
      const rb = byUrl['/b'];
      assert.equal(rb.headers['x-webhook-signature'], signHex(b.secret, rb.headers['x-webhook-timestamp'], rb.body));
      assert.notEqual(a.secret, c.secret);
    } finally {
      await rx.close();
    }
  });

  it('rotation (standard): two signatures during the grace period, one per secret', async () => {
    const { server, rx } = fx;
    const { key } = await createOrgWithKey(server);
    const ep = await createEndpoint(server, key, { url: rx.url('/rot-std') });
    const old = ep.secret;
    const rot = await api(server, 'POST', `/v1/endpoints/${ep.id}/rotate-secret`, {
      key,
      body: { grace_seconds: 3600 },
    });
    assert.equal(rot.status, 200, rot.text);
    assert.match(rot.json.secret, SECRET_RE);
    assert.notEqual(rot.json.secret, old);
    const expires = Date.parse(rot.json.previous_secret_expires_at);
    assert.ok(Math.abs(expires - (Date.now() + 3600e3)) < 60e3, rot.text);
    const fresh = rot.json.secret;
    // the secret is not shown anywhere else
    const shown = await getJson(server, key, `/v1/endpoints/${ep.id}`);
    assert.equal(shown.secret, undefined);

    const type = uniqueType('rot');
    const evt = await emit(server, key, { type, data: { n: 1 } });
    const [req] = await rx.waitForPath('/rot-std');
    checkCommon(req, { type });
    const ts = req.headers['webhook-timestamp'];
    const sigs = standardSignatures(req.headers['webhook-signature']);
    assert.equal(sigs.length, 2, req.headers['webhook-signature']);
    assert.equal(sigs[0], signStandard(fresh, evt.id, ts, req.body), 'first: the new secret');
    assert.equal(sigs[1], signStandard(old, evt.id, ts, req.body), 'second: the old secret');
    // each signature verifies with exactly one of the secrets
    assert.notEqual(sigs[0], signStandard(old, evt.id, ts, req.body));
    assert.notEqual(sigs[1], signStandard(fresh, evt.id, ts, req.body));
    // receivers holding either secret accept it with the reference library
    assert.equal(new Webhook(fresh).verify(req.text, req.headers).id, evt.id);
    assert.equal(new Webhook(old).verify(req.text, req.headers).id, evt.id);
  });

  it('rotation (hex): sha256=<new>,sha256=<old>; grace_seconds 0 sends the new one only', async () => {
    const { server, rx } = fx;
    const { key } = await createOrgWithKey(server);
    const ep = await createEndpoint(server, key, { url: rx.url('/rot-hex'), signature_scheme: 'hex' });
    const old = ep.secret;
    const rot = await api(server, 'POST', `/v1/endpoints/${ep.id}/rotate-secret`, { key, body: {} });
    assert.equal(rot.status, 200, rot.text);
    const fresh = rot.json.secret;
    // default grace: 24 h
    const expires = Date.parse(rot.json.previous_secret_expires_at);
    assert.ok(Math.abs(expires - (Date.now() + 86400e3)) < 60e3, rot.text);

    const type = uniqueType('rothex');
    await emit(server, key, { type, data: {} });
    const [req] = await rx.waitForPath('/rot-hex');
    const ts = req.headers['x-webhook-timestamp'];
    const sigs = hexSignatures(req.headers['x-webhook-signature']);
    assert.deepEqual(sigs, [signHex(fresh, ts, req.body), signHex(old, ts, req.body)]);
    assert.notEqual(sigs[0], sigs[1]);

    // rotating again with no grace: only the newest secret signs
    const rot2 = await api(server, 'POST', `/v1/endpoints/${ep.id}/rotate-secret`, {
      key,
      body: { grace_seconds: 0 },
    });
    assert.equal(rot2.status, 200, rot2.text);
    const newest = rot2.json.secret;
    const before = rx.deliveries().filter((r) => r.url === '/rot-hex').length;
    await emit(server, key, { type, data: { again: true } });
    const list = await rx.waitFor((l) => l.filter((r) => r.url === '/rot-hex').length > before);
    const req2 = list.filter((r) => r.url === '/rot-hex')[before];
    const ts2 = req2.headers['x-webhook-timestamp'];
    assert.deepEqual(hexSignatures(req2.headers['x-webhook-signature']), [signHex(newest, ts2, req2.body)]);
  });

  it('one-shot webhook_url: signed with the org primary_secret (standard), endpoint_id null', async () => {
    const { server, rx } = fx;
    const o = await createOrgWithKey(server); // no endpoints at all
    const me = await getJson(server, o.key, '/v1/org');
    assert.match(me.primary_secret, SECRET_RE);
    assert.equal(me.signature_scheme, 'standard');
    const type = uniqueType('oneshot');
    const evt = await emit(server, o.key, { type, data: { k: 'v' }, webhook_url: rx.url('/once') });
    assert.equal(evt.deliveries, 1, 'the one-shot counts');
    const [req] = await rx.waitForPath('/once');
    const env = checkCommon(req, { type });
    assert.equal(env.id, evt.id);
    assert.equal(req.headers['webhook-id'], evt.id);
    assert.deepEqual(standardSignatures(req.headers['webhook-signature']), [
      signStandard(me.primary_secret, evt.id, req.headers['webhook-timestamp'], req.body),
    ]);
    assert.equal(new Webhook(me.primary_secret).verify(req.text, req.headers).id, evt.id);
    const d = await waitDelivery(server, o.key, req.headers['x-webhook-delivery'], 'delivered');
    assert.equal(d.endpoint_id, null);
    assert.equal(d.event_id, evt.id);

    // with an endpoint subscribed too: both get it, N counts both
    const ep = await createEndpoint(server, o.key, { url: rx.url('/oneshot-sub') });
    const evt2 = await emit(server, o.key, { type, data: {}, webhook_url: rx.url('/oneshot-2') });
    assert.equal(evt2.deliveries, 2);
    const settled = await waitEventSettled(server, o.key, evt2.id, 2);
    assert.deepEqual(settled.map((x) => x.endpoint_id ?? 'null').sort(), [ep.id, 'null'].sort());
    await rx.waitForPath('/oneshot-sub');
    const [req2] = await rx.waitForPath('/oneshot-2');
    assert.equal(req2.headers['webhook-id'], evt2.id);
  });

  it('one-shot webhook_url in an org with the hex scheme: sha256=<hex> keyed by primary_secret', async () => {
    const { server, rx } = fx;
    const o = await createOrgWithKey(server);
    const patched = await api(server, 'PATCH', '/v1/org', { key: o.key, body: { signature_scheme: 'hex' } });
    assert.equal(patched.status, 200, patched.text);
    const me = await getJson(server, o.key, '/v1/org');
    assert.equal(me.signature_scheme, 'hex');
    const type = uniqueType('oneshothex');
    const evt = await emit(server, o.key, { type, data: [1, 2, 3], webhook_url: rx.url('/once-hex') });
    const [req] = await rx.waitForPath('/once-hex');
    const env = checkCommon(req, { type });
    assert.equal(env.id, evt.id);
    assert.deepEqual(env.data, [1, 2, 3]);
    const ts = req.headers['x-webhook-timestamp'];
    nearNow(ts, req.at);
    assert.deepEqual(hexSignatures(req.headers['x-webhook-signature']), [signHex(me.primary_secret, ts, req.body)]);
  });

  it('one-shot webhook_url follows later changes of the org scheme and primary_secret', async () => {
    const { server, rx } = fx;
    const o = await createOrgWithKey(server);
    const me = await getJson(server, o.key, '/v1/org');
    const type = uniqueType('oneshotchg');
    await emit(server, o.key, { type, data: { n: 1 }, webhook_url: rx.url('/chg-1') });
    const [r1] = await rx.waitForPath('/chg-1');
    assert.equal(
      standardSignatures(r1.headers['webhook-signature'])[0],
      signStandard(me.primary_secret, r1.headers['webhook-id'], r1.headers['webhook-timestamp'], r1.body)
    );

    // the org switches to hex: the next one-shot is signed the hex way with the same secret
    const patched = await api(server, 'PATCH', '/v1/org', { key: o.key, body: { signature_scheme: 'hex' } });
    assert.equal(patched.status, 200, patched.text);
    await emit(server, o.key, { type, data: { n: 2 }, webhook_url: rx.url('/chg-2') });
    const [r2] = await rx.waitForPath('/chg-2');
    const ts2 = r2.headers['x-webhook-timestamp'];
    assert.deepEqual(
      hexSignatures(r2.headers['x-webhook-signature']),
      [signHex(me.primary_secret, ts2 ?? '', r2.body)],
      `after PATCH /v1/org {signature_scheme: hex} the one-shot still came with ${JSON.stringify({
        'webhook-signature': r2.headers['webhook-signature'],
        'x-webhook-signature': r2.headers['x-webhook-signature'],
      })}`
    );

    // the org rotates its primary secret: the next one-shot is signed with the new one
    const rot = await api(server, 'POST', '/v1/org/rotate-secret', { key: o.key, body: {} });
    assert.equal(rot.status, 200, rot.text);
    const me2 = await getJson(server, o.key, '/v1/org');
    assert.notEqual(me2.primary_secret, me.primary_secret);
    await emit(server, o.key, { type, data: { n: 3 }, webhook_url: rx.url('/chg-3') });
    const [r3] = await rx.waitForPath('/chg-3');
    const ts3 = r3.headers['x-webhook-timestamp'];
    assert.ok(
      hexSignatures(r3.headers['x-webhook-signature']).includes(signHex(me2.primary_secret, ts3, r3.body)),
      'signed with the new primary_secret; old secret gave ' + signHex(me.primary_secret, ts3, r3.body) +
        ', header was ' + r3.headers['x-webhook-signature']
    );
  });

  it('custom headers: an allowed one is sent with every delivery; reserved names are refused', async () => {
    const { server, rx } = fx;
    const { key } = await createOrgWithKey(server);
    const ep = await createEndpoint(server, key, {
      url: rx.url('/custom'),
      headers: { 'X-Tenant': 'acme', Authorization: 'Bearer abc' },
    });
    assert.deepEqual(ep.headers, { 'X-Tenant': 'acme', Authorization: 'Bearer abc' });
    const type = uniqueType('hdr');
    const evt = await emit(server, key, { type, data: {} });
    const [req] = await rx.waitForPath('/custom');
    assert.equal(req.headers['x-tenant'], 'acme');
    assert.equal(req.headers.authorization, 'Bearer abc');
    // the signature still verifies (custom headers do not take part)
    assert.equal(
      standardSignatures(req.headers['webhook-signature'])[0],
      signStandard(ep.secret, evt.id, req.headers['webhook-timestamp'], req.body)
    );
    // the creation ping carried them too
    const ping = rx.pings().find((p) => p.url === '/custom');
    assert.equal(ping?.headers['x-tenant'], 'acme');

    const before = (await getJson(server, key, '/v1/endpoints?limit=250')).data.length;
    for (const name of [
      'Content-Type',
      'content-type',
      'User-Agent',
      'Host',
      'Content-Length',
      'Transfer-Encoding',
      'Connection',
      'webhook-id',
      'Webhook-Signature',
      'webhook-timestamp',
      'X-Webhook-Signature',
      'X-Webhook-Timestamp',
      'X-Webhook-Event',
      'X-Webhook-Delivery',
      'X-Webhook-Attempt',
    ]) {
      const res = await api(server, 'POST', '/v1/endpoints', {
        key,
        body: { url: rx.url('/reserved'), headers: { [name]: 'x' } },
      });
      assert.equal(res.status, 400, `${name}: ${res.text}`);
      assert.equal(res.json.field, 'headers', `${name}: ${res.text}`);
      const patch = await api(server, 'PATCH', `/v1/endpoints/${ep.id}`, {
        key,
        body: { headers: { [name]: 'x' } },
      });
      assert.equal(patch.status, 400, `PATCH ${name}: ${patch.text}`);
      assert.equal(patch.json.field, 'headers');
    }
    for (const [name, value] of [
      ['Bad Name', 'x'],
      ['X-Ok', 'a\r\nX-Injected: 1'],
    ]) {
      const res = await api(server, 'POST', '/v1/endpoints', {
        key,
        body: { url: rx.url('/reserved'), headers: { [name]: value } },
      });
      assert.equal(res.status, 400, `${JSON.stringify(name)}: ${res.text}`);
      assert.equal(res.json.field, 'headers');
    }
    const after = (await getJson(server, key, '/v1/endpoints?limit=250')).data.length;
    assert.equal(after, before, 'nothing saved');
    assert.ok(!rx.requests.some((r) => r.url === '/reserved'), 'refused before any ping');
    const still = await getJson(server, key, `/v1/endpoints/${ep.id}`);
    assert.deepEqual(still.headers, { 'X-Tenant': 'acme', Authorization: 'Bearer abc' });
  });

  it('PATCHed endpoint settings (headers, scheme, url) apply to the next delivery', async () => {
    const { server, rx } = fx;
    const { key } = await createOrgWithKey(server);
    const ep = await createEndpoint(server, key, { url: rx.url('/chg-a'), headers: { 'X-Stage': 'one' } });
    const type = uniqueType('epchg');
    await emit(server, key, { type, data: { n: 1 } });
    const [r1] = await rx.waitForPath('/chg-a');
    assert.equal(r1.headers['x-stage'], 'one');
    const res = await api(server, 'PATCH', `/v1/endpoints/${ep.id}`, {
      key,
      body: { headers: { 'X-Stage': 'two' }, signature_scheme: 'hex', url: rx.url('/chg-b') },
    });
    assert.equal(res.status, 200, res.text);
    await emit(server, key, { type, data: { n: 2 } });
    const [r2] = await rx.waitForPath('/chg-b');
    assert.equal(r2.headers['x-stage'], 'two');
    const ts = r2.headers['x-webhook-timestamp'];
    assert.deepEqual(hexSignatures(r2.headers['x-webhook-signature']), [signHex(ep.secret, ts ?? '', r2.body)]);
    assert.equal(rx.deliveries().filter((r) => r.url === '/chg-a').length, 1);
  });
});
