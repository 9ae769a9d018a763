'use strict';
// §8 --tls-cert / --tls-key: HTTPS served directly.

const { execFileSync } = require('node:child_process');
const fs = require('node:fs');
const https = require('node:https');
const http = require('node:http');
const path = require('node:path');
const { describe, it, before, after } = require('node:test');
const assert = require('node:assert/strict');
const { startHookd, makeTempDir, removeTempDir, runHookdAsync, randomAdminKey } = require(
  './lib/hookd'
);

function httpsRequest(port, method, urlPath, { ca, headers = {}, body, rejectUnauthorized = true } = {}) {
  return new Promise((resolve, reject) => {
    const req = https.request(
      {
        host: '127.0.0.1',
        port,
        method,
        path: urlPath,
        ca,
        rejectUnauthorized,
        servername: 'localhost',
        headers: body ? { ...headers, 'Content-Length': Buffer.byteLength(body) } : headers,
        agent: false,
      },
      (res) => {
        let text = '';
        res.setEncoding('utf8');
        res.on('data', (c) => (text += c));
        res.on('end', () => resolve({ status: res.statusCode, headers: res.headers, text }));
      }
    );
    req.on('error', reject);
    req.setTimeout(5000, () => req.destroy(new Error('timeout')));
    req.end(body);
  });
}

describe('TLS', () => {
  let dir;
  let cert;
  let keyFile;
  let certFile;
  let server;

  before(async () => {
    dir = makeTempDir();
    certFile = path.join(dir, 'cert.pem');
    keyFile = path.join(dir, 'key.pem');
    execFileSync(
      'openssl',
      [
        'req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-subj', '/CN=localhost',
        '-days', '2', '-keyout', keyFile, '-out', certFile,
        '-addext', 'subjectAltName=DNS:localhost,IP:127.0.0.1',
      ],
      { stdio: 'ignore' }
    );
    cert = fs.readFileSync(certFile);
    server = await startHookd({ args: ['--tls-cert', certFile, '--tls-key', keyFile] });
  });
  after(async () => {
    await server?.cleanup();
    if (dir) removeTempDir(dir);
  });

  it('serves /healthz over HTTPS with the given certificate', async () => {
    assert.equal(server.tls, true, 'the listening log line says tls');
    const res = await httpsRequest(server.port, 'GET', '/healthz', { ca: cert });
    assert.equal(res.status, 200, res.text);
    assert.deepEqual(JSON.parse(res.text), { status: 'ok' });
  });

  it('the peer certificate is the configured one', async () => {
    const fingerprint = await new Promise((resolve, reject) => {
      const req = https.request(
        { host: '127.0.0.1', port: server.port, path: '/healthz', ca: cert, servername: 'localhost', agent: false },
        (res) => {
          resolve(res.socket.getPeerCertificate().fingerprint256);
          res.resume();
        }
      );
      req.on('error', reject);
      req.end();
    });
    const { X509Certificate } = require('node:crypto');
    assert.equal(fingerprint, new X509Certificate(cert).fingerprint256);
  });

  it('authenticated API calls work over HTTPS', async () => {
    const auth = { Authorization: `Bearer ${server.adminKey}`, 'Content-Type': 'application/json' };
    const created = await httpsRequest(server.port, 'POST', '/v1/orgs', {
      ca: cert,
      headers: auth,
      body: JSON.stringify({ name: 'tls-org' }),
    });
    assert.equal(created.status, 201, created.text);
    const id = JSON.parse(created.text).id;
    const got = await httpsRequest(server.port, 'GET', `/v1/orgs/${id}`, {
      ca: cert,
      headers: auth,
    });
    assert.equal(got.status, 200, got.text);
    assert.equal(JSON.parse(got.text).name, 'tls-org');
    const anon = await httpsRequest(server.port, 'GET', '/v1/orgs', { ca: cert });
    assert.equal(anon.status, 401);
  });

  it('a client that does not trust the certificate is refused by TLS', async () => {
    await assert.rejects(httpsRequest(server.port, 'GET', '/healthz', { ca: [] }));
  });

  it('plain HTTP on the TLS port gets no API answer', async () => {
    const outcome = await new Promise((resolve) => {
      const req = http.get({ host: '127.0.0.1', port: server.port, path: '/healthz', agent: false }, (res) => {
        let text = '';
        res.on('data', (c) => (text += c));
        res.on('end', () => resolve({ status: res.statusCode, text }));
      });
      req.on('error', (e) => resolve({ error: e.code || e.message }));
      req.setTimeout(3000, () => req.destroy(new Error('timeout')));
    });
    assert.ok(!(outcome.status === 200 && outcome.text.includes('"ok"')), JSON.stringify(outcome));
  });

  it('--tls-cert without --tls-key is refused at start', async () => {
    const r = await runHookdAsync(
      ['serve', '--listen', '127.0.0.1:0', '--db', `sqlite:${path.join(dir, 'x.db')}`,
        '--admin-key', randomAdminKey(), '--tls-cert', certFile],
      { cwd: dir, timeout: 5000 }
    );
    assert.equal(r.code, 2, r.stderr);
    assert.match(r.stderr, /--tls-(cert|key)/);
  });

  it('an unreadable --tls-cert file stops the start with a non-zero exit', async () => {
    const r = await runHookdAsync(
      ['serve', '--listen', '127.0.0.1:0', '--db', `sqlite:${path.join(dir, 'y.db')}`,
        '--admin-key', randomAdminKey(), '--tls-cert', path.join(dir, 'missing.pem'), '--tls-key', keyFile],
      { cwd: dir, timeout: 5000 }
    );
    assert.equal(r.signal, null, 'it exits on its own');
    assert.notEqual(r.code, 0, r.stderr);
    assert.match(r.stderr, /tls-cert|missing\.pem/);
  });

  it('a key that does not match the certificate stops the start with a non-zero exit', async () => {
    const otherKey = path.join(dir, 'other-key.pem');
    execFileSync('openssl', ['genpkey', '-algorithm', 'RSA', '-pkeyopt', 'rsa_keygen_bits:2048', '-out', otherKey], {
      stdio: 'ignore',
    });
    const r = await runHookdAsync(
      ['serve', '--listen', '127.0.0.1:0', '--db', `sqlite:${path.join(dir, 'z.db')}`,
        '--admin-key', randomAdminKey(), '--tls-cert', certFile, '--tls-key', otherKey],
      { cwd: dir, timeout: 5000 }
    );
    assert.equal(
      r.signal,
      null,
      `hookd must exit by itself with an error code, got ${r.signal === 'SIGKILL' ? 'a hang' : r.signal}:\n${r.stderr}`
    );
    assert.notEqual(r.code, 0, r.stderr);
  });
});
