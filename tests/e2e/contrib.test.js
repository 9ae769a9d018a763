'use strict';
// Issue 15: what contrib/ ships is checked with the tools that read it: the systemd unit with
// `systemd-analyze verify` (where installed), its hardening and its paths.

const { describe, it } = require('node:test');
const assert = require('node:assert/strict');
const fs = require('node:fs');
const path = require('node:path');
const { spawnSync } = require('node:child_process');
const { BIN, makeTempDir, removeTempDir } = require('./lib/hookd');

const ROOT = path.resolve(__dirname, '../..');
const has = (cmd) => spawnSync('sh', ['-c', `command -v ${cmd}`]).status === 0;

describe('contrib/systemd/hookd.service', () => {
  const unitPath = path.join(ROOT, 'contrib/systemd/hookd.service');
  const unit = fs.readFileSync(unitPath, 'utf8');

  it('passes systemd-analyze verify, run against the built binary', (t) => {
    if (!has('systemd-analyze')) return t.skip('systemd-analyze is not installed');
    const dir = makeTempDir();
    try {
      const copy = path.join(dir, 'hookd.service');
      fs.writeFileSync(copy, unit.replaceAll('/usr/local/bin/hookd', path.resolve(BIN)));
      const r = spawnSync('systemd-analyze', ['verify', copy], { encoding: 'utf8' });
      assert.equal(r.status, 0, r.stderr);
      assert.equal(r.stderr.trim(), '', 'no warnings');
    } finally {
      removeTempDir(dir);
    }
  });

  it('runs as its own user with the usual hardening and a state directory', () => {
    for (const line of [
      'DynamicUser=yes',
      'StateDirectory=hookd',
      'NoNewPrivileges=yes',
      'ProtectSystem=strict',
      'ProtectHome=yes',
      'PrivateTmp=yes',
      'CapabilityBoundingSet=',
      'RestrictAddressFamilies=AF_INET AF_INET6 AF_UNIX',
      'KillSignal=SIGTERM',
      'ExecReload=/bin/kill -HUP $MAINPID',
    ])
      assert.ok(unit.split('\n').includes(line), `${line} is set`);
    const exec = unit.split('\n').find((l) => l.startsWith('ExecStart='));
    assert.match(exec, /^ExecStart=\/usr\/local\/bin\/hookd serve$/);
    assert.match(unit, /^Environment=HOOKD_DB=sqlite:\/var\/lib\/hookd\/hookd\.db$/m);
  });
});
