import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import amqp from 'amqplib';
import pg from 'pg';
import { DEFAULT_AMQP_URL, DEFAULT_DATABASE_URL } from '../src/config.js';
import {
  type AbortRecord,
  type ExecutionRecord,
  type FinishRecord,
  readExecutionLog,
  type StartRecord,
} from '../src/execution-log.js';
import { type Cluster, type ClusterProcess, describeExit, type Role, startCluster } from '../src/launcher.js';

const run = promisify(execFile);

export const DATABASE_URL = process.env.DATABASE_URL ?? DEFAULT_DATABASE_URL;
export const AMQP_URL = process.env.AMQP_URL ?? DEFAULT_AMQP_URL;
const ENDPOINTS = ['sleep', 'digest', 'report'];

/** Settings short enough that recovery after a killed worker takes seconds, not minutes. */
export const FAST_RECOVERY = {
  LEASE_MS: '3000',
  SWEEP_INTERVAL_MS: '1000',
  SHUTDOWN_TIMEOUT_MS: '3000',
} as const;

export interface ScenarioOptions {
  /** Short tag used in the schema and queue names. */
  tag: string;
  apis?: number;
  workers?: number;
  /** Environment of every process. */
  env?: Record<string, string>;
  apiEnv?: Record<string, string>;
  workerEnv?: Record<string, string>;
}

export interface JobRow {
  id: string;
  endpoint: string;
  status: string;
  attempt: number;
  output: { pid: number; attempt: number; sleptMs: number } | null;
}

export interface HttpResult {
  status: number;
  contentType: string;
  body: any;
  receivedAt: number;
}

/**
 * One scenario's cluster: its own PostgreSQL schema, RabbitMQ prefix and execution log, so it shares
 * nothing with other tests; `teardown()` kills every process (even after a failure) and removes all of it.
 */
export class Scenario {
  readonly tag: string;
  /** When the scenario began (before its cluster started). */
  readonly startedAt = Date.now();
  readonly schema: string;
  readonly prefix: string;
  readonly logPath: string;
  readonly pool: pg.Pool;
  cluster!: Cluster;
  readonly #dir: string;
  readonly #options: ScenarioOptions;
  readonly #output: string[] = [];

  constructor(options: ScenarioOptions) {
    const suffix = randomBytes(4).toString('hex');
    this.tag = options.tag;
    this.schema = `t_dist_${options.tag}_${suffix}`;
    this.prefix = `t-dist-${options.tag}-${suffix}`;
    this.#dir = mkdtempSync(join(tmpdir(), `jobs-dist-${options.tag}-`));
    this.logPath = join(this.#dir, 'executions.jsonl');
    this.#options = options;
    this.pool = new pg.Pool({
      connectionString: DATABASE_URL,
      max: 4,
      application_name: `jobs-test-${options.tag}`,
    });
    // Idle connections die when a scenario restarts PostgreSQL: that must not crash the test process.
    this.pool.on('error', () => {});
  }

  async start(): Promise<void> {
    const options = this.#options;
    this.cluster = await startCluster({
      apiPorts: Array.from({ length: options.apis ?? 2 }, () => 0),
      workers: options.workers ?? 3,
      env: {
        DATABASE_URL,
        AMQP_URL,
        JOBS_SCHEMA: this.schema,
        JOBS_PREFIX: this.prefix,
        EXECUTION_LOG: this.logPath,
        LOG_LEVEL: 'info',
        ...options.env,
      },
      envFor: (_name, role: Role) => (role === 'api' ? options.apiEnv : options.workerEnv),
      output: (name, line) => {
        this.#output.push(`[${name}] ${line}`);
        if (this.#output.length > 2_000) this.#output.splice(0, 500);
        if (process.env.JOBS_TEST_VERBOSE === '1') console.log(`[${this.tag}:${name}] ${line}`);
      },
      readyTimeoutMs: 90_000,
    });
  }

  api(index: number): string {
    const api = this.cluster.apis[index];
    if (!api?.port) throw new Error(`No API process ${index}.`);
    return `http://127.0.0.1:${api.port}/jobs`;
  }

  worker(index: number): ClusterProcess {
    const worker = this.cluster.workers[index];
    if (!worker) throw new Error(`No worker process ${index}.`);
    return worker;
  }

  records(): ExecutionRecord[] {
    return readExecutionLog(this.logPath);
  }

  async jobs(): Promise<JobRow[]> {
    const result = await this.pool.query<JobRow>(
      `SELECT id, endpoint, status, attempt, output FROM "${this.schema}".jobs ORDER BY created_at`,
    );
    return result.rows;
  }

  async statusCounts(): Promise<Record<string, number>> {
    const result = await this.pool.query<{ status: string; count: number }>(
      `SELECT status, count(*)::int AS count FROM "${this.schema}".jobs GROUP BY status`,
    );
    return Object.fromEntries(result.rows.map((row) => [row.status, row.count]));
  }

  /** Waits until every job of the table is final, or fails with the counts it saw. */
  async waitAllFinal(expected: number, timeoutMs: number): Promise<Record<string, number>> {
    let counts: Record<string, number> = {};
    await waitFor(
      async () => {
        counts = await this.statusCounts().catch(() => counts);
        const total = Object.values(counts).reduce((a, b) => a + b, 0);
        return total >= expected && !counts.queued && !counts.running;
      },
      { timeoutMs, intervalMs: 250, what: () => `every job final (saw ${JSON.stringify(counts)})` },
    );
    return counts;
  }

  /** The last output lines of every process, for a failure message. */
  output(): string {
    return this.#output.slice(-300).join('\n');
  }

  /** Kills every process (SIGKILL: a teardown must not depend on the code under test), then removes the schema, queues and log. */
  async teardown(): Promise<void> {
    const problems: string[] = [];
    if (this.cluster) {
      await this.cluster.kill();
    }
    try {
      await this.pool.query(`DROP SCHEMA IF EXISTS "${this.schema}" CASCADE`);
    } catch (error) {
      problems.push(`drop schema: ${String(error)}`);
    }
    await this.pool.end().catch(() => {});
    try {
      await deleteQueues(this.prefix);
    } catch (error) {
      problems.push(`delete queues: ${String(error)}`);
    }
    rmSync(this.#dir, { recursive: true, force: true });
    if (problems.length > 0) throw new Error(`teardown of ${this.tag}: ${problems.join('; ')}`);
  }

  /** Which processes exited, and how. */
  exits(): string[] {
    return this.cluster.processes.filter((p) => !p.running).map((p) => `${p.name}: ${describeExit(p.exit!)}`);
  }
}

/** Runs `body` with a started scenario; always tears it down, and adds the processes' output to a failure. */
export async function withScenario<T>(
  options: ScenarioOptions,
  body: (scenario: Scenario) => Promise<T>,
): Promise<T> {
  const scenario = new Scenario(options);
  let failure: unknown = null;
  try {
    await scenario.start();
    return await body(scenario);
  } catch (error) {
    failure = error;
    throw error;
  } finally {
    if (failure !== null) {
      console.error(
        `--- scenario ${options.tag} failed; last output of its processes:\n${scenario.output()}`,
      );
    }
    await scenario.teardown();
  }
}

async function deleteQueues(prefix: string): Promise<void> {
  const connection = await amqp.connect(AMQP_URL);
  try {
    const channel = await connection.createChannel();
    for (const endpoint of ENDPOINTS) await channel.deleteQueue(`${prefix}.${endpoint}`);
    await channel.deleteQueue(`${prefix}.dead-letter`);
    await channel.deleteExchange(`${prefix}.dead-letter`);
    await channel.close();
  } finally {
    await connection.close();
  }
}

export async function waitFor(
  condition: () => boolean | Promise<boolean>,
  options: { timeoutMs: number; intervalMs?: number; what: string | (() => string) },
): Promise<void> {
  const deadline = Date.now() + options.timeoutMs;
  for (;;) {
    if (await condition()) return;
    if (Date.now() > deadline) {
      const what = typeof options.what === 'function' ? options.what() : options.what;
      throw new Error(`Timed out after ${options.timeoutMs} ms waiting for ${what}.`);
    }
    await new Promise((resolve) => setTimeout(resolve, options.intervalMs ?? 100));
  }
}

export async function request(url: string, init: RequestInit = {}): Promise<HttpResult> {
  const response = await fetch(url, { redirect: 'manual', ...init });
  const contentType = response.headers.get('content-type') ?? '';
  const text = await response.text();
  const receivedAt = Date.now();
  let body: any = text;
  if (contentType.includes('json') && text.length > 0) body = JSON.parse(text);
  return { status: response.status, contentType, body, receivedAt };
}

export function submit(base: string, endpoint: string, input: unknown, headers: Record<string, string> = {}) {
  return request(`${base}/${endpoint}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...headers },
    body: JSON.stringify(input),
  });
}

/** Runs `task(i)` for i in [0, count) with at most `concurrency` at once. */
export async function pool<T>(
  count: number,
  concurrency: number,
  task: (i: number) => Promise<T>,
): Promise<T[]> {
  const results = new Array<T>(count);
  let next = 0;
  const lanes = Array.from({ length: Math.min(concurrency, count) }, async () => {
    for (let i = next++; i < count; i = next++) results[i] = await task(i);
  });
  await Promise.all(lanes);
  return results;
}

/** Groups execution records by job. */
export function byJob(records: ExecutionRecord[]) {
  const jobs = new Map<string, { starts: StartRecord[]; finishes: FinishRecord[]; aborts: AbortRecord[] }>();
  for (const record of records) {
    if (record.type === 'stopping' || record.type === 'cleanup') continue;
    let entry = jobs.get(record.jobId);
    if (!entry) {
      entry = { starts: [], finishes: [], aborts: [] };
      jobs.set(record.jobId, entry);
    }
    if (record.type === 'start') entry.starts.push(record);
    else if (record.type === 'finish') entry.finishes.push(record);
    else entry.aborts.push(record);
  }
  return jobs;
}

export function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)] ?? Number.NaN;
}

// ------------------------------------------------------------------------------------------ shared servers

/** `rabbitmqctl`, or the command in `JOBS_RABBITMQCTL` (e.g. `docker exec my-rabbit rabbitmqctl`). */
export async function rabbitmqctl(...args: string[]): Promise<void> {
  const [command, ...prefix] = (process.env.JOBS_RABBITMQCTL ?? 'rabbitmqctl').split(/\s+/).filter(Boolean);
  await run(command!, [...prefix, ...args], { timeout: 120_000 });
}

/** Waits until RabbitMQ accepts AMQP connections again. */
export async function waitForRabbit(timeoutMs = 90_000): Promise<void> {
  await waitFor(
    async () => {
      try {
        const connection = await amqp.connect(AMQP_URL);
        await connection.close();
        return true;
      } catch {
        return false;
      }
    },
    { timeoutMs, intervalMs: 500, what: 'RabbitMQ to accept connections' },
  );
}

export function postgresVersion(): string {
  const versions = readdirSync('/etc/postgresql');
  if (versions.length === 0) throw new Error('No PostgreSQL cluster in /etc/postgresql.');
  return versions.sort()[versions.length - 1]!;
}

export async function pgCluster(action: 'stop' | 'start'): Promise<void> {
  const args = ['--skip-systemctl-redirect', postgresVersion(), 'main', action];
  if (action === 'stop') args.push('-m', 'fast');
  await run('pg_ctlcluster', args, { timeout: 120_000 });
}

export async function postgresUp(): Promise<boolean> {
  const client = new pg.Client({ connectionString: DATABASE_URL, connectionTimeoutMillis: 2_000 });
  client.on('error', () => {});
  try {
    await client.connect();
    await client.query('SELECT 1');
    return true;
  } catch {
    return false;
  } finally {
    await client.end().catch(() => {});
  }
}

export async function waitForPostgres(timeoutMs = 90_000): Promise<void> {
  await waitFor(postgresUp, { timeoutMs, intervalMs: 250, what: 'PostgreSQL to accept connections' });
}
