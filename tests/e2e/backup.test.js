'use strict';
// Issue 15 backup: `hookd backup --db sqlite:PATH OUT` copies the database consistently while the
// server runs under load; every event acknowledged before the backup began is in the copy, and
// the copy serves.

const { describe, it, before, after } = require('node:test');
const assert = require('node:assert/strict');
const fs = require('node:fs');
const path = require('node:path');
const { startHookd, api, createOrgWithKey, runHookd, runHookdAsync, makeTempDir, removeTempDir } = require('./lib/hookd');

describe('hookd backup', () => {
  let server;
  let dir;
  before(async () => {
    server = await startHookd({ args: ['--rate-limit', '0'] });
    dir = makeTempDir();
  });
  after(async () => {
    await server?.cleanup();
    removeTempDir(dir);
  });

  it('copies a running server under load: every event acknowledged before it began is in the copy, which serves', async () => {
    const { key, org } = await createOrgWithKey(server, ['events']);
    const acked = [];
    let stop = false;
    let during = 0;
    let backupStarted = false;
    const writer = async () => {
      while (!stop) {
        const res = await api(server, 'POST', '/v1/events', { key, body: { type: 'load.tick', data: { n: acked.length } } });
        assert.equal(res.status, 202, res.text);
        if (backupStarted) during++;
        else acked.push(res.json.id);
      }
    };
    const writers = Array.from({ length: 8 }, writer);
    while (acked.length < 2000) await new Promise((r) => setTimeout(r, 20));
    const out = path.join(dir, 'copy.db');
    backupStarted = true;
    const before = acked.length;
    const r = await runHookdAsync(['backup', '--db', `sqlite:${server.dbPath}`, out], { cwd: dir });
    stop = true;
    await Promise.all(writers);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /backed up to .*copy\.db \(\d+ bytes\)/);
    assert.ok(during > 0, 'the load went on while the backup ran');

    const copy = await startHookd({ dbPath: out, adminKey: server.adminKey });
    try {
      const got = await api(copy, 'GET', `/v1/events?limit=1&org_id=${org.id}`, { key: server.adminKey });
      assert.equal(got.status, 200, got.text);
      let missing = 0;
      for (const id of acked.slice(0, before)) {
        const one = await api(copy, 'GET', `/v1/events/${id}?org_id=${org.id}`, { key: server.adminKey });
        if (one.status !== 200) missing++;
      }
      assert.equal(missing, 0, `${missing} of ${before} acknowledged events are missing from the copy`);
    } finally {
      await copy.cleanup();
    }
  });

  it('refuses an existing output file, a database that does not exist, and a missing argument', async () => {
    const existing = path.join(dir, 'there.db');
    fs.writeFileSync(existing, 'keep me');
    const r1 = runHookd(['backup', '--db', `sqlite:${server.dbPath}`, existing], { cwd: dir });
    assert.equal(r1.code, 1);
    assert.match(r1.stderr, /there\.db exists/);
    assert.equal(fs.readFileSync(existing, 'utf8'), 'keep me');
    const r2 = runHookd(['backup', '--db', `sqlite:${path.join(dir, 'nope.db')}`, path.join(dir, 'out.db')], { cwd: dir });
    assert.equal(r2.code, 1);
    assert.match(r2.stderr, /nope\.db does not exist/);
    assert.ok(!fs.existsSync(path.join(dir, 'nope.db')));
    assert.ok(!fs.existsSync(path.join(dir, 'out.db')));
    const r3 = runHookd(['backup', '--db', `sqlite:${server.dbPath}`], { cwd: dir });
    assert.equal(r3.code, 2);
    assert.match(r3.stderr, /usage: hookd backup/);
  });
});
