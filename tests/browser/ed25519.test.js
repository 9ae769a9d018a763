'use strict';
// The dashboard and ed25519 endpoints (issue 17): created through the form with the ed25519
// scheme, the page shows its whpk_ public key (not a secret), the receiver's ping verifies with
// that key in Node, and a rotation shows the new key beside the previous one.

const { describe, it, before, after } = require('node:test');
const assert = require('node:assert/strict');
const { api, createOrgWithKey } = require('../e2e/lib/hookd');
const { verifiesV1a, v1aSignatures } = require('../e2e/lib/pipeline');
const { startStack, assertNoProblems, signIn, assertAccessible } = require('./lib');

// The request carries a v1a entry that whpk verifies (Node's crypto.verify).
function nodeVerifies(whpk, req) {
  return v1aSignatures(req.headers['webhook-signature']).some((s) => verifiesV1a(whpk, req, s));
}

describe('dashboard: ed25519 endpoints', () => {
  let stack, server, rx, page, key, publicKey;

  before(async () => {
    stack = await startStack({ args: ['--allow-http', '--allow-private'], receiver: {} });
    ({ server, rx, page } = stack);
    ({ key } = await createOrgWithKey(server));
    await signIn(page, key);
    await page.locator('main h1', { hasText: 'Endpoints' }).waitFor();
  });

  after(() => stack?.stop());

  it('creates an ed25519 endpoint through the form and shows its whpk_ public key', async () => {
    await page.getByLabel('URL').fill(rx.url('/ed'));
    await page.getByLabel('Name', { exact: true }).fill('Ed receiver');
    await page.getByLabel('Signature scheme').selectOption('ed25519');
    await page.getByRole('button', { name: 'Create endpoint' }).click();
    const box = page.getByRole('group', { name: /Public key of Ed receiver/ });
    await box.waitFor();
    publicKey = (await box.locator('code').textContent()).trim();
    assert.match(publicKey, /^whpk_[A-Za-z0-9+/]{43}=$/);
    assert.equal(await page.getByRole('group', { name: /Signing secret/ }).count(), 0, 'no secret shown');
    const list = await api(server, 'GET', '/v1/endpoints', { key });
    assert.equal(list.json.data[0].signature_scheme, 'ed25519');
    assert.equal(list.json.data[0].public_key, publicKey);
    const ping = rx.pings()[0];
    assert.ok(ping, 'hookd pinged the receiver');
    assert.ok(nodeVerifies(publicKey, ping), 'the ping verifies with the key the page shows');
    await assertAccessible(page, 'the endpoints page with a public key');
  });

  it("the endpoint's page shows the key; a rotation shows the new one and the previous", async () => {
    await page.getByRole('link', { name: 'Open Ed receiver' }).click();
    await page.locator('main h1', { hasText: 'Ed receiver' }).waitFor();
    const facts = page.locator('main [data-public-key]');
    assert.equal((await facts.first().textContent()).trim(), publicKey);
    await page.getByRole('button', { name: 'Rotate secret' }).click();
    const box = page.getByRole('group', { name: /New public key/ });
    await box.waitFor();
    const fresh = (await box.locator('code').textContent()).trim();
    assert.match(fresh, /^whpk_/);
    assert.notEqual(fresh, publicKey);
    await page.getByText(`${publicKey} (signs too until the grace period ends)`).waitFor();
    assertNoProblems(page);
  });
});
