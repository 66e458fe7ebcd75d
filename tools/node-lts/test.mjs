// `pnpm test:node-lts`: the runtime-neutral test projects that need no PostgreSQL or RabbitMQ, run with vitest
// under Node 22 and Node 24 (binaries from this package's devDependencies; the system Node runs everything
// else), then the tests of what exists only on those versions (the node:sqlite driver of @jobs/repo-sqlite; its
// better-sqlite3 tests stay on the system Node, which the native module was built for). Extra arguments are
// passed on to vitest (e.g. `pnpm test:node-lts --reporter=dot`). Exits non-zero if a run fails or a binary is
// missing.
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const projects = [
  'core',
  'memory',
  'testing',
  'http-hono',
  'client',
  'dashboard',
  'node-memory',
  'generated-client',
];
/** Test files of other projects that need Node 22 or later: `[project, file filter]`. */
const newerNodeOnly = [['repo-sqlite', 'src/node-sqlite.test.ts']];
const runtimes = ['node22', 'node24'];

const root = fileURLToPath(new URL('../..', import.meta.url));
const vitest = join(root, 'node_modules', 'vitest', 'vitest.mjs');
const require = createRequire(import.meta.url);

function binaryOf(alias) {
  let binary;
  try {
    binary = join(dirname(require.resolve(`${alias}/package.json`)), 'bin', 'node');
  } catch {
    throw new Error(`${alias} is not installed in tools/node-lts: run \`pnpm install\`.`);
  }
  if (!existsSync(binary)) throw new Error(`${binary} is missing: run \`pnpm install\`.`);
  return binary;
}

const results = [];
for (const alias of runtimes) {
  const binary = binaryOf(alias);
  const version = spawnSync(binary, ['--version'], { encoding: 'utf8' }).stdout.trim();
  const runs = [
    projects.flatMap((project) => ['--project', project]),
    ...newerNodeOnly.map(([project, file]) => ['--project', project, file]),
  ];
  for (const selection of runs) {
    console.log(`\n=== vitest ${selection.join(' ')} under Node ${version} (${binary})\n`);
    const started = performance.now();
    const run = spawnSync(binary, [vitest, 'run', ...selection, ...process.argv.slice(2)], {
      cwd: root,
      stdio: 'inherit',
    });
    const seconds = ((performance.now() - started) / 1000).toFixed(1);
    const passed = run.status === 0;
    results.push({
      version: `${version} (${selection.filter((arg) => arg !== '--project').join(' ')})`,
      passed,
      seconds,
    });
    if (run.error) console.error(run.error);
  }
}

console.log();
for (const { version, passed, seconds } of results)
  console.log(`Node ${version}: ${passed ? 'passed' : 'FAILED'} in ${seconds} s`);
process.exitCode = results.every((result) => result.passed) ? 0 : 1;
