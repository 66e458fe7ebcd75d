// The bun:sqlite driver, under the Bun of this package's devDependencies (never one from the PATH): a script
// (fixtures/bun-check.ts) runs the repository there through the runtime and directly, with node:assert. The
// @jobs/testing suites need vitest, which does not run under Bun here; they run on better-sqlite3 and node:sqlite.
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { useTempFolder } from './test-support.js';

const packageDir = fileURLToPath(new URL('..', import.meta.url));
const folder = useTempFolder('jobs-sqlite-bun-');

describe('bun:sqlite under Bun', () => {
  it('runs jobs through the runtime, notifies, refuses, reports a busy file and keeps its jobs', () => {
    const bun = join(packageDir, 'node_modules', 'bun', 'bin', 'bun.exe');
    expect(existsSync(bun), `${bun} is missing: run \`pnpm install\` (allowBuilds: bun: true)`).toBe(true);
    const run = spawnSync(
      bun,
      ['--tsconfig-override=tsconfig.children.json', 'src/fixtures/bun-check.ts', folder('')],
      { cwd: packageDir, encoding: 'utf8', timeout: 60_000, env: { ...process.env, DO_NOT_TRACK: '1' } },
    );
    const output = `${run.stdout}${run.stderr}`;
    expect(run.status, output).toBe(0);
    expect(output).toMatch(
      /bun-check ok \(Bun \d+\.\d+\.\d+\): 50 jobs through the runtime; .*better-sqlite3 refused/,
    );
  });
});
