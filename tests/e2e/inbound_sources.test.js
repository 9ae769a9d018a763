'use strict';
// §2.7 sources API (create, validation, get, list, patch, rotate-secret, is_active, delete,
// scopes), the basic and none schemes, forwarding of a GitHub push to an endpoint that filters
// on it, and the message log (every verdict, newest first, filters, GET /v1/inbound/{id} with
// credentials redacted and signatures shown, rejected bodies truncated).

const { describe, it, before, after } = require('node:test');
const assert = require('node:assert/strict');
const crypto = require('node:crypto');
const { startHookd, api, createOrgWithKey, createKey, sleep, TIME_RE, SECRET_RE } = require('./lib/hookd');
const { pipelineFixture, createEndpoint, createEventType, getJson } = require('./lib/pipeline');
const {
  nowSeconds,
  flipByte,
  newSecret,
  octokitSign,
  hookdSignHex,
  hmac,
  sendIn,
  createSource,
  messages,
  headerOf,
  MSG_ID_RE,
  EVT_ID_RE,
  SRC_ID_RE,
} = require('./lib/inbound');

function rand(n = 6) {
  return crypto.randomBytes(n).toString('hex');
}

function basicAuth(user, pass) {
  return `Basic ${Buffer.from(`${user}:${pass}`, 'utf8').toString('base64')}`;
}

// Distinct milliseconds between requests whose order a test checks.
const tick = () => sleep(3);

describe('inbound: sources API, basic/none, forwarding, message log', () => {
  let fx;
  before(async () => {
    fx = await pipelineFixture(null, { args: ['--no-ping'] });
  });
  after(async () => {
    await fx?.cleanup();
  });

  // ---------------------------------------------------------------- sources API

  it('create: 201 with id, ingest_url, defaults and the secret; GET and list show it', async () => {
    const { server } = fx;
    const { org, key } = await createOrgWithKey(server, ['sources']);
    const res = await api(server, 'POST', '/v1/sources', {
      key,
      body: { name: 'GitHub repo', verification: { scheme: 'hmac', header: 'X-Sig', prefix: 'v1=', encoding: 'base64', timestamp_header: 'X-Ts', signed_payload: 'timestamp.body' } },
    });
    assert.equal(res.status, 201, res.text);
    const s = res.json;
    assert.match(s.id, SRC_ID_RE);
    assert.equal(s.org_id, org.id);
    assert.equal(s.name, 'GitHub repo');
    assert.deepEqual(s.verification, { scheme: 'hmac', header: 'X-Sig', prefix: 'v1=', encoding: 'base64', timestamp_header: 'X-Ts', signed_payload: 'timestamp.body' });
    assert.equal(s.event_type, null);
    assert.equal(s.forward, true);
    assert.equal(s.is_active, true);
    assert.equal(s.tolerance_seconds, 300);
    assert.equal(s.ingest_url, `/in/${s.id}`);
    assert.match(s.created_at, TIME_RE);
    assert.match(s.updated_at, TIME_RE);
    assert.match(s.secret, SECRET_RE, 'a generated whsec_ secret');

    const got = await getJson(server, key, `/v1/sources/${s.id}`);
    const { secret, ...rest } = s;
    for (const [k, v] of Object.entries(rest)) assert.deepEqual(got[k], v, `GET field ${k}`);
    assert.ok(secret);

    await sleep(3);
    const s2 = await createSource(server, key, { name: 'second', verification: { scheme: 'none' }, forward: false, is_active: true, tolerance_seconds: 0, event_type: 'misc.thing' });
    assert.equal(s2.forward, false);
    assert.equal(s2.tolerance_seconds, 0);
    assert.equal(s2.event_type, 'misc.thing');
    const list = await getJson(server, key, '/v1/sources');
    assert.deepEqual(list.data.map((x) => x.id), [s2.id, s.id], 'newest first');
    assert.equal(list.next_cursor, null);
    const page = await getJson(server, key, '/v1/sources?limit=1');
    assert.deepEqual(page.data.map((x) => x.id), [s2.id]);
    assert.ok(page.next_cursor);
    const page2 = await getJson(server, key, `/v1/sources?limit=1&cursor=${encodeURIComponent(page.next_cursor)}`);
    assert.deepEqual(page2.data.map((x) => x.id), [s.id]);
  });

  it('validation: bad verification objects, secrets, tolerances and fields → 400 naming the field, nothing created', async () => {
    const { server } = fx;
    const { key } = await createOrgWithKey(server, ['sources']);
    const cases = [
      ['unknown scheme', { name: 'x', verification: { scheme: 'rot13' } }, 'verification'],
      ['scheme missing', { name: 'x', verification: { header: 'X-Sig' } }, 'verification'],
      ['scheme not a string', { name: 'x', verification: { scheme: 7 } }, 'verification'],
      ['verification not an object', { name: 'x', verification: 'github' }, 'verification'],
      ['verification missing', { name: 'x' }, 'verification'],
      ['hmac without header', { name: 'x', verification: { scheme: 'hmac' } }, 'verification'],
      ['hmac with an unknown encoding', { name: 'x', verification: { scheme: 'hmac', header: 'X-Sig', encoding: 'base32' } }, 'verification'],
      ['hmac with an unknown signed_payload', { name: 'x', verification: { scheme: 'hmac', header: 'X-Sig', signed_payload: 'body.timestamp' } }, 'verification'],
      ['hmac timestamp.body without timestamp_header', { name: 'x', verification: { scheme: 'hmac', header: 'X-Sig', signed_payload: 'timestamp.body' } }, 'verification'],
      ['hmac with a stray parameter', { name: 'x', verification: { scheme: 'hmac', header: 'X-Sig', algorithm: 'sha1' } }, 'verification'],
      ['hmac with username', { name: 'x', verification: { scheme: 'hmac', header: 'X-Sig', username: 'u' } }, 'verification'],
      ['basic without username', { name: 'x', verification: { scheme: 'basic' } }, 'verification'],
      ['github with a header parameter', { name: 'x', verification: { scheme: 'github', header: 'X-Other' } }, 'verification'],
      ['stripe with a prefix', { name: 'x', verification: { scheme: 'stripe', prefix: 'v0=' } }, 'verification'],
      ['none with username', { name: 'x', verification: { scheme: 'none', username: 'u' } }, 'verification'],
      ['standard with a non-base64 secret', { name: 'x', verification: { scheme: 'standard' }, secret: 'whsec_not*base64!' }, 'secret'],
      ['an empty secret', { name: 'x', verification: { scheme: 'github' }, secret: '' }, 'secret'],
      ['a secret that is not a string', { name: 'x', verification: { scheme: 'github' }, secret: 42 }, 'secret'],
      ['tolerance_seconds below 0', { name: 'x', verification: { scheme: 'hookd' }, tolerance_seconds: -1 }, 'tolerance_seconds'],
      ['tolerance_seconds over 7 days', { name: 'x', verification: { scheme: 'hookd' }, tolerance_seconds: 604801 }, 'tolerance_seconds'],
      ['tolerance_seconds not an integer', { name: 'x', verification: { scheme: 'hookd' }, tolerance_seconds: '300' }, 'tolerance_seconds'],
      ['an invalid event_type', { name: 'x', verification: { scheme: 'none' }, event_type: 'Bad Type' }, 'event_type'],
      ['forward not a boolean', { name: 'x', verification: { scheme: 'none' }, forward: 'yes' }, 'forward'],
      ['name missing', { verification: { scheme: 'none' } }, 'name'],
      ['name too long', { name: 'n'.repeat(101), verification: { scheme: 'none' } }, 'name'],
      ['an unknown field', { name: 'x', verification: { scheme: 'none' }, colour: 'red' }, 'colour'],
    ];
    for (const [what, body, field] of cases) {
      const res = await api(server, 'POST', '/v1/sources', { key, body });
      assert.equal(res.status, 400, `${what}: ${res.status} ${res.text}`);
      assert.equal(res.json.field, field, `${what}: ${res.text}`);
      assert.equal(typeof res.json.error, 'string');
    }
    const list = await getJson(server, key, '/v1/sources');
    assert.equal(list.data.length, 0, `nothing was created: ${JSON.stringify(list.data.map((s) => s.verification))}`);
    // the bounds themselves are fine
    const wide = await createSource(server, key, { name: 'x', verification: { scheme: 'hookd' }, tolerance_seconds: 604800 });
    assert.equal(wide.tolerance_seconds, 604800);
    const std = await createSource(server, key, { name: 'x', verification: { scheme: 'standard' }, secret: newSecret() });
    assert.match(std.secret, SECRET_RE);
  });

  it('PATCH changes fields, refuses bad ones without a partial write', async () => {
    const { server } = fx;
    const { key } = await createOrgWithKey(server, ['sources']);
    const s = await createSource(server, key, { name: 'before', verification: { scheme: 'none' } });
    await sleep(2);
    const p = await api(server, 'PATCH', `/v1/sources/${s.id}`, { key, body: { name: 'after', event_type: 'x.y', forward: false, tolerance_seconds: 60 } });
    assert.equal(p.status, 200, p.text);
    assert.equal(p.json.name, 'after');
    assert.equal(p.json.event_type, 'x.y');
    assert.equal(p.json.forward, false);
    assert.equal(p.json.tolerance_seconds, 60);
    assert.deepEqual(p.json.verification, { scheme: 'none' });
    assert.equal(p.json.created_at, s.created_at);
    assert.ok(p.json.updated_at > s.updated_at, 'updated_at moves');
    const bad = await api(server, 'PATCH', `/v1/sources/${s.id}`, { key, body: { name: 'partial', verification: { scheme: 'nope' } } });
    assert.equal(bad.status, 400, bad.text);
    assert.equal(bad.json.field, 'verification');
    const got = await getJson(server, key, `/v1/sources/${s.id}`);
    assert.equal(got.name, 'after', 'no partial write');
    const clear = await api(server, 'PATCH', `/v1/sources/${s.id}`, { key, body: { event_type: null } });
    assert.equal(clear.status, 200, clear.text);
    assert.equal(clear.json.event_type, null);
    // switching to standard keeps the (whsec_) generated secret usable
    const std = await api(server, 'PATCH', `/v1/sources/${s.id}`, { key, body: { verification: { scheme: 'standard' } } });
    assert.equal(std.status, 200, std.text);
    // ... but not a secret that is not whsec_+base64
    const gh = await createSource(server, key, { name: 'gh', verification: { scheme: 'github' }, secret: 'plain secret' });
    const toStd = await api(server, 'PATCH', `/v1/sources/${gh.id}`, { key, body: { verification: { scheme: 'standard' } } });
    assert.equal(toStd.status, 400, toStd.text);
    assert.equal(toStd.json.field, 'secret');
    assert.deepEqual((await getJson(server, key, `/v1/sources/${gh.id}`)).verification, { scheme: 'github' });
  });

  it('Idempotency-Key on create: the replay returns the same source and creates nothing', async () => {
    const { server } = fx;
    const { key } = await createOrgWithKey(server, ['sources']);
    const body = { name: 'idem', verification: { scheme: 'github' }, secret: 'gh' };
    const headers = { 'Idempotency-Key': `idem-${rand()}` };
    const a = await api(server, 'POST', '/v1/sources', { key, body, headers });
    assert.equal(a.status, 201, a.text);
    const b = await api(server, 'POST', '/v1/sources', { key, body, headers });
    assert.equal(b.status, 201, b.text);
    assert.equal(b.json.id, a.json.id);
    const list = await getJson(server, key, '/v1/sources');
    assert.equal(list.data.length, 1);
  });

  it('rotate-secret: the old signature is then refused, the new one accepted; a given secret is kept', async () => {
    const { server } = fx;
    const { key } = await createOrgWithKey(server, ['sources']);
    const s = await createSource(server, key, { name: 'rot', verification: { scheme: 'hookd' } });
    const body = JSON.stringify({ type: 'rot.x', n: rand() });
    const before = await sendIn(server, s.id, body, hookdSignHex(s.secret, body));
    assert.equal(before.status, 202, before.text);

    const r = await api(server, 'POST', `/v1/sources/${s.id}/rotate-secret`, { key, body: {} });
    assert.equal(r.status, 200, r.text);
    assert.equal(r.json.id, s.id);
    assert.match(r.json.secret, SECRET_RE);
    assert.notEqual(r.json.secret, s.secret);

    const body2 = JSON.stringify({ type: 'rot.x', n: rand() });
    const old = await sendIn(server, s.id, body2, hookdSignHex(s.secret, body2));
    assert.equal(old.status, 401, old.text);
    assert.equal(old.json.error, 'invalid_signature');
    const fresh = await sendIn(server, s.id, body2, hookdSignHex(r.json.secret, body2));
    assert.equal(fresh.status, 202, fresh.text);

    // the sender's own new secret (GitHub: set in the repository's settings)
    const gh = await createSource(server, key, { name: 'gh', verification: { scheme: 'github' }, secret: 'first' });
    const given = await api(server, 'POST', `/v1/sources/${gh.id}/rotate-secret`, { key, body: { secret: 'second' } });
    assert.equal(given.status, 200, given.text);
    assert.equal(given.json.secret, 'second');
    const ghBody = JSON.stringify({ zen: rand() });
    const ghOld = await sendIn(server, gh.id, ghBody, { 'X-Hub-Signature-256': await octokitSign('first', ghBody), 'X-GitHub-Event': 'ping', 'X-GitHub-Delivery': crypto.randomUUID() });
    assert.equal(ghOld.status, 401, ghOld.text);
    const ghNew = await sendIn(server, gh.id, ghBody, { 'X-Hub-Signature-256': await octokitSign('second', ghBody), 'X-GitHub-Event': 'ping', 'X-GitHub-Delivery': crypto.randomUUID() });
    assert.equal(ghNew.status, 202, ghNew.text);

    // a standard source refuses a secret it cannot use, and keeps the old one
    const std = await createSource(server, key, { name: 'std', verification: { scheme: 'standard' } });
    const badStd = await api(server, 'POST', `/v1/sources/${std.id}/rotate-secret`, { key, body: { secret: 'whsec_***' } });
    assert.equal(badStd.status, 400, badStd.text);
    assert.equal(badStd.json.field, 'secret');
    const extra = await api(server, 'POST', `/v1/sources/${std.id}/rotate-secret`, { key, body: { grace_seconds: 10 } });
    assert.equal(extra.status, 400, extra.text);
    const missing = await api(server, 'POST', `/v1/sources/src_01AAAAAAAAAAAAAAAAAAAAAAAA/rotate-secret`, { key, body: {} });
    assert.equal(missing.status, 404, missing.text);
  });

  it('is_active:false → 404 on /in, back on when re-enabled; DELETE → 404 on /in and on the API', async () => {
    const { server } = fx;
    const { key } = await createOrgWithKey(server, ['sources']);
    const s = await createSource(server, key, { name: 'toggle', verification: { scheme: 'none' } });
    assert.equal((await sendIn(server, s.id, JSON.stringify({ n: 1 }))).status, 202);
    const off = await api(server, 'PATCH', `/v1/sources/${s.id}`, { key, body: { is_active: false } });
    assert.equal(off.status, 200, off.text);
    assert.equal(off.json.is_active, false);
    const r1 = await sendIn(server, s.id, JSON.stringify({ n: 2 }));
    assert.equal(r1.status, 404, r1.text);
    const on = await api(server, 'PATCH', `/v1/sources/${s.id}`, { key, body: { is_active: true } });
    assert.equal(on.status, 200, on.text);
    assert.equal((await sendIn(server, s.id, JSON.stringify({ n: 3 }))).status, 202);

    // created inactive
    const idle = await createSource(server, key, { name: 'idle', verification: { scheme: 'none' }, is_active: false });
    assert.equal((await sendIn(server, idle.id, JSON.stringify({ n: 4 }))).status, 404);

    const del = await api(server, 'DELETE', `/v1/sources/${s.id}`, { key });
    assert.equal(del.status, 200, del.text);
    assert.equal(del.json.status, 'deleted');
    assert.equal((await sendIn(server, s.id, JSON.stringify({ n: 5 }))).status, 404);
    assert.equal((await api(server, 'GET', `/v1/sources/${s.id}`, { key })).status, 404);
    assert.equal((await api(server, 'PATCH', `/v1/sources/${s.id}`, { key, body: { is_active: true } })).status, 404);
    assert.equal((await api(server, 'DELETE', `/v1/sources/${s.id}`, { key })).status, 404);
    const list = await getJson(server, key, '/v1/sources');
    assert.deepEqual(list.data.map((x) => x.id), [idle.id]);
    // nothing was recorded while it was off
    const log = await messages(server, key, idle.id);
    assert.equal(log.data.length, 0);
  });

  it('scopes: a key without `sources` → 403 everywhere; another org\'s source and messages → 404; an admin names the org', async () => {
    const { server } = fx;
    const mine = await createOrgWithKey(server, ['sources']);
    const s = await createSource(server, mine.key, { name: 'scoped', verification: { scheme: 'none' } });
    const acc = await sendIn(server, s.id, JSON.stringify({ hello: 'scopes' }));
    assert.equal(acc.status, 202, acc.text);
    const msgId = acc.json.id;

    // same org, a key with every other scope
    const noSources = (await createKey(server, mine.org.id, ['events', 'webhooks'])).key;
    const routes = [
      ['POST', '/v1/sources', { name: 'x', verification: { scheme: 'none' } }],
      ['GET', '/v1/sources'],
      ['GET', `/v1/sources/${s.id}`],
      ['PATCH', `/v1/sources/${s.id}`, { name: 'y' }],
      ['POST', `/v1/sources/${s.id}/rotate-secret`, {}],
      ['GET', `/v1/sources/${s.id}/messages`],
      ['GET', `/v1/inbound/${msgId}`],
      ['DELETE', `/v1/sources/${s.id}`],
    ];
    for (const [method, path, body] of routes) {
      const res = await api(server, method, path, { key: noSources, body });
      assert.equal(res.status, 403, `${method} ${path} without sources: ${res.status} ${res.text}`);
    }
    // no key at all
    assert.equal((await api(server, 'GET', '/v1/sources')).status, 401);

    // another org's key, with the sources scope
    const other = await createOrgWithKey(server, ['sources']);
    for (const [method, path, body] of routes.slice(2)) {
      const res = await api(server, method, path, { key: other.key, body });
      assert.equal(res.status, 404, `${method} ${path} from another org: ${res.status} ${res.text}`);
    }
    const otherList = await getJson(server, other.key, '/v1/sources');
    assert.equal(otherList.data.length, 0);
    // still there, untouched
    const still = await getJson(server, mine.key, `/v1/sources/${s.id}`);
    assert.equal(still.name, 'scoped');

    // an admin key names the org
    const adminGet = await api(server, 'GET', `/v1/sources/${s.id}?org_id=${mine.org.id}`, { key: server.adminKey });
    assert.equal(adminGet.status, 200, adminGet.text);
    const adminWrongOrg = await api(server, 'GET', `/v1/sources/${s.id}?org_id=${other.org.id}`, { key: server.adminKey });
    assert.equal(adminWrongOrg.status, 404, adminWrongOrg.text);
    const adminMsg = await api(server, 'GET', `/v1/inbound/${msgId}?org_id=${mine.org.id}`, { key: server.adminKey });
    assert.equal(adminMsg.status, 200, adminMsg.text);
    const adminCreate = await api(server, 'POST', '/v1/sources', { key: server.adminKey, body: { name: 'by admin', verification: { scheme: 'none' }, org_id: mine.org.id } });
    assert.equal(adminCreate.status, 201, adminCreate.text);
    assert.equal(adminCreate.json.org_id, mine.org.id);
    const adminNoOrg = await api(server, 'POST', '/v1/sources', { key: server.adminKey, body: { name: 'by admin', verification: { scheme: 'none' } } });
    assert.equal(adminNoOrg.status, 400, adminNoOrg.text);
    assert.equal(adminNoOrg.json.field, 'org_id');
  });

  it('deleting the org deletes its sources: /in answers 404', async () => {
    const { server } = fx;
    const { org, key } = await createOrgWithKey(server, ['sources']);
    const s = await createSource(server, key, { name: 'doomed', verification: { scheme: 'none' } });
    assert.equal((await sendIn(server, s.id, JSON.stringify({ n: 1 }))).status, 202);
    const del = await api(server, 'DELETE', `/v1/orgs/${org.id}`, { key: server.adminKey });
    assert.equal(del.status, 200, del.text);
    const after = await sendIn(server, s.id, JSON.stringify({ n: 2 }));
    assert.equal(after.status, 404, after.text);
  });

  // ---------------------------------------------------------------- basic, none

  it('basic: the right username:secret → 202; a wrong password, a wrong user, none, a Bearer → 401; Authorization redacted in the log', async () => {
    const { server } = fx;
    const { key } = await createOrgWithKey(server);
    const s = await createSource(server, key, { name: 'basic', verification: { scheme: 'basic', username: 'acme' } });
    assert.deepEqual(s.verification, { scheme: 'basic', username: 'acme' });
    const body = JSON.stringify({ type: 'basic.event', n: rand() });
    const ok = await sendIn(server, s.id, body, { Authorization: basicAuth('acme', s.secret) });
    assert.equal(ok.status, 202, ok.text);
    assert.match(String(ok.json.event_id), EVT_ID_RE);

    const cases = [
      ['a wrong password', { Authorization: basicAuth('acme', `${s.secret}x`) }, 'invalid_signature'],
      ['a wrong username', { Authorization: basicAuth('acme2', s.secret) }, 'invalid_signature'],
      ['a Bearer token', { Authorization: `Bearer ${s.secret}` }, 'invalid_signature'],
      ['no Authorization', {}, 'missing_signature'],
    ];
    for (const [what, headers, code] of cases) {
      const res = await sendIn(server, s.id, JSON.stringify({ n: rand() }), headers);
      assert.equal(res.status, 401, `${what}: ${res.text}`);
      assert.equal(res.json.error, code, what);
    }

    const msg = await getJson(server, key, `/v1/inbound/${ok.json.id}`);
    assert.equal(headerOf(msg.headers, 'Authorization'), '[redacted]');
    assert.ok(!JSON.stringify(msg).includes(s.secret), 'the secret is nowhere in the record');
    assert.ok(!JSON.stringify(msg).includes(basicAuth('acme', s.secret).slice(6)), 'nor the credentials');
    // the same body again (basic has no message id) → duplicate
    const dup = await sendIn(server, s.id, body, { Authorization: basicAuth('acme', s.secret) });
    assert.equal(dup.status, 200, dup.text);
    assert.equal(dup.json.status, 'duplicate');
  });

  it('basic: the auth-scheme name is case-insensitive (RFC 7617 / 9110: "basic" works like "Basic")', async () => {
    const { server } = fx;
    const { key } = await createOrgWithKey(server);
    const s = await createSource(server, key, { name: 'basic-lc', verification: { scheme: 'basic', username: 'acme' } });
    const token = Buffer.from(`acme:${s.secret}`).toString('base64');
    const lower = await sendIn(server, s.id, JSON.stringify({ n: rand() }), { Authorization: `basic ${token}` });
    assert.equal(lower.status, 202, lower.text);
    const upper = await sendIn(server, s.id, JSON.stringify({ n: rand() }), { Authorization: `BASIC ${token}` });
    assert.equal(upper.status, 202, upper.text);
  });

  it('none: anything JSON is accepted; the same body again is a duplicate; text/plain → 415; not JSON → 400', async () => {
    const { server } = fx;
    const { key } = await createOrgWithKey(server);
    const s = await createSource(server, key, { name: 'open', verification: { scheme: 'none' } });
    const body = JSON.stringify({ type: 'Open/Thing', n: rand() });
    const a = await sendIn(server, s.id, body);
    assert.equal(a.status, 202, a.text);
    assert.match(String(a.json.event_id), EVT_ID_RE);
    const evt = await getJson(server, key, `/v1/events/${a.json.event_id}`);
    assert.equal(evt.type, 'open.thing', 'the payload type, lowercased, / → .');
    const d = await sendIn(server, s.id, body);
    assert.equal(d.status, 200, d.text);
    assert.equal(d.json.status, 'duplicate');
    const b = await sendIn(server, s.id, JSON.stringify({ n: rand() }));
    assert.equal(b.status, 202, b.text);
    const t = await sendIn(server, s.id, JSON.stringify({ n: rand() }), {}, { contentType: 'text/plain' });
    assert.equal(t.status, 415, t.text);
    const form = await sendIn(server, s.id, 'a=1&b=2', {}, { contentType: 'application/x-www-form-urlencoded' });
    assert.equal(form.status, 415, form.text);
    for (const ct of ['Application/JSON', 'application/json;charset=UTF-8']) {
      const ok = await sendIn(server, s.id, JSON.stringify({ ct, n: rand() }), {}, { contentType: ct });
      assert.equal(ok.status, 202, `${ct}: ${ok.text}`);
    }
    const vendor = await sendIn(server, s.id, JSON.stringify({ n: rand() }), {}, { contentType: 'application/vnd.github+json' });
    assert.equal(vendor.status, 415, vendor.text);
    const get = await api(server, 'GET', `/in/${s.id}`);
    assert.equal(get.status, 405, get.text);
    const j = await sendIn(server, s.id, 'not json at all');
    assert.equal(j.status, 400, j.text);
    assert.equal(j.json.error, 'invalid_json');
    const empty = await sendIn(server, s.id, '');
    assert.equal(empty.status, 400, empty.text);
    assert.equal(empty.json.error, 'invalid_json');
  });

  it('forward:false: accepted with event_id null, no event, no delivery', async () => {
    const { server, rx } = fx;
    const { key } = await createOrgWithKey(server);
    await createEndpoint(server, key, { url: rx.url('/noforward') });
    const s = await createSource(server, key, { name: 'quiet', verification: { scheme: 'none' }, forward: false });
    const a = await sendIn(server, s.id, JSON.stringify({ type: 'quiet.one' }));
    assert.equal(a.status, 202, a.text);
    assert.equal(a.json.status, 'accepted');
    assert.equal(a.json.event_id, null);
    const msg = await getJson(server, key, `/v1/inbound/${a.json.id}`);
    assert.equal(msg.status, 'accepted');
    assert.equal(msg.event_id, null);
    await sleep(300);
    assert.equal(rx.deliveries().filter((r) => r.url === '/noforward').length, 0);
    const events = await getJson(server, key, '/v1/events');
    assert.equal(events.data.length, 0);
  });

  // ---------------------------------------------------------------- forwarding

  it('a GitHub push, signed by @octokit/webhooks-methods, is delivered to the org\'s endpoint filtering on push, with X-Webhook-Event: push and the payload as data', async () => {
    const { server, rx } = fx;
    const { key } = await createOrgWithKey(server);
    await createEventType(server, 'push', 'GitHub push');
    await createEventType(server, 'issues', 'GitHub issues');
    await createEndpoint(server, key, { url: rx.url('/gh-push'), events: ['push'] });
    await createEndpoint(server, key, { url: rx.url('/gh-issues'), events: ['issues'] });
    // another org's endpoint hears nothing
    const stranger = await createOrgWithKey(server);
    await createEndpoint(server, stranger.key, { url: rx.url('/gh-stranger') });

    const s = await createSource(server, key, { name: 'octocat/hello', verification: { scheme: 'github' }, secret: 'It\'s a Secret to Everybody' });
    const payload = {
      ref: 'refs/heads/main',
      before: '6113728f27ae82c7b1a177c8d03f9e96e0adf246',
      after: '0000000000000000000000000000000000000001',
      repository: { id: 186853002, name: 'Hello-World', full_name: 'Codertocat/Hello-World', private: false },
      pusher: { name: 'Codertocat', email: 'codertocat@example.com' },
      commits: [{ id: 'abc', message: 'Ünïcödé ✓ "quoted"\nline 2', timestamp: '2019-05-15T15:20:30-05:00' }],
      size: 1.5e3,
      forced: false,
    };
    const body = JSON.stringify(payload, null, 2); // GitHub sends pretty-printed JSON
    const delivery = crypto.randomUUID();
    const res = await sendIn(server, s.id, body, {
      'X-Hub-Signature-256': await octokitSign('It\'s a Secret to Everybody', body),
      'X-GitHub-Event': 'push',
      'X-GitHub-Delivery': delivery,
      'User-Agent': 'GitHub-Hookshot/044aadd',
    });
    assert.equal(res.status, 202, res.text);
    const [d] = await rx.waitForPath('/gh-push', 1);
    assert.equal(d.headers['x-webhook-event'], 'push');
    const env = JSON.parse(d.text);
    assert.equal(env.id, res.json.event_id);
    assert.equal(env.type, 'push');
    assert.deepEqual(env.data, payload);
    // the sender's retry of the same delivery: duplicate, not delivered again
    const again = await sendIn(server, s.id, body, {
      'X-Hub-Signature-256': await octokitSign('It\'s a Secret to Everybody', body),
      'X-GitHub-Event': 'push',
      'X-GitHub-Delivery': delivery,
    });
    assert.equal(again.status, 200, again.text);
    assert.equal(again.json.status, 'duplicate');
    await sleep(400);
    assert.equal(rx.deliveries().filter((r) => r.url === '/gh-push').length, 1);
    assert.equal(rx.deliveries().filter((r) => r.url === '/gh-issues').length, 0, 'the issues endpoint does not get a push');
    assert.equal(rx.deliveries().filter((r) => r.url === '/gh-stranger').length, 0, 'another org does not get it');
    // the delivery is in the org's log like any other
    const dl = await getJson(server, key, `/v1/deliveries?event_id=${res.json.event_id}`);
    assert.equal(dl.data.length, 1);
  });

  // ---------------------------------------------------------------- the message log

  it('the message log: every verdict with reason and HTTP status, newest first, status filters, pages', async () => {
    const { server } = fx;
    const { key } = await createOrgWithKey(server, ['sources']);
    const s = await createSource(server, key, { name: 'log', verification: { scheme: 'hookd' } });
    const sent = []; // [response, expected status, http status]
    const body1 = JSON.stringify({ type: 'log.one', n: rand() });
    const h1 = hookdSignHex(s.secret, body1);
    const push = async (res, status, http) => {
      assert.equal(res.status, http, res.text);
      assert.match(String(res.json.id), MSG_ID_RE, res.text);
      sent.push({ res, status, http });
      await tick();
    };
    await push(await sendIn(server, s.id, body1, h1), 'accepted', 202);
    await push(await sendIn(server, s.id, body1, h1), 'duplicate', 200);
    await push(await sendIn(server, s.id, flipByte(Buffer.from(body1), 3), h1), 'rejected', 401);
    await push(await sendIn(server, s.id, body1, { 'X-Webhook-Timestamp': h1['X-Webhook-Timestamp'] }), 'rejected', 401);
    const stale = JSON.stringify({ type: 'log.stale' });
    await push(await sendIn(server, s.id, stale, hookdSignHex(s.secret, stale, nowSeconds() - 3600)), 'rejected', 400);
    const plain = JSON.stringify({ type: 'log.plain' });
    await push(await sendIn(server, s.id, plain, hookdSignHex(s.secret, plain), { contentType: 'text/plain' }), 'rejected', 415);
    const broken = '{"type": ';
    await push(await sendIn(server, s.id, broken, hookdSignHex(s.secret, broken)), 'rejected', 400);
    const body2 = JSON.stringify({ type: 'log.two', n: rand() });
    await push(await sendIn(server, s.id, body2, hookdSignHex(s.secret, body2)), 'accepted', 202);

    assert.deepEqual(
      sent.filter((x) => x.status === 'rejected').map((x) => x.res.json.error),
      ['invalid_signature', 'missing_signature', 'stale_timestamp', sent[5].res.json.error, 'invalid_json']
    );

    const newestFirst = [...sent].reverse();
    const all = await messages(server, key, s.id);
    assert.equal(all.next_cursor, null);
    assert.deepEqual(
      all.data.map((m) => [m.id, m.status, m.reason, m.http_status]),
      newestFirst.map((x) => [x.res.json.id, x.status, x.status === 'rejected' ? x.res.json.error : null, x.http])
    );
    for (const m of all.data) {
      assert.equal(m.source_id, s.id);
      assert.match(m.created_at, TIME_RE);
      if (m.status === 'accepted') assert.match(String(m.event_id), EVT_ID_RE);
      else assert.equal(m.event_id, null);
      assert.equal(m.headers, undefined, 'the list carries no headers');
      assert.equal(m.body, undefined, 'the list carries no body');
    }
    assert.equal(all.data[0].event_id, sent[7].res.json.event_id);
    assert.equal(all.data[7].event_id, sent[0].res.json.event_id);

    for (const status of ['accepted', 'duplicate', 'rejected']) {
      const f = await messages(server, key, s.id, { status });
      assert.deepEqual(
        f.data.map((m) => m.id),
        newestFirst.filter((x) => x.status === status).map((x) => x.res.json.id),
        `status=${status}`
      );
    }
    const bad = await api(server, 'GET', `/v1/sources/${s.id}/messages?status=weird`, { key });
    assert.equal(bad.status, 400, bad.text);
    assert.equal(bad.json.field, 'status');
    for (const limit of ['0', '251', 'x']) {
      const badLimit = await api(server, 'GET', `/v1/sources/${s.id}/messages?limit=${limit}`, { key });
      assert.equal(badLimit.status, 400, `limit=${limit}: ${badLimit.text}`);
      assert.equal(badLimit.json.field, 'limit');
    }

    // pages of 3
    const ids = [];
    let cursor;
    for (let i = 0; i < 5; i++) {
      const page = await messages(server, key, s.id, { limit: 3, cursor });
      assert.ok(page.data.length <= 3);
      ids.push(...page.data.map((m) => m.id));
      cursor = page.next_cursor;
      if (!cursor) break;
    }
    assert.deepEqual(ids, newestFirst.map((x) => x.res.json.id));

    // an unknown source has no log
    const none = await api(server, 'GET', '/v1/sources/src_01AAAAAAAAAAAAAAAAAAAAAAAA/messages', { key });
    assert.equal(none.status, 404, none.text);
  });

  it('GET /v1/inbound/{id}: headers (signature shown, Authorization/Cookie redacted), exact body, verdict, event id', async () => {
    const { server } = fx;
    const { key } = await createOrgWithKey(server, ['sources', 'events']);
    const s = await createSource(server, key, { name: 'detail', verification: { scheme: 'hmac', header: 'X-Signature', prefix: 'sha256=' , signed_payload: 'body' } });
    const secret = s.secret;
    // odd but valid JSON, bytes kept exactly as sent
    const body = '{ "type" : "detail.view",\n  "n" : 1.50, "s": "\\u00e9t\u00e9 ✓" }';
    const sig = `sha256=${hmac(secret, body, 'hex')}`;
    const res = await sendIn(server, s.id, body, {
      'X-Signature': sig,
      Authorization: 'Bearer top-secret-token',
      'Proxy-Authorization': 'Basic cHJveHk6cGFzcw==',
      Cookie: 'session=abcdef',
      'X-Custom-Trace': 'trace-123',
    });
    assert.equal(res.status, 202, res.text);
    const m = await getJson(server, key, `/v1/inbound/${res.json.id}`);
    assert.equal(m.id, res.json.id);
    assert.equal(m.source_id, s.id);
    assert.equal(m.status, 'accepted');
    assert.equal(m.reason, null);
    assert.equal(m.http_status, 202);
    assert.equal(m.event_id, res.json.event_id);
    assert.match(m.created_at, TIME_RE);
    assert.equal(m.body, body, 'the exact bytes');
    assert.equal(m.body_truncated, false);
    assert.equal(typeof m.headers, 'object');
    assert.equal(headerOf(m.headers, 'X-Signature'), sig, 'the signature header is shown');
    assert.equal(headerOf(m.headers, 'X-Custom-Trace'), 'trace-123');
    assert.equal(headerOf(m.headers, 'Content-Type'), 'application/json');
    assert.equal(headerOf(m.headers, 'Authorization'), '[redacted]');
    assert.equal(headerOf(m.headers, 'Proxy-Authorization'), '[redacted]');
    assert.equal(headerOf(m.headers, 'Cookie'), '[redacted]');
    const text = JSON.stringify(m);
    assert.ok(!text.includes('top-secret-token') && !text.includes('abcdef') && !text.includes('cHJveHk6cGFzcw'), text);
    const evt = await getJson(server, key, `/v1/events/${m.event_id}`);
    assert.equal(evt.type, 'detail.view');
    assert.deepEqual(evt.payload.data, JSON.parse(body));

    // a rejected request is recorded with its reason, its body cut at 4 KiB
    const big = JSON.stringify({ type: 'detail.big', pad: 'z'.repeat(6000) });
    const rej = await sendIn(server, s.id, big, { 'X-Signature': `sha256=${'0'.repeat(64)}` });
    assert.equal(rej.status, 401, rej.text);
    const rm = await getJson(server, key, `/v1/inbound/${rej.json.id}`);
    assert.equal(rm.status, 'rejected');
    assert.equal(rm.reason, 'invalid_signature');
    assert.equal(rm.http_status, 401);
    assert.equal(rm.event_id, null);
    assert.equal(rm.body_truncated, true);
    assert.equal(rm.body, big.slice(0, 4096));
    // an accepted one of the same size is kept whole
    const okBig = JSON.stringify({ type: 'detail.big', pad: 'y'.repeat(6000) });
    const acc = await sendIn(server, s.id, okBig, { 'X-Signature': `sha256=${hmac(secret, okBig, 'hex')}` });
    assert.equal(acc.status, 202, acc.text);
    const am = await getJson(server, key, `/v1/inbound/${acc.json.id}`);
    assert.equal(am.body, okBig);
    assert.equal(am.body_truncated, false);
    // a rejected body that is not UTF-8 is still readable (as a JSON string)
    const binary = Buffer.from([0x7b, 0xff, 0xfe, 0x22, 0xc3, 0x28, 0x00, 0x7d]);
    const rb = await sendIn(server, s.id, binary, { 'X-Signature': `sha256=${hmac(secret, binary, 'hex')}` });
    assert.equal(rb.status, 400, rb.text);
    assert.equal(rb.json.error, 'invalid_json');
    const bm = await api(server, 'GET', `/v1/inbound/${rb.json.id}`, { key });
    assert.equal(bm.status, 200, bm.text);
    assert.equal(typeof bm.json.body, 'string');
    assert.equal(bm.json.reason, 'invalid_json');
    // unknown and malformed ids
    assert.equal((await api(server, 'GET', '/v1/inbound/in_01AAAAAAAAAAAAAAAAAAAAAAAA', { key })).status, 404);
    assert.equal((await api(server, 'GET', '/v1/inbound/nope', { key })).status, 404);
  });
});

describe('inbound: ingest_url with --public-url (issue 18)', () => {
  let server;
  before(async () => {
    server = await startHookd({ args: ['--public-url', 'https://hooks.example.com/base/'] });
  });
  after(async () => {
    await server?.cleanup();
  });

  it('is absolute on the public base, trailing slash dropped, in create, get and list', async () => {
    const { key } = await createOrgWithKey(server, ['sources']);
    const res = await api(server, 'POST', '/v1/sources', { key, body: { name: 'gh', verification: { scheme: 'none' } } });
    assert.equal(res.status, 201, res.text);
    const want = `https://hooks.example.com/base/in/${res.json.id}`;
    assert.equal(res.json.ingest_url, want);
    assert.equal((await api(server, 'GET', `/v1/sources/${res.json.id}`, { key })).json.ingest_url, want);
    assert.equal((await api(server, 'GET', '/v1/sources', { key })).json.data[0].ingest_url, want);
  });
});
