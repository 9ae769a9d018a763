'use strict';
// The dashboard with an admin key: organizations and their keys, picking the org the other
// pages act on, event types, events filtered by type, sources and their messages' verdicts, and
// the org's settings. Every main page passes axe-core and is photographed for the README.

const { describe, it, before, after } = require('node:test');
const assert = require('node:assert/strict');
const { api, sleep } = require('../e2e/lib/hookd');
const { startStack, assertNoProblems, signIn, go, assertAccessible, screenshot } = require('./lib');

describe('dashboard pages for an admin key', () => {
  let stack, server, rx, page, orgId, orgKey, sourceId;

  before(async () => {
    stack = await startStack({ args: ['--allow-http', '--allow-private', '--retry-schedule', '50ms'], receiver: { script: [500, 500] } });
    ({ server, rx, page } = stack);
  });

  after(() => stack?.stop());

  it('asks an admin to pick an organization, then acts on it', async () => {
    await signIn(page, server.adminKey);
    await page.locator('main h1', { hasText: 'Organizations' }).waitFor();
    await page.getByLabel('Name').fill('Acme');
    await page.getByRole('button', { name: 'Create organization' }).click();
    await page.getByRole('button', { name: 'Use Acme' }).click();
    await page.getByRole('navigation', { name: 'Main' }).getByText('Acme').waitFor();
    orgId = (await api(server, 'GET', '/v1/orgs', { key: server.adminKey })).json.data[0].id;
    assert.equal(await page.evaluate(() => sessionStorage.getItem('hookd.org')), orgId);
    await screenshot(page, 'orgs');
    await assertAccessible(page, 'the organizations page');
  });

  it("creates an org's API key (shown once) and revokes one", async () => {
    await page.getByRole('link', { name: 'Acme' }).first().click();
    await page.locator('main h1', { hasText: 'Acme' }).waitFor();
    await page.getByLabel('Name').fill('backend');
    await page.getByRole('button', { name: 'Create key' }).click();
    const box = page.getByRole('group', { name: 'API key backend' });
    orgKey = (await box.locator('code').textContent()).trim();
    assert.equal((await api(server, 'GET', '/v1/org', { key: orgKey })).json.id, orgId, 'the key shown works');
    await page.getByLabel('Name').fill('spare');
    await page.getByRole('button', { name: 'Create key' }).click();
    await page.getByRole('button', { name: 'Revoke spare' }).click();
    await page.getByRole('dialog').getByRole('button', { name: 'Revoke' }).click();
    await page.getByRole('row', { name: /spare/ }).getByText(/revoked/).waitFor();
    await assertAccessible(page, 'the organization page');
  });

  it('keeps the catalog of event types', async () => {
    await go(page, '#/event-types', 'Event types');
    await page.getByLabel('Name').fill('invoice.paid');
    await page.getByLabel('Description').fill('An invoice was paid');
    await page.getByRole('button', { name: 'Create event type' }).click();
    await page.getByRole('row', { name: /invoice\.paid/ }).waitFor();
    await screenshot(page, 'event-types');
    await assertAccessible(page, 'the event types page');
  });

  it('lists events filtered by type, and shows one with its payload and deliveries', async () => {
    // an endpoint of Acme that fails twice (one delivery exhausted), then answers 200
    const ep = await api(server, 'POST', `/v1/endpoints?org_id=${orgId}`, { key: server.adminKey, body: { url: rx.url('/acme'), name: 'Acme hooks' } });
    assert.equal(ep.status, 201, ep.text);
    for (const [type, amount] of [['invoice.paid', 100], ['invoice.paid', 200], ['user.created', 0]]) {
      await api(server, 'POST', '/v1/events', { key: orgKey, body: { type, data: { amount } } });
    }
    await rx.waitFor((l) => l.length >= 4);
    await go(page, '#/events', 'Events');
    await page.getByLabel('Type').fill('user.created');
    await page.getByRole('button', { name: 'Filter' }).click();
    await page.getByText('Page 1').waitFor();
    await page.waitForFunction(() => document.querySelectorAll('main tbody tr').length === 1);
    await page.getByLabel('Type').fill('');
    await page.getByRole('button', { name: 'Filter' }).click();
    await page.waitForFunction(() => document.querySelectorAll('main tbody tr').length === 3);
    await screenshot(page, 'events');
    await assertAccessible(page, 'the events page');
    await page.getByRole('row', { name: /user\.created/ }).getByRole('link').click();
    await page.locator('main h1', { hasText: 'Event evt_' }).waitFor();
    await page.getByLabel('Payload').getByText('"amount": 0').waitFor();
    await page.getByRole('row', { name: /Acme hooks|ep_/ }).first().waitFor();
    await assertAccessible(page, 'an event page');
  });

  it('creates a source and shows its messages with their verdicts', async () => {
    await go(page, '#/sources', 'Inbound sources');
    await page.getByLabel('Name').fill('GitHub');
    await page.getByLabel('Verification').selectOption('github');
    await page.getByRole('button', { name: 'Create source' }).click();
    await page.getByRole('group', { name: 'Secret of GitHub' }).waitFor();
    const src = (await api(server, 'GET', '/v1/sources', { key: orgKey })).json.data[0];
    sourceId = src.id;
    // one unsigned message: rejected
    const r = await fetch(server.url + src.ingest_url, { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: '{"zen":"hi"}' });
    assert.equal(r.status, 401);
    await screenshot(page, 'sources');
    await assertAccessible(page, 'the sources page');
    await page.getByRole('link', { name: 'Open GitHub' }).click();
    await page.locator('main h1', { hasText: 'GitHub' }).waitFor();
    const row = page.getByRole('row', { name: /missing_signature/ });
    await row.getByText('rejected').waitFor();
    await screenshot(page, 'source');
    await assertAccessible(page, 'a source page');
    await row.getByRole('link').click();
    await page.locator('main h1', { hasText: 'Message in_' }).waitFor();
    await page.getByLabel('Body').getByText('{"zen":"hi"}').waitFor();
  });

  it("changes the org's signature scheme and operational webhook, and rotates its secret", async () => {
    await go(page, '#/settings', 'Settings');
    await page.getByLabel('Signature scheme').selectOption('hex');
    await page.getByLabel('Operational webhook URL').fill(rx.url('/ops'));
    await page.getByRole('button', { name: 'Save settings' }).click();
    await page.getByRole('group', { name: 'Operational webhook secret' }).waitFor();
    let org = (await api(server, 'GET', '/v1/org', { key: orgKey })).json;
    assert.equal(org.signature_scheme, 'hex');
    assert.equal(org.operational_webhook_url, rx.url('/ops'));
    const before = org.primary_secret;
    await page.getByRole('button', { name: 'Rotate primary secret' }).click();
    await page.getByRole('dialog').getByRole('button', { name: 'Rotate' }).click();
    const box = page.getByRole('group', { name: 'New primary secret' });
    const shown = (await box.locator('code').textContent()).trim();
    org = (await api(server, 'GET', '/v1/org', { key: orgKey })).json;
    assert.notEqual(org.primary_secret, before);
    assert.equal(shown, org.primary_secret);
    await screenshot(page, 'settings');
    await assertAccessible(page, 'the settings page');
  });

  it('is usable with the keyboard alone: real links and buttons, visible focus', async () => {
    await go(page, '#/event-types', 'Event types');
    assert.equal(await page.evaluate(() => document.activeElement.id), 'view-title');
    // Tab from the heading reaches a control, and the focus ring is drawn
    await page.keyboard.press('Tab');
    const focused = await page.evaluate(() => {
      const el = document.activeElement;
      return { tag: el.tagName, outline: getComputedStyle(el).outlineStyle };
    });
    assert.ok(['A', 'BUTTON', 'SUMMARY', 'SELECT', 'INPUT'].includes(focused.tag), focused.tag);
    assert.notEqual(focused.outline, 'none');
    // the main navigation works from the keyboard
    await page.getByRole('link', { name: 'Sources' }).focus();
    await page.keyboard.press('Enter');
    await page.locator('main h1', { hasText: 'Inbound sources' }).waitFor();
    assert.equal(await page.evaluate(() => document.activeElement.id), 'view-title');
    await sleep(10);
    // signing in asks GET /v1/org, which answers an admin key 400 (it names no org): that is how
    // the page tells an admin key from an org key
    assertNoProblems(page, [/status of 400 \(Bad Request\) at http:\/\/127\.0\.0\.1:\d+\/v1\/org$/]);
    assert.ok(sourceId);
  });
});
