import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, afterEach } from 'vitest';

/**
 * A folder of its own in the system's temp directory for this test file's databases, removed after the file's
 * tests. Returns a function that names a database file in it.
 */
export function useTempFolder(prefix = 'jobs-sqlite-'): (name: string) => string {
  const folder = mkdtempSync(join(tmpdir(), prefix));
  afterAll(() => rmSync(folder, { recursive: true, force: true }));
  return (name) => join(folder, name);
}

export interface Child {
  child: ChildProcess;
  /** Everything it printed so far (stdout and stderr). */
  output(): string;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

const children = new Set<ChildProcess>();
afterEach(() => {
  for (const child of children)
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  children.clear();
});

/**
 * Starts `src/fixtures/<script>` in a Node process of its own (the Node running the tests), through tsx, with the
 * workspace packages from their sources (tsconfig.children.json); killed after the test if still running.
 */
export function startChild(script: string, env: Record<string, string>): Child {
  const packageDir = fileURLToPath(new URL('..', import.meta.url));
  const child = spawn(process.execPath, ['--import', 'tsx', join('src', 'fixtures', script)], {
    cwd: packageDir,
    env: { ...process.env, ...env, TSX_TSCONFIG_PATH: join(packageDir, 'tsconfig.children.json') },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  children.add(child);
  let output = '';
  child.stdout!.setEncoding('utf8').on('data', (text: string) => {
    output += text;
  });
  child.stderr!.setEncoding('utf8').on('data', (text: string) => {
    output += text;
  });
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => {
    child.once('exit', (code, signal) => resolve({ code, signal }));
  });
  return { child, output: () => output, exited };
}
