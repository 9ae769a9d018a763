'use strict';
// A real nginx for the tests: one worker on a free loopback port, optionally over TLS (with or
// without HTTP/2), answering `fast` paths itself and proxying `slow` paths to an upstream (a
// receiver of ./receiver.js that holds its answers). Its access log records the connection
// serial number and protocol of each request, so that a test can see how connections were used.
//
//   const ng = await startNginx({ tls: { cert, key }, http2: true, upstream: rx.port });
//   ng.url('/fast')        // https://127.0.0.1:<port>/fast
//   ng.requests()          // [{connection, connectionRequests, protocol, uri, status}]
//   await ng.close()

const { spawn, execFileSync } = require('node:child_process');
const fs = require('node:fs');
const net = require('node:net');
const os = require('node:os');
const path = require('node:path');

function freePort() {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.on('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
  });
}

// A self-signed certificate for localhost and 127.0.0.1 in dir: {certFile, keyFile}.
function selfSignedCert(dir) {
  const certFile = path.join(dir, 'cert.pem');
  const keyFile = path.join(dir, 'key.pem');
  execFileSync(
    'openssl',
    [
      'req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-subj', '/CN=localhost', '-days', '2',
      '-keyout', keyFile, '-out', certFile, '-addext', 'subjectAltName=DNS:localhost,IP:127.0.0.1',
    ],
    { stdio: 'ignore' }
  );
  return { certFile, keyFile };
}

async function waitListening(port, child, timeoutMs = 10000) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`nginx exited at start (${child.exitCode})`);
    const ok = await new Promise((resolve) => {
      const s = net.connect(port, '127.0.0.1', () => {
        s.destroy();
        resolve(true);
      });
      s.on('error', () => resolve(false));
    });
    if (ok) return;
    if (Date.now() > deadline) throw new Error('nginx did not start listening');
    await new Promise((r) => setTimeout(r, 20));
  }
}

async function startNginx({ tls = null, http2 = false, upstream = null, slowPrefix = '/slow' } = {}) {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'hookd-nginx-'));
  const port = await freePort();
  const logFile = path.join(dir, 'access.log');
  const listen = `listen 127.0.0.1:${port}${tls ? ' ssl' : ''}${http2 ? ' http2' : ''};`;
  const conf = `
daemon off;
master_process off;
worker_processes 1;
pid ${dir}/nginx.pid;
error_log ${dir}/error.log warn;
events { worker_connections 1024; }
http {
  client_body_temp_path ${dir}/body;
  proxy_temp_path ${dir}/proxy;
  fastcgi_temp_path ${dir}/fastcgi;
  uwsgi_temp_path ${dir}/uwsgi;
  scgi_temp_path ${dir}/scgi;
  log_format conns '$connection $connection_requests $server_protocol $request_uri $status';
  access_log ${logFile} conns;
  keepalive_requests 100000;
  keepalive_timeout 60s;
  http2_max_concurrent_streams 128;
  server {
    ${listen}
    ${tls ? `ssl_certificate ${tls.certFile}; ssl_certificate_key ${tls.keyFile};` : ''}
    location ${slowPrefix} {
      ${upstream ? `proxy_pass http://127.0.0.1:${upstream}; proxy_read_timeout 120s;` : 'return 204;'}
    }
    location / { return 204; }
  }
}
`;
  fs.writeFileSync(path.join(dir, 'nginx.conf'), conf);
  const child = spawn('nginx', ['-p', dir, '-e', path.join(dir, 'error.log'), '-c', path.join(dir, 'nginx.conf')], {
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let stderr = '';
  child.stderr.on('data', (c) => (stderr += c));
  try {
    await waitListening(port, child);
  } catch (e) {
    child.kill('SIGKILL');
    throw new Error(`${e.message}: ${stderr}`);
  }
  const scheme = tls ? 'https' : 'http';
  return {
    port,
    dir,
    url: (p = '/') => `${scheme}://127.0.0.1:${port}${p}`,
    // nginx writes a line when a request ends (a held /slow request is not there yet)
    requests: () =>
      (fs.existsSync(logFile) ? fs.readFileSync(logFile, 'utf8') : '')
        .split('\n')
        .filter(Boolean)
        .map((line) => {
          const [connection, connectionRequests, protocol, uri, status] = line.split(' ');
          return { connection: Number(connection), connectionRequests: Number(connectionRequests), protocol, uri, status: Number(status) };
        }),
    close: async () => {
      if (child.exitCode === null) {
        const exited = new Promise((r) => child.once('exit', r));
        child.kill('SIGTERM');
        const t = setTimeout(() => child.kill('SIGKILL'), 3000);
        await exited;
        clearTimeout(t);
      }
      fs.rmSync(dir, { recursive: true, force: true });
    },
  };
}

module.exports = { startNginx, selfSignedCert };
