// Owner isolation on every route: another owner (or none) learns nothing of a job and changes nothing, whatever
// it sends along (waits, entity tags, event ids, cursors, idempotency keys).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { HttpSession } from './session.js';
import {
  type HttpSuiteFactory,
  type HttpSuiteSetup,
  type HttpSuiteTarget,
  httpSuiteSetup,
} from './target.js';
import type { Answer } from './wire.js';

interface Job {
  id: string;
  status: string;
  cancelRequested: boolean;
  updatedAt: string;
}

/**
 * Owner isolation on every route, for a repository behind the HTTP front end: status, `Prefer: wait`,
 * `If-None-Match`, output, events with and without `Last-Event-ID`, DELETE, retry, lists with cursors and idempotency
 * replays answer another owner (and the no-owner space) as if the job did not exist, and change nothing.
 */
export function describeHttpOwnerIsolation(name: string, factory: HttpSuiteFactory): void {
  describe(`HTTP owner isolation (${name})`, () => {
    let setup: HttpSuiteSetup;
    let target: HttpSuiteTarget;
    let session: HttpSession;
    beforeAll(async () => {
      setup = httpSuiteSetup();
      target = await factory(setup);
      session = new HttpSession(target);
    });
    afterAll(async () => {
      await target?.close();
    });

    const run = crypto.randomUUID().slice(0, 8);
    const alice = `alice-${run}`;
    const strangers = [`bob-${run}`, null];

    const post = (
      owner: string | null,
      endpoint: string,
      body: unknown,
      headers: Record<string, string> = {},
    ) => session.post(owner, endpoint, JSON.stringify(body), headers);
    const get = (owner: string | null, path: string, headers: Record<string, string> = {}) =>
      session.request({ method: 'GET', path, owner, headers });
    const expectNotFound = (answer: Answer, what: string) => {
      expect(answer.status, what).toBe(404);
      expect(session.json(answer).code, what).toBe('not_found');
      expect(answer.text, what).not.toContain(alice);
    };

    it("answers another owner's requests on every route as if the job did not exist, and changes nothing", async () => {
      const done = await post(alice, 'echo', { text: 'private' }, { prefer: 'wait=10' });
      expect(done.status).toBe(303);
      const doneJob = session.json<Job>(done);
      const doneTag = done.headers.etag!;
      const finalEventId = String(Date.parse(doneJob.updatedAt));
      const tag = `isolation-${run}`;
      const started = session.json<Job>(await post(alice, 'task', { tag, steps: 1 }));
      let running = started;
      while (running.status !== 'running') {
        running = session.json<Job>(await get(alice, `/task/${started.id}`, { prefer: 'wait=1' }));
      }
      // Alice's own view, which the others must not get.
      expect((await get(alice, `/echo/${doneJob.id}`, { 'if-none-match': doneTag })).status).toBe(304);
      expect((await get(alice, `/echo/${doneJob.id}/events`, { 'last-event-id': finalEventId })).status).toBe(
        204,
      );

      for (const other of strangers) {
        const as = `as ${other ?? 'no owner'}`;
        for (const [endpoint, id] of [
          ['echo', doneJob.id],
          ['task', started.id],
        ] as const) {
          const job = `/${endpoint}/${id}`;
          expectNotFound(await get(other, job), `GET ${job} ${as}`);
          expect(
            (await session.request({ method: 'HEAD', path: job, owner: other })).status,
            `HEAD ${as}`,
          ).toBe(404);
          expectNotFound(await get(other, job, { prefer: 'wait=1' }), `GET ${job} wait ${as}`);
          expectNotFound(
            await get(other, job, { 'if-none-match': doneTag }),
            `GET ${job} If-None-Match ${as}`,
          );
          expectNotFound(
            await get(other, job, { 'if-none-match': '*', prefer: 'wait=1' }),
            `If-None-Match * ${as}`,
          );
          expectNotFound(await get(other, `${job}/output`), `output ${as}`);
          expectNotFound(await get(other, `${job}/events`), `events ${as}`);
          expectNotFound(
            await get(other, `${job}/events`, { 'last-event-id': finalEventId }),
            `events Last-Event-ID ${as}`,
          );
          expectNotFound(
            await session.request({ method: 'DELETE', path: job, owner: other }),
            `DELETE ${job} ${as}`,
          );
          expectNotFound(
            await session.request({ method: 'POST', path: `${job}/retry`, owner: other }),
            `POST ${job}/retry ${as}`,
          );
        }
      }

      // Nothing the others tried changed alice's jobs.
      expect((await get(alice, `/echo/${doneJob.id}`, { 'if-none-match': doneTag })).status).toBe(304);
      const still = session.json<Job>(await get(alice, `/task/${started.id}`));
      expect(still).toMatchObject({ status: 'running', cancelRequested: false });
      expect(session.json(await get(alice, `/echo/${doneJob.id}/output`))).toEqual({ text: 'private' });
      setup.gates.release(tag);
      while ((await get(alice, `/task/${started.id}`, { prefer: 'wait=1' })).status !== 303) {}
    });

    it("lists only the caller's jobs, page after page, whatever cursor it sends", async () => {
      const owner = `lister-${run}`;
      const mine: string[] = [];
      for (let i = 0; i < 5; i++)
        mine.push(session.json<Job>(await post(owner, 'echo', { text: `l${i}` })).id);
      const first = session.json<{ jobs: Job[]; nextCursor: string }>(await get(owner, '/echo?limit=2'));
      expect(first.jobs).toHaveLength(2);
      expect(first.nextCursor).toEqual(expect.any(String));
      expect((await session.ids(owner, 'echo')).sort()).toEqual([...mine].sort());
      for (const other of strangers) {
        for (const query of [
          '',
          '?limit=2',
          `?limit=100&cursor=${encodeURIComponent(first.nextCursor)}`,
          '?status=queued',
          '?status=succeeded',
        ]) {
          const page = session.json<{ jobs: Job[] }>(await get(other, `/echo${query}`));
          expect(
            page.jobs.filter((job) => mine.includes(job.id)),
            `${other} ${query}`,
          ).toEqual([]);
        }
      }
    });

    it('keeps idempotency keys per owner: the same key elsewhere is a new job, never a replay or a 422', async () => {
      const key = { 'idempotency-key': `"shared-${run}"` };
      const original = await post(alice, 'echo', { text: 'a' }, key);
      expect(original.status).toBe(202);
      const id = session.json<Job>(original).id;
      // Alice's key with her input is no replay of her job; with another input, no 422 telling the key is taken.
      const bob = await post(strangers[0]!, 'echo', { text: 'a' }, key);
      const nobody = await post(null, 'echo', { text: 'different' }, key);
      for (const answer of [bob, nobody]) {
        expect(answer.status).toBe(202);
        expect(answer.headers['idempotent-replayed']).toBeUndefined();
        expect(session.json<Job>(answer).id).not.toBe(id);
      }
      const replay = await post(alice, 'echo', { text: 'a' }, key);
      expect(replay.headers['idempotent-replayed']).toBe('true');
      expect(session.json<Job>(replay).id).toBe(id);
      expect((await post(alice, 'echo', { text: 'other' }, key)).status).toBe(422);
    });
  });
}
