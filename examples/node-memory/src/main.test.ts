import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, afterEach, describe, expect, it } from 'vitest';

const exampleDir = fileURLToPath(new URL('..', import.meta.url));
// The data folders of these tests (JOBS_DATA_DIR), never the example's own data/.
const dataRoot = mkdtempSync(join(tmpdir(), 'jobs-quick-start-'));
afterAll(() => rmSync(dataRoot, { recursive: true, force: true }));
let dataFolders = 0;
const newDataFolder = () => join(dataRoot, `data-${++dataFolders}`);

interface Started {
  child: ChildProcess;
  origin: string;
  output: () => string;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

let running: ChildProcess | null = null;

afterEach(() => {
  if (running && running.exitCode === null && running.signalCode === null) running.kill('SIGKILL');
  running = null;
});

/**
 * Starts the quick start exactly as `pnpm start` does, on a free port (PORT=0), with its data in `dataDir`, and
 * waits for its banner.
 */
async function startQuickStart(
  dataDir: string,
  args: string[] = [],
  env: Record<string, string> = {},
): Promise<Started> {
  const child = spawn(process.execPath, ['--import', 'tsx', 'src/main.ts', ...args], {
    cwd: exampleDir,
    env: { ...process.env, PORT: '0', HOST: '127.0.0.1', JOBS_DATA_DIR: dataDir, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  running = child;
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
  const origin = await new Promise<string>((resolve, reject) => {
    const check = () => {
      const match = /listening on (http:\/\/\S+)/.exec(output);
      if (match) {
        child.stdout!.off('data', check);
        resolve(match[1]!.replace('localhost', '127.0.0.1'));
      }
    };
    child.stdout!.on('data', check);
    void exited.then(({ code }) =>
      reject(new Error(`The quick start exited (${code}) before listening:\n${output}`)),
    );
  });
  return { child, origin, output: () => output, exited };
}

describe('examples/node-memory', () => {
  it('serves the API, runs a real job POST → 303 → output → DELETE, lists its every-minute schedule, and stops cleanly on SIGINT', async () => {
    const { child, origin, output, exited } = await startQuickStart(newDataFolder());
    expect(output()).toContain(`/jobs/docs`);
    expect(output()).toContain('curl -i ');

    const post = await fetch(`${origin}/jobs/compress`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json', Prefer: 'wait=60' },
      body: JSON.stringify({ megabytes: 4, level: 1 }),
      redirect: 'manual',
    });
    // Under a heavily loaded machine the job may outlast the wait: then poll the job URL as a client would.
    let response = post;
    while (response.status === 202) {
      const location = response.headers.get('location')!;
      response = await fetch(`${origin}${location}`, { headers: { Prefer: 'wait=30' }, redirect: 'manual' });
    }
    expect(response.status).toBe(303);
    const job = await response.json();
    expect(job.status).toBe('succeeded');
    expect(job.estimatedCompletionAt).not.toBeNull();
    const outputUrl = response.headers.get('location')!;
    expect(outputUrl).toBe(`/jobs/compress/${job.id}/output`);

    const result = await fetch(`${origin}${outputUrl}`);
    expect(result.status).toBe(200);
    const body = await result.json();
    expect(body).toMatchObject({
      inputBytes: 4 * 1024 * 1024,
      sha256: expect.stringMatching(/^[0-9a-f]{64}$/),
    });
    expect(body.outputBytes).toBeGreaterThan(0);
    expect(body.outputBytes).toBeLessThan(body.inputBytes);

    const removed = await fetch(`${origin}/jobs/compress/${job.id}`, { method: 'DELETE' });
    expect(removed.status).toBe(204);
    expect((await fetch(`${origin}/jobs/compress/${job.id}`)).status).toBe(404);

    const ping = await fetch(`${origin}/jobs/ping`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json', Prefer: 'wait=30' },
      body: '{"message":"hi"}',
    });
    expect(ping.status).toBe(200); // the 303 was followed to the output
    expect(await ping.json()).toMatchObject({ pong: 'hi' });

    // Prometheus text over the same socket: the runtime's counters, after the two jobs.
    const scraped = await fetch(`${origin}/metrics`);
    expect(scraped.status).toBe(200);
    expect(scraped.headers.get('content-type')).toContain('text/plain');
    const text = await scraped.text();
    // One compress job; the ping every minute may have added a scheduled ping to the one posted.
    for (const [endpoint, count] of [
      ['compress', '1'],
      ['ping', '[12]'],
    ]) {
      for (const counter of ['jobs_submitted_total', 'jobs_succeeded_total']) {
        expect(text).toMatch(
          new RegExp(`^${counter}\\{[^}]*jobs_endpoint="${endpoint}"[^}]*\\} ${count}$`, 'm'),
        );
      }
    }
    expect(text).toMatch(
      /^messaging_process_duration_count\{[^}]*messaging_destination_name="compress"[^}]*\} 1$/m,
    );
    expect(text).toMatch(/^jobs_running\{[^}]*jobs_endpoint="compress"[^}]*\} 0$/m);

    const docs = await fetch(`${origin}/`);
    expect(docs.status).toBe(200);
    expect(docs.url).toBe(`${origin}/jobs/docs`);
    expect(await docs.text()).toContain('jobs quick start');
    const openapi = await (await fetch(`${origin}/jobs/openapi.json`)).json();
    expect(Object.keys(openapi.paths)).toEqual(
      expect.arrayContaining(['/ping', '/compress', '/compress/{id}/events', '/ping/schedules']),
    );

    // The quick start's recurring schedule: a ping at the start of every minute.
    const schedules = await fetch(`${origin}/jobs/ping/schedules`);
    expect(schedules.status).toBe(200);
    const { schedules: listed } = await schedules.json();
    expect(listed).toEqual([
      expect.objectContaining({
        name: 'ping-every-minute',
        endpoint: 'ping',
        cron: '* * * * *',
        timeZone: null,
        everyMs: null,
        missed: 'skip',
      }),
    ]);
    const next = new Date(listed[0].nextOccurrenceAt);
    expect(next.getUTCSeconds() * 1000 + next.getUTCMilliseconds()).toBe(0);
    expect((await fetch(`${origin}/jobs/compress/schedules`).then((r) => r.json())).schedules).toEqual([]);

    child.kill('SIGINT');
    const { code, signal } = await exited;
    expect(signal).toBeNull();
    expect(code).toBe(0);
    expect(output()).toContain('Stopped.');
  });

  it('keeps its jobs in a SQLite file: a second start still has the job of the first; --memory does not', async () => {
    const dataDir = newDataFolder();
    const first = await startQuickStart(dataDir);
    expect(first.output()).toContain(`Jobs:       SQLite file ${dataDir}/jobs.sqlite`);
    const post = await fetch(`${first.origin}/jobs/ping`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json', Prefer: 'wait=30' },
      body: '{"message":"remember me"}',
      redirect: 'manual',
    });
    expect(post.status).toBe(303);
    const job = await post.json();
    expect(job).toMatchObject({ status: 'succeeded' });
    await stop(first);
    expect(existsSync(join(dataDir, 'jobs.sqlite'))).toBe(true);

    const second = await startQuickStart(dataDir);
    const again = await fetch(`${second.origin}/jobs/ping/${job.id}`, { redirect: 'manual' });
    expect(again.status).toBe(303);
    expect(await again.json()).toMatchObject({ id: job.id, status: 'succeeded', createdAt: job.createdAt });
    const output = await fetch(`${second.origin}/jobs/ping/${job.id}/output`);
    expect(await output.json()).toMatchObject({ pong: 'remember me' });
    await stop(second);

    for (const [args, env] of [
      [['--memory'], {}],
      [[], { JOBS_MEMORY: '1' }],
    ] as const) {
      const memory = await startQuickStart(dataDir, [...args], env);
      expect(memory.output()).toContain('Jobs:       in memory');
      expect((await fetch(`${memory.origin}/jobs/ping/${job.id}`)).status).toBe(404);
      await stop(memory);
    }
  });
});

/** SIGINT, and the process ends by itself with code 0. */
async function stop(started: Started): Promise<void> {
  started.child.kill('SIGINT');
  expect(await started.exited).toMatchObject({ code: 0, signal: null });
}
