'use strict';
// §5 the CLI and §8 configuration: usage, exit codes, options refused or rejected, and
// precedence flags > HOOKD_* environment > config file > defaults.

const fs = require('node:fs');
const path = require('node:path');
const { describe, it, before, after } = require('node:test');
const assert = require('node:assert/strict');
const {
  startHookd,
  api,
  runHookd,
  runHookdAsync,
  makeTempDir,
  removeTempDir,
  paddedOrgBody,
  randomAdminKey,
  KEY_RE,
  ORG_ID_RE,
} = require('./lib/hookd');

// A temp dir for one test, removed after it.
function tempDir(t) {
  const dir = makeTempDir();
  t.after(() => removeTempDir(dir));
  return dir;
}

// Starts a server for one test; stopped (and its dir removed) after the test.
async function serverFor(t, opts) {
  const server = await startHookd(opts);
  t.after(() => server.cleanup());
  return server;
}

async function postOfSize(server, size) {
  return api(server, 'POST', '/v1/orgs', {
    key: server.adminKey,
    body: paddedOrgBody(size),
    headers: { 'Content-Type': 'application/json' },
  });
}

// `hookd serve ARGS` must refuse to start: exit 2 quickly, and stderr names `mention`.
async function assertRefused(t, args, mention, { env = {}, files = {} } = {}) {
  const dir = tempDir(t);
  for (const [name, text] of Object.entries(files)) fs.writeFileSync(path.join(dir, name), text);
  const fullArgs = [
    'serve',
    '--listen',
    '127.0.0.1:0',
    '--db',
    `sqlite:${path.join(dir, 'hookd.db')}`,
    '--admin-key',
    randomAdminKey(),
    ...args.map((a) => a.replace('$DIR', dir)),
  ];
  const r = await runHookdAsync(fullArgs, { env, cwd: dir, timeout: 5000 });
  assert.equal(r.signal, null, `hookd ${args.join(' ')} started instead of refusing:\n${r.stderr}`);
  assert.equal(r.code, 2, `exit code for ${args.join(' ')} ${JSON.stringify(env)}: ${r.stderr}`);
  assert.ok(
    r.stderr.includes(mention),
    `stderr should name ${mention} for ${args.join(' ')}:\n${r.stderr}`
  );
  assert.ok(!r.stderr.includes('"msg":"listening"'));
  return r;
}

describe('usage and exit codes', () => {
  it('hookd with no arguments prints usage on stderr and exits 2', () => {
    const r = runHookd([]);
    assert.equal(r.code, 2);
    assert.match(r.stderr, /usage/i);
    assert.match(r.stderr, /serve/);
  });

  it('an unknown command prints usage and exits 2', () => {
    const r = runHookd(['frobnicate']);
    assert.equal(r.code, 2);
    assert.match(r.stderr, /usage/i);
    assert.match(r.stderr, /frobnicate/);
  });

  it('an unknown flag of serve exits 2 naming it', (t) => {
    const dir = tempDir(t);
    const r = runHookd(['serve', '--bogus-flag'], { cwd: dir });
    assert.equal(r.code, 2);
    assert.match(r.stderr, /--bogus-flag/);
    assert.ok(!fs.existsSync(path.join(dir, 'hookd.db')), 'nothing is created');
  });

  it('a stray positional argument of serve exits 2', (t) => {
    const r = runHookd(['serve', 'now'], { cwd: tempDir(t) });
    assert.equal(r.code, 2);
    assert.match(r.stderr, /now/);
  });

  it('a flag missing its value exits 2 naming it', (t) => {
    const r = runHookd(['serve', '--max-body'], { cwd: tempDir(t) });
    assert.equal(r.code, 2);
    assert.match(r.stderr, /--max-body/);
  });

  it('hookd version prints "hookd 0.1.0 ..."', () => {
    const r = runHookd(['version']);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /^hookd 0\.1\.0\b/);
  });

  for (const cmd of [['serve'], ['keys'], ['migrate'], ['keys', 'create'], ['version']]) {
    it(`hookd ${cmd.join(' ')} --help prints usage and exits 0`, (t) => {
      const r = runHookd([...cmd, '--help'], { cwd: tempDir(t) });
      assert.equal(r.code, 0, r.stderr);
      assert.match(r.stdout, /usage/i);
    });
  }

  it('hookd --help exits 0 and lists the commands', () => {
    const r = runHookd(['--help']);
    assert.equal(r.code, 0);
    for (const c of ['serve', 'keys', 'migrate', 'version']) assert.match(r.stdout, new RegExp(c));
  });
});

describe('hookd serve --help', () => {
  // §8's table: every option with its default
  const options = [
    ['listen', ['127.0.0.1:8080']],
    ['db', ['sqlite:hookd.db']],
    ['admin-key', ['none']],
    ['config', ['none']],
    ['allow-http', ['off', 'false']],
    ['allow-private', ['off', 'false']],
    ['no-ping', ['off', 'false']],
    ['retry-schedule', ['1s,4s,16s,64s,256s,1024s,4096s']],
    ['disable-after', ['20']],
    ['max-body', ['1048576']],
    ['rate-limit', ['10000']],
    ['max-connections', ['256']],
    ['retention', ['30d']],
    ['lease', ['30s']],
    ['tls-cert', ['none']],
    ['tls-key', ['none']],
    ['ca-file', ['system', 'none']],
    ['proxy', ['none']],
    ['sqlite-sync', ['normal']],
    ['role', ['all']],
    ['log-level', ['info']],
  ];
  let help;
  before(() => {
    const r = runHookd(['serve', '--help']);
    assert.equal(r.code, 0);
    help = r.stdout;
  });

  for (const [name, defaults] of options) {
    it(`lists --${name} with its default (${defaults.join(' or ')})`, () => {
      const re = new RegExp(`^\\s*--${name}\\b`, 'm');
      const m = re.exec(help);
      assert.ok(m, `--${name} is not in serve --help`);
      // the option's entry runs until the next option line
      const rest = help.slice(m.index + m[0].length);
      const next = /^\s*--[a-z]/m.exec(rest);
      const entry = next ? rest.slice(0, next.index) : rest;
      assert.ok(
        defaults.some((d) => new RegExp(`default:?\\s*${d.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}`, 'i').test(entry)),
        `--${name}: default ${defaults.join('/')} not shown in:\n${m[0]}${entry}`
      );
    });
  }

  it('names the HOOKD_* environment variable of the options', () => {
    for (const env of ['HOOKD_LISTEN', 'HOOKD_MAX_BODY', 'HOOKD_RATE_LIMIT', 'HOOKD_LOG_LEVEL']) {
      assert.ok(help.includes(env), env);
    }
  });
});

describe('a database of no supported kind is refused at start', () => {
  it('--db mysql://... exits 2 naming --db', async (t) => {
    await assertRefused(t, ['--db', 'mysql://hookd@127.0.0.1/hookd'], '--db');
  });
});

describe('bad option values are refused at start', () => {
  const cases = [
    [['--max-body', 'abc'], '--max-body'],
    [['--max-body', '1023'], '--max-body'],
    [['--max-body', '-5'], '--max-body'],
    [['--sqlite-sync', 'maybe'], '--sqlite-sync'],
    [['--log-level', 'loud'], '--log-level'],
    [['--rate-limit', 'abc'], '--rate-limit'],
    [['--rate-limit', '-1'], '--rate-limit'],
    [['--lease', 'forever'], '--lease'],
    [['--retention', '30m'], '--retention'],
    [['--listen', 'nowhere'], '--listen'],
    [['--listen', '127.0.0.1:99999'], '--listen'],
    [['--admin-key', 'short'], '--admin-key'],
    [['--admin-key', 'has spaces in it, sixteen+'], '--admin-key'],
    [['--role', 'boss'], '--role'],
    [['--db', 'mysql://localhost/x'], '--db'],
    [['--tls-cert', '/etc/hosts'], '--tls-'],
    [['--public-url', 'hooks.example.com'], 'absolute http(s) URL'],
    [['--public-url', 'https://'], '--public-url'],
    [['--public-url', 'https://hooks.example.com/?a=1'], 'without query'],
    [['--public-url', 'ftp://hooks.example.com'], '--public-url'],
  ];
  for (const [args, mention] of cases) {
    it(`${args.join(' ')} exits 2 naming ${mention}`, async (t) => {
      await assertRefused(t, args, mention);
    });
  }

  it('a bad value in the environment exits 2 naming the option', async (t) => {
    await assertRefused(t, [], 'log-level', { env: { HOOKD_LOG_LEVEL: 'loud' } });
    await assertRefused(t, [], 'max-body', { env: { HOOKD_MAX_BODY: 'lots' } });
  });

  it('a listen port already in use makes serve exit non-zero (not hang)', async (t) => {
    const net = require('node:net');
    const blocker = net.createServer();
    await new Promise((resolve) => blocker.listen(0, '127.0.0.1', resolve));
    t.after(() => new Promise((resolve) => blocker.close(resolve)));
    const dir = tempDir(t);
    const r = await runHookdAsync(
      [
        'serve',
        '--listen',
        `127.0.0.1:${blocker.address().port}`,
        '--db',
        `sqlite:${path.join(dir, 'hookd.db')}`,
        '--admin-key',
        randomAdminKey(),
      ],
      { cwd: dir, timeout: 5000 }
    );
    assert.equal(
      r.signal,
      null,
      `hookd must exit by itself with an error code, got ${r.signal === 'SIGKILL' ? 'a hang' : r.signal}:\n${r.stderr}`
    );
    assert.notEqual(r.code, 0, r.stderr);
    assert.match(r.stderr, /listen|in use/i);
  });

  it('a port in use stops the start before a database is created or an admin key minted (issue 18)', async (t) => {
    const net = require('node:net');
    const blocker = net.createServer();
    await new Promise((resolve) => blocker.listen(0, '127.0.0.1', resolve));
    t.after(() => new Promise((resolve) => blocker.close(resolve)));
    const dir = tempDir(t);
    const db = path.join(dir, 'hookd.db');
    const args = ['serve', '--listen', `127.0.0.1:${blocker.address().port}`, '--db', `sqlite:${db}`];
    const r = await runHookdAsync(args, { cwd: dir, timeout: 5000 });
    assert.notEqual(r.code, 0, r.stderr);
    assert.doesNotMatch(r.stderr + r.stdout, /admin key/i, 'no key printed for a server that never served');
    assert.equal(fs.existsSync(db), false, 'no database created');
    // once the port is free, the first start that serves prints the key
    await new Promise((resolve) => blocker.close(resolve));
    const server = await serverFor(t, { dir, adminKey: null });
    assert.match(server.stderr, /"admin key created"/);
  });

  it('--max-body 1024, the minimum, is accepted', async (t) => {
    const server = await serverFor(t, { args: ['--max-body', '1024'] });
    assert.equal((await postOfSize(server, 1024)).status, 201);
    assert.equal((await postOfSize(server, 1025)).status, 413);
  });

  it('--sqlite-sync full, --role api and --log-level debug are accepted', async (t) => {
    const server = await serverFor(t, {
      args: ['--sqlite-sync', 'full', '--role', 'api', '--log-level', 'debug'],
    });
    assert.equal((await postOfSize(server, 100)).status, 201);
  });
});

describe('configuration precedence: flags > HOOKD_* > config file > defaults', () => {
  it('the default body limit is 1 MiB', async (t) => {
    const server = await serverFor(t, {});
    assert.equal((await postOfSize(server, 200 * 1024)).status, 201);
  });

  it('HOOKD_MAX_BODY=2048 makes a 3000-byte body a 413', async (t) => {
    const server = await serverFor(t, { env: { HOOKD_MAX_BODY: '2048' } });
    const res = await postOfSize(server, 3000);
    assert.equal(res.status, 413, res.text);
    assert.equal(res.json.error, 'payload_too_large');
    assert.equal((await postOfSize(server, 2000)).status, 201);
  });

  it('the --max-body 4096 flag beats HOOKD_MAX_BODY=2048', async (t) => {
    const server = await serverFor(t, {
      env: { HOOKD_MAX_BODY: '2048' },
      args: ['--max-body', '4096'],
    });
    assert.equal((await postOfSize(server, 3000)).status, 201);
    assert.equal((await postOfSize(server, 5000)).status, 413);
  });

  it('the --max-body=2048 form of the flag beats HOOKD_MAX_BODY=4096', async (t) => {
    const server = await serverFor(t, {
      env: { HOOKD_MAX_BODY: '4096' },
      args: ['--max-body=2048'],
    });
    assert.equal((await postOfSize(server, 3000)).status, 413);
  });

  it('a config file sets max-body', async (t) => {
    const dir = tempDir(t);
    const conf = path.join(dir, 'hookd.conf');
    fs.writeFileSync(conf, '# hookd settings\n\n  max-body   =   2048  \n# rate-limit = 1\n');
    const server = await serverFor(t, { args: ['--config', conf] });
    assert.equal((await postOfSize(server, 3000)).status, 413);
    assert.equal((await postOfSize(server, 2000)).status, 201);
  });

  it('HOOKD_MAX_BODY beats the config file', async (t) => {
    const dir = tempDir(t);
    const conf = path.join(dir, 'hookd.conf');
    fs.writeFileSync(conf, 'max-body = 2048\n');
    const server = await serverFor(t, {
      args: ['--config', conf],
      env: { HOOKD_MAX_BODY: '4096' },
    });
    assert.equal((await postOfSize(server, 3000)).status, 201);
  });

  it('a flag beats both the config file and the environment', async (t) => {
    const dir = tempDir(t);
    const conf = path.join(dir, 'hookd.conf');
    fs.writeFileSync(conf, 'max-body = 8192\n');
    const server = await serverFor(t, {
      args: ['--config', conf, '--max-body', '2048'],
      env: { HOOKD_MAX_BODY: '8192' },
    });
    assert.equal((await postOfSize(server, 3000)).status, 413);
  });

  it('HOOKD_CONFIG names the config file', async (t) => {
    const dir = tempDir(t);
    const conf = path.join(dir, 'hookd.conf');
    fs.writeFileSync(conf, 'max-body = 2048\n');
    const server = await serverFor(t, { env: { HOOKD_CONFIG: conf } });
    assert.equal((await postOfSize(server, 3000)).status, 413);
  });

  it('a config file can give the database and the admin key', async (t) => {
    const dir = tempDir(t);
    const conf = path.join(dir, 'hookd.conf');
    const adminKey = randomAdminKey();
    const db = path.join(dir, 'from-config.db');
    fs.writeFileSync(conf, `db = sqlite:${db}\nadmin-key = ${adminKey}\n`);
    const server = await serverFor(t, { args: ['--config', conf], noDb: true, adminKey: '' });
    const res = await api(server, 'POST', '/v1/orgs', { key: adminKey, body: { name: 'cfg' } });
    assert.equal(res.status, 201, res.text);
    assert.ok(fs.existsSync(db), 'the database named by the config file is used');
    assert.equal(server.stdout, '', 'no admin key is minted');
  });

  it('HOOKD_LISTEN is used when no --listen flag is given', async (t) => {
    const server = await serverFor(t, { noListen: true, env: { HOOKD_LISTEN: '127.0.0.1:0' } });
    assert.ok(server.port > 0);
    assert.equal((await api(server, 'GET', '/healthz')).status, 200);
  });

  it('an unknown key in the config file exits 2 naming it', async (t) => {
    await assertRefused(t, ['--config', '$DIR/hookd.conf'], 'max-bodies', {
      files: { 'hookd.conf': '# ok\nmax-bodies = 2048\n' },
    });
  });

  it('a config line without "=" exits 2', async (t) => {
    await assertRefused(t, ['--config', '$DIR/hookd.conf'], 'hookd.conf', {
      files: { 'hookd.conf': 'max-body 2048\n' },
    });
  });

  it('a bad value in the config file exits 2 naming the option', async (t) => {
    await assertRefused(t, ['--config', '$DIR/hookd.conf'], 'log-level', {
      files: { 'hookd.conf': 'log-level = shouty\n' },
    });
  });

  it('a missing config file exits 2 naming it', async (t) => {
    await assertRefused(t, ['--config', '$DIR/nope.conf'], 'nope.conf');
  });
});

describe('hookd keys create', () => {
  it('--admin prints one working admin key on stdout', async (t) => {
    const dir = tempDir(t);
    const db = path.join(dir, 'hookd.db');
    assert.equal(runHookd(['migrate', '--db', `sqlite:${db}`], { cwd: dir }).code, 0);
    const r = runHookd(['keys', 'create', '--db', `sqlite:${db}`, '--name', 'ops', '--admin'], {
      cwd: dir,
    });
    assert.equal(r.code, 0, r.stderr);
    const lines = r.stdout.split('\n').filter(Boolean);
    assert.equal(lines.length, 1, r.stdout);
    const key = lines[0].trim();
    assert.match(key, KEY_RE);
    const server = await serverFor(t, { dir, adminKey: null });
    assert.equal(server.adminKey, null, 'a store with a key mints no bootstrap key');
    const res = await api(server, 'POST', '/v1/orgs', { key, body: { name: 'via-cli' } });
    assert.equal(res.status, 201, res.text);
    assert.match(res.json.id, ORG_ID_RE);
    assert.ok(!server.stderr.includes(key.split('.')[1]));
  });

  it('--org ORG --scopes events,webhooks makes a working org key', async (t) => {
    const dir = tempDir(t);
    const adminKey = randomAdminKey();
    const first = await startHookd({ dir, adminKey });
    const org = (await api(first, 'POST', '/v1/orgs', { key: adminKey, body: { name: 'o' } }))
      .json;
    await first.stop();
    const r = runHookd(
      [
        'keys',
        'create',
        '--db',
        `sqlite:${first.dbPath}`,
        '--name',
        'ci',
        '--org',
        org.id,
        '--scopes',
        'events,webhooks',
      ],
      { cwd: dir }
    );
    assert.equal(r.code, 0, r.stderr);
    const key = r.stdout.trim();
    assert.match(key, KEY_RE);
    const server = await serverFor(t, { dir, adminKey });
    const me = await api(server, 'GET', '/v1/org', { key });
    assert.equal(me.status, 200, me.text);
    assert.equal(me.json.id, org.id);
    const keys = await api(server, 'GET', `/v1/orgs/${org.id}/api-keys`, { key: adminKey });
    const listed = keys.json.data.find((k) => key.startsWith(`${k.id}.`));
    assert.ok(listed, 'the key is listed');
    assert.deepEqual([...listed.scopes].sort(), ['events', 'webhooks']);
    assert.equal(listed.name, 'ci');
    // webhooks scope: may rotate; not admin
    assert.equal((await api(server, 'POST', '/v1/org/rotate-secret', { key })).status, 200);
    assert.equal((await api(server, 'GET', '/v1/orgs', { key })).status, 403);
  });

  it('HOOKD_DB names the database of keys create', async (t) => {
    const dir = tempDir(t);
    const db = path.join(dir, 'env.db');
    const env = { HOOKD_DB: `sqlite:${db}` };
    assert.equal(runHookd(['keys', 'create', '--name', 'x', '--admin'], { cwd: dir, env }).code, 1);
    assert.equal(runHookd(['migrate'], { cwd: dir, env }).code, 0);
    const r = runHookd(['keys', 'create', '--name', 'x', '--admin'], { cwd: dir, env });
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout.trim(), KEY_RE);
  });

  it('a database that does not exist is refused, named, and not created; no key is printed (issue 18)', (t) => {
    const dir = tempDir(t);
    const db = path.join(dir, 'hokd.db');
    const r = runHookd(['keys', 'create', '--db', `sqlite:${db}`, '--name', 'ops', '--admin'], { cwd: dir });
    assert.equal(r.code, 1, r.stderr);
    assert.match(r.stderr, /hokd\.db does not exist/);
    assert.equal(r.stdout, '');
    assert.ok(!fs.existsSync(db), 'no database was created');
    const inMissingDir = runHookd(['keys', 'create', '--db', `sqlite:${dir}/nope/x.db`, '--name', 'o', '--admin'], { cwd: dir });
    assert.equal(inMissingDir.code, 1);
    assert.equal(inMissingDir.stdout, '');
  });

  it('an org key for an unknown org fails with a non-zero exit', (t) => {
    const dir = tempDir(t);
    assert.equal(runHookd(['migrate', '--db', `sqlite:${path.join(dir, 'h.db')}`], { cwd: dir }).code, 0);
    const r = runHookd(
      [
        'keys',
        'create',
        '--db',
        `sqlite:${path.join(dir, 'h.db')}`,
        '--name',
        'x',
        '--org',
        'org_01ARZ3NDEKTSV4RRFFQ69G5FAV',
        '--scopes',
        'events',
      ],
      { cwd: dir }
    );
    assert.notEqual(r.code, 0);
    assert.match(r.stderr, /org/);
    assert.equal(r.stdout.trim(), '', 'no key is printed');
  });

  const bad = [
    [['keys'], 'no subcommand'],
    [['keys', 'mint'], 'an unknown subcommand'],
    [['keys', 'create', '--admin'], 'no --name'],
    [['keys', 'create', '--name', 'x'], 'neither --admin nor --org'],
    [['keys', 'create', '--name', 'x', '--admin', '--org', 'org_01ARZ3NDEKTSV4RRFFQ69G5FAV'], 'both --admin and --org'],
    [['keys', 'create', '--name', 'x', '--org', 'org_01ARZ3NDEKTSV4RRFFQ69G5FAV'], '--org without --scopes'],
    [['keys', 'create', '--name', 'x', '--org', 'org_01ARZ3NDEKTSV4RRFFQ69G5FAV', '--scopes', 'admin'], 'the admin scope on an org key'],
    [['keys', 'create', '--name', 'x', '--org', 'org_01ARZ3NDEKTSV4RRFFQ69G5FAV', '--scopes', 'events,bogus'], 'an unknown scope'],
    [['keys', 'create', '--name', 'x', '--admin', '--colour', 'red'], 'an unknown flag'],
    [['keys', 'create', '--name'], 'a flag without its value'],
  ];
  for (const [args, what] of bad) {
    it(`keys create with ${what} exits 2 with usage`, (t) => {
      const dir = tempDir(t);
      const db = `sqlite:${path.join(dir, 'h.db')}`;
      const full = args[1] === 'create' ? ['keys', 'create', '--db', db, ...args.slice(2)] : args;
      const r = runHookd(full, { cwd: dir, env: { HOOKD_DB: db } });
      assert.equal(r.code, 2, r.stderr);
      assert.match(r.stderr, /usage/i);
      assert.equal(r.stdout, '');
    });
  }
});

describe('hookd migrate', () => {
  it('prints "schema version N of N" and is idempotent', (t) => {
    const dir = tempDir(t);
    const db = `sqlite:${path.join(dir, 'hookd.db')}`;
    const first = runHookd(['migrate', '--db', db], { cwd: dir });
    assert.equal(first.code, 0, first.stderr);
    const m = /^schema version (\d+) of (\d+)$/m.exec(first.stdout);
    assert.ok(m, first.stdout);
    assert.equal(m[1], m[2]);
    assert.ok(Number(m[1]) >= 1);
    const second = runHookd(['migrate', '--db', db], { cwd: dir });
    assert.equal(second.code, 0, second.stderr);
    assert.equal(second.stdout, first.stdout);
  });

  it('a migrated database is served', async (t) => {
    const dir = tempDir(t);
    const r = runHookd(['migrate', '--db', `sqlite:${path.join(dir, 'hookd.db')}`], { cwd: dir });
    assert.equal(r.code, 0, r.stderr);
    const server = await serverFor(t, { dir });
    assert.equal((await api(server, 'GET', '/readyz')).status, 200);
  });

  it('an unknown flag of migrate exits 2', (t) => {
    const r = runHookd(['migrate', '--frob'], { cwd: tempDir(t) });
    assert.equal(r.code, 2);
    assert.match(r.stderr, /--frob/);
  });
});
