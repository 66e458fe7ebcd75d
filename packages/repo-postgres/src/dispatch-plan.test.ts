import type { DispatchItem } from '@jobs/core';
import type pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { PostgresJobRepository } from './repository.js';
import { buildStatements } from './statements.js';
import { dropSchema, newJob, randomSchema, testRepository, values, withAdmin } from './test-support.js';

// Issue 10: a long queue (jobs dispatched, waiting in the queue for a worker) must not slow the dispatcher down:
// it looks only at jobs never handed out, through jobs_undispatched_idx, which the backlog is not in.

const schema = randomSchema('backlog');
const BACKLOG = 300_000;
const endpoint = 'backlog';
let repository: PostgresJobRepository;
const undispatched: string[] = [];
let later: string;

interface PlanNode {
  'Node Type': string;
  'Relation Name'?: string;
  'Index Name'?: string;
  Alias?: string;
  'Plan Rows': number;
  'Actual Rows'?: number;
  'Actual Loops'?: number;
  'Rows Removed by Filter'?: number;
  'Rows Removed by Index Recheck'?: number;
  Plans?: PlanNode[];
}

function nodes(plan: PlanNode): PlanNode[] {
  return [plan, ...(plan.Plans ?? []).flatMap(nodes)];
}

/** Rows a node read from its relation (returned plus filtered out), over all its loops. */
function rowsRead(node: PlanNode): number {
  const loops = node['Actual Loops'] ?? 0;
  return (
    ((node['Actual Rows'] ?? 0) +
      (node['Rows Removed by Filter'] ?? 0) +
      (node['Rows Removed by Index Recheck'] ?? 0)) *
    loops
  );
}

const SCANS = [
  'Seq Scan',
  'Index Scan',
  'Index Only Scan',
  'Bitmap Heap Scan',
  'Bitmap Index Scan',
  'Tid Scan',
];

/** Checks a dispatch plan: the undispatched index serves it, and nothing reads the backlog. */
function expectNoBacklogScan(plan: PlanNode, analyzed: boolean): void {
  const all = nodes(plan);
  const onJobs = all.filter((node) => SCANS.includes(node['Node Type']) && node['Relation Name'] === 'jobs');
  // The count of jobs ahead (alias a) may read the table in order when nearly every row is ahead, as here: it
  // stops after maxAhead matching rows. The analyzed runs below bound what it reads.
  expect(onJobs.filter((node) => node['Node Type'] === 'Seq Scan' && node.Alias !== 'a')).toEqual([]);
  const undispatchedScans = onJobs.filter(
    (node) =>
      node['Node Type'] === 'Index Scan' &&
      (node['Index Name'] === 'jobs_undispatched_idx' || node['Index Name'] === 'jobs_delayed_idx'),
  );
  expect(undispatchedScans.length).toBeGreaterThan(0);
  // The planner knows the index holds a handful of rows, not the backlog.
  for (const node of undispatchedScans) expect(node['Plan Rows']).toBeLessThan(1_000);
  if (analyzed) {
    // What ran read a handful of rows: no executed scan went through the backlog.
    for (const node of all.filter((n) => SCANS.includes(n['Node Type']))) {
      expect(
        rowsRead(node),
        `${node['Node Type']} on ${node['Index Name'] ?? node['Relation Name']}`,
      ).toBeLessThan(1_000);
    }
  }
}

async function explain(client: pg.Client, text: string, parameters: unknown[]): Promise<PlanNode> {
  const result = await client.query<{ 'QUERY PLAN': Array<{ Plan: PlanNode }> }>(text, parameters);
  return result.rows[0]!['QUERY PLAN'][0]!.Plan;
}

beforeAll(async () => {
  repository = testRepository(schema);
  await repository.migrate();
  // The backlog: queued, dispatched half an hour ago, still waiting in the queue. One statement.
  await withAdmin((client) =>
    client.query(
      `INSERT INTO "${schema}".jobs (id, endpoint, status, input, attempt, max_attempts, created_at, updated_at,
         run_at, dispatched_at)
       SELECT 'backlog-' || lpad(g::text, 7, '0'), $1, 'queued', '{}'::jsonb, 0, 3, now() - interval '1 hour',
         now() - interval '1 hour', now() - interval '1 hour' + g * interval '1 millisecond', now() - interval '30 minutes'
       FROM generate_series(1, $2::int) g`,
      [endpoint, BACKLOG],
    ),
  );
  // A few jobs never handed out (two endpoints), and one not due for an hour.
  const created = values(
    await repository.create([newJob(endpoint), newJob(endpoint), newJob('elsewhere'), newJob(endpoint)]),
  );
  undispatched.push(...created.map((result) => result.job.id));
  later = `later-${crypto.randomUUID()}`;
  await withAdmin(async (client) => {
    await client.query(
      `INSERT INTO "${schema}".jobs (id, endpoint, status, input, attempt, max_attempts, created_at, updated_at, run_at)
       VALUES ($1, $2, 'queued', '{}', 0, 3, now(), now(), now() + interval '1 hour')`,
      [later, endpoint],
    );
    // As autovacuum would after such an insert: the planner knows the table.
    await client.query(`ANALYZE "${schema}".jobs`);
  });
}, 120_000);

afterAll(async () => {
  await repository?.close();
  await dropSchema(schema);
}, 60_000);

describe('dispatch with a backlog of 300,000 dispatched jobs', () => {
  const sql = buildStatements(`"${schema}"`);
  const cases: Array<[string, unknown[]]> = [
    ['every endpoint', [500, null, null, null, []]],
    ['every endpoint but one', [500, null, null, null, ['elsewhere']]],
    ['one endpoint', [500, [endpoint], null, null, []]],
    // The count of jobs ahead reads at most maxAhead rows of the backlog.
    ['one endpoint, at most 200 ahead', [500, [endpoint], null, 200, []]],
  ];

  for (const [what, parameters] of cases) {
    it(`the dispatch statement (${what}) takes jobs_undispatched_idx and never scans the backlog`, async () => {
      await withAdmin(async (client) => {
        // The plan for these values, as the first executions of the prepared statement get it.
        expectNoBacklogScan(
          await explain(client, `EXPLAIN (FORMAT JSON) ${sql.dispatchTake}`, parameters),
          false,
        );
        // And what it does when run (the rows it locks are released by the rollback).
        await client.query('BEGIN');
        try {
          expectNoBacklogScan(
            await explain(client, `EXPLAIN (ANALYZE, FORMAT JSON) ${sql.dispatchTake}`, parameters),
            true,
          );
        } finally {
          await client.query('ROLLBACK');
        }
      });
    });

    it(`the generic plan of the prepared statement (${what}) does not scan the backlog either`, async () => {
      // A named prepared statement may switch to a generic plan (parameters unknown) after five executions.
      await withAdmin(async (client) => {
        await client.query(`PREPARE take(int, text[], float8, int, text[]) AS ${sql.dispatchTake}`);
        await client.query('SET plan_cache_mode = force_generic_plan');
        const literal = (value: unknown) =>
          value === null
            ? 'NULL'
            : Array.isArray(value)
              ? `ARRAY[${value.map((v) => `'${v}'`).join(',')}]::text[]`
              : String(value);
        const execute = `EXECUTE take(${parameters.map(literal).join(', ')})`;
        expectNoBacklogScan(await explain(client, `EXPLAIN (FORMAT JSON) ${execute}`, []), false);
        await client.query('BEGIN');
        try {
          expectNoBacklogScan(await explain(client, `EXPLAIN (ANALYZE, FORMAT JSON) ${execute}`, []), true);
        } finally {
          await client.query('ROLLBACK');
        }
      });
    });
  }

  it('repository.dispatch() hands out only the undispatched jobs, again and again, and leaves the backlog alone', async () => {
    const published: DispatchItem[][] = [];
    // Nothing is recorded (publish accepts none), so every call finds the same jobs: more calls than the prepared
    // statement's custom plans.
    for (let round = 0; round < 8; round++) {
      const result = await repository.dispatch({ limit: 500, redispatchAfterMs: null }, async (items) => {
        published.push([...items]);
        return items.map(() => false);
      });
      expect(result.dispatched).toBe(0);
      expect(result.found).toBe(undispatched.length);
      // The job due in an hour is not handed out; the dispatcher is told when to look again.
      expect(result.nextDueInMs).toBeGreaterThan(30 * 60_000);
    }
    for (const items of published) {
      expect(items.map((item) => item.id).sort()).toEqual([...undispatched].sort());
    }
    const mine = await repository.dispatch(
      { limit: 500, endpoints: [endpoint], redispatchAfterMs: null },
      async (items) => items.map(() => true),
    );
    expect(mine).toMatchObject({ dispatched: 3, found: 3 });
    const rest = await repository.dispatch({ limit: 500, redispatchAfterMs: null }, async (items) => {
      expect(items).toEqual([{ id: undispatched[2], endpoint: 'elsewhere', traceContext: null }]);
      return items.map(() => true);
    });
    expect(rest).toMatchObject({ dispatched: 1, found: 1 });
    expect(await repository.dispatch({ limit: 500, redispatchAfterMs: null }, async () => [])).toMatchObject({
      dispatched: 0,
      found: 0,
    });
    const backlog = await withAdmin((client) =>
      client.query<{ n: string }>(
        `SELECT count(*) AS n FROM "${schema}".jobs WHERE dispatched_at < now() - interval '20 minutes'`,
      ),
    );
    expect(Number(backlog.rows[0]!.n)).toBe(BACKLOG);
    expect(await repository.get(later, 'header')).toMatchObject({ status: 'queued', dispatchedAt: null });
  });
});
