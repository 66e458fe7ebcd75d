import { InvalidInputError, type NewJob, newJobId, newLeaseToken } from '@jobs/core';
import type pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { InvalidIdentifierError } from './identifiers.js';
import { createPostgresRepository, type PostgresJobRepository } from './repository.js';
import {
  DATABASE_URL,
  dropSchema,
  newJob as makeNewJob,
  randomSchema,
  testRepository,
  values,
  withAdmin,
} from './test-support.js';

/** A pool that records every use: proof that nothing reached the database. */
function recordingPool(): { pool: pg.Pool; calls: string[] } {
  const calls: string[] = [];
  const pool = {
    query: (...args: unknown[]) => {
      calls.push(`query ${String(args[0])}`);
      return Promise.reject(new Error('no SQL expected'));
    },
    connect: () => {
      calls.push('connect');
      return Promise.reject(new Error('no connection expected'));
    },
    on: () => pool,
    removeListener: () => pool,
    options: {},
  } as unknown as pg.Pool;
  return { pool, calls };
}

describe('identifier injection through the schema option', () => {
  const hostile: unknown[] = [
    '"; drop table x; --',
    'jobs"; DROP SCHEMA public CASCADE; --',
    'a"b',
    "a'b",
    'Jobs',
    'UPPER',
    'a'.repeat(64),
    '',
    ' jobs',
    'jobs ',
    'jobs.other',
    'public.jobs',
    '1jobs',
    'jöbs',
    'jobs\u0000',
    'pg_catalog',
    'pg_temp',
    'a-b',
    123,
    null,
  ];

  for (const schema of hostile) {
    it(`refuses ${JSON.stringify(schema)} before any SQL runs`, () => {
      const { pool, calls } = recordingPool();
      expect(() => createPostgresRepository({ pool, schema: schema as string })).toThrow(
        InvalidIdentifierError,
      );
      expect(() => createPostgresRepository({ pool, schema: schema as string })).toThrow(
        /Invalid schema name/,
      );
      expect(calls).toEqual([]);
    });
  }

  it('refuses a hostile notification channel the same way', () => {
    const { pool, calls } = recordingPool();
    for (const notifyChannel of ['x"; NOTIFY y; --', 'Chan', '', 'a'.repeat(64)]) {
      expect(() => createPostgresRepository({ pool, notifyChannel })).toThrow(/Invalid notification channel/);
    }
    expect(calls).toEqual([]);
  });

  it('accepts the longest valid name and works with it', async () => {
    const schema = `z${crypto.randomUUID().replaceAll('-', '')}`.padEnd(63, '_');
    expect(schema).toHaveLength(63);
    const repository = createPostgresRepository({ connectionString: DATABASE_URL, schema });
    try {
      await repository.migrate();
      expect(await repository.get(newJobId())).toBeNull();
    } finally {
      await repository.close();
      await dropSchema(schema);
    }
  });
});

describe('values PostgreSQL cannot hold', () => {
  const schema = randomSchema('injection');
  const maxPayloadBytes = 2048;
  let repository: PostgresJobRepository;

  beforeAll(async () => {
    repository = testRepository(schema, { maxPayloadBytes });
    await repository.migrate();
  });

  afterAll(async () => {
    await repository.close();
    await dropSchema(schema);
  });

  function newJob(overrides: Partial<NewJob> = {}): NewJob {
    return makeNewJob('values', { input: { ok: true }, ...overrides });
  }

  async function rowCount(): Promise<number> {
    const result = await withAdmin((client) =>
      client.query<{ n: string }>(`SELECT count(*) AS n FROM "${schema}".jobs`),
    );
    return Number(result.rows[0]!.n);
  }

  async function running() {
    const [created] = values(await repository.create([newJob()]));
    const token = newLeaseToken();
    const [claimed] = await repository.claim([{ id: created!.job.id, leaseToken: token, leaseMs: 600_000 }]);
    if (!claimed) throw new Error('claim failed');
    return { job: claimed, token };
  }

  /** The item's error, failing when it was not refused. */
  function refusal(result: { ok: true } | { ok: false; error: Error } | undefined): Error {
    if (!result || result.ok) throw new Error('expected the item to be refused');
    return result.error;
  }

  const cyclic: Record<string, unknown> = { name: 'loop' };
  cyclic.self = cyclic;

  const badInputs: Array<[string, unknown]> = [
    ['\\u0000 in a string', { text: 'a\u0000b' }],
    ['\\u0000 in a key', { 'key\u0000': 1 }],
    ['\\u0000 deep in an array', [1, [2, ['x\u0000']]]],
    ['a lone high surrogate', { text: 'a\uD800b' }],
    ['a lone low surrogate', { text: '\uDC00' }],
    ['a lone surrogate at the end', 'end\uD83D'],
    ['a lone surrogate in a key', { '\uDFFF': true }],
    ['a payload over maxPayloadBytes', { blob: 'x'.repeat(maxPayloadBytes) }],
    ['a payload over maxPayloadBytes in multi-byte characters', { blob: '漢'.repeat(700) }],
    ['a BigInt', { n: 10n }],
    ['a cycle', cyclic],
  ];

  for (const [what, input] of badInputs) {
    it(`create refuses ${what} with InvalidInputError and stores nothing`, async () => {
      const before = await rowCount();
      const job = newJob({ input });
      const [result] = await repository.create([job]);
      const error = refusal(result);
      expect(error).toBeInstanceOf(InvalidInputError);
      expect(error).toMatchObject({ code: 'invalid_input', status: 422 });
      expect(await repository.get(job.id)).toBeNull();
      expect(await rowCount()).toBe(before);
    });
  }

  it('refuses only the bad items of a batch: the others are stored', async () => {
    const before = await rowCount();
    const good = [newJob(), newJob({ idempotencyKey: `k-${crypto.randomUUID()}` })];
    const bad = [newJob({ input: { text: 'a\u0000b' } }), newJob({ owner: 'o\uD800' })];
    const results = await repository.create([bad[0]!, good[0]!, bad[1]!, good[1]!]);
    expect(refusal(results[0])).toBeInstanceOf(InvalidInputError);
    expect(refusal(results[2])).toBeInstanceOf(InvalidInputError);
    expect(results[1]).toMatchObject({ ok: true, value: { created: true, job: { id: good[0]!.id } } });
    expect(results[3]).toMatchObject({ ok: true, value: { created: true, job: { id: good[1]!.id } } });
    expect(await rowCount()).toBe(before + 2);
    for (const job of bad) expect(await repository.get(job.id)).toBeNull();
  });

  it('an id already stored (in the table or earlier in the same batch) refuses its item with InvalidInputError', async () => {
    const job = newJob();
    values(await repository.create([job]));
    const again = await repository.create([{ ...job, input: { other: true } }]);
    expect(refusal(again[0])).toBeInstanceOf(InvalidInputError);
    const twin = newJob();
    const twice = await repository.create([twin, { ...twin, input: { second: true } }]);
    expect(twice[0]).toMatchObject({ ok: true, value: { created: true } });
    expect(refusal(twice[1])).toBeInstanceOf(InvalidInputError);
    expect((await repository.get(job.id))?.input).toEqual(job.input);
    expect((await repository.get(twin.id))?.input).toEqual(twin.input);
  });

  it('refuses unstorable text fields (owner, idempotency key, endpoint, input hash, id)', async () => {
    const before = await rowCount();
    for (const overrides of [
      { owner: 'o\u0000' },
      { idempotencyKey: 'k\uD800' },
      { endpoint: 'e\u0000' },
      { inputHash: '\uDC00' },
      { id: 'i\u0000' },
    ] satisfies Partial<NewJob>[]) {
      const [result] = await repository.create([newJob(overrides)]);
      expect(refusal(result)).toBeInstanceOf(InvalidInputError);
    }
    expect(await rowCount()).toBe(before);
  });

  it('stores what only looks dangerous: escaped text, surrogate pairs, SQL, a payload just under the limit', async () => {
    const inputs = [
      { text: '\\u0000 is only text here', quote: `'; DROP TABLE jobs; --`, ident: '"x"' },
      { emoji: '🚀 pairs are fine 𝄞', key: { '🔑': 'value' } },
      { blob: 'x'.repeat(maxPayloadBytes - 20) },
    ];
    for (const input of inputs) {
      const [created] = values(
        await repository.create([
          newJob({ input, owner: `o'; --`, idempotencyKey: `"k${crypto.randomUUID()}"` }),
        ]),
      );
      expect((await repository.get(created!.job.id))?.input).toEqual(input);
    }
  });

  it('settle refuses an unstorable output or error and leaves the job running', async () => {
    const { job, token } = await running();
    const outcomes = [
      { status: 'succeeded', output: { text: '\u0000' }, retentionMs: 1000 },
      { status: 'succeeded', output: 'x'.repeat(maxPayloadBytes + 1), retentionMs: 1000 },
      {
        status: 'failed',
        error: { type: 't', title: 't', code: 'c', detail: 'bad \uD800' },
        retentionMs: 1000,
      },
      {
        status: 'queued',
        delayMs: 0,
        error: { type: 't', title: '\u0000', code: 'c' },
        refundAttempt: false,
      },
    ] as const;
    for (const outcome of outcomes) {
      const [result] = await repository.settle([{ id: job.id, leaseToken: token, outcome }]);
      expect(refusal(result)).toBeInstanceOf(InvalidInputError);
      expect(await repository.get(job.id)).toEqual(job);
    }
    // A refused item leaves its neighbours in the batch alone.
    const other = await running();
    const results = await repository.settle([
      { id: job.id, leaseToken: token, outcome: outcomes[0] },
      {
        id: other.job.id,
        leaseToken: other.token,
        outcome: { status: 'succeeded', output: 1, retentionMs: 1000 },
      },
    ]);
    expect(refusal(results[0])).toBeInstanceOf(InvalidInputError);
    expect(results[1]).toEqual({ ok: true, value: true });
    expect(await repository.get(job.id)).toEqual(job);
    expect(await repository.get(other.job.id)).toMatchObject({ status: 'succeeded', output: 1 });
  });

  it('heartbeat refuses an unstorable progress message and changes nothing', async () => {
    const { job, token } = await running();
    for (const progress of [
      { fraction: 0.5, message: 'nul \u0000' },
      { fraction: 0.5, message: 'lone \uDBFF' },
      { fraction: 0.5, message: 'm'.repeat(maxPayloadBytes) },
      { fraction: Number.NaN },
    ]) {
      const [result] = await repository.heartbeat([
        { id: job.id, leaseToken: token, leaseMs: 900_000, progress },
      ]);
      expect(refusal(result)).toBeInstanceOf(InvalidInputError);
      expect(await repository.get(job.id)).toEqual(job);
    }
  });

  it('requestCancel refuses an unstorable error and leaves the job queued', async () => {
    const [created] = values(await repository.create([newJob()]));
    const before = await repository.get(created!.job.id);
    await expect(
      repository.requestCancel(created!.job.id, {
        retentionMs: 1000,
        error: { type: 't', title: 't', code: '\u0000' },
      }),
    ).rejects.toBeInstanceOf(InvalidInputError);
    expect(await repository.get(created!.job.id)).toEqual(before);
  });

  it('ids that cannot exist are simply unknown, never a driver error', async () => {
    for (const id of ['\u0000', 'a\uD800', "'; DROP TABLE jobs; --", 'x'.repeat(10_000)]) {
      const leaseToken = newLeaseToken();
      expect(await repository.get(id)).toBeNull();
      expect(await repository.get(id, 'header')).toBeNull();
      expect(await repository.claim([{ id, leaseToken, leaseMs: 1000 }])).toEqual([null]);
      expect(await repository.remove(id)).toBeNull();
      expect(
        await repository.requestCancel(id, { retentionMs: 1, error: { type: 't', title: 't', code: 'c' } }),
      ).toBeNull();
      expect(await repository.heartbeat([{ id, leaseToken, leaseMs: 1000 }])).toEqual([
        { ok: true, value: { held: false, cancelRequested: false } },
      ]);
      expect(
        await repository.settle([
          { id, leaseToken, outcome: { status: 'succeeded', output: 1, retentionMs: 1 } },
        ]),
      ).toEqual([{ ok: true, value: false }]);
      expect(await repository.finishCleanup(id, leaseToken, null)).toBe(false);
    }
  });
});
