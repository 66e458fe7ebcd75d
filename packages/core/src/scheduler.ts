import { consoleLogger, describeError, type Logger } from './logger.js';
import { numberOption } from './options.js';
import type { JobRepository } from './repository.js';
import { occurrenceKey, type Schedule } from './schedule.js';
import type { JobService } from './service.js';
import type { SubmitManyItem } from './submit.js';
import { unrefTimer } from './timers.js';

export interface SchedulerOptions {
  repository: JobRepository;
  /** Submits the occurrences' jobs (validated like any submit; the runtime's dispatcher is told at once). */
  service: Pick<JobService, 'submitMany'>;
  schedules: readonly Schedule[];
  /** Milliseconds since the epoch; default `Date.now`. Inject the repository's clock to test without waiting. */
  clock?: () => number;
  /**
   * An occurrence is on time until it is this late; an older one was missed (everything was down) and its
   * schedule's `missed` policy applies. Default 60 s.
   */
  lateAfterMs?: number;
  /** Longest time between two checks, whatever the next occurrence. Default 60 s. */
  maxSleepMs?: number;
  logger?: Logger;
}

export interface ScheduledJob {
  schedule: string;
  occurrence: Date;
  jobId: string;
  /** false when another process (or an earlier check) had submitted this occurrence already. */
  created: boolean;
}

export interface SchedulerReport {
  submitted: ScheduledJob[];
  /** Occurrences missed and not run (policy `skip`, or all but the latest with `run-once`). */
  skipped: number;
}

/**
 * Submits the occurrences of recurring schedules, each exactly once however many processes run the same
 * schedules: an occurrence's job has an idempotency key made of the schedule's name and the occurrence's time,
 * and the repository records each schedule's last handled occurrence, so that a process that comes late (or
 * after the job expired) does not submit it again.
 */
export class Scheduler {
  readonly #repository: JobRepository;
  readonly #service: Pick<JobService, 'submitMany'>;
  readonly #schedules: readonly Schedule[];
  readonly #clock: () => number;
  readonly #lateAfterMs: number;
  readonly #maxSleepMs: number;
  readonly #logger: Logger;
  #timer: ReturnType<typeof setTimeout> | null = null;
  #running: Promise<unknown> | null = null;
  #stopped = true;

  constructor(options: SchedulerOptions) {
    this.#repository = options.repository;
    this.#service = options.service;
    const names = new Set<string>();
    for (const schedule of options.schedules) {
      if (names.has(schedule.name)) throw new TypeError(`Schedule ${schedule.name} is defined twice.`);
      names.add(schedule.name);
    }
    this.#schedules = options.schedules;
    this.#clock = options.clock ?? Date.now;
    this.#lateAfterMs = numberOption('lateAfterMs', options.lateAfterMs, 'nonNegative', 60_000);
    this.#maxSleepMs = numberOption('maxSleepMs', options.maxSleepMs, 'positive', 60_000);
    this.#logger = options.logger ?? consoleLogger;
  }

  get schedules(): readonly Schedule[] {
    return this.#schedules;
  }

  start(): void {
    if (!this.#stopped || this.#schedules.length === 0) return;
    this.#stopped = false;
    this.#next(0);
  }

  async stop(): Promise<void> {
    this.#stopped = true;
    if (this.#timer) clearTimeout(this.#timer);
    this.#timer = null;
    await this.#running?.catch(() => {});
  }

  /**
   * Submits every occurrence due since each schedule's last recorded one. A schedule never seen before starts
   * now (occurrences before its first check were never expected). Throws when the repository fails; nothing is
   * recorded then, and the next check does it again (the idempotency keys make that safe).
   */
  async check(): Promise<SchedulerReport> {
    const report: SchedulerReport = { submitted: [], skipped: 0 };
    const now = this.#clock();
    const recorded = await this.#repository.readSchedules(this.#schedules.map((s) => s.name));
    for (const schedule of this.#schedules) {
      const last = recorded.get(schedule.name)?.getTime();
      if (last === undefined) {
        await this.#repository.advanceSchedule(schedule.name, new Date(now));
        continue;
      }
      const { onTime, missed } = this.#dueSince(schedule, last, now);
      const run = [...onTime];
      const latestMissed = missed.at(-1);
      if (schedule.missed === 'run-once' && latestMissed !== undefined) run.unshift(latestMissed);
      report.skipped +=
        missed.length - (schedule.missed === 'run-once' && latestMissed !== undefined ? 1 : 0);
      if (missed.length > 0) {
        this.#logger.warn(
          {
            schedule: schedule.name,
            endpoint: schedule.endpoint,
            missed: missed.length,
            policy: schedule.missed,
          },
          'schedule: occurrences were missed while no process ran it',
        );
      }
      const handled = Math.max(...run, ...missed);
      if (run.length > 0) report.submitted.push(...(await this.#submit(schedule, run)));
      if (Number.isFinite(handled)) await this.#repository.advanceSchedule(schedule.name, new Date(handled));
    }
    return report;
  }

  /** Occurrences in (last, now]: those at most lateAfterMs late, and the missed ones before them. */
  #dueSince(schedule: Schedule, last: number, now: number): { onTime: number[]; missed: number[] } {
    const onTime: number[] = [];
    const missed: number[] = [];
    const latest = schedule.latestAtOrBefore(now);
    if (latest === null || latest <= last) return { onTime, missed };
    const windowStart = now - this.#lateAfterMs;
    // Missed occurrences are counted up to a bound (a cron of every second down for a day is 86,400 of them).
    for (let at = schedule.nextAfter(last); at !== null && at < windowStart; at = schedule.nextAfter(at)) {
      if (missed.length === 1_000) {
        const latestMissed = schedule.latestAtOrBefore(Math.ceil(windowStart) - 1);
        if (latestMissed !== null && latestMissed > missed.at(-1)!) missed.push(latestMissed);
        break;
      }
      missed.push(at);
    }
    for (let at = schedule.nextAfter(Math.max(last, windowStart - 1)); at !== null && at <= now; ) {
      if (at >= windowStart) onTime.push(at);
      at = schedule.nextAfter(at);
    }
    return { onTime, missed };
  }

  async #submit(schedule: Schedule, occurrences: readonly number[]): Promise<ScheduledJob[]> {
    const items: SubmitManyItem[] = occurrences.map((at) => ({
      input: schedule.input,
      idempotencyKey: occurrenceKey(schedule.name, at),
      runAt: new Date(at),
      priority: schedule.priority,
    }));
    const results = await this.#service.submitMany(schedule.endpoint, items);
    const submitted: ScheduledJob[] = [];
    results.forEach((result, index) => {
      const occurrence = new Date(occurrences[index]!);
      if (result.ok) {
        submitted.push({
          schedule: schedule.name,
          occurrence,
          jobId: result.job.id,
          created: result.created,
        });
        return;
      }
      // A refused occurrence is not tried again forever: it is logged and the schedule goes on.
      this.#logger.error(
        {
          schedule: schedule.name,
          endpoint: schedule.endpoint,
          occurrence: occurrence.toISOString(),
          error: describeError(result.error),
        },
        'schedule: an occurrence could not be submitted',
      );
    });
    return submitted;
  }

  #next(delayMs: number): void {
    if (this.#stopped) return;
    this.#timer = setTimeout(() => {
      let failed = false;
      this.#running = this.check()
        .catch((error: unknown) => {
          failed = true;
          this.#logger.warn({ error: describeError(error) }, 'schedule: check failed; trying again');
        })
        .finally(() => {
          this.#running = null;
          this.#next(failed ? Math.min(5_000, this.#maxSleepMs) : this.#sleepMs());
        });
    }, delayMs);
    unrefTimer(this.#timer);
  }

  /** Until the next occurrence of any schedule (a few ms after it), at most maxSleepMs. */
  #sleepMs(): number {
    const now = this.#clock();
    let next = Infinity;
    for (const schedule of this.#schedules) next = Math.min(next, schedule.nextAfter(now) ?? Infinity);
    return Math.max(0, Math.min(this.#maxSleepMs, next - now + 5));
  }
}
