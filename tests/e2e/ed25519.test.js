'use strict';
// §3 signing, issue 17: endpoints with signature_scheme "ed25519" (Standard Webhooks `v1a`).
// hookd keeps each endpoint's Ed25519 secret key and shows its public key (whpk_); a receiver
// here verifies every delivery with Node's own crypto.verify(null, ...) and that key only, and
// answers 401 to anything else, so a delivery that is not correctly signed is never `delivered`.
// `hookd sign` / `hookd verify` are checked against Node in both directions.
//
// The npm `standardwebhooks` package (1.x, a devDependency) verifies `v1` (HMAC) entries only:
// it skips `v1a` entries and has no public-key API, so it cannot check these deliveries, and
// neither can `svix`, which wraps it; the last test pins that down, so that the README's
// statement is tested.

const { describe, it, before, after } = require('node:test');
const assert = require('node:assert/strict');
const crypto = require('node:crypto');
const { Webhook } = require('standardwebhooks');
const svix = require('svix');
const { api, createOrgWithKey, runHookd, SECRET_RE } = require('./lib/hookd');
const {
  signStandard,
  standardSignatures,
  pipelineFixture,
  uniqueType,
  createEndpoint,
  emit,
  getJson,
  waitDelivery,
  verifiesV1a: nodeVerifies,
  v1aSignatures,
} = require('./lib/pipeline');

const PUBLIC_KEY_RE = /^whpk_[A-Za-z0-9+/]{43}=$/;
const V1A_RE = /^v1a,[A-Za-z0-9+/]{86}==$/;

// A key pair made by Node, in the Standard Webhooks formats.
function nodeKeyPair() {
  const { privateKey, publicKey } = crypto.generateKeyPairSync('ed25519');
  const jwk = privateKey.export({ format: 'jwk' });
  return {
    privateKey,
    whsk: 'whsk_' + Buffer.from(jwk.d, 'base64url').toString('base64'),
    whpk: 'whpk_' + Buffer.from(jwk.x, 'base64url').toString('base64'),
    publicKey,
  };
}

describe('ed25519 endpoints (v1a)', () => {
  let fx;
  // The public keys the receiver trusts, per path; it answers 401 to a request no key verifies.
  const trusted = new Map();
  before(async () => {
    fx = await pipelineFixture(null, { args: ['--retry-schedule', '100ms,200ms'] });
    fx.rx.handler = (req) => {
      const keys = trusted.get(req.url) || [];
      const sigs = v1aSignatures(req.headers['webhook-signature']);
      const ok = keys.some((k) => sigs.some((s) => nodeVerifies(k, req, s)));
      return ok ? 200 : 401;
    };
  });
  after(async () => {
    await fx?.cleanup();
  });

  it('creation: a whpk_ public key, no secret shown, the ping and deliveries verify with Node', async () => {
    const { server, rx } = fx;
    const { key } = await createOrgWithKey(server);
    const ep = await createEndpoint(server, key, { url: rx.url('/ed'), signature_scheme: 'ed25519' });
    assert.equal(ep.signature_scheme, 'ed25519');
    assert.match(ep.public_key, PUBLIC_KEY_RE);
    assert.equal(ep.secret, undefined, 'the private key never leaves hookd');
    assert.equal(ep.previous_public_key, undefined);
    trusted.set('/ed', [ep.public_key]);

    // the creation ping was signed with the new key already
    const ping = rx.requests.find((r) => r.isPing && r.url === '/ed');
    assert.ok(ping, 'the endpoint was pinged');
    const pingSigs = v1aSignatures(ping.headers['webhook-signature']);
    assert.equal(pingSigs.length, 1, ping.headers['webhook-signature']);
    assert.ok(nodeVerifies(ep.public_key, ping, pingSigs[0]));

    const shown = await getJson(server, key, `/v1/endpoints/${ep.id}`);
    assert.equal(shown.public_key, ep.public_key);
    assert.equal(shown.secret, undefined);
    const list = await getJson(server, key, '/v1/endpoints');
    assert.equal(list.data.find((e) => e.id === ep.id).public_key, ep.public_key);

    const type = uniqueType('ed');
    const evt = await emit(server, key, { type, data: { n: 1, s: 'café' } });
    const [req] = await rx.waitForPath('/ed');
    assert.equal(req.headers['webhook-id'], evt.id);
    assert.match(req.headers['webhook-timestamp'], /^\d{10}$/);
    assert.equal(req.headers['x-webhook-signature'], undefined);
    const sigs = req.headers['webhook-signature'].split(' ');
    assert.equal(sigs.length, 1, req.headers['webhook-signature']);
    assert.match(sigs[0], V1A_RE);
    assert.ok(nodeVerifies(ep.public_key, req, sigs[0]));
    assert.equal(req.answer.status, 200, 'the receiver verified it');
    const d = await waitDelivery(server, key, req.headers['x-webhook-delivery'], 'delivered');
    assert.equal(d.status, 'delivered');

    // a wrong key, a changed body, a changed id: none verifies (so the checks above can fail)
    assert.equal(nodeVerifies(nodeKeyPair().whpk, req, sigs[0]), false);
    assert.equal(nodeVerifies(ep.public_key, { ...req, body: Buffer.from(req.text + ' ') }, sigs[0]), false);
    const otherId = { ...req, headers: { ...req.headers, 'webhook-id': 'msg_other' } };
    assert.equal(nodeVerifies(ep.public_key, otherId, sigs[0]), false);
  });

  it('a receiver that trusts another key refuses the deliveries (401, then failed)', async () => {
    const { server, rx } = fx;
    const { key } = await createOrgWithKey(server);
    const ep = await createEndpoint(server, key, { url: rx.url('/ed-wrong'), signature_scheme: 'ed25519' });
    trusted.set('/ed-wrong', [nodeKeyPair().whpk]);
    await emit(server, key, { type: uniqueType('edwrong'), data: {} });
    const [req] = await rx.waitForPath('/ed-wrong');
    assert.equal(req.answer.status, 401);
    assert.ok(nodeVerifies(ep.public_key, req, v1aSignatures(req.headers['webhook-signature'])[0]));
    const d = await waitDelivery(server, key, req.headers['x-webhook-delivery'], ['failed', 'exhausted']);
    assert.notEqual(d.status, 'delivered');
  });

  it('rotation: both keys sign during the grace (new first), then only the new one', async () => {
    const { server, rx } = fx;
    const { key } = await createOrgWithKey(server);
    const ep = await createEndpoint(server, key, { url: rx.url('/ed-rot'), signature_scheme: 'ed25519' });
    const old = ep.public_key;
    const rot = await api(server, 'POST', `/v1/endpoints/${ep.id}/rotate-secret`, {
      key,
      body: { grace_seconds: 3600 },
    });
    assert.equal(rot.status, 200, rot.text);
    assert.equal(rot.json.secret, undefined);
    assert.match(rot.json.public_key, PUBLIC_KEY_RE);
    assert.notEqual(rot.json.public_key, old);
    assert.equal(rot.json.previous_public_key, old);
    assert.ok(Math.abs(Date.parse(rot.json.previous_secret_expires_at) - (Date.now() + 3600e3)) < 60e3);
    const fresh = rot.json.public_key;
    const shown = await getJson(server, key, `/v1/endpoints/${ep.id}`);
    assert.equal(shown.public_key, fresh);
    assert.equal(shown.previous_public_key, old);

    // a receiver that still trusts only the old key accepts the delivery
    trusted.set('/ed-rot', [old]);
    await emit(server, key, { type: uniqueType('edrot'), data: { n: 1 } });
    const [req] = await rx.waitForPath('/ed-rot');
    assert.equal(req.answer.status, 200);
    const sigs = v1aSignatures(req.headers['webhook-signature']);
    assert.equal(sigs.length, 2, req.headers['webhook-signature']);
    assert.ok(nodeVerifies(fresh, req, sigs[0]), 'first: the new key');
    assert.ok(nodeVerifies(old, req, sigs[1]), 'second: the old key');
    assert.equal(nodeVerifies(old, req, sigs[0]), false);
    assert.equal(nodeVerifies(fresh, req, sigs[1]), false);

    // rotating with no grace: one signature, of the newest key; the old key no longer verifies
    const rot2 = await api(server, 'POST', `/v1/endpoints/${ep.id}/rotate-secret`, {
      key,
      body: { grace_seconds: 0 },
    });
    assert.equal(rot2.status, 200, rot2.text);
    assert.equal(rot2.json.previous_public_key, undefined);
    assert.equal(rot2.json.previous_secret_expires_at, null);
    const newest = rot2.json.public_key;
    assert.equal((await getJson(server, key, `/v1/endpoints/${ep.id}`)).previous_public_key, undefined);
    trusted.set('/ed-rot', [newest]);
    await emit(server, key, { type: uniqueType('edrot'), data: { n: 2 } });
    const list = await rx.waitForPath('/ed-rot', 2);
    const req2 = list[1];
    const sigs2 = v1aSignatures(req2.headers['webhook-signature']);
    assert.equal(sigs2.length, 1, req2.headers['webhook-signature']);
    assert.ok(nodeVerifies(newest, req2, sigs2[0]));
    assert.equal(nodeVerifies(fresh, req2, sigs2[0]), false);
  });

  it('switching the scheme makes a new key (to ed25519) or a new shown secret (back to standard)', async () => {
    const { server, rx } = fx;
    const { key } = await createOrgWithKey(server);
    const ep = await createEndpoint(server, key, { url: rx.url('/ed-switch') });
    assert.match(ep.secret, SECRET_RE);
    assert.equal(ep.public_key, undefined);

    const toEd = await api(server, 'PATCH', `/v1/endpoints/${ep.id}`, {
      key,
      body: { signature_scheme: 'ed25519' },
    });
    assert.equal(toEd.status, 200, toEd.text);
    assert.match(toEd.json.public_key, PUBLIC_KEY_RE);
    assert.equal(toEd.json.secret, undefined);
    trusted.set('/ed-switch', [toEd.json.public_key]);
    await emit(server, key, { type: uniqueType('edsw'), data: {} });
    const [req] = await rx.waitForPath('/ed-switch');
    assert.equal(req.answer.status, 200);
    assert.deepEqual(
      standardSignatures(req.headers['webhook-signature']).filter((x) => x.startsWith('v1,')),
      [],
      'no v1 entry'
    );

    // PATCHing other fields keeps the key
    const renamed = await api(server, 'PATCH', `/v1/endpoints/${ep.id}`, {
      key,
      body: { name: 'renamed', signature_scheme: 'ed25519' },
    });
    assert.equal(renamed.status, 200, renamed.text);
    assert.equal(renamed.json.public_key, toEd.json.public_key);
    assert.equal(renamed.json.secret, undefined);

    const back = await api(server, 'PATCH', `/v1/endpoints/${ep.id}`, {
      key,
      body: { signature_scheme: 'standard' },
    });
    assert.equal(back.status, 200, back.text);
    assert.match(back.json.secret, SECRET_RE);
    assert.notEqual(back.json.secret, ep.secret, 'a new HMAC secret, not the old one');
    assert.equal(back.json.public_key, undefined);
    fx.rx.handler = ((prev) => (r) => (r.url === '/ed-switch' ? 200 : prev(r)))(fx.rx.handler);
    await emit(server, key, { type: uniqueType('edsw'), data: { back: true } });
    const list = await rx.waitForPath('/ed-switch', 2);
    const req2 = list[1];
    assert.deepEqual(v1aSignatures(req2.headers['webhook-signature']), []);
    assert.equal(new Webhook(back.json.secret).verify(req2.text, req2.headers).data.back, true);
    assert.deepEqual(standardSignatures(req2.headers['webhook-signature']), [
      signStandard(back.json.secret, req2.headers['webhook-id'], req2.headers['webhook-timestamp'], req2.body),
    ]);
  });

  it('an unknown scheme is refused; the org scheme stays standard or hex; one-shots keep HMAC', async () => {
    const { server, rx } = fx;
    const { key } = await createOrgWithKey(server);
    const bad = await api(server, 'POST', '/v1/endpoints', {
      key,
      body: { url: rx.url('/ed-bad'), signature_scheme: 'rsa' },
    });
    assert.equal(bad.status, 400, bad.text);
    assert.equal(bad.json.field, 'signature_scheme');
    const org = await api(server, 'PATCH', '/v1/org', { key, body: { signature_scheme: 'ed25519' } });
    assert.equal(org.status, 400, org.text);
    assert.equal(org.json.field, 'signature_scheme');
    // the operational endpoint, whose secret GET /v1/org shows, stays HMAC
    const ops = await api(server, 'PATCH', '/v1/org', { key, body: { operational_webhook_url: rx.url('/ed-ops') } });
    assert.equal(ops.status, 200, ops.text);
    const opsId = (await getJson(server, key, '/v1/org')).operational_endpoint_id;
    const opsEd = await api(server, 'PATCH', `/v1/endpoints/${opsId}`, { key, body: { signature_scheme: 'ed25519' } });
    assert.equal(opsEd.status, 400, opsEd.text);
    assert.equal(opsEd.json.field, 'signature_scheme');
    assert.match((await getJson(server, key, '/v1/org')).operational_webhook_secret, SECRET_RE);

    // an org with an ed25519 endpoint: its one-shot webhook_url deliveries are still v1 (HMAC)
    await createEndpoint(server, key, { url: rx.url('/ed-sub'), signature_scheme: 'ed25519' });
    const me = await getJson(server, key, '/v1/org');
    const evt = await emit(server, key, {
      type: uniqueType('edone'),
      data: {},
      webhook_url: rx.url('/ed-once'),
    });
    trusted.set('/ed-once', []);
    const [req] = await rx.waitForPath('/ed-once');
    assert.equal(new Webhook(me.primary_secret).verify(req.text, req.headers).id, evt.id);
    assert.deepEqual(v1aSignatures(req.headers['webhook-signature']), []);
  });
});

describe('hookd sign and hookd verify with Ed25519 keys, against Node', () => {
  const body = '{"type":"invoice.paid","data":{"n":1}}';

  function verifyArgs(keyText, headers, tolerance = '0') {
    const args = ['verify', '--secret', keyText, '--tolerance', tolerance];
    for (const [name, value] of Object.entries(headers)) args.push('-H', `${name}: ${value}`);
    return args;
  }

  function printedHeaders(stdout) {
    return Object.fromEntries(
      stdout
        .trim()
        .split('\n')
        .map((l) => [l.slice(0, l.indexOf(': ')), l.slice(l.indexOf(': ') + 2)])
    );
  }

  it('hookd sign with a Node-made whsk_ key: Node verifies, and hookd verify with the whpk_ key', () => {
    const pair = nodeKeyPair();
    const res = runHookd(['sign', '--secret', pair.whsk, '--id', 'msg_cli', '--timestamp', '1700000000'], {
      input: body,
    });
    assert.equal(res.code, 0, res.stderr);
    const headers = printedHeaders(res.stdout);
    assert.equal(headers['webhook-id'], 'msg_cli');
    assert.equal(headers['webhook-timestamp'], '1700000000');
    assert.match(headers['webhook-signature'], V1A_RE);
    const sig = Buffer.from(headers['webhook-signature'].slice(4), 'base64');
    assert.ok(crypto.verify(null, Buffer.from(`msg_cli.1700000000.${body}`), pair.publicKey, sig));
    // Ed25519 is deterministic: Node's own signature is the same bytes
    assert.deepEqual(crypto.sign(null, Buffer.from(`msg_cli.1700000000.${body}`), pair.privateKey), sig);
    assert.equal(runHookd(verifyArgs(pair.whpk, headers), { input: body }).code, 0);
    // --scheme ed25519 takes the keys without their prefix too
    assert.equal(
      runHookd([...verifyArgs(pair.whpk.slice(5), headers), '--scheme', 'ed25519'], { input: body }).code,
      0
    );
  });

  it('hookd verify accepts a Node signature, refuses a tampered body, a wrong key and a stale time', () => {
    const pair = nodeKeyPair();
    const ts = String(Math.floor(Date.now() / 1000));
    const sig = crypto.sign(null, Buffer.from(`msg_node.${ts}.${body}`), pair.privateKey).toString('base64');
    const headers = { 'webhook-id': 'msg_node', 'webhook-timestamp': ts, 'webhook-signature': `v1a,${sig}` };
    assert.equal(runHookd(verifyArgs(pair.whpk, headers, '300'), { input: body }).code, 0);
    // with a v1 entry of some other secret beside it, and the whsk_ key instead of whpk_
    const both = { ...headers, 'webhook-signature': `v1,${Buffer.alloc(32).toString('base64')} v1a,${sig}` };
    assert.equal(runHookd(verifyArgs(pair.whsk, both, '300'), { input: body }).code, 0);

    const tampered = runHookd(verifyArgs(pair.whpk, headers, '300'), { input: body + ' ' });
    assert.equal(tampered.code, 1);
    assert.match(tampered.stderr, /no signature matches/);
    assert.equal(runHookd(verifyArgs(nodeKeyPair().whpk, headers, '300'), { input: body }).code, 1);
    const old = { ...headers, 'webhook-timestamp': '1600000000' };
    const stale = runHookd(verifyArgs(pair.whpk, old, '300'), { input: body });
    assert.equal(stale.code, 1);
    assert.match(stale.stderr, /too old/);
  });

  it('a rotation header of two whsk_ keys carries two v1a entries, each Node-verifiable', () => {
    const a = nodeKeyPair();
    const b = nodeKeyPair();
    const res = runHookd(['sign', '--secret', a.whsk, '--secret', b.whsk, '--id', 'msg_rot', '--timestamp', '1700000001'], {
      input: body,
    });
    assert.equal(res.code, 0, res.stderr);
    const entries = printedHeaders(res.stdout)['webhook-signature'].split(' ');
    assert.equal(entries.length, 2);
    const content = Buffer.from(`msg_rot.1700000001.${body}`);
    assert.ok(crypto.verify(null, content, a.publicKey, Buffer.from(entries[0].slice(4), 'base64')));
    assert.ok(crypto.verify(null, content, b.publicKey, Buffer.from(entries[1].slice(4), 'base64')));
    assert.equal(crypto.verify(null, content, b.publicKey, Buffer.from(entries[0].slice(4), 'base64')), false);
  });

  it('usage errors: a public key cannot sign; a malformed key is refused (exit 2)', () => {
    const pair = nodeKeyPair();
    const pub = runHookd(['sign', '--secret', pair.whpk], { input: body });
    assert.equal(pub.code, 2);
    assert.match(pub.stderr, /public key cannot sign/);
    const bad = runHookd(['sign', '--secret', 'whsk_c2hvcnQ='], { input: body });
    assert.equal(bad.code, 2);
    const headers = { 'webhook-id': 'm', 'webhook-timestamp': '1', 'webhook-signature': 'v1a,x' };
    assert.equal(runHookd(verifyArgs('whpk_c2hvcnQ=', headers), { input: body }).code, 2);
  });

  it('the standardwebhooks and svix npm packages do not verify v1a: they find no v1 signature', () => {
    const pair = nodeKeyPair();
    const res = runHookd(['sign', '--secret', pair.whsk, '--id', 'msg_sw'], { input: body });
    assert.equal(res.code, 0, res.stderr);
    const headers = printedHeaders(res.stdout);
    // it takes only a whsec_ (HMAC) secret; given any, the v1a entry is skipped
    const hmacSecret = 'whsec_' + Buffer.alloc(32, 7).toString('base64');
    assert.throws(() => new Webhook(hmacSecret).verify(body, headers), /No matching signature/);
    assert.throws(() => new svix.Webhook(hmacSecret).verify(body, headers), /No matching signature/);
  });
});
