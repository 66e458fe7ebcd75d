// The `jobs` command as a real child process, built from source with tsup into a temporary directory.
import { spawn } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'tsup';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { type JobsServer, startJobsServer, until } from './test-support.js';

vi.setConfig({ testTimeout: 20_000, hookTimeout: 60_000 });

let server: JobsServer;
let directory: string;
let cli: string;

beforeAll(async () => {
  directory = await mkdtemp(join(tmpdir(), 'jobs-cli-'));
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
  cli = join(directory, 'cli.mjs');
  server = await startJobsServer();
});

afterAll(async () => {
  await server?.close();
  if (directory) await rm(directory, { recursive: true, force: true });
});

interface Result {
  code: number | null;
  stdout: string;
  stderr: string;
}

function jobs(args: string[], stdin?: string): Promise<Result> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [cli, ...args], { stdio: ['pipe', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => {
      stdout += chunk;
    });
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => {
      stderr += chunk;
    });
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stdout, stderr }));
    child.stdin.end(stdin ?? '');
  });
}

const endpointUrl = (name: string) => `${server.baseUrl}/${name}`;
let tags = 0;
const newTag = () => `cli${++tags}`;

describe('jobs CLI', () => {
  it('submit prints the job; get, wait and output take its URL', async () => {
    const submitted = await jobs(['submit', endpointUrl('ping'), '{"message":"cli"}']);
    expect(submitted.stderr).toBe('');
    expect(submitted.code).toBe(0);
    const job = JSON.parse(submitted.stdout);
    expect(job).toMatchObject({ endpoint: 'ping', id: expect.any(String) });
    expect(job.links.self).toBe(`${endpointUrl('ping')}/${job.id}`);

    const waited = await jobs(['wait', job.links.self]);
    expect(waited.code).toBe(0);
    expect(JSON.parse(waited.stdout)).toMatchObject({ id: job.id, status: 'succeeded' });

    const got = await jobs(['get', job.links.self]);
    expect(JSON.parse(got.stdout)).toMatchObject({
      id: job.id,
      status: 'succeeded',
      createdAt: job.createdAt,
    });

    const output = await jobs(['output', job.links.self]);
    expect(output.code).toBe(0);
    expect(JSON.parse(output.stdout)).toEqual({ pong: 'cli' });
  });

  it('submit --wait prints the output; input can come from stdin; the idempotency key is sent', async () => {
    const result = await jobs(
      ['submit', endpointUrl('ping'), '-', '--wait', '--idempotency-key', 'cli-key-1'],
      '{"message":"from stdin"}',
    );
    expect(result.code).toBe(0);
    expect(JSON.parse(result.stdout)).toEqual({ pong: 'from stdin' });
    expect(server.requests.some((request) => request.idempotencyKey === '"cli-key-1"')).toBe(true);
  });

  it('exits 3 with the job when it failed', async () => {
    const result = await jobs([
      'submit',
      endpointUrl('task'),
      JSON.stringify({ tag: newTag(), fail: true }),
      '--wait',
    ]);
    expect(result.code).toBe(3);
    const job = JSON.parse(result.stdout);
    expect(job.status).toBe('failed');
    expect(JSON.parse(result.stderr).problem).toMatchObject({ code: 'job_failed' });
    expect((await jobs(['wait', job.links.self])).code).toBe(3);
  });

  it('cancel prints the outcome; waiting on the canceled job exits 4', async () => {
    const tag = newTag();
    const job = JSON.parse(
      (await jobs(['submit', endpointUrl('task'), JSON.stringify({ tag, steps: 1 })])).stdout,
    );
    const canceled = await jobs(['cancel', job.links.self]);
    expect(canceled.code).toBe(0);
    expect(['canceled', 'cancel_requested']).toContain(JSON.parse(canceled.stdout).outcome);
    const waited = await jobs(['wait', job.links.self]);
    expect(waited.code).toBe(4);
    expect(JSON.parse(waited.stdout).status).toBe('canceled');
    expect(JSON.parse((await jobs(['delete', job.links.self])).stdout)).toEqual({ outcome: 'removed' });
  });

  it('exits 5 when the wait times out, printing the last state', async () => {
    const tag = newTag();
    const job = JSON.parse(
      (await jobs(['submit', endpointUrl('task'), JSON.stringify({ tag, steps: 1 })])).stdout,
    );
    const result = await jobs(['wait', job.links.self, '--timeout', '1']);
    expect(result.code).toBe(5);
    expect(['queued', 'running']).toContain(JSON.parse(result.stdout).status);
    server.gates.release(tag);
    expect((await jobs(['wait', job.links.self, '--poll'])).code).toBe(0);
  });

  it('events prints one JSON line per event until the job is final', async () => {
    const tag = newTag();
    const job = JSON.parse(
      (await jobs(['submit', endpointUrl('task'), JSON.stringify({ tag, steps: 1 })])).stdout,
    );
    const events = jobs(['events', job.links.self]);
    await until(() => server.requests.some((request) => request.path === `/jobs/task/${job.id}/events`));
    server.gates.release(tag);
    const result = await events;
    expect(result.code).toBe(0);
    const lines = result.stdout
      .trim()
      .split('\n')
      .map((line) => JSON.parse(line));
    expect(lines.length).toBeGreaterThanOrEqual(2);
    expect(lines.at(-1)).toMatchObject({ type: 'status', job: { id: job.id, status: 'succeeded' } });
  });

  it('list prints a page, or every job with --all', async () => {
    for (const message of ['l1', 'l2', 'l3']) {
      await jobs(['submit', endpointUrl('ping'), JSON.stringify({ message }), '--wait']);
    }
    const page = JSON.parse((await jobs(['list', endpointUrl('ping'), '--limit', '2'])).stdout);
    expect(page.jobs).toHaveLength(2);
    expect(page.nextCursor).toEqual(expect.any(String));
    const all = await jobs(['list', endpointUrl('ping'), '--all', '--limit=2', '--status', 'succeeded']);
    expect(all.code).toBe(0);
    const jobsList = JSON.parse(all.stdout);
    expect(jobsList.length).toBeGreaterThanOrEqual(3);
    expect(jobsList.every((job: { status: string }) => job.status === 'succeeded')).toBe(true);
  });

  it('exits 1 with the problem on stderr for an HTTP error', async () => {
    const unknown = await jobs(['get', `${endpointUrl('ping')}/00000000-0000-4000-8000-000000000000`]);
    expect(unknown.code).toBe(1);
    expect(unknown.stdout).toBe('');
    expect(JSON.parse(unknown.stderr)).toMatchObject({ status: 404, problem: { code: 'not_found' } });

    const invalid = await jobs(['submit', endpointUrl('ping'), '{"message":1}']);
    expect(invalid.code).toBe(1);
    expect(JSON.parse(invalid.stderr)).toMatchObject({ status: 422, problem: { code: 'invalid_input' } });
  });

  it('exits 2 on usage errors, 0 for --help', async () => {
    expect((await jobs([])).code).toBe(2);
    expect((await jobs(['frobnicate', endpointUrl('ping')])).code).toBe(2);
    expect((await jobs(['get', 'not a url'])).code).toBe(2);
    expect((await jobs(['get', server.origin])).code).toBe(2);
    expect((await jobs(['submit', endpointUrl('ping'), '{not json'])).code).toBe(2);
    expect((await jobs(['get', endpointUrl('ping'), '--bogus'])).code).toBe(2);
    expect((await jobs(['list', endpointUrl('ping'), '--status', 'sleeping'])).code).toBe(2);
    const help = await jobs(['--help']);
    expect(help.code).toBe(0);
    expect(help.stdout).toContain('Exit codes:');
  });
});
