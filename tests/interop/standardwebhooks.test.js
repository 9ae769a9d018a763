'use strict';
// §3, §5 interop: hookd's standard scheme against the npm `standardwebhooks` and `svix`
// libraries, used unchanged, in both directions.

const { describe, it } = require('node:test');
const assert = require('node:assert/strict');
const { Webhook } = require('standardwebhooks');
const svix = require('svix');
const { sign, verify, newSecret, nowSeconds, flipByte } = require('./lib/cli');

const BODIES = {
  'a small JSON object': '{"type":"upload.completed","data":{"id":42}}',
  'non-ASCII text': '{"name":"Zoë ✓ 日本語 🚀","note":"tab\\tnewline\\n"}',
  'an empty JSON object': '{}',
  'a 256 KiB body': JSON.stringify({ blob: 'x'.repeat(256 * 1024) }),
};

function assertValidIn(lib, secret, body, headers) {
  // Both libraries throw on an invalid signature and return the parsed payload otherwise.
  assert.deepEqual(new lib(secret).verify(body, headers), JSON.parse(body));
}

describe('hookd sign → standardwebhooks and svix', () => {
  for (const [what, body] of Object.entries(BODIES)) {
    it(`a signature over ${what} verifies in both libraries unchanged`, () => {
      const secret = newSecret();
      const headers = sign({ secret, body });
      assert.deepEqual(Object.keys(headers), ['webhook-id', 'webhook-timestamp', 'webhook-signature']);
      assert.match(headers['webhook-id'], /^msg_[0-9A-Z]{26}$/);
      assert.ok(Math.abs(Number(headers['webhook-timestamp']) - nowSeconds()) <= 5);
      assert.match(headers['webhook-signature'], /^v1,[A-Za-z0-9+/]{43}=$/);
      assertValidIn(Webhook, secret, body, headers);
      assertValidIn(svix.Webhook, secret, body, headers);
      // svix's own header names carry the same values.
      assertValidIn(svix.Webhook, secret, body, {
        'svix-id': headers['webhook-id'],
        'svix-timestamp': headers['webhook-timestamp'],
        'svix-signature': headers['webhook-signature'],
      });
    });
  }

  it('a one-byte change of the body or the signature fails in both libraries', () => {
    const secret = newSecret();
    const body = BODIES['a small JSON object'];
    const headers = sign({ secret, body });
    const tamperedBody = flipByte(Buffer.from(body), 10).toString();
    assert.throws(() => new Webhook(secret).verify(tamperedBody, headers), /No matching signature/);
    assert.throws(() => new svix.Webhook(secret).verify(tamperedBody, headers), /No matching signature/);
    const sig = headers['webhook-signature'];
    const tamperedSig = sig.slice(0, 10) + (sig[10] === 'A' ? 'B' : 'A') + sig.slice(11);
    const tamperedHeaders = { ...headers, 'webhook-signature': tamperedSig };
    assert.throws(() => new Webhook(secret).verify(body, tamperedHeaders), /No matching signature/);
    assert.throws(() => new svix.Webhook(secret).verify(body, tamperedHeaders), /No matching/);
    assert.throws(() => new Webhook(newSecret()).verify(body, headers), /No matching signature/);
  });

  it('during a rotation the header carries one signature per secret and either secret verifies', () => {
    const [next, prev] = [newSecret(), newSecret()];
    const body = BODIES['non-ASCII text'];
    const headers = sign({ secret: [next, prev], body });
    assert.match(headers['webhook-signature'], /^v1,\S{44} v1,\S{44}$/);
    assertValidIn(Webhook, next, body, headers);
    assertValidIn(Webhook, prev, body, headers);
    assertValidIn(svix.Webhook, prev, body, headers);
    assert.throws(() => new Webhook(newSecret()).verify(body, headers), /No matching signature/);
  });

  it('an explicit id and timestamp reproduce the published test vector', () => {
    const headers = sign({
      secret: 'whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw',
      body: '{"test": 2432232314}',
      id: 'msg_p5jXN8AQM9LWM0D4loKWxJek',
      timestamp: 1614265330,
    });
    assert.equal(headers['webhook-signature'], 'v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=');
    assert.equal(
      new Webhook('whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw').sign(
        'msg_p5jXN8AQM9LWM0D4loKWxJek',
        new Date(1614265330 * 1000),
        '{"test": 2432232314}',
      ),
      headers['webhook-signature'],
    );
  });

  it('a timestamp six minutes old is refused by the libraries', () => {
    const secret = newSecret();
    const body = '{}';
    const headers = sign({ secret, body, timestamp: nowSeconds() - 360 });
    assert.throws(() => new Webhook(secret).verify(body, headers), /too old/);
  });
});

describe('standardwebhooks and svix → hookd verify', () => {
  for (const [what, body] of Object.entries(BODIES)) {
    it(`a standardwebhooks signature over ${what} verifies with hookd verify`, () => {
      const secret = newSecret();
      const id = `msg_${Date.now()}`;
      const ts = new Date();
      const headers = {
        'webhook-id': id,
        'webhook-timestamp': String(Math.floor(ts.getTime() / 1000)),
        'webhook-signature': new Webhook(secret).sign(id, ts, body),
      };
      const res = verify({ secret, body, headers });
      assert.equal(res.status, 0, res.stderr);
      assert.equal(res.stderr, '');
    });
  }

  it('a svix signature verifies with its svix-* headers and with Webhook-* in any case', () => {
    const secret = newSecret();
    const body = BODIES['a small JSON object'];
    const ts = new Date();
    const sig = new svix.Webhook(secret).sign('msg_svix1', ts, body);
    const tsText = String(Math.floor(ts.getTime() / 1000));
    let res = verify({
      secret,
      body,
      headers: { 'svix-id': 'msg_svix1', 'svix-timestamp': tsText, 'svix-signature': sig },
    });
    assert.equal(res.status, 0, res.stderr);
    res = verify({
      secret,
      body,
      headers: { 'Webhook-Id': 'msg_svix1', 'WEBHOOK-TIMESTAMP': tsText, 'Webhook-Signature': sig },
    });
    assert.equal(res.status, 0, res.stderr);
  });

  it('a one-byte change of the body, id, timestamp or signature fails with exit 1', () => {
    const secret = newSecret();
    const body = Buffer.from(BODIES['a small JSON object']);
    const ts = new Date();
    const headers = {
      'webhook-id': 'msg_flip',
      'webhook-timestamp': String(Math.floor(ts.getTime() / 1000)),
      'webhook-signature': new Webhook(secret).sign('msg_flip', ts, body.toString()),
    };
    assert.equal(verify({ secret, body, headers }).status, 0);
    for (let i = 0; i < body.length; i += 7) {
      const res = verify({ secret, body: flipByte(body, i), headers });
      assert.equal(res.status, 1, `flipped byte ${i} passed`);
      assert.match(res.stderr, /invalid: no signature matches/);
    }
    const sig = headers['webhook-signature'];
    const changes = [
      { 'webhook-id': 'msg_flio' },
      { 'webhook-timestamp': String(Number(headers['webhook-timestamp']) - 1) },
      { 'webhook-signature': sig.slice(0, 5) + (sig[5] === 'A' ? 'B' : 'A') + sig.slice(6) },
    ];
    for (const change of changes) {
      const res = verify({ secret, body, headers: { ...headers, ...change } });
      assert.equal(res.status, 1, JSON.stringify(change));
      assert.match(res.stderr, /no signature matches/);
    }
  });

  it('a rotation header verifies whichever position the matching signature holds', () => {
    const [secret, other] = [newSecret(), newSecret()];
    const body = '{"rotation":true}';
    const ts = new Date();
    const good = new Webhook(secret).sign('msg_rot', ts, body);
    const bad = new Webhook(other).sign('msg_rot', ts, body);
    for (const list of [[good, bad, bad], [bad, good, bad], [bad, bad, good]]) {
      const headers = {
        'webhook-id': 'msg_rot',
        'webhook-timestamp': String(Math.floor(ts.getTime() / 1000)),
        'webhook-signature': list.join(' '),
      };
      assert.equal(verify({ secret, body, headers }).status, 0, list.join(' '));
    }
  });

  it('the secret may come without whsec_ and without base64 padding', () => {
    const secret = newSecret(); // 32 bytes: one '=' of padding
    const body = '{}';
    const ts = new Date();
    const headers = {
      'webhook-id': 'msg_pad',
      'webhook-timestamp': String(Math.floor(ts.getTime() / 1000)),
      'webhook-signature': new Webhook(secret).sign('msg_pad', ts, body),
    };
    const bare = secret.slice('whsec_'.length);
    for (const s of [secret, bare, bare.replace(/=+$/, ''), `whsec_${bare.replace(/=+$/, '')}`]) {
      assert.equal(verify({ secret: s, body, headers }).status, 0, s);
    }
  });

  it('a timestamp beyond the tolerance is refused, and --tolerance 0 lifts the check', () => {
    const secret = newSecret();
    const body = '{}';
    const old = new Date((nowSeconds() - 400) * 1000);
    const headers = {
      'webhook-id': 'msg_old',
      'webhook-timestamp': String(Math.floor(old.getTime() / 1000)),
      'webhook-signature': new Webhook(secret).sign('msg_old', old, body),
    };
    let res = verify({ secret, body, headers });
    assert.equal(res.status, 1);
    assert.match(res.stderr, /timestamp is too old/);
    assert.equal(verify({ secret, body, headers, tolerance: 600 }).status, 0);
    assert.equal(verify({ secret, body, headers, tolerance: 0 }).status, 0);
    const future = new Date((nowSeconds() + 400) * 1000);
    res = verify({
      secret,
      body,
      headers: {
        'webhook-id': 'msg_new',
        'webhook-timestamp': String(Math.floor(future.getTime() / 1000)),
        'webhook-signature': new Webhook(secret).sign('msg_new', future, body),
      },
    });
    assert.equal(res.status, 1);
    assert.match(res.stderr, /timestamp is too far in the future/);
  });
});
