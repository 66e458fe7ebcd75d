#!/usr/bin/env node
// The install test: the @jobs packages as a user gets them. Packs every package with `pnpm pack` (as
// `pnpm publish` would), then creates throw-away consumer projects outside the workspace and installs into
// each, with npm, only the tarballs a user of that deployment picks plus their peers from the registry:
//
//   memory-http     core + memory + http-hono + client + dashboard, hono, @hono/node-server, zod: a service over
//                   real HTTP driven with fetch, the typed client and the `jobs-client` bin (also through npx),
//                   with the dashboard mounted behind its authorization hook;
//   postgres-amqp   core + repo-postgres + queue-amqp, pg, amqplib, zod: an API side and a worker host meeting
//                   through the local PostgreSQL (a schema of its own, dropped) and RabbitMQ (a queue prefix of
//                   its own, deleted);
//   sqlite          core + memory + repo-sqlite, better-sqlite3, zod: a runtime on a SQLite file in a temp
//                   folder with the in-memory queue, the job still there after the repository is reopened;
//   adapter-author  core + memory + testing, vitest, zod: the @jobs/testing contract suites run against the
//                   installed @jobs/memory, and templates/adapter type-checked against the installed types.
//
// Each runtime scenario runs as ESM (run.mjs) and as CommonJS (run.cjs); each consumer's TypeScript file is
// type-checked with tsc under moduleResolution node16 (ESM and CJS files) and bundler, skipLibCheck off.
// Peers are installed at the lowest version our peer ranges allow (JOBS_INSTALL_TEST_PEERS=latest for the
// newest); the workspace's own tests run the newest. npm's strict peer check is on.
//
// Needs `pnpm build` first, the npm registry (or a warm npm cache), PostgreSQL and RabbitMQ (see DESIGN.md), and
// for better-sqlite3 (a native module) either its prebuilt binary or a C++ toolchain with Node's headers: when
// npm_config_nodedir is not set and the running Node has its headers beside it, they are used.
// Everything is removed afterwards, also on failure or Ctrl-C; JOBS_INSTALL_TEST_KEEP=1 keeps the directory.
import { execFileSync, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import {
  cpSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));
const fixtures = join(root, 'scripts', 'install-test');
const started = Date.now();
const peersMode = process.env.JOBS_INSTALL_TEST_PEERS ?? 'lowest';
if (!['lowest', 'latest'].includes(peersMode)) throw new Error('JOBS_INSTALL_TEST_PEERS is lowest or latest');
const seconds = (since) => `${((Date.now() - since) / 1000).toFixed(1)} s`;
const log = (message) => console.log(`[${seconds(started).padStart(7)}] ${message}`);

const work = mkdtempSync(join(tmpdir(), 'jobs-install-test-'));
const running = new Set();
const token = randomBytes(4).toString('hex');
const brokerRuns = ['esm', 'cjs'].map((flavour) => ({
  flavour,
  schema: `jobs_install_test_${token}_${flavour}`,
  prefix: `jobs-install-test-${token}-${flavour}`,
}));
let cleanedUp = false;

/** Removes what the test created: the schemas and queues (through the installed pg and amqplib), the files. */
async function cleanup() {
  if (cleanedUp) return;
  cleanedUp = true;
  for (const child of running) killGroup(child);
  const brokerDir = join(work, 'postgres-amqp');
  if (
    existsSync(join(brokerDir, 'node_modules', 'pg')) &&
    existsSync(join(brokerDir, 'node_modules', 'amqplib'))
  ) {
    const result = await exec('node', ['cleanup.cjs'], {
      cwd: brokerDir,
      timeoutMs: 60_000,
      env: { JOBS_INSTALL_TEST_CLEANUP: JSON.stringify(brokerRuns) },
    }).catch((error) => ({ code: 1, output: String(error) }));
    if (result.code !== 0) console.error(`cleanup of schemas and queues failed:\n${result.output}`);
  }
  if (process.env.JOBS_INSTALL_TEST_KEEP === '1') console.log(`kept ${work}`);
  else rmSync(work, { recursive: true, force: true });
}
for (const signal of ['SIGINT', 'SIGTERM']) {
  process.once(signal, () => {
    console.error(`\n${signal}: cleaning up`);
    void cleanup().finally(() => process.exit(130));
  });
}

function killGroup(child) {
  try {
    process.kill(-child.pid, 'SIGKILL');
  } catch {
    child.kill('SIGKILL');
  }
}

/** Runs a command in its own process group, with a time limit; resolves with its exit code and output. */
function exec(command, args, { cwd, timeoutMs, env = {} }) {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, {
      cwd,
      env: { ...process.env, ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
      detached: true,
    });
    running.add(child);
    let output = '';
    let timedOut = false;
    child.stdout.on('data', (chunk) => {
      output += chunk;
    });
    child.stderr.on('data', (chunk) => {
      output += chunk;
    });
    const timer = setTimeout(() => {
      timedOut = true;
      killGroup(child);
    }, timeoutMs);
    child.on('error', (error) => {
      clearTimeout(timer);
      running.delete(child);
      reject(error);
    });
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      running.delete(child);
      if (timedOut) output += `\n(killed after ${timeoutMs / 1000} s: it did not finish or did not exit)`;
      if (signal && !timedOut) output += `\n(killed by ${signal})`;
      resolve({ code: timedOut || signal ? 1 : code, output: output.trim() });
    });
  });
}

class StepError extends Error {}

/**
 * For npm's builds of native modules (better-sqlite3 compiles with node-gyp when its prebuilt binary cannot be
 * downloaded): the headers of the running Node when they are installed beside it, so that node-gyp does not
 * download them. Nothing when npm is told already (npm_config_nodedir, or `nodedir` in an npmrc).
 */
function nodeHeadersEnv() {
  if (process.env.npm_config_nodedir) return {};
  const prefix = dirname(dirname(process.execPath));
  return existsSync(join(prefix, 'include', 'node', 'node_version.h')) ? { npm_config_nodedir: prefix } : {};
}

/** One checked step: its output is shown when it fails (and its last line when it passes). */
async function step(name, command, args, options) {
  const since = Date.now();
  const { code, output } = await exec(command, args, options);
  if (code !== 0) {
    throw new StepError(
      `✗ ${name} failed (exit ${code}, ${seconds(since)}):\n${output.replace(/^/gm, '    ')}`,
    );
  }
  const lines = output.split('\n').filter(Boolean);
  const last = (options.summary && lines.find((line) => options.summary.test(line))) || lines.at(-1);
  log(`✓ ${name} (${seconds(since)})${last ? `\n            ${last}` : ''}`);
}

/**
 * Waits for every chain of steps (a failure does not stop the others), then runs the `sequential` ones one
 * after the other (each whatever the previous did), then reports all failures at once.
 */
async function settle(chains, sequential = []) {
  const results = await Promise.allSettled(chains);
  for (const next of sequential) {
    results.push(
      await next().then(
        (value) => ({ status: 'fulfilled', value }),
        (reason) => ({ status: 'rejected', reason }),
      ),
    );
  }
  const failures = results.filter((result) => result.status === 'rejected');
  if (failures.length === 0) return;
  const messages = failures.map(({ reason }) =>
    reason instanceof StepError ? reason.message : String(reason),
  );
  throw new StepError(messages.join('\n'));
}

/** The version npm installs for a peer range: its lowest (`^3.2.0 || ^4.0.0` → 3.2.0), or the newest. */
function peerVersion(range) {
  if (peersMode === 'latest') return range;
  const lowest = range.split('||')[0].trim();
  const match = /^[\^~>=]*\s*(\d+\.\d+\.\d+)$/.exec(lowest);
  if (!match) throw new Error(`cannot tell the lowest version of the peer range ${range}`);
  return match[1];
}

try {
  // 1. Pack every publishable package, as `pnpm publish` would.
  const tarballDir = join(work, 'tarballs');
  mkdirSync(tarballDir);
  const packages = new Map();
  for (const dir of readdirSync(join(root, 'packages'))) {
    const packageDir = join(root, 'packages', dir);
    if (!existsSync(join(packageDir, 'package.json'))) continue;
    const manifest = JSON.parse(readFileSync(join(packageDir, 'package.json'), 'utf8'));
    if (manifest.private) continue;
    if (!existsSync(join(packageDir, 'dist')))
      throw new StepError(`packages/${dir} has no dist/: run pnpm build`);
    const packed = JSON.parse(
      execFileSync('pnpm', ['pack', '--json', '--pack-destination', tarballDir], {
        cwd: packageDir,
        encoding: 'utf8',
      }),
    );
    const unpacked = join(tarballDir, dir);
    mkdirSync(unpacked);
    execFileSync('tar', ['-xzf', packed.filename, '-C', unpacked]);
    const published = JSON.parse(readFileSync(join(unpacked, 'package', 'package.json'), 'utf8'));
    packages.set(manifest.name, { tarball: packed.filename, manifest: published });
  }
  log(`packed ${[...packages.keys()].join(', ')}`);

  // 2. The consumer projects: tarballs by path, the peers at the versions the published manifests ask for.
  const peerRange = (name) => {
    for (const { manifest } of packages.values()) {
      const range = manifest.peerDependencies?.[name];
      if (range) return range;
    }
    throw new Error(`no package has a peer dependency on ${name}`);
  };
  const tooling = { typescript: '~5.9.3', '@types/node': '^20.19.0' };
  const consumers = [
    {
      name: 'memory-http',
      jobs: ['@jobs/core', '@jobs/memory', '@jobs/http-hono', '@jobs/client', '@jobs/dashboard'],
      peers: ['zod', 'hono'],
      extra: { '@hono/node-server': '^1.19.0' },
    },
    {
      name: 'postgres-amqp',
      jobs: ['@jobs/core', '@jobs/repo-postgres', '@jobs/queue-amqp'],
      peers: ['zod', 'pg', 'amqplib', '@types/pg', '@types/amqplib'],
      extra: {},
    },
    {
      name: 'sqlite',
      jobs: ['@jobs/core', '@jobs/memory', '@jobs/repo-sqlite'],
      peers: ['zod', 'better-sqlite3'],
      extra: {},
    },
    {
      name: 'adapter-author',
      jobs: ['@jobs/core', '@jobs/memory', '@jobs/testing'],
      peers: ['zod', 'vitest'],
      extra: {},
    },
  ];
  for (const consumer of consumers) {
    const dir = join(work, consumer.name);
    consumer.dir = dir;
    cpSync(join(fixtures, consumer.name), dir, { recursive: true });
    const dependencies = Object.fromEntries([
      ...consumer.jobs.map((name) => [name, `file:${packages.get(name).tarball}`]),
      ...consumer.peers.map((name) => [name, peerVersion(peerRange(name))]),
      ...Object.entries(consumer.extra),
      ...Object.entries(tooling),
    ]);
    const manifest = {
      name: `jobs-install-test-${consumer.name}`,
      private: true,
      type: 'module',
      dependencies,
    };
    writeFileSync(join(dir, 'package.json'), `${JSON.stringify(manifest, null, 2)}\n`);
    const compilerOptions = {
      target: 'es2022',
      // No DOM types unless the consumer needs them (hono's own declarations use DOM's RequestInfo): our
      // declarations must not lean on them.
      lib: consumer.name === 'memory-http' ? ['es2023', 'dom', 'dom.iterable'] : ['es2023'],
      types: ['node'],
      strict: true,
      noUncheckedIndexedAccess: true,
      skipLibCheck: false,
      noEmit: true,
    };
    // The consumer's own .ts (ESM) and .cts (CommonJS) files; the adapter author's also the template's sources.
    const files = readdirSync(dir).filter((file) => /\.c?ts$/.test(file));
    const include = consumer.name === 'adapter-author' ? ['template/src/**/*.ts'] : [];
    const tsconfig = (options, only) =>
      JSON.stringify({
        compilerOptions: { ...compilerOptions, ...options },
        files: files.filter(only),
        include,
      });
    writeFileSync(
      join(dir, 'tsconfig.node16.json'),
      tsconfig({ module: 'node16', moduleResolution: 'node16' }, () => true),
    );
    // Bundler resolution reads the "import" condition: the ESM files only.
    writeFileSync(
      join(dir, 'tsconfig.bundler.json'),
      tsconfig({ module: 'preserve', moduleResolution: 'bundler' }, (file) => file.endsWith('.ts')),
    );
  }
  // The adapter template, type-checked against what an adapter author installs.
  cpSync(join(root, 'templates', 'adapter', 'src'), join(work, 'adapter-author', 'template', 'src'), {
    recursive: true,
  });

  // 3. Install each consumer once (in parallel, one npm cache), as a user would: npm, strict peer checks.
  const npmArgs = [
    'install',
    '--no-audit',
    '--no-fund',
    '--strict-peer-deps',
    '--prefer-offline',
    '--loglevel=error',
  ];
  await settle(
    consumers.map((consumer) =>
      step(`npm install (${consumer.name})`, 'npm', npmArgs, {
        cwd: consumer.dir,
        timeoutMs: 600_000,
        env: nodeHeadersEnv(),
      }),
    ),
  );
  const installed = (consumer, name) =>
    JSON.parse(readFileSync(join(consumer.dir, 'node_modules', name, 'package.json'), 'utf8')).version;
  for (const consumer of consumers) {
    log(
      `${consumer.name} peers: ${consumer.peers.map((name) => `${name}@${installed(consumer, name)}`).join(', ')}`,
    );
  }

  // 4. Run the scenarios and the type checks, the consumers side by side.
  const [memoryHttp, postgresAmqp, sqlite, adapterAuthor] = consumers;
  const tsc = (consumer, config) =>
    step(`tsc ${config} (${consumer.name})`, 'node', ['node_modules/typescript/bin/tsc', '-p', config], {
      cwd: consumer.dir,
      timeoutMs: 180_000,
    });
  const brokerEnv = (flavour) => {
    const run = brokerRuns.find((entry) => entry.flavour === flavour);
    return { JOBS_INSTALL_TEST_SCHEMA: run.schema, JOBS_INSTALL_TEST_PREFIX: run.prefix };
  };
  // Within a consumer the steps run one after the other, each whatever the previous one did.
  const sequence = async (steps) => settle([], steps);
  await settle([
    sequence([
      () =>
        step('node run.mjs (memory-http)', 'node', ['run.mjs'], { cwd: memoryHttp.dir, timeoutMs: 120_000 }),
      () =>
        step('node run.cjs (memory-http)', 'node', ['run.cjs'], { cwd: memoryHttp.dir, timeoutMs: 120_000 }),
      () => tsc(memoryHttp, 'tsconfig.node16.json'),
      () => tsc(memoryHttp, 'tsconfig.bundler.json'),
    ]),
    sequence(
      [
        ['run.mjs', 'esm'],
        ['run.cjs', 'cjs'],
      ]
        .map(
          ([script, flavour]) =>
            () =>
              step(`node ${script} (postgres-amqp)`, 'node', [script], {
                cwd: postgresAmqp.dir,
                timeoutMs: 120_000,
                env: brokerEnv(flavour),
              }),
        )
        .concat([
          () => tsc(postgresAmqp, 'tsconfig.node16.json'),
          () => tsc(postgresAmqp, 'tsconfig.bundler.json'),
        ]),
    ),
    sequence([
      () => step('node run.mjs (sqlite)', 'node', ['run.mjs'], { cwd: sqlite.dir, timeoutMs: 120_000 }),
      () => step('node run.cjs (sqlite)', 'node', ['run.cjs'], { cwd: sqlite.dir, timeoutMs: 120_000 }),
      () => tsc(sqlite, 'tsconfig.node16.json'),
      () => tsc(sqlite, 'tsconfig.bundler.json'),
    ]),
    sequence([
      () =>
        step(
          'vitest run: @jobs/testing suites on the installed @jobs/memory (adapter-author)',
          'node',
          ['node_modules/vitest/vitest.mjs', 'run', '--reporter=dot', 'memory-contract'],
          {
            cwd: adapterAuthor.dir,
            timeoutMs: 600_000,
            env: { CI: 'true', NO_COLOR: '1' },
            summary: /^\s*Tests\s/,
          },
        ),
      () => tsc(adapterAuthor, 'tsconfig.node16.json'),
      () => tsc(adapterAuthor, 'tsconfig.bundler.json'),
    ]),
  ]);
  await cleanup();
  log(`install test passed (peers: ${peersMode})`);
} catch (error) {
  console.error(error instanceof StepError ? error.message : error);
  await cleanup();
  log('install test failed');
  process.exitCode = 1;
}
