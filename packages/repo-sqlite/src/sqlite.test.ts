// What is specific to SQLite: the file (WAL, durability across a reopen, the schema version), a busy database,
// notifications between repositories of one process and of other processes, the dispatch hold, the options.
import { newJobId, newLeaseToken, UnavailableError } from '@jobs/core';
import { delay, makeNewJob, waitFor } from '@jobs/testing';
import Database from 'better-sqlite3';
import { describe, expect, it } from 'vitest';
import { createSqliteRepository, SCHEMA_VERSION, SchemaVersionError } from './index.js';
import { startChild, useTempFolder } from './test-support.js';

const file = useTempFolder();
let files = 0;
const fresh = () => file(`test-${++files}.sqlite`);
const job = (endpoint = 'sqlite-test') => makeNewJob(endpoint);

describe('the file', () => {
  it('is in WAL mode and keeps jobs, leases and outputs across a close and a reopen', async () => {
    const path = fresh();
    const first = createSqliteRepository({ path });
    const [a, b] = await first.create([job(), job()]);
    const idA = a?.ok ? a.value.job.id : '';
    const idB = b?.ok ? b.value.job.id : '';
    const token = newLeaseToken();
    await first.claim([{ id: idA, leaseToken: token, leaseMs: 60_000 }]);
    await first.settle([
      {
        id: idA,
        leaseToken: token,
        outcome: { status: 'succeeded', output: { ok: 1 }, retentionMs: 60_000 },
      },
    ]);
    await first.close();

    const raw = new Database(path, { readonly: true });
    expect(raw.pragma('journal_mode', { simple: true })).toBe('wal');
    expect(raw.pragma('user_version', { simple: true })).toBe(SCHEMA_VERSION);
    raw.close();

    const second = createSqliteRepository({ path });
    expect(await second.get(idA)).toMatchObject({ status: 'succeeded', output: { ok: 1 }, attempt: 1 });
    expect(await second.get(idB)).toMatchObject({ status: 'queued', input: { value: 1 } });
    await second.close();
  });

  it('refuses a schema from a newer release without touching it', async () => {
    const path = fresh();
    const raw = new Database(path);
    raw.pragma(`user_version = ${SCHEMA_VERSION + 1}`);
    raw.close();
    const repository = createSqliteRepository({ path });
    await expect(repository.open()).rejects.toBeInstanceOf(SchemaVersionError);
    await repository.close();
    const after = new Database(path, { readonly: true });
    expect(after.pragma('user_version', { simple: true })).toBe(SCHEMA_VERSION + 1);
    expect(after.prepare("SELECT count(*) AS n FROM sqlite_master WHERE name = 'jobs'").get()).toEqual({
      n: 0,
    });
    after.close();
  });

  it('gives each :memory: repository a database of its own', async () => {
    const one = createSqliteRepository({ path: ':memory:' });
    const two = createSqliteRepository({ path: ':memory:' });
    const [created] = await one.create([job()]);
    const id = created?.ok ? created.value.job.id : '';
    expect(await one.get(id)).not.toBeNull();
    expect(await two.get(id)).toBeNull();
    await Promise.all([one.close(), two.close()]);
  });
});

describe('a busy database', () => {
  it('fails with UnavailableError after the busy timeout, changing nothing, and works once the lock is gone', async () => {
    const path = fresh();
    const repository = createSqliteRepository({ path, busyTimeoutMs: 100 });
    const [created] = await repository.create([job()]);
    const id = created?.ok ? created.value.job.id : '';
    const before = await repository.get(id);

    // Another connection (another process, as far as SQLite can tell) holds the write lock.
    const other = new Database(path);
    other.exec('BEGIN IMMEDIATE');
    try {
      await expect(repository.create([job()])).rejects.toBeInstanceOf(UnavailableError);
      await expect(
        repository.claim([{ id, leaseToken: newLeaseToken(), leaseMs: 1_000 }]),
      ).rejects.toMatchObject({
        name: 'UnavailableError',
        status: 503,
      });
      await expect(
        repository.dispatch({ limit: 10, redispatchAfterMs: null }, async (items) => items.map(() => true)),
      ).rejects.toBeInstanceOf(UnavailableError);
      // Reads go on under WAL while another connection writes.
      expect(await repository.get(id)).toEqual(before);
    } finally {
      other.exec('ROLLBACK');
      other.close();
    }
    expect(await repository.get(id)).toEqual(before);
    const [claimed] = await repository.claim([{ id, leaseToken: newLeaseToken(), leaseMs: 1_000 }]);
    expect(claimed).toMatchObject({ id, status: 'running', attempt: 1 });
    await repository.close();
  });
});

describe('notifications', () => {
  it('reach every repository of this process on the same file, at once', async () => {
    const path = fresh();
    const writer = createSqliteRepository({ path, notificationPollMs: 0 });
    const reader = createSqliteRepository({ path, notificationPollMs: 0 });
    const heard: string[] = [];
    const unsubscribe = await reader.subscribe((change) => heard.push(`${change.id} ${change.status}`));
    const [created] = await writer.create([job()]);
    const id = created?.ok ? created.value.job.id : '';
    await waitFor(() => heard.includes(`${id} queued`), {
      message: 'the create heard by the other repository',
    });
    unsubscribe();
    await Promise.all([writer.close(), reader.close()]);
  });

  it('reach repositories of other processes through the change log', async () => {
    const path = fresh();
    const repository = createSqliteRepository({ path, notificationPollMs: 20 });
    await repository.open();
    const heard: Array<{ id: string; status: string | null }> = [];
    const unsubscribe = await repository.subscribe((change) => heard.push(change));
    const child = startChild('notify-child.ts', { JOBS_SQLITE_PATH: path });
    expect(await child.exited).toMatchObject({ code: 0 });
    const id = /done (\S+)/.exec(child.output())?.[1];
    expect(id, child.output()).toBeDefined();
    await waitFor(() => heard.filter((change) => change.id === id).length === 3, {
      message: 'three changes made by the other process',
    });
    expect(heard.filter((change) => change.id === id).map((change) => change.status)).toEqual([
      'queued',
      'running',
      'succeeded',
    ]);
    unsubscribe();
    await repository.close();
  });

  it('with a log pruned past what a reader read, tell subscribers to check what they watch', async () => {
    const path = fresh();
    const repository = createSqliteRepository({ path, notificationPollMs: 20 });
    await repository.open();
    const live: boolean[] = [];
    const unsubscribe = await repository.subscribe(() => {}, { onLiveChange: (value) => live.push(value) });
    const other = new Database(path);
    const log = other.prepare(
      "INSERT INTO changes (origin, id, status, updated_at, attempt, cancel_requested, run_at, at) VALUES ('x', ?, 'queued', 1, 0, 0, 1, 1)",
    );
    for (let i = 0; i < 3; i++) log.run(newJobId());
    other.exec('DELETE FROM changes');
    log.run(newJobId());
    other.close();
    await waitFor(() => live.length >= 2, { message: 'the gap to be reported' });
    expect(live.slice(0, 2)).toEqual([false, true]);
    unsubscribe();
    await repository.close();
  });
});

describe('dispatch', () => {
  it('holds its jobs without holding a transaction: other writers go on while publish runs', async () => {
    const path = fresh();
    const dispatcher = createSqliteRepository({ path, busyTimeoutMs: 100 });
    const other = createSqliteRepository({ path, busyTimeoutMs: 100 });
    const [created] = await dispatcher.create([job()]);
    const id = created?.ok ? created.value.job.id : '';
    let release!: () => void;
    const publishing = new Promise<void>((resolve) => {
      release = resolve;
    });
    let started!: () => void;
    const inPublish = new Promise<void>((resolve) => {
      started = resolve;
    });
    const result = dispatcher.dispatch({ limit: 10, redispatchAfterMs: null }, async (items) => {
      started();
      await publishing;
      return items.map(() => true);
    });
    await inPublish;
    // A write on the same file, from another connection, while the dispatch publishes.
    const [more] = await other.create([job()]);
    expect(more?.ok).toBe(true);
    release();
    expect(await result).toMatchObject({ found: 2 - 1, dispatched: 1 });
    expect((await other.get(id))?.dispatchedAt).toBeInstanceOf(Date);
    await Promise.all([dispatcher.close(), other.close()]);
  });

  it('of a process that died while publishing: its jobs are dispatchable again once the hold expired', async () => {
    const path = fresh();
    let now = Date.now();
    const clock = () => now;
    const dying = createSqliteRepository({ path, clock, dispatchHoldMs: 5_000 });
    const [created] = await dying.create([job()]);
    const id = created?.ok ? created.value.job.id : '';
    // The publish never returns: as far as the file is concerned, this process is gone.
    void dying.dispatch({ limit: 10, redispatchAfterMs: null }, () => new Promise(() => {}));
    await delay(20);

    const survivor = createSqliteRepository({ path, clock });
    const publish = async (items: readonly { id: string }[]) => items.map(() => true);
    expect(await survivor.dispatch({ limit: 10, redispatchAfterMs: 0 }, publish)).toMatchObject({ found: 0 });
    now += 4_999;
    expect(await survivor.dispatch({ limit: 10, redispatchAfterMs: 0 }, publish)).toMatchObject({ found: 0 });
    now += 1;
    expect(await survivor.dispatch({ limit: 10, redispatchAfterMs: 0 }, publish)).toMatchObject({
      found: 1,
      dispatched: 1,
    });
    expect((await survivor.get(id))?.dispatchedAt?.getTime()).toBe(now);
    await survivor.close();
    await dying.close();
  });
  it('of a repository closed while it publishes: rejects with UnavailableError', async () => {
    const repository = createSqliteRepository({ path: fresh() });
    await repository.create([job()]);
    let release!: (answers: boolean[]) => void;
    const result = repository.dispatch(
      { limit: 10, redispatchAfterMs: null },
      () =>
        new Promise((resolve) => {
          release = resolve;
        }),
    );
    await waitFor(() => release !== undefined, { message: 'publish to be called' });
    await repository.close();
    release([true]);
    await expect(result).rejects.toBeInstanceOf(UnavailableError);
  });
});

describe('values and options', () => {
  it('refuses a payload larger than maxPayloadBytes, storing nothing', async () => {
    const repository = createSqliteRepository({ path: ':memory:', maxPayloadBytes: 100 });
    const big = makeNewJob('sqlite-test', { input: { text: 'x'.repeat(200) } });
    const [refused] = await repository.create([big]);
    expect(refused).toMatchObject({ ok: false, error: { name: 'InvalidInputError' } });
    expect(await repository.get(big.id)).toBeNull();
    await repository.close();
  });

  it('checks its options at once', () => {
    const create = (options: object) => () => createSqliteRepository(options as never);
    expect(create({})).toThrow(/path/);
    expect(create({ path: ':memory:', driver: 'sqlite3' })).toThrow(/driver must be one of/);
    expect(create({ path: ':memory:', busyTimeoutMs: -1 })).toThrow(/busyTimeoutMs/);
    expect(create({ path: ':memory:', dispatchHoldMs: 0 })).toThrow(/dispatchHoldMs/);
    expect(create({ path: ':memory:', synchronous: 'off' })).toThrow(/synchronous/);
    expect(create({ path: ':memory:', clock: 5 })).toThrow(/clock/);
  });

  it('says what to do when a driver cannot be loaded here', async () => {
    const repository = createSqliteRepository({ path: ':memory:', driver: 'bun:sqlite' });
    await expect(repository.open()).rejects.toThrow(/bun:sqlite exists only on Bun/);
    await repository.close();
  });

  it('after close(), every call fails with UnavailableError', async () => {
    const repository = createSqliteRepository({ path: fresh() });
    await repository.open();
    await repository.close();
    await expect(repository.get(newJobId())).rejects.toBeInstanceOf(UnavailableError);
    await expect(repository.create([job()])).rejects.toBeInstanceOf(UnavailableError);
  });
});
