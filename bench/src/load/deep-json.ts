// What 1 MiB bodies of nested brackets cost everyone else (issue 16): a prober reads a list every 20 ms while
// four senders post such bodies in a loop, with the depth check off (maxJsonDepth: Infinity, as before it
// existed: the whole body goes through JSON.parse) and on (the default, 64). Not a test: SECURITY.md quotes a run.
//
//   pnpm --filter @jobs/bench load:deep-json [-- --seconds 15]
import http from 'node:http';
import { nodeRuntime } from '../node-runtimes.js';
import { withChild } from '../rpc.js';
import type { LoadServerApi } from './server-child.js';

const seconds = Number(process.argv[process.argv.indexOf('--seconds') + 1] || 15);
const DEEP = `${'['.repeat(512 * 1024)}${']'.repeat(512 * 1024)}`; // 1 MiB, the default body limit

function send(agent: http.Agent, origin: URL, method: string, path: string, body?: string) {
  const started = performance.now();
  return new Promise<{ status: number; ms: number }>((resolve, reject) => {
    const request = http.request(
      {
        agent,
        host: origin.hostname,
        port: origin.port,
        method,
        path,
        headers: body ? { 'content-type': 'application/json' } : {},
      },
      (response) => {
        response.resume();
        response.on('end', () =>
          resolve({ status: response.statusCode ?? 0, ms: performance.now() - started }),
        );
      },
    );
    request.on('error', reject);
    request.end(body);
  });
}

function summary(values: number[]): string {
  const sorted = [...values].sort((a, b) => a - b);
  const at = (p: number) => sorted[Math.min(sorted.length - 1, Math.floor(p * sorted.length))] ?? 0;
  return `p50 ${at(0.5).toFixed(1)} ms, p99 ${at(0.99).toFixed(1)} ms, max ${(sorted.at(-1) ?? 0).toFixed(1)} ms`;
}

async function phase(label: string, senders: number, maxJsonDepth: number): Promise<string> {
  return withChild<LoadServerApi, string>(
    new URL('./server-child.ts', import.meta.url),
    nodeRuntime('system'),
    `deep-json server (${label})`,
    async (server) => {
      const { origin } = await server.call('start', {
        backend: 'memory',
        runId: `deep_${Date.now().toString(36)}`,
        app: { maxJsonDepth },
      });
      const url = new URL(origin);
      const until = Date.now() + seconds * 1000;
      const probes: number[] = [];
      const posts: number[] = [];
      const statuses = new Map<number, number>();
      const prober = (async () => {
        const agent = new http.Agent({ keepAlive: true });
        while (Date.now() < until) {
          probes.push((await send(agent, url, 'GET', '/jobs/work?limit=1')).ms);
          await new Promise((resolve) => setTimeout(resolve, 20));
        }
        agent.destroy();
      })();
      const sending = Array.from({ length: senders }, async () => {
        const agent = new http.Agent({ keepAlive: true });
        while (Date.now() < until) {
          const { status, ms } = await send(agent, url, 'POST', '/jobs/work', DEEP);
          posts.push(ms);
          statuses.set(status, (statuses.get(status) ?? 0) + 1);
        }
        agent.destroy();
      });
      await Promise.all([prober, ...sending]);
      const answers = [...statuses].map(([status, n]) => `${status}: ${n}`).join(', ') || 'none';
      return `| ${label} | ${senders} | ${summary(probes)} | ${posts.length ? summary(posts) : '–'} | ${answers} |`;
    },
  );
}

const rows = [
  await phase('no senders', 0, 64),
  await phase('depth check off (before)', 4, Number.POSITIVE_INFINITY),
  await phase('depth check on, 64 (after)', 4, 64),
];
console.log(
  [
    `Prober latency (GET of a list every 20 ms) while senders post 1 MiB of nested brackets, ${seconds} s each:`,
    '',
    '| server | senders | prober latency | sender latency per 1 MiB body | answers to the senders |',
    '| --- | --- | --- | --- | --- |',
    ...rows,
  ].join('\n'),
);
