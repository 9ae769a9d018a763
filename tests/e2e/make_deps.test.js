'use strict';
// `make run` installs only what building and serving need; the tests' and the benchmark's tools
// (PostgreSQL, nginx, Redis, wrk, gnuplot, clang, cmocka, npm ci) are `make test`'s and
// `make bench`'s (issue 18). Read from make's dry run of each target, so nothing is installed.

const { describe, it } = require('node:test');
const assert = require('node:assert/strict');
const { spawnSync } = require('node:child_process');
const path = require('node:path');

const ROOT = path.join(__dirname, '..', '..');
const TEST_WORLD = /\b(postgresql|nginx|redis-server|wrk|gnuplot|clang|cmocka|npm ci)\b/;

function dryRun(target) {
  const r = spawnSync('make', ['--no-print-directory', '-n', target], { cwd: ROOT, encoding: 'utf8' });
  assert.equal(r.status, 0, r.stderr);
  return r.stdout;
}

describe('make deps', () => {
  it('make run checks and installs only the build and run dependencies', () => {
    const run = dryRun('run');
    assert.match(run, /deps-run/, 'make run installs what is missing');
    assert.doesNotMatch(run, TEST_WORLD);
    assert.doesNotMatch(dryRun('deps-run'), TEST_WORLD);
  });

  it('make test and make bench still install the rest', () => {
    for (const target of ['deps']) assert.match(dryRun(target), TEST_WORLD);
    const makefile = require('node:fs').readFileSync(path.join(ROOT, 'Makefile'), 'utf8');
    assert.match(makefile, /^test: deps-check /m);
    assert.match(makefile, /^bench: deps-check /m);
  });
});
