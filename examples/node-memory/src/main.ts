// The quick start: `pnpm start` from the repository root. PORT (default 3000) and HOST (default 127.0.0.1).
import { startQuickStart } from './server.js';

const port = Number(process.env.PORT ?? 3000);
if (!Number.isInteger(port) || port < 0 || port > 65_535) {
  console.error(`PORT must be a port number, got ${process.env.PORT}`);
  process.exit(2);
}
const hostname = process.env.HOST ?? '127.0.0.1';

const server = await startQuickStart({ port, hostname });
const api = `${server.origin}/jobs`;

console.log(`jobs quick start (in-memory) is listening on ${server.origin}

  API:        ${api}          (endpoints: ${api}/ping, ${api}/compress)
  Reference:  ${api}/docs
  OpenAPI:    ${api}/openapi.json

Try it (202 Accepted, then follow Location; Prefer: wait=30 answers 303 to the output when done):

  curl -i ${api}/compress -H 'Content-Type: application/json' -d '{"megabytes":32}'
  curl -i ${api}/compress -H 'Content-Type: application/json' -H 'Prefer: wait=30' -d '{"megabytes":16}'
  curl -N ${api}/compress/<id>/events

Ctrl-C stops it.`);

let signals = 0;
for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.on(signal, () => {
    signals++;
    if (signals > 1) {
      console.log('Stopping at once.');
      process.exit(130);
    }
    console.log(`\n${signal}: stopping (running jobs get up to 10 s to finish; Ctrl-C again to force)…`);
    server.stop().then(
      () => {
        console.log('Stopped.');
        process.exitCode = 0;
      },
      (error: unknown) => {
        console.error('Stop failed:', error);
        process.exit(1);
      },
    );
  });
}
