'use strict';
// Issue 17, pull delivery: an endpoint of `kind: "poll"` has no URL. Its consumer reads
// GET /v1/endpoints/{id}/poll?cursor=&limit= with the endpoint's own token (shown once, at
// creation) and gets the envelopes in order with a new cursor; sending the cursor marks what was
// handed out up to it delivered; what was not acknowledged comes again; nothing is lost while the
// consumer is away, across a crash and past the retention age.

const { spawnSync } = require('node:child_process');
const { describe, it } = require('node:test');
const assert = require('node:assert/strict');
const { api, createOrgWithKey, startHookd, makeTempDir, removeTempDir, randomAdminKey, sleep } = require('./lib/hookd');
const { BASE_ARGS, emit, getJson, deliveriesOf } = require('./lib/pipeline');

const ARGS = [...BASE_ARGS, '--no-ping'];

async function pollEndpoint(server, key, body = {}) {
  const res = await api(server, 'POST', '/v1/endpoints', { key, body: { kind: 'poll', name: 'puller', ...body } });
  assert.equal(res.status, 201, res.text);
  assert.equal(res.json.kind, 'poll');
  assert.equal(res.json.url, null);
  assert.match(res.json.poll_token, /^ep_[0-9A-Za-z]+\.[A-Za-z0-9_-]+$/);
  return res.json;
}

async function poll(server, ep, { cursor, limit, token = ep.poll_token, expected = 200 } = {}) {
  const q = new URLSearchParams();
  if (cursor) q.set('cursor', cursor);
  if (limit !== undefined) q.set('limit', String(limit));
  const res = await api(server, 'GET', `/v1/endpoints/${ep.id}/poll${q.size ? `?${q}` : ''}`, { key: token });
  assert.equal(res.status, expected, res.text);
  return res.json;
}

describe('pull delivery (kind: poll)', () => {
  it('hands out the envelopes in order; a cursor sent back marks them delivered; unacknowledged ones come again', async (t) => {
    const server = await startHookd({ args: ARGS });
    t.after(() => server.cleanup());
    const { key } = await createOrgWithKey(server);
    const ep = await pollEndpoint(server, key);
    const sent = [];
    for (let i = 0; i < 5; i++) sent.push((await emit(server, key, { type: 'order.paid', data: { i } })).id);

    const first = await poll(server, ep, { limit: 3 });
    assert.deepEqual(first.data.map((e) => e.id), sent.slice(0, 3));
    assert.deepEqual(first.data.map((e) => e.data.i), [0, 1, 2]);
    assert.match(first.next_cursor, /^dlv_/);
    // not acknowledged yet: the same page again
    const again = await poll(server, ep, { limit: 3 });
    assert.deepEqual(again.data.map((e) => e.id), sent.slice(0, 3));
    // the cursor acknowledges the first three and gives the rest
    const second = await poll(server, ep, { cursor: first.next_cursor, limit: 3 });
    assert.deepEqual(second.data.map((e) => e.id), sent.slice(3));
    const states = async () => Object.fromEntries((await Promise.all(sent.map((id) => deliveriesOf(server, key, id)))).map((d, i) => [i, d[0].status]));
    assert.deepEqual(await states(), { 0: 'delivered', 1: 'delivered', 2: 'delivered', 3: 'pending', 4: 'pending' });
    const done = await poll(server, ep, { cursor: second.next_cursor });
    assert.deepEqual(done.data, []);
    assert.equal(done.next_cursor, second.next_cursor, 'an empty page keeps the cursor');
    assert.deepEqual(await states(), { 0: 'delivered', 1: 'delivered', 2: 'delivered', 3: 'delivered', 4: 'delivered' });
    const d = (await deliveriesOf(server, key, sent[0]))[0];
    assert.ok(d.delivered_at);
    // the engine never tried to send them anywhere
    assert.equal((await getJson(server, key, `/v1/deliveries/${d.id}`)).attempts.length, 0);
  });

  it("only the endpoint's own token reads it, and it reads nothing else", async (t) => {
    const server = await startHookd({ args: ARGS });
    t.after(() => server.cleanup());
    const { key } = await createOrgWithKey(server);
    const a = await pollEndpoint(server, key);
    const b = await pollEndpoint(server, key);
    await emit(server, key, { type: 'order.paid', data: {} });
    await poll(server, a, { token: key, expected: 403 }); // an API key is not the consumer
    await poll(server, a, { token: b.poll_token, expected: 404 }); // another endpoint's token
    await poll(server, a, { token: `${a.id}.wrong`, expected: 401 });
    for (const path of ['/v1/endpoints', `/v1/endpoints/${a.id}`, '/v1/org', '/v1/events']) {
      const res = await api(server, 'GET', path, { key: a.poll_token });
      assert.equal(res.status, 403, `${path}: ${res.text}`);
    }
    assert.equal((await poll(server, a)).data.length, 1);
    assert.equal((await poll(server, b)).data.length, 1, 'each endpoint has its own delivery');
    await poll(server, a, { cursor: 'nope', expected: 400 });
    await poll(server, a, { limit: 0, expected: 400 });
    await poll(server, a, { limit: 251, expected: 400 });
  });

  it('a poll endpoint has no url and cannot get one; a push endpoint needs one', async (t) => {
    const server = await startHookd({ args: ARGS });
    t.after(() => server.cleanup());
    const { key } = await createOrgWithKey(server);
    for (const [body, field] of [[{ kind: 'poll', url: 'http://127.0.0.1:9/x' }, 'url'], [{ kind: 'push' }, 'url'], [{ kind: 'pull' }, 'kind'], [{}, 'url']]) {
      const res = await api(server, 'POST', '/v1/endpoints', { key, body });
      assert.equal(res.status, 400, `${JSON.stringify(body)}: ${res.text}`);
      assert.equal(res.json.field, field, res.text);
    }
    const ep = await pollEndpoint(server, key);
    const withUrl = await api(server, 'PATCH', `/v1/endpoints/${ep.id}`, { key, body: { url: 'http://127.0.0.1:9/x' } });
    assert.equal(withUrl.status, 400, withUrl.text);
    assert.equal(withUrl.json.field, 'url');
    const toPush = await api(server, 'PATCH', `/v1/endpoints/${ep.id}`, { key, body: { kind: 'push' } });
    assert.equal(toPush.status, 400, toPush.text);
    assert.equal(toPush.json.field, 'kind');
    const renamed = await api(server, 'PATCH', `/v1/endpoints/${ep.id}`, { key, body: { name: 'renamed', kind: 'poll' } });
    assert.equal(renamed.status, 200, renamed.text);
    // a test send waits for the consumer too
    const test = await api(server, 'POST', `/v1/endpoints/${ep.id}/test`, { key, body: {} });
    assert.equal(test.status, 202, test.text);
    assert.deepEqual((await poll(server, ep)).data.map((e) => e.type), ['webhook.test']);
  });

  it('nothing is lost while the consumer is away: across kill -9, and past the retention age', async () => {
    const dir = makeTempDir();
    const adminKey = randomAdminKey();
    try {
      let server = await startHookd({ dir, adminKey, args: ARGS });
      const { key } = await createOrgWithKey(server);
      const ep = await pollEndpoint(server, key);
      const sent = [];
      for (let i = 0; i < 20; i++) sent.push((await emit(server, key, { type: 'order.paid', data: { i } })).id);
      const page = await poll(server, ep, { limit: 5 });
      await server.kill();
      // 40 days pass (the default retention is 30) while the consumer is away
      const old = 40 * 86400000;
      const sql = `UPDATE events SET created_at = created_at - ${old}; UPDATE deliveries SET created_at = created_at - ${old};`;
      const r = spawnSync('sqlite3', [server.dbPath, sql], { encoding: 'utf8' });
      assert.equal(r.status, 0, r.stderr);
      server = await startHookd({ dir, adminKey, args: ARGS });
      try {
        await sleep(1500); // the first purge pass runs at start
        const all = [];
        let cursor = page.next_cursor;
        all.push(...page.data.map((e) => e.id));
        for (;;) {
          const next = await poll(server, ep, { cursor, limit: 7 });
          if (next.data.length === 0) break;
          all.push(...next.data.map((e) => e.id));
          cursor = next.next_cursor;
        }
        assert.deepEqual(all, sent, 'every event, once, in order');
      } finally {
        await server.cleanup();
      }
    } finally {
      removeTempDir(dir);
    }
  });
});
