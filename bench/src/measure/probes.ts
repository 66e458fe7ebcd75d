import { type CpuUsage, cpuBetween, sampleCpu } from '../cpu.js';
import { countersBetween, type DbActivity, type DbCounters } from '../db-activity.js';
import { median, medianOrNull } from '../stats.js';

/** What to watch during a measured window: child process trees by name, and the database's counters. */
export interface Probes {
  processes: Record<string, number>;
  db: DbActivity | null;
}

/** What a measured window cost: CPU by process group (Linux only) and database activity. */
export interface Usage {
  wallMs: number;
  cpu: CpuUsage | null;
  db: DbCounters | null;
}

export async function measured<T>(probes: Probes, fn: () => Promise<T>): Promise<{ value: T; usage: Usage }> {
  const dbBefore = await probes.db?.sample();
  const cpuBefore = sampleCpu(probes.processes);
  const started = performance.now();
  const value = await fn();
  const wallMs = performance.now() - started;
  const cpuAfter = sampleCpu(probes.processes);
  const dbAfter = await probes.db?.sample();
  return {
    value,
    usage: {
      wallMs,
      cpu: cpuBetween(cpuBefore, cpuAfter, wallMs),
      db: dbBefore && dbAfter ? countersBetween(dbBefore, dbAfter) : null,
    },
  };
}

/** A window's usage divided by what it did (jobs, requests, or seconds). */
export interface UsagePer {
  /** CPU milliseconds by child process name. */
  processes: Record<string, number>;
  postgres: number;
  rabbitmq: number;
  redis: number;
  /** Busy CPU of everything else during the window, in % of one CPU (disturbance). */
  othersPercent: number;
  transactions: number | null;
  rowsRead: number | null;
}

export function usagePer(usage: Usage, units: number): UsagePer | null {
  const cpu = usage.cpu;
  if (!cpu) return null;
  const per = (value: number) => value / units;
  return {
    processes: Object.fromEntries(Object.entries(cpu.processes).map(([name, ms]) => [name, per(ms)])),
    postgres: per(cpu.servers.postgres),
    rabbitmq: per(cpu.servers.rabbitmq),
    redis: per(cpu.servers.redis),
    othersPercent: (100 * cpu.others) / cpu.wallMs,
    transactions: usage.db ? per(usage.db.transactions) : null,
    rowsRead: usage.db ? per(usage.db.rowsRead) : null,
  };
}

/** Field by field median over rounds (a round measured on a non-Linux host has none). */
export function medianUsagePer(samples: ReadonlyArray<UsagePer | null>): UsagePer | null {
  const present = samples.filter((sample): sample is UsagePer => sample !== null);
  if (present.length === 0) return null;
  const of = (pick: (sample: UsagePer) => number) => median(present.map(pick));
  const names = Object.keys(present[0]!.processes);
  return {
    processes: Object.fromEntries(names.map((name) => [name, of((sample) => sample.processes[name] ?? 0)])),
    postgres: of((sample) => sample.postgres),
    rabbitmq: of((sample) => sample.rabbitmq),
    redis: of((sample) => sample.redis),
    othersPercent: of((sample) => sample.othersPercent),
    transactions: medianOrNull(present.map((sample) => sample.transactions)),
    rowsRead: medianOrNull(present.map((sample) => sample.rowsRead)),
  };
}
