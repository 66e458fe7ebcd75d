// The quick start on Bun: `pnpm start` here, i.e. `bun --tsconfig-override=tsconfig.json src/main.ts`.
// PORT (default 3000; 0 picks a free port) and HOST (default 127.0.0.1).
import {
  banner,
  listenOptions,
  startQuickStartService,
  stopOnSignals,
} from '@jobs/example-node-memory/src/service.ts';

let listen: ReturnType<typeof listenOptions>;
try {
  listen = listenOptions((name) => Bun.env[name]);
} catch (error) {
  console.error((error as Error).message);
  process.exit(2);
}

const service = await startQuickStartService({ title: 'jobs quick start (Bun)' });
const server = Bun.serve({
  port: listen.port,
  hostname: listen.hostname,
  fetch: service.fetch,
  // Bun closes a connection idle for 10 s by default; long-polls (Prefer: wait, 60 s at most) and event
  // streams (a heartbeat every 15 s) need longer. 255 s is Bun's maximum.
  idleTimeout: 75,
});

console.log(banner(`jobs quick start on Bun ${Bun.version} (in-memory)`, server.url.origin));
stopOnSignals(
  (signal, handler) => process.on(signal, handler),
  () => service.stop(() => server.stop()),
  (code) => process.exit(code),
);
