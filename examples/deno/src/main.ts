// The quick start on Deno: `pnpm start` here, i.e.
//   ./node_modules/deno/deno run --allow-net --allow-env=PORT,HOST,JOBS_MEMORY,JOBS_DATA_DIR --allow-read \
//     --allow-write src/main.ts
// PORT (default 3000; 0 picks a free port) and HOST (default 127.0.0.1). The jobs are kept in data/jobs.sqlite
// through Deno's node:sqlite (JOBS_DATA_DIR sets the folder); `--memory` or JOBS_MEMORY=1 keeps them in memory.
import {
  banner,
  type ListenOptions,
  listenOptions,
  startQuickStartService,
  stopOnSignals,
  storageOptions,
} from '@jobs/example-node-memory/src/service.ts';

let listen: ListenOptions;
try {
  listen = listenOptions((name) => Deno.env.get(name));
} catch (error) {
  console.error((error as Error).message);
  Deno.exit(2);
}

// better-sqlite3 does not load in Deno (a V8-API addon, not Node-API); Deno's node:sqlite does.
const storage = storageOptions(Deno.args, (name) => Deno.env.get(name), 'node:sqlite');
if (storage.kind === 'sqlite') Deno.mkdirSync(storage.path.replace(/\/[^/]*$/, ''), { recursive: true });
const service = await startQuickStartService({ title: 'jobs quick start (Deno)', storage });
const server = Deno.serve(
  {
    port: listen.port,
    hostname: listen.hostname,
    onListen: ({ hostname, port }) => {
      const host = hostname.includes(':') ? `[${hostname}]` : hostname;
      console.log(
        banner(
          `jobs quick start on Deno ${Deno.version.deno} (${storage.kind === 'sqlite' ? 'SQLite' : 'in-memory'})`,
          `http://${host}:${port}`,
          storage,
        ),
      );
    },
  },
  service.fetch,
);

stopOnSignals(
  (signal, handler) => Deno.addSignalListener(signal, handler),
  () => service.stop(() => server.shutdown()),
  (code) => Deno.exit(code),
);
