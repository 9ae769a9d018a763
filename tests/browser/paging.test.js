'use strict';
// 10,000 deliveries of one endpoint: the delivery log pages with the API's cursors, one page in
// the DOM at a time, and the page stays responsive (no long task) while paging.
// --role api stores the deliveries without sending them, which is all the log needs.

const { describe, it, before, after } = require('node:test');
const assert = require('node:assert/strict');
const { api, createOrgWithKey } = require('../e2e/lib/hookd');
const { startStack, assertNoProblems, signIn, go, postEvents } = require('./lib');

const COUNT = 10000;

describe('dashboard paging through 10,000 deliveries', () => {
  let stack, server, page, key, endpointId;

  before(async () => {
    stack = await startStack({ args: ['--role', 'api', '--no-ping', '--allow-http', '--allow-private', '--rate-limit', '0'] });
    ({ server, page } = stack);
    ({ key } = await createOrgWithKey(server));
    endpointId = (await api(server, 'POST', '/v1/endpoints', { key, body: { url: 'http://127.0.0.1:9/none', name: 'Busy' } })).json.id;
    await postEvents(server, key, COUNT);
    await signIn(page, key);
    // every task over 50 ms that the page runs from now on
    await page.evaluate(() => {
      window.longTasks = [];
      new PerformanceObserver((list) => {
        for (const e of list.getEntries()) window.longTasks.push(e.duration);
      }).observe({ type: 'longtask', buffered: true });
    });
  });

  after(() => stack?.stop());

  const rowIds = () => page.locator('.log tbody tr td:first-child').allTextContents();

  // No timing asserts (a busy machine is slow, not frozen): what keeps 10,000 deliveries from
  // freezing the page is that it never holds more than one page of rows; the times are reported.
  it('shows one page at a time and moves through pages with Next and Previous', async (t) => {
    await go(page, `#/endpoints/${endpointId}`, 'Busy');
    const log = page.locator('.log');
    await log.getByText('Page 1').waitFor();
    const seen = new Set();
    const pages = [];
    const times = [];
    for (let n = 1; n <= 8; n++) {
      const ids = await rowIds();
      assert.equal(ids.length, 50, `page ${n} holds one page of rows`);
      for (const id of ids) {
        assert.ok(!seen.has(id), `${id} shown on two pages`);
        seen.add(id);
      }
      pages.push(ids);
      const started = Date.now();
      await log.getByRole('button', { name: 'Next page' }).click();
      await log.getByText(`Page ${n + 1}`).waitFor();
      times.push(Date.now() - started);
    }
    assert.equal(await page.locator('tbody tr').count(), 50, 'never more than a page in the DOM');
    // newest first: ids (time-ordered) go down from page to page
    assert.ok(pages[0][0] > pages[7][49]);
    await log.getByRole('button', { name: 'Previous page' }).click();
    await log.getByText('Page 8').waitFor();
    assert.deepEqual(await rowIds(), pages[7]);
    const longest = Math.max(0, ...(await page.evaluate(() => window.longTasks)));
    t.diagnostic(`next page in ${Math.max(...times)} ms at most; longest task ${longest} ms`);
  });

  it('pages through the events too', async () => {
    await go(page, '#/events', 'Events');
    await page.getByText('Page 1').waitFor();
    const first = await page.locator('tbody tr td:first-child').allTextContents();
    assert.equal(first.length, 50);
    await page.getByRole('button', { name: 'Next page' }).click();
    await page.getByText('Page 2').waitFor();
    const second = await page.locator('tbody tr td:first-child').allTextContents();
    assert.equal(second.length, 50);
    assert.ok(!second.some((id) => first.includes(id)));
    assert.equal(await page.locator('tbody tr').count(), 50, 'never more than a page in the DOM');
    assertNoProblems(page);
  });
});
