'use strict';
// Retry and replay from the dashboard: a delivery that the receiver fails until it is
// exhausted (--retry-schedule 50ms: two attempts), replayed over a time range, then retried by
// hand, and the new attempt's 200 shown in the delivery's page.

const { describe, it, before, after } = require('node:test');
const assert = require('node:assert/strict');
const { api, createOrgWithKey, sleep } = require('../e2e/lib/hookd');
const { startStack, assertNoProblems, signIn, go } = require('./lib');

async function waitForStatus(server, key, id, status) {
  for (let i = 0; i < 200; i++) {
    const d = (await api(server, 'GET', `/v1/deliveries/${id}`, { key })).json;
    if (d.status === status) return d;
    await sleep(25);
  }
  throw new Error(`delivery ${id} never became ${status}`);
}

// datetime-local's value for a time, in the browser's (this machine's) time zone
function localInput(date) {
  const p = (n) => String(n).padStart(2, '0');
  return `${date.getFullYear()}-${p(date.getMonth() + 1)}-${p(date.getDate())}T${p(date.getHours())}:${p(date.getMinutes())}`;
}

// Clicks Refresh until the page shows text (the engine works on its own time).
async function refreshUntil(page, locator) {
  for (let i = 0; i < 100 && !(await locator.count()); i++) {
    await page.getByRole('button', { name: 'Refresh' }).click();
    await page.waitForTimeout(50);
  }
  await locator.first().waitFor();
}

describe('dashboard retry and replay', () => {
  let stack, server, rx, page, key, endpointId, deliveryId;

  before(async () => {
    stack = await startStack({
      args: ['--no-ping', '--allow-http', '--allow-private', '--retry-schedule', '50ms'],
      receiver: { script: [500, 500], fallback: { status: 200, body: 'ok now' } },
    });
    ({ server, rx, page } = stack);
    ({ key } = await createOrgWithKey(server));
    endpointId = (await api(server, 'POST', '/v1/endpoints', { key, body: { url: rx.url('/hook'), name: 'Flaky' } })).json.id;
    deliveryId = (await api(server, 'POST', `/v1/endpoints/${endpointId}/test`, { key, body: {} })).json.delivery_id;
    await waitForStatus(server, key, deliveryId, 'exhausted');
    await signIn(page, key);
  });

  after(() => stack?.stop());

  it('shows the exhausted delivery with both failed attempts', async () => {
    await go(page, `#/endpoints/${endpointId}`, 'Flaky');
    const row = page.getByRole('row', { name: new RegExp(deliveryId) });
    await row.getByText('exhausted').waitFor();
    await page.getByLabel('Status').selectOption('delivered');
    await page.getByText('No deliveries.').waitFor();
    await page.getByLabel('Status').selectOption('exhausted');
    await row.waitFor();
    await row.getByRole('link').click();
    await page.locator('main h1', { hasText: deliveryId }).waitFor();
    await page.getByText('Attempt 1: HTTP 500').waitFor();
    await page.getByText('Attempt 2: HTTP 500').waitFor();
  });

  it('replays a time range as fresh deliveries', async () => {
    await go(page, `#/endpoints/${endpointId}`, 'Flaky');
    await page.getByLabel('Since').fill(localInput(new Date(Date.now() - 3600e3)));
    await page.getByRole('button', { name: 'Replay' }).click();
    await page.getByText('1 deliveries queued again.').waitFor();
    await rx.waitFor((l) => l.some((r) => r.answer?.status === 200));
    const all = (await api(server, 'GET', `/v1/endpoints/${endpointId}/deliveries`, { key })).json.data;
    assert.equal(all.length, 2);
  });

  it('retries the exhausted delivery: a third attempt, answered 200', async () => {
    await go(page, `#/deliveries/${deliveryId}`, deliveryId);
    await page.getByRole('button', { name: 'Retry delivery' }).click();
    await page.getByRole('status').getByText('Delivery queued again').waitFor();
    await refreshUntil(page, page.getByText('Attempt 3: HTTP 200'));
    await page.locator('.facts').getByText('delivered', { exact: true }).waitFor();
    assert.equal(await page.getByRole('button', { name: 'Retry delivery' }).isDisabled(), true,
      'a delivered delivery cannot be retried');
    const d = (await api(server, 'GET', `/v1/deliveries/${deliveryId}`, { key })).json;
    assert.equal(d.status, 'delivered');
    assert.deepEqual(d.attempts.map((a) => a.response_status), [500, 500, 200]);
    assertNoProblems(page);
  });
});
