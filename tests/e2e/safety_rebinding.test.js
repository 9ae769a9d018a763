'use strict';
// §4.4 "checked at registration *and at every connect*": DNS rebinding. A name that resolves to
// a public address when the endpoint is registered and to a blocked one when the delivery
// connects must fail the attempt with error "blocked_address" (delivery "failed", not retried)
// and the receiver must see nothing.
//
// Name resolution is steered through HOOKD_TEST_HOSTS (a hosts-style file that hookd reads
// afresh at registration and at every attempt).

const { describe, it, before, after } = require('node:test');
const assert = require('node:assert/strict');
const fs = require('node:fs');
const path = require('node:path');
const { startHookd, api, createOrgWithKey, makeTempDir, removeTempDir, sleep } = require('./lib/hookd');
const { startReceiver, waitDelivery, deliveriesOf, getJson, uniqueType } = require('./lib/pipeline');

const PUBLIC = '93.184.215.14';

function writeHosts(file, lines) {
  // written to a temp file and renamed, so that hookd never reads half a file
  fs.writeFileSync(file + '.tmp', lines.map((l) => l + '\n').join(''));
  fs.renameSync(file + '.tmp', file);
}

describe('DNS rebinding is blocked at connect (HOOKD_TEST_HOSTS)', { timeout: 60000 }, () => {
  let server, rx, key, dir, hosts;
  before(async () => {
    dir = makeTempDir();
    hosts = path.join(dir, 'hosts');
    writeHosts(hosts, [`${PUBLIC} rebind.test`]);
    // --allow-http but NOT --allow-private; --no-ping, so that the public address is never contacted;
    // a short retry schedule, so that a retry (which must not happen) would be seen
    server = await startHookd({
      args: ['--allow-http', '--no-ping', '--retry-schedule', '100ms,100ms,100ms'],
      env: { HOOKD_TEST_HOSTS: hosts },
    });
    rx = await startReceiver();
    ({ key } = await createOrgWithKey(server));
  });
  after(async () => {
    await rx?.close();
    await server?.cleanup();
    if (dir) removeTempDir(dir);
  });

  it('the override is honoured at registration: a name listed as 127.0.0.1 is refused', async () => {
    writeHosts(hosts, [
      `${PUBLIC} rebind.test`,
      '127.0.0.1 loop.test',
      '169.254.169.254 meta.test',
      '::1 loop6.test',
    ]);
    for (const name of ['loop.test', 'meta.test', 'loop6.test']) {
      const res = await api(server, 'POST', '/v1/endpoints', { key, body: { url: `http://${name}:${rx.port}/x` } });
      assert.equal(res.status, 400, `${name}: ${res.text}`);
      assert.equal(res.json.error, 'url_not_allowed', res.text);
      assert.equal(res.json.field, 'url');
    }
  });

  it('public at registration, 127.0.0.1 at delivery: failed / blocked_address, not retried, receiver sees nothing', async () => {
    writeHosts(hosts, [`${PUBLIC} rebind.test`]);
    const url = `http://rebind.test:${rx.port}/x`;
    const created = await api(server, 'POST', '/v1/endpoints', { key, body: { url } });
    assert.equal(created.status, 201, `registration while rebind.test is public: ${created.text}`);
    const ep = created.json;

    writeHosts(hosts, ['127.0.0.1 rebind.test']);
    const type = uniqueType('rebind');
    const evt = await api(server, 'POST', '/v1/events', { key, body: { type, data: { n: 1 }, endpoint_ids: [ep.id] } });
    assert.equal(evt.status, 202, evt.text);
    const [d0] = await deliveriesOf(server, key, evt.json.id);
    const d = await waitDelivery(server, key, d0.id);
    assert.equal(d.status, 'failed', JSON.stringify(d));
    assert.equal(d.last_error, 'blocked_address', JSON.stringify(d));
    assert.equal(d.attempts.length, 1, JSON.stringify(d.attempts));
    assert.equal(d.attempts[0].error, 'blocked_address', JSON.stringify(d.attempts[0]));
    assert.equal(d.attempts[0].response_status, null, JSON.stringify(d.attempts[0]));
    // not retried (the schedule would have retried within ~100 ms)
    await sleep(600);
    const later = await getJson(server, key, `/v1/deliveries/${d0.id}`);
    assert.equal(later.status, 'failed');
    assert.equal(later.attempt_count, 1, JSON.stringify(later));
    assert.equal(rx.requests.length, 0, `the receiver got ${rx.requests.length} requests`);

    // an explicit retry goes through the same check again
    const retry = await api(server, 'POST', `/v1/deliveries/${d0.id}/retry`, { key });
    assert.equal(retry.status, 202, retry.text);
    const again = await pollUntilAttempts(server, key, d0.id, 2);
    assert.equal(again.attempt_count, 2, JSON.stringify(again));
    assert.equal(again.status, 'failed', JSON.stringify(again));
    assert.equal(again.last_error, 'blocked_address');
    assert.equal(rx.requests.length, 0, 'still nothing at the receiver');
  });

  it('rebinding to other blocked addresses (metadata, 10/8, ::1, mapped loopback) fails the same way', async () => {
    const targets = ['169.254.169.254', '10.0.0.1', '::1', '::ffff:127.0.0.1', '0.0.0.0'];
    const eps = [];
    writeHosts(hosts, targets.map((_, i) => `${PUBLIC} r${i}.test`));
    for (let i = 0; i < targets.length; i++) {
      const res = await api(server, 'POST', '/v1/endpoints', {
        key,
        body: { url: `http://r${i}.test:${rx.port}/r${i}`, timeout_seconds: 3 },
      });
      assert.equal(res.status, 201, res.text);
      eps.push(res.json);
    }
    writeHosts(hosts, targets.map((a, i) => `${a} r${i}.test`));
    const type = uniqueType('rebind_many');
    const evt = await api(server, 'POST', '/v1/events', { key, body: { type, data: {}, endpoint_ids: eps.map((e) => e.id) } });
    assert.equal(evt.status, 202, evt.text);
    assert.equal(evt.json.deliveries, targets.length);
    const ds = await deliveriesOf(server, key, evt.json.id);
    for (const d0 of ds) {
      const d = await waitDelivery(server, key, d0.id, undefined, { timeoutMs: 8000 });
      const i = eps.findIndex((e) => e.id === d.endpoint_id);
      const what = `rebound to ${targets[i]}: ${JSON.stringify({ status: d.status, last_error: d.last_error, attempts: d.attempts?.map((a) => a.error) })}`;
      assert.equal(d.status, 'failed', what);
      assert.equal(d.last_error, 'blocked_address', what);
      assert.equal(d.attempts.length, 1, what);
      assert.equal(d.attempts[0].error, 'blocked_address', what);
    }
    assert.equal(rx.requests.length, 0, 'the receiver got nothing');
  });
});

async function pollUntilAttempts(server, key, id, n) {
  const deadline = Date.now() + 5000;
  for (;;) {
    const d = await getJson(server, key, `/v1/deliveries/${id}`);
    if (d.attempt_count >= n && d.status !== 'pending' && d.status !== 'in_flight') return d;
    if (Date.now() > deadline) return d;
    await sleep(25);
  }
}

describe('DNS rebinding of a one-shot webhook_url', { timeout: 60000 }, () => {
  it('accepted while public (--role api), dispatched after rebinding to 127.0.0.1: failed / blocked_address', async (t) => {
    // The URL check at POST /v1/events and the first attempt follow each other at once, so the
    // event is accepted by an API-only node, and the rebinding happens before a dispatching node
    // starts on the same database.
    const dir = makeTempDir();
    const hosts = path.join(dir, 'hosts');
    writeHosts(hosts, [`${PUBLIC} oneshot.test`]);
    const rx = await startReceiver();
    const common = { dir, env: { HOOKD_TEST_HOSTS: hosts } };
    const apiNode = await startHookd({ ...common, args: ['--allow-http', '--no-ping', '--role', 'api'] });
    let worker = null;
    t.after(async () => {
      await rx.close();
      await apiNode.cleanup();
      if (worker) await worker.cleanup();
      removeTempDir(dir);
    });
    const { key } = await createOrgWithKey(apiNode);
    const type = uniqueType('rebind_oneshot');
    const evt = await api(apiNode, 'POST', '/v1/events', {
      key,
      body: { type, data: {}, webhook_url: `http://oneshot.test:${rx.port}/oneshot` },
    });
    assert.equal(evt.status, 202, `accepted while oneshot.test is public: ${evt.text}`);
    assert.equal(evt.json.deliveries, 1);
    const [d0] = await deliveriesOf(apiNode, key, evt.json.id);
    assert.equal(d0.status, 'pending', 'an API-only node does not dispatch');
    await apiNode.stop();

    writeHosts(hosts, ['127.0.0.1 oneshot.test']);
    worker = await startHookd({
      ...common,
      adminKey: apiNode.adminKey,
      args: ['--allow-http', '--no-ping', '--retry-schedule', '100ms,100ms'],
    });
    const d = await waitDelivery(worker, key, d0.id);
    assert.equal(d.status, 'failed', JSON.stringify(d));
    assert.equal(d.last_error, 'blocked_address', JSON.stringify(d));
    assert.equal(d.attempts.length, 1, JSON.stringify(d.attempts));
    assert.equal(d.attempts[0].error, 'blocked_address');
    await sleep(400);
    assert.equal((await getJson(worker, key, `/v1/deliveries/${d0.id}`)).attempt_count, 1, 'not retried');
    assert.equal(rx.requests.length, 0, 'the receiver got nothing');
  });
});

describe('control: with --allow-private the same override does reach the receiver', { timeout: 60000 }, () => {
  it('rebind.test → 127.0.0.1 is delivered when private addresses are allowed', async (t) => {
    const dir = makeTempDir();
    const hosts = path.join(dir, 'hosts');
    writeHosts(hosts, ['127.0.0.1 rebind.test']);
    const server = await startHookd({
      args: ['--allow-http', '--allow-private', '--no-ping'],
      env: { HOOKD_TEST_HOSTS: hosts },
    });
    const rx = await startReceiver();
    t.after(async () => {
      await rx.close();
      await server.cleanup();
      removeTempDir(dir);
    });
    const { key } = await createOrgWithKey(server);
    const ep = await api(server, 'POST', '/v1/endpoints', { key, body: { url: `http://rebind.test:${rx.port}/ok` } });
    assert.equal(ep.status, 201, ep.text);
    const evt = await api(server, 'POST', '/v1/events', { key, body: { type: 'rebind.ok', data: {} } });
    assert.equal(evt.status, 202, evt.text);
    const [d0] = await deliveriesOf(server, key, evt.json.id);
    const d = await waitDelivery(server, key, d0.id);
    assert.equal(d.status, 'delivered', JSON.stringify(d));
    const [req] = await rx.waitForPath('/ok');
    assert.equal(req.headers.host, `rebind.test:${rx.port}`);
  });
});
