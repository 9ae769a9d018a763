'use strict';
// §2.4 endpoint `headers` validation (names are tokens, values free of CR/LF and control
// characters, ≤ 20 entries of ≤ 1 KiB, hookd's own and hop-by-hop headers refused, any case), an
// allowed custom header is sent; §8 --proxy: proxy environment variables are ignored, --proxy is
// used.

const { describe, it, before, after } = require('node:test');
const assert = require('node:assert/strict');
const http = require('node:http');
const { startHookd, api, createOrgWithKey } = require('./lib/hookd');
const {
  pipelineFixture,
  startReceiver,
  createEndpoint,
  emit,
  waitEventSettled,
  waitDelivery,
  uniqueType,
  getJson,
} = require('./lib/pipeline');

const REFUSED_NAMES = [
  'Host',
  'Content-Length',
  'Transfer-Encoding',
  'Connection',
  'Content-Type',
  'User-Agent',
  'Expect',
  'TE',
  'Upgrade',
  'Keep-Alive',
  'Proxy-Authorization',
  'webhook-id',
  'webhook-timestamp',
  'webhook-signature',
  'X-Webhook-Signature',
  'X-Webhook-Timestamp',
  'X-Webhook-Event',
  'X-Webhook-Delivery',
  'X-Webhook-Attempt',
];

function caseVariants(name) {
  const lower = name.toLowerCase();
  const upper = name.toUpperCase();
  // alternate case: hOsT, cOnTeNt-LeNgTh, ...
  const alt = [...lower].map((c, i) => (i % 2 ? c.toUpperCase() : c)).join('');
  return [...new Set([name, lower, upper, alt])];
}

// [headers object, what]
const REFUSED = [
  ...REFUSED_NAMES.flatMap((n) => caseVariants(n).map((v) => [{ [v]: 'x' }, `reserved name ${v}`])),
  [{ 'X-Ok': 'a', Host: 'evil.example' }, 'Host beside an allowed header'],
  [{ 'X-A': 'a\r\nX-Injected: 1' }, 'CRLF in a value'],
  [{ 'X-A': 'a\nX-Injected: 1' }, 'LF in a value'],
  [{ 'X-A': 'a\rb' }, 'CR in a value'],
  [{ 'X-A': '\r\n' }, 'value is only CRLF'],
  [{ 'X-A': 'a\u0001b' }, 'control character \\x01 in a value'],
  [{ 'X-A': 'a\u001bb' }, 'ESC in a value'],
  [{ 'X-A': 'a\u007fb' }, 'DEL in a value'],
  [{ 'X-A': 'a\u0000b' }, 'NUL in a value'],
  [{ 'X-A': 'a\u0000\r\nX-Injected: 1' }, 'NUL then CRLF in a value'],
  [{ 'X-Ok': 'ok', 'X-A': '\u0000' }, 'NUL value beside an allowed header'],
  [{ 'X A': 'x' }, 'space in a name'],
  [{ 'X-A:': 'x' }, 'colon in a name'],
  [{ 'X-A\r\nX-Injected': 'x' }, 'CRLF in a name'],
  [{ '': 'x' }, 'empty name'],
  [{ 'X(A)': 'x' }, 'parentheses in a name'],
  [{ 'X/A': 'x' }, 'slash in a name'],
  [{ 'X"A"': 'x' }, 'quote in a name'],
  [{ 'X@A': 'x' }, '@ in a name'],
  [{ 'X=A': 'x' }, '= in a name'],
  [{ 'X{A}': 'x' }, 'braces in a name'],
  [{ 'X-\u00e9': 'x' }, 'non-ASCII in a name'],
  [{ 'X\tA': 'x' }, 'tab in a name'],
  [{ ' X-A': 'x' }, 'leading space in a name'],
  [{ 'X-A': 1 }, 'a number as value'],
  [{ 'X-A': null }, 'null as value'],
  [{ 'X-A': ['a'] }, 'an array as value'],
  [{ 'X-A': { b: 'c' } }, 'an object as value'],
  [Object.fromEntries(Array.from({ length: 21 }, (_, i) => [`X-H${i}`, 'v'])), '21 entries'],
  [{ 'X-Big': 'v'.repeat(1025) }, 'a value over 1 KiB'],
  [{ 'X-Big': 'v'.repeat(100000) }, 'a value of 100 kB'],
  [{ ['X-' + 'n'.repeat(1100)]: 'v' }, 'a name over 1 KiB'],
];

function label(headers) {
  const s = JSON.stringify(headers);
  return s.length > 80 ? s.slice(0, 70) + `…(${s.length} bytes)` : s;
}

describe('endpoint headers validation (§2.4)', { timeout: 60000 }, () => {
  let fx;
  before(async () => {
    fx = await pipelineFixture(null, { args: ['--no-ping'] });
  });
  after(async () => {
    await fx?.cleanup();
  });

  for (const [headers, what] of REFUSED) {
    it(`${what}: ${label(headers)} → 400 field headers, nothing created or changed`, async () => {
      const { server, rx } = fx;
      // an org of its own per row, so that one row's failure does not spill into the next
      const { key } = await createOrgWithKey(server);
      const base = await createEndpoint(server, key, { url: rx.url('/base'), headers: { 'X-Base': 'b' } });
      const created = await api(server, 'POST', '/v1/endpoints', { key, body: { url: rx.url('/h'), headers } });
      assert.equal(created.status, 400, `POST: ${created.text.slice(0, 300)}`);
      assert.equal(created.json?.field, 'headers', `POST: ${created.text.slice(0, 300)}`);
      const patched = await api(server, 'PATCH', `/v1/endpoints/${base.id}`, { key, body: { headers } });
      assert.equal(patched.status, 400, `PATCH: ${patched.text.slice(0, 300)}`);
      assert.equal(patched.json?.field, 'headers', `PATCH: ${patched.text.slice(0, 300)}`);
      const list = await getJson(server, key, '/v1/endpoints?limit=250');
      assert.deepEqual(
        list.data.map((e) => [e.id, e.headers]),
        [[base.id, { 'X-Base': 'b' }]],
        'nothing created, the existing endpoint unchanged'
      );
    });
  }

  it('allowed: 20 entries, a value of ~1 KiB, tabs and visible characters; custom headers are sent as given', async () => {
    const { server, key, rx } = fx;
    const twenty = Object.fromEntries(Array.from({ length: 20 }, (_, i) => [`X-H${i}`, `v${i}`]));
    const ep20 = await api(server, 'POST', '/v1/endpoints', { key, body: { url: rx.url('/h20'), headers: twenty } });
    assert.equal(ep20.status, 201, ep20.text);
    const big = 'v'.repeat(1000);
    const headers = {
      Authorization: 'Bearer abc.def',
      'X-Custom': 'hello world',
      'X-Tab': 'a\tb',
      'X-Visible': "!#$%&'*+-.^_`|~ 0123 [] {} \"q\" <>",
      'X-Big': big,
      "!#$%&'*+-.^_`|~": 'token-chars-name',
    };
    const ep = await createEndpoint(server, key, { url: rx.url('/hsent'), headers });
    assert.deepEqual(ep.headers, headers);
    const type = uniqueType('hdr');
    const evt = await emit(server, key, { type, data: {}, endpoint_ids: [ep.id] });
    const [d] = await waitEventSettled(server, key, evt.id, 1);
    assert.equal(d.status, 'delivered', JSON.stringify(d));
    const [req] = await rx.waitForPath('/hsent');
    assert.equal(req.headers.authorization, 'Bearer abc.def');
    assert.equal(req.headers['x-custom'], 'hello world');
    assert.equal(req.headers['x-tab'], 'a\tb');
    assert.equal(req.headers['x-visible'], headers['X-Visible']);
    assert.equal(req.headers['x-big'], big);
    assert.equal(req.headers["!#$%&'*+-.^_`|~"], 'token-chars-name');
    // hookd's own headers are intact and appear once
    assert.equal(req.headers['content-type'], 'application/json');
    assert.match(req.headers['user-agent'], /^hookd\//);
    const hostLines = req.rawHeaders.filter((h, i) => i % 2 === 0 && h.toLowerCase() === 'host');
    assert.equal(hostLines.length, 1);
    // and the delivery log records them
    const full = await getJson(server, key, `/v1/deliveries/${d.id}`);
    const sent = JSON.stringify(full.attempts[0].request_headers);
    assert.ok(sent.includes('X-Custom'), `request_headers: ${sent.slice(0, 500)}`);
    // PATCH replaces the set; {} clears it
    const patched = await api(server, 'PATCH', `/v1/endpoints/${ep.id}`, { key, body: { headers: { 'X-Other': '1' } } });
    assert.equal(patched.status, 200, patched.text);
    assert.deepEqual(patched.json.headers, { 'X-Other': '1' });
  });
});

// A node:http server that records what a proxy would receive and answers 200.
async function startRecordingProxy() {
  const p = { requests: [], connects: [] };
  const server = http.createServer((req, res) => {
    const chunks = [];
    req.on('data', (c) => chunks.push(c));
    req.on('end', () => {
      p.requests.push({ method: req.method, url: req.url, headers: req.headers, body: Buffer.concat(chunks).toString('utf8') });
      res.writeHead(200, { 'Content-Type': 'text/plain' });
      res.end('proxied');
    });
  });
  server.on('connect', (req, socket) => {
    p.connects.push(req.url);
    socket.end('HTTP/1.1 403 Forbidden\r\n\r\n');
  });
  const sockets = new Set();
  server.on('connection', (s) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  });
  await new Promise((r) => server.listen(0, '127.0.0.1', r));
  p.port = server.address().port;
  p.url = `http://127.0.0.1:${p.port}`;
  p.close = async () => {
    for (const s of sockets) s.destroy();
    await new Promise((r) => server.close(() => r()));
  };
  return p;
}

describe('egress proxy (§8 --proxy)', { timeout: 60000 }, () => {
  it('proxy environment variables are ignored: deliveries go straight to the receiver', async (t) => {
    const proxy = await startRecordingProxy();
    const env = {};
    for (const name of ['http_proxy', 'HTTP_PROXY', 'https_proxy', 'HTTPS_PROXY', 'all_proxy', 'ALL_PROXY']) {
      env[name] = proxy.url;
    }
    env.no_proxy = '';
    env.NO_PROXY = '';
    const server = await startHookd({ args: ['--allow-http', '--allow-private'], env });
    const rx = await startReceiver();
    t.after(async () => {
      await rx.close();
      await proxy.close();
      await server.cleanup();
    });
    const { key } = await createOrgWithKey(server);
    const ep = await createEndpoint(server, key, { url: rx.url('/direct') }); // the ping, too
    const evt = await emit(server, key, {
      type: 'proxy.env',
      data: {},
      endpoint_ids: [ep.id],
      webhook_url: rx.url('/direct-oneshot'),
    });
    const ds = await waitEventSettled(server, key, evt.id, 2);
    for (const d of ds) assert.equal(d.status, 'delivered', JSON.stringify(d));
    await rx.waitForPath('/direct');
    await rx.waitForPath('/direct-oneshot');
    assert.equal(rx.pings().length, 1, 'the ping went straight to the receiver');
    assert.deepEqual(
      proxy.requests.map((r) => `${r.method} ${r.url}`),
      [],
      'the proxy from the environment saw requests'
    );
    assert.deepEqual(proxy.connects, []);
  });

  it('--proxy URL: deliveries go through the proxy (absolute-form request line)', async (t) => {
    const proxy = await startRecordingProxy();
    const server = await startHookd({ args: ['--allow-http', '--allow-private', '--no-ping', '--proxy', proxy.url] });
    const rx = await startReceiver();
    t.after(async () => {
      await rx.close();
      await proxy.close();
      await server.cleanup();
    });
    const { key } = await createOrgWithKey(server);
    const ep = await createEndpoint(server, key, { url: rx.url('/via-proxy') });
    const evt = await emit(server, key, { type: 'proxy.flag', data: { x: 1 }, endpoint_ids: [ep.id] });
    const [d0] = await waitEventSettled(server, key, evt.id, 1);
    const d = await waitDelivery(server, key, d0.id);
    assert.equal(d.status, 'delivered', JSON.stringify(d));
    assert.equal(proxy.requests.length, 1, JSON.stringify(proxy.requests.map((r) => r.url)));
    const req = proxy.requests[0];
    assert.equal(req.method, 'POST');
    assert.equal(req.url, rx.url('/via-proxy'), 'absolute-form request target');
    assert.equal(req.headers['x-webhook-delivery'], d.id);
    assert.ok(req.headers['webhook-signature'], 'the signed headers travel through the proxy');
    assert.deepEqual(JSON.parse(req.body).data, { x: 1 });
    assert.equal(rx.requests.length, 0, 'nothing reached the receiver directly');
  });
});
