import type pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { PostgresJobRepository } from './repository.js';
import { searchStatement, statsStatement } from './statements.js';
import { dropSchema, newJob, randomSchema, testRepository, values, withAdmin } from './test-support.js';

// Issue 15: the dashboard's list pages and statistics read what they show, never the whole table: a page walks
// jobs_created_idx from its cursor and stops after the page, the statistics read the live jobs through their
// partial indexes and the window's final jobs through jobs_finished_idx.

const schema = randomSchema('dash');
const OLD = 100_000;
let repository: PostgresJobRepository;
const recent: string[] = [];

interface PlanNode {
  'Node Type': string;
  'Relation Name'?: string;
  'Index Name'?: string;
  'Actual Rows'?: number;
  'Actual Loops'?: number;
  'Rows Removed by Filter'?: number;
  'Rows Removed by Index Recheck'?: number;
  Plans?: PlanNode[];
}

const nodes = (plan: PlanNode): PlanNode[] => [plan, ...(plan.Plans ?? []).flatMap(nodes)];
const SCANS = ['Seq Scan', 'Index Scan', 'Index Only Scan', 'Bitmap Heap Scan', 'Bitmap Index Scan'];

/** No sequential scan of the jobs, no sort of them, and fewer than `bound` rows read by any scan. */
function expectSmallReads(plan: PlanNode, bound: number): void {
  const all = nodes(plan);
  expect(all.filter((node) => node['Node Type'] === 'Seq Scan' && node['Relation Name'] === 'jobs')).toEqual(
    [],
  );
  for (const node of all.filter((n) => SCANS.includes(n['Node Type']))) {
    const read =
      ((node['Actual Rows'] ?? 0) +
        (node['Rows Removed by Filter'] ?? 0) +
        (node['Rows Removed by Index Recheck'] ?? 0)) *
      (node['Actual Loops'] ?? 0);
    expect(read, `${node['Node Type']} on ${node['Index Name'] ?? node['Relation Name']}`).toBeLessThan(
      bound,
    );
  }
}

async function explain(client: pg.Client, text: string, parameters: unknown[]): Promise<PlanNode> {
  const result = await client.query<{ 'QUERY PLAN': Array<{ Plan: PlanNode }> }>(
    `EXPLAIN (ANALYZE, FORMAT JSON) ${text}`,
    parameters,
  );
  return result.rows[0]!['QUERY PLAN'][0]!.Plan;
}

beforeAll(async () => {
  repository = testRepository(schema);
  await repository.migrate();
  // 100,000 jobs that finished long before the window (kept for a day), over two endpoints and many owners.
  await withAdmin(async (client) => {
    await client.query(
      `INSERT INTO "${schema}".jobs (id, endpoint, status, input, output, owner, attempt, max_attempts, created_at,
         updated_at, run_at, started_at, finished_at, expires_at)
       SELECT md5(g::text)::uuid::text, CASE WHEN g % 2 = 0 THEN 'report' ELSE 'thumbnail' END,
         'succeeded', '{}'::jsonb, '{}'::jsonb, 'owner-' || (g % 500), 1, 3,
         now() - interval '3 hours' + g * interval '1 millisecond', now() - interval '2 hours',
         now() - interval '3 hours', now() - interval '3 hours', now() - interval '2 hours', now() + interval '1 day'
       FROM generate_series(1, $1::int) g`,
      [OLD],
    );
    await client.query(`ANALYZE "${schema}".jobs`);
  });
  // A few recent jobs: queued, running, finished in the window.
  const created = values(
    await repository.create([
      newJob('report', { owner: 'owner-7' }),
      newJob('report'),
      newJob('thumbnail'),
      newJob('thumbnail', { owner: 'owner-7' }),
    ]),
  );
  recent.push(...created.map((result) => result.job.id));
  const [claimed] = await repository.claim([{ id: recent[0]!, leaseToken: 'token', leaseMs: 60_000 }]);
  expect(claimed).not.toBeNull();
  await repository.settle([
    {
      id: recent[0]!,
      leaseToken: 'token',
      outcome: { status: 'succeeded', output: {}, retentionMs: 60_000 },
    },
  ]);
  await repository.claim([{ id: recent[1]!, leaseToken: 'token2', leaseMs: 60_000 }]);
}, 120_000);

afterAll(async () => {
  await repository?.close();
  await dropSchema(schema);
}, 60_000);

describe(`the dashboard's queries over ${OLD.toLocaleString('en')} stored jobs`, () => {
  const quoted = () => `"${schema}"`;
  const shapes = {
    all: { endpoints: 2, owner: 'any' as const },
    endpoint: { endpoints: 1, owner: 'any' as const },
    owner: { endpoints: 1, owner: 'equal' as const },
  };

  it('a list page reads about a page of rows, with or without a cursor, a status or an owner', async () => {
    await withAdmin(async (client) => {
      const base = { status: false, from: false, before: false, cursor: false };
      const cases: Array<[string, ReturnType<typeof searchStatement>, Record<string, unknown>]> = [
        [
          'newest of every endpoint',
          searchStatement(quoted(), { ...shapes.all, ...base }),
          { endpoints: ['report', 'thumbnail'] },
        ],
        ['one endpoint', searchStatement(quoted(), { ...shapes.endpoint, ...base }), { endpoint: 'report' }],
        [
          'one owner of one endpoint',
          searchStatement(quoted(), { ...shapes.owner, ...base }),
          { endpoint: 'report', owner: 'owner-8' },
        ],
        [
          'a page deep in the list (cursor)',
          searchStatement(quoted(), { ...shapes.all, ...base, cursor: true }),
          {
            endpoints: ['report', 'thumbnail'],
            cursorTime: new Date(Date.now() - 2.5 * 3_600_000).toISOString(),
            cursorId: 'ffffffff-ffff-4fff-bfff-ffffffffffff',
          },
        ],
        [
          'created in a time range',
          searchStatement(quoted(), { ...shapes.all, ...base, from: true, before: true }),
          {
            endpoints: ['report', 'thumbnail'],
            from: new Date(Date.now() - 2.9 * 3_600_000).toISOString(),
            before: new Date(Date.now() - 2.8 * 3_600_000).toISOString(),
          },
        ],
      ];
      for (const [what, statement, given] of cases) {
        const parameters = statement.parameters.map((name) => (name === 'limit' ? 51 : given[name]));
        const plan = await explain(client, statement.text, parameters);
        expect(
          nodes(plan).filter((node) => node['Node Type'] === 'Sort'),
          what,
        ).toEqual([]);
        expectSmallReads(plan, 1_000);
      }
    });
  });

  it('the statistics read the live jobs and the window, not the jobs that finished before it', async () => {
    await withAdmin(async (client) => {
      for (const [what, shape, given] of [
        ['every endpoint', shapes.all, { endpoints: ['report', 'thumbnail'] }],
        ['one owner', shapes.owner, { endpoint: 'report', owner: 'owner-7' }],
      ] as const) {
        const statement = statsStatement(quoted(), shape);
        const since = new Date(Date.now() - 3_600_000).toISOString();
        const parameters = statement.parameters.map((name) =>
          name === 'since' ? since : name === 'bucketMs' ? 60_000 : (given as Record<string, unknown>)[name],
        );
        const plan = await explain(client, statement.text, parameters);
        expect(nodes(plan).length, what).toBeGreaterThan(0);
        expectSmallReads(plan, 1_000);
      }
    });
    const stats = await repository.stats({
      endpoints: ['report', 'thumbnail'],
      since: new Date(Date.now() - 3_600_000),
      bucketMs: 60_000,
    });
    expect(stats.map((entry) => [entry.endpoint, entry.counts])).toEqual([
      ['report', { queued: 0, running: 1, succeeded: 1, failed: 0, canceled: 0 }],
      ['thumbnail', { queued: 2, running: 0, succeeded: 0, failed: 0, canceled: 0 }],
    ]);
  });

  it('paging through every job visits each once', async () => {
    const seen = new Set<string>();
    let cursor: string | undefined;
    let pages = 0;
    for (;;) {
      const page = await repository.search({ endpoints: ['report'], limit: 5_000, cursor });
      for (const job of page.jobs) seen.add(job.id);
      pages++;
      if (page.nextCursor === null) break;
      cursor = page.nextCursor;
    }
    expect(seen.size).toBe(OLD / 2 + 2);
    expect(pages).toBe(11);
  });
});
