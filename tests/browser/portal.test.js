'use strict';
// Issue 16: the customer portal in a real browser. A product team mints a one-time link for one of
// its customers (org A); the page at /portal#token=... takes the token out of the URL, exchanges it
// once for the tab's session, and shows A's endpoints, their deliveries and attempts, and nothing
// of org B's, no settings, keys or sources. Links used twice, expired or revoked end in one
// message; read_only shows no write button; endpoint_ids limits the list; the org's branding
// (name, logo, accent colour) is applied. Every portal page passes axe-core.

const { describe, it, before, after } = require('node:test');
const assert = require('node:assert/strict');
const { api, createOrgWithKey, sleep } = require('../e2e/lib/hookd');
const { waitDelivery } = require('../e2e/lib/pipeline');
const { startStack, openDashboard, assertNoProblems, signIn, go, assertAccessible, screenshot } = require('./lib');

// the buttons that change something: a read-only portal shows none of them
const WRITE_BUTTONS = ['Create endpoint', 'Save changes', 'Disable', 'Enable', 'Rotate secret', 'Send test',
  'Delete endpoint', 'Retry delivery', 'Replay'];
const READ_BUTTONS = ['Refresh', 'Previous page', 'Next page'];

const LOGO_URL = 'https://logo.example/acme.svg';
const LOGO_SVG = '<svg xmlns="http://www.w3.org/2000/svg" width="64" height="32"><rect width="64" height="32" rx="6" fill="#fff"/>'
  + '<path d="M10 27 L21 5 L32 27 Z M37 27 V5 H46 a8 8 0 0 1 0 16 H42 V27 Z" fill="#aa3300"/></svg>';

// Chromium logs each refused request as a console error: these are the ones the tests provoke.
const refused = (status, what) => new RegExp(`status of ${status} \\(.*\\) at http://127\\.0\\.0\\.1:\\d+/v1/${what}`);
const EXPIRED = [refused(401, 'portal/(exchange|session)$'), refused(401, 'endpoints')];

describe('customer portal', () => {
  let stack, server, rx, orgA, keyA, keyB, a1, a2, b1, deliveryA, deliveryB;

  async function mint(body = {}) {
    const res = await api(server, 'POST', `/v1/orgs/${orgA.id}/portal-sessions`, { key: server.adminKey, body });
    assert.equal(res.status, 201, res.text);
    return res.json;
  }

  // A new browser context on the link; resolves when the page has settled on a heading.
  async function openPortal(url, opts) {
    const page = await openDashboard(stack.browser, server, { path: url, ...opts });
    await page.locator('main h1').waitFor();
    return page;
  }

  async function assertEnded(page) {
    await page.locator('main h1', { hasText: 'This link has expired' }).waitFor();
    await page.getByText('This link has expired or was already used; ask for a new one.').waitFor();
    assert.equal(await page.locator('#nav a, #nav button').count(), 0, 'no navigation');
    assert.equal(await page.locator('main table, main form, main input').count(), 0, 'nothing else');
    assert.equal(await page.evaluate(() => sessionStorage.getItem('hookd.portal')), null, 'the session is forgotten');
  }

  before(async () => {
    stack = await startStack({
      args: ['--no-ping', '--allow-http', '--allow-private'],
      receiver: { fallback: { status: 200, body: 'received by A' } },
    });
    ({ server, rx } = stack);
    let org;
    ({ org, key: keyA } = await createOrgWithKey(server));
    orgA = org;
    ({ key: keyB } = await createOrgWithKey(server));
    const endpoint = async (key, name) =>
      (await api(server, 'POST', '/v1/endpoints', { key, body: { url: rx.url(`/${name.replace(/ /g, '-')}`), name } })).json;
    a1 = await endpoint(keyA, 'A orders');
    a2 = await endpoint(keyA, 'A invoices');
    b1 = await endpoint(keyB, 'B private hooks');
    const test = async (key, ep) => (await api(server, 'POST', `/v1/endpoints/${ep.id}/test`, { key, body: {} })).json.delivery_id;
    deliveryA = await test(keyA, a1);
    deliveryB = await test(keyB, b1);
    await waitDelivery(server, keyA, deliveryA, 'delivered');
    await waitDelivery(server, keyB, deliveryB, 'delivered');
  });

  after(() => stack?.stop());

  it("opens from a one-time link, takes the token out of the URL and the history, and lists only its org's endpoints", async (t) => {
    const link = await mint();
    const started = Date.now();
    const page = await openPortal(link.url);
    await page.getByRole('row', { name: /A orders/ }).waitFor();
    t.diagnostic(`link opened and exchanged, endpoints listed in ${Date.now() - started} ms`);
    assert.ok(!page.url().includes(link.token), `the token is not in the address bar: ${page.url()}`);
    const cdp = await page.context().newCDPSession(page);
    const { entries } = await cdp.send('Page.getNavigationHistory');
    assert.ok(entries.length >= 1);
    for (const e of entries) assert.ok(!e.url.includes('token'), `the token is not in the history: ${e.url}`);
    assert.ok((await page.evaluate(() => sessionStorage.getItem('hookd.portal'))).startsWith('ps_'));
    assert.equal(await page.evaluate(() => sessionStorage.getItem('hookd.key')), null, 'not a dashboard key');
    assert.equal(await page.evaluate(() => localStorage.length), 0);
    assert.deepEqual(await page.context().cookies(), []);

    await page.getByRole('row', { name: /A invoices/ }).waitFor();
    assert.equal(await page.locator('main tbody tr').count(), 2, "A's two endpoints");
    assert.equal(await page.getByText('B private hooks').count(), 0, "none of B's");
    // no sign-in, no org pages: the navigation has the endpoints only
    assert.equal(await page.getByLabel('API key').count(), 0);
    assert.equal(await page.getByRole('button', { name: 'Sign out' }).count(), 0);
    assert.deepEqual(await page.locator('#nav a').allTextContents(), ['Endpoints']);
    assert.equal((await page.locator('.brand').textContent()).trim(), orgA.name, 'unbranded: the org name');
    assert.equal(await page.title(), `Endpoints · ${orgA.name}`);
    // a full session may add an endpoint; it is A's
    await page.getByRole('button', { name: 'Create endpoint' }).waitFor();
    await assertAccessible(page, "the portal's endpoints page");
    // a reload keeps the session (GET /v1/portal/session), without the token
    await page.reload();
    await page.getByRole('row', { name: /A orders/ }).waitFor();
    assertNoProblems(page);
  });

  it('is minted from the dashboard: the settings page makes a link that opens the portal', async () => {
    const dash = await openDashboard(stack.browser, server);
    await signIn(dash, keyA);
    await go(dash, '#/settings', 'Settings');
    await dash.getByLabel('Endpoint ids').fill(a2.id);
    await dash.getByLabel('Read-only').check();
    await dash.getByRole('button', { name: 'Create portal link' }).click();
    const box = dash.getByRole('group', { name: 'Portal link' });
    await box.waitFor();
    const url = (await box.locator('code').textContent()).trim();
    assert.match(url, /\/portal#token=ps_/);
    assertNoProblems(dash);
    await dash.context().close();
    const page = await openPortal(new URL(url).pathname + new URL(url).hash);
    await page.getByRole('row', { name: /A invoices/ }).waitFor();
    assert.equal(await page.getByRole('row', { name: /A orders/ }).count(), 0, 'only the given endpoint');
    assert.equal(await page.getByRole('button', { name: 'Create endpoint' }).count(), 0, 'read-only');
    assertNoProblems(page);
    await page.context().close();
  });

  it("shows a not-found message, and none of its data, for another org's endpoint or delivery typed into the URL", async () => {
    const page = await openPortal((await mint()).url);
    for (const hash of [`#/endpoints/${b1.id}`, `#/deliveries/${deliveryB}`]) {
      await go(page, hash, 'Not found');
      await page.getByText('Nothing here has that id.').waitFor();
      const text = await page.locator('main').textContent();
      for (const secret of ['B private hooks', b1.url, deliveryB]) assert.ok(!text.includes(secret), `${hash} shows ${secret}`);
    }
    // the dashboard's other pages are not the portal's
    for (const hash of ['#/settings', '#/sources', '#/events', '#/event-types', '#/orgs']) {
      await go(page, hash, 'Not found');
      await page.getByText('No such page.').waitFor();
    }
    await assertAccessible(page, "the portal's not-found page");
    assertNoProblems(page, [refused(404, `(endpoints/${b1.id}|deliveries/${deliveryB})`)]);
  });

  it("clicks through an endpoint's delivery log into a delivery's attempts and response body", async () => {
    const page = await openPortal((await mint()).url);
    await page.getByRole('link', { name: 'A orders' }).click();
    await page.locator('main h1', { hasText: 'A orders' }).waitFor();
    await page.getByText(/Delivered 1, failed 0/).waitFor(); // the endpoint's stats
    const row = page.getByRole('row', { name: new RegExp(deliveryA) });
    await row.getByText('delivered').waitFor();
    await assertAccessible(page, "the portal's endpoint page");
    await row.getByRole('link', { name: deliveryA }).click();
    await page.locator('main h1', { hasText: `Delivery ${deliveryA}` }).waitFor();
    await page.getByText('Attempt 1: HTTP 200').click();
    const body = page.getByLabel('Response body of attempt 1');
    assert.equal(await body.textContent(), 'received by A');
    assert.equal(await page.getByRole('link', { name: 'Event' }).count(), 0, 'no events page in the portal');
    await assertAccessible(page, "the portal's delivery page");
    await page.getByRole('link', { name: '← Endpoint' }).click();
    await page.locator('main h1', { hasText: 'A orders' }).waitFor();
    assertNoProblems(page);
  });

  it('refuses a link the second time (in a new browser context)', async () => {
    const link = await mint();
    const first = await openPortal(link.url);
    await first.getByRole('row', { name: /A orders/ }).waitFor();
    const second = await openPortal(link.url);
    await assertEnded(second);
    assert.ok(!second.url().includes(link.token));
    assert.equal(await second.title(), 'This link has expired · Webhooks');
    await assertAccessible(second, "the portal's expired page");
    assertNoProblems(first);
    assertNoProblems(second, EXPIRED);
  });

  it('refuses an expired link', async () => {
    const link = await mint({ expires_in: 1 });
    await sleep(1500);
    const page = await openPortal(link.url);
    await assertEnded(page);
    assertNoProblems(page, EXPIRED);
  });

  it('refuses a revoked session on the next navigation, and on a reload; a new link starts again', async () => {
    const revoke = async (link) => {
      const res = await api(server, 'DELETE', `/v1/portal-sessions/${link.id}?org_id=${orgA.id}`, { key: server.adminKey });
      assert.equal(res.status, 200, res.text);
    };
    const navigated = await mint();
    let page = await openPortal(navigated.url);
    await page.getByRole('row', { name: /A orders/ }).waitFor();
    await revoke(navigated);
    await page.getByRole('link', { name: 'A orders' }).click();
    await assertEnded(page);
    assertNoProblems(page, EXPIRED);

    const reloaded = await mint();
    page = await openPortal(reloaded.url);
    await page.getByRole('row', { name: /A orders/ }).waitFor();
    await revoke(reloaded);
    await page.reload();
    await assertEnded(page);
    // a new link opened in the same tab (only the hash changes) starts a new session
    const fresh = await mint();
    await page.goto(server.url + fresh.url);
    await page.getByRole('row', { name: /A orders/ }).waitFor();
    assert.ok(!page.url().includes(fresh.token));
    assertNoProblems(page, EXPIRED);
  });

  it('shows a read-only session no write button at all, and every read still works', async () => {
    const page = await openPortal((await mint({ read_only: true })).url);
    await page.getByRole('row', { name: /A orders/ }).waitFor();
    await page.getByText('Read-only access').waitFor();
    const assertNoWrites = async (where) => {
      for (const name of WRITE_BUTTONS) {
        assert.equal(await page.getByRole('button', { name, exact: true }).count(), 0, `no ${name} button on ${where}`);
      }
      const names = (await page.locator('main button').allTextContents()).map((n) => n.trim());
      assert.deepEqual(names.filter((n) => !READ_BUTTONS.includes(n)), [], `only reading buttons on ${where}`);
      assert.equal(await page.locator('main form').count(), 0, `no form on ${where}`);
    };
    await assertNoWrites('the endpoints page');
    await page.getByRole('link', { name: 'A orders' }).click();
    await page.locator('main h1', { hasText: 'A orders' }).waitFor();
    const row = page.getByRole('row', { name: new RegExp(deliveryA) });
    await row.waitFor();
    await page.getByRole('button', { name: 'Refresh' }).click();
    await row.waitFor();
    await assertNoWrites('the endpoint page');
    await row.getByRole('link', { name: deliveryA }).click();
    await page.locator('main h1', { hasText: `Delivery ${deliveryA}` }).waitFor();
    await page.getByText('Attempt 1: HTTP 200').click();
    assert.equal(await page.getByLabel('Response body of attempt 1').textContent(), 'received by A');
    await assertNoWrites('the delivery page');
    assertNoProblems(page);
  });

  it('limits a session with endpoint_ids to those endpoints, without the create button', async () => {
    const page = await openPortal((await mint({ endpoint_ids: [a1.id] })).url);
    await page.getByRole('row', { name: /A orders/ }).waitFor();
    assert.equal(await page.locator('main tbody tr').count(), 1);
    assert.equal(await page.getByText('A invoices').count(), 0);
    assert.equal(await page.getByRole('button', { name: 'Create endpoint' }).count(), 0);
    await go(page, `#/endpoints/${a2.id}`, 'Not found');
    await go(page, `#/endpoints/${a1.id}`, 'A orders');
    await page.getByRole('button', { name: 'Disable' }).waitFor(); // not read-only: its own endpoint's actions stay
    assertNoProblems(page, [refused(404, `endpoints/${a2.id}$`)]);
  });

  it("is branded with the org's portal name, logo and accent colour", async () => {
    const portal = { name: 'Acme Webhooks', logo_url: LOGO_URL, accent_color: '#aa3300' };
    const res = await api(server, 'PATCH', '/v1/org', { key: keyA, body: { portal } });
    assert.equal(res.status, 200, res.text);
    // the logo's host is not on this machine: the browser is answered a picture instead
    const prepare = (context) => context.route(LOGO_URL, (route) => route.fulfill({ contentType: 'image/svg+xml', body: LOGO_SVG }));
    const page = await openPortal((await mint({ read_only: true })).url, { prepare });
    await page.getByRole('row', { name: /A orders/ }).waitFor();
    assert.equal((await page.locator('.brand').textContent()).trim(), 'Acme Webhooks');
    assert.equal(await page.title(), 'Endpoints · Acme Webhooks');
    const logo = page.getByRole('img', { name: 'Acme Webhooks logo' });
    assert.equal(await logo.getAttribute('src'), LOGO_URL);
    await page.waitForFunction(() => document.querySelector('.brand img').naturalWidth > 0);
    const colours = await page.evaluate(() => ({
      header: getComputedStyle(document.querySelector('header.top')).backgroundColor,
      link: getComputedStyle(document.querySelector('main tbody a')).color,
      accent: document.documentElement.style.getPropertyValue('--accent'),
    }));
    assert.deepEqual(colours, { header: 'rgb(170, 51, 0)', link: 'rgb(170, 51, 0)', accent: '#aa3300' });
    await go(page, `#/endpoints/${a1.id}`, 'A orders');
    await page.getByRole('row', { name: new RegExp(deliveryA) }).waitFor();
    await page.getByText(/Delivered 1, failed 0/).waitFor();
    await screenshot(page, 'portal');
    await assertAccessible(page, 'a branded portal page');
    assertNoProblems(page);
  });
});
