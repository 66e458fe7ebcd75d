// The `jobs` command as a real child process with pipes (not a terminal; cli-tty.test.ts runs it on one),
// built from source with tsup into a temporary directory, against the real stack.

import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { COMMANDS } from './cli-args.js';
import { type BuiltCli, buildCli, lastJson, runCli, startCli, startProcess } from './cli-test-support.js';
import { type JobsServer, type Served, serveFetch, startJobsServer, until } from './test-support.js';

vi.setConfig({ testTimeout: 20_000, hookTimeout: 60_000 });

let server: JobsServer;
let built: BuiltCli;

beforeAll(async () => {
  [built, server] = await Promise.all([buildCli(), startJobsServer()]);
});

afterAll(async () => {
  await server?.close();
  await built?.remove();
});

const jobs = (args: string[], stdin?: string) => runCli(built.path, args, stdin);
const endpointUrl = (name: string) => `${server.baseUrl}/${name}`;
let tags = 0;
const newTag = () => `cli${++tags}`;

async function submitTask(tag: string, steps: number) {
  const submitted = await jobs(['submit', endpointUrl('task'), JSON.stringify({ tag, steps })]);
  expect(submitted.code).toBe(0);
  return JSON.parse(submitted.stdout) as { id: string; links: { self: string } };
}

/** `submit <task> {tag, steps} --wait ...options`, running. */
const submitAndWait = (tag: string, steps: number, ...options: string[]) =>
  startCli(built.path, ['submit', endpointUrl('task'), JSON.stringify({ tag, steps }), '--wait', ...options]);

const jsonLines = (text: string) =>
  text
    .trim()
    .split('\n')
    .map((line) => JSON.parse(line));

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

  it('retry queues a failed job again and prints it; a succeeded one exits 1 with the problem', async () => {
    const submitted = await jobs([
      'submit',
      endpointUrl('task'),
      JSON.stringify({ tag: newTag(), fail: true }),
    ]);
    const job = JSON.parse(submitted.stdout);
    expect((await jobs(['wait', job.links.self])).code).toBe(3);
    const retried = await jobs(['retry', job.links.self]);
    expect(retried.stderr).toBe('');
    expect(retried.code).toBe(0);
    expect(JSON.parse(retried.stdout)).toMatchObject({
      id: job.id,
      status: 'queued',
      attempt: 1,
      maxAttempts: 2,
    });

    const ping = JSON.parse((await jobs(['submit', endpointUrl('ping'), '{"message":"ok"}'])).stdout);
    await jobs(['wait', ping.links.self]);
    const refused = await jobs(['retry', ping.links.self]);
    expect(refused.code).toBe(1);
    expect(refused.stderr).toContain('not_retryable');
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

  it('submit --delay/--run-at and --priority schedule the job (Job-Delay, Job-Run-At, Job-Priority)', async () => {
    const delayed = await jobs([
      'submit',
      endpointUrl('ping'),
      '{"message":"later"}',
      '--delay',
      '2.5',
      '--priority=-5',
    ]);
    expect(delayed.stderr).toBe('');
    expect(delayed.code).toBe(0);
    const job = JSON.parse(delayed.stdout);
    expect(job).toMatchObject({ status: 'queued', priority: -5 });
    expect(Date.parse(job.runAt) - Date.parse(job.createdAt)).toBe(2_500);
    const sent = server.requests.findLast((request) => request.path === '/jobs/ping')!.headers;
    expect(sent).toMatchObject({ 'job-delay': '2.5', 'job-priority': '-5' });
    // --unique-key: the delayed job holds the key, a second submit with it gives that job back.
    const unique = [
      'submit',
      endpointUrl('ping'),
      '{"message":"u"}',
      '--delay',
      '60',
      '--unique-key',
      'cli-u',
    ];
    const held = JSON.parse((await jobs(unique)).stdout);
    expect(JSON.parse((await jobs(unique)).stdout).id).toBe(held.id);
    expect(server.requests.findLast((request) => request.path === '/jobs/ping')!.headers).toMatchObject({
      'job-unique-key': 'cli-u',
    });
    await jobs(['cancel', held.links.self]);
    expect(JSON.parse((await jobs(['cancel', job.links.self])).stdout)).toEqual({ outcome: 'canceled' });

    const at = await jobs([
      'submit',
      endpointUrl('ping'),
      '{"message":"at"}',
      '--run-at',
      '2999-01-01T01:00:00+01:00',
      '--priority',
      '9',
    ]);
    expect(JSON.parse(at.stdout)).toMatchObject({ runAt: '2999-01-01T00:00:00.000Z', priority: 9 });
    await jobs(['cancel', JSON.parse(at.stdout).links.self]);

    // Out of range: the server's 422 names the header.
    const refused = await jobs(['submit', endpointUrl('ping'), '{"message":"no"}', '--priority', '5000']);
    expect(refused.code).toBe(1);
    expect(JSON.parse(refused.stderr)).toMatchObject({
      status: 422,
      problem: { code: 'invalid_input', issues: [{ path: ['Job-Priority'] }] },
    });
  });

  it('while waiting off a terminal, writes a plain line per change to stderr; stdout is the output', async () => {
    const tag = newTag();
    const run = submitAndWait(tag, 2);
    await run.waitFor(({ stderr }) => /^running 0% · elapsed \d:\d\d$/m.test(stderr));
    server.gates.release(tag);
    await run.waitFor(({ stderr }) => stderr.includes('running 50% · step 1 of 2'));
    server.gates.release(tag);
    const result = await run.result;
    expect(result.code).toBe(0);
    expect(JSON.parse(result.stdout)).toEqual({ tag, steps: 2 });
    const lines = result.stderr.trimEnd().split('\n');
    expect(lines[0]).toMatch(new RegExp(`^job ${endpointUrl('task')}/[0-9a-f-]{36}$`));
    // One line per change, nothing redrawn (no carriage return, no escape sequence).
    expect(result.stderr).not.toContain('\r');
    expect(result.stderr).not.toContain('\x1b');
    const times = / · (elapsed|in) \d:\d\d( · ETA (\d:\d\d|now))?$/;
    expect(lines.slice(1).every((line) => times.test(line))).toBe(true);
    // Whether the queued state and the last step's progress are seen depends on timing; the rest is not.
    const optional = ['queued 0%', 'running 100% · step 2 of 2'];
    const changes = lines.slice(1).map((line) => line.replace(times, ''));
    expect(changes.filter((line) => !optional.includes(line))).toEqual([
      'running 0%',
      'running 50% · step 1 of 2',
      'succeeded 100% · step 2 of 2',
    ]);
  });

  it('--json writes a JSON line per change to stdout, then the output; wait --json ends with the final job', async () => {
    const tag = newTag();
    const run = submitAndWait(tag, 2, '--json');
    await run.waitFor(({ stdout }) => stdout.includes('"status":"running"'));
    server.gates.release(tag, 2);
    const result = await run.result;
    expect(result.code).toBe(0);
    expect(result.stderr).toBe('');
    const lines = jsonLines(result.stdout);
    expect(lines.at(-1)).toEqual({ type: 'output', output: { tag, steps: 2 } });
    const changes = lines.slice(0, -1);
    for (const line of changes) expect(Object.keys(line)).toEqual(['type', 'id', 'job']);
    const fractions = changes.map((line) => line.job.progress?.fraction ?? 0);
    expect(fractions).toEqual([...fractions].sort((a, b) => a - b));
    expect(changes.at(-1).job).toMatchObject({ status: 'succeeded', progress: { fraction: 1 } });

    const waited = await jobs(['wait', changes.at(-1).job.links.self, '--json']);
    expect(waited.code).toBe(0);
    const [only, ...more] = jsonLines(waited.stdout);
    expect(more).toEqual([]);
    expect(only).toMatchObject({ type: 'status', job: { status: 'succeeded' } });
  });

  it('falls back to long-polling when the job has no event stream', async () => {
    // The same app, but every event stream answers 404.
    const noStreams: Served = await serveFetch((request) =>
      new URL(request.url).pathname.endsWith('/events')
        ? new Response('no event streams here', { status: 404 })
        : server.app.fetch(request),
    );
    try {
      const tag = newTag();
      const job = await submitTask(tag, 1);
      const url = `${noStreams.origin}/jobs/task/${job.id}`;
      const run = startCli(built.path, ['wait', url, '--json']);
      await until(() => server.requests.some((r) => r.path === `/jobs/task/${job.id}` && r.prefer !== null));
      server.gates.release(tag);
      const result = await run.result;
      expect(result.code).toBe(0);
      expect(jsonLines(result.stdout).map((line) => line.job.status)).toEqual(['running', 'succeeded']);
      expect(server.requests.some((r) => r.path === `/jobs/task/${job.id}/events`)).toBe(false);
    } finally {
      await noStreams.close();
    }
  });

  it('Ctrl-C (SIGINT) stops waiting: exit 130, the job URL and the commands on stderr, the job goes on', async () => {
    const tag = newTag();
    const job = await submitTask(tag, 1);
    // As `pnpm jobs` (the repository's script) runs it: the commands it suggests say so.
    const env = { npm_lifecycle_event: 'jobs', npm_config_user_agent: 'pnpm/12.4.2 npm/? node/v20' };
    const run = startCli(built.path, ['wait', job.links.self, '--json'], { env });
    await run.waitFor(({ stdout }) => stdout.includes('"status":"running"'));
    run.child.kill('SIGINT');
    const result = await run.result;
    expect(result.code).toBe(130);
    expect(JSON.parse(result.stderr)).toEqual({
      error: 'interrupted',
      job: job.links.self,
      wait: `pnpm jobs wait ${job.links.self}`,
      cancel: `pnpm jobs cancel ${job.links.self}`,
    });
    expect(await server.runtime.service.get('task', job.id)).toMatchObject({
      status: 'running',
      cancelRequested: false,
    });
    server.gates.release(tag);
    expect((await jobs(['wait', job.links.self, '--quiet'])).code).toBe(0);
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
    expect(result.stderr).toMatch(/^failed 0% · The task was told to fail\. · after \d:\d\d$/m);
    expect(lastJson(result.stderr).problem).toMatchObject({ code: 'job_failed' });
    expect((await jobs(['wait', job.links.self])).code).toBe(3);
  });

  it('cancel prints the outcome; waiting on the canceled job exits 4', async () => {
    const job = await submitTask(newTag(), 1);
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
    const job = await submitTask(tag, 1);
    const result = await jobs(['wait', job.links.self, '--timeout', '1']);
    expect(result.code).toBe(5);
    expect(['queued', 'running']).toContain(JSON.parse(result.stdout).status);
    expect(lastJson(result.stderr).error).toMatch(/after waiting 1000 ms/);
    server.gates.release(tag);
    expect((await jobs(['wait', job.links.self, '--poll'])).code).toBe(0);
  });

  it('events prints one JSON line per event until the job is final', async () => {
    const tag = newTag();
    const job = await submitTask(tag, 1);
    const events = jobs(['events', job.links.self]);
    await until(() => server.requests.some((request) => request.path === `/jobs/task/${job.id}/events`));
    server.gates.release(tag);
    const result = await events;
    expect(result.code).toBe(0);
    const lines = jsonLines(result.stdout);
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

  it('schedules prints the endpoint’s recurring schedules', async () => {
    const result = await jobs(['schedules', endpointUrl('ping')]);
    expect(result.code).toBe(0);
    const schedules = JSON.parse(result.stdout);
    expect(schedules).toEqual([
      expect.objectContaining({
        name: 'ping.hourly',
        cron: '30 * * * *',
        timeZone: 'Asia/Kolkata',
        priority: 3,
      }),
    ]);
    expect(result.stdout).not.toContain('private');
    expect(JSON.parse((await jobs(['schedules', endpointUrl('task')])).stdout)).toEqual([]);
    expect((await jobs(['schedules', endpointUrl('nope')])).code).toBe(1);
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

  it('exits 2 on usage errors, naming the help to read', async () => {
    const cases = [
      [],
      ['frobnicate', endpointUrl('ping')],
      ['get', 'not a url'],
      ['get', server.origin],
      ['submit', endpointUrl('ping'), '{not json'],
      ['submit', endpointUrl('ping')],
      ['get', endpointUrl('ping'), '--bogus'],
      ['get', `${endpointUrl('ping')}/x`, '--wait'],
      ['list', endpointUrl('ping'), '--status', 'sleeping'],
      ['list', endpointUrl('ping'), '--limit', '-1'],
      ['submit', endpointUrl('ping'), '{}', '--json'],
      ['wait', `${endpointUrl('ping')}/x`, '--poll', '--long-poll'],
      ['wait', `${endpointUrl('ping')}/x`, '--timeout', 'soon'],
      ['wait', `${endpointUrl('ping')}/x`, 'extra'],
      ['submit', endpointUrl('ping'), '{}', '--run-at', 'tomorrow'],
      ['submit', endpointUrl('ping'), '{}', '--run-at', '2026-01-05T10:00:00'],
      ['submit', endpointUrl('ping'), '{}', '--delay', '-1'],
      ['submit', endpointUrl('ping'), '{}', '--delay', 'soon'],
      ['submit', endpointUrl('ping'), '{}', '--priority', '1.5'],
      ['submit', endpointUrl('ping'), '{}', '--priority', '-5'], // parseArgs: a value that looks like an option
      ['submit', endpointUrl('ping'), '{}', '--run-at', '2026-01-05T10:00:00Z', '--delay', '1'],
      ['get', `${endpointUrl('ping')}/x`, '--priority', '1'],
    ];
    for (const args of cases) {
      const result = await jobs(args);
      expect(result.code, args.join(' ')).toBe(2);
      expect(result.stdout).toBe('');
    }
    const misplaced = await jobs(['get', `${endpointUrl('ping')}/x`, '--wait']);
    expect(misplaced.stderr).toBe(
      'jobs-client: --wait is not an option of get\n(jobs-client get --help shows the usage)\n',
    );
  });

  it('runs as `pnpm jobs` at the repository root (the script builds the package first when needed)', async () => {
    const submitted = JSON.parse((await jobs(['submit', endpointUrl('ping'), '{"message":"pnpm"}'])).stdout);
    const root = fileURLToPath(new URL('../../..', import.meta.url));
    const run = startProcess('pnpm', ['--silent', 'jobs', 'wait', submitted.links.self, '--json'], {
      cwd: root,
    });
    const result = await run.result;
    expect(result.code, result.stderr).toBe(0);
    expect(JSON.parse(result.stdout)).toMatchObject({ job: { id: submitted.id, status: 'succeeded' } });
  }, 120_000);

  it('--help describes every command and its options; exit 0', async () => {
    const general = await jobs(['--help']);
    expect(general.code).toBe(0);
    expect(general.stdout).toContain('Exit codes:');
    for (const [name, spec] of Object.entries(COMMANDS)) {
      const help = await jobs([name, '--help']);
      expect(help.code).toBe(0);
      expect(help.stdout).toMatch(
        new RegExp(`^Usage: jobs-client ${spec.usage.replace(/[[\]|]/g, '\\$&')} \\[options\\]`),
      );
      for (const option of [...spec.options, 'header', 'retries', 'help'])
        expect(help.stdout).toContain(`--${option}`);
      expect(general.stdout).toContain(name === 'delete' ? 'cancel <jobUrl>' : `${name} <`);
    }
    expect((await jobs(['help', 'wait'])).stdout).toBe((await jobs(['wait', '-h'])).stdout);
  });
});
