'use strict';
// §2.7 interop: POST /in/{source_id} with requests signed by each sender's own library —
// GitHub (@octokit/webhooks-methods), Stripe (stripe's test header helper), Standard Webhooks
// (standardwebhooks, and svix's header names), the hookd preset (`hookd sign --scheme hex`),
// Shopify and custom hmac schemes (node:crypto). For every sender: accepted and forwarded once,
// a resend is a `duplicate` (not forwarded again), one flipped body byte / no signature / a
// wrong secret → 401, a timestamp outside the tolerance → 400 stale_timestamp (where the scheme
// has one), a body that is not JSON → 400 invalid_json, text/plain → 415, over --max-body → 413,
// an unknown source → 404.

const { describe, it, before, after } = require('node:test');
const assert = require('node:assert/strict');
const crypto = require('node:crypto');
const { createOrgWithKey, sleep } = require('./lib/hookd');
const { pipelineFixture, createEndpoint, getJson } = require('./lib/pipeline');
const {
  nowSeconds,
  flipByte,
  newSecret,
  octokitSign,
  stripeHeader,
  standardSign,
  svixSign,
  hookdSignHex,
  hmac,
  sendIn,
  createSource,
  messages,
  unknownSourceId,
  MSG_ID_RE,
  EVT_ID_RE,
} = require('./lib/inbound');

const MAX_BODY = 2048;

function rand(n = 6) {
  return crypto.randomBytes(n).toString('hex');
}

// Each sender: how a source is configured, how the sender signs a request, and what hookd
// makes of it. sign(secret, body, {ts, id}) → headers (async); id is the sender's message id
// where it has one (undefined: a new one).
const SENDERS = [
  {
    name: 'github',
    verification: { scheme: 'github' },
    secret: () => `gh-${rand(16)}`,
    timestamped: false,
    sigHeaders: ['X-Hub-Signature-256'],
    payload: () => ({
      ref: 'refs/heads/main',
      before: rand(20),
      after: rand(20),
      repository: { id: 1296269, full_name: 'octocat/Hello-World' },
      pusher: { name: 'octocat' },
      n: rand(),
    }),
    newId: () => crypto.randomUUID(),
    async sign(secret, body, { id }) {
      return {
        'X-Hub-Signature-256': await octokitSign(secret, body),
        'X-GitHub-Event': 'push',
        'X-GitHub-Delivery': id,
        'X-GitHub-Hook-ID': '123456',
        'User-Agent': 'GitHub-Hookshot/abc123',
      };
    },
    type: () => 'push',
  },
  {
    name: 'stripe',
    verification: { scheme: 'stripe' },
    secret: () => `whsec_${rand(16)}`,
    timestamped: true,
    sigHeaders: ['Stripe-Signature'],
    // Stripe's message id is the event id, inside the payload
    payload: () => ({
      id: `evt_${rand(12)}`,
      object: 'event',
      api_version: '2024-06-20',
      created: nowSeconds(),
      type: 'payment_intent.succeeded',
      data: { object: { id: `pi_${rand(12)}`, object: 'payment_intent', amount: 2000, currency: 'eur' } },
      livemode: false,
    }),
    newId: () => undefined,
    async sign(secret, body, { ts }) {
      return { 'Stripe-Signature': stripeHeader(body, secret, ts), 'User-Agent': 'Stripe/1.0 (+https://stripe.com/docs/webhooks)' };
    },
    type: () => 'payment_intent.succeeded',
  },
  {
    name: 'standard',
    verification: { scheme: 'standard' },
    secret: () => newSecret(),
    timestamped: true,
    sigHeaders: ['webhook-signature'],
    needs: ['webhook-id', 'webhook-timestamp'],
    payload: () => ({ type: 'invoice.paid', timestamp: new Date().toISOString(), data: { invoice: `inv_${rand()}`, total: 1234 } }),
    newId: () => `msg_${rand(12)}`,
    async sign(secret, body, { ts, id }) {
      const t = ts === undefined ? nowSeconds() : ts;
      return {
        'webhook-id': id,
        'webhook-timestamp': String(t),
        'webhook-signature': standardSign(secret, id, new Date(t * 1000), body),
      };
    },
    type: () => 'invoice.paid',
  },
  {
    name: 'hookd',
    verification: { scheme: 'hookd' },
    secret: () => undefined, // the secret hookd generates
    timestamped: true,
    sigHeaders: ['X-Webhook-Signature'],
    needs: ['X-Webhook-Timestamp'],
    payload: () => ({ type: 'order.shipped', data: { order: `ord_${rand()}`, carrier: 'dhl' } }),
    newId: () => undefined,
    async sign(secret, body, { ts }) {
      return hookdSignHex(secret, body, ts);
    },
    type: () => 'order.shipped',
  },
  {
    name: 'shopify',
    verification: { scheme: 'shopify' },
    secret: () => `shpss_${rand(16)}`,
    timestamped: false,
    sigHeaders: ['X-Shopify-Hmac-Sha256'],
    payload: () => ({ id: Number.parseInt(rand(4), 16), email: 'jon@example.com', total_price: '199.00', currency: 'EUR' }),
    newId: () => crypto.randomUUID(),
    async sign(secret, body, { id }) {
      return {
        'X-Shopify-Hmac-Sha256': hmac(secret, body, 'base64'),
        'X-Shopify-Topic': 'orders/create',
        'X-Shopify-Shop-Domain': 'example.myshopify.com',
        'X-Shopify-Webhook-Id': id,
        'X-Shopify-API-Version': '2024-07',
      };
    },
    type: () => 'orders.create',
  },
  {
    name: 'hmac-ts',
    // a custom scheme: X-Sig: v1=<base64 HMAC(secret, "{ts}.{body}")>, X-Sig-Time
    verification: { scheme: 'hmac', header: 'X-Sig', prefix: 'v1=', encoding: 'base64', timestamp_header: 'X-Sig-Time' },
    secret: () => `custom-${rand(16)}`,
    timestamped: true,
    sigHeaders: ['X-Sig'],
    needs: ['X-Sig-Time'],
    payload: () => ({ type: 'deploy.finished', data: { deploy: rand(), ok: true } }),
    newId: () => undefined,
    async sign(secret, body, { ts }) {
      const t = ts === undefined ? nowSeconds() : ts;
      return { 'X-Sig': `v1=${hmac(secret, `${t}.${body}`, 'base64')}`, 'X-Sig-Time': String(t) };
    },
    type: () => 'deploy.finished',
  },
  {
    name: 'hmac-body',
    // a custom scheme over the body alone, hex, no prefix: X-Body-Sig: <hex HMAC(secret, body)>
    verification: { scheme: 'hmac', header: 'X-Body-Sig', encoding: 'hex', signed_payload: 'body' },
    secret: () => `pläin-✓-${rand(16)}`, // the HMAC key is the secret's UTF-8 bytes
    timestamped: false,
    sigHeaders: ['X-Body-Sig'],
    payload: () => ({ kind: 'no type field here', n: rand() }),
    newId: () => undefined,
    async sign(secret, body) {
      return { 'X-Body-Sig': hmac(secret, body, 'hex') };
    },
    type: () => 'inbound.received',
  },
];

describe('inbound: senders signing with their own libraries', () => {
  let fx;
  before(async () => {
    fx = await pipelineFixture(null, { args: ['--no-ping', '--max-body', String(MAX_BODY)] });
  });
  after(async () => {
    await fx?.cleanup();
  });

  for (const sender of SENDERS) {
    describe(sender.name, () => {
      let org;
      let key;
      let src;
      let secret;
      const pathOf = `/${sender.name}`;

      const request = async (payloadObj, { ts, id, bodyText } = {}) => {
        const body = bodyText !== undefined ? bodyText : JSON.stringify(payloadObj);
        const msgId = id !== undefined ? id : sender.newId();
        const headers = await sender.sign(secret, body, { ts, id: msgId });
        return { body, headers, id: msgId };
      };

      before(async () => {
        ({ org, key } = await createOrgWithKey(fx.server));
        await createEndpoint(fx.server, key, { url: fx.rx.url(pathOf) });
        const body = { name: `${sender.name} source`, verification: sender.verification };
        const s = sender.secret();
        if (s !== undefined) body.secret = s;
        src = await createSource(fx.server, key, body);
        secret = src.secret;
        if (s !== undefined) assert.equal(secret, s, 'the given secret is kept');
      });

      it('accepted (202 with an event), forwarded once; the same request again is a duplicate', async () => {
        const { server, rx } = fx;
        const p1 = sender.payload();
        const r1 = await request(p1);
        const a1 = await sendIn(server, src.id, r1.body, r1.headers);
        assert.equal(a1.status, 202, a1.text);
        assert.equal(a1.json.status, 'accepted');
        assert.match(a1.json.id, MSG_ID_RE);
        assert.match(String(a1.json.event_id), EVT_ID_RE, a1.text);

        // the event: its type and the sender's payload as data
        const evt = await getJson(server, key, `/v1/events/${a1.json.event_id}`);
        assert.equal(evt.type, sender.type(p1));
        assert.equal(evt.payload.type, sender.type(p1));
        assert.deepEqual(evt.payload.data, p1);

        // the very same request (a sender's retry) → 200 duplicate, a new record, no event
        const d1 = await sendIn(server, src.id, r1.body, r1.headers);
        assert.equal(d1.status, 200, d1.text);
        assert.equal(d1.json.status, 'duplicate');
        assert.match(d1.json.id, MSG_ID_RE);
        assert.notEqual(d1.json.id, a1.json.id);
        assert.ok(!d1.json.event_id, `a duplicate makes no event: ${d1.text}`);
        const dupMsg = await getJson(server, key, `/v1/inbound/${d1.json.id}`);
        assert.equal(dupMsg.status, 'duplicate');
        assert.equal(dupMsg.http_status, 200);
        assert.equal(dupMsg.event_id, null);

        // a different message afterwards is accepted: a barrier for the deliveries
        const p2 = sender.payload();
        const r2 = await request(p2);
        const a2 = await sendIn(server, src.id, r2.body, r2.headers);
        assert.equal(a2.status, 202, a2.text);
        assert.notEqual(a2.json.event_id, a1.json.event_id);

        const got = await rx.waitForPath(pathOf, 2);
        await sleep(300);
        const all = rx.deliveries().filter((r) => r.url === pathOf);
        assert.equal(all.length, 2, `one delivery per accepted message, none for the duplicate: ${all.map((r) => r.text).join('\n')}`);
        const envs = got.map((r) => JSON.parse(r.text));
        const byId = new Map(envs.map((e) => [e.id, e]));
        assert.deepEqual([...byId.keys()].sort(), [a1.json.event_id, a2.json.event_id].sort());
        assert.deepEqual(byId.get(a1.json.event_id).data, p1);
        assert.deepEqual(byId.get(a2.json.event_id).data, p2);
        for (const r of got) assert.equal(r.headers['x-webhook-event'], sender.type(p1));

        // the org has exactly these two events
        const events = await getJson(server, key, '/v1/events?limit=250');
        assert.deepEqual(events.data.map((e) => e.id).sort(), [a1.json.event_id, a2.json.event_id].sort());
      });

      if (sender.newId() !== undefined || sender.name === 'stripe') {
        it('a retry of the same message id, signed anew, is a duplicate', async () => {
          const { server } = fx;
          const p = sender.payload();
          const first = await request(p, { ts: sender.timestamped ? nowSeconds() - 30 : undefined });
          const a = await sendIn(server, src.id, first.body, first.headers);
          assert.equal(a.status, 202, a.text);
          // the sender's retry: same message id (Stripe: same event id in the same payload),
          // a new timestamp, so a new signature
          const again = await request(p, { id: first.id, ts: sender.timestamped ? nowSeconds() : undefined });
          if (sender.timestamped) assert.notDeepEqual(again.headers, first.headers);
          const d = await sendIn(server, src.id, again.body, again.headers);
          assert.equal(d.status, 200, d.text);
          assert.equal(d.json.status, 'duplicate');
        });
      }

      it('one flipped body byte → 401 invalid_signature', async () => {
        const r = await request(sender.payload());
        // flip a bit inside a JSON string so that the body is still JSON
        const at = r.body.indexOf('"', r.body.indexOf(':') + 1) + 1;
        const flipped = flipByte(Buffer.from(r.body), at);
        JSON.parse(flipped.toString());
        const res = await sendIn(fx.server, src.id, flipped, r.headers);
        assert.equal(res.status, 401, res.text);
        assert.equal(res.json.error, 'invalid_signature');
        assert.match(String(res.json.id), MSG_ID_RE, 'the rejection is recorded');
      });

      it('no signature → 401 missing_signature', async () => {
        const r = await request(sender.payload());
        const headers = { ...r.headers };
        for (const h of sender.sigHeaders) delete headers[h];
        const res = await sendIn(fx.server, src.id, r.body, headers);
        assert.equal(res.status, 401, res.text);
        assert.equal(res.json.error, 'missing_signature');
      });

      it('a garbage signature value → 401 invalid_signature', async () => {
        const r = await request(sender.payload());
        for (const value of ['garbage', '', `${r.headers[sender.sigHeaders[0]]}00`]) {
          const headers = { ...r.headers, [sender.sigHeaders[0]]: value };
          const res = await sendIn(fx.server, src.id, r.body, headers);
          assert.equal(res.status, 401, `${sender.sigHeaders[0]}: '${value}': ${res.text}`);
        }
      });

      for (const needed of sender.needs || []) {
        it(`a signature without the ${needed} header it depends on → 401, never accepted`, async () => {
          const r = await request(sender.payload());
          const headers = { ...r.headers };
          delete headers[needed];
          const res = await sendIn(fx.server, src.id, r.body, headers);
          assert.equal(res.status, 401, `valid signature, no ${needed}: ${res.text}`);
          assert.match(String(res.json?.error), /^(missing|invalid)_signature$/);
        });
      }

      it('a made-up signature header alone (no other header) → 401, no event', async () => {
        // a signature of the right shape, made with a secret the forger guessed
        const forgedBody = JSON.stringify({ type: 'forged.event', n: rand() });
        const guessed = sender.name === 'standard' || sender.name === 'hookd' ? newSecret() : `guess-${rand()}`;
        const all = await sender.sign(guessed, forgedBody, { id: sender.newId() });
        const forgedValue = all[sender.sigHeaders[0]];
        assert.ok(forgedValue);
        const res = await sendIn(fx.server, src.id, forgedBody, { [sender.sigHeaders[0]]: forgedValue });
        assert.equal(res.status, 401, `a lone forged ${sender.sigHeaders[0]}: ${res.text}`);
        assert.ok(!res.json?.event_id, 'no event');
      });

      it('signed with another secret → 401 invalid_signature', async () => {
        const body = JSON.stringify(sender.payload());
        const other = sender.name === 'standard' || sender.name === 'hookd' ? newSecret() : `${secret}x`;
        const headers = await sender.sign(other, body, { id: sender.newId() });
        const res = await sendIn(fx.server, src.id, body, headers);
        assert.equal(res.status, 401, res.text);
        assert.equal(res.json.error, 'invalid_signature');
      });

      if (sender.timestamped) {
        it('a timestamp outside the tolerance (300 s), old or in the future → 400 stale_timestamp', async () => {
          for (const ts of [nowSeconds() - 600, nowSeconds() + 600]) {
            const r = await request(sender.payload(), { ts });
            const res = await sendIn(fx.server, src.id, r.body, r.headers);
            assert.equal(res.status, 400, `ts ${ts}: ${res.text}`);
            assert.equal(res.json.error, 'stale_timestamp');
          }
          // within the tolerance: fine
          const ok = await request(sender.payload(), { ts: nowSeconds() - 200 });
          const res = await sendIn(fx.server, src.id, ok.body, ok.headers);
          assert.equal(res.status, 202, res.text);
        });
      }

      it('a body that is not JSON, correctly signed → 400 invalid_json', async () => {
        const r = await request(null, { bodyText: '{"type": "x.y", "truncated": ' });
        const res = await sendIn(fx.server, src.id, r.body, r.headers);
        assert.equal(res.status, 400, res.text);
        assert.equal(res.json.error, 'invalid_json');
      });

      it('a JSON body that is not an object (an array, a string), correctly signed → 400 invalid_json', async () => {
        for (const bodyText of ['[{"type": "x.y"}]', '"x.y"', '42']) {
          const r = await request(null, { bodyText });
          const res = await sendIn(fx.server, src.id, r.body, r.headers);
          assert.equal(res.status, 400, `${bodyText}: ${res.text}`);
          assert.equal(res.json.error, 'invalid_json');
          assert.match(res.json.message, /object/);
        }
      });

      it('Content-Type text/plain, correctly signed → 415; no Content-Type or a charset parameter → JSON', async () => {
        const r = await request(sender.payload());
        const res = await sendIn(fx.server, src.id, r.body, r.headers, { contentType: 'text/plain' });
        assert.equal(res.status, 415, res.text);
        const r2 = await request(sender.payload());
        const none = await sendIn(fx.server, src.id, r2.body, r2.headers, { contentType: null });
        assert.equal(none.status, 202, none.text);
        const r3 = await request(sender.payload());
        const cs = await sendIn(fx.server, src.id, r3.body, r3.headers, { contentType: 'application/json; charset=utf-8' });
        assert.equal(cs.status, 202, cs.text);
      });

      it(`over --max-body (${MAX_BODY} bytes), correctly signed → 413`, async () => {
        const p = { ...sender.payload(), padding: 'x'.repeat(MAX_BODY + 200) };
        const r = await request(p);
        assert.ok(Buffer.byteLength(r.body) > MAX_BODY);
        const res = await sendIn(fx.server, src.id, r.body, r.headers);
        assert.equal(res.status, 413, res.text);
        // just under the limit is fine
        const base = JSON.stringify(sender.payload());
        const q = JSON.parse(base);
        q.padding = 'y'.repeat(MAX_BODY - base.length - 20);
        const near = await request(q);
        assert.ok(Buffer.byteLength(near.body) <= MAX_BODY && Buffer.byteLength(near.body) > MAX_BODY - 10);
        const ok = await sendIn(fx.server, src.id, near.body, near.headers);
        assert.equal(ok.status, 202, ok.text);
      });

      it('an unknown source → 404, even correctly signed', async () => {
        const r = await request(sender.payload());
        const res = await sendIn(fx.server, unknownSourceId(), r.body, r.headers);
        assert.equal(res.status, 404, res.text);
        const bad = await sendIn(fx.server, 'not-a-source', r.body, r.headers);
        assert.equal(bad.status, 404, bad.text);
      });

      it('the message log holds every verdict of this source', async () => {
        const list = await messages(fx.server, key, src.id);
        const counts = {};
        for (const m of list.data) counts[m.status] = (counts[m.status] || 0) + 1;
        assert.ok(counts.accepted >= 4, JSON.stringify(counts));
        assert.ok(counts.duplicate >= 1, JSON.stringify(counts));
        assert.ok(counts.rejected >= 4, JSON.stringify(counts));
        for (const m of list.data) {
          assert.equal(m.source_id, src.id);
          if (m.status === 'accepted') assert.match(String(m.event_id), EVT_ID_RE);
          else assert.equal(m.event_id, null);
        }
        assert.equal(org.id, src.org_id);
      });
    });
  }

  it('standard: svix-id / svix-timestamp / svix-signature, signed by the svix library, are accepted', async () => {
    const { server } = fx;
    const { key } = await createOrgWithKey(server);
    const src = await createSource(server, key, { name: 'svix', verification: { scheme: 'standard' } });
    const body = JSON.stringify({ type: 'svix.thing', data: { n: rand() } });
    const id = `msg_${rand(12)}`;
    const ts = nowSeconds();
    const headers = {
      'svix-id': id,
      'svix-timestamp': String(ts),
      'svix-signature': svixSign(src.secret, id, new Date(ts * 1000), body),
    };
    const res = await sendIn(server, src.id, body, headers);
    assert.equal(res.status, 202, res.text);
    const again = await sendIn(server, src.id, body, headers);
    assert.equal(again.status, 200, again.text);
    assert.equal(again.json.status, 'duplicate');
    const flipped = await sendIn(server, src.id, flipByte(Buffer.from(body), 5), headers);
    assert.equal(flipped.status, 401, flipped.text);
  });

  it('tolerance_seconds: a source with 7200 accepts an hour-old timestamp that the default refuses', async () => {
    const { server } = fx;
    const { key } = await createOrgWithKey(server);
    const wide = await createSource(server, key, { name: 'wide', verification: { scheme: 'hookd' }, tolerance_seconds: 7200 });
    assert.equal(wide.tolerance_seconds, 7200);
    const narrow = await createSource(server, key, { name: 'narrow', verification: { scheme: 'hookd' } });
    assert.equal(narrow.tolerance_seconds, 300);
    const body = JSON.stringify({ type: 'late.one', n: rand() });
    const ts = nowSeconds() - 3600;
    const ok = await sendIn(server, wide.id, body, hookdSignHex(wide.secret, body, ts));
    assert.equal(ok.status, 202, ok.text);
    const stale = await sendIn(server, narrow.id, body, hookdSignHex(narrow.secret, body, ts));
    assert.equal(stale.status, 400, stale.text);
    assert.equal(stale.json.error, 'stale_timestamp');
    const tooOld = await sendIn(server, wide.id, body, hookdSignHex(wide.secret, body, nowSeconds() - 7300));
    assert.equal(tooOld.status, 400, tooOld.text);
  });

  it('the message ids of two sources do not collide: the same GitHub delivery id on two sources is accepted on both', async () => {
    const { server } = fx;
    const { key } = await createOrgWithKey(server);
    const s1 = await createSource(server, key, { name: 'gh1', verification: { scheme: 'github' }, secret: 'one' });
    const s2 = await createSource(server, key, { name: 'gh2', verification: { scheme: 'github' }, secret: 'two' });
    const body = JSON.stringify({ zen: 'Keep it logically awesome.', hook_id: 1 });
    const delivery = crypto.randomUUID();
    const h1 = { 'X-Hub-Signature-256': await octokitSign('one', body), 'X-GitHub-Event': 'ping', 'X-GitHub-Delivery': delivery };
    const h2 = { 'X-Hub-Signature-256': await octokitSign('two', body), 'X-GitHub-Event': 'ping', 'X-GitHub-Delivery': delivery };
    assert.equal((await sendIn(server, s1.id, body, h1)).status, 202);
    const r2 = await sendIn(server, s2.id, body, h2);
    assert.equal(r2.status, 202, r2.text);
    // the secret of one source does not open the other
    const cross = await sendIn(server, s2.id, body, { ...h1, 'X-GitHub-Delivery': crypto.randomUUID() });
    assert.equal(cross.status, 401, cross.text);
    const typed = await getJson(server, key, `/v1/events/${r2.json.event_id}`);
    assert.equal(typed.type, 'ping');
  });

  it('event_type of the source wins over the preset header and the payload type', async () => {
    const { server } = fx;
    const { key } = await createOrgWithKey(server);
    const src = await createSource(server, key, {
      name: 'typed',
      verification: { scheme: 'github' },
      secret: 'typed-secret',
      event_type: 'github.activity',
    });
    assert.equal(src.event_type, 'github.activity');
    const body = JSON.stringify({ type: 'not.this', action: 'opened' });
    const res = await sendIn(server, src.id, body, {
      'X-Hub-Signature-256': await octokitSign('typed-secret', body),
      'X-GitHub-Event': 'issues',
      'X-GitHub-Delivery': crypto.randomUUID(),
    });
    assert.equal(res.status, 202, res.text);
    const evt = await getJson(server, key, `/v1/events/${res.json.event_id}`);
    assert.equal(evt.type, 'github.activity');
  });
});

describe('inbound: message ids, rotations and transports', () => {
  let fx;
  before(async () => {
    fx = await pipelineFixture(null, { args: ['--no-ping'] });
  });
  after(async () => {
    await fx?.cleanup();
  });

  it('standard: a forged request cannot claim a message id — the forgery is 401, the real message then 202; a bad signature on an accepted id is 401, not duplicate', async () => {
    const { server } = fx;
    const { key } = await createOrgWithKey(server);
    const src = await createSource(server, key, { name: 'std-ids', verification: { scheme: 'standard' } });
    const id = `msg_${rand(12)}`;
    const body = JSON.stringify({ type: 'real.one', data: { n: rand() } });
    const ts = nowSeconds();
    const forgedBody = JSON.stringify({ type: 'forged.one', data: {} });
    const forged = await sendIn(server, src.id, forgedBody, {
      'webhook-id': id,
      'webhook-timestamp': String(ts),
      'webhook-signature': standardSign(newSecret(), id, new Date(ts * 1000), forgedBody),
    });
    assert.equal(forged.status, 401, forged.text);
    await sleep(3); // distinct milliseconds: the log order is checked below
    const headers = { 'webhook-id': id, 'webhook-timestamp': String(ts), 'webhook-signature': standardSign(src.secret, id, new Date(ts * 1000), body) };
    const real = await sendIn(server, src.id, body, headers);
    assert.equal(real.status, 202, `a rejected request with the id must not make the real one a duplicate: ${real.text}`);
    await sleep(3);
    const tampered = await sendIn(server, src.id, flipByte(Buffer.from(body), 3), headers);
    assert.equal(tampered.status, 401, `verification comes before the duplicate check: ${tampered.text}`);
    await sleep(3);
    const replay = await sendIn(server, src.id, body, headers);
    assert.equal(replay.status, 200, replay.text);
    const log = await messages(server, key, src.id);
    assert.deepEqual(
      log.data.map((m) => [m.id, m.status]),
      [
        [replay.json.id, 'duplicate'],
        [tampered.json.id, 'rejected'],
        [real.json.id, 'accepted'],
        [forged.json.id, 'rejected'],
      ]
    );
  });

  it('rotations on the sender side: several signatures in one header, one of them valid, are accepted', async () => {
    const { server } = fx;
    const { key } = await createOrgWithKey(server);
    // Standard Webhooks: space-separated list
    const std = await createSource(server, key, { name: 'std-rot', verification: { scheme: 'standard' } });
    const body = JSON.stringify({ type: 'rot.std', n: rand() });
    const id = `msg_${rand(12)}`;
    const ts = nowSeconds();
    const good = standardSign(std.secret, id, new Date(ts * 1000), body);
    const bad = standardSign(newSecret(), id, new Date(ts * 1000), body);
    const r1 = await sendIn(server, std.id, body, { 'webhook-id': id, 'webhook-timestamp': String(ts), 'webhook-signature': `${bad} ${good}` });
    assert.equal(r1.status, 202, r1.text);
    // Stripe: several v1= entries while a secret is rolled
    const stripeSecret = `whsec_${rand(16)}`;
    const st = await createSource(server, key, { name: 'stripe-rot', verification: { scheme: 'stripe' }, secret: stripeSecret });
    const sbody = JSON.stringify({ id: `evt_${rand(12)}`, object: 'event', type: 'charge.succeeded', data: { object: {} } });
    const sgood = stripeHeader(sbody, stripeSecret); // t=...,v1=...
    const t = /t=(\d+)/.exec(sgood)[1];
    const v1 = /v1=([0-9a-f]+)/.exec(sgood)[1];
    const r2 = await sendIn(server, st.id, sbody, { 'Stripe-Signature': `t=${t},v1=${'0'.repeat(64)},v1=${v1},v0=${'1'.repeat(64)}` });
    assert.equal(r2.status, 202, r2.text);
    const r3 = await sendIn(server, st.id, sbody.replace('charge', 'charga'), { 'Stripe-Signature': `t=${t},v1=${'0'.repeat(64)}` });
    assert.equal(r3.status, 401, r3.text);
    // hookd preset: `hookd sign` with two secrets → sha256=<a>,sha256=<b>
    const hk = await createSource(server, key, { name: 'hookd-rot', verification: { scheme: 'hookd' } });
    const hbody = JSON.stringify({ type: 'rot.hookd', n: rand() });
    const both = hookdSignHex([newSecret(), hk.secret], hbody);
    assert.match(both['X-Webhook-Signature'], /^sha256=[0-9a-f]{64},sha256=[0-9a-f]{64}$/);
    const r4 = await sendIn(server, hk.id, hbody, both);
    assert.equal(r4.status, 202, r4.text);
    const neither = hookdSignHex([newSecret(), newSecret()], hbody);
    const r5 = await sendIn(server, hk.id, hbody, neither);
    assert.equal(r5.status, 401, r5.text);
  });

  it('ten identical requests at once: one accepted, nine duplicates, one event, one delivery', async () => {
    const { server, rx } = fx;
    const { key } = await createOrgWithKey(server);
    await createEndpoint(server, key, { url: rx.url('/burst-dup') });
    const src = await createSource(server, key, { name: 'gh-burst', verification: { scheme: 'github' }, secret: 'burst' });
    const body = JSON.stringify({ action: 'created', n: rand() });
    const headers = { 'X-Hub-Signature-256': await octokitSign('burst', body), 'X-GitHub-Event': 'star', 'X-GitHub-Delivery': crypto.randomUUID() };
    const all = await Promise.all(Array.from({ length: 10 }, () => sendIn(server, src.id, body, headers)));
    const statuses = all.map((r) => r.status).sort();
    assert.deepEqual(statuses, [200, 200, 200, 200, 200, 200, 200, 200, 200, 202], all.map((r) => r.text).join('\n'));
    await rx.waitForPath('/burst-dup', 1);
    await sleep(300);
    assert.equal(rx.deliveries().filter((r) => r.url === '/burst-dup').length, 1);
    const events = await getJson(server, key, '/v1/events');
    assert.equal(events.data.length, 1);
  });

  it('transports: a chunked body (no Content-Length) and Expect: 100-continue are verified like any other', async () => {
    const { server } = fx;
    const { key } = await createOrgWithKey(server);
    const src = await createSource(server, key, { name: 'gh-chunked', verification: { scheme: 'github' }, secret: 'chunky' });
    const body = JSON.stringify({ action: 'opened', pad: 'c'.repeat(3000), n: rand() });
    const sig = await octokitSign('chunky', body);
    const http = require('node:http');
    const post = (headers, chunks) =>
      new Promise((resolve, reject) => {
        const req = http.request(`${server.url}/in/${src.id}`, { method: 'POST', headers }, (res) => {
          let text = '';
          res.setEncoding('utf8');
          res.on('data', (c) => (text += c));
          res.on('end', () => resolve({ status: res.statusCode, text }));
        });
        req.on('error', reject);
        if (headers.Expect) {
          req.on('continue', () => {
            for (const c of chunks) req.write(c);
            req.end();
          });
        } else {
          (async () => {
            for (const c of chunks) {
              req.write(c);
              await sleep(20);
            }
            req.end();
          })();
        }
      });
    const base = { 'Content-Type': 'application/json', 'X-Hub-Signature-256': sig, 'X-GitHub-Event': 'issues' };
    const chunked = await post({ ...base, 'X-GitHub-Delivery': crypto.randomUUID() }, [body.slice(0, 1000), body.slice(1000, 2500), body.slice(2500)]);
    assert.equal(chunked.status, 202, chunked.text);
    const expect = await post(
      { ...base, 'X-GitHub-Delivery': crypto.randomUUID(), Expect: '100-continue', 'Content-Length': String(Buffer.byteLength(body)) },
      [body]
    );
    assert.equal(expect.status, 202, expect.text);
  });
});
