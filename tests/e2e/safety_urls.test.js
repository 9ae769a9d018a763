'use strict';
// §4.4 URL safety at registration, table-driven: every blocked range and every textual trick
// through POST /v1/endpoints (field "url"), PATCH /v1/endpoints/{id} (field "url") and
// POST /v1/events webhook_url (field "webhook_url"): the right 400, nothing created or changed.
// Then the URLs that must pass, and what --allow-http / --allow-private relax (and do not).
//
// The servers that accept public addresses run with --role api --no-ping: they store, never
// dispatch, so that no test ever sends a packet to a real public address.

const { describe, it, before, after } = require('node:test');
const assert = require('node:assert/strict');
const { startHookd, api, createOrgWithKey } = require('./lib/hookd');
const { startReceiver, waitEventSettled, uniqueType } = require('./lib/pipeline');

const NOT_ALLOWED = 'url_not_allowed';
const INVALID = 'invalid_url';
const EITHER = [INVALID, NOT_ALLOWED]; // refused either way; which code depends on the parser
const PUB = '93.184.215.14'; // a public unicast address (not contacted: see above)

// 93.184.215.14 as one 32-bit decimal number
const PUB_DECIMAL = String(((93 * 256 + 184) * 256 + 215) * 256 + 14);

// [url, expected error code(s), what]
const BLOCKED_RANGES = [
  ['https://127.0.0.1/', NOT_ALLOWED, 'loopback 127/8'],
  ['https://127.255.255.254:8443/x', NOT_ALLOWED, 'loopback 127/8, top, with a port'],
  ['https://10.0.0.1/', NOT_ALLOWED, 'RFC 1918 10/8'],
  ['https://10.255.255.255/', NOT_ALLOWED, 'RFC 1918 10/8, top'],
  ['https://172.16.0.1/', NOT_ALLOWED, 'RFC 1918 172.16/12'],
  ['https://172.31.255.254/', NOT_ALLOWED, 'RFC 1918 172.16/12, top'],
  ['https://192.168.0.1/', NOT_ALLOWED, 'RFC 1918 192.168/16'],
  ['https://192.168.255.255/', NOT_ALLOWED, 'RFC 1918 192.168/16, top'],
  ['https://169.254.169.254/latest/meta-data/', NOT_ALLOWED, 'cloud metadata 169.254.169.254'],
  ['https://169.254.0.1/', NOT_ALLOWED, 'link-local 169.254/16'],
  ['https://100.64.0.1/', NOT_ALLOWED, 'CGNAT 100.64/10'],
  ['https://100.127.255.254/', NOT_ALLOWED, 'CGNAT 100.64/10, top'],
  ['https://0.0.0.0/', NOT_ALLOWED, '0.0.0.0'],
  ['https://0.1.2.3/', NOT_ALLOWED, 'this network 0/8'],
  ['https://224.0.0.1/', NOT_ALLOWED, 'multicast 224/4'],
  ['https://239.255.255.250/', NOT_ALLOWED, 'multicast 224/4, top'],
  ['https://240.0.0.1/', NOT_ALLOWED, 'reserved 240/4'],
  ['https://254.255.255.254/', NOT_ALLOWED, 'reserved 240/4, top'],
  ['https://255.255.255.255/', NOT_ALLOWED, 'broadcast'],
  ['https://[::1]/', NOT_ALLOWED, 'IPv6 loopback ::1'],
  ['https://[0:0:0:0:0:0:0:1]:8443/', NOT_ALLOWED, 'IPv6 loopback, long form'],
  ['https://[::]/', NOT_ALLOWED, 'IPv6 unspecified ::'],
  ['https://[fc00::1]/', NOT_ALLOWED, 'unique local fc00::/7'],
  ['https://[fdff:ffff:ffff::1]/', NOT_ALLOWED, 'unique local fc00::/7 (fd)'],
  ['https://[fe80::1]/', NOT_ALLOWED, 'link-local fe80::/10'],
  ['https://[febf:ffff::1]/', NOT_ALLOWED, 'link-local fe80::/10, top'],
  ['https://[ff02::1]/', NOT_ALLOWED, 'multicast ff00::/8'],
  ['https://[ff0e::1]/', NOT_ALLOWED, 'multicast ff00::/8, global scope'],
  ['https://[2001:db8::1]/', NOT_ALLOWED, 'documentation 2001:db8::/32'],
  ['https://[2001:db8:ffff:ffff::1]/', NOT_ALLOWED, 'documentation 2001:db8::/32, top'],
];

const TRICKS = [
  ['https://2130706433/', NOT_ALLOWED, 'decimal 127.0.0.1'],
  ['https://0x7f000001/', NOT_ALLOWED, 'hex 127.0.0.1'],
  ['https://0177.0.0.1/', NOT_ALLOWED, 'octal first part'],
  ['https://017700000001/', NOT_ALLOWED, 'octal, one number'],
  ['https://127.1/', NOT_ALLOWED, 'short form 127.1'],
  ['https://127.0.1/', NOT_ALLOWED, 'short form 127.0.1'],
  ['https://0x7f.1/', NOT_ALLOWED, 'mixed hex short form'],
  ['https://0x7f.0x0.0x0.0x1/', NOT_ALLOWED, 'hex dotted'],
  ['https://127.000.000.001/', NOT_ALLOWED, 'zero-padded dotted'],
  ['https://0/', NOT_ALLOWED, 'bare 0'],
  ['https://2852039166/', NOT_ALLOWED, 'decimal 169.254.169.254'],
  ['https://0xa9fea9fe/', NOT_ALLOWED, 'hex 169.254.169.254'],
  ['https://0251.0376.0251.0376/', NOT_ALLOWED, 'octal 169.254.169.254'],
  ['https://0xa.1/', NOT_ALLOWED, 'hex short 10.0.0.1'],
  ['https://[::ffff:127.0.0.1]/', NOT_ALLOWED, 'IPv4-mapped loopback, dotted'],
  ['https://[::ffff:7f00:1]/', NOT_ALLOWED, 'IPv4-mapped loopback, hex'],
  ['https://[0:0:0:0:0:ffff:127.0.0.1]/', NOT_ALLOWED, 'IPv4-mapped loopback, long form'],
  ['https://[::ffff:169.254.169.254]/', NOT_ALLOWED, 'IPv4-mapped metadata'],
  ['https://[::ffff:a9fe:a9fe]/', NOT_ALLOWED, 'IPv4-mapped metadata, hex'],
  ['https://[::ffff:10.0.0.1]/', NOT_ALLOWED, 'IPv4-mapped 10/8'],
  ['https://[::127.0.0.1]/', NOT_ALLOWED, 'IPv4-compatible loopback'],
  ['https://[::a9fe:a9fe]/', NOT_ALLOWED, 'IPv4-compatible metadata'],
  ['https://[::ffff:0:7f00:1]/', NOT_ALLOWED, 'IPv4-translated (SIIT) loopback'],
  ['https://[64:ff9b::a9fe:a9fe]/', NOT_ALLOWED, 'NAT64 metadata'],
  ['https://[64:ff9b::127.0.0.1]/', NOT_ALLOWED, 'NAT64 loopback, dotted'],
  ['https://[64:ff9b:1::a9fe:a9fe]/', NOT_ALLOWED, 'NAT64 local-use prefix'],
  ['https://[2002:7f00:1::1]/', NOT_ALLOWED, '6to4 of 127.0.0.1'],
  ['https://[2002:a9fe:a9fe::1]/', NOT_ALLOWED, '6to4 of 169.254.169.254'],
  ['https://[2002:c0a8:101::1]/', NOT_ALLOWED, '6to4 of 192.168.1.1'],
  ['https://[2001:0:4136:e378:8000:63bf:3fff:fdd2]/', NOT_ALLOWED, 'Teredo 2001::/32'],
  ['https://[fe80::1%25eth0]/', EITHER, 'link-local with a zone id'],
  ['https://[::1%25lo]/', EITHER, 'loopback with a zone id'],
  ['https://127.0.0.1./', NOT_ALLOWED, 'trailing dot'],
  ['https://127.0.0.1..', EITHER, 'two trailing dots'],
  ['https://localhost/', NOT_ALLOWED, 'localhost'],
  ['https://LocalHost:8443/', NOT_ALLOWED, 'localhost, mixed case'],
  ['https://localhost./', NOT_ALLOWED, 'localhost, trailing dot'],
  ['https://vm/', NOT_ALLOWED, 'a name in /etc/hosts for 127.0.0.1'],
  ['HTTPS://127.0.0.1/', NOT_ALLOWED, 'upper-case scheme'],
  ['https://%31%32%37.0.0.1/', EITHER, 'percent-encoded host'],
  ['https://127.0.0.1%2e/', EITHER, 'percent-encoded trailing dot'],
  ['https://\uff11\uff12\uff17.\uff10.\uff10.\uff11/', EITHER, 'full-width digits'],
  ['https://4294967296/', EITHER, '2^32 (wraps to 0.0.0.0 in lax parsers)'],
  ['https://6425673729/', EITHER, '2^32 + 127.0.0.1'],
  ['https://user:pass@93.184.215.14/', INVALID, 'credentials user:pass@'],
  ['https://user@93.184.215.14/', INVALID, 'user name only'],
  ['https://:@93.184.215.14/', INVALID, 'empty credentials'],
  ['https://93.184.215.14@127.0.0.1/', INVALID, 'public@private'],
  ['https://127.0.0.1:443@93.184.215.14/', INVALID, 'private:port@public'],
  ['https://93.184.215.14\\@127.0.0.1/', INVALID, 'backslash before @'],
  ['https://93.184.215.14/#frag', INVALID, 'fragment'],
  ['https://93.184.215.14/#', INVALID, 'empty fragment'],
  ['https://93.184.215.14/a?b=c#d', INVALID, 'fragment after a query'],
  ['ftp://93.184.215.14/', INVALID, 'ftp scheme'],
  ['file:///etc/passwd', INVALID, 'file scheme'],
  ['gopher://127.0.0.1:6379/_INFO', INVALID, 'gopher scheme'],
  ['dict://127.0.0.1:11211/stat', INVALID, 'dict scheme'],
  ['ldap://127.0.0.1/', INVALID, 'ldap scheme'],
  ['wss://93.184.215.14/', INVALID, 'wss scheme'],
  ['javascript:alert(1)', INVALID, 'javascript: pseudo-URL'],
  ['data:text/plain,hi', INVALID, 'data: URL'],
  ['//93.184.215.14/x', INVALID, 'scheme-relative'],
  ['93.184.215.14/x', INVALID, 'no scheme'],
  ['/v1/orgs', INVALID, 'a path'],
  ['', INVALID, 'empty'],
  ['https://', INVALID, 'no host'],
  ['https:///x', INVALID, 'empty host'],
  ['https:93.184.215.14', INVALID, 'no //'],
  ['https://93.184.215.14:99999/', INVALID, 'port out of range'],
  [`https://${PUB}/${'a'.repeat(2049 - `https://${PUB}/`.length)}`, INVALID, '2,049 bytes'],
  [`https://${PUB}/${'a'.repeat(100000)}`, INVALID, '100 kB'],
  ['https://93.184.215.14/a b', INVALID, 'a space'],
  [' https://93.184.215.14/', INVALID, 'a leading space'],
  ['https://93.184.215.14/\r\nX-Injected: 1', INVALID, 'CRLF'],
  ['https://93.184.215.14/\n', INVALID, 'trailing LF'],
  ['https://93.184.215.14/\tx', INVALID, 'a tab'],
  ['https://93.184.215.14/\u0000', INVALID, 'NUL'],
  ['https://93.184.215.14/\u007f', INVALID, 'DEL'],
  ['https://93.184.215.14\r\n.evil/', INVALID, 'CRLF in the host'],
  ['http://93.184.215.14/', NOT_ALLOWED, 'http without --allow-http'],
];

// URLs that must pass with the default rules (the neighbours of the blocked ranges included)
const PUBLIC_OK = [
  `https://${PUB}/`,
  `https://${PUB}:8443/path/to?q=1&r=%20x`,
  'https://8.8.8.8/',
  'https://1.1.1.1./',
  'https://9.255.255.255/',
  'https://11.0.0.1/',
  'https://100.63.255.255/',
  'https://100.128.0.1/',
  'https://126.255.255.255/',
  'https://128.0.0.1/',
  'https://169.253.255.255/',
  'https://169.255.0.1/',
  'https://172.15.255.255/',
  'https://172.32.0.1/',
  'https://192.167.255.255/',
  'https://192.169.0.1/',
  'https://223.255.255.254/',
  `https://${PUB_DECIMAL}/`,
  'https://[2606:4700:4700::1111]/',
  'https://[2a00:1450:4001:80b::200e]:8443/x',
  `https://${PUB}/${'a'.repeat(2048 - `https://${PUB}/`.length)}`, // exactly 2,048 bytes
];

function label(url) {
  const s = JSON.stringify(url);
  return s.length > 70 ? `${s.slice(0, 60)}…(${url.length} bytes)` : s;
}

function assertRefused(res, codes, field, what) {
  const want = [].concat(codes);
  assert.equal(res.status, 400, `${what}: want 400 ${want.join('|')}, got ${res.status} ${res.text.slice(0, 300)}`);
  assert.ok(res.json, `${what}: a JSON error body: ${res.text.slice(0, 300)}`);
  assert.ok(want.includes(res.json.error), `${what}: want error ${want.join('|')}, got ${res.text.slice(0, 300)}`);
  assert.equal(res.json.field, field, `${what}: field: ${res.text.slice(0, 300)}`);
}

async function listEndpoints(server, key) {
  const res = await api(server, 'GET', '/v1/endpoints?limit=250', { key });
  assert.equal(res.status, 200, res.text);
  return res.json.data;
}

async function eventsOfType(server, key, type) {
  const res = await api(server, 'GET', `/v1/events?type=${encodeURIComponent(type)}`, { key });
  assert.equal(res.status, 200, res.text);
  return res.json.data;
}

// Every refused row, through the three doors; nothing created or changed.
function refusedRows(getCtx, rows) {
  for (const [url, codes, what] of rows) {
    it(`${what}: ${label(url)} → 400 ${[].concat(codes).join('|')}`, async () => {
      const { server, key, base } = getCtx();
      const created = await api(server, 'POST', '/v1/endpoints', { key, body: { url, name: 'x' } });
      assertRefused(created, codes, 'url', `POST /v1/endpoints ${label(url)}`);
      const patched = await api(server, 'PATCH', `/v1/endpoints/${base.id}`, { key, body: { url } });
      assertRefused(patched, codes, 'url', `PATCH /v1/endpoints ${label(url)}`);
      const type = uniqueType('url');
      const evt = await api(server, 'POST', '/v1/events', { key, body: { type, data: {}, webhook_url: url } });
      assertRefused(evt, codes, 'webhook_url', `POST /v1/events webhook_url ${label(url)}`);
      // nothing created, nothing changed
      const eps = await listEndpoints(server, key);
      assert.deepEqual(
        eps.map((e) => [e.id, e.url]),
        [[base.id, base.url]],
        'no endpoint created and the existing one unchanged'
      );
      assert.deepEqual(await eventsOfType(server, key, type), [], 'no event stored');
    });
  }
}

describe('URL rules (§4.4), default: https only, public unicast only', { timeout: 60000 }, () => {
  let ctx;
  before(async () => {
    const server = await startHookd({ args: ['--no-ping', '--role', 'api'] });
    const { key } = await createOrgWithKey(server);
    const res = await api(server, 'POST', '/v1/endpoints', { key, body: { url: `https://${PUB}/base` } });
    assert.equal(res.status, 201, res.text);
    ctx = { server, key, base: res.json };
  });
  after(async () => {
    await ctx?.server.cleanup();
  });

  describe('blocked ranges', () => refusedRows(() => ctx, BLOCKED_RANGES));
  describe('textual tricks and malformed URLs', () => refusedRows(() => ctx, TRICKS));

  describe('public addresses pass', () => {
    for (const url of PUBLIC_OK) {
      it(`${label(url)} → 201 (endpoint) and 202 (webhook_url)`, async () => {
        const { server } = ctx;
        const { key } = await createOrgWithKey(server);
        const res = await api(server, 'POST', '/v1/endpoints', { key, body: { url } });
        assert.equal(res.status, 201, `${label(url)}: ${res.text.slice(0, 300)}`);
        assert.equal(res.json.url, url);
        const evt = await api(server, 'POST', '/v1/events', { key, body: { type: 'safety.url', data: {}, webhook_url: url } });
        assert.equal(evt.status, 202, `${label(url)}: ${evt.text.slice(0, 300)}`);
        assert.equal(evt.json.deliveries, 2, 'the endpoint and the one-shot webhook_url');
        // and PATCH to it from another public URL
        const ep2 = await api(server, 'POST', '/v1/endpoints', { key, body: { url: `https://${PUB}/other` } });
        assert.equal(ep2.status, 201, ep2.text);
        const patched = await api(server, 'PATCH', `/v1/endpoints/${ep2.json.id}`, { key, body: { url } });
        assert.equal(patched.status, 200, patched.text.slice(0, 300));
        assert.equal(patched.json.url, url);
      });
    }
  });
});

describe('URL rules (§4.4) with --allow-http (scheme relaxed, addresses not)', { timeout: 60000 }, () => {
  let ctx;
  before(async () => {
    const server = await startHookd({ args: ['--no-ping', '--role', 'api', '--allow-http'] });
    const { key } = await createOrgWithKey(server);
    const res = await api(server, 'POST', '/v1/endpoints', { key, body: { url: `http://${PUB}/base` } });
    assert.equal(res.status, 201, `http://${PUB} passes with --allow-http: ${res.text}`);
    ctx = { server, key, base: res.json };
  });
  after(async () => {
    await ctx?.server.cleanup();
  });

  it(`http://${PUB}:8080/x passes as an endpoint and as webhook_url`, async () => {
    const { server } = ctx;
    const { key } = await createOrgWithKey(server);
    const url = `http://${PUB}:8080/x`;
    const res = await api(server, 'POST', '/v1/endpoints', { key, body: { url } });
    assert.equal(res.status, 201, res.text);
    const evt = await api(server, 'POST', '/v1/events', { key, body: { type: 'safety.url', data: {}, webhook_url: url } });
    assert.equal(evt.status, 202, evt.text);
  });

  refusedRows(
    () => ctx,
    [
      ['http://127.0.0.1/', NOT_ALLOWED, 'http loopback'],
      ['http://127.0.0.1:8080/x', NOT_ALLOWED, 'http loopback with a port'],
      ['http://localhost/', NOT_ALLOWED, 'http localhost'],
      ['http://2130706433/', NOT_ALLOWED, 'http decimal loopback'],
      ['http://10.1.2.3/', NOT_ALLOWED, 'http 10/8'],
      ['http://169.254.169.254/latest/meta-data/', NOT_ALLOWED, 'http metadata'],
      ['http://[::1]:8080/', NOT_ALLOWED, 'http ::1'],
      ['http://[::ffff:127.0.0.1]/', NOT_ALLOWED, 'http IPv4-mapped loopback'],
      ['https://192.168.1.1/', NOT_ALLOWED, 'https 192.168/16'],
      ['ftp://93.184.215.14/', INVALID, 'ftp is still not http(s)'],
      ['http://u:p@93.184.215.14/', INVALID, 'credentials'],
      ['http://93.184.215.14/#f', INVALID, 'fragment'],
    ]
  );
});

describe('URL rules (§4.4) with --allow-private only (addresses relaxed, scheme not)', { timeout: 60000 }, () => {
  let ctx;
  before(async () => {
    const server = await startHookd({ args: ['--no-ping', '--role', 'api', '--allow-private'] });
    const { key } = await createOrgWithKey(server);
    const res = await api(server, 'POST', '/v1/endpoints', { key, body: { url: 'https://127.0.0.1:1/base' } });
    assert.equal(res.status, 201, `https://127.0.0.1 passes with --allow-private: ${res.text}`);
    ctx = { server, key, base: res.json };
  });
  after(async () => {
    await ctx?.server.cleanup();
  });

  it('https to loopback, RFC 1918, metadata and ::1 pass', async () => {
    const { server } = ctx;
    const { key } = await createOrgWithKey(server);
    for (const url of ['https://10.0.0.1/', 'https://169.254.169.254/', 'https://[::1]:8443/', 'https://localhost/']) {
      const res = await api(server, 'POST', '/v1/endpoints', { key, body: { url } });
      assert.equal(res.status, 201, `${url}: ${res.text}`);
    }
  });

  refusedRows(
    () => ctx,
    [
      ['http://127.0.0.1/', NOT_ALLOWED, 'http is still refused'],
      [`http://${PUB}/`, NOT_ALLOWED, 'http to a public address is still refused'],
      ['gopher://127.0.0.1:6379/_x', INVALID, 'gopher'],
      ['https://a:b@127.0.0.1/', INVALID, 'credentials'],
    ]
  );
});

describe('URL rules (§4.4) with --allow-http --allow-private', { timeout: 60000 }, () => {
  it('http://127.0.0.1:<port> passes (ping verified, delivered); non-http schemes, credentials and fragments still do not', async (t) => {
    const server = await startHookd({ args: ['--allow-http', '--allow-private', '--retry-schedule', '100ms'] });
    const rx = await startReceiver();
    t.after(async () => {
      await rx.close();
      await server.cleanup();
    });
    const { key } = await createOrgWithKey(server);
    const ep = await api(server, 'POST', '/v1/endpoints', { key, body: { url: rx.url('/relaxed') } });
    assert.equal(ep.status, 201, ep.text);
    assert.equal(rx.pings().length, 1, 'the ping reached the receiver');
    const evt = await api(server, 'POST', '/v1/events', {
      key,
      body: { type: 'safety.relaxed', data: {}, webhook_url: rx.url('/oneshot') },
    });
    assert.equal(evt.status, 202, evt.text);
    assert.equal(evt.json.deliveries, 2);
    const ds = await waitEventSettled(server, key, evt.json.id, 2);
    for (const d of ds) assert.equal(d.status, 'delivered', JSON.stringify(d));
    await rx.waitForPath('/relaxed');
    await rx.waitForPath('/oneshot');
    for (const [url, code] of [
      [`ftp://127.0.0.1:${rx.port}/`, INVALID],
      [`file:///etc/passwd`, INVALID],
      [`http://u:p@127.0.0.1:${rx.port}/`, INVALID],
      [`http://127.0.0.1:${rx.port}/#x`, INVALID],
      [`//127.0.0.1:${rx.port}/`, INVALID],
    ]) {
      const res = await api(server, 'POST', '/v1/endpoints', { key, body: { url } });
      assertRefused(res, code, 'url', url);
      const e = await api(server, 'POST', '/v1/events', { key, body: { type: 'safety.relaxed', data: {}, webhook_url: url } });
      assertRefused(e, code, 'webhook_url', url);
    }
    assert.equal((await listEndpoints(server, key)).length, 1, 'nothing else created');
    assert.equal(rx.pings().length, 1, 'no ping for a refused URL');
  });
});
