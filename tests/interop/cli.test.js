'use strict';
// §5 `hookd sign` / `hookd verify`: exit codes (0 valid, 1 invalid, 2 usage), help, and
// malformed input that must be refused, never crash.

const { describe, it } = require('node:test');
const assert = require('node:assert/strict');
const { run, sign, verify, newSecret } = require('./lib/cli');

const VECTOR = {
  secret: 'whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw',
  body: '{"test": 2432232314}',
  headers: {
    'webhook-id': 'msg_p5jXN8AQM9LWM0D4loKWxJek',
    'webhook-timestamp': '1614265330',
    'webhook-signature': 'v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=',
  },
};

describe('hookd sign and verify on the command line', () => {
  it('--help prints the usage on stdout and exits 0', () => {
    for (const cmd of ['sign', 'verify']) {
      const res = run([cmd, '--help']);
      assert.equal(res.status, 0);
      assert.match(res.stdout, new RegExp(`^usage: hookd ${cmd} --secret S`));
    }
    const top = run(['--help']);
    assert.match(top.stdout, /sign .*\n.*verify /);
  });

  it('usage errors exit 2 with the usage on stderr', () => {
    const cases = [
      ['sign'],
      ['sign', '--secret'],
      ['sign', '--secret', 'whsec_AAAA', '--bogus', 'x'],
      ['sign', '--secret', 'whsec_AAAA', '--scheme', 'md5'],
      ['sign', '--secret', 'whsec_AAAA', '--timestamp', 'yesterday'],
      ['sign', '--secret', 'whsec_AAAA', '--timestamp', '-5'],
      ['sign', '--secret', 'whsec_AAAA', '--scheme', 'hex', '--id', 'msg_1'],
      ['sign', '--secret', 'not base64!'],
      ['verify', '-H', 'webhook-id: x'],
      ['verify', '--secret', 'whsec_AAAA', '--tolerance', '5m'],
      ['verify', '--secret', 'whsec_AAAA', '-H', 'no colon here'],
      ['verify', '--secret', 'whsec_AAAA', '-H', ': empty name'],
    ];
    for (const args of cases) {
      const res = run(args);
      assert.equal(res.status, 2, `${args.join(' ')}: ${res.stderr}`);
      assert.match(res.stderr, /^hookd (sign|verify): /, args.join(' '));
    }
    // A secret that is not base64 is the caller's mistake too.
    const res = verify({ ...VECTOR, secret: 'whsec_!!!', tolerance: 0 });
    assert.equal(res.status, 2);
    assert.match(res.stderr, /secret/);
  });

  it('the published vector verifies with --tolerance 0, and is too old with the default', () => {
    assert.equal(verify({ ...VECTOR, tolerance: 0 }).status, 0);
    const res = verify(VECTOR);
    assert.equal(res.status, 1);
    assert.match(res.stderr, /^hookd verify: invalid: timestamp is too old\n$/);
  });

  it('missing headers are invalid (exit 1) and name the header', () => {
    for (const name of Object.keys(VECTOR.headers)) {
      const headers = { ...VECTOR.headers };
      delete headers[name];
      const res = verify({ ...VECTOR, headers, tolerance: 0 });
      assert.equal(res.status, 1);
      assert.match(res.stderr, new RegExp(`missing header ${name}`));
    }
    const hex = verify({ secret: VECTOR.secret, body: '', headers: {}, scheme: 'hex' });
    assert.equal(hex.status, 1);
    assert.match(hex.stderr, /missing header X-Webhook-Timestamp/);
  });

  it('malformed headers exit 1 with a reason, never a crash', () => {
    const bad = {
      'webhook-signature': [
        '',
        'g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=',
        'v1,',
        'v1,****',
        `v1,${'A'.repeat(10000)}`,
        'v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE= '.repeat(200),
      ],
      'webhook-timestamp': ['', 'soon', '-1614265330', '1614265330.5', '9'.repeat(40)],
      'webhook-id': ['', 'x'.repeat(9000)],
    };
    for (const [name, values] of Object.entries(bad)) {
      for (const value of values) {
        const res = verify({ ...VECTOR, headers: { ...VECTOR.headers, [name]: value }, tolerance: 0 });
        assert.equal(res.status, 1, `${name}: ${value.slice(0, 60)}: ${res.stderr}`);
        assert.match(res.stderr, /^hookd verify: invalid: /);
      }
    }
  });

  it('other headers are ignored and a duplicated webhook-id is invalid', () => {
    const headers = [
      ['Content-Type', 'application/json'],
      ...Object.entries(VECTOR.headers),
      ['User-Agent', 'hookd/0.1.0'],
    ];
    assert.equal(verify({ ...VECTOR, headers, tolerance: 0 }).status, 0);
    const dup = verify({
      ...VECTOR,
      headers: [...headers, ['Webhook-Id', 'msg_other']],
      tolerance: 0,
    });
    assert.equal(dup.status, 1);
    assert.match(dup.stderr, /given twice/);
  });

  it('several --secret: valid if any of them verifies', () => {
    const res = verify({ ...VECTOR, secret: [newSecret(), VECTOR.secret], tolerance: 0 });
    assert.equal(res.status, 0, res.stderr);
    assert.equal(verify({ ...VECTOR, secret: [newSecret(), newSecret()], tolerance: 0 }).status, 1);
  });

  it('sign reads the body as raw bytes, NULs included', () => {
    const secret = newSecret();
    const body = Buffer.from([0x61, 0x00, 0x62]);
    const headers = sign({ secret, body, timestamp: 1700000000, id: 'msg_nul' });
    const truncated = sign({ secret, body: body.subarray(0, 1), timestamp: 1700000000, id: 'msg_nul' });
    assert.notEqual(headers['webhook-signature'], truncated['webhook-signature']);
    assert.equal(verify({ secret, body, headers, tolerance: 0 }).status, 0);
    assert.equal(verify({ secret, body: body.subarray(0, 1), headers, tolerance: 0 }).status, 1);
  });

  it('every sign without --id gets a fresh message id', () => {
    const secret = newSecret();
    const a = sign({ secret, body: '{}' });
    const b = sign({ secret, body: '{}' });
    assert.notEqual(a['webhook-id'], b['webhook-id']);
  });
});
