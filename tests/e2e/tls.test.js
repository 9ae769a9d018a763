'use strict';
// §8 --tls-cert / --tls-key: HTTPS served directly.

const { execFileSync, spawnSync } = require('node:child_process');
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

describe('TLS: a certificate replaced on SIGHUP (issue 15)', () => {
  let dir;
  let server;
  const files = {};

  function makeCert(name, cn) {
    const certFile = path.join(dir, `${name}.pem`);
    const keyFile = path.join(dir, `${name}.key`);
    execFileSync('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-subj', `/CN=${cn}`, '-days', '2',
      '-keyout', keyFile, '-out', certFile, '-addext', 'subjectAltName=DNS:localhost,IP:127.0.0.1'], { stdio: 'ignore' });
    return { cert: fs.readFileSync(certFile), key: fs.readFileSync(keyFile) };
  }

  // The certificate a new connection gets: its fingerprint.
  function peerFingerprint(port) {
    return new Promise((resolve, reject) => {
      const socket = require('node:tls').connect({ host: '127.0.0.1', port, servername: 'localhost', rejectUnauthorized: false }, () => {
        resolve(socket.getPeerCertificate().fingerprint256);
        socket.end();
      });
      socket.on('error', reject);
    });
  }

  before(async () => {
    dir = makeTempDir();
    files.a = makeCert('a', 'first');
    files.b = makeCert('b', 'second');
    files.certPath = path.join(dir, 'live.pem');
    files.keyPath = path.join(dir, 'live.key');
    fs.writeFileSync(files.certPath, files.a.cert);
    fs.writeFileSync(files.keyPath, files.a.key);
    server = await startHookd({ args: ['--tls-cert', files.certPath, '--tls-key', files.keyPath] });
  });
  after(async () => {
    await server?.cleanup();
    if (dir) removeTempDir(dir);
  });

  it('new connections get the new certificate, with no restart; an open connection goes on; a bad pair keeps the old', async () => {
    const { X509Certificate } = require('node:crypto');
    const fpA = new X509Certificate(files.a.cert).fingerprint256;
    const fpB = new X509Certificate(files.b.cert).fingerprint256;
    assert.equal(await peerFingerprint(server.port), fpA);
    const agent = new https.Agent({ keepAlive: true, maxSockets: 1 });
    const viaAgent = () => new Promise((resolve, reject) => {
      https.get({ host: '127.0.0.1', port: server.port, path: '/healthz', ca: files.a.cert, servername: 'localhost', agent }, (res) => {
        res.resume();
        res.on('end', () => resolve(res.statusCode));
      }).on('error', reject);
    });
    assert.equal(await viaAgent(), 200); // a kept-alive connection made with the old certificate

    fs.writeFileSync(files.certPath, files.b.cert);
    fs.writeFileSync(files.keyPath, files.b.key);
    server.child.kill('SIGHUP');
    let fp;
    for (let i = 0; i < 100 && fp !== fpB; i++) {
      await new Promise((r) => setTimeout(r, 30));
      fp = await peerFingerprint(server.port);
    }
    assert.equal(fp, fpB, 'a new connection gets the new certificate');
    assert.equal(await viaAgent(), 200, 'the connection opened before goes on');
    agent.destroy();
    const pid = server.child.pid;

    const r = spawnSync('curl', ['-sS', '--cacert', path.join(dir, 'b.pem'), '--resolve', `localhost:${server.port}:127.0.0.1`,
      `https://localhost:${server.port}/healthz`], { encoding: 'utf8' });
    assert.equal(r.status, 0, r.stderr);
    assert.deepEqual(JSON.parse(r.stdout), { status: 'ok' });

    fs.writeFileSync(files.certPath, 'not a certificate');
    server.child.kill('SIGHUP');
    await new Promise((r2) => setTimeout(r2, 300));
    assert.equal(await peerFingerprint(server.port), fpB, 'a bad pair leaves the old one');
    assert.match(server.stderr, /certificate was not replaced|cannot read the certificate/);
    assert.equal(server.child.pid, pid);
    assert.equal(server.exitCode, undefined, 'still running');
  });
});
