// The quick start: `pnpm start` from the repository root. PORT (default 3000; 0 picks a free port) and HOST
// (default 127.0.0.1).
import { startQuickStart } from './server.js';
import { banner, type ListenOptions, listenOptions, stopOnSignals } from './service.js';

let listen: ListenOptions;
try {
  listen = listenOptions((name) => process.env[name]);
} catch (error) {
  console.error((error as Error).message);
  process.exit(2);
}

const server = await startQuickStart(listen);
console.log(banner('jobs quick start (in-memory)', server.origin));
stopOnSignals(
  (signal, handler) => process.on(signal, handler),
  () => server.stop(),
  (code) => process.exit(code),
);
