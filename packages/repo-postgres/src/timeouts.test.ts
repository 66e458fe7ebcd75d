import { newJobId, newLeaseToken, silentLogger, UnavailableError } from '@jobs/core';
import pg from 'pg';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { createPostgresRepository, type PostgresJobRepository } from './repository.js';
import {
  DATABASE_URL,
  dropSchema,
  escapedErrors,
  newJob,
  randomSchema,
  settleWithin,
  TcpProxy,
  testRepository,
  values,
  waitFor,
  withAdmin,
} from './test-support.js';

// No call waits forever on a database that does not answer: every statement is bounded by `queryTimeoutMs`,
// whoever made the pool. "Bounded" is checked with a watchdog many times the timeout: it tells a call that fails
// from one that hangs, it does not measure speed.

const schema = randomSchema('timeouts');
const QUERY_TIMEOUT_MS = 500;
const WATCHDOG_MS = 15_000;
let escaped: ReturnType<typeof escapedErrors>;

beforeAll(async () => {
  escaped = escapedErrors();
  const repository = testRepository(schema);
  await repository.migrate();
  await repository.close();
});

afterAll(async () => {
  escaped.stop();
  await dropSchema(schema);
});

afterEach(() => {
  expect(escaped.errors).toEqual([]);
});

async function expectUnavailable(promise: Promise<unknown>, what: string): Promise<void> {
  const outcome = await settleWithin(promise, WATCHDOG_MS);
  expect(outcome.status, `${what} must fail, not hang`).toBe('rejected');
  if (outcome.status === 'rejected') {
    expect(outcome.reason, `${what}: ${String(outcome.reason)}`).toBeInstanceOf(UnavailableError);
  }
}

describe('a pool given by the application', () => {
  it('gets the query timeout too: a statement that waits on a lock fails with UnavailableError', async () => {
    const pool = new pg.Pool({ connectionString: DATABASE_URL, max: 3 }); // no timeout of its own
    pool.on('error', () => {});
    const repository = createPostgresRepository({
      pool,
      schema,
      queryTimeoutMs: QUERY_TIMEOUT_MS,
      logger: silentLogger,
    });
    const [created] = values(await repository.create([newJob('user-pool')]));
    const id = created!.job.id;
    try {
      await withAdmin(async (admin) => {
        // Another session holds the table: every statement on it waits for as long as it is held.
        await admin.query('BEGIN');
        await admin.query(`LOCK TABLE "${schema}".jobs IN ACCESS EXCLUSIVE MODE`);
        try {
          await expectUnavailable(repository.get(id), 'get');
          await expectUnavailable(repository.list({ endpoint: 'user-pool', owner: null, limit: 10 }), 'list');
          await expectUnavailable(
            repository.dispatch({ limit: 10, redispatchAfterMs: null }, async (items) =>
              items.map(() => true),
            ),
            'dispatch',
          );
        } finally {
          await admin.query('ROLLBACK');
        }
      });
      // The same repository and pool work again; the connections that timed out were dropped, not reused.
      expect(await waitFor(() => repository.get(id, 'header'), 'get to work again')).toMatchObject({ id });
      await repository.close();
      // close() leaves a pool it does not own open.
      expect((await pool.query('SELECT 1 AS one')).rows).toEqual([{ one: 1 }]);
    } finally {
      await repository.close();
      await pool.end();
    }
  }, 60_000);

  it('a pool with no free connection: the call fails with UnavailableError instead of queueing forever', async () => {
    const pool = new pg.Pool({ connectionString: DATABASE_URL, max: 1 });
    pool.on('error', () => {});
    const repository = createPostgresRepository({
      pool,
      schema,
      queryTimeoutMs: QUERY_TIMEOUT_MS,
      logger: silentLogger,
    });
    try {
      await repository.migrate();
      const held = await pool.connect();
      try {
        await expectUnavailable(repository.get(newJobId()), 'get');
        await expectUnavailable(
          repository.dispatch({ limit: 1, redispatchAfterMs: null }, async (items) => items.map(() => true)),
          'dispatch',
        );
      } finally {
        held.release();
      }
      expect(
        await waitFor(async () => (await repository.get(newJobId())) === null, 'get to work again'),
      ).toBe(true);
    } finally {
      await repository.close();
      await pool.end();
    }
  }, 30_000);
});

describe('a database that stops answering (black hole: nothing closed, nothing arrives)', () => {
  let proxy: TcpProxy;
  let repository: PostgresJobRepository;

  beforeAll(async () => {
    proxy = new TcpProxy();
    await proxy.start();
  });

  afterEach(async () => {
    proxy.heal();
    proxy.destroyConnections();
  });

  afterAll(async () => {
    await proxy.stop();
  });

  function proxiedRepository() {
    return createPostgresRepository({
      connectionString: proxy.url(),
      schema,
      queryTimeoutMs: QUERY_TIMEOUT_MS,
      listenHealthCheckMs: 250,
      reconnectDelayMs: 20,
      maxReconnectDelayMs: 200,
      logger: silentLogger,
    });
  }

  it('every operation fails with UnavailableError within the query timeout, and all works again when it answers again', async () => {
    repository = proxiedRepository();
    try {
      const [created] = values(await repository.create([newJob('black-hole')]));
      const id = created!.job.id;
      const leaseToken = newLeaseToken();
      await repository.claim([{ id, leaseToken, leaseMs: 60_000 }]);
      proxy.blackHole();
      const operations: Array<[string, () => Promise<unknown>]> = [
        ['get', () => repository.get(id)],
        ['create', () => repository.create([newJob('black-hole')])],
        ['claim', () => repository.claim([{ id: newJobId(), leaseToken, leaseMs: 1000 }])],
        ['heartbeat', () => repository.heartbeat([{ id, leaseToken, leaseMs: 60_000 }])],
        [
          'settle',
          () =>
            repository.settle([
              { id, leaseToken, outcome: { status: 'succeeded', output: 1, retentionMs: 1 } },
            ]),
        ],
        ['list', () => repository.list({ endpoint: 'black-hole', owner: null, limit: 1 })],
        [
          'dispatch',
          () =>
            repository.dispatch({ limit: 1, redispatchAfterMs: null }, async (items) =>
              items.map(() => true),
            ),
        ],
        ['deleteExpired', () => repository.deleteExpired(10)],
      ];
      await Promise.all(operations.map(([what, operation]) => expectUnavailable(operation(), what)));

      proxy.heal();
      expect(await waitFor(() => repository.get(id, 'header'), 'the database to answer again')).toMatchObject(
        {
          status: 'running',
        },
      );
    } finally {
      await repository.close();
    }
  }, 60_000);

  it('a dispatch whose connection goes silent while publish runs fails with UnavailableError instead of hanging', async () => {
    repository = proxiedRepository();
    try {
      const [created] = values(await repository.create([newJob('black-hole-dispatch')]));
      const dispatch = repository.dispatch(
        { limit: 10, endpoints: ['black-hole-dispatch'], redispatchAfterMs: null },
        async (items) => {
          proxy.blackHole();
          return items.map(() => true);
        },
      );
      await expectUnavailable(dispatch, 'dispatch');
      proxy.heal();
      proxy.destroyConnections(); // the partition ends: the server sees the silent connection go, and its locks
      expect(
        await waitFor(() => repository.get(created!.job.id, 'header'), 'the database again'),
      ).toMatchObject({
        dispatchedAt: null,
      });
    } finally {
      await repository.close();
    }
  }, 60_000);

  it('subscribers hear onLiveChange(false) when the LISTEN connection stops answering, and (true) once it answers again', async () => {
    repository = proxiedRepository();
    const live: boolean[] = [];
    const heard: string[] = [];
    try {
      await repository.subscribe((change) => heard.push(change.id), {
        onLiveChange: (value) => live.push(value),
      });
      proxy.blackHole();
      await waitFor(() => live.length > 0, 'onLiveChange(false) from the health check');
      expect(live).toEqual([false]);
      expect(repository.listening).toBe(false);
      proxy.heal();
      await waitFor(() => live.length > 1, 'onLiveChange(true)');
      expect(live).toEqual([false, true]);
      const [created] = values(
        await waitFor(() => repository.create([newJob('black-hole-listen')]), 'create'),
      );
      await waitFor(() => heard.includes(created!.job.id), 'a notification');
    } finally {
      await repository.close();
    }
  }, 60_000);

  it('a LISTEN that gets no answer fails the subscription with UnavailableError instead of hanging it', async () => {
    repository = proxiedRepository();
    try {
      proxy.blackHoleOn('LISTEN');
      await expectUnavailable(
        repository.subscribe(() => {}),
        'subscribe',
      );
      expect(repository.listening).toBe(false);
      proxy.blackHoleOn(null);
      const heard: string[] = [];
      await repository.subscribe((change) => heard.push(change.id));
      expect(repository.listening).toBe(true);
      const [created] = values(await repository.create([newJob('black-hole-listen-statement')]));
      await waitFor(() => heard.includes(created!.job.id), 'a notification');
    } finally {
      proxy.blackHoleOn(null);
      await repository.close();
    }
  }, 60_000);

  it('close() returns although the database stopped answering', async () => {
    repository = proxiedRepository();
    await repository.subscribe(() => {});
    values(await repository.create([newJob('black-hole-close')])); // an idle pooled connection, too
    proxy.blackHole();
    const outcome = await settleWithin(repository.close(), WATCHDOG_MS);
    expect(outcome.status).toBe('fulfilled');
  }, 30_000);
});
