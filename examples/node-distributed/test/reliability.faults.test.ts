/**
 * The multi-process reliability suite: real API and worker processes (src/api.ts, src/worker.ts, started by
 * the cluster launcher) on the real PostgreSQL and RabbitMQ. Each scenario starts its own cluster in its own
 * schema and queue prefix and tears it down, killing every process even when the scenario fails.
 *
 * Executions are counted from the execution log that the worker code writes (one line per start, finish
 * and abort, with the pid), independently of what the repository says.
 *
 * It stops and restarts the shared servers (scenarios 4 and 5), hence the `.faults` name: it runs alone,
 * in the second pass of `pnpm test`.
 */
import { describe, expect, it } from 'vitest';
import type { CleanupRecord, ExecutionRecord } from '../src/execution-log.js';
import {
  byJob,
  FAST_RECOVERY,
  type HttpResult,
  median,
  pgCluster,
  pool,
  postgresUp,
  rabbitmqctl,
  request,
  type Scenario,
  submit,
  waitFor,
  waitForPostgres,
  waitForRabbit,
  withScenario,
} from './harness.js';

const seconds = (since: number) => ((Date.now() - since) / 1000).toFixed(1);
const randomInt = (min: number, max: number) => min + Math.floor(Math.random() * (max - min + 1));

/** `min to max` of milliseconds, in seconds. */
function range(values: number[]): string {
  return `${(Math.min(...values) / 1000).toFixed(1)} to ${(Math.max(...values) / 1000).toFixed(1)}`;
}

function report(line: string): void {
  console.log(line);
}

/** Jobs started by `pid` and not finished or aborted there yet. */
function runningIn(records: ExecutionRecord[], pid: number): Set<string> {
  const running = new Set<string>();
  for (const record of records) {
    if (record.type === 'stopping' || record.type === 'cleanup' || record.pid !== pid) continue;
    if (record.type === 'start') running.add(record.jobId);
    else running.delete(record.jobId);
  }
  return running;
}

function expectAllAccepted(responses: HttpResult[]): string[] {
  const refused = responses.filter((response) => response.status !== 202);
  expect(refused.map((response) => response.status)).toEqual([]);
  return responses.map((response) => response.body.id as string);
}

async function expectEverySucceeded(scenario: Scenario, ids: string[]) {
  const jobs = new Map((await scenario.jobs()).map((job) => [job.id, job]));
  const notSucceeded = ids.filter((id) => jobs.get(id)?.status !== 'succeeded');
  expect(notSucceeded.map((id) => `${id}: ${jobs.get(id)?.status ?? 'missing'}`)).toEqual([]);
  return jobs;
}

describe('distributed deployment: reliability with real processes', () => {
  it('1: 5,000 jobs through both API processes all succeed, each executed once', async () => {
    await withScenario({ tag: 's1', workerEnv: { CONCURRENCY: '16' } }, async (scenario) => {
      const begin = scenario.startedAt;
      const total = 5_000;
      const submitBegin = Date.now();
      const responses = await pool(total, 48, (i) =>
        submit(scenario.api(i % 2), 'sleep', { ms: randomInt(0, 20) }),
      );
      const ids = expectAllAccepted(responses);
      const submittedIn = seconds(submitBegin);
      const drainBegin = Date.now();
      const counts = await scenario.waitAllFinal(total, 240_000);
      expect(counts).toEqual({ succeeded: total });
      const jobs = await expectEverySucceeded(scenario, ids);

      const executions = byJob(scenario.records());
      const startsPerJob = ids.map((id) => executions.get(id)?.starts.length ?? 0);
      expect(startsPerJob.filter((n) => n !== 1)).toEqual([]);
      // The stored result is the one execution's: same process, same attempt.
      for (const id of ids) {
        const start = executions.get(id)!.starts[0]!;
        expect(jobs.get(id)!.output).toMatchObject({ pid: start.pid, attempt: start.attempt });
      }
      const pids = new Set(ids.map((id) => executions.get(id)!.starts[0]!.pid));
      expect(pids.size).toBe(3); // every worker took part
      const viaApi = new Set(responses.map((_, i) => i % 2));
      expect(viaApi.size).toBe(2);
      report(
        `scenario 1: submitted=${total} succeeded=${counts.succeeded} executedTwice=0 seconds=${seconds(begin)} ` +
          `(submission ${submittedIn} s, all final ${seconds(drainBegin)} s after the last submission, workers used=${pids.size})`,
      );
    });
  }, 300_000);

  it('2: kill -9 of a worker: its running jobs run again elsewhere and succeed; only they run twice', async () => {
    await withScenario({ tag: 's2', env: FAST_RECOVERY }, async (scenario) => {
      const begin = scenario.startedAt;
      const victim = scenario.worker(1);
      // A small backlog, so the killed worker's jobs can run again as soon as their leases expire.
      const total = 90;
      const responses = await pool(total, 16, (i) =>
        submit(scenario.api(i % 2), 'sleep', { ms: randomInt(1_000, 3_000) }),
      );
      const ids = expectAllAccepted(responses);
      await waitFor(() => runningIn(scenario.records(), victim.pid).size >= 5, {
        timeoutMs: 30_000,
        what: 'the victim worker to run 5 jobs',
      });
      victim.signal('SIGKILL');
      const killedAt = Date.now();
      expect(await victim.exited).toEqual({ code: null, signal: 'SIGKILL' });

      // Leases, not broker timeouts, detect the dead worker: once a lease expires, the sweeper hands the job
      // out again and another worker runs it.
      const orphans = [...runningIn(scenario.records(), victim.pid)];
      const rerun = () => {
        const executions = byJob(scenario.records());
        return orphans.filter((id) => executions.get(id)!.starts.some((start) => start.pid !== victim.pid));
      };
      // When the sweeper handed each one out again (dispatched after the kill, or already claimed again).
      const handedOut = new Map<string, number>();
      const watchHandouts = async () => {
        const rows = await scenario.pool.query<{ id: string; handed: boolean }>(
          `SELECT id, (attempt > 1 OR dispatched_at >= to_timestamp($2::float8 / 1000)) AS handed
           FROM "${scenario.schema}".jobs WHERE id = ANY($1)`,
          [orphans, killedAt],
        );
        for (const row of rows.rows)
          if (row.handed && !handedOut.has(row.id)) handedOut.set(row.id, Date.now());
      };
      try {
        await waitFor(
          async () => {
            await watchHandouts();
            return rerun().length === orphans.length;
          },
          { timeoutMs: 60_000, intervalMs: 100, what: 'the orphaned jobs to run again' },
        );
      } catch (error) {
        const stuck = orphans.filter((id) => !rerun().includes(id));
        const rows = await scenario.pool.query(
          `SELECT id, status, attempt, lease_expires_at, dispatched_at, started_at FROM "${scenario.schema}".jobs
           WHERE id = ANY($1)`,
          [stuck],
        );
        throw new Error(
          `${stuck.length} of the ${orphans.length} jobs running in the killed worker were not handed out again ` +
            `60 s after the kill (lease ${FAST_RECOVERY.LEASE_MS} ms): ${JSON.stringify(rows.rows)}`,
          { cause: error },
        );
      }

      const counts = await scenario.waitAllFinal(total, 120_000);
      expect(counts).toEqual({ succeeded: total });
      const jobs = await expectEverySucceeded(scenario, ids);
      expect(scenario.exits()).toEqual([`${victim.name}: signal SIGKILL`]);

      const executions = byJob(scenario.records());
      // Started in the killed process, result not recorded there: these had to run again.
      const lostInVictim = ids.filter(
        (id) =>
          executions.get(id)?.starts.some((start) => start.pid === victim.pid) &&
          jobs.get(id)!.output!.pid !== victim.pid,
      );
      const executedTwice = ids.filter((id) => (executions.get(id)?.starts.length ?? 0) > 1);
      expect(lostInVictim.length).toBeGreaterThanOrEqual(5);
      expect([...lostInVictim].sort()).toEqual([...orphans].sort());
      expect(executedTwice.sort()).toEqual([...lostInVictim].sort());
      let recoveredAfterMs = 0;
      let firstRecoveryMs = Number.POSITIVE_INFINITY;
      for (const id of lostInVictim) {
        const starts = executions.get(id)!.starts;
        expect(starts.length).toBe(2);
        expect(starts[0]!.pid).toBe(victim.pid);
        expect(starts[1]!.pid).not.toBe(victim.pid);
        expect(jobs.get(id)!.output!.pid).toBe(starts[1]!.pid);
        recoveredAfterMs = Math.max(recoveredAfterMs, starts[1]!.at - killedAt);
        firstRecoveryMs = Math.min(firstRecoveryMs, starts[1]!.at - killedAt);
      }
      for (const id of ids) {
        if (!lostInVictim.includes(id)) expect(executions.get(id)!.starts.length).toBe(1);
      }
      const handoutDelays = orphans.map((id) => (handedOut.get(id) ?? Number.NaN) - killedAt);
      report(
        `scenario 2: submitted=${total} succeeded=${counts.succeeded} executedTwice=${executedTwice.length} ` +
          `seconds=${seconds(begin)} (running in the killed worker: ${lostInVictim.length}, handed out again ` +
          `${range(handoutDelays)} s after the kill, running again elsewhere ` +
          `${(firstRecoveryMs / 1000).toFixed(1)} to ${(recoveredAfterMs / 1000).toFixed(1)} s after the kill; ` +
          `lease ${FAST_RECOVERY.LEASE_MS} ms, sweep every ${FAST_RECOVERY.SWEEP_INTERVAL_MS} ms)`,
      );
    });
  }, 180_000);

  it('3: SIGTERM to a worker: nothing new taken, in-flight jobs finish or are released within the bound', async () => {
    const boundMs = Number(FAST_RECOVERY.SHUTDOWN_TIMEOUT_MS);
    await withScenario({ tag: 's3', env: FAST_RECOVERY }, async (scenario) => {
      const begin = scenario.startedAt;
      const victim = scenario.worker(0);
      // Every fifth job outlasts the bound; the others finish well within it.
      const durations = Array.from({ length: 120 }, (_, i) => (i % 5 === 0 ? 8_000 : randomInt(400, 1_200)));
      const long = new Set<string>();
      const responses = await pool(durations.length, 8, async (i) => {
        const response = await submit(scenario.api(i % 2), 'sleep', { ms: durations[i] });
        if (durations[i] === 8_000 && response.status === 202) long.add(response.body.id);
        return response;
      });
      const ids = expectAllAccepted(responses);
      await waitFor(
        () => {
          const running = [...runningIn(scenario.records(), victim.pid)];
          return running.some((id) => long.has(id)) && running.some((id) => !long.has(id));
        },
        { timeoutMs: 30_000, what: 'the victim worker to run a long and a short job' },
      );
      victim.signal('SIGTERM');
      const signalledAt = Date.now();
      const exit = await victim.exited;
      const exitedAfterMs = Date.now() - signalledAt;
      expect(exit).toEqual({ code: 0, signal: null });
      // The bound, plus the time to record the released jobs and close the connections.
      expect(exitedAfterMs).toBeLessThan(boundMs + 7_000);

      const counts = await scenario.waitAllFinal(ids.length, 120_000);
      expect(counts).toEqual({ succeeded: ids.length });
      const jobs = await expectEverySucceeded(scenario, ids);
      expect(scenario.exits()).toEqual([`${victim.name}: code 0`]);

      const records = scenario.records();
      const stopping = records.find((r) => r.type === 'stopping' && r.pid === victim.pid);
      expect(stopping).toBeDefined();
      const stoppingAt = stopping!.at;
      // It took nothing new once it was told to stop. A delivery whose claim was already under way when the
      // signal came may still start within a moment (the host checks its state before the claim, not after).
      const claimWindowMs = 500;
      const lateStarts = records.filter(
        (r) => r.type === 'start' && r.pid === victim.pid && r.at > stoppingAt,
      );
      expect(lateStarts.filter((r) => r.at > stoppingAt + claimWindowMs)).toEqual([]);

      const executions = byJob(records);
      const inFlight = ids.filter((id) => {
        const entry = executions.get(id)!;
        return (
          entry.starts.some((s) => s.pid === victim.pid && s.at <= stoppingAt + claimWindowMs) &&
          !entry.finishes.some((f) => f.pid === victim.pid && f.at <= stoppingAt)
        );
      });
      const finished: string[] = [];
      const released: string[] = [];
      let lastReleaseMs = 0;
      const restartDelays: number[] = [];
      for (const id of inFlight) {
        const entry = executions.get(id)!;
        const job = jobs.get(id)!;
        if (entry.finishes.some((f) => f.pid === victim.pid)) {
          finished.push(id);
          expect(entry.starts.length).toBe(1);
          expect(job.output!.pid).toBe(victim.pid);
        } else {
          released.push(id);
          const abort = entry.aborts.find((a) => a.pid === victim.pid);
          expect(abort).toMatchObject({ reason: 'shutdown' });
          lastReleaseMs = Math.max(lastReleaseMs, abort!.at - stoppingAt);
          expect(abort!.at - stoppingAt).toBeLessThan(boundMs + 2_000);
          // Run again elsewhere, the attempt given back (a release is not a failure).
          expect(entry.starts.length).toBe(2);
          expect(job.output!.pid).not.toBe(victim.pid);
          expect(job.output!.attempt).toBe(entry.starts[0]!.attempt);
          restartDelays.push(entry.starts[1]!.at - abort!.at);
        }
      }
      expect(finished.length).toBeGreaterThan(0);
      expect(released.length).toBeGreaterThan(0);
      const executedTwice = ids.filter((id) => executions.get(id)!.starts.length > 1);
      expect(executedTwice.sort()).toEqual([...released].sort());
      report(
        `scenario 3: submitted=${ids.length} succeeded=${counts.succeeded} executedTwice=${executedTwice.length} ` +
          `seconds=${seconds(begin)} (in flight at SIGTERM: ${inFlight.length}, finished there: ${finished.length}, ` +
          `released: ${released.length} at ${(lastReleaseMs / 1000).toFixed(1)} s, bound ${boundMs / 1000} s, ` +
          `running again elsewhere ${(Math.min(...restartDelays) / 1000).toFixed(1)} to ` +
          `${(Math.max(...restartDelays) / 1000).toFixed(1)} s after the release; ` +
          `process exited ${(exitedAfterMs / 1000).toFixed(1)} s after SIGTERM, code 0; ` +
          `starts after the signal: ${lateStarts.length})`,
      );
    });
  }, 180_000);

  it('4: RabbitMQ stop_app / start_app mid-run: every job succeeds, no result recorded twice', async () => {
    await withScenario(
      { tag: 's4', env: { ...FAST_RECOVERY, REDISPATCH_AFTER_MS: '15000' } },
      async (scenario) => {
        const begin = scenario.startedAt;
        const first = await pool(300, 16, (i) =>
          submit(scenario.api(i % 2), 'sleep', { ms: randomInt(100, 600) }),
        );
        const ids = expectAllAccepted(first);
        await waitFor(async () => ((await scenario.statusCounts()).succeeded ?? 0) >= 60, {
          timeoutMs: 60_000,
          what: '60 jobs to succeed before the broker stops',
        });
        let outageSeconds = '';
        let duringOutage: HttpResult[] = [];
        try {
          const stoppedAt = Date.now();
          await rabbitmqctl('stop_app');
          // Submitted while the broker is down: stored and accepted; the sweeper dispatches them later.
          duringOutage = await pool(40, 8, (i) =>
            submit(scenario.api(i % 2), 'sleep', { ms: randomInt(100, 600) }),
          );
          await rabbitmqctl('start_app');
          await waitForRabbit();
          outageSeconds = seconds(stoppedAt);
        } finally {
          await rabbitmqctl('start_app').catch(() => {});
        }
        ids.push(...expectAllAccepted(duringOutage));

        const counts = await scenario.waitAllFinal(ids.length, 180_000);
        expect(counts).toEqual({ succeeded: ids.length });
        const jobs = await expectEverySucceeded(scenario, ids);
        expect(scenario.exits()).toEqual([]);

        const executions = byJob(scenario.records());
        // No result recorded twice: one finished execution per job, and the stored result is that one's.
        for (const id of ids) {
          const entry = executions.get(id)!;
          expect(entry.finishes.length).toBe(1);
          expect(jobs.get(id)!.output).toMatchObject({
            pid: entry.finishes[0]!.pid,
            attempt: entry.finishes[0]!.attempt,
          });
        }
        const executedTwice = ids.filter((id) => executions.get(id)!.starts.length > 1);
        report(
          `scenario 4: submitted=${ids.length} succeeded=${counts.succeeded} executedTwice=${executedTwice.length} ` +
            `seconds=${seconds(begin)} (broker down ${outageSeconds} s including stop_app/start_app; ` +
            `${duringOutage.length} jobs accepted while it was down)`,
        );
      },
    );
  }, 300_000);

  it('5: PostgreSQL restart mid-run: 503 problem+json during the outage, no crash, every accepted job succeeds', async () => {
    await withScenario(
      { tag: 's5', env: { ...FAST_RECOVERY, REDISPATCH_AFTER_MS: '15000' } },
      async (scenario) => {
        const begin = scenario.startedAt;
        const accepted: string[] = [];
        const others: Array<HttpResult & { method: string }> = [];
        const failures: string[] = [];
        let stop = false;
        let outage: { from: number; to: number } | null = null;
        let backAt = 0;
        const lane = async (lane: number) => {
          for (let i = 0; !stop; i++) {
            const base = scenario.api((lane + i) % 2);
            try {
              if (i % 2 === 1 && accepted.length > 0) {
                const id = accepted[Math.floor(Math.random() * accepted.length)];
                const response = await request(`${base}/sleep/${id}`);
                if (![200, 303].includes(response.status)) others.push({ ...response, method: 'GET' });
              } else {
                const response = await submit(base, 'sleep', { ms: randomInt(50, 300) });
                if (response.status === 202) accepted.push(response.body.id);
                else others.push({ ...response, method: 'POST' });
              }
            } catch (error) {
              failures.push(`${lane}/${i}: ${String(error)}`);
            }
            await new Promise((resolve) => setTimeout(resolve, 20));
          }
        };
        const load = Promise.all(Array.from({ length: 6 }, (_, i) => lane(i)));
        try {
          await waitFor(() => accepted.length >= 100, { timeoutMs: 30_000, what: '100 accepted jobs' });
          const from = Date.now();
          try {
            await pgCluster('stop');
            const stoppedAt = Date.now();
            // Down long enough for workers to fail claims and the broker to redeliver (and dead-letter) messages.
            await waitFor(
              () =>
                Date.now() - stoppedAt >= 6_000 &&
                others.filter((r) => r.status === 503 && r.receivedAt > from).length >= 10,
              { timeoutMs: 30_000, what: 'the API to answer 503 during the outage' },
            );
          } finally {
            if (!(await postgresUp())) await pgCluster('start');
            await waitForPostgres();
          }
          outage = { from, to: Date.now() };
          backAt = Date.now();
          const acceptedAtRestart = accepted.length;
          await waitFor(() => accepted.length >= acceptedAtRestart + 100, {
            timeoutMs: 60_000,
            what: '100 more accepted jobs after the restart',
          });
        } finally {
          stop = true;
          await load;
        }

        expect(failures).toEqual([]); // no refused or reset connection: the API processes never went down
        expect(scenario.exits()).toEqual([]);
        const unavailable = others.filter((r) => r.status === 503);
        expect(unavailable.length).toBeGreaterThanOrEqual(10);
        for (const response of others) {
          expect(response.status).toBe(503);
          expect(response.contentType).toMatch(/^application\/problem\+json/);
          expect(response.body).toMatchObject({ status: 503, code: 'unavailable' });
        }

        const counts = await scenario.waitAllFinal(accepted.length, 180_000);
        const allDoneAfterMs = Date.now() - backAt;
        await expectEverySucceeded(scenario, accepted);
        const executions = byJob(scenario.records());
        const executedTwice = accepted.filter((id) => (executions.get(id)?.starts.length ?? 0) > 1);
        for (const id of accepted) expect(executions.get(id)?.finishes.length ?? 0).toBeGreaterThanOrEqual(1);
        report(
          `scenario 5: submitted=${accepted.length} succeeded=${counts.succeeded} executedTwice=${executedTwice.length} ` +
            `seconds=${seconds(begin)} (database down ${((outage!.to - outage!.from) / 1000).toFixed(1)} s; ` +
            `503 problem+json answers: ${unavailable.length} (${others.filter((r) => r.method === 'POST').length} POST, ` +
            `${others.filter((r) => r.method === 'GET').length} GET), other errors: 0, processes alive: ` +
            `${scenario.cluster.processes.filter((p) => p.running).length}/5; every accepted job final ` +
            `${(allDoneAfterMs / 1000).toFixed(1)} s after the database was back)`,
        );
      },
    );
  }, 300_000);

  it('6: DELETE through API A of a job running in worker B aborts its signal within a second; it ends canceled', async () => {
    await withScenario({ tag: 's6', env: FAST_RECOVERY }, async (scenario) => {
      const begin = scenario.startedAt;
      const apiA = scenario.api(0);
      const apiB = scenario.api(1);
      const total = 6;
      const ids = expectAllAccepted(await pool(total, total, () => submit(apiB, 'sleep', { ms: 60_000 })));
      await waitFor(
        () => {
          const started = new Set(scenario.records().flatMap((r) => (r.type === 'start' ? [r.jobId] : [])));
          return ids.every((id) => started.has(id));
        },
        { timeoutMs: 30_000, what: 'every job to run' },
      );
      const latencies: number[] = [];
      const workerPids = new Set<number>();
      for (const id of ids) {
        const deletedAt = Date.now();
        const response = await request(`${apiA}/sleep/${id}`, { method: 'DELETE' });
        expect(response.status).toBe(202); // running: cancel requested
        await waitFor(() => byJob(scenario.records()).get(id)!.aborts.length > 0, {
          timeoutMs: 10_000,
          what: `the abort of ${id}`,
        });
        const entry = byJob(scenario.records()).get(id)!;
        const abort = entry.aborts[0]!;
        expect(abort.reason).toBe('canceled');
        workerPids.add(abort.pid);
        latencies.push(abort.at - deletedAt);
      }
      for (const id of ids) {
        let last: HttpResult | null = null;
        await waitFor(
          async () => {
            last = await request(`${apiA}/sleep/${id}`);
            return last.body?.status === 'canceled';
          },
          { timeoutMs: 15_000, what: () => `${id} to be canceled (last: ${JSON.stringify(last?.body)})` },
        );
        expect(last!.status).toBe(200);
        expect(last!.body.error).toMatchObject({ code: 'canceled' });
      }
      // The guarantee is "about a second"; a tolerant bound keeps a loaded machine from failing it.
      expect(Math.max(...latencies)).toBeLessThan(3_000);
      const executions = byJob(scenario.records());
      for (const id of ids) expect(executions.get(id)!.starts.length).toBe(1);
      report(
        `scenario 6: submitted=${total} succeeded=0 canceled=${total} executedTwice=0 seconds=${seconds(begin)} ` +
          `(DELETE on API A -> abort in ${workerPids.size} worker processes: median ${median(latencies)} ms, ` +
          `max ${Math.max(...latencies)} ms)`,
      );
    });
  }, 120_000);

  it('7: long-poll and SSE on API A see completions made by workers through NOTIFY, without polling delays', async () => {
    // Waiters re-read a job every 30 s, and the repository would poll only every 30 s without LISTEN: a
    // completion seen within a fraction of that can only have come through the notification.
    const backstopMs = 30_000;
    await withScenario(
      {
        tag: 's7',
        env: FAST_RECOVERY,
        apiEnv: { WAIT_POLL_MS: String(backstopMs) },
      },
      async (scenario) => {
        const begin = scenario.startedAt;
        const apiA = scenario.api(0);
        const apiB = scenario.api(1);
        const total = 5;
        const pollLatencies: number[] = [];
        const sseLatencies: number[] = [];
        for (let i = 0; i < total; i++) {
          const created = await submit(apiB, 'sleep', { ms: 1_500 });
          expect(created.status).toBe(202);
          const id: string = created.body.id;
          await waitFor(() => byJob(scenario.records()).get(id)?.starts.length === 1, {
            timeoutMs: 15_000,
            what: `${id} to start`,
          });
          const [polled, streamed] = await Promise.all([
            longPollUntilFinal(`${apiA}/sleep/${id}`),
            sseUntilFinal(`${apiA}/sleep/${id}/events`),
          ]);
          const finish = byJob(scenario.records()).get(id)!.finishes[0]!;
          expect(polled.status).toBe(303);
          expect(streamed.status).toBe('succeeded');
          // Both were waiting before the worker finished: what they received was pushed to them.
          expect(polled.sentAt).toBeLessThan(finish.at);
          expect(streamed.eventsBefore).toBeGreaterThan(0);
          pollLatencies.push(polled.receivedAt - finish.at);
          sseLatencies.push(streamed.receivedAt - finish.at);
        }
        // Far below the 30 s backstop (and below the 25 s long-poll window): pushed, not polled.
        expect(Math.max(...pollLatencies)).toBeLessThan(3_000);
        expect(Math.max(...sseLatencies)).toBeLessThan(3_000);
        report(
          `scenario 7: submitted=${total} succeeded=${total} executedTwice=0 seconds=${seconds(begin)} ` +
            `(worker finish -> client on API A, poll backstop ${backstopMs / 1000} s: long-poll median ` +
            `${median(pollLatencies)} ms max ${Math.max(...pollLatencies)} ms; SSE median ${median(sseLatencies)} ms ` +
            `max ${Math.max(...sseLatencies)} ms)`,
        );
      },
    );
  }, 120_000);

  it('8: kill -9 of a worker in the middle of a cleanup: another worker process runs it once its lease expires', async () => {
    // Cleanups are taken under a lease of twice the cleanup timeout: 2 × 2 s here.
    const env = { ...FAST_RECOVERY, CLEANUP_TIMEOUT_MS: '2000' };
    await withScenario({ tag: 's8', env }, async (scenario) => {
      const begin = scenario.startedAt;
      const submitted = await submit(scenario.api(0), 'sleep', { ms: 10, cleanupMs: 1_500 });
      const id = expectAllAccepted([submitted])[0]!;
      await scenario.waitAllFinal(1, 30_000);
      const deleted = await request(`${scenario.api(1)}/sleep/${id}`, { method: 'DELETE' });
      expect(deleted.status).toBe(204);
      const cleanups = () =>
        scenario.records().filter((r): r is CleanupRecord => r.type === 'cleanup' && r.jobId === id);
      await waitFor(() => cleanups().some((r) => r.phase === 'start'), {
        timeoutMs: 30_000,
        what: 'the cleanup to start in a worker process',
      });
      const first = cleanups().find((r) => r.phase === 'start')!;
      // Whichever of the three worker processes took it.
      const victim = [0, 1, 2]
        .map((index) => scenario.worker(index))
        .find((worker) => worker.pid === first.pid);
      if (!victim) throw new Error(`the cleanup started in pid ${first.pid}, which is no worker process`);
      victim.signal('SIGKILL');
      const killedAt = Date.now();
      expect(await victim.exited).toEqual({ code: null, signal: 'SIGKILL' });
      await waitFor(() => cleanups().some((r) => r.phase === 'finish'), {
        timeoutMs: 60_000,
        what: 'another worker process to finish the cleanup',
      });
      const finished = cleanups().find((r) => r.phase === 'finish')!;
      expect(finished.pid).not.toBe(victim.pid);
      // Exactly once to the end; the killed attempt never finished.
      await new Promise((resolve) => setTimeout(resolve, 1_000));
      expect(cleanups().filter((r) => r.phase === 'finish')).toHaveLength(1);
      expect(cleanups().filter((r) => r.phase === 'finish' && r.pid === victim.pid)).toEqual([]);
      const pending = await scenario.pool.query(
        `SELECT id FROM "${scenario.schema}".cleanups WHERE id = $1`,
        [id],
      );
      expect(pending.rows).toEqual([]);
      report(
        `scenario 8: cleanup started in ${victim.name}, killed; finished in pid ${finished.pid} ` +
          `${((finished.at - killedAt) / 1000).toFixed(1)} s after the kill (lease ${2 * Number(env.CLEANUP_TIMEOUT_MS)} ms); ` +
          `seconds=${seconds(begin)}`,
      );
    });
  }, 120_000);
});

/** `GET` with `Prefer: wait=25` again and again until the answer is final (303 for a success). */
async function longPollUntilFinal(url: string): Promise<HttpResult & { sentAt: number }> {
  const deadline = Date.now() + 60_000;
  while (Date.now() < deadline) {
    const sentAt = Date.now();
    const response = await request(url, { headers: { prefer: 'wait=25' } });
    if (response.status === 303 || ['failed', 'canceled'].includes(response.body?.status)) {
      return { ...response, sentAt };
    }
    expect(response.status).toBe(200);
  }
  throw new Error(`No final state of ${url} within 60 s.`);
}

/** Reads the event stream until the event that carries a final state: when it arrived, and how many came before. */
async function sseUntilFinal(
  url: string,
): Promise<{ status: string; receivedAt: number; eventsBefore: number }> {
  const abort = new AbortController();
  const timer = setTimeout(() => abort.abort(), 60_000);
  try {
    const response = await fetch(url, { headers: { accept: 'text/event-stream' }, signal: abort.signal });
    expect(response.status).toBe(200);
    expect(response.headers.get('content-type')).toMatch(/^text\/event-stream/);
    const reader = response.body!.pipeThrough(new TextDecoderStream()).getReader();
    let buffer = '';
    let eventsBefore = 0;
    for (;;) {
      const { value, done } = await reader.read();
      if (done) throw new Error(`The event stream of ${url} ended without a final state.`);
      buffer += value;
      for (let end = buffer.indexOf('\n\n'); end >= 0; end = buffer.indexOf('\n\n')) {
        const block = buffer.slice(0, end);
        buffer = buffer.slice(end + 2);
        const data = block
          .split('\n')
          .filter((line) => line.startsWith('data:'))
          .map((line) => line.slice(5).trimStart())
          .join('\n');
        if (!data) continue;
        const job = JSON.parse(data) as { status?: string };
        if (job.status === 'succeeded' || job.status === 'failed' || job.status === 'canceled') {
          const receivedAt = Date.now();
          await reader.cancel().catch(() => {});
          return { status: job.status, receivedAt, eventsBefore };
        }
        eventsBefore++;
      }
    }
  } finally {
    clearTimeout(timer);
    abort.abort();
  }
}
