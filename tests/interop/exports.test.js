'use strict';
// §5 packaging: the shared object exports libhookd's public API and nothing else
// (-fvisibility=hidden + HOOKD_API), has its SONAME, and the static archive defines no global
// symbol outside the hookd_ prefix.

const { describe, it } = require('node:test');
const assert = require('node:assert/strict');
const { spawnSync } = require('node:child_process');
const fs = require('node:fs');
const path = require('node:path');
const { BUILD_DIR } = require('./lib/cli');

const PUBLIC_API = [
  'hookd_ed25519_generate',
  'hookd_ed25519_public_key',
  'hookd_secret_generate',
  'hookd_sign_ed25519',
  'hookd_sign_hex',
  'hookd_sign_standard',
  'hookd_strerror',
  'hookd_verify_ed25519',
  'hookd_verify_hex',
  'hookd_verify_hmac',
  'hookd_verify_standard',
  'hookd_verify_stripe',
  'hookd_version',
];

function tool(cmd, args) {
  const res = spawnSync(cmd, args, { encoding: 'utf8' });
  if (res.error) throw res.error;
  assert.equal(res.status, 0, `${cmd} ${args.join(' ')}: ${res.stderr}`);
  return res.stdout;
}

// Names of the symbols `nm` lists as defined code or data (upper-case type: global).
function definedGlobals(nmOutput) {
  return nmOutput
    .split('\n')
    .map((line) => line.trim().split(/\s+/))
    .filter((f) => f.length === 3 && /^[A-Z]$/.test(f[1]) && f[1] !== 'U' && f[1] !== 'W')
    .map((f) => f[2]);
}

describe('libhookd exports', () => {
  const so = path.join(BUILD_DIR, 'libhookd.so');
  const archive = path.join(BUILD_DIR, 'libhookd.a');

  it('the shared object exports exactly the public API', () => {
    const names = definedGlobals(tool('nm', ['-D', '--defined-only', so]));
    const outside = names.filter((n) => !n.startsWith('hookd_'));
    assert.deepEqual(outside, [], `exported without the hookd_ prefix: ${outside.join(', ')}`);
    assert.deepEqual([...new Set(names)].sort(), PUBLIC_API);
  });

  it('the shared object carries the SONAME libhookd.so.0 and the versioned file exists', () => {
    const dynamic = tool('readelf', ['-d', so]);
    assert.match(dynamic, /\(SONAME\)\s+Library soname: \[libhookd\.so\.0\]/);
    assert.equal(fs.readlinkSync(so), 'libhookd.so.0');
    assert.ok(fs.existsSync(path.join(BUILD_DIR, 'libhookd.so.0.1.0')));
  });

  it('the shared object needs libcrypto and libc only', () => {
    const needed = [...tool('readelf', ['-d', so]).matchAll(/\(NEEDED\)\s+Shared library: \[(.*?)\]/g)]
      .map((m) => m[1])
      .filter((lib) => !/^lib(asan|ubsan)\.so/.test(lib)); // sanitizer builds
    assert.deepEqual(needed.sort(), ['libc.so.6', 'libcrypto.so.3']);
  });

  it('the static archive defines no global symbol outside hookd_', () => {
    const names = definedGlobals(tool('nm', ['-g', '--defined-only', archive]));
    assert.ok(names.length >= PUBLIC_API.length);
    const outside = names.filter((n) => !n.startsWith('hookd_'));
    assert.deepEqual(outside, [], `global symbols without the prefix: ${outside.join(', ')}`);
  });
});
