'use strict';
// The README's list of error codes (its **Errors** paragraph) against the codes the source can
// answer with (issue 18): every code of the source is listed, and every listed code is real.

const { describe, it } = require('node:test');
const assert = require('node:assert/strict');
const fs = require('node:fs');
const path = require('node:path');

const ROOT = path.join(__dirname, '..', '..');

function sourceFiles(dir) {
  return fs.readdirSync(dir, { withFileTypes: true }).flatMap((d) => {
    const p = path.join(dir, d.name);
    if (d.isDirectory()) return sourceFiles(p);
    return p.endsWith('.c') ? [p] : [];
  });
}

// The ways a handler names its error: err_set / err_vset (and reject / refuse, inbound's) with a
// status and a literal code, and the ping's own body.
const PATTERNS = [
  /\berr_v?set\([^;]*?\b[1-5]\d\d,\s*"([a-z_]+)"/g,
  /\b(?:reject|refuse)\([^;]*?\b[1-5]\d\d,\s*"([a-z_]+)"/g,
  /\bjson_pack\([^;]*?"error",\s*"([a-z_]+)"/g,
];

function codesInSource() {
  const codes = new Set();
  for (const file of sourceFiles(path.join(ROOT, 'src'))) {
    const text = fs.readFileSync(file, 'utf8');
    for (const re of PATTERNS) for (const m of text.matchAll(re)) codes.add(m[1]);
  }
  return codes;
}

function codesInReadme() {
  const readme = fs.readFileSync(path.join(ROOT, 'README.md'), 'utf8');
  const start = readme.indexOf('**Errors**');
  assert.ok(start >= 0, 'the README has an **Errors** paragraph');
  const paragraph = readme.slice(start, readme.indexOf('\n\n', start)).replace(/\s+/g, ' ');
  return new Set([...paragraph.matchAll(/\b[1-5]\d\d `([a-z_]+)`|\/ `([a-z_]+)`/g)].map((m) => m[1] || m[2]));
}

describe('error codes', () => {
  it('the README lists every code the source answers with, and no other', () => {
    const source = codesInSource();
    const readme = codesInReadme();
    assert.ok(source.size >= 15, `found only ${[...source]}`);
    const unlisted = [...source].filter((c) => !readme.has(c)).sort();
    const unknown = [...readme].filter((c) => !source.has(c)).sort();
    assert.deepEqual(unlisted, [], 'codes of the source missing from the README');
    assert.deepEqual(unknown, [], 'codes of the README that the source never answers');
  });
});
