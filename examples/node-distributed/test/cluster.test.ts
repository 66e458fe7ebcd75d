/**
 * The one-command local cluster (src/cluster.ts), as a user runs it: two API processes and three worker
 * processes with prefixed logs; jobs submitted to one API process are run by the workers and seen through the
 * other; Ctrl-C (SIGINT to the whole process group, as a terminal sends it) stops every process with code 0.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import amqp from 'amqplib';
import pg from 'pg';
import { chromium } from 'playwright-core';
import { afterAll, describe, expect, it } from 'vitest';
import { AMQP_URL, DATABASE_URL, request, submit, waitFor } from './harness.js';

const suffix = randomBytes(4).toString('hex');
const schema = `t_dist_cli_${suffix}`;
const prefix = `t-dist-cli-${suffix}`;
const packageDir = fileURLToPath(new URL('..', import.meta.url));
const dashboardToken = randomBytes(18).toString('base64url');
const CHROMIUM = process.env.JOBS_CHROMIUM ?? '/usr/bin/chromium';

let child: ChildProcess | null = null;

afterAll(async () => {
  if (child && child.exitCode === null && child.signalCode === null && child.pid) {
    try {
      process.kill(-child.pid, 'SIGKILL');
    } catch {
      // already gone
    }
  }
  const db = new pg.Client({ connectionString: DATABASE_URL });
  await db.connect();
  try {
    await db.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
  } finally {
    await db.end();
  }
  const connection = await amqp.connect(AMQP_URL);
  try {
    const channel = await connection.createChannel();
    for (const queue of ['sleep', 'digest', 'report', 'dead-letter'])
      await channel.deleteQueue(`${prefix}.${queue}`);
    await channel.deleteExchange(`${prefix}.dead-letter`);
  } finally {
    await connection.close();
  }
});

describe('pnpm cluster', () => {
  it('runs 2 API and 3 worker processes with prefixed logs, and stops them all on Ctrl-C', async () => {
    const lines: string[] = [];
    const spawned = spawn(process.execPath, ['--import', 'tsx', 'src/cluster.ts'], {
      cwd: packageDir,
      env: {
        ...process.env,
        API_PORTS: '0,0',
        DATABASE_URL,
        AMQP_URL,
        JOBS_SCHEMA: schema,
        JOBS_PREFIX: prefix,
        PG_POOL_MAX: '4',
        DASHBOARD_TOKEN: dashboardToken,
      },
      stdio: ['ignore', 'pipe', 'pipe'],
      detached: true, // its own process group, like a shell job: SIGINT to the group is a terminal's Ctrl-C
    });
    child = spawned;
    let partial = '';
    const collect = (chunk: Buffer) => {
      const text = partial + chunk.toString('utf8');
      const parts = text.split('\n');
      partial = parts.pop() ?? '';
      lines.push(...parts);
    };
    spawned.stdout!.on('data', collect);
    spawned.stderr!.on('data', collect);
    const exited = new Promise<number | null>((resolve) => spawned.once('exit', (code) => resolve(code)));

    await waitFor(() => lines.some((line) => line.startsWith('[cluster] ready')), {
      timeoutMs: 90_000,
      what: () => `the cluster to be ready; output:\n${lines.join('\n')}`,
    });
    const urls = lines.flatMap((line) => {
      const match = /^\[cluster\] (api-\d): (http:\/\/127\.0\.0\.1:\d+\/jobs) \(pid \d+\)$/.exec(line);
      return match ? [match[2]!] : [];
    });
    expect(urls).toHaveLength(2);
    const [apiA, apiB] = urls as [string, string];
    for (const name of ['api-1', 'api-2', 'worker-1', 'worker-2', 'worker-3']) {
      expect(lines.some((line) => line.startsWith(`[${name}] `) && line.includes(' ready '))).toBe(true);
    }

    // Submitted to A with Prefer: wait: run by a worker, answered 303 to the output.
    const waited = await submit(apiA, 'sleep', { ms: 100 }, { prefer: 'wait=20' });
    expect(waited.status).toBe(303);
    const output = await request(`${apiB}/sleep/${waited.body.id}/output`);
    expect(output.status).toBe(200);
    expect(output.body).toMatchObject({ attempt: 1 });

    // The realistic endpoint, submitted to B and followed on A.
    const created = await submit(apiB, 'digest', { text: 'hello', rounds: 12_000 });
    expect(created.status).toBe(202);
    let job: { status: number; body: any } = created;
    await waitFor(
      async () => {
        job = await request(`${apiA}/digest/${created.body.id}`, { headers: { prefer: 'wait=10' } });
        return job.status === 303;
      },
      { timeoutMs: 30_000, what: () => `the digest job to succeed (last: ${JSON.stringify(job.body)})` },
    );
    let expected = Buffer.from('hello');
    for (let i = 0; i < 12_000; i++) expected = createHash('sha256').update(expected).digest();
    const digest = await request(`${apiA}/digest/${created.body.id}/output`);
    expect(digest.body).toEqual({ algorithm: 'sha256', rounds: 12_000, digest: expected.toString('hex') });

    // The dashboard of either API process: refused without the token (the browser is asked for it), served
    // with it, and its numbers and list come from the shared database (the digest job ran in a worker).
    const dashboard = apiA.replace(/\/jobs$/, '/dashboard');
    expect(
      lines.some(
        (line) => line === `[cluster] dashboard: ${dashboard} (any user name, password ${dashboardToken})`,
      ),
    ).toBe(true);
    const refused = await fetch(dashboard);
    expect(refused.status).toBe(401);
    expect(refused.headers.get('www-authenticate')).toMatch(/^Basic realm="jobs dashboard"/);
    const basic = { authorization: `Basic ${Buffer.from(`ops:${dashboardToken}`).toString('base64')}` };
    const page = await fetch(dashboard, { headers: basic });
    expect(page.status).toBe(200);
    const html = await page.text();
    expect(html).toContain('<script src="/dashboard/assets/dashboard.js" defer></script>');
    const script = await fetch(`${dashboard}/assets/dashboard.js`, { headers: basic });
    expect(script.status).toBe(200);
    expect((await script.text()).length).toBeGreaterThan(1_000);
    const other = apiB.replace(/\/jobs$/, '/dashboard');
    const overview = await request(`${other}/api/overview`, { headers: basic });
    const digestStats = overview.body.endpoints.find((e: { endpoint: string }) => e.endpoint === 'digest');
    expect(digestStats.counts.succeeded).toBeGreaterThanOrEqual(1);
    expect(digestStats.runTime.count).toBeGreaterThanOrEqual(1);
    const listed = await request(`${other}/api/jobs?endpoint=digest`, { headers: basic });
    expect(listed.body.jobs.map((j: { id: string }) => j.id)).toContain(created.body.id);
    const detail = await request(`${dashboard}/api/jobs/${created.body.id}`, {
      headers: { authorization: `Bearer ${dashboardToken}` },
    });
    expect(detail.body).toMatchObject({ status: 'succeeded', input: { text: 'hello', rounds: 12_000 } });

    // And in a browser, logging in as the 401 asks (Basic auth, the token as the password): the digest card
    // counts the job, the list links to its page, which shows its output.
    if (!existsSync(CHROMIUM))
      throw new Error(`No Chromium at ${CHROMIUM} (set JOBS_CHROMIUM or install Debian's).`);
    const browser = await chromium.launch({
      executablePath: CHROMIUM,
      args: [
        '--headless',
        '--no-sandbox',
        '--disable-background-networking',
        '--disable-component-update',
        '--no-first-run',
        '--disable-gpu',
      ],
    });
    try {
      const context = await browser.newContext({
        httpCredentials: { username: 'ops', password: dashboardToken },
      });
      const page = await context.newPage();
      await page.goto(dashboard);
      const card = page.locator('article.endpoint[data-endpoint="digest"]');
      await card.locator('.chart').waitFor();
      expect(Number(await card.locator('.chip.succeeded .count').textContent())).toBeGreaterThanOrEqual(1);
      await page.locator(`tr[data-id="${created.body.id}"] a.job-link`).click();
      await page.locator('#job-status.succeeded').waitFor();
      expect(await page.locator('#job-output').textContent()).toContain(expected.toString('hex'));
    } finally {
      await browser.close();
    }

    const openapi = await request(`${apiB}/openapi.json`);
    expect(Object.keys(openapi.body.paths)).toEqual(expect.arrayContaining(['/sleep', '/digest']));

    process.kill(-spawned.pid!, 'SIGINT');
    expect(await exited).toBe(0);
    for (const name of ['api-1', 'api-2', 'worker-1', 'worker-2', 'worker-3']) {
      expect(lines).toContain(`[cluster] ${name} exited (code 0)`);
    }
  }, 150_000);
});
