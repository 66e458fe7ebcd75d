// Durable across restarts: a real process running a runtime on a SQLite file is killed with SIGKILL in the
// middle of 1,000 jobs and started again on the same file. Every job must end succeeded with exactly one
// recorded result, and the jobs it was running when it died must be taken over once their lease expired.
import { readFileSync } from 'node:fs';
import type { JobRecord, JobRecordHeader, JobRepository } from '@jobs/core';
import { waitFor } from '@jobs/testing';
import { describe, expect, it } from 'vitest';
import { createSqliteRepository } from './index.js';
import { startChild, useTempFolder } from './test-support.js';

const file = useTempFolder('jobs-sqlite-restart-');
const JOBS = 1_000;

interface LogEntry {
  type: 'start' | 'finish';
  jobId: string;
  attempt: number;
  pid: number;
  at: number;
}

/** Complete lines only: a line being written when the process died is left out. */
function readLog(path: string): LogEntry[] {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch {
    return [];
  }
  return text
    .split('\n')
    .slice(0, -1)
    .map((line) => JSON.parse(line) as LogEntry);
}

async function listAll(repository: JobRepository): Promise<JobRecordHeader[]> {
  const jobs: JobRecordHeader[] = [];
  let cursor: string | undefined;
  do {
    const page = await repository.list({ endpoint: 'restart', owner: null, limit: 500, cursor });
    jobs.push(...page.jobs);
    cursor = page.nextCursor ?? undefined;
  } while (cursor);
  return jobs;
}

describe('a runtime on a SQLite file, killed with SIGKILL and started again', () => {
  it('finishes every one of 1,000 jobs with exactly one recorded result; the running ones by their lease', async () => {
    const path = file('jobs.sqlite');
    const logPath = file('executions.log');
    const env = { JOBS_SQLITE_PATH: path, JOBS_EXECUTION_LOG: logPath };

    const first = startChild('restart-child.ts', { ...env, JOBS_SUBMIT: String(JOBS) });
    await waitFor(() => first.output().includes(`submitted ${JOBS}`), {
      timeoutMs: 60_000,
      message: `the first process to submit its jobs:\n${first.output()}`,
    });
    // In the middle: a good part of the jobs finished, many are still to run.
    await waitFor(() => readLog(logPath).filter((entry) => entry.type === 'finish').length >= 300, {
      timeoutMs: 60_000,
      message: 'the first process to finish 300 jobs',
    });
    first.child.kill('SIGKILL');
    expect(await first.exited).toMatchObject({ signal: 'SIGKILL' });
    const firstPid = first.child.pid!;

    const repository = createSqliteRepository({ path });
    try {
      const atKill = await listAll(repository);
      expect(atKill).toHaveLength(JOBS);
      const byStatus = (status: string) => atKill.filter((job) => job.status === status);
      const running = byStatus('running');
      // Otherwise the test would prove nothing about leases or queued jobs surviving.
      expect(running.length).toBeGreaterThan(0);
      expect(byStatus('queued').length).toBeGreaterThan(0);
      expect(byStatus('succeeded').length).toBeGreaterThanOrEqual(200);
      expect(byStatus('succeeded').length + byStatus('queued').length + running.length).toBe(JOBS);
      const finishedBefore = new Set(byStatus('succeeded').map((job) => job.id));

      const second = startChild('restart-child.ts', { ...env, JOBS_SUBMIT: '0' });
      let secondExited = false;
      void second.exited.then(() => {
        secondExited = true;
      });
      await waitFor(
        async () => {
          if (secondExited) throw new Error(`the second process exited:\n${second.output()}`);
          return (await listAll(repository)).every((job) => job.status === 'succeeded');
        },
        { timeoutMs: 120_000, intervalMs: 200, message: 'every job to succeed after the restart' },
      );
      second.child.kill('SIGTERM');
      expect(await second.exited).toMatchObject({ code: 0 });
      const secondPid = second.child.pid!;

      const log = readLog(logPath);
      const finals = await Promise.all(
        atKill.map(async (job) => (await repository.get(job.id)) as JobRecord),
      );
      const inputs = new Set<number>();
      for (const job of finals) {
        const runs = log.filter((entry) => entry.jobId === job.id);
        const starts = runs.filter((entry) => entry.type === 'start');
        // Each claim gave one run: no attempt ran twice.
        expect(new Set(starts.map((entry) => entry.attempt)).size).toBe(starts.length);
        // The recorded result is the one of the last attempt, and that attempt finished exactly once.
        expect(job).toMatchObject({ status: 'succeeded', output: { attempt: job.attempt } });
        const recorded = runs.filter((entry) => entry.type === 'finish' && entry.attempt === job.attempt);
        expect(recorded).toHaveLength(1);
        expect(recorded[0]!.pid).toBe((job.output as { pid: number }).pid);
        expect(Math.max(...starts.map((entry) => entry.attempt))).toBe(job.attempt);
        expect((job.output as { n: number }).n).toBe((job.input as { n: number }).n);
        inputs.add((job.input as { n: number }).n);
        // A job whose result was recorded before the kill never ran again.
        if (finishedBefore.has(job.id)) expect(starts.every((entry) => entry.pid === firstPid)).toBe(true);
      }
      expect(inputs.size).toBe(JOBS);

      // The jobs running when the process died: taken over by the second process with the next attempt, and only
      // once their lease (1 s, renewed every 250 ms by the dead process) had expired.
      for (const job of running) {
        const final = finals.find((candidate) => candidate.id === job.id)!;
        expect(final.attempt).toBe(job.attempt + 1);
        const takeover = log.find(
          (entry) => entry.type === 'start' && entry.jobId === job.id && entry.attempt === final.attempt,
        );
        expect(takeover?.pid).toBe(secondPid);
        expect(takeover!.at).toBeGreaterThanOrEqual(job.leaseExpiresAt!.getTime());
      }
    } finally {
      await repository.close();
    }
  }, 240_000);
});
