'use strict';
// §2.1 request validation: 400 naming the field, never a partial write; 404, 405, 413, 415.

const { describe, it, before, after } = require('node:test');
const assert = require('node:assert/strict');
const {
  startHookd,
  api,
  createOrg,
  createOrgWithKey,
  uniqueName,
  paddedOrgBody,
  rawRequest,
  parseRawResponse,
} = require('./lib/hookd');

function assertError(res, status, code, field) {
  assert.equal(res.status, status, `expected ${status}, got ${res.status}: ${res.text}`);
  assert.match(res.headers.get('content-type') || '', /^application\/json/);
  assert.equal(res.json?.error, code, res.text);
  assert.equal(typeof res.json.message, 'string');
  if (field !== undefined) assert.equal(res.json.field, field, res.text);
}

async function allOrgs(server) {
  const out = [];
  let cursor = null;
  do {
    const q = cursor ? `&cursor=${encodeURIComponent(cursor)}` : '';
    const res = await api(server, 'GET', `/v1/orgs?limit=250${q}`, { key: server.adminKey });
    assert.equal(res.status, 200, res.text);
    out.push(...res.json.data);
    cursor = res.json.next_cursor;
  } while (cursor);
  return out;
}

async function keysOf(server, orgId) {
  const res = await api(server, 'GET', `/v1/orgs/${orgId}/api-keys?limit=250`, {
    key: server.adminKey,
  });
  assert.equal(res.status, 200, res.text);
  return res.json.data;
}

describe('validation of POST /v1/orgs', () => {
  let server;
  before(async () => {
    server = await startHookd();
  });
  after(async () => {
    await server?.cleanup();
  });

  const cases = [
    ['a missing name', {}, 'validation_error', 'name'],
    ['an empty name', { name: '' }, 'validation_error', 'name'],
    ['a numeric name', { name: 5 }, 'validation_error', 'name'],
    ['a null name', { name: null }, 'validation_error', 'name'],
    ['a boolean name', { name: true }, 'validation_error', 'name'],
    ['an array name', { name: ['a'] }, 'validation_error', 'name'],
    ['an object name', { name: { a: 1 } }, 'validation_error', 'name'],
    ['a 101-character name', { name: 'x'.repeat(101) }, 'validation_error', 'name'],
    ['a 101-code-point name', { name: 'é'.repeat(101) }, 'validation_error', 'name'],
    ['a name with a NUL character', { name: 'a\u0000b' }, 'validation_error', 'name'],
    ['an unknown field', { name: 'ok', colour: 'blue' }, 'unknown_field', 'colour'],
    ['an unknown field alone', { nam: 'typo' }, 'unknown_field', 'nam'],
  ];
  for (const [what, body, code, field] of cases) {
    it(`${what} is a 400 ${code} naming ${field}, and creates nothing`, async () => {
      const before = (await allOrgs(server)).length;
      const res = await api(server, 'POST', '/v1/orgs', { key: server.adminKey, body });
      assertError(res, 400, code, field);
      assert.equal((await allOrgs(server)).length, before);
    });
  }

  it('a name of exactly 100 characters is accepted', async () => {
    const name = 'n'.repeat(100);
    const res = await api(server, 'POST', '/v1/orgs', { key: server.adminKey, body: { name } });
    assert.equal(res.status, 201, res.text);
    assert.equal(res.json.name, name);
  });

  it('name length counts Unicode code points, not bytes', async () => {
    for (const ch of ['é', '日', '😀']) {
      const name = ch.repeat(100);
      const res = await api(server, 'POST', '/v1/orgs', { key: server.adminKey, body: { name } });
      assert.equal(res.status, 201, `${ch}: ${res.text}`);
      assert.equal(res.json.name, name);
      const got = await api(server, 'GET', `/v1/orgs/${res.json.id}`, { key: server.adminKey });
      assert.equal(got.json.name, name, 'the name round-trips unchanged');
      const over = await api(server, 'POST', '/v1/orgs', {
        key: server.adminKey,
        body: { name: ch.repeat(101) },
      });
      assertError(over, 400, 'validation_error', 'name');
    }
  });

  const badJson = [
    ['truncated JSON', '{"name": "x"'],
    ['not JSON at all', 'hello'],
    ['a JSON array', '[{"name":"x"}]'],
    ['a JSON string', '"x"'],
    ['a JSON number', '42'],
    ['JSON null', 'null'],
    ['trailing garbage', '{"name":"x"} extra'],
    ['a single quote string', "{'name':'x'}"],
  ];
  for (const [what, text] of badJson) {
    it(`${what} is a 400 invalid_json and creates nothing`, async () => {
      const before = (await allOrgs(server)).length;
      const res = await api(server, 'POST', '/v1/orgs', {
        key: server.adminKey,
        body: text,
        headers: { 'Content-Type': 'application/json' },
      });
      assertError(res, 400, 'invalid_json');
      assert.equal((await allOrgs(server)).length, before);
    });
  }

  it('invalid UTF-8 in the body is a 400, not a crash', async () => {
    const body = Buffer.concat([
      Buffer.from('{"name":"a'),
      Buffer.from([0xff, 0xfe, 0xc3]),
      Buffer.from('"}'),
    ]);
    const res = await api(server, 'POST', '/v1/orgs', {
      key: server.adminKey,
      body,
      headers: { 'Content-Type': 'application/json' },
    });
    assert.equal(res.status, 400, res.text);
    assert.equal((await api(server, 'GET', '/healthz')).status, 200);
  });

  it('a duplicated key in the body is a 400', async () => {
    const res = await api(server, 'POST', '/v1/orgs', {
      key: server.adminKey,
      body: '{"name":"a","name":"b"}',
      headers: { 'Content-Type': 'application/json' },
    });
    assert.equal(res.status, 400, res.text);
  });

  it('an empty body is a 400 naming the missing name', async () => {
    const res = await api(server, 'POST', '/v1/orgs', {
      key: server.adminKey,
      body: '',
      headers: { 'Content-Type': 'application/json' },
    });
    assert.equal(res.status, 400, res.text);
    assert.ok(['validation_error', 'invalid_json'].includes(res.json.error), res.text);
  });

  it('JSON nested deeper than 64 levels is a 400 invalid_json', async () => {
    const deep = (n) => '{"a":'.repeat(n - 1) + '{}' + '}'.repeat(n - 1);
    const over = await api(server, 'POST', '/v1/orgs', {
      key: server.adminKey,
      body: `{"name":"deep","x":${deep(65)}}`,
    });
    assertError(over, 400, 'invalid_json');
    // 64 levels in all parse, then fail on the unknown field instead
    const at = await api(server, 'POST', '/v1/orgs', {
      key: server.adminKey,
      body: `{"name":"deep","x":${deep(63)}}`,
    });
    assertError(at, 400, 'unknown_field', 'x');
  });

  it('absurdly deep JSON is a 400 and the server stays up', async () => {
    const n = 100000;
    const body = '['.repeat(n) + ']'.repeat(n);
    const res = await api(server, 'POST', '/v1/orgs', {
      key: server.adminKey,
      body: `{"name":${body}}`,
      headers: { 'Content-Type': 'application/json' },
    });
    assertError(res, 400, 'invalid_json');
    assert.equal((await api(server, 'GET', '/healthz')).status, 200);
  });
});

describe('validation of POST /v1/orgs/{id}/api-keys', () => {
  let server;
  before(async () => {
    server = await startHookd();
  });
  after(async () => {
    await server?.cleanup();
  });

  const cases = [
    ['missing scopes', { name: 'k' }, 'validation_error', 'scopes'],
    ['empty scopes', { name: 'k', scopes: [] }, 'validation_error', 'scopes'],
    ['the admin scope', { name: 'k', scopes: ['admin'] }, 'validation_error', 'scopes'],
    ['admin among others', { name: 'k', scopes: ['events', 'admin'] }, 'validation_error', 'scopes'],
    ['an unknown scope', { name: 'k', scopes: ['everything'] }, 'validation_error', 'scopes'],
    ['scopes as a string', { name: 'k', scopes: 'events' }, 'validation_error', 'scopes'],
    ['a non-string scope', { name: 'k', scopes: [1] }, 'validation_error', 'scopes'],
    ['a null scope', { name: 'k', scopes: [null] }, 'validation_error', 'scopes'],
    ['null scopes', { name: 'k', scopes: null }, 'validation_error', 'scopes'],
    ['a missing name', { scopes: ['events'] }, 'validation_error', 'name'],
    ['an empty name', { name: '', scopes: ['events'] }, 'validation_error', 'name'],
    ['a numeric name', { name: 7, scopes: ['events'] }, 'validation_error', 'name'],
    ['a 101-character name', { name: 'k'.repeat(101), scopes: ['events'] }, 'validation_error', 'name'],
    ['an unknown field', { name: 'k', scopes: ['events'], org_id: 'x' }, 'unknown_field', 'org_id'],
    ['an unknown field "key"', { name: 'k', scopes: ['events'], key: 'mine' }, 'unknown_field', 'key'],
  ];
  for (const [what, body, code, field] of cases) {
    it(`${what} is a 400 ${code} naming ${field}, and creates no key`, async () => {
      const org = await createOrg(server);
      const res = await api(server, 'POST', `/v1/orgs/${org.id}/api-keys`, {
        key: server.adminKey,
        body,
      });
      assertError(res, 400, code, field);
      assert.deepEqual(await keysOf(server, org.id), []);
    });
  }

  it('a key for an unknown org is a 404', async () => {
    const res = await api(server, 'POST', '/v1/orgs/org_01ARZ3NDEKTSV4RRFFQ69G5FAV/api-keys', {
      key: server.adminKey,
      body: { name: 'k', scopes: ['events'] },
    });
    assertError(res, 404, 'not_found');
  });

  it('a malformed JSON body is a 400 invalid_json and creates no key', async () => {
    const org = await createOrg(server);
    const res = await api(server, 'POST', `/v1/orgs/${org.id}/api-keys`, {
      key: server.adminKey,
      body: '{"name":"k","scopes":["events"]',
    });
    assertError(res, 400, 'invalid_json');
    assert.deepEqual(await keysOf(server, org.id), []);
  });
});

describe('validation of PATCH /v1/org and POST /v1/org/rotate-secret', () => {
  let server;
  before(async () => {
    server = await startHookd();
  });
  after(async () => {
    await server?.cleanup();
  });

  const cases = [
    ['an unknown scheme', { signature_scheme: 'rsa' }, 'validation_error', 'signature_scheme'],
    ['an empty scheme', { signature_scheme: '' }, 'validation_error', 'signature_scheme'],
    ['a numeric scheme', { signature_scheme: 1 }, 'validation_error', 'signature_scheme'],
    ['a null scheme', { signature_scheme: null }, 'validation_error', 'signature_scheme'],
    ['an unknown field', { signature_scheme: 'hex', name: 'x' }, 'unknown_field', 'name'],
  ];
  for (const [what, body, code, field] of cases) {
    it(`PATCH with ${what} is a 400 ${code} naming ${field}, and changes nothing`, async () => {
      const { key } = await createOrgWithKey(server, ['webhooks']);
      const before = await api(server, 'GET', '/v1/org', { key });
      const res = await api(server, 'PATCH', '/v1/org', { key, body });
      assertError(res, 400, code, field);
      const after = await api(server, 'GET', '/v1/org', { key });
      assert.deepEqual(after.json, before.json);
    });
  }

  it('rotate-secret with an unknown field is a 400 and keeps the secret', async () => {
    const { key } = await createOrgWithKey(server, ['webhooks']);
    const before = await api(server, 'GET', '/v1/org', { key });
    const res = await api(server, 'POST', '/v1/org/rotate-secret', { key, body: { force: true } });
    assertError(res, 400, 'unknown_field', 'force');
    const after = await api(server, 'GET', '/v1/org', { key });
    assert.equal(after.json.primary_secret, before.json.primary_secret);
  });

  it('an admin PATCH without org_id is a 400 naming org_id', async () => {
    const res = await api(server, 'PATCH', '/v1/org', {
      key: server.adminKey,
      body: { signature_scheme: 'hex' },
    });
    assertError(res, 400, 'validation_error', 'org_id');
  });

  it('an admin rotate-secret without org_id is a 400 naming org_id', async () => {
    const res = await api(server, 'POST', '/v1/org/rotate-secret', { key: server.adminKey });
    assertError(res, 400, 'validation_error', 'org_id');
  });
});

describe('list query parameters', () => {
  let server;
  before(async () => {
    server = await startHookd();
  });
  after(async () => {
    await server?.cleanup();
  });

  for (const limit of ['0', '251', 'abc', '-1', '1.5', '', '10abc', '99999999999999999999']) {
    it(`limit=${JSON.stringify(limit)} is a 400 naming limit`, async () => {
      const res = await api(server, 'GET', `/v1/orgs?limit=${encodeURIComponent(limit)}`, {
        key: server.adminKey,
      });
      assertError(res, 400, 'validation_error', 'limit');
    });
  }

  for (const cursor of ['garbage', 'zz', 'abc', '!!!', 'AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA']) {
    it(`cursor=${JSON.stringify(cursor)} is a 400 naming cursor`, async () => {
      const res = await api(server, 'GET', `/v1/orgs?cursor=${encodeURIComponent(cursor)}`, {
        key: server.adminKey,
      });
      assertError(res, 400, 'validation_error', 'cursor');
      const org = await createOrg(server);
      const keys = await api(
        server,
        'GET',
        `/v1/orgs/${org.id}/api-keys?cursor=${encodeURIComponent(cursor)}`,
        { key: server.adminKey }
      );
      assertError(keys, 400, 'validation_error', 'cursor');
    });
  }
});

describe('routing and media types', () => {
  let server;
  before(async () => {
    server = await startHookd();
  });
  after(async () => {
    await server?.cleanup();
  });

  it('an unknown route is a 404 not_found in JSON', async () => {
    for (const path of ['/v1/nope', '/v2/orgs', '/v1', '/v1/orgs/x/y/z', '/v1/orgs/']) {
      const res = await api(server, 'GET', path, { key: server.adminKey });
      assertError(res, 404, 'not_found');
    }
  });

  it('an unknown org or key id is a 404 not_found', async () => {
    const k = { key: server.adminKey };
    for (const [method, path] of [
      ['GET', '/v1/orgs/org_01ARZ3NDEKTSV4RRFFQ69G5FAV'],
      ['GET', '/v1/orgs/not-an-id'],
      ['DELETE', '/v1/orgs/org_01ARZ3NDEKTSV4RRFFQ69G5FAV'],
      ['GET', '/v1/orgs/org_01ARZ3NDEKTSV4RRFFQ69G5FAV/api-keys'],
      ['DELETE', '/v1/api-keys/key_01ARZ3NDEKTSV4RRFFQ69G5FAV'],
      ['DELETE', '/v1/api-keys/whatever'],
    ]) {
      assertError(await api(server, method, path, k), 404, 'not_found');
    }
  });

  it('a wrong method is a 405 with an Allow header listing the right ones', async () => {
    const cases = [
      ['PUT', '/v1/orgs', ['GET', 'POST']],
      ['PATCH', '/v1/orgs', ['GET', 'POST']],
      ['POST', '/v1/orgs/org_01ARZ3NDEKTSV4RRFFQ69G5FAV', ['DELETE', 'GET']],
      ['DELETE', '/v1/org', ['GET', 'PATCH']],
      ['GET', '/v1/org/rotate-secret', ['POST']],
      ['POST', '/healthz', ['GET']],
      ['GET', '/v1/api-keys/key_01ARZ3NDEKTSV4RRFFQ69G5FAV', ['DELETE']],
    ];
    for (const [method, path, allowed] of cases) {
      const res = await api(server, method, path, { key: server.adminKey });
      assertError(res, 405, 'method_not_allowed');
      const allow = (res.headers.get('allow') || '')
        .split(',')
        .map((s) => s.trim())
        .filter(Boolean)
        .sort();
      assert.deepEqual(allow, allowed, `${method} ${path}: Allow ${res.headers.get('allow')}`);
    }
  });

  it('a body typed other than application/json is a 415 and creates nothing', async () => {
    for (const type of [
      'text/plain',
      'application/x-www-form-urlencoded',
      'application/xml',
      'application/jsonp',
      'multipart/form-data; boundary=x',
    ]) {
      const name = uniqueName('typed');
      const res = await api(server, 'POST', '/v1/orgs', {
        key: server.adminKey,
        body: JSON.stringify({ name }),
        headers: { 'Content-Type': type },
      });
      assertError(res, 415, 'unsupported_media_type');
      assert.ok(!(await allOrgs(server)).some((o) => o.name === name), type);
    }
  });

  it('application/json with parameters, any case, or no Content-Type at all is JSON', async () => {
    for (const type of [
      'application/json',
      'application/json; charset=utf-8',
      'application/json;charset=UTF-8',
      'Application/JSON',
      null,
    ]) {
      const name = uniqueName('json');
      const res = await api(server, 'POST', '/v1/orgs', {
        key: server.adminKey,
        body: JSON.stringify({ name }),
        headers: type ? { 'Content-Type': type } : {},
      });
      assert.equal(res.status, 201, `${type}: ${res.text}`);
      assert.equal(res.json.name, name);
    }
  });

  it('a declared body far over the limit is answered 413 before it is sent', async () => {
    const before = (await allOrgs(server)).length;
    // headers only: a body more than 16 MiB over the limit is refused without reading it
    // (smaller excess is read and dropped, so that a client still sending sees the 413)
    const raw = await rawRequest(
      server,
      'POST /v1/orgs HTTP/1.1\r\nHost: 127.0.0.1\r\n' +
        `Authorization: Bearer ${server.adminKey}\r\n` +
        'Content-Type: application/json\r\nContent-Length: 100000000\r\n\r\n{"name":"big"',
      { until: /\r\n\r\n[\s\S]*\}/ }
    );
    const res = parseRawResponse(raw.text);
    assert.equal(res.status, 413, raw.text || raw.error);
    assert.equal(JSON.parse(res.body).error, 'payload_too_large');
    assert.equal((await allOrgs(server)).length, before);
  });

  it('a client sending a whole oversized body receives the 413 (no connection reset)', async () => {
    // RFC 9112 §9.6: a server answering before reading the whole request must not reset
    // the connection under the client, or the client never sees the answer. Repeated,
    // over fetch's reused keep-alive connections, so that a reset shows up reliably.
    const body = Buffer.from(paddedOrgBody(1048577 + 64 * 1024));
    const failures = [];
    for (let i = 0; i < 20; i++) {
      await api(server, 'GET', '/healthz');
      try {
        const res = await api(server, 'POST', '/v1/orgs', {
          key: server.adminKey,
          body,
          headers: { 'Content-Type': 'application/json' },
        });
        if (res.status !== 413) failures.push(`status ${res.status}`);
      } catch (e) {
        failures.push(`${e.message}: ${e.cause?.code || e.cause}`);
      }
    }
    assert.deepEqual(failures, [], `${failures.length}/20 oversized requests got no 413`);
  });

  it('a body of exactly the default 1 MiB limit is accepted', async () => {
    const res = await api(server, 'POST', '/v1/orgs', {
      key: server.adminKey,
      body: paddedOrgBody(1048576),
      headers: { 'Content-Type': 'application/json' },
    });
    assert.equal(res.status, 201, res.text);
  });
});

describe('--max-body', () => {
  let server;
  before(async () => {
    server = await startHookd({ args: ['--max-body', '2048'] });
  });
  after(async () => {
    await server?.cleanup();
  });

  it('a body one byte over --max-body is a 413', async () => {
    const res = await api(server, 'POST', '/v1/orgs', {
      key: server.adminKey,
      body: paddedOrgBody(2049),
      headers: { 'Content-Type': 'application/json' },
    });
    assertError(res, 413, 'payload_too_large');
  });

  it('a body of exactly --max-body bytes is accepted', async () => {
    const res = await api(server, 'POST', '/v1/orgs', {
      key: server.adminKey,
      body: paddedOrgBody(2048),
      headers: { 'Content-Type': 'application/json' },
    });
    assert.equal(res.status, 201, res.text);
  });

  it('a chunked body (no Content-Length) over --max-body is a 413', async () => {
    const chunk = Buffer.from(' '.repeat(1000));
    let sent = 0;
    const stream = new ReadableStream({
      pull(controller) {
        if (sent === 0) controller.enqueue(Buffer.from('{"name":"chunked"'));
        if (sent < 5) controller.enqueue(chunk);
        else {
          controller.enqueue(Buffer.from('}'));
          controller.close();
        }
        sent += 1;
      },
    });
    const res = await fetch(`${server.url}/v1/orgs`, {
      method: 'POST',
      headers: { Authorization: `Bearer ${server.adminKey}`, 'Content-Type': 'application/json' },
      body: stream,
      duplex: 'half',
    });
    const text = await res.text();
    assert.equal(res.status, 413, text);
    assert.equal(JSON.parse(text).error, 'payload_too_large');
    const list = await allOrgs(server);
    assert.ok(!list.some((o) => o.name === 'chunked'));
  });

  it('a small chunked body is read as JSON', async () => {
    const name = uniqueName('chunky');
    const stream = new ReadableStream({
      start(controller) {
        controller.enqueue(Buffer.from(`{"name":`));
        controller.enqueue(Buffer.from(JSON.stringify(name) + '}'));
        controller.close();
      },
    });
    const res = await fetch(`${server.url}/v1/orgs`, {
      method: 'POST',
      headers: { Authorization: `Bearer ${server.adminKey}` },
      body: stream,
      duplex: 'half',
    });
    const text = await res.text();
    assert.equal(res.status, 201, text);
    assert.equal(JSON.parse(text).name, name);
  });
});

describe('read-only fields (issue 18)', () => {
  let server;
  before(async () => {
    server = await startHookd({ args: ['--allow-http', '--allow-private', '--no-ping'] });
  });
  after(async () => {
    await server?.cleanup();
  });

  it('a GET body sent back by PATCH is refused with read_only_field, naming it, and changes nothing', async () => {
    const { key } = await createOrgWithKey(server, ['webhooks']);
    const created = await api(server, 'POST', '/v1/endpoints', {
      key,
      body: { url: 'http://127.0.0.1:9/hook', name: 'before' },
    });
    assert.equal(created.status, 201, created.text);
    const url = `/v1/endpoints/${created.json.id}`;
    const got = (await api(server, 'GET', url, { key })).json;
    assertError(await api(server, 'PATCH', url, { key, body: { ...got, name: 'after' } }), 400, 'read_only_field', 'id');
    for (const field of ['created_at', 'updated_at', 'verified_at', 'consecutive_failures', 'disabled_reason', 'operational']) {
      const res = await api(server, 'PATCH', url, { key, body: { name: 'after', [field]: got[field] } });
      assertError(res, 400, 'read_only_field', field);
    }
    assert.equal((await api(server, 'GET', url, { key })).json.name, 'before');
    const writable = { ...got, name: 'after' };
    for (const field of ['id', 'org_id', 'created_at', 'updated_at', 'verified_at', 'last_success_at',
      'last_failure_at', 'consecutive_failures', 'disabled_at', 'disabled_reason', 'operational'])
      delete writable[field];
    const ok = await api(server, 'PATCH', url, { key, body: writable });
    assert.equal(ok.status, 200, ok.text);
    assert.equal(ok.json.name, 'after');
  });

  it('the org and an event type refuse their read-only fields too', async () => {
    const { key } = await createOrgWithKey(server, ['webhooks', 'sources']);
    const org = (await api(server, 'GET', '/v1/org', { key })).json;
    assertError(await api(server, 'PATCH', '/v1/org', { key, body: { created_at: org.created_at } }), 400, 'read_only_field', 'created_at');
    assertError(await api(server, 'PATCH', '/v1/org', { key, body: { primary_secret: 'x' } }), 400, 'read_only_field', 'primary_secret');
    const admin = server.adminKey;
    const type = await api(server, 'POST', '/v1/event-types', { key: admin, body: { name: 'invoice.paid' } });
    assert.equal(type.status, 201, type.text);
    assertError(
      await api(server, 'PATCH', '/v1/event-types/invoice.paid', {
        key: admin,
        body: { name: 'invoice.paid', description: 'd' },
      }),
      400,
      'read_only_field',
      'name'
    );
  });
});

describe('query parameters (issue 18)', () => {
  let server;
  before(async () => {
    server = await startHookd({ args: ['--allow-http', '--allow-private', '--no-ping'] });
  });
  after(async () => {
    await server?.cleanup();
  });

  it('an unknown query parameter is refused as an unknown field, naming it and what the route takes', async () => {
    const admin = server.adminKey;
    await createOrg(server);
    await createOrg(server);
    const typo = await api(server, 'GET', '/v1/orgs?page_size=1', { key: admin });
    assertError(typo, 400, 'unknown_field', 'page_size');
    assert.match(typo.json.message, /limit, cursor|limit cursor/);
    const paged = await api(server, 'GET', '/v1/orgs?limit=1', { key: admin });
    assert.equal(paged.status, 200, paged.text);
    assert.equal(paged.json.data.length, 1);
    const org = paged.json.data[0];
    assertError(await api(server, 'GET', `/v1/orgs/${org.id}?limit=1`, { key: admin }), 400, 'unknown_field', 'limit');
    assertError(await api(server, 'GET', '/v1/deliveries?status=failed&statuss=failed', { key: admin }), 400, 'unknown_field', 'statuss');
  });

  it('each list takes its own filters, and an admin key names the org in the query', async () => {
    const admin = server.adminKey;
    const { org, key } = await createOrgWithKey(server, ['events', 'webhooks', 'sources']);
    const lists = [
      '/v1/events?limit=5&cursor=&since=2020-01-01T00:00:00Z&until=2099-01-01T00:00:00Z&type=a.b',
      '/v1/deliveries?limit=5&status=failed&endpoint_id=x&event_id=y&since=2020-01-01T00:00:00Z',
      '/v1/endpoints?limit=5&is_active=true',
      '/v1/sources?limit=5',
    ];
    for (const path of lists) {
      const res = await api(server, 'GET', path.replace('cursor=&', ''), { key });
      assert.equal(res.status, 200, `${path}: ${res.text}`);
      const asAdmin = await api(server, 'GET', `${path.replace('cursor=&', '')}&org_id=${org.id}`, { key: admin });
      assert.equal(asAdmin.status, 200, `${path} as admin: ${asAdmin.text}`);
    }
    assertError(await api(server, 'GET', '/v1/events?is_active=true', { key }), 400, 'unknown_field', 'is_active');
    // event types are shared by every org: there is no org to name
    assert.equal((await api(server, 'GET', '/v1/event-types?limit=5', { key })).status, 200);
    assertError(await api(server, 'GET', `/v1/event-types?org_id=${org.id}`, { key: admin }), 400, 'unknown_field', 'org_id');
  });

  it('a write with an unknown query parameter changes nothing; health checks take any query', async () => {
    const { key } = await createOrgWithKey(server, ['webhooks']);
    const res = await api(server, 'POST', '/v1/endpoints?dry_run=1', {
      key,
      body: { url: 'http://127.0.0.1:9/hook' },
    });
    assertError(res, 400, 'unknown_field', 'dry_run');
    assert.equal((await api(server, 'GET', '/v1/endpoints', { key })).json.data.length, 0);
    assert.equal((await api(server, 'GET', '/healthz?t=1')).status, 200);
  });
});

describe('large headers (issue 18)', () => {
  let server;
  before(async () => {
    server = await startHookd();
  });
  after(async () => {
    await server?.cleanup();
  });

  it('headers over 32 KiB get the JSON 431, on any route, and change nothing', async () => {
    const before = (await allOrgs(server)).length;
    for (const size of [40 * 1024, 96 * 1024]) {
      const res = await api(server, 'POST', '/v1/orgs', {
        key: server.adminKey,
        body: { name: uniqueName('big') },
        headers: { 'X-Big': 'a'.repeat(size) },
      });
      assertError(res, 431, 'headers_too_large');
      assert.match(res.json.message, /limit is 32768/);
    }
    const inbound = await api(server, 'POST', '/in/src_nope', { body: {}, headers: { Cookie: 'c'.repeat(40 * 1024) } });
    assertError(inbound, 431, 'headers_too_large');
    assert.equal((await allOrgs(server)).length, before);
  });

  it('headers under the limit pass', async () => {
    const res = await api(server, 'GET', '/v1/orgs?limit=1', {
      key: server.adminKey,
      headers: { 'X-Big': 'a'.repeat(30 * 1024) },
    });
    assert.equal(res.status, 200, res.text);
  });
});
