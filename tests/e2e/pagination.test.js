'use strict';
// §2.1 lists: ?limit= (1–250, default 50), ?cursor=, {data, next_cursor}, newest first.

const { describe, it, before, after } = require('node:test');
const assert = require('node:assert/strict');
const { startHookd, api, createOrg, createKey, sleep } = require('./lib/hookd');

// Walks a list with the given page size; returns the pages.
async function walk(server, path, limit) {
  const pages = [];
  let cursor = null;
  for (let guard = 0; guard < 1000; guard++) {
    const q = [`limit=${limit}`];
    if (cursor) q.push(`cursor=${encodeURIComponent(cursor)}`);
    const res = await api(server, 'GET', `${path}?${q.join('&')}`, { key: server.adminKey });
    assert.equal(res.status, 200, res.text);
    assert.deepEqual(Object.keys(res.json).sort(), ['data', 'next_cursor']);
    assert.ok(res.json.data.length <= limit);
    pages.push(res.json);
    cursor = res.json.next_cursor;
    if (cursor === null) return pages;
    assert.equal(typeof cursor, 'string');
    assert.ok(cursor.length > 0);
  }
  throw new Error('the cursor walk does not end');
}

// Keys created one after another, a few ms apart so that creation order is observable.
async function makeKeys(server, orgId, n) {
  const ids = [];
  for (let i = 0; i < n; i++) {
    ids.push((await createKey(server, orgId, ['events'], `k${i}`)).id);
    await sleep(2);
  }
  return ids;
}

function assertNewestFirst(items) {
  for (let i = 1; i < items.length; i++) {
    const a = items[i - 1];
    const b = items[i];
    const ordered = a.created_at > b.created_at || (a.created_at === b.created_at && a.id > b.id);
    assert.ok(ordered, `item ${i - 1} (${a.id} ${a.created_at}) must come before ${b.id}`);
  }
}

describe('pagination of the API keys list', () => {
  let server;
  before(async () => {
    server = await startHookd();
  });
  after(async () => {
    await server?.cleanup();
  });

  it('walking the cursors visits every key exactly once, newest first', async () => {
    const org = await createOrg(server);
    const ids = await makeKeys(server, org.id, 7);
    const pages = await walk(server, `/v1/orgs/${org.id}/api-keys`, 3);
    assert.deepEqual(
      pages.map((p) => p.data.length),
      [3, 3, 1]
    );
    const seen = pages.flatMap((p) => p.data.map((k) => k.id));
    assert.deepEqual(seen, [...ids].reverse(), 'newest first, each once');
    assertNewestFirst(pages.flatMap((p) => p.data));
  });

  it('a page exactly as long as the limit that ends the list has next_cursor null', async () => {
    const org = await createOrg(server);
    await makeKeys(server, org.id, 3);
    const res = await api(server, 'GET', `/v1/orgs/${org.id}/api-keys?limit=3`, {
      key: server.adminKey,
    });
    assert.equal(res.status, 200);
    assert.equal(res.json.data.length, 3);
    assert.equal(res.json.next_cursor, null);
  });

  it('an empty list is {data: [], next_cursor: null}', async () => {
    const org = await createOrg(server);
    const res = await api(server, 'GET', `/v1/orgs/${org.id}/api-keys`, { key: server.adminKey });
    assert.equal(res.status, 200);
    assert.deepEqual(res.json, { data: [], next_cursor: null });
  });

  it('limit=1 pages one key at a time through all of them', async () => {
    const org = await createOrg(server);
    const ids = await makeKeys(server, org.id, 4);
    const pages = await walk(server, `/v1/orgs/${org.id}/api-keys`, 1);
    assert.equal(pages.length, 4);
    assert.deepEqual(
      pages.map((p) => p.data[0].id),
      [...ids].reverse()
    );
  });

  it('the default page size is 50', async () => {
    const org = await createOrg(server);
    await Promise.all(
      Array.from({ length: 51 }, (_, i) => createKey(server, org.id, ['events'], `bulk${i}`))
    );
    const first = await api(server, 'GET', `/v1/orgs/${org.id}/api-keys`, { key: server.adminKey });
    assert.equal(first.status, 200);
    assert.equal(first.json.data.length, 50);
    assert.equal(typeof first.json.next_cursor, 'string');
    const second = await api(
      server,
      'GET',
      `/v1/orgs/${org.id}/api-keys?cursor=${encodeURIComponent(first.json.next_cursor)}`,
      { key: server.adminKey }
    );
    assert.equal(second.status, 200);
    assert.equal(second.json.data.length, 1);
    assert.equal(second.json.next_cursor, null);
    const all = [...first.json.data, ...second.json.data];
    assert.equal(new Set(all.map((k) => k.id)).size, 51);
    assertNewestFirst(all);
    const big = await api(server, 'GET', `/v1/orgs/${org.id}/api-keys?limit=250`, {
      key: server.adminKey,
    });
    assert.equal(big.status, 200);
    assert.equal(big.json.data.length, 51);
    assert.equal(big.json.next_cursor, null);
  });

  it('keys created during a walk neither repeat nor hide the keys that were there', async () => {
    const org = await createOrg(server);
    const ids = await makeKeys(server, org.id, 6);
    const first = await api(server, 'GET', `/v1/orgs/${org.id}/api-keys?limit=2`, {
      key: server.adminKey,
    });
    await makeKeys(server, org.id, 3); // newer than the cursor
    const seen = first.json.data.map((k) => k.id);
    let cursor = first.json.next_cursor;
    while (cursor) {
      const res = await api(
        server,
        'GET',
        `/v1/orgs/${org.id}/api-keys?limit=2&cursor=${encodeURIComponent(cursor)}`,
        { key: server.adminKey }
      );
      assert.equal(res.status, 200);
      seen.push(...res.json.data.map((k) => k.id));
      cursor = res.json.next_cursor;
    }
    assert.deepEqual(seen, [...ids].reverse());
  });

  it("a cursor from one org's keys shows nothing of another org", async () => {
    const a = await createOrg(server);
    const b = await createOrg(server);
    await makeKeys(server, a.id, 3);
    const bIds = await makeKeys(server, b.id, 2);
    const page = await api(server, 'GET', `/v1/orgs/${a.id}/api-keys?limit=1`, {
      key: server.adminKey,
    });
    const res = await api(
      server,
      'GET',
      `/v1/orgs/${a.id}/api-keys?limit=250&cursor=${encodeURIComponent(page.json.next_cursor)}`,
      { key: server.adminKey }
    );
    assert.equal(res.status, 200);
    assert.equal(res.json.data.length, 2);
    for (const k of res.json.data) {
      assert.equal(k.org_id, a.id);
      assert.ok(!bIds.includes(k.id));
    }
  });
});

describe('pagination of the organizations list', () => {
  let server;
  before(async () => {
    server = await startHookd();
  });
  after(async () => {
    await server?.cleanup();
  });

  it('walking the cursors visits every org exactly once, newest first', async () => {
    const created = [];
    for (let i = 0; i < 11; i++) {
      created.push((await createOrg(server)).id);
      await sleep(2);
    }
    for (const limit of [1, 4, 250]) {
      const pages = await walk(server, '/v1/orgs', limit);
      const items = pages.flatMap((p) => p.data);
      const ids = items.map((o) => o.id);
      assert.equal(new Set(ids).size, ids.length, `limit ${limit}: no org twice`);
      const mine = ids.filter((id) => created.includes(id));
      assert.deepEqual(mine, [...created].reverse(), `limit ${limit}: each once, newest first`);
      assertNewestFirst(items);
      for (const p of pages.slice(0, -1)) assert.equal(p.data.length, limit);
    }
  });

  it('deleted orgs drop out of the list', async () => {
    const keep = await createOrg(server);
    const gone = await createOrg(server);
    await api(server, 'DELETE', `/v1/orgs/${gone.id}`, { key: server.adminKey });
    const ids = (await walk(server, '/v1/orgs', 2)).flatMap((p) => p.data.map((o) => o.id));
    assert.ok(ids.includes(keep.id));
    assert.ok(!ids.includes(gone.id));
  });

  it('limit=250 is accepted and limit=1 returns one org with a cursor', async () => {
    await createOrg(server);
    await createOrg(server);
    const max = await api(server, 'GET', '/v1/orgs?limit=250', { key: server.adminKey });
    assert.equal(max.status, 200, max.text);
    const one = await api(server, 'GET', '/v1/orgs?limit=1', { key: server.adminKey });
    assert.equal(one.status, 200, one.text);
    assert.equal(one.json.data.length, 1);
    assert.equal(typeof one.json.next_cursor, 'string');
  });
});
