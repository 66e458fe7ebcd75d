import { readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, type ExpectStatic, it } from 'vitest';
import { parseCli } from './cli.js';
import { allContenders, type ContenderSpec } from './contenders/index.js';
import { DbActivity } from './db-activity.js';
import type { MeasureContext } from './measure/throughput.js';
import { MEASURE, type Section, writeScalingPlot } from './measurements.js';
import { nodeRuntime } from './node-runtimes.js';
import { percentile } from './stats.js';
import { DEFAULT_SERVERS } from './types.js';

/**
 * Smoke test: every contender, in its own child process under the Node it is benchmarked with (ours under
 * the system Node and Node 22, the peers under Node 22), runs the whole procedure on a few jobs and records
 * all of them as succeeded; then a tiny run of each growth measurement. No timing is asserted; the real bench
 * is `pnpm bench`. Needs PostgreSQL, RabbitMQ and Redis on their standard local ports (fails, never skips).
 */
const TINY = [
  '--repeats',
  '1',
  '--retries',
  '0',
  '--jobs',
  '20',
  '--warmup',
  '5',
  '--latency-jobs',
  '3',
  '--concurrency',
  '8',
];
const TIMEOUT = 120_000;

let db: DbActivity;
let context: MeasureContext;

beforeAll(async () => {
  db = await DbActivity.open(DEFAULT_SERVERS.databaseUrl);
  context = { servers: DEFAULT_SERVERS, db, repeats: 1, retries: 0, log: () => {} };
});

afterAll(async () => {
  await db?.close();
});

function config(...args: string[]) {
  const parsed = parseCli([...TINY, ...args]);
  if (!parsed) throw new Error('--help?');
  return parsed;
}

function expectAllSucceeded(expect: ExpectStatic, section: Section, rows: number) {
  expect(section.results).toHaveLength(rows);
  for (const result of section.results) {
    expect(result.rounds).toHaveLength(1);
    const round = result.rounds[0]!;
    expect(round.submitted).toBeGreaterThan(0);
    expect(round.succeeded).toBe(round.submitted);
  }
}

/**
 * One test per library (ours: per setup), the setups of a library one after the other: graphile-worker's
 * migration notification is not scoped to its schema, so a runner shuts down when another one migrates
 * meanwhile. Tests run concurrently otherwise (at most 3 at once, see vitest.config.ts): each works in a
 * schema, queue prefix or Redis prefix of its own.
 */
function contenderGroups(): Map<string, ContenderSpec[]> {
  const groups = new Map<string, ContenderSpec[]>();
  for (const spec of allContenders().values()) {
    const key = spec.family === 'ours' ? spec.id : spec.implementation;
    groups.set(key, [...(groups.get(key) ?? []), spec]);
  }
  // The setups capped by their polling design take longest: they start first.
  return new Map(
    [...groups].sort(([, a], [, b]) => Number(b.some((s) => s.caps)) - Number(a.some((s) => s.caps))),
  );
}

describe.concurrent('bench: every contender', () => {
  for (const [group, specs] of contenderGroups()) {
    const ids = specs.map((spec) => spec.id);
    it(
      `${ids.join(', ')}: every job submitted is recorded succeeded`,
      { timeout: TIMEOUT },
      async ({ expect }) => {
        const section = await MEASURE.compare(config('--only', ids.join(','), '--profile'), context);
        const rowsPerSpec = specs[0]!.family === 'ours' ? 2 : 1;
        expectAllSucceeded(expect, section, specs.length * rowsPerSpec);
        // warm-up 5 + measured 20 + latency warm-up 3 (at most the latency jobs) + latency 3
        for (const result of section.results) expect(result.rounds[0]!.submitted).toBe(31);
        expect(section.results.map((result) => result.row.node.version)).toContain(nodeRuntime('22').version);
        for (const spec of specs) expect(section.markdown).toContain(`| ${spec.name} |`);
        expect(section.markdown).toContain('### Latency');
        if (group.startsWith('jobs')) expect(section.markdown).toMatch(/\| repository\.\w+ \|/);
      },
    );
  }
});

describe.concurrent('bench: growth measurements', () => {
  it('scaling: a run per concurrency, and the plot', { timeout: TIMEOUT }, async ({ expect }) => {
    const plot = join(tmpdir(), `jobs-bench-${process.pid}.svg`);
    const settings = config('--scaling-concurrency', '1,2', '--node', 'system', '--plot', plot);
    const section = await MEASURE.scaling(settings, context);
    expectAllSucceeded(expect, section, 2);
    await writeScalingPlot(settings, section);
    expect(await readFile(plot, 'utf8')).toMatch(/^<svg[\s\S]*<polyline[\s\S]*<\/svg>\n$/);
  });

  it('retained: with finished jobs put into the table first', { timeout: TIMEOUT }, async ({ expect }) => {
    const section = await MEASURE.retained(config('--retained-jobs', '500', '--node', 'system'), context);
    expectAllSucceeded(expect, section, 2);
    expect(section.markdown).toContain('| 500 |');
  });

  it('backlog: queued with the workers stopped, then drained', { timeout: TIMEOUT }, async ({ expect }) => {
    const section = await MEASURE.backlog(config('--backlog-jobs', '30', '--node', 'system'), context);
    expectAllSucceeded(expect, section, 1);
    expect(section.results[0]!.rounds[0]!.submitted).toBe(30);
  });

  it('waiters: long-polls on jobs that stay queued', { timeout: TIMEOUT }, async ({ expect }) => {
    const args = [
      '--waiter-count',
      '5',
      '--waiter-wait',
      '1',
      '--waiter-seconds',
      '1',
      '--waiter-settle',
      '0',
    ];
    const section = await MEASURE.waiters(config(...args, '--node', 'system'), context);
    expect(section.markdown).toContain('service.wait');
    expect(section.markdown).toContain('Prefer: wait=N');
  });

  it(
    'http: createJobsApp against bare Hono, autocannon in its own process',
    { timeout: TIMEOUT },
    async ({ expect }) => {
      const section = await MEASURE.http(config('--http-seconds', '1', '--node', 'system'), context);
      const ratioRow = `| ${nodeRuntime('system').version} | `;
      expect(section.markdown).toContain(ratioRow);
      expect(section.markdown.split('\n').find((line) => line.startsWith(ratioRow))).toMatch(/ % \|$/);
    },
  );
});

describe('stats', () => {
  it('percentile uses the nearest rank', ({ expect }) => {
    const samples = Array.from({ length: 100 }, (_, i) => 100 - i);
    expect(percentile(samples, 0.5)).toBe(50);
    expect(percentile(samples, 0.99)).toBe(99);
    expect(percentile([7], 0.95)).toBe(7);
  });
});
