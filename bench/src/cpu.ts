import { readdirSync, readFileSync } from 'node:fs';

/**
 * CPU time accounting on Linux (/proc), so a result says where the CPU went: this process, PostgreSQL,
 * RabbitMQ, Redis, and everything else on the machine (other work that disturbed the run).
 * Server times are machine-wide (every postgres process, including backends that exited: their time is
 * added to the postmaster's children time when it reaps them), so they are only meaningful when nothing else
 * uses those servers meanwhile — `others` tells whether something else ran.
 */
export interface CpuSample {
  /** Milliseconds of CPU, all CPUs together, busy (not idle, not iowait). */
  busy: number;
  bench: number;
  postgres: number;
  rabbitmq: number;
  redis: number;
}

export interface CpuUsage {
  /** Wall milliseconds between the two samples. */
  wallMs: number;
  bench: number;
  postgres: number;
  rabbitmq: number;
  redis: number;
  /** Busy CPU time of everything else. */
  others: number;
}

/** Clock ticks per second of /proc times (USER_HZ; 100 on every mainstream Linux build). */
const TICK_MS = 10;

const GROUPS: ReadonlyArray<[prefix: string, group: 'postgres' | 'rabbitmq' | 'redis']> = [
  ['postgres', 'postgres'],
  ['beam', 'rabbitmq'],
  ['erl_child_setup', 'rabbitmq'],
  ['epmd', 'rabbitmq'],
  ['redis-server', 'redis'],
];

export function sampleCpu(): CpuSample | null {
  let statLine: string;
  try {
    statLine = readFileSync('/proc/stat', 'utf8').split('\n', 1)[0]!;
  } catch {
    return null; // not Linux
  }
  const [user, nice, system, , , irq, softirq, steal] = statLine.trim().split(/\s+/).slice(1).map(Number);
  const sample: CpuSample = {
    busy: ((user ?? 0) + (nice ?? 0) + (system ?? 0) + (irq ?? 0) + (softirq ?? 0) + (steal ?? 0)) * TICK_MS,
    bench: 0,
    postgres: 0,
    rabbitmq: 0,
    redis: 0,
  };
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry) || Number(entry) === process.pid) continue;
    let stat: string;
    try {
      stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
    } catch {
      continue; // exited meanwhile
    }
    const comm = stat.slice(stat.indexOf('(') + 1, stat.lastIndexOf(')'));
    const group = GROUPS.find(([prefix]) => comm.startsWith(prefix))?.[1];
    if (!group) continue;
    // Fields after "(comm) ": state is [0]; utime, stime, cutime, cstime are [11]..[14].
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    const ticks = Number(fields[11]) + Number(fields[12]) + Number(fields[13]) + Number(fields[14]);
    if (Number.isFinite(ticks)) sample[group] += ticks * TICK_MS;
  }
  const own = process.cpuUsage();
  sample.bench = (own.user + own.system) / 1000;
  return sample;
}

export function cpuBetween(
  before: CpuSample | null,
  after: CpuSample | null,
  wallMs: number,
): CpuUsage | null {
  if (!before || !after) return null;
  const delta = (key: keyof CpuSample) => Math.max(0, after[key] - before[key]);
  const bench = delta('bench');
  const postgres = delta('postgres');
  const rabbitmq = delta('rabbitmq');
  const redis = delta('redis');
  return {
    wallMs,
    bench,
    postgres,
    rabbitmq,
    redis,
    others: Math.max(0, delta('busy') - bench - postgres - rabbitmq - redis),
  };
}
