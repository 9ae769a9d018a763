'use strict';
// The dashboard's endpoint pages in a real browser: sign in with a key, create an endpoint
// against a real receiver and read its secret, send a test and follow it into the delivery log,
// open an attempt's response body, edit, disable and enable, rotate the secret, delete.

const { describe, it, before, after } = require('node:test');
const assert = require('node:assert/strict');
const { Webhook } = require('standardwebhooks');
const { api, createOrgWithKey } = require('../e2e/lib/hookd');
const { startStack, assertNoProblems, signIn, go, assertAccessible, screenshot } = require('./lib');

describe('dashboard endpoints', () => {
  let stack, server, rx, page, key, endpointId, secret;

  before(async () => {
    stack = await startStack({
      args: ['--allow-http', '--allow-private'],
      receiver: { fallback: { status: 200, body: 'thanks from the receiver' } },
    });
    ({ server, rx, page } = stack);
    ({ key } = await createOrgWithKey(server));
  });

  after(() => stack?.stop());

  it('signs in with a pasted key kept in sessionStorage, not in the URL or a cookie', async () => {
    await assertAccessible(page, 'the sign-in page');
    await signIn(page, key);
    await page.locator('main h1', { hasText: 'Endpoints' }).waitFor();
    assert.equal(await page.evaluate(() => document.activeElement.tagName), 'H1', 'focus on the new heading');
    assert.equal(await page.evaluate(() => sessionStorage.getItem('hookd.key')), key);
    assert.ok(!page.url().includes(key), 'the key is not in the URL');
    assert.deepEqual(await page.context().cookies(), [], 'no cookies');
    assert.equal(await page.evaluate(() => localStorage.length), 0, 'nothing in localStorage');
    // a reload keeps the tab signed in
    await page.reload();
    await page.getByRole('button', { name: 'Sign out' }).waitFor();
  });

  it('creates an endpoint (pinged by hookd) and shows its secret once, with a copy button', async () => {
    await page.getByLabel('URL').fill(rx.url('/hook'));
    await page.getByLabel('Name', { exact: true }).fill('Receiver');
    await page.getByRole('button', { name: 'Create endpoint' }).click();
    const box = page.getByRole('group', { name: /Signing secret of Receiver/ });
    await box.waitFor();
    secret = (await box.locator('code').textContent()).trim();
    assert.match(secret, /^whsec_/);
    assert.ok(await box.getByRole('button', { name: 'Copy' }).isVisible());
    // the receiver's ping was signed with that secret
    const ping = rx.pings()[0];
    assert.ok(ping, 'hookd pinged the receiver');
    new Webhook(secret).verify(ping.text, ping.headers);
    await page.getByRole('row', { name: /Receiver/ }).waitFor();
    const list = await api(server, 'GET', '/v1/endpoints', { key });
    endpointId = list.json.data[0].id;
    assert.equal(list.json.data[0].secret, undefined, 'the API never shows it again');
    await screenshot(page, 'endpoints');
    await assertAccessible(page, 'the endpoints page');
  });

  it('sends a test and shows the delivery in the log, with its attempt and response body', async () => {
    await page.getByRole('link', { name: 'Open Receiver' }).click();
    await page.locator('main h1', { hasText: 'Receiver' }).waitFor();
    await page.getByRole('button', { name: 'Send test' }).click();
    const delivery = await rx.waitFor((l) => l.length >= 1);
    new Webhook(secret).verify(delivery[0].text, delivery[0].headers);
    const deliveryId = delivery[0].headers['x-webhook-delivery'];
    const row = page.getByRole('row', { name: new RegExp(deliveryId) });
    await row.waitFor();
    // the log may have been read before the attempt's outcome was stored: refresh until delivered
    for (let i = 0; i < 50 && !(await row.getByText('delivered').count()); i++) {
      await page.getByRole('button', { name: 'Refresh' }).click();
      await page.waitForTimeout(100);
    }
    await row.getByText('delivered').waitFor();
    await row.getByRole('link', { name: deliveryId }).click();
    await page.locator('main h1', { hasText: `Delivery ${deliveryId}` }).waitFor();
    await page.getByText(/Attempt 1: HTTP 200/).click();
    const body = page.getByLabel('Response body of attempt 1');
    await body.waitFor();
    assert.equal(await body.textContent(), 'thanks from the receiver');
    await page.getByText('X-Webhook-Delivery').first().waitFor();
    await screenshot(page, 'delivery');
    await assertAccessible(page, 'the delivery page');
  });

  it('edits, disables and enables the endpoint', async () => {
    await go(page, `#/endpoints/${endpointId}`, 'Receiver');
    await page.getByLabel('Description').fill('the test receiver');
    await page.getByLabel('Retry schedule').fill('2s,30s');
    await page.getByLabel('Disable after').fill('7');
    await page.getByLabel('Ordering').selectOption('fifo');
    await page.getByRole('button', { name: 'Save changes' }).click();
    await page.locator('.facts').getByText('the test receiver').waitFor();
    await page.locator('.facts').getByText('7 failures').waitFor();
    await page.getByRole('button', { name: 'Disable' }).click();
    await page.locator('.facts').getByText('disabled: manual').waitFor();
    let ep = (await api(server, 'GET', `/v1/endpoints/${endpointId}`, { key })).json;
    assert.equal(ep.is_active, false);
    assert.equal(ep.disabled_reason, 'manual');
    assert.equal(ep.description, 'the test receiver');
    assert.deepEqual([ep.retry_schedule, ep.disable_after, ep.ordering], ['2s,30s', 7, 'fifo'], "the endpoint's own policy");
    await page.getByRole('button', { name: 'Enable' }).click();
    await page.locator('.facts').getByText('active', { exact: true }).waitFor();
    ep = (await api(server, 'GET', `/v1/endpoints/${endpointId}`, { key })).json;
    assert.equal(ep.is_active, true);
    await go(page, '#/endpoints', 'Endpoints');
    await page.getByLabel('Show').selectOption('false');
    await page.getByText('No endpoints yet.').waitFor();
    await page.getByLabel('Show').selectOption('true');
    await page.getByRole('row', { name: /Receiver/ }).waitFor();
  });

  it('sets a payload filter through the form: the API 400 is shown, a good one is saved and shown', async () => {
    await go(page, `#/endpoints/${endpointId}`, 'Receiver');
    const edit = page.locator('form', { has: page.getByRole('heading', { name: 'Edit' }) });
    await edit.getByLabel('Filter (JSON)').fill('{"data.amount": {"$gte": true}}');
    await edit.getByRole('button', { name: 'Save changes' }).click();
    await page.getByRole('alert').getByText('data.amount: $gte takes a number or a string (filter)').waitFor();
    assert.equal((await api(server, 'GET', `/v1/endpoints/${endpointId}`, { key })).json.filter, null, 'nothing stored');
    await edit.getByLabel('Filter (JSON)').fill('{"data.amount": {"$gte": 100}}');
    await edit.getByRole('button', { name: 'Save changes' }).click();
    await page.locator('.facts').getByText('{"data.amount":{"$gte":100}}').waitFor();
    assert.deepEqual((await api(server, 'GET', `/v1/endpoints/${endpointId}`, { key })).json.filter, { 'data.amount': { $gte: 100 } });
    await page.reload();
    await page.locator('main h1', { hasText: 'Receiver' }).waitFor();
    const shown = page.locator('form', { has: page.getByRole('heading', { name: 'Edit' }) }).getByLabel('Filter (JSON)');
    assert.equal(await shown.inputValue(), '{"data.amount":{"$gte":100}}', 'the edit form starts from the stored filter');
    // emptied: removed
    await shown.fill('');
    await page.getByRole('button', { name: 'Save changes' }).click();
    await page.locator('.facts').getByText('none: every event').waitFor();
    assert.equal((await api(server, 'GET', `/v1/endpoints/${endpointId}`, { key })).json.filter, null);
  });

  it('rotates the secret: the new one signs the next delivery, beside the old one', async () => {
    await go(page, `#/endpoints/${endpointId}`, 'Receiver');
    await page.getByRole('button', { name: 'Rotate secret' }).click();
    const box = page.getByRole('group', { name: 'New signing secret' });
    await box.waitFor();
    const fresh = (await box.locator('code').textContent()).trim();
    assert.notEqual(fresh, secret);
    await page.getByRole('button', { name: 'Send test' }).click();
    const list = await rx.waitFor((l) => l.length >= 2);
    const last = list[list.length - 1];
    new Webhook(fresh).verify(last.text, last.headers);
    new Webhook(secret).verify(last.text, last.headers); // the grace period
    assert.equal(last.headers['webhook-signature'].split(' ').length, 2);
    await screenshot(page, 'endpoint');
    await assertAccessible(page, 'the endpoint page');
  });

  it('shows a read-only session (as a read-only portal has) no write button', async () => {
    // the page's modules are singletons: this is the session object every view reads
    await page.evaluate(async () => {
      (await import('/assets/api.js')).session.readOnly = true;
    });
    await go(page, '#/endpoints', 'Endpoints');
    await page.getByRole('row', { name: /Receiver/ }).waitFor();
    assert.equal(await page.getByRole('button', { name: 'Create endpoint' }).count(), 0);
    await go(page, `#/endpoints/${endpointId}`, 'Receiver');
    await page.getByText('Page 1').waitFor();
    const deliveryLink = page.locator('.log tbody a').first();
    for (const name of ['Disable', 'Delete endpoint', 'Send test', 'Rotate secret', 'Replay', 'Save changes']) {
      assert.equal(await page.getByRole('button', { name, exact: true }).count(), 0, `no ${name} button`);
    }
    await deliveryLink.click();
    await page.locator('main h1', { hasText: 'Delivery' }).waitFor();
    assert.equal(await page.getByRole('button', { name: 'Retry delivery' }).count(), 0);
    await page.evaluate(async () => {
      (await import('/assets/api.js')).session.readOnly = false;
    });
    await go(page, `#/endpoints/${endpointId}`, 'Receiver');
  });

  it('deletes the endpoint only after a confirmation', async () => {
    await page.getByRole('button', { name: 'Delete endpoint' }).click();
    const dialog = page.getByRole('dialog');
    await dialog.getByRole('button', { name: 'Cancel' }).click();
    assert.equal((await api(server, 'GET', `/v1/endpoints/${endpointId}`, { key })).status, 200);
    await page.getByRole('button', { name: 'Delete endpoint' }).click();
    await dialog.getByRole('button', { name: 'Delete' }).click();
    await page.locator('main h1', { hasText: 'Endpoints' }).waitFor();
    assert.equal((await api(server, 'GET', `/v1/endpoints/${endpointId}`, { key })).status, 404);
    await page.getByText('No endpoints yet.').waitFor();
  });

  it('creates a poll endpoint without a URL and shows its poll token once', async () => {
    await go(page, '#/endpoints', 'Endpoints');
    await page.getByLabel('Kind').selectOption('poll');
    assert.equal(await page.getByLabel('URL').isDisabled(), true, 'a poll endpoint takes no URL');
    await page.getByLabel('Name', { exact: true }).fill('Puller');
    await page.getByRole('button', { name: 'Create endpoint' }).click();
    const box = page.getByRole('group', { name: /Poll token of Puller/ });
    await box.waitFor();
    const token = (await box.locator('code').textContent()).trim();
    const ep = (await api(server, 'GET', '/v1/endpoints', { key })).json.data.find((e) => e.name === 'Puller');
    assert.equal(ep.kind, 'poll');
    assert.equal(ep.url, null);
    const polled = await api(server, 'GET', `/v1/endpoints/${ep.id}/poll`, { key: token });
    assert.equal(polled.status, 200, polled.text);
    await page.getByRole('link', { name: 'Open Puller' }).click();
    await page.locator('.facts').getByText(/^poll: read at/).waitFor();
  });

  it('signs out, forgetting the key', async () => {
    await page.getByRole('button', { name: 'Sign out' }).click();
    await page.getByLabel('API key').waitFor();
    assert.equal(await page.evaluate(() => sessionStorage.getItem('hookd.key')), null);
    // the filter the form sent on purpose, refused with a 400
    assertNoProblems(page, [/status of 400 \(Bad Request\) at http:\/\/127\.0\.0\.1:\d+\/v1\/endpoints\/ep_\w+$/]);
  });
});
