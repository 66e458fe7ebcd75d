// The test of the Bun and Deno examples (run under Node with vitest): finds the runtime binary that the
// workspace installed, starts the example as a real child process, runs one job through its HTTP API and stops
// it with SIGINT. Each example's main.test.ts calls `exampleSuite`.
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, describe, expect, it } from 'vitest';

/**
 * The binary that an npm package (`bun`, `deno`) installed in the example's node_modules: never one from the
 * PATH. Throws with what to do when it is missing or does not run (its postinstall script must have run).
 */
export function installedBinary(exampleDir: string, pkg: string, relativePath: string): string {
  // The example's own node_modules only: no resolution through parent folders or NODE_PATH.
  const packageDir = join(exampleDir, 'node_modules', pkg);
  if (!existsSync(join(packageDir, 'package.json')))
    throw new Error(`The npm package "${pkg}" is not installed in ${exampleDir}: run \`pnpm install\`.`);
  const binary = join(packageDir, relativePath);
  const version = existsSync(binary)
    ? spawnSync(binary, ['--version'], {
        encoding: 'utf8',
        timeout: 30_000,
        env: { ...process.env, DENO_NO_UPDATE_CHECK: '1' },
      })
    : null;
  if (!version || version.status !== 0) {
    throw new Error(
      `${binary} ${version ? `does not run:\n${version.stderr || version.error?.message}` : 'is missing'}\n` +
        `The "${pkg}" package installs its binary in a postinstall script: pnpm-workspace.yaml must allow it ` +
        `(allowBuilds: ${pkg}: true), then run \`pnpm install\`.`,
    );
  }
  return binary;
}

interface ExampleProcess {
  child: ChildProcess;
  /** e.g. http://127.0.0.1:41234, read from the banner. */
  origin: string;
  /** Everything the process printed so far (stdout and stderr). */
  output(): string;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

/**
 * Starts `binary args…` in `cwd` on a free port (PORT=0), its jobs in a SQLite file in `dataDir`, and waits for
 * its "listening on" banner.
 */
async function startExample(
  binary: string,
  args: string[],
  cwd: string,
  dataDir: string,
): Promise<ExampleProcess> {
  const child = spawn(binary, args, {
    cwd,
    // No update check (Deno) or crash report upload (Bun): tests reach nothing beyond this machine.
    env: {
      ...process.env,
      PORT: '0',
      HOST: '127.0.0.1',
      JOBS_DATA_DIR: dataDir,
      NO_COLOR: '1',
      DENO_NO_UPDATE_CHECK: '1',
      DO_NOT_TRACK: '1',
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => {
    child.once('exit', (code, signal) => resolve({ code, signal }));
  });
  const origin = await new Promise<string>((resolve, reject) => {
    const collect = (text: string) => {
      output += text;
      const match = /listening on (http:\/\/\S+)/.exec(output);
      if (match) resolve(match[1]!);
    };
    child.stdout!.setEncoding('utf8').on('data', collect);
    child.stderr!.setEncoding('utf8').on('data', collect);
    child.once('error', reject);
    void exited.then(({ code, signal }) =>
      reject(
        new Error(`${binary} ${args.join(' ')} exited (${code ?? signal}) before listening:\n${output}`),
      ),
    );
  });
  return { child, origin, output: () => output, exited };
}

/** Kills the process if a test left it running. */
function killIfRunning(example: ExampleProcess | null): void {
  const child = example?.child;
  if (child && child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
}

/**
 * One real job through the HTTP API: POST → 202 with Location → wait on the job URL → 303 to the output →
 * the output → its event stream → DELETE → 404.
 */
async function runOneJob(origin: string): Promise<void> {
  const post = await fetch(`${origin}/jobs/compress`, {
    method: 'POST',
    headers: { 'Content-Type': 'application/json' },
    body: JSON.stringify({ megabytes: 4, level: 1 }),
  });
  expect(post.status).toBe(202);
  const created = await post.json();
  const location = post.headers.get('location');
  expect(location).toBe(`/jobs/compress/${created.id}`);
  expect(['queued', 'running', 'succeeded']).toContain(created.status);

  // Long-poll the job URL as a client would, until it answers 303 (a loaded machine may need more than one wait).
  let response: Response;
  do {
    response = await fetch(`${origin}${location}`, { headers: { Prefer: 'wait=30' }, redirect: 'manual' });
    if (response.status === 200) {
      const job = await response.json();
      expect(['queued', 'running']).toContain(job.status);
    }
  } while (response.status === 200);
  expect(response.status).toBe(303);
  const job = await response.json();
  expect(job).toMatchObject({ id: created.id, status: 'succeeded', attempt: 1 });
  expect(response.headers.get('location')).toBe(`/jobs/compress/${created.id}/output`);

  const result = await fetch(`${origin}${response.headers.get('location')}`);
  expect(result.status).toBe(200);
  const output = await result.json();
  expect(output).toMatchObject({
    inputBytes: 4 * 1024 * 1024,
    sha256: expect.stringMatching(/^[0-9a-f]{64}$/),
  });
  expect(output.outputBytes).toBeGreaterThan(0);
  expect(output.outputBytes).toBeLessThan(output.inputBytes);

  // The event stream of a finished job: its final status, then the stream ends.
  const events = await fetch(`${origin}${location}/events`);
  expect(events.status).toBe(200);
  expect(events.headers.get('content-type')).toMatch(/^text\/event-stream/);
  expect(await events.text()).toMatch(/event: status\n(id: .*\n)?data: \{.*"status":"succeeded"/);

  const removed = await fetch(`${origin}${location}`, { method: 'DELETE' });
  expect(removed.status).toBe(204);
  expect((await fetch(`${origin}${location}`)).status).toBe(404);
}

/** `/` redirects to the reference page; the OpenAPI document lists both endpoints. */
async function checkReference(origin: string): Promise<void> {
  const docs = await fetch(`${origin}/`);
  expect(docs.status).toBe(200);
  expect(docs.url).toBe(`${origin}/jobs/docs`);
  expect(docs.headers.get('content-type')).toMatch(/^text\/html/);
  const openapi = await (await fetch(`${origin}/jobs/openapi.json`)).json();
  expect(Object.keys(openapi.paths)).toEqual(
    expect.arrayContaining(['/ping', '/compress', '/compress/{id}']),
  );
}

/** SIGINT, then the process must end on its own with code 0 after its graceful stop. */
async function stopWithSigint(example: ExampleProcess): Promise<void> {
  example.child.kill('SIGINT');
  const { code, signal } = await example.exited;
  expect({ code, signal, output: example.output() }).toMatchObject({ code: 0, signal: null });
  expect(example.output()).toContain('Stopped.');
}

/**
 * The example's test: `runtime` names it ("Bun"), `exampleDir` is its folder, and `command` gives the binary
 * and arguments that its `pnpm start` runs (resolved inside the test, so a missing binary fails the test).
 */
export function exampleSuite(
  runtime: string,
  exampleDir: string,
  command: () => { binary: string; args: string[] },
): void {
  describe(`examples/${runtime.toLowerCase()}`, () => {
    let example: ExampleProcess | null = null;
    const dataDir = mkdtempSync(join(tmpdir(), `jobs-${runtime.toLowerCase()}-example-`));
    afterEach(() => {
      killIfRunning(example);
      example = null;
    });
    afterAll(() => rmSync(dataDir, { recursive: true, force: true }));

    it(`serves the API on ${runtime}, runs a job POST → 202 → 303 → output → DELETE, serves the reference, and stops cleanly on SIGINT`, async () => {
      const { binary, args } = command();
      example = await startExample(binary, args, exampleDir, dataDir);
      expect(example.output()).toMatch(
        new RegExp(`jobs quick start on ${runtime} \\d+\\.\\d+\\.\\d+ \\(SQLite\\) is listening on`),
      );
      expect(example.output()).toContain(`SQLite file ${dataDir}/jobs.sqlite`);
      await runOneJob(example.origin);
      await checkReference(example.origin);
      await stopWithSigint(example);
      expect(existsSync(join(dataDir, 'jobs.sqlite'))).toBe(true);
    });
  });
}
