#!/usr/bin/env node
/**
 * `jobs-client`: the command line client of the jobs HTTP contract (Node only; the library never imports it).
 * Results are JSON on stdout, errors JSON on stderr; while it waits for a job it shows the job's progress
 * (cli-report.ts). Commands and options: cli-args.ts; waiting, Ctrl-C and --timeout: cli-watch.ts.
 */
import {
  type Invocation,
  parseEndpointUrl,
  parseInvocation,
  parseJobUrl,
  UsageError,
  usage,
} from './cli-args.js';
import { createReporter, type Terminal } from './cli-report.js';
import { Interrupts, type WaitContext, type WaitOutcome, waitForJob } from './cli-watch.js';
import { createJobsClient } from './client.js';
import {
  JobCanceledError,
  JobFailedClientError,
  JobsClientError,
  JobsHttpError,
  JobWaitTimeoutError,
} from './errors.js';
import type { EndpointClient } from './types.js';

const EXIT = { ok: 0, request: 1, usage: 2, failed: 3, canceled: 4, timeout: 5, interrupted: 130 } as const;

interface Io {
  terminal: Terminal;
  interrupts: Interrupts;
  env: Record<string, string | undefined>;
}

function print(io: Io, value: unknown): void {
  io.terminal.stdout.write(`${JSON.stringify(value, null, 2)}\n`);
}

function printError(io: Io, value: Record<string, unknown>): void {
  io.terminal.stderr.write(`${JSON.stringify(value, null, 2)}\n`);
}

/**
 * How the user runs this command, for the help and the commands it suggests: `pnpm jobs` (the repository's
 * script), `npx @jobs/client`, or the bin's name, `jobs-client` (not `jobs`: that is a shell builtin).
 */
function invocationName(env: Io['env']): string {
  if (env.npm_lifecycle_event === 'jobs') {
    return env.npm_config_user_agent?.startsWith('pnpm/') ? 'pnpm jobs' : 'npm run jobs --';
  }
  return env.npm_command === 'exec' ? 'npx @jobs/client' : 'jobs-client';
}

async function readInput(argument: string | undefined): Promise<unknown> {
  if (argument === undefined) {
    throw new UsageError('submit needs the input JSON (or - to read it from stdin)', 'submit');
  }
  let text = argument;
  if (argument === '-') {
    const chunks: Buffer[] = [];
    for await (const chunk of process.stdin) chunks.push(Buffer.from(chunk));
    text = Buffer.concat(chunks).toString('utf8');
  }
  try {
    return JSON.parse(text);
  } catch {
    throw new UsageError('the input is not valid JSON', 'submit');
  }
}

async function main(argv: string[], io: Io): Promise<number> {
  const args = parseInvocation(argv);
  if (args.command === 'help') {
    io.terminal.stdout.write(usage(args.topic, invocationName(io.env)));
    return EXIT.ok;
  }
  if (args.command === '') {
    io.terminal.stderr.write(usage(null, invocationName(io.env)));
    return EXIT.usage;
  }
  try {
    return await run(args, io);
  } catch (error) {
    if (error instanceof UsageError) error.command ??= args.command;
    throw error;
  }
}

async function run(args: Invocation, io: Io): Promise<number> {
  const signal = io.interrupts.soft.signal;
  const [first, second] = args.positionals;
  const connect = (baseUrl: string, endpoint: string): EndpointClient => {
    const retries = args.retries === undefined ? {} : { retries: args.retries };
    return createJobsClient({ baseUrl, headers: args.headers, ...retries }).endpoint(endpoint);
  };
  const job = () => {
    const { baseUrl, endpoint, id } = parseJobUrl(first);
    return { client: connect(baseUrl, endpoint), id };
  };
  switch (args.command) {
    case 'submit': {
      const { baseUrl, endpoint } = parseEndpointUrl(first);
      const input = await readInput(second);
      const client = connect(baseUrl, endpoint);
      const key = {
        ...(args.idempotencyKey === undefined ? {} : { idempotencyKey: args.idempotencyKey }),
        ...(args.uniqueKey === undefined ? {} : { uniqueKey: args.uniqueKey }),
        ...args.schedule,
      };
      if (!args.wait) {
        print(io, await client.submit(input, { signal, ...key }));
        return EXIT.ok;
      }
      // The first Ctrl-C lets the POST finish, so that the job's URL can be printed.
      io.interrupts.pending = 'Waiting for the server to answer the submit (Ctrl-C again to give up on it).';
      const submitted = await client.submit(input, { signal: io.interrupts.hard.signal, ...key });
      io.interrupts.pending = null;
      const context = waitContext(args, io, client);
      return finish(
        io,
        args,
        client,
        await waitForJob(context, submitted.id, submitted.links.self, submitted),
      );
    }
    case 'wait': {
      const { client, id } = job();
      const outcome = await waitForJob(waitContext(args, io, client), id, client.jobUrl(id), null);
      return finish(io, args, client, outcome);
    }
    case 'get': {
      const { client, id } = job();
      print(io, await client.get(id, { signal }));
      return EXIT.ok;
    }
    case 'output': {
      const { client, id } = job();
      print(io, await client.output(id, { signal }));
      return EXIT.ok;
    }
    case 'cancel': {
      const { client, id } = job();
      print(io, { outcome: await client.cancel(id, { signal }) });
      return EXIT.ok;
    }
    case 'retry': {
      const { client, id } = job();
      print(io, await client.retry(id, { signal }));
      return EXIT.ok;
    }
    case 'list': {
      const { baseUrl, endpoint } = parseEndpointUrl(first);
      const client = connect(baseUrl, endpoint);
      const { all, ...options } = args.list;
      if (!all) {
        print(io, await client.list({ ...options, signal }));
        return EXIT.ok;
      }
      const jobs = [];
      for await (const listed of client.listAll({ ...options, signal })) jobs.push(listed);
      print(io, jobs);
      return EXIT.ok;
    }
    case 'schedules': {
      const { baseUrl, endpoint } = parseEndpointUrl(first);
      print(io, await connect(baseUrl, endpoint).schedules({ signal }));
      return EXIT.ok;
    }
    case 'events': {
      const { client, id } = job();
      for await (const event of client.events(id, { signal })) {
        io.terminal.stdout.write(`${JSON.stringify(event)}\n`);
      }
      return EXIT.ok;
    }
    default:
      throw new UsageError(`unknown command ${JSON.stringify(args.command)}`);
  }
}

function waitContext(args: Invocation, io: Io, client: EndpointClient): WaitContext {
  const options = args.wait!;
  return {
    client,
    options,
    reporter: createReporter(io.terminal, options),
    interrupts: io.interrupts,
    invocation: invocationName(io.env),
    headers: Object.keys(args.headers).length > 0,
  };
}

/** Prints what a wait ended with; its exit code. */
async function finish(
  io: Io,
  args: Invocation,
  client: EndpointClient,
  outcome: WaitOutcome,
): Promise<number> {
  const json = args.wait!.json;
  switch (outcome.kind) {
    case 'interrupted':
      return EXIT.interrupted;
    case 'timeout':
      if (!json) print(io, outcome.job);
      printError(io, { error: new JobWaitTimeoutError(outcome.job, outcome.timeoutMs).message });
      return EXIT.timeout;
    case 'final':
      break;
  }
  const { job } = outcome;
  if (job.status === 'succeeded') {
    if (args.command === 'wait') {
      if (!json) print(io, job);
    } else {
      const output = await client.output(job.id, { signal: io.interrupts.soft.signal });
      if (json) io.terminal.stdout.write(`${JSON.stringify({ type: 'output', output })}\n`);
      else print(io, output);
    }
    return EXIT.ok;
  }
  if (!json) print(io, job);
  const error = job.status === 'failed' ? new JobFailedClientError(job) : new JobCanceledError(job);
  printError(io, { error: error.message, problem: error.problem });
  return job.status === 'failed' ? EXIT.failed : EXIT.canceled;
}

function report(io: Io, error: unknown): number {
  if (io.interrupts.soft.signal.aborted && !(error instanceof JobsClientError)) {
    printError(io, { error: 'interrupted' });
    return EXIT.interrupted;
  }
  if (error instanceof UsageError) {
    const program = invocationName(io.env);
    const help = error.command ? `${program} ${error.command} --help` : `${program} --help`;
    io.terminal.stderr.write(`${program}: ${error.message}\n(${help} shows the usage)\n`);
    return EXIT.usage;
  }
  if (error instanceof JobsHttpError) {
    printError(io, { error: error.message, status: error.status, problem: error.problem });
    return EXIT.request;
  }
  printError(io, { error: error instanceof Error ? error.message : String(error) });
  return EXIT.request;
}

const io: Io = {
  terminal: { stdout: process.stdout, stderr: process.stderr, now: Date.now },
  interrupts: new Interrupts(process.stderr, (code) => process.exit(code)),
  env: process.env,
};
process.on('SIGINT', io.interrupts.handle);
// The live line hides the cursor: whatever ends the process shows it again.
const showCursor = () => {
  if (process.stdout.isTTY) process.stdout.write('\x1b[?25h');
};
process.on('exit', showCursor);
for (const signal of ['SIGTERM', 'SIGHUP'] as const) {
  process.once(signal, () => {
    try {
      showCursor();
    } finally {
      process.kill(process.pid, signal); // no listener left: ends the process as the signal does
    }
  });
}
main(process.argv.slice(2), io).then(
  (code) => {
    process.exitCode = code;
  },
  (error: unknown) => {
    process.exitCode = report(io, error);
  },
);
