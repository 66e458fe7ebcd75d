import type { BenchOptions, ContenderResult } from './run.js';
import type { ProfileReport, Server } from './types.js';

const fmt = (value: number, digits = 0) =>
  value.toLocaleString('en-US', { minimumFractionDigits: digits, maximumFractionDigits: digits });
const ms = (value: number) => fmt(value, value < 10 ? 1 : 0);

export function throughputTable(results: readonly ContenderResult[], options: BenchOptions): string {
  const lines = [
    `| contender | enqueue (jobs/s) | end-to-end (jobs/s) | ${fmt(options.jobs)} jobs done in (s) | CPU ms/job: bench process | PostgreSQL | RabbitMQ / Redis | other load (% of a CPU) |`,
    '| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |',
  ];
  for (const result of results) {
    const t = result.throughput;
    const cpu = t.cpuPerJob;
    const uses = (server: Server) => result.contender.requires.includes(server);
    const broker = uses('rabbitmq') ? cpu?.rabbitmq : uses('redis') ? cpu?.redis : undefined;
    const cells = cpu
      ? [
          fmt(cpu.bench, 2),
          uses('postgres') ? fmt(cpu.postgres, 2) : '–',
          broker === undefined ? '–' : fmt(broker, 2),
          fmt(cpu.othersPercent),
        ]
      : ['n/a', 'n/a', 'n/a', 'n/a'];
    lines.push(
      `| ${result.contender.name} | ${fmt(t.enqueuePerSecond)} | ${fmt(t.endToEndPerSecond)} | ${fmt(t.totalMs / 1000, 2)} | ${cells.join(' | ')} |`,
    );
  }
  return lines.join('\n');
}

export function latencyTable(results: readonly ContenderResult[]): string {
  const lines = [
    '| contender | start p50 | start p95 | start p99 | complete p50 | complete p95 | complete p99 |',
    '| --- | ---: | ---: | ---: | ---: | ---: | ---: |',
  ];
  for (const result of results) {
    const l = result.latency;
    if (!l) continue;
    lines.push(
      `| ${result.contender.name} | ${ms(l.start.p50)} | ${ms(l.start.p95)} | ${ms(l.start.p99)} | ${ms(l.complete.p50)} | ${ms(l.complete.p95)} | ${ms(l.complete.p99)} |`,
    );
  }
  return lines.join('\n');
}

export function setupList(results: readonly ContenderResult[]): string {
  return results
    .map(
      (result) =>
        `- **${result.contender.name}**: ${result.contender.setup}. Completion seen by the submitter: ${result.contender.completion}.`,
    )
    .join('\n');
}

export function runsTable(results: readonly ContenderResult[]): string {
  const lines = [
    '| contender | end-to-end jobs/s, each round | complete p50 (ms), each round |',
    '| --- | --- | --- |',
  ];
  for (const result of results) {
    lines.push(
      `| ${result.contender.name} | ${result.throughputRuns.map((run) => fmt(run.endToEndPerSecond)).join(', ')} | ${result.latencyRuns.map((run) => ms(run.complete.p50)).join(', ')} |`,
    );
  }
  return lines.join('\n');
}

export function profileTable(name: string, profile: ProfileReport): string {
  const lines = [
    `Per job, ${name} (${fmt(profile.jobs)} jobs, measured throughput runs):`,
    '',
    '| operation | calls per job | mean ms per call |',
    '| --- | ---: | ---: |',
  ];
  for (const entry of profile.entries) {
    const mean = entry.operation.endsWith('notification received') ? '' : fmt(entry.totalMs / entry.calls, 2);
    lines.push(`| ${entry.operation} | ${fmt(entry.calls / profile.jobs, 2)} | ${mean} |`);
  }
  return lines.join('\n');
}
