'use strict';
// §3 hex scheme interop: `X-Webhook-Signature: sha256=<hex>` over "{timestamp}.{body}", keyed
// with the secret string itself, against Node's own crypto.createHmac, in both directions.

const { describe, it } = require('node:test');
const assert = require('node:assert/strict');
const crypto = require('node:crypto');
const { sign, verify, newSecret, nowSeconds, flipByte } = require('./lib/cli');

// What a receiver following the seeds' sample code computes.
function nodeSignature(secret, timestamp, body) {
  const hmac = crypto.createHmac('sha256', secret);
  hmac.update(`${timestamp}.`);
  hmac.update(body);
  return `sha256=${hmac.digest('hex')}`;
}

const BODIES = {
  'a JSON object': Buffer.from('{"type":"upload.completed","data":{"id":42}}'),
  'non-ASCII text': Buffer.from('{"name":"Zoë ✓ 日本語 🚀"}'),
  'bytes with NULs and invalid UTF-8': Buffer.from([0x7b, 0x00, 0xff, 0xfe, 0x00, 0x0a, 0x7d]),
  'an empty body': Buffer.alloc(0),
  'a 256 KiB body': crypto.randomBytes(256 * 1024),
};

describe('hookd sign --scheme hex → node crypto', () => {
  for (const [what, body] of Object.entries(BODIES)) {
    it(`signs ${what} as createHmac does, keyed with the whole secret string`, () => {
      const secret = newSecret();
      const headers = sign({ secret, body, scheme: 'hex' });
      assert.deepEqual(Object.keys(headers), ['X-Webhook-Signature', 'X-Webhook-Timestamp']);
      const ts = headers['X-Webhook-Timestamp'];
      assert.ok(Math.abs(Number(ts) - nowSeconds()) <= 5);
      assert.match(headers['X-Webhook-Signature'], /^sha256=[0-9a-f]{64}$/);
      assert.equal(headers['X-Webhook-Signature'], nodeSignature(secret, ts, body));
      // Not the decoded key of the standard scheme.
      const decoded = Buffer.from(secret.slice('whsec_'.length), 'base64');
      assert.notEqual(headers['X-Webhook-Signature'], nodeSignature(decoded, ts, body));
    });
  }

  it('a rotation signs with each secret, comma-separated, new first', () => {
    const [next, prev] = [newSecret(), newSecret()];
    const body = BODIES['a JSON object'];
    const headers = sign({ secret: [next, prev], body, scheme: 'hex', timestamp: 1700000000 });
    assert.equal(
      headers['X-Webhook-Signature'],
      `${nodeSignature(next, 1700000000, body)},${nodeSignature(prev, 1700000000, body)}`,
    );
  });

  it('any secret string is a key, whsec_ or not', () => {
    const headers = sign({ secret: 'topsecret', body: '', scheme: 'hex', timestamp: 1700000000 });
    assert.equal(headers['X-Webhook-Signature'], nodeSignature('topsecret', 1700000000, ''));
  });
});

describe('node crypto → hookd verify --scheme hex', () => {
  for (const [what, body] of Object.entries(BODIES)) {
    it(`verifies ${what}, and refuses it with one byte flipped`, () => {
      const secret = newSecret();
      const ts = nowSeconds();
      const headers = {
        'X-Webhook-Signature': nodeSignature(secret, ts, body),
        'X-Webhook-Timestamp': String(ts),
      };
      const res = verify({ secret, body, headers, scheme: 'hex' });
      assert.equal(res.status, 0, res.stderr);
      if (body.length > 0) {
        const bad = verify({ secret, body: flipByte(body, body.length - 1), headers, scheme: 'hex' });
        assert.equal(bad.status, 1);
        assert.match(bad.stderr, /no signature matches/);
      }
      const sig = headers['X-Webhook-Signature'];
      const flipped = sig.slice(0, -1) + (sig.endsWith('0') ? '1' : '0');
      const res2 = verify({
        secret,
        body,
        headers: { ...headers, 'X-Webhook-Signature': flipped },
        scheme: 'hex',
      });
      assert.equal(res2.status, 1);
    });
  }

  it('header names are case-insensitive and a rotation list verifies under either secret', () => {
    const [next, prev] = [newSecret(), newSecret()];
    const body = BODIES['a JSON object'];
    const ts = nowSeconds();
    const list = `${nodeSignature(next, ts, body)},${nodeSignature(prev, ts, body)}`;
    for (const secret of [next, prev]) {
      const res = verify({
        secret,
        body,
        scheme: 'hex',
        headers: { 'x-webhook-signature': list, 'X-WEBHOOK-TIMESTAMP': String(ts) },
      });
      assert.equal(res.status, 0, res.stderr);
    }
    const res = verify({
      secret: newSecret(),
      body,
      scheme: 'hex',
      headers: { 'X-Webhook-Signature': list, 'X-Webhook-Timestamp': String(ts) },
    });
    assert.equal(res.status, 1);
  });

  it('repeated X-Webhook-Signature headers are read as one list', () => {
    const [secret, other] = [newSecret(), newSecret()];
    const body = BODIES['a JSON object'];
    const ts = nowSeconds();
    const res = verify({
      secret,
      body,
      scheme: 'hex',
      headers: [
        ['X-Webhook-Signature', nodeSignature(other, ts, body)],
        ['X-Webhook-Signature', nodeSignature(secret, ts, body)],
        ['X-Webhook-Timestamp', String(ts)],
      ],
    });
    assert.equal(res.status, 0, res.stderr);
  });

  it('a timestamp 310 s old is refused with --tolerance 300 and accepted with 320', () => {
    const secret = newSecret();
    const body = BODIES['a JSON object'];
    // A margin of a few seconds keeps the edge test stable on a slow machine: the edge itself
    // is tested exactly in the unit tests, against a fixed `now`.
    const ts = nowSeconds() - 310;
    const headers = {
      'X-Webhook-Signature': nodeSignature(secret, ts, body),
      'X-Webhook-Timestamp': String(ts),
    };
    const res = verify({ secret, body, headers, scheme: 'hex', tolerance: 300 });
    assert.equal(res.status, 1);
    assert.match(res.stderr, /too old/);
    assert.equal(verify({ secret, body, headers, scheme: 'hex', tolerance: 320 }).status, 0);
  });
});
