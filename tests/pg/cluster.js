'use strict';
// A throwaway PostgreSQL cluster for one black-box test file (tests/pg/pg.sh), and a database of
// its own for each test, so that tests do not see each other's rows.
//
//   const { useCluster } = require('./cluster');
//   const pg = useCluster();                       // registers before/after on the file
//   it('...', async (t) => {
//     const db = await pg.newDatabase();           // postgres://postgres@127.0.0.1:PORT/t_...
//     const rows = await pg.query(db, 'SELECT version FROM schema_migrations');
//   });
//
// With HOOKD_TEST_DB set (e.g. under `tests/pg/pg.sh run`), that cluster is used and left
// running; the databases made here are dropped at the end instead.

const { execFile, spawnSync } = require('node:child_process');
const crypto = require('node:crypto');
const fs = require('node:fs');
const path = require('node:path');
const { before, after } = require('node:test');

const PG_SH = path.join(__dirname, 'pg.sh');

// psql from the server's bin dir (Debian: /usr/lib/postgresql/<v>/bin), else from PATH.
function findPsql() {
  const root = '/usr/lib/postgresql';
  try {
    const versions = fs
      .readdirSync(root)
      .filter((v) => fs.existsSync(path.join(root, v, 'bin', 'psql')))
      .sort((a, b) => Number(b) - Number(a));
    if (versions.length) return path.join(root, versions[0], 'bin', 'psql');
  } catch {
    /* not Debian's layout */
  }
  return 'psql';
}
const PSQL = findPsql();

// Our environment without PG* variables (they would redirect psql) nor HOOKD_*.
function cleanEnv() {
  const env = {};
  for (const [k, v] of Object.entries(process.env)) {
    if (!k.startsWith('PG') && !k.startsWith('HOOKD_')) env[k] = v;
  }
  env.PGCONNECT_TIMEOUT = '10';
  return env;
}

function run(file, args, { timeout = 30000 } = {}) {
  return new Promise((resolve, reject) => {
    execFile(file, args, { env: cleanEnv(), timeout, encoding: 'utf8' }, (error, stdout, stderr) => {
      if (error) {
        error.message += `\n${stderr}`;
        reject(error);
      } else resolve({ stdout, stderr });
    });
  });
}

// The URL of another database on the same server.
function withDatabase(url, name) {
  const u = new URL(url);
  u.pathname = `/${name}`;
  return u.toString();
}

/**
 * Runs SQL through psql (-At: unaligned, tuples only) and returns the rows as arrays of
 * strings (fields split on '|'). Fails on any SQL error.
 */
async function query(url, sql) {
  const { stdout } = await run(PSQL, ['-X', '-q', '-A', '-t', '-v', 'ON_ERROR_STOP=1', '-d', url, '-c', sql]);
  return stdout
    .split('\n')
    .filter((l) => l !== '')
    .map((l) => l.split('|'));
}

async function startCluster() {
  if (process.env.HOOKD_TEST_DB) return { url: process.env.HOOKD_TEST_DB, dir: null, owned: false };
  const { stdout } = await run('bash', [PG_SH, 'start'], { timeout: 60000 });
  const url = /^HOOKD_TEST_DB=(.+)$/m.exec(stdout);
  const dir = /^HOOKD_PG_DIR=(.+)$/m.exec(stdout);
  if (!url || !dir) throw new Error(`pg.sh start said:\n${stdout}`);
  return { url: url[1].trim(), dir: dir[1].trim(), owned: true };
}

function stopClusterSync(dir) {
  spawnSync('bash', [PG_SH, 'stop', dir], { env: cleanEnv(), stdio: 'ignore', timeout: 30000 });
}

/**
 * Starts one cluster for the calling test file (before) and stops it (after). The returned
 * object is filled in by `before`: url (the cluster's `hookd` database), newDatabase(),
 * query(url, sql).
 */
function useCluster() {
  const cluster = {
    url: null,
    dir: null,
    owned: false,
    databases: [],
    query,
    withDatabase,
  };
  let counter = 0;

  // A fresh, empty database: its URL.
  // The server stopped (-m fast) and started again on its port, for outage tests; only on a
  // cluster of this file's own (not one given by HOOKD_TEST_DB).
  cluster.down = () => run('bash', [PG_SH, 'down', cluster.dir], { timeout: 60000 });
  cluster.up = () => run('bash', [PG_SH, 'up', cluster.dir], { timeout: 60000 });

  cluster.newDatabase = async (prefix = 't') => {
    if (!cluster.url) throw new Error('the PostgreSQL cluster is not running');
    counter += 1;
    const name = `${prefix}_${process.pid}_${counter}_${crypto.randomBytes(3).toString('hex')}`.toLowerCase();
    await query(cluster.url, `CREATE DATABASE ${name}`);
    cluster.databases.push(name);
    return withDatabase(cluster.url, name);
  };

  const onExit = () => {
    if (cluster.owned && cluster.dir) stopClusterSync(cluster.dir);
  };
  const onSignal = (signal) => {
    onExit();
    process.exit(signal === 'SIGINT' ? 130 : 143);
  };

  before(async () => {
    Object.assign(cluster, await startCluster());
    process.on('exit', onExit);
    process.once('SIGINT', onSignal);
    process.once('SIGTERM', onSignal);
  });

  after(async () => {
    process.off('exit', onExit);
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
    if (!cluster.url) return;
    if (cluster.owned) {
      await run('bash', [PG_SH, 'stop', cluster.dir]);
    } else {
      for (const name of cluster.databases) {
        await query(cluster.url, `DROP DATABASE IF EXISTS ${name} WITH (FORCE)`).catch(() => {});
      }
    }
    cluster.url = null;
  });

  return cluster;
}

module.exports = { useCluster, query, withDatabase, PSQL };
