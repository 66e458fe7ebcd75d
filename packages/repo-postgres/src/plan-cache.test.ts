import { silentLogger } from '@jobs/core';
import type pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createPostgresRepository, type PostgresRepositoryOptions } from './repository.js';
import { DATABASE_URL, dropSchema, randomSchema } from './test-support.js';

// The pool the repository creates plans each statement with its own values (see README, "Statements"): a generic
// plan made while the jobs table was young would scan the whole table on every claim and settle.

const schema = randomSchema('plans');

beforeAll(async () => {
  const repository = createPostgresRepository({
    connectionString: DATABASE_URL,
    schema,
    logger: silentLogger,
  });
  await repository.migrate();
  await repository.close();
});

afterAll(() => dropSchema(schema));

async function settingOf(options: PostgresRepositoryOptions, setting = 'plan_cache_mode'): Promise<string> {
  const repository = createPostgresRepository({
    connectionString: DATABASE_URL,
    schema,
    logger: silentLogger,
    ...options,
  });
  try {
    // The repository's own pool: its connections carry the startup option.
    const pool = (repository as unknown as { pool: pg.Pool }).pool;
    const result = await pool.query<Record<string, string>>(`SHOW ${setting}`);
    return result.rows[0]![setting]!;
  } finally {
    await repository.close();
  }
}

describe('plan cache mode of the pool the repository creates', () => {
  it('is force_custom_plan with prepared statements (the default)', async () => {
    expect(await settingOf({})).toBe('force_custom_plan');
  });

  it('keeps options given in poolConfig', async () => {
    const poolConfig = { options: '-c lock_timeout=1234' };
    expect(await settingOf({ poolConfig })).toBe('force_custom_plan');
    expect(await settingOf({ poolConfig }, 'lock_timeout')).toBe('1234ms');
  });

  it('is the server default with forceCustomPlans: false or without prepared statements', async () => {
    expect(await settingOf({ forceCustomPlans: false })).toBe('auto');
    expect(await settingOf({ preparedStatements: false })).toBe('auto');
  });
});
