'use strict';
// The OpenAPI document (src/api/openapi.json) as the black-box tests' contract: every answer a
// test gets from hookd is checked against the schema of its method, path template and status.
// An answer whose status the operation does not document fails as a mismatch does.

const fs = require('node:fs');
const path = require('node:path');
const { Worker, isMainThread, parentPort, workerData } = require('node:worker_threads');
const Ajv2020 = require('ajv/dist/2020');
const addFormats = require('ajv-formats');

const DOCUMENT_PATH = path.resolve(__dirname, '..', '..', '..', 'src', 'api', 'openapi.json');
const DOCUMENT_ID = 'hookd-openapi.json';
const METHODS = ['get', 'put', 'post', 'delete', 'patch'];

let state = null;

// Each response schema is compiled when first needed: compiling all of them up front would cost
// every test file most of a second, and a file calls a few operations only.
function load() {
  if (state) return state;
  const document = JSON.parse(fs.readFileSync(DOCUMENT_PATH, 'utf8'));
  // strict off: the document's own keywords (openapi, paths, ...) are not JSON Schema's
  const ajv = new Ajv2020({ strict: false });
  addFormats(ajv);
  // not validated as a JSON Schema here: openapi.test.js validates it as an OpenAPI document
  ajv.addSchema({ ...document, $id: DOCUMENT_ID }, undefined, undefined, false);
  const templates = Object.keys(document.paths).map((template) => ({
    template,
    segments: template.split('/'),
    literal: !template.includes('{'),
  }));
  // a literal path wins over a template that also matches it
  templates.sort((a, b) => Number(b.literal) - Number(a.literal));
  state = { document, ajv, templates, validators: new Map() };
  return state;
}

function pointer(parts) {
  return '#/' + parts.map((p) => encodeURIComponent(p.replace(/~/g, '~0').replace(/\//g, '~1'))).join('/');
}

// The template of the document's paths that urlPath (without its query) matches, or null.
function matchTemplate(urlPath) {
  const segments = urlPath.split('/');
  for (const t of load().templates) {
    if (t.segments.length !== segments.length) continue;
    const fits = t.segments.every((s, i) =>
      s.startsWith('{') && s.endsWith('}') ? segments[i] !== '' : s === segments[i],
    );
    if (fits) return t.template;
  }
  return null;
}

function validatorAt(parts) {
  const { ajv, validators } = load();
  const ref = DOCUMENT_ID + pointer(parts);
  if (!validators.has(ref)) validators.set(ref, ajv.compile({ $ref: ref }));
  return validators.get(ref);
}

function mediaType(contentType) {
  return (contentType || '').split(';')[0].trim().toLowerCase();
}

function describe(method, urlPath, status, text) {
  const shown = text.length > 600 ? `${text.slice(0, 600)}…` : text;
  return `${method} ${urlPath} answered ${status}: ${shown}`;
}

// A required header of the response must be there, and an integer one must be a number.
function checkHeaders(response, res, where) {
  const { document } = load();
  for (const [name, declared] of Object.entries(response.headers || {})) {
    const header = declared.$ref ? declared.$ref.slice(2).split('/').reduce((o, p) => o[p], document) : declared;
    const value = (res.headers || {})[name.toLowerCase()];
    if (value === undefined) {
      if (header.required) throw new Error(`openapi: ${where}\n  the ${name} header is missing`);
      continue;
    }
    if (header.schema && header.schema.type === 'integer' && !/^\d+$/.test(value)) {
      throw new Error(`openapi: ${where}\n  ${name}: ${value} is not an integer`);
    }
  }
}

// Checks the body against the response object found at parts (a pointer into the document).
function checkBody(parts, response, res, where) {
  checkHeaders(response, res, where);
  const content = response.content;
  if (!content) {
    if (res.text !== '') throw new Error(`openapi: ${where}\n  the document gives this answer no body`);
    return;
  }
  const type = mediaType(res.contentType);
  const documented = Object.keys(content).find((t) => mediaType(t) === type);
  if (documented === undefined) {
    throw new Error(
      `openapi: ${where}\n  Content-Type ${res.contentType} is not one of ${Object.keys(content).join(', ')}`,
    );
  }
  if (!content[documented].schema) return;
  let body = res.text;
  if (type === 'application/json') {
    try {
      body = JSON.parse(res.text);
    } catch {
      throw new Error(`openapi: ${where}\n  the body is not JSON`);
    }
  }
  const validate = validatorAt([...parts, 'content', documented, 'schema']);
  if (!validate(body)) {
    const errors = validate.errors
      .slice(0, 8)
      .map((e) => `${e.instancePath || '(body)'} ${e.message} ${JSON.stringify(e.params)}`)
      .join('\n  ');
    throw new Error(`openapi: ${where}\n  does not fit ${pointer(parts)}:\n  ${errors}`);
  }
}

/**
 * Throws when an answer of hookd does not fit the document: res is {status, contentType, text,
 * headers (an object of lower-case names; optional)} as received for method and urlPath (the query, if any, is ignored). Answers with no operation
 * (an unknown path: 404, a method the path does not take: 405) must be the Error JSON.
 * opts.role: the server's --role; a worker answers 404 for the API's routes.
 * With HOOKD_OPENAPI_COVERAGE=FILE, each checked answer appends "METHOD template status" to FILE.
 */
function checkAnswer(method, urlPath, res, opts = {}) {
  const { document } = load();
  const pathOnly = urlPath.split('?')[0];
  const where = describe(method, urlPath, res.status, res.text);
  const template = matchTemplate(pathOnly);
  const op = template && document.paths[template][method.toLowerCase()];
  const unrouted = !op || (opts.role === 'worker' && op.security && op.security.length > 0);
  if (unrouted) {
    const allowed = op ? [404] : template ? [405] : [404];
    if (!allowed.includes(res.status)) {
      throw new Error(`openapi: ${where}\n  no operation answers this; expected ${allowed.join(' or ')}`);
    }
    checkBody(['components', 'responses', 'Unrouted'], document.components.responses.Unrouted, res, where);
    return;
  }
  const opParts = ['paths', template, method.toLowerCase()];
  if (process.env.HOOKD_OPENAPI_COVERAGE) {
    // one line per checked answer, to see which operations and statuses the suite reaches
    fs.appendFileSync(process.env.HOOKD_OPENAPI_COVERAGE, `${method.toUpperCase()} ${template} ${res.status}\n`);
  }
  let response = op.responses[String(res.status)];
  let parts = [...opParts, 'responses', String(res.status)];
  if (response === undefined) {
    throw new Error(
      `openapi: ${where}\n  ${res.status} is not documented for ${method} ${template} (it has ${Object.keys(op.responses).join(', ')})`,
    );
  }
  if (response.$ref) {
    parts = response.$ref.slice(2).split('/');
    response = parts.reduce((o, p) => o[p], document);
  }
  checkBody(parts, response, res, where);
}

// The tests' answers are checked on a worker thread: compiling a schema takes tens of
// milliseconds, which on the test's own thread would stall the receivers it runs (their answers'
// latency is what some tests measure).
const WORKER_TAG = 'hookd-openapi-check';
let checker = null;
const pending = new Map();
let nextRequest = 0;

function startChecker() {
  checker = new Worker(__filename, { workerData: WORKER_TAG });
  checker.on('message', ({ id, error }) => {
    const waiting = pending.get(id);
    pending.delete(id);
    if (pending.size === 0) checker.unref();
    if (error) waiting.reject(new Error(error));
    else waiting.resolve();
  });
  checker.on('error', (error) => {
    for (const waiting of pending.values()) waiting.reject(error);
    pending.clear();
    checker = null;
  });
  checker.unref(); // an idle checker does not keep the test process alive
}

/** checkAnswer, on the checker thread: resolves, or rejects with checkAnswer's error. */
function checkAnswerAsync(method, urlPath, res, opts = {}) {
  if (checker === null) startChecker();
  return new Promise((resolve, reject) => {
    const id = ++nextRequest;
    pending.set(id, { resolve, reject });
    checker.ref();
    checker.postMessage({ id, method, urlPath, res, opts });
  });
}

if (!isMainThread && workerData === WORKER_TAG) {
  parentPort.on('message', ({ id, method, urlPath, res, opts }) => {
    try {
      checkAnswer(method, urlPath, res, opts);
      parentPort.postMessage({ id });
    } catch (error) {
      parentPort.postMessage({ id, error: error.message });
    }
  });
}

/**
 * For tests that call fetch themselves: reads the response's body (once) and checks it against
 * the document; resolves to {status, headers, text, json} as api() does.
 */
async function checkResponse(method, urlPath, response, opts = {}) {
  const text = await response.text();
  const contentType = response.headers.get('content-type');
  const headers = Object.fromEntries(response.headers);
  await checkAnswerAsync(method, urlPath, { status: response.status, contentType, text, headers }, opts);
  let json;
  try {
    json = JSON.parse(text);
  } catch {
    json = undefined;
  }
  return { status: response.status, headers: response.headers, text, json };
}

// Every operation of the document as "METHOD template" (for coverage reports).
function operations() {
  const { document } = load();
  const out = [];
  for (const [template, item] of Object.entries(document.paths)) {
    for (const m of METHODS) if (item[m]) out.push(`${m.toUpperCase()} ${template}`);
  }
  return out;
}

module.exports = { DOCUMENT_PATH, checkAnswer, checkAnswerAsync, checkResponse, matchTemplate, operations };
