'use strict';
// Issue 15 metrics (SPEC §2.8): GET /metrics in Prometheus text, checked by `promtool check
// metrics`; the counters move with the traffic that made them; labels stay in closed sets (no
// series per id or per path); the queue depth and lag come from the store; contrib's alert rules
// pass `promtool check rules`.

const { describe, it, before, after } = require('node:test');
const assert = require('node:assert/strict');
const path = require('node:path');
const { spawnSync } = require('node:child_process');
const { startHookd, api, checkResponse, createOrgWithKey } = require('./lib/hookd');
const { pipelineFixture, createEndpoint, emit, waitEventSettled, uniqueType } = require('./lib/pipeline');

const ROOT = path.resolve(__dirname, '../..');

function promtool(args, input) {
  const r = spawnSync('promtool', args, { input, encoding: 'utf8' });
  assert.notEqual(r.error?.code, 'ENOENT', 'promtool is missing: make deps installs Debian\'s prometheus');
  return r;
}

// {name{labels}: value} of an exposition; labels in their written order.
function parse(text) {
  const out = new Map();
  for (const line of text.split('\n')) {
    if (!line || line.startsWith('#')) continue;
    const at = line.lastIndexOf(' ');
    out.set(line.slice(0, at), Number(line.slice(at + 1)));
  }
  return out;
}

async function scrape(server) {
  const res = await checkResponse('GET', '/metrics', await fetch(`${server.url}/metrics`));
  assert.equal(res.status, 200);
  assert.match(res.headers.get('content-type'), /^text\/plain; version=0\.0\.4/);
  const text = res.text;
  const check = promtool(['check', 'metrics'], text);
  assert.equal(check.status, 0, `promtool check metrics:\n${check.stdout}${check.stderr}`);
  return { text, m: parse(text) };
}

describe('GET /metrics', () => {
  let fx;
  before(async () => {
    fx = await pipelineFixture(null, { args: ['--no-ping'] });
  });
  after(async () => {
    await fx?.cleanup();
  });

  it('counts events, attempts by class, deliveries by state and requests by route, and passes promtool', async () => {
    const { server, rx, key } = fx;
    const before = (await scrape(server)).m;
    const type = uniqueType('m');
    await createEndpoint(server, key, { url: rx.url('/ok') });
    rx.handler = () => ({ status: 200 });
    const events = [];
    for (let i = 0; i < 5; i++) events.push(await emit(server, key, { type, data: { i } }));
    for (const ev of events) await waitEventSettled(server, key, ev.id, 1);
    const after = (await scrape(server)).m;
    const grew = (series) => (after.get(series) ?? 0) - (before.get(series) ?? 0);
    assert.equal(grew('hookd_events_accepted_total'), 5);
    assert.equal(grew('hookd_delivery_attempts_total{outcome="success",class="2xx"}'), 5);
    assert.equal(grew('hookd_deliveries_total{status="delivered"}'), 5);
    assert.equal(grew('hookd_http_requests_total{route="POST /v1/events",status="202"}'), 5);
    assert.ok(grew('hookd_delivery_attempt_duration_seconds_count') >= 5);
    assert.ok(after.get('hookd_write_batch_jobs_count') > 0);
    assert.equal(after.get('hookd_store_ready'), 1);
    assert.equal(after.get('hookd_queue_depth'), 0);
    assert.equal(after.get('hookd_queue_lag_seconds'), 0);
    assert.ok(after.has('hookd_endpoints_disabled'));
    assert.ok([...after.keys()].some((k) => /^hookd_build_info\{version="\d+\.\d+\.\d+[^"]*"\}$/.test(k)));
  });

  it('a failing receiver shows as 5xx attempts; inbound verdicts are counted by reason', async () => {
    const { server, rx, key } = fx;
    const before = (await scrape(server)).m;
    const type = uniqueType('f');
    await createEndpoint(server, key, { url: rx.url('/fail') });
    rx.handler = () => ({ status: 503 });
    const ev = await emit(server, key, { type, data: {} });
    await rx.waitFor((r) => r.some((q) => q.url === '/fail'));
    const src = await api(server, 'POST', '/v1/sources', { key, body: { name: 's', verification: { scheme: 'none' } } });
    assert.equal(src.status, 201, src.text);
    assert.equal((await api(server, 'POST', `/in/${src.json.id}`, { body: { a: 1 } })).status, 202);
    const hmac = await api(server, 'POST', '/v1/sources', { key, body: { name: 'h', verification: { scheme: 'standard' } } });
    assert.equal((await api(server, 'POST', `/in/${hmac.json.id}`, { body: { a: 1 } })).status, 401);
    let after;
    for (let i = 0; i < 50; i++) {
      after = (await scrape(server)).m;
      if ((after.get('hookd_delivery_attempts_total{outcome="failure",class="5xx"}') ?? 0) > (before.get('hookd_delivery_attempts_total{outcome="failure",class="5xx"}') ?? 0)) break;
      await new Promise((r) => setTimeout(r, 50));
    }
    const grew = (series) => (after.get(series) ?? 0) - (before.get(series) ?? 0);
    assert.ok(grew('hookd_delivery_attempts_total{outcome="failure",class="5xx"}') >= 1);
    assert.ok(grew('hookd_deliveries_total{status="pending"}') >= 1, 'a retry is scheduled');
    assert.equal(grew('hookd_inbound_messages_total{verdict="accepted",reason=""}'), 1);
    assert.equal(grew('hookd_inbound_messages_total{verdict="rejected",reason="missing_signature"}'), 1);
    assert.ok(ev.id);
  });

  it('keeps its labels in closed sets: unknown paths and many ids add no series', async () => {
    const { server, key } = fx;
    const before = (await scrape(server)).text.split('\n').length;
    for (let i = 0; i < 30; i++) {
      await checkResponse('GET', `/nowhere/${i}`, await fetch(`${server.url}/nowhere/${i}`));
      await api(server, 'GET', `/v1/events/evt_${String(i).padStart(26, '0')}`, { key });
    }
    const { text, m } = await scrape(server);
    assert.ok(text.split('\n').length <= before + 2, 'at most the two new (route, status) pairs');
    assert.ok(m.get('hookd_http_requests_total{route="unmatched",status="404"}') >= 30);
    assert.ok(m.get('hookd_http_requests_total{route="GET /v1/events/{id}",status="404"}') >= 30);
    assert.ok(!text.includes('evt_0'));
  });
});

describe('GET /metrics: the queue as the store has it', () => {
  let server;
  before(async () => {
    server = await startHookd({ args: ['--role', 'api', '--allow-http', '--allow-private', '--no-ping'] });
  });
  after(async () => {
    await server?.cleanup();
  });

  it('with no worker, the queue depth is what waits and the lag grows with its age', async () => {
    const { key } = await createOrgWithKey(server, ['events', 'webhooks']);
    await createEndpoint(server, key, { url: 'http://127.0.0.1:9/none' });
    for (let i = 0; i < 3; i++) await emit(server, key, { type: 'a.b', data: {} });
    await new Promise((r) => setTimeout(r, 300));
    const { m } = await scrape(server);
    assert.equal(m.get('hookd_queue_depth'), 3);
    assert.ok(m.get('hookd_queue_lag_seconds') >= 0.25, `lag ${m.get('hookd_queue_lag_seconds')}`);
  });
});

describe('contrib/prometheus/alerts.yml', () => {
  it('passes promtool check rules and names every metric it uses', () => {
    const file = path.join(ROOT, 'contrib/prometheus/alerts.yml');
    const r = promtool(['check', 'rules', file]);
    assert.equal(r.status, 0, r.stdout + r.stderr);
    const text = require('node:fs').readFileSync(file, 'utf8');
    for (const alert of ['HookdDeliveryLag', 'HookdDeliveryFailureRate', 'HookdEndpointsDisabled', 'HookdStoreNotReady'])
      assert.match(text, new RegExp(`alert: ${alert}\\b`));
  });
});
