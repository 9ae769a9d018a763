'use strict';
// GET /openapi.json (§2.8, issue 15): the server serves src/api/openapi.json byte for byte, the
// document is valid OpenAPI 3.1, and the check every black-box test's answers go through
// (lib/openapi.js) refuses what drifts from it.

const { describe, it, before, after } = require('node:test');
const assert = require('node:assert/strict');
const fs = require('node:fs');
const { startHookd, api, checkResponse, createOrgWithKey } = require('./lib/hookd');
const { DOCUMENT_PATH, checkAnswer, checkAnswerAsync, matchTemplate, operations } = require('./lib/openapi');

describe('GET /openapi.json', () => {
  let server;
  before(async () => {
    server = await startHookd();
  });
  after(() => server && server.cleanup());

  it('serves src/api/openapi.json unchanged, as JSON, without a key', async () => {
    const res = await fetch(`${server.url}/openapi.json`);
    assert.equal(res.status, 200);
    assert.equal(res.headers.get('content-type'), 'application/json');
    const served = Buffer.from(await res.arrayBuffer());
    assert.ok(served.equals(fs.readFileSync(DOCUMENT_PATH)), 'the served bytes are the file');
    assert.equal(JSON.parse(served.toString('utf8')).openapi, '3.1.0');
  });

  it('is a valid OpenAPI 3.1 document', async () => {
    const { Validator } = await import('@seriousme/openapi-schema-validator');
    const validator = new Validator();
    const res = await api(server, 'GET', '/openapi.json');
    const result = await validator.validate(res.json);
    assert.equal(validator.version, '3.1');
    assert.deepEqual(result, { valid: true }, JSON.stringify(result.errors, null, 2));
  });

  it('documents the dashboard\'s answers too (GET / and /assets/{name})', async () => {
    const page = await api(server, 'GET', '/');
    assert.equal(page.status, 200);
    assert.match(page.headers.get('content-type'), /^text\/html/);
    const script = await api(server, 'GET', '/assets/app.js');
    assert.equal(script.status, 200);
    assert.equal((await api(server, 'GET', '/assets/nope.js')).status, 404);
  });

  it('lists the statuses of every operation, the HTTP layer errors included, with no catch-all', () => {
    const doc = JSON.parse(fs.readFileSync(DOCUMENT_PATH, 'utf8'));
    const ops = operations();
    assert.ok(ops.length >= 46, `${ops.length} operations`);
    for (const op of ops) {
      const [method, template] = op.split(' ');
      const responses = doc.paths[template][method.toLowerCase()].responses;
      assert.ok(!('default' in responses), `${op}: every status is listed, none left to default`);
      for (const status of ['400', '413', '415', '431', '500']) {
        assert.ok(responses[status], `${op} documents ${status}`);
      }
    }
  });
});

describe('the answers check (lib/openapi.js)', () => {
  let server;
  let key;
  before(async () => {
    server = await startHookd();
    ({ key } = await createOrgWithKey(server));
  });
  after(() => server && server.cleanup());

  const answer = (status, body, contentType = 'application/json') => ({
    status,
    contentType,
    text: typeof body === 'string' ? body : JSON.stringify(body),
  });

  it('matches literal paths before templates and ignores the query', () => {
    assert.equal(matchTemplate('/v1/org'), '/v1/org');
    assert.equal(matchTemplate('/v1/orgs/org_1/api-keys'), '/v1/orgs/{id}/api-keys');
    assert.equal(matchTemplate('/v1/endpoints/ep_1/stats'), '/v1/endpoints/{id}/stats');
    assert.equal(matchTemplate('/v1/orgs/'), null);
    assert.equal(matchTemplate('/nowhere'), null);
  });

  it('accepts real answers and refuses an unknown field in them', async () => {
    const res = await api(server, 'GET', '/v1/org', { key });
    assert.equal(res.status, 200);
    const drifted = { ...res.json, surprise: true };
    assert.throws(() => checkAnswer('GET', '/v1/org', answer(200, drifted)), /surprise|unevaluated/);
    const { id, ...missing } = res.json;
    assert.ok(id);
    assert.throws(() => checkAnswer('GET', '/v1/org', answer(200, missing)), /required/);
  });

  it('refuses drift on the checker thread that api() uses too', async () => {
    const res = await api(server, 'GET', '/v1/org', { key });
    await checkAnswerAsync('GET', '/v1/org', answer(200, res.json));
    await assert.rejects(checkAnswerAsync('GET', '/v1/org', answer(200, { ...res.json, surprise: 1 })), /openapi: GET \/v1\/org/);
    await assert.rejects(checkAnswerAsync('GET', '/v1/org', answer(418, {})), /418 is not documented/);
  });

  it('refuses a status the operation does not document', () => {
    assert.throws(
      () => checkAnswer('GET', '/v1/orgs?limit=1', answer(201, { data: [], next_cursor: null })),
      /201 is not documented for GET \/v1\/orgs/,
    );
    assert.throws(() => checkAnswer('GET', '/healthz', answer(404, { error: 'not_found', message: 'x' })),
      /404 is not documented/);
  });

  it('refuses an error that is not the Error JSON, and another content type', () => {
    assert.throws(
      () => checkAnswer('GET', '/v1/orgs', answer(401, { error: 'unauthorized' })),
      /required/,
    );
    assert.throws(
      () => checkAnswer('GET', '/v1/orgs', answer(401, { error: 'forbidden', message: 'x' })),
      /const|allowed/,
    );
    assert.throws(() => checkAnswer('GET', '/healthz', answer(200, 'ok', 'text/plain')), /Content-Type/);
  });

  it('refuses a 429 without Retry-After', () => {
    const limited = { error: 'rate_limited', message: 'x' };
    assert.throws(() => checkAnswer('GET', '/v1/org', answer(429, limited)), /Retry-After header is missing/);
    checkAnswer('GET', '/v1/org', { ...answer(429, limited), headers: { 'retry-after': '1' } });
    assert.throws(
      () => checkAnswer('GET', '/v1/org', { ...answer(429, limited), headers: { 'retry-after': 'soon' } }),
      /not an integer/,
    );
  });

  it('holds unrouted answers to 404 and 405 with the Error JSON', async () => {
    const unknown = await api(server, 'GET', '/nowhere', { key });
    assert.equal(unknown.status, 404);
    const wrongMethod = await checkResponse('PUT', '/v1/org', await fetch(`${server.url}/v1/org`, { method: 'PUT' }));
    assert.equal(wrongMethod.status, 405);
    assert.throws(() => checkAnswer('PUT', '/v1/org', answer(200, {})), /expected 405/);
    assert.throws(() => checkAnswer('GET', '/nowhere', answer(404, { status: 'ok' })), /required/);
  });
});
