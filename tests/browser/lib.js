'use strict';
// The browser tests' harness: headless Debian chromium driven by playwright-core, a page that
// records every console error, page error and CSP violation, sign-in, and an axe-core check.

const fs = require('node:fs');
const http = require('node:http');
const path = require('node:path');
const assert = require('node:assert/strict');
const { chromium } = require('playwright-core');

const CHROMIUM = process.env.CHROMIUM || '/usr/bin/chromium';
const AXE_SOURCE = fs.readFileSync(require.resolve('axe-core/axe.min.js'), 'utf8');
// make browser writes them under build/ (so that a test run leaves the tree clean);
// make screenshots refreshes the README's copies in docs/screenshots
const SCREENSHOTS = path.resolve(process.env.SCREENSHOTS_DIR || path.join(__dirname, '..', '..', 'build', 'screenshots'));

async function launch() {
  return chromium.launch({ executablePath: CHROMIUM, args: ['--no-sandbox'] });
}

/**
 * A new page, in a browser context of its own, on the dashboard of server (not signed in), or on
 * path (the portal's /portal#token=...); prepare(context) runs before the page opens (to route
 * a request). page.problems lists what went wrong in it: console errors (CSP violations are
 * reported there too), uncaught errors, and securitypolicyviolation events.
 */
async function openDashboard(browser, server, { path: where = '/', prepare } = {}) {
  const context = await browser.newContext({ viewport: { width: 1280, height: 900 } });
  if (prepare) await prepare(context);
  const page = await context.newPage();
  page.problems = [];
  page.on('console', (msg) => {
    if (msg.type() === 'error') page.problems.push(`console: ${msg.text()} at ${msg.location().url}`);
  });
  page.on('pageerror', (err) => page.problems.push(`pageerror: ${err.message}`));
  await page.addInitScript(() => {
    document.addEventListener('securitypolicyviolation', (e) => {
      console.error(`CSP violation: ${e.violatedDirective} ${e.blockedURI}`);
    });
  });
  await page.goto(server.url + where);
  return page;
}

/**
 * What a test file runs against: a hookd (args), a receiver when given its options, chromium and
 * a page on the dashboard. stop() ends them all, in reverse.
 */
async function startStack({ args = [], receiver } = {}) {
  const { startHookd } = require('../e2e/lib/hookd');
  const { startReceiver } = require('../e2e/lib/receiver');
  const stack = {};
  stack.stop = async () => {
    await stack.browser?.close();
    await stack.rx?.close();
    await stack.server?.cleanup();
  };
  stack.server = await startHookd({ args });
  if (receiver) stack.rx = await startReceiver(receiver);
  stack.browser = await launch();
  stack.page = await openDashboard(stack.browser, stack.server);
  return stack;
}

/** Expected API errors (a 409 the test provokes) are logged by chromium too: filter by text. */
function assertNoProblems(page, allow = []) {
  const left = page.problems.filter((p) => !allow.some((re) => re.test(p)));
  assert.deepEqual(left, [], 'console errors, page errors or CSP violations');
}

async function signIn(page, key) {
  await page.getByLabel('API key').fill(key);
  await page.getByRole('button', { name: 'Sign in' }).click();
  await page.getByRole('button', { name: 'Sign out' }).waitFor();
}

/** Goes to a hash route and waits for its heading (which has the focus). */
async function go(page, hash, headingText) {
  await page.evaluate((h) => {
    location.hash = h;
  }, hash);
  const h1 = page.locator('main h1');
  if (headingText) await h1.filter({ hasText: headingText }).waitFor();
  else await h1.waitFor();
  return h1;
}

/** Runs axe-core on the page (evaluated through the debugger protocol: the page's CSP stays on). */
async function assertAccessible(page, what) {
  await page.evaluate(AXE_SOURCE);
  const violations = await page.evaluate(async () => {
    // eslint-disable-next-line no-undef
    const r = await axe.run(document, { resultTypes: ['violations'] });
    return r.violations.map((v) => ({ id: v.id, impact: v.impact, nodes: v.nodes.map((n) => n.target.join(' ')).slice(0, 3) }));
  });
  const bad = violations.filter((v) => v.impact === 'serious' || v.impact === 'critical');
  assert.deepEqual(bad, [], `axe: serious or critical violations on ${what}`);
}

async function screenshot(page, name) {
  fs.mkdirSync(SCREENSHOTS, { recursive: true });
  await page.screenshot({ path: path.join(SCREENSHOTS, `${name}.png`), fullPage: true });
}

/**
 * POSTs count events (type, data {i}) on kept-alive connections, `limit` at a time: node:http
 * with an agent costs a fraction of fetch's CPU, which matters for 10,000 of them.
 */
async function postEvents(server, key, count, limit = 64, type = 'load.test') {
  const agent = new http.Agent({ keepAlive: true, maxSockets: limit });
  const post = (i) => new Promise((resolve, reject) => {
    const body = JSON.stringify({ type, data: { i } });
    const req = http.request({
      host: '127.0.0.1', port: server.port, path: '/v1/events', method: 'POST', agent,
      headers: { Authorization: `Bearer ${key}`, 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(body) },
    }, (res) => {
      res.resume();
      res.on('end', () => (res.statusCode === 202 ? resolve() : reject(new Error(`event ${i}: HTTP ${res.statusCode}`))));
    });
    req.on('error', reject);
    req.end(body);
  });
  try {
    await parallel(count, limit, post);
  } finally {
    agent.destroy();
  }
}

/** Runs fn(i) for i in [0, n) with at most `limit` running at once. */
async function parallel(n, limit, fn) {
  let next = 0;
  const worker = async () => {
    while (next < n) {
      const i = next++;
      await fn(i);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, n) }, worker));
}

module.exports = { startStack, openDashboard, assertNoProblems, signIn, go, assertAccessible, screenshot, postEvents };
