// Type-checked (never run) with tsc under moduleResolution node16 and bundler, against the installed tarballs:
// no @types/better-sqlite3 is installed, and none is needed (no driver type is part of the declarations).
import { createJobsRuntime, defineEndpoint, implement, type JobRepository } from '@jobs/core';
import { createMemoryQueue } from '@jobs/memory';
import { createSqliteRepository, type SqliteDriver, type SqliteJobRepository } from '@jobs/repo-sqlite';
import { z } from 'zod';

const report = defineEndpoint({
  name: 'report',
  input: z.object({ month: z.string().regex(/^\d{4}-\d{2}$/) }),
  output: z.object({ rows: z.number().int() }),
});

const driver: SqliteDriver = 'node:sqlite';
const sqlite: SqliteJobRepository = createSqliteRepository({
  path: 'data/jobs.sqlite',
  driver,
  busyTimeoutMs: 2_000,
});
const repository: JobRepository = sqlite;

// @ts-expect-error the path is required
createSqliteRepository({});
// @ts-expect-error only the drivers it knows
createSqliteRepository({ path: ':memory:', driver: 'sqlite3' });

export const runtime = createJobsRuntime({
  repository,
  queue: createMemoryQueue(),
  workers: [implement(report, async ({ month }) => ({ rows: month.length }))],
});
export const opened: Promise<void> = sqlite.open();
