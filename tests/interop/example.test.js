'use strict';
// §5 docs: examples/receiver.c, the documented CGI receiver, built against this build's
// libhookd and run the way a web server runs it, on requests signed by `hookd sign` and by the
// standardwebhooks library. (The install test builds it through pkg-config instead.)

const { describe, it, before, after } = require('node:test');
const assert = require('node:assert/strict');
const { spawnSync } = require('node:child_process');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const { Webhook } = require('standardwebhooks');
const { REPO, BUILD_DIR, sign, newSecret, nowSeconds, flipByte } = require('./lib/cli');

const CC = process.env.CC || 'cc';

function libcryptoLibs() {
  const res = spawnSync('pkg-config', ['--libs', 'libcrypto'], { encoding: 'utf8' });
  return res.status === 0 ? res.stdout.trim().split(/\s+/) : ['-lcrypto'];
}

// A sanitizer build's archive needs the sanitizer runtime in the program too.
function sanitizerFlags(archive) {
  const res = spawnSync('nm', ['-u', archive], { encoding: 'utf8' });
  const undef = res.stdout || '';
  const flags = [];
  if (/__asan_/.test(undef)) flags.push('-fsanitize=address');
  if (/__ubsan_/.test(undef)) flags.push('-fsanitize=undefined');
  return flags;
}

// Runs the receiver as CGI: headers as HTTP_* variables, the body on stdin. Returns the status
// line's code, the CGI output and stderr.
function cgi(bin, { secret, scheme, method = 'POST', headers = {}, body }) {
  const env = { PATH: process.env.PATH, REQUEST_METHOD: method, WEBHOOK_SECRET: secret };
  if (scheme) env.WEBHOOK_SCHEME = scheme;
  const buf = Buffer.from(body ?? '');
  env.CONTENT_LENGTH = String(buf.length);
  for (const [name, value] of Object.entries(headers)) {
    env[`HTTP_${name.toUpperCase().replace(/-/g, '_')}`] = value;
  }
  const res = spawnSync(bin, [], { env, input: buf, encoding: 'utf8', timeout: 30000 });
  // A request refused before its body is read (no secret, a GET, no signature) may close stdin
  // while it is still being written, as with a real web server; the answer is what counts.
  if (res.error && !(res.error.code === 'EPIPE' && res.stdout)) throw res.error;
  const m = /^Status: (\d{3}) [^\r\n]+\r\n/.exec(res.stdout);
  assert.ok(m, `no CGI status line in ${JSON.stringify(res.stdout)} (stderr: ${res.stderr})`);
  return { code: Number(m[1]), stdout: res.stdout, stderr: res.stderr };
}

describe('examples/receiver.c', () => {
  let dir;
  let bin;

  before(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'hookd-example-'));
    bin = path.join(dir, 'receiver');
    const archive = path.join(BUILD_DIR, 'libhookd.a');
    const args = [
      '-std=c11', '-Wall', '-Wextra', '-Werror', '-pedantic',
      ...sanitizerFlags(archive),
      '-I', path.join(REPO, 'include'),
      path.join(REPO, 'examples', 'receiver.c'),
      archive, ...libcryptoLibs(),
      '-o', bin,
    ];
    const res = spawnSync(CC, args, { encoding: 'utf8' });
    assert.equal(res.status, 0, `${CC} ${args.join(' ')}\n${res.stderr}`);
  });

  after(() => {
    if (dir) fs.rmSync(dir, { recursive: true, force: true });
  });

  it('answers 204 to a delivery signed by hookd sign', () => {
    const secret = newSecret();
    const body = '{"type":"upload.completed","data":{"id":1}}';
    const res = cgi(bin, { secret, headers: sign({ secret, body }), body });
    assert.equal(res.code, 204, res.stderr);
    assert.match(res.stderr, /verified, 43 bytes/);
  });

  it('answers 204 to a delivery signed by the standardwebhooks library', () => {
    const secret = newSecret();
    const body = '{"from":"standardwebhooks"}';
    const ts = new Date();
    const headers = {
      'webhook-id': 'msg_example',
      'webhook-timestamp': String(Math.floor(ts.getTime() / 1000)),
      'webhook-signature': new Webhook(secret).sign('msg_example', ts, body),
    };
    assert.equal(cgi(bin, { secret, headers, body }).code, 204);
  });

  it('answers 204 in the hex scheme', () => {
    const secret = newSecret();
    const body = '{"scheme":"hex"}';
    const headers = sign({ secret, body, scheme: 'hex' });
    assert.equal(cgi(bin, { secret, scheme: 'hex', headers, body }).code, 204);
  });

  it('answers 401 to a flipped byte, a wrong secret or missing headers', () => {
    const secret = newSecret();
    const body = '{"type":"upload.completed"}';
    const headers = sign({ secret, body });
    assert.equal(cgi(bin, { secret, headers, body: flipByte(Buffer.from(body), 3) }).code, 401);
    assert.equal(cgi(bin, { secret: newSecret(), headers, body }).code, 401);
    const { 'webhook-signature': _, ...unsigned } = headers;
    assert.equal(cgi(bin, { secret, headers: unsigned, body }).code, 401);
  });

  it('answers 400 to a replay from ten minutes ago', () => {
    const secret = newSecret();
    const body = '{}';
    const headers = sign({ secret, body, timestamp: nowSeconds() - 600 });
    const res = cgi(bin, { secret, headers, body });
    assert.equal(res.code, 400);
    assert.match(res.stdout, /timestamp is too old/);
  });

  it('answers 405 to a GET and 500 when it has no secret', () => {
    assert.equal(cgi(bin, { secret: newSecret(), method: 'GET', body: '' }).code, 405);
    assert.equal(cgi(bin, { secret: '', body: '{}' }).code, 500);
  });
});
