import { readdirSync, readFileSync } from 'node:fs';

/**
 * CPU time accounting on Linux (/proc), so a result says where the CPU went: each child process of the bench
 * (with its own children), PostgreSQL, RabbitMQ, Redis, and everything else on the machine (other work that
 * disturbed the run). Server times are machine-wide (every postgres process, including backends that exited:
 * their time is added to the postmaster's children time when it reaps them), so they are only meaningful when
 * nothing else uses those servers meanwhile — `others` tells whether something else ran.
 */
export type ServerGroup = 'postgres' | 'rabbitmq' | 'redis';

export interface CpuSample {
  /** Milliseconds of CPU, all CPUs together, busy (not idle, not iowait). */
  busy: number;
  /** This process (the orchestrator). */
  orchestrator: number;
  /** By the names given to `sampleCpu`: each child process tree. */
  processes: Record<string, number>;
  servers: Record<ServerGroup, number>;
}

export interface CpuUsage {
  /** Wall milliseconds between the two samples. */
  wallMs: number;
  processes: Record<string, number>;
  servers: Record<ServerGroup, number>;
  /** Busy CPU time of everything else (the orchestrator's own time is left out). */
  others: number;
}

/** Clock ticks per second of /proc times (USER_HZ; 100 on every mainstream Linux build). */
const TICK_MS = 10;

const SERVER_PROCESSES: ReadonlyArray<[prefix: string, group: ServerGroup]> = [
  ['postgres', 'postgres'],
  ['beam', 'rabbitmq'],
  ['erl_child_setup', 'rabbitmq'],
  ['epmd', 'rabbitmq'],
  ['redis-server', 'redis'],
];

interface ProcessStat {
  comm: string;
  ppid: number;
  /** utime + stime: its own time, in whole ticks. */
  ownMs: number;
  /** cutime + cstime: the time of the children it has reaped (postgres: backends that exited). */
  childrenMs: number;
}

/** Samples the CPU time so far of the machine, the servers, and each process tree rooted at `roots`' pids. */
export function sampleCpu(roots: Record<string, number> = {}): CpuSample | null {
  let statLine: string;
  try {
    statLine = readFileSync('/proc/stat', 'utf8').split('\n', 1)[0]!;
  } catch {
    return null; // not Linux
  }
  const [user, nice, system, , , irq, softirq, steal] = statLine.trim().split(/\s+/).slice(1).map(Number);
  const stats = readProcessStats();
  const treeOf = rootsByPid(stats, roots);
  const sample: CpuSample = {
    busy: ((user ?? 0) + (nice ?? 0) + (system ?? 0) + (irq ?? 0) + (softirq ?? 0) + (steal ?? 0)) * TICK_MS,
    orchestrator: 0,
    processes: Object.fromEntries(Object.keys(roots).map((name) => [name, 0])),
    servers: { postgres: 0, rabbitmq: 0, redis: 0 },
  };
  for (const [pid, stat] of stats) {
    const tree = treeOf(pid);
    if (tree !== undefined) {
      sample.processes[tree]! += cpuMs(pid, stat);
      continue;
    }
    const group = SERVER_PROCESSES.find(([prefix]) => stat.comm.startsWith(prefix))?.[1];
    if (group) sample.servers[group] += cpuMs(pid, stat);
  }
  const own = process.cpuUsage();
  sample.orchestrator = (own.user + own.system) / 1000;
  return sample;
}

export function cpuBetween(
  before: CpuSample | null,
  after: CpuSample | null,
  wallMs: number,
): CpuUsage | null {
  if (!before || !after) return null;
  const delta = (a: number, b: number | undefined) => Math.max(0, a - (b ?? 0));
  const processes = Object.fromEntries(
    Object.entries(after.processes).map(([name, ms]) => [name, delta(ms, before.processes[name])]),
  );
  const servers = {
    postgres: delta(after.servers.postgres, before.servers.postgres),
    rabbitmq: delta(after.servers.rabbitmq, before.servers.rabbitmq),
    redis: delta(after.servers.redis, before.servers.redis),
  };
  const accounted =
    Object.values(processes).reduce((sum, ms) => sum + ms, 0) +
    servers.postgres +
    servers.rabbitmq +
    servers.redis +
    delta(after.orchestrator, before.orchestrator);
  return { wallMs, processes, servers, others: Math.max(0, delta(after.busy, before.busy) - accounted) };
}

function readProcessStats(): Map<number, ProcessStat> {
  const stats = new Map<number, ProcessStat>();
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry) || Number(entry) === process.pid) continue;
    let stat: string;
    try {
      stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
    } catch {
      continue; // exited meanwhile
    }
    const comm = stat.slice(stat.indexOf('(') + 1, stat.lastIndexOf(')'));
    // Fields after "(comm) ": state is [0], ppid [1]; utime, stime, cutime, cstime are [11]..[14].
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    const [utime, stime, cutime, cstime] = fields.slice(11, 15).map(Number) as [
      number,
      number,
      number,
      number,
    ];
    stats.set(Number(entry), {
      comm,
      ppid: Number(fields[1]),
      ownMs: (utime + stime) * TICK_MS,
      childrenMs: (cutime + cstime) * TICK_MS,
    });
  }
  return stats;
}

/**
 * A process's CPU time so far, its reaped children's included. Its own time comes from the nanosecond
 * counters of /proc/<pid>/task/<tid>/schedstat (summed over its threads) where they exist: /proc/<pid>/stat
 * counts whole 10 ms ticks, which loses most of the time of many short busy processes like postgres backends.
 */
function cpuMs(pid: number, stat: ProcessStat): number {
  let tasks: string[];
  try {
    tasks = readdirSync(`/proc/${pid}/task`);
  } catch {
    return stat.ownMs + stat.childrenMs; // exited meanwhile
  }
  let nanoseconds = 0;
  for (const task of tasks) {
    try {
      nanoseconds += Number(readFileSync(`/proc/${pid}/task/${task}/schedstat`, 'utf8').split(' ', 1)[0]);
    } catch {
      // the thread exited meanwhile
    }
  }
  return (Number.isFinite(nanoseconds) && nanoseconds > 0 ? nanoseconds / 1e6 : stat.ownMs) + stat.childrenMs;
}

/** pid → the name of the root whose tree it belongs to (the root itself or one of its descendants). */
function rootsByPid(stats: Map<number, ProcessStat>, roots: Record<string, number>) {
  const rootNames = new Map(Object.entries(roots).map(([name, pid]) => [pid, name]));
  const memo = new Map<number, string | undefined>();
  const find = (pid: number, depth = 0): string | undefined => {
    if (memo.has(pid)) return memo.get(pid);
    let name = rootNames.get(pid);
    const ppid = stats.get(pid)?.ppid;
    if (name === undefined && ppid !== undefined && ppid > 1 && depth < 64) name = find(ppid, depth + 1);
    memo.set(pid, name);
    return name;
  };
  return find;
}
