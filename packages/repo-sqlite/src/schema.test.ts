// The schema's migrations (a file of an older version is upgraded in place, keeping its jobs) and the indexes the
// dispatcher's statements read through; values only SQLite's integer times could not hold.
import { MAX_PRIORITY, newLeaseToken } from '@jobs/core';
import { makeNewJob } from '@jobs/testing';
import Database from 'better-sqlite3';
import { describe, expect, it } from 'vitest';
import { createSqliteRepository, SCHEMA_VERSION } from './index.js';
import { MIGRATIONS } from './migrations.js';
import { SQL } from './statements.js';
import { useTempFolder } from './test-support.js';

const file = useTempFolder();
let files = 0;
const fresh = () => file(`schema-${++files}.sqlite`);
const publishAll = async (items: readonly unknown[]) => items.map(() => true);

/** A file as version 1 of this package left it: the first migration only, with a queued job and a cleanup. */
function versionOneFile(path: string, at: number): void {
  const raw = new Database(path);
  raw.pragma('journal_mode = WAL');
  for (const statement of MIGRATIONS[0]!.statements) raw.exec(statement);
  raw.pragma('user_version = 1');
  raw
    .prepare(
      `INSERT INTO jobs (id, endpoint, status, input, attempt, max_attempts, created_at, updated_at, run_at)
       VALUES ('old-queued', 'upgrade', 'queued', '{"n":1}', 0, 3, ?, ?, ?)`,
    )
    .run(at, at, at);
  // A cleanup keeps its job's header as JSON: one kept by version 1 has no priority.
  const header = {
    id: 'old-removed',
    endpoint: 'upgrade',
    status: 'succeeded',
    error: null,
    progress: null,
    owner: null,
    idempotency_key: null,
    input_hash: null,
    attempt: 1,
    max_attempts: 3,
    cancel_requested: 0,
    lease_token: null,
    created_at: at,
    updated_at: at,
    started_at: at,
    finished_at: at,
    expires_at: at,
    estimated_completion_at: null,
    run_at: at,
    dispatched_at: null,
    lease_expires_at: null,
  };
  raw
    .prepare(
      `INSERT INTO cleanups (id, endpoint, job, input, output, attempt, due_at)
       VALUES ('old-removed', 'upgrade', ?, '{"n":2}', '{"ok":true}', 0, ?)`,
    )
    .run(JSON.stringify(header), at);
  raw.close();
}

describe('the schema', () => {
  it('lists its migrations in order, one version after the other, the last one being SCHEMA_VERSION', () => {
    expect(MIGRATIONS.map((migration) => migration.version)).toEqual(
      Array.from({ length: MIGRATIONS.length }, (_, index) => index + 1),
    );
    expect(SCHEMA_VERSION).toBe(MIGRATIONS.at(-1)!.version);
  });

  it('upgrades a version-1 file in place: its jobs get priority 0 and are dispatched in priority order with new ones', async () => {
    const path = fresh();
    const at = Date.now() - 1_000;
    versionOneFile(path, at);
    const repository = createSqliteRepository({ path });
    await repository.open();

    const raw = new Database(path, { readonly: true });
    expect(raw.pragma('user_version', { simple: true })).toBe(SCHEMA_VERSION);
    const indexes = raw
      .prepare("SELECT name FROM sqlite_master WHERE type = 'index' AND tbl_name = 'jobs'")
      .all()
      .map((row) => (row as { name: string }).name);
    expect(indexes).toEqual(expect.arrayContaining(['jobs_by_priority', 'jobs_ahead', 'jobs_undispatched']));
    raw.close();

    expect(await repository.get('old-queued')).toMatchObject({
      status: 'queued',
      priority: 0,
      input: { n: 1 },
      runAt: new Date(at),
    });
    const [urgent, later] = await repository.create([
      makeNewJob('upgrade', { priority: MAX_PRIORITY }),
      makeNewJob('upgrade', { priority: -1 }),
    ]);
    const ids = [urgent, later].map((result) => (result?.ok ? result.value.job.id : ''));
    const published: string[] = [];
    const result = await repository.dispatch({ limit: 10, redispatchAfterMs: null }, async (items) => {
      published.push(...items.map((item) => item.id));
      return publishAll(items);
    });
    expect(result).toMatchObject({ found: 3, dispatched: 3 });
    expect(published).toEqual([ids[0], 'old-queued', ids[1]]);

    const [cleanup] = await repository.claimCleanups({
      endpoints: ['upgrade'],
      limit: 10,
      leaseMs: 60_000,
      leaseToken: newLeaseToken(),
    });
    expect(cleanup?.job).toMatchObject({
      id: 'old-removed',
      priority: 0,
      input: { n: 2 },
      output: { ok: true },
    });
    await repository.close();

    // Opened again: nothing left to migrate, the jobs as they were.
    const again = createSqliteRepository({ path });
    expect(await again.get('old-queued', 'header')).toMatchObject({
      priority: 0,
      dispatchedAt: expect.any(Date),
    });
    await again.close();
  });

  it('serves the dispatcher through its indexes: priority order, the next delayed job, jobs ahead per endpoint', async () => {
    const path = fresh();
    const repository = createSqliteRepository({ path });
    await repository.open();
    await repository.close();
    const raw = new Database(path, { readonly: true });
    const plan = (sql: string, count: number) =>
      raw
        .prepare(`EXPLAIN QUERY PLAN ${sql}`)
        .all(...Array.from({ length: count }, () => null))
        .map((row) => (row as { detail: string }).detail)
        .join('\n');
    expect(plan(SQL.dispatchable, 22)).toMatch(/USING INDEX jobs_by_priority/);
    expect(plan(SQL.nextDue, 4)).toMatch(/SEARCH jobs USING INDEX jobs_undispatched \(run_at>\?\)/);
    expect(plan(SQL.ahead, 2)).toMatch(/SEARCH jobs USING INDEX jobs_ahead \(endpoint=\?\)/);
    raw.close();
  });

  it('refuses a delayMs that puts the job past the latest date, storing nothing', async () => {
    const repository = createSqliteRepository({ path: ':memory:' });
    const far = makeNewJob('sqlite-test', { delayMs: 9e15 });
    const [refused] = await repository.create([far]);
    expect(refused).toMatchObject({ ok: false, error: { name: 'InvalidInputError' } });
    expect(await repository.get(far.id)).toBeNull();
    await repository.close();
  });
});
