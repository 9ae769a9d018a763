'use strict';
// SQLite on a full disk (issue 14): hookd keeps running, answers 503 (never a 202 it did not
// commit), /readyz says the store cannot commit, and once room is made it carries on by itself
// with every acknowledged event delivered. The disk is a 4 MiB tmpfs, filled with a file.

const { describe, it } = require('node:test');
const assert = require('node:assert/strict');
const { spawnSync } = require('node:child_process');
const fs = require('node:fs');
const path = require('node:path');

const { startHookd, api, createOrgWithKey, makeTempDir, sleep } = require('./lib/hookd');
const { startReceiver } = require('./lib/receiver');
const { createEndpoint, stopChecked, uniqueType } = require('./lib/pipeline');

// Mounts a small tmpfs at dir; null with the reason when this machine does not let us.
function mountTmpfs(dir, size) {
  if (process.getuid && process.getuid() !== 0) return 'not root: cannot mount a small disk';
  const r = spawnSync('mount', ['-t', 'tmpfs', '-o', `size=${size}`, 'tmpfs', dir], { encoding: 'utf8' });
  return r.status === 0 ? null : `mount failed: ${(r.stderr || '').trim()}`;
}

// Writes a file until the disk says ENOSPC.
function fillDisk(file) {
  const fd = fs.openSync(file, 'w');
  const chunk = Buffer.alloc(64 * 1024, 1);
  try {
    for (;;) fs.writeSync(fd, chunk);
  } catch (e) {
    if (e.code !== 'ENOSPC') throw e;
  } finally {
    fs.closeSync(fd);
  }
}

async function waitFor(what, pred, timeoutMs = 15000) {
  const until = Date.now() + timeoutMs;
  for (;;) {
    const value = await pred();
    if (value) return value;
    if (Date.now() > until) assert.fail(`timed out waiting for ${what}`);
    await sleep(50);
  }
}

describe('SQLite on a full disk', () => {
  it('answers 503, says not ready, and carries on when room is made', async (t) => {
    const dir = makeTempDir();
    const disk = path.join(dir, 'disk');
    fs.mkdirSync(disk);
    const why = mountTmpfs(disk, '4m');
    if (why) {
      t.skip(why);
      return;
    }
    t.after(() => spawnSync('umount', ['-l', disk]));
    const rx = await startReceiver();
    t.after(() => rx.close());
    const server = await startHookd({
      dbPath: path.join(disk, 'hookd.db'),
      args: ['--allow-http', '--allow-private', '--rate-limit', '0', '--no-ping', '--log-level', 'error'],
    });
    t.after(() => server.cleanup());
    const { key } = await createOrgWithKey(server);
    await createEndpoint(server, key, { url: `${rx.base}/hook` });
    const type = uniqueType('disk');
    const accepted = new Set();
    const emitOne = async (i) => {
      const res = await api(server, 'POST', '/v1/events', { key, body: { type, data: { i, pad: 'x'.repeat(2000) } } });
      assert.ok(res.status === 202 || res.status === 503, `event ${i}: ${res.status} ${res.text}`);
      if (res.status === 202) accepted.add(res.json.id);
      return res.status;
    };

    for (let i = 0; i < 20; i++) assert.equal(await emitOne(i), 202);
    assert.equal((await api(server, 'GET', '/readyz')).status, 200);

    fillDisk(path.join(disk, 'filler'));
    // SQLite may still have room in pages it holds: emit until the store says no
    let refused = 0;
    for (let i = 20; i < 2000 && refused < 10; i++) if ((await emitOne(i)) === 503) refused++;
    assert.ok(refused >= 10, 'a full disk never made a write fail');
    const notReady = await api(server, 'GET', '/readyz');
    assert.equal(notReady.status, 503, notReady.text);
    assert.match(notReady.text, /cannot commit/);
    assert.equal(server.exitCode, undefined, 'hookd exited on a full disk');

    fs.rmSync(path.join(disk, 'filler'));
    // the next write commits again, and readiness follows it
    await waitFor('a 202 after room was made', async () => (await emitOne(5000)) === 202);
    await waitFor('/readyz back to 200', async () => (await api(server, 'GET', '/readyz')).status === 200);

    // every acknowledged event reaches the receiver, without a restart
    const seen = () => new Set(rx.deliveries().map((r) => r.headers['webhook-id']));
    await waitFor(
      `all ${accepted.size} acknowledged events at the receiver`,
      () => [...accepted].every((id) => seen().has(id)),
      30000
    );
    assert.equal(server.exitCode, undefined);
    await stopChecked(server);
  });
});
