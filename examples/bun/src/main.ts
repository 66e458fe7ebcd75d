// The quick start on Bun: `pnpm start` here, i.e. `bun --tsconfig-override=tsconfig.json src/main.ts`.
// PORT (default 3000; 0 picks a free port) and HOST (default 127.0.0.1). The jobs are kept in data/jobs.sqlite
// through bun:sqlite (JOBS_DATA_DIR sets the folder); `--memory` or JOBS_MEMORY=1 keeps them in memory.
import { mkdirSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import {
  banner,
  listenOptions,
  startQuickStartService,
  stopOnSignals,
  storageOptions,
} from '@jobs/example-node-memory/src/service.ts';

let listen: ReturnType<typeof listenOptions>;
try {
  listen = listenOptions((name) => Bun.env[name]);
} catch (error) {
  console.error((error as Error).message);
  process.exit(2);
}

// better-sqlite3 does not load in Bun; Bun's own bun:sqlite does.
const chosen = storageOptions(Bun.argv.slice(2), (name) => Bun.env[name], 'bun:sqlite');
const storage = chosen.kind === 'sqlite' ? { ...chosen, path: resolve(chosen.path) } : chosen;
if (storage.kind === 'sqlite') mkdirSync(dirname(storage.path), { recursive: true });
const service = await startQuickStartService({ title: 'jobs quick start (Bun)', storage });
const server = Bun.serve({
  port: listen.port,
  hostname: listen.hostname,
  fetch: service.fetch,
  // Bun closes a connection idle for 10 s by default; long-polls (Prefer: wait, 60 s at most) and event
  // streams (a heartbeat every 15 s) need longer. 255 s is Bun's maximum.
  idleTimeout: 75,
});

const kind = storage.kind === 'sqlite' ? 'SQLite' : 'in-memory';
console.log(banner(`jobs quick start on Bun ${Bun.version} (${kind})`, server.url.origin, storage));
stopOnSignals(
  (signal, handler) => process.on(signal, handler),
  () => service.stop(() => server.stop()),
  (code) => process.exit(code),
);
