'use strict';
// Issue 15 retention: under a steady load, the SQLite file stops growing once retention purges
// history as fast as it comes, and gives the purged pages back to the file system (a new file
// has auto_vacuum = INCREMENTAL; each purge batch reclaims a bounded number of pages). The load
// runs under a 1 s retention (HOOKD_TEST_RETENTION) and, as the control that shows the bound can
// fail, under --retention 3650d. What is measured is the database file; its -wal is reported
// but not bounded, as the checkpointer lets it reach about 40 MiB by design whatever the
// retention (driver_sqlite.c, CHECKPOINT_PAGES).

const { describe, it } = require('node:test');
const assert = require('node:assert/strict');
const fs = require('node:fs');
const { startHookd, createOrgWithKey, sleep } = require('./lib/hookd');
const { startReceiver, createEndpoint, emitAll, BASE_ARGS } = require('./lib/pipeline');

const ARGS = [...BASE_ARGS, '--no-ping'];
const EVENTS_PER_ROUND = 25;
const PAYLOAD_BYTES = 32 * 1024;
const ROUND_MS = 500; // 1.6 MB/s of payloads
const WARM_ROUNDS = 4; // twice the retention: the purge has caught up
const MEASURED_ROUNDS = 8;
const ROUND_BYTES = EVENTS_PER_ROUND * PAYLOAD_BYTES;
// How much the file may grow after the warm-up: three rounds, where the history of the
// measured rounds, kept, is eight
const GROWTH_BOUND = 3 * ROUND_BYTES;

function fileSize(path) {
  try {
    return fs.statSync(path).size;
  } catch {
    return 0;
  }
}

const mb = (bytes) => `${(bytes / 1e6).toFixed(2)} MB`;

// Starts a hookd with an endpoint that answers 200 and runs the warm-up and measured rounds of
// load on it, each round EVENTS_PER_ROUND events of PAYLOAD_BYTES at most every ROUND_MS.
// Returns the server (still running), the db's largest size in the warm-up (whatever the
// checkpointer had copied into it by then), its size after each measured round, and the -wal's.
async function steadyLoad(t, { env = {}, args = [] }) {
  const rx = await startReceiver();
  const server = await startHookd({ env, args: [...ARGS, ...args] });
  t.after(async () => {
    await server.cleanup();
    await rx.close();
  });
  const { key } = await createOrgWithKey(server);
  await createEndpoint(server, key, { url: rx.url('/hook') });
  const pad = 'x'.repeat(PAYLOAD_BYTES);
  const out = { server, warm: 0, sizes: [], wal: [] };
  for (let round = 0; round < WARM_ROUNDS + MEASURED_ROUNDS; round++) {
    const started = Date.now();
    const bodies = Array.from({ length: EVENTS_PER_ROUND }, (_, n) => ({ type: 'load.tick', data: { round, n, pad } }));
    await emitAll(server, key, bodies, 4);
    await sleep(Math.max(0, ROUND_MS - (Date.now() - started)));
    const size = fileSize(server.dbPath);
    out.wal.push(fileSize(`${server.dbPath}-wal`));
    if (round < WARM_ROUNDS) out.warm = Math.max(out.warm, size);
    else out.sizes.push(size);
  }
  out.report = () =>
    `db in the warm-up up to ${mb(out.warm)}, then ${out.sizes.map(mb).join(', ')} (-wal up to ${mb(Math.max(...out.wal))})`;
  return out;
}

describe('retention: the SQLite file under a steady load', () => {
  it('stays within three rounds of its size after the warm-up under a 1 s retention, and shrinks once the history is purged', async (t) => {
    const load = await steadyLoad(t, { env: { HOOKD_TEST_RETENTION: '1s' } });
    const most = Math.max(...load.sizes);
    t.diagnostic(load.report());
    assert.ok(load.warm > ROUND_BYTES, `the warm-up's history is in the file: ${load.report()}`);
    assert.ok(most <= load.warm + GROWTH_BOUND, `the file kept growing: ${load.report()}`);

    // the load stops: its history goes within the retention (and a pass), and so does its space
    const deadline = Date.now() + 6000;
    let size = fileSize(load.server.dbPath);
    while (size > load.warm / 4 && Date.now() < deadline) {
      await sleep(100);
      size = fileSize(load.server.dbPath);
    }
    t.diagnostic(`db once the load stopped: ${mb(size)}`);
    assert.ok(size <= load.warm / 4, `the purged pages stayed in the file (${mb(size)}): ${load.report()}`);
  });

  it('grows past that bound with the same load under --retention 3650d (the control)', async (t) => {
    const load = await steadyLoad(t, { args: ['--retention', '3650d'] });
    const last = load.sizes[load.sizes.length - 1];
    t.diagnostic(load.report());
    assert.ok(last > load.warm + GROWTH_BOUND, `the file did not grow without a purge: ${load.report()}`);
  });
});
