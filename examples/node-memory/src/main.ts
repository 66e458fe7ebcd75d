// The quick start: `pnpm start` from the repository root. PORT (default 3000; 0 picks a free port) and HOST
// (default 127.0.0.1). The jobs are kept in data/jobs.sqlite (JOBS_DATA_DIR sets the folder), so a second start
// still has the first one's jobs; `--memory` or JOBS_MEMORY=1 keeps them in memory instead.
import { mkdirSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { startQuickStart } from './server.js';
import {
  banner,
  type ListenOptions,
  listenOptions,
  type Storage,
  stopOnSignals,
  storageOptions,
} from './service.js';

let listen: ListenOptions;
try {
  listen = listenOptions((name) => process.env[name]);
} catch (error) {
  console.error((error as Error).message);
  process.exit(2);
}

// node:sqlite where this Node has it (22.13 and later: no native module), better-sqlite3 otherwise (Node 20).
const builtin = (process as { getBuiltinModule?: (id: string) => unknown }).getBuiltinModule?.('node:sqlite');
const chosen: Storage = storageOptions(
  process.argv.slice(2),
  (name) => process.env[name],
  builtin ? 'node:sqlite' : 'better-sqlite3',
);
// The absolute path, so that the banner says exactly where the jobs are.
const storage: Storage = chosen.kind === 'sqlite' ? { ...chosen, path: resolve(chosen.path) } : chosen;
if (storage.kind === 'sqlite') mkdirSync(dirname(storage.path), { recursive: true });

const server = await startQuickStart({ ...listen, storage });
console.log(
  banner(`jobs quick start (${storage.kind === 'sqlite' ? 'SQLite' : 'in-memory'})`, server.origin, storage),
);
stopOnSignals(
  (signal, handler) => process.on(signal, handler),
  () => server.stop(),
  (code) => process.exit(code),
);
