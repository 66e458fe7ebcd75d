// The load script (issue 16): many clients for a while, each submitting, long-polling or streaming, reading the
// output, listing and deleting, against the memory blocks and against PostgreSQL + RabbitMQ. Reports the
// answers, the errors (there must be none) and the server's heap after a full GC every 10 s (it must stay flat).
// Not a test: run it by hand and read the figures (SECURITY.md quotes a run).
//
//   pnpm load                                   # 200 clients × 60 s, memory then postgres
//   pnpm load -- --clients 50 --seconds 20 --backend memory
import { nodeRuntime } from '../node-runtimes.js';
import { withChild } from '../rpc.js';
import { type ClientResults, runClients } from './clients.js';
import type { LoadBackend, LoadServerApi } from './server-child.js';

interface Options {
  clients: number;
  seconds: number;
  backends: LoadBackend[];
}

function parseOptions(args: readonly string[]): Options {
  const value = (name: string) => {
    const index = args.indexOf(`--${name}`);
    return index === -1 ? undefined : args[index + 1];
  };
  const backend = value('backend') ?? 'both';
  if (!['memory', 'postgres', 'both'].includes(backend))
    throw new Error('--backend is memory, postgres or both');
  return {
    clients: Number(value('clients') ?? 200),
    seconds: Number(value('seconds') ?? 60),
    backends: backend === 'both' ? ['memory', 'postgres'] : [backend as LoadBackend],
  };
}

const MIB = 1024 * 1024;

function percentile(values: number[], p: number): number {
  if (values.length === 0) return 0;
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;
}

interface HeapSample {
  at: number;
  heapUsed: number;
  rss: number;
  connections: number;
}

async function run(backend: LoadBackend, options: Options): Promise<boolean> {
  const runId = `${Date.now().toString(36)}_${backend}`;
  return withChild<LoadServerApi, boolean>(
    new URL('./server-child.ts', import.meta.url),
    nodeRuntime('system'),
    `load server (${backend})`,
    async (server) => {
      const { origin } = await server.call('start', { backend, runId });
      const begin = Date.now();
      const samples: HeapSample[] = [];
      const sample = async () =>
        samples.push({ at: (Date.now() - begin) / 1000, ...(await server.call('heap')) });
      await sample();
      const sampler = setInterval(() => void sample(), 10_000);
      const results = await runClients(origin, options.clients, begin + options.seconds * 1000);
      clearInterval(sampler);
      const elapsed = (Date.now() - begin) / 1000;
      await new Promise((resolve) => setTimeout(resolve, 2_000)); // idle connections close, deleted jobs go
      await sample();
      const stats = await server.call('stats');
      report(backend, options, results, samples, stats, elapsed);
      return (
        results.errorCount === 0 &&
        stats.errors.length === 0 &&
        !Object.keys(stats.statuses).some((s) => s >= '500')
      );
    },
  );
}

function report(
  backend: LoadBackend,
  options: Options,
  results: ClientResults,
  samples: HeapSample[],
  stats: Awaited<ReturnType<LoadServerApi['stats']>>,
  elapsed: number,
): void {
  const requests = [...results.answers.values()].reduce((sum, n) => sum + n, 0);
  const lines = [
    `## ${backend === 'memory' ? 'memory repository + memory queue' : 'PostgreSQL + RabbitMQ'}: ${options.clients} clients × ${options.seconds} s`,
    '',
    `${requests} requests in ${elapsed.toFixed(1)} s (${(requests / elapsed).toFixed(0)}/s), ${results.completed} jobs done end to end, ${results.errorCount} client errors, ${stats.errors.length} server errors logged.`,
    '',
    '| operation | answers | p50 ms | p99 ms |',
    '| --- | --- | --- | --- |',
    ...[...results.latencies.entries()].map(([operation, values]) => {
      const answers = [...results.answers.entries()]
        .filter(([key]) => key.startsWith(`${operation} `))
        .map(([key, n]) => `${key.slice(operation.length + 1)}: ${n}`)
        .join(', ');
      return `| ${operation} | ${answers} | ${percentile(values, 50).toFixed(1)} | ${percentile(values, 99).toFixed(1)} |`;
    }),
    '',
    `Server answers by status: ${JSON.stringify(stats.statuses)}`,
    '',
    '| s | heap after GC (MiB) | RSS (MiB) | connections |',
    '| --- | --- | --- | --- |',
    ...samples.map(
      (s) =>
        `| ${s.at.toFixed(0)} | ${(s.heapUsed / MIB).toFixed(1)} | ${(s.rss / MIB).toFixed(0)} | ${s.connections} |`,
    ),
    ...(results.errors.length ? ['', 'First errors:', ...results.errors.map((e) => `- ${e}`)] : []),
    ...(stats.errors.length ? ['', 'Server errors:', ...stats.errors.slice(0, 10).map((e) => `- ${e}`)] : []),
    '',
  ];
  console.log(lines.join('\n'));
}

const options = parseOptions(process.argv.slice(2));
let ok = true;
for (const backend of options.backends) ok = (await run(backend, options)) && ok;
process.exit(ok ? 0 : 1);
