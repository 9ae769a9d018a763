'use strict';
// §2.5 the envelope carries the producer's `data` as written, made compact: numbers keep their
// spelling (0.1 is not sent as 0.10000000000000001, 1e2 not as 100.0), keys their order,
// strings their escapes and spaces, and the signature covers exactly those bytes.

const { it } = require('node:test');
const assert = require('node:assert/strict');
const { api } = require('./lib/hookd');
const { pipelineFixture, createEndpoint, uniqueType, signStandard, standardSignatures } = require('./lib/pipeline');

it("the delivered envelope holds the producer's data bytes as sent, and is signed over them", async (t) => {
  const { server, rx, key } = await pipelineFixture(t);
  const ep = await createEndpoint(server, key, { url: rx.url('/bytes') });
  const type = uniqueType('bytes');
  const data = '{ "amount" : 0.1, "big": 1e2, "z": 1, "a": "caf\\u00e9 \\"q\\"", "nested": [ 1.50 , {"k":null} ] }';
  const compact = '{"amount":0.1,"big":1e2,"z":1,"a":"caf\\u00e9 \\"q\\"","nested":[1.50,{"k":null}]}';
  const body = `{"type": "${type}", "data": ${data}, "endpoint_ids": ["${ep.id}"]}`;
  const res = await api(server, 'POST', '/v1/events', { key, body, headers: { 'Content-Type': 'application/json' } });
  assert.equal(res.status, 202, res.text);
  const [got] = await rx.waitFor((l) => l.length >= 1, { what: 'the delivery' });
  assert.ok(got.text.endsWith(`"data":${compact}}`), `the envelope ends with the data as sent, compact: ${got.text}`);
  const envelope = JSON.parse(got.text);
  assert.equal(envelope.data.amount, 0.1);
  assert.deepEqual(Object.keys(envelope.data), ['amount', 'big', 'z', 'a', 'nested']);
  const sigs = standardSignatures(got.headers['webhook-signature']);
  const expected = signStandard(ep.secret, got.headers['webhook-id'], got.headers['webhook-timestamp'], got.body);
  assert.ok(sigs.includes(expected), 'the signature covers the bytes as delivered');
  // and the stored event reads back the same
  const ev = await api(server, 'GET', `/v1/events/${res.json.id}`, { key });
  assert.equal(ev.json.payload.data.big, 100);
  assert.equal(ev.json.payload.data.a, 'café "q"');
});
