// The quick start on Deno: `pnpm start` here, i.e.
//   ./node_modules/deno/deno run --allow-net --allow-env=PORT,HOST src/main.ts
// PORT (default 3000; 0 picks a free port) and HOST (default 127.0.0.1).
import {
  banner,
  type ListenOptions,
  listenOptions,
  startQuickStartService,
  stopOnSignals,
} from '@jobs/example-node-memory/src/service.ts';

let listen: ListenOptions;
try {
  listen = listenOptions((name) => Deno.env.get(name));
} catch (error) {
  console.error((error as Error).message);
  Deno.exit(2);
}

const service = await startQuickStartService({ title: 'jobs quick start (Deno)' });
const server = Deno.serve(
  {
    port: listen.port,
    hostname: listen.hostname,
    onListen: ({ hostname, port }) => {
      const host = hostname.includes(':') ? `[${hostname}]` : hostname;
      console.log(
        banner(`jobs quick start on Deno ${Deno.version.deno} (in-memory)`, `http://${host}:${port}`),
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
