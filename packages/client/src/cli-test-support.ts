// Test helpers of the `jobs-client` command (not part of the build): the command built from source with tsup into a
// temporary directory, run as a child process.
import { type ChildProcessWithoutNullStreams, spawn } from 'node:child_process';
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'tsup';
import { until } from './test-support.js';

export interface BuiltCli {
  /** The built command (an ES module with a shebang), to run with `node`. */
  path: string;
  remove(): Promise<void>;
}

/**
 * Builds src/cli.ts as the package does (ESM for Node), into a temporary directory under the package's
 * node_modules: tsup keeps the package's dependencies external when it runs from the package's folder, and they
 * must resolve from where the bundle is (from the workspace root it bundles them instead; both work).
 */
export async function buildCli(): Promise<BuiltCli> {
  const cacheDirectory = fileURLToPath(new URL('../node_modules/.cache/', import.meta.url));
  await mkdir(cacheDirectory, { recursive: true });
  const directory = await mkdtemp(join(cacheDirectory, 'jobs-cli-'));
  await build({
    entry: { cli: fileURLToPath(new URL('./cli.ts', import.meta.url)) },
    outDir: directory,
    format: ['esm'],
    platform: 'node',
    target: 'node20',
    outExtension: () => ({ js: '.mjs' }),
    dts: false,
    sourcemap: false,
    clean: false,
    silent: true,
    config: false,
  });
  return {
    path: join(directory, 'cli.mjs'),
    remove: () => rm(directory, { recursive: true, force: true }),
  };
}

export interface CliResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** A running `jobs-client` process whose output the test reads as it comes. */
export interface CliProcess {
  child: ChildProcessWithoutNullStreams;
  readonly stdout: string;
  readonly stderr: string;
  /** Resolves once `predicate` holds for the output so far. */
  waitFor(predicate: (output: { stdout: string; stderr: string }) => boolean): Promise<void>;
  /** Resolves when the process exited. */
  result: Promise<CliResult>;
}

/**
 * The variables by which the command tells how it was run (pnpm and npx set them, and so does `pnpm exec
 * vitest`), emptied: as if run directly, by its bin's name.
 */
export const INVOKED_DIRECTLY = { npm_command: '', npm_lifecycle_event: '', npm_config_user_agent: '' };

export interface StartOptions {
  stdin?: string;
  /** Added to the environment. */
  env?: Record<string, string>;
  cwd?: string;
}

/** Starts `node <cli> ...args` with pipes (not a terminal). */
export function startCli(cli: string, args: string[], options: StartOptions = {}): CliProcess {
  return startProcess(process.execPath, [cli, ...args], options);
}

/** Starts `command ...args` with pipes. */
export function startProcess(command: string, args: string[], options: StartOptions = {}): CliProcess {
  const child = spawn(command, args, {
    stdio: ['pipe', 'pipe', 'pipe'],
    env: { ...process.env, ...INVOKED_DIRECTLY, ...options.env },
    ...(options.cwd ? { cwd: options.cwd } : {}),
  });
  const output = { stdout: '', stderr: '' };
  child.stdout.setEncoding('utf8').on('data', (chunk: string) => {
    output.stdout += chunk;
  });
  child.stderr.setEncoding('utf8').on('data', (chunk: string) => {
    output.stderr += chunk;
  });
  const result = new Promise<CliResult>((resolve, reject) => {
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, ...output }));
  });
  child.stdin.end(options.stdin ?? '');
  return {
    child,
    get stdout() {
      return output.stdout;
    },
    get stderr() {
      return output.stderr;
    },
    waitFor: (predicate) => until(() => predicate(output)),
    result,
  };
}

/** Runs `node <cli> ...args` to its end. */
export function runCli(cli: string, args: string[], stdin?: string): Promise<CliResult> {
  return startCli(cli, args, stdin === undefined ? {} : { stdin }).result;
}

/** The last JSON document in `text` (the error the command prints after its progress lines). */
export function lastJson(text: string): any {
  const start = text.lastIndexOf('\n{') + 1;
  return JSON.parse(text.slice(start));
}
