import { type JobChange, type JobRecordHeader, newLeaseToken, silentLogger } from '@jobs/core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { PostgresJobRepository } from './repository.js';
import { parseNotice } from './rows.js';
import { dropSchema, newJob, randomSchema, testRepository, values, waitFor } from './test-support.js';

// Changes are announced with pg_notify in the statement that makes them, to every repository sharing the schema;
// the payload carries the JobChange (`status|attempt|cancel|updatedAt|runAt|id`), so nobody has to read the job.

const schema = randomSchema('notify');
const PROBLEM = { type: 'about:blank', title: 'Canceled', code: 'canceled' };
let writer: PostgresJobRepository;
let watcher: PostgresJobRepository;

beforeAll(async () => {
  writer = testRepository(schema, { logger: silentLogger });
  await writer.migrate();
  // Another instance, with a pool of its own: what another process sees.
  watcher = testRepository(schema, { logger: silentLogger });
});

afterAll(async () => {
  await writer?.close();
  await watcher?.close();
  await dropSchema(schema);
});

/** The change a subscriber should hear for the job as it is now. */
function changeOf(job: JobRecordHeader): JobChange {
  return {
    id: job.id,
    status: job.status,
    attempt: job.attempt,
    cancelRequested: job.cancelRequested,
    updatedAt: job.updatedAt,
    runAt: job.status === 'queued' ? job.runAt : null,
  };
}

describe('notifications', () => {
  it('another repository instance hears every change of a job, with its JobChange fields, in order; renewals and dispatches are silent', async () => {
    const heard: JobChange[] = [];
    const unsubscribe = await watcher.subscribe((change) => heard.push(change));
    const expected: JobChange[] = [];
    // An id with the separator in it: the id comes last in the payload.
    const id = `a|b||c-${crypto.randomUUID()}`;
    const endpoint = `notify-${crypto.randomUUID().slice(0, 8)}`;
    const header = async () => (await writer.get(id, 'header'))!;
    try {
      values(await writer.create([newJob(endpoint, { id })]));
      expected.push(changeOf(await header()));

      // A dispatch is silent.
      await writer.dispatch({ limit: 10, endpoints: [endpoint], redispatchAfterMs: null }, async (items) =>
        items.map(() => true),
      );
      expect((await header()).dispatchedAt).not.toBeNull();

      const leaseToken = newLeaseToken();
      await writer.claim([{ id, leaseToken, leaseMs: 60_000 }]);
      expected.push(changeOf(await header()));

      // A renewal that changes nothing is silent; one that stores progress is announced.
      values(await writer.heartbeat([{ id, leaseToken, leaseMs: 60_000 }]));
      values(await writer.heartbeat([{ id, leaseToken, leaseMs: 60_000, progress: { fraction: 0.5 } }]));
      expected.push(changeOf(await header()));
      // The same progress again changes nothing: silent.
      values(await writer.heartbeat([{ id, leaseToken, leaseMs: 60_000, progress: { fraction: 0.5 } }]));

      await writer.requestCancel(id, { retentionMs: 60_000, error: PROBLEM });
      expected.push(changeOf(await header()));

      // Back to queued for a retry in a minute: runAt is announced, the cancel request survives.
      values(
        await writer.settle([
          {
            id,
            leaseToken,
            outcome: { status: 'queued', delayMs: 60_000, error: null, refundAttempt: false },
          },
        ]),
      );
      const retry = await header();
      expect(retry).toMatchObject({ status: 'queued', cancelRequested: true });
      expected.push(changeOf(retry));

      await writer.requestCancel(id, { retentionMs: 60_000, error: PROBLEM });
      const canceled = await header();
      expect(canceled.status).toBe('canceled');
      expected.push(changeOf(canceled));

      const removedAt = Date.now();
      await writer.remove(id);

      // A later change of another job: once it is heard, everything about this job before it was heard too.
      const [sentinel] = values(await writer.create([newJob(endpoint)]));
      await waitFor(
        () => heard.some((change) => change.id === sentinel!.job.id),
        'the sentinel notification',
      );

      const mine = heard.filter((change) => change.id === id);
      expect(mine.slice(0, -1)).toEqual(expected);
      const removal = mine.at(-1)!;
      expect(removal).toMatchObject({ id, status: null, attempt: 1, cancelRequested: true, runAt: null });
      expect(removal.updatedAt.getTime()).toBeGreaterThanOrEqual(canceled.updatedAt.getTime());
      expect(Math.abs(removal.updatedAt.getTime() - removedAt)).toBeLessThan(60_000);
      // updatedAt strictly increases from one change to the next.
      for (let i = 1; i < expected.length; i++) {
        expect(expected[i]!.updatedAt.getTime()).toBeGreaterThan(expected[i - 1]!.updatedAt.getTime());
      }
    } finally {
      unsubscribe();
    }
  });

  it('changes made in one batch are each announced', async () => {
    const heard: JobChange[] = [];
    const unsubscribe = await watcher.subscribe((change) => heard.push(change));
    try {
      const endpoint = `notify-batch-${crypto.randomUUID().slice(0, 8)}`;
      const created = values(await writer.create(Array.from({ length: 20 }, () => newJob(endpoint))));
      const requests = created.map((result) => ({
        id: result.job.id,
        leaseToken: newLeaseToken(),
        leaseMs: 60_000,
      }));
      await writer.claim(requests);
      await writer.settle(
        requests.map((r) => ({
          id: r.id,
          leaseToken: r.leaseToken,
          outcome: { status: 'succeeded', output: 1, retentionMs: 60_000 } as const,
        })),
      );
      await waitFor(
        () =>
          created.every((result) =>
            heard.some((change) => change.id === result.job.id && change.status === 'succeeded'),
          ),
        'every job to be announced as succeeded',
      );
      for (const { job } of created) {
        expect(
          heard.filter((change) => change.id === job.id).map((change) => [change.status, change.attempt]),
        ).toEqual([
          ['queued', 0],
          ['running', 1],
          ['succeeded', 1],
        ]);
      }
    } finally {
      unsubscribe();
    }
  });

  it('a subscriber that unsubscribed hears nothing more; one that throws does not stop the others', async () => {
    const kept: JobChange[] = [];
    const dropped: JobChange[] = [];
    const unsubscribeThrowing = await watcher.subscribe(() => {
      throw new Error('subscriber bug');
    });
    const unsubscribeDropped = await watcher.subscribe((change) => dropped.push(change));
    const unsubscribeKept = await watcher.subscribe((change) => kept.push(change));
    try {
      unsubscribeDropped();
      const [created] = values(await writer.create([newJob('notify-unsubscribed')]));
      await waitFor(() => kept.some((change) => change.id === created!.job.id), 'the notification');
      expect(dropped).toEqual([]);
    } finally {
      unsubscribeThrowing();
      unsubscribeKept();
    }
  });

  it('parses payloads strictly: anything that is not a change notification is ignored', () => {
    expect(parseNotice('queued|0|0|1700000000000|1700000000001|x|y')).toEqual({
      id: 'x|y',
      status: 'queued',
      attempt: 0,
      cancelRequested: false,
      updatedAt: new Date(1700000000000),
      runAt: new Date(1700000000001),
    });
    expect(parseNotice('|2|1|1700000000000||gone')).toEqual({
      id: 'gone',
      status: null,
      attempt: 2,
      cancelRequested: true,
      updatedAt: new Date(1700000000000),
      runAt: null,
    });
    for (const payload of ['', 'some-id', 'queued|0|0|1|2|', 'bogus|0|0|1|2|id', 'queued|0|0|1']) {
      expect(parseNotice(payload), payload).toBeNull();
    }
  });
});
