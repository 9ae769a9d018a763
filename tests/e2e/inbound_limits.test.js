// Inbound requests over the body limit are answered 413 and still recorded (§2.7: every request
// received on a source, accepted or not, is in its message log).
'use strict';

const { describe, it, before, after } = require('node:test');
const assert = require('node:assert/strict');
const { startHookd, checkResponse, createOrgWithKey } = require('./lib/hookd');
const { sendIn, createSource, messages } = require('./lib/inbound');

describe('inbound: the size limit', () => {
  let server;
  let key;
  before(async () => {
    server = await startHookd({ args: ['--max-body', '2048', '--rate-limit', '0'] });
    ({ key } = await createOrgWithKey(server));
  });
  after(async () => {
    await server?.cleanup();
  });

  it('a body over --max-body is answered 413 and recorded as rejected, without its bytes', async () => {
    const source = await createSource(server, key, { name: 'big', verification: { scheme: 'none' } });
    const res = await sendIn(server, source.id, JSON.stringify({ pad: 'x'.repeat(5000) }));
    assert.equal(res.status, 413);
    assert.equal(res.json.error, 'payload_too_large');
    const log = await messages(server, key, source.id);
    assert.equal(log.data.length, 1);
    assert.equal(log.data[0].status, 'rejected');
    assert.equal(log.data[0].reason, 'payload_too_large');
    assert.equal(log.data[0].http_status, 413);
    assert.equal(log.data[0].event_id, null);
  });

  it('an over-limit body on an unknown source is still 404, and nothing is recorded', async () => {
    const res = await sendIn(server, 'src_01M86E54AHTMNQ30RC1DBC4H3Z', 'y'.repeat(5000));
    assert.equal(res.status, 404);
  });

  it('an over-limit body on the API is a plain 413', async () => {
    const res = await fetch(`${server.url}/v1/events`, {
      method: 'POST',
      headers: { Authorization: `Bearer ${key}`, 'Content-Type': 'application/json' },
      body: JSON.stringify({ type: 'a.b', data: { pad: 'x'.repeat(5000) } }),
    });
    const { json } = await checkResponse('POST', '/v1/events', res);
    assert.equal(res.status, 413);
    assert.equal(json.error, 'payload_too_large');
  });
});
