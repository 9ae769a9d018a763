'use strict';
// §2.7 POST /in/{source_id}: 429 + Retry-After over the per-org rate limit (--rate-limit N per
// second, burst 2N), shared by the org's sources, not by other orgs; rate-limited requests are
// recorded as rejected; the sender gets through again once the bucket refills.

const { describe, it, before, after } = require('node:test');
const assert = require('node:assert/strict');
const { startHookd, sleep } = require('./lib/hookd');
const { sendIn, createSource, messages, apiPatient, hookdSignHex, unknownSourceId } = require('./lib/inbound');

describe('inbound: per-org rate limit', () => {
  let server;
  before(async () => {
    server = await startHookd({ args: ['--rate-limit', '1', '--no-ping'] });
  });
  after(async () => {
    await server?.cleanup();
  });

  // API calls under --rate-limit 1 wait out their own 429s (per key, not what is tested here)
  async function orgWithKey() {
    const orgRes = await apiPatient(server, 'POST', '/v1/orgs', { key: server.adminKey, body: { name: `rl-${Date.now()}-${Math.random()}` } });
    assert.equal(orgRes.status, 201, orgRes.text);
    const keyRes = await apiPatient(server, 'POST', `/v1/orgs/${orgRes.json.id}/api-keys`, {
      key: server.adminKey,
      body: { name: 'rl', scopes: ['sources', 'events'] },
    });
    assert.equal(keyRes.status, 201, keyRes.text);
    return { org: orgRes.json, key: keyRes.json.key };
  }

  it('a burst over 2N gets 429 with Retry-After, shared by the org\'s sources, not by another org; recorded; then accepted again', async () => {
    const a = await orgWithKey();
    const b = await orgWithKey();
    const a1 = await createSource(server, a.key, { name: 'a1', verification: { scheme: 'hookd' } }, { patient: true });
    const a2 = await createSource(server, a.key, { name: 'a2', verification: { scheme: 'none' } }, { patient: true });
    const b1 = await createSource(server, b.key, { name: 'b1', verification: { scheme: 'none' } }, { patient: true });

    // pre-signed, so that the burst is as fast as the server
    const bodies = Array.from({ length: 6 }, (_, i) => JSON.stringify({ type: 'burst.item', i, at: Date.now() }));
    const signed = bodies.map((body) => ({ body, headers: hookdSignHex(a1.secret, body) }));
    const results = [];
    for (const { body, headers } of signed) results.push(await sendIn(server, a1.id, body, headers));
    const statuses = results.map((r) => r.status);
    assert.deepEqual(statuses.slice(0, 2), [202, 202], `the burst of 2N passes: ${statuses}`);
    assert.ok(statuses.filter((s) => s === 429).length >= 3, `then 429: ${statuses}`);
    assert.equal(statuses[5], 429, `${statuses}`);
    for (const r of results.filter((x) => x.status === 429)) {
      const retry = r.headers.get('retry-after');
      assert.match(String(retry), /^\d+$/, 'Retry-After in seconds');
      assert.ok(Number(retry) >= 1 && Number(retry) <= 2, `Retry-After ${retry}`);
      assert.equal(r.json.error, 'rate_limited');
    }

    // the org's other source shares the bucket; another org does not
    const other = await sendIn(server, a2.id, JSON.stringify({ n: 'a2' }));
    assert.equal(other.status, 429, `a second source of the same org: ${other.text}`);
    const foreign = await sendIn(server, b1.id, JSON.stringify({ n: 'b1' }));
    assert.equal(foreign.status, 202, `another org: ${foreign.text}`);
    // an unknown source is still a 404
    assert.equal((await sendIn(server, unknownSourceId(), '{}')).status, 404);

    // recorded as rejected, with the reason and the status the sender got
    const log = await messages(server, a.key, a1.id, { status: 'rejected', patient: true });
    const limited = results.filter((r) => r.status === 429).map((r) => r.json.id);
    assert.deepEqual(
      log.data.map((m) => m.id).sort(),
      limited.slice().sort()
    );
    for (const m of log.data) {
      assert.equal(m.reason, 'rate_limited');
      assert.equal(m.http_status, 429);
    }

    // once the bucket refills the sender gets through again
    const wait = Number(results[5].headers.get('retry-after'));
    await sleep(wait * 1000 + 100);
    const body = JSON.stringify({ type: 'burst.item', i: 'after' });
    const again = await sendIn(server, a1.id, body, hookdSignHex(a1.secret, body));
    assert.equal(again.status, 202, again.text);
  });
});
