#!/usr/bin/env node
/**
 * `jobs`: a small command line client of the jobs HTTP contract (Node only). Prints plain JSON on stdout;
 * errors go to stderr as JSON. Exit codes: see USAGE.
 */
import type { JobStatus } from '@jobs/core';
import { createJobsClient } from './client.js';
import {
  JobCanceledError,
  JobFailedClientError,
  JobsClientError,
  JobsHttpError,
  JobsNetworkError,
  JobWaitTimeoutError,
} from './errors.js';
import type { EndpointClient } from './types.js';

const USAGE = `Usage: jobs <command> <url> [arguments] [options]

Commands:
  submit <endpointUrl> <json|->   POST a job (input JSON as an argument, or - for stdin); prints the job.
                                  With --wait: waits for it and prints its output.
  get <jobUrl>                    prints the job
  wait <jobUrl>                   waits until the job is final; prints it
  output <jobUrl>                 prints the output of a succeeded job
  cancel <jobUrl>                 DELETE the job; prints {"outcome": "canceled" | "cancel_requested" | "removed"}
  list <endpointUrl>              prints one page {"jobs": [...], "nextCursor": ...}; with --all, an array of every job
  events <jobUrl>                 prints the job's events, one JSON object per line, until it is final

  <endpointUrl> is <baseUrl>/<endpoint>, e.g. http://localhost:3000/jobs/ping
  <jobUrl> is <endpointUrl>/<id>, as in the job's links.self

Options:
  --wait                    (submit) wait for the job and print its output
  --timeout <seconds>       (submit --wait, wait) give up after this long
  --poll                    (submit --wait, wait) poll with Retry-After instead of long-polling
  --idempotency-key <key>   (submit) sent as Idempotency-Key
  --status <status>         (list) queued, running, succeeded, failed or canceled
  --limit <n>               (list) jobs per page
  --cursor <cursor>         (list) the page after this cursor
  --all                     (list) follow every page
  -H, --header <Name: value>  extra request header (repeatable), e.g. -H 'Authorization: Bearer ...'
  --retries <n>             retries of transient failures (default 2)
  -h, --help                this text

Exit codes:
  0  success
  1  the request failed: HTTP error (its problem JSON on stderr), network or protocol error
  2  usage error
  3  the job failed (submit --wait, wait; the job is printed)
  4  the job was canceled (submit --wait, wait; the job is printed)
  5  the wait timed out (submit --wait, wait; the last state is printed)
  130 interrupted (Ctrl-C)
`;

const STATUSES: readonly JobStatus[] = ['queued', 'running', 'succeeded', 'failed', 'canceled'];

const EXIT = { ok: 0, request: 1, usage: 2, failed: 3, canceled: 4, timeout: 5, interrupted: 130 } as const;

class UsageError extends Error {}

interface Parsed {
  command: string;
  positionals: string[];
  flags: Map<string, string | true>;
  headers: Record<string, string>;
}

const VALUE_FLAGS = new Set(['timeout', 'idempotency-key', 'status', 'limit', 'cursor', 'retries']);
const BOOLEAN_FLAGS = new Set(['wait', 'poll', 'all', 'help']);

function parseArgs(argv: string[]): Parsed {
  const positionals: string[] = [];
  const flags = new Map<string, string | true>();
  const headers: Record<string, string> = {};
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    if (arg === '-h' || arg === '--help') {
      flags.set('help', true);
    } else if (arg === '-H' || arg === '--header' || arg.startsWith('--header=')) {
      const value = arg.startsWith('--header=') ? arg.slice('--header='.length) : argv[++i];
      const colon = value?.indexOf(':') ?? -1;
      if (value === undefined || colon <= 0) throw new UsageError(`${arg} expects "Name: value"`);
      headers[value.slice(0, colon).trim().toLowerCase()] = value.slice(colon + 1).trim();
    } else if (arg.startsWith('--')) {
      const [name, inline] = splitOnce(arg.slice(2), '=');
      if (BOOLEAN_FLAGS.has(name)) {
        if (inline !== undefined) throw new UsageError(`--${name} takes no value`);
        flags.set(name, true);
      } else if (VALUE_FLAGS.has(name)) {
        const value = inline ?? argv[++i];
        if (value === undefined) throw new UsageError(`--${name} expects a value`);
        flags.set(name, value);
      } else {
        throw new UsageError(`unknown option --${name}`);
      }
    } else if (arg === '-') {
      positionals.push(arg);
    } else if (arg.startsWith('-')) {
      throw new UsageError(`unknown option ${arg}`);
    } else {
      positionals.push(arg);
    }
  }
  const [command = '', ...rest] = positionals;
  return { command, positionals: rest, flags, headers };
}

function splitOnce(text: string, separator: string): [string, string | undefined] {
  const index = text.indexOf(separator);
  return index === -1 ? [text, undefined] : [text.slice(0, index), text.slice(index + 1)];
}

/** `<base>/<endpoint>` → its parts; query and fragment are ignored. */
function parseEndpointUrl(text: string | undefined): { baseUrl: string; endpoint: string } {
  const segments = urlSegments(text, 'an endpoint URL');
  const endpoint = segments.path.pop();
  if (!endpoint) throw new UsageError(`${text} is not an endpoint URL (<baseUrl>/<endpoint>)`);
  return { baseUrl: segments.origin + segments.path.map((s) => `/${s}`).join(''), endpoint };
}

/** `<base>/<endpoint>/<id>` → its parts. */
function parseJobUrl(text: string | undefined): { baseUrl: string; endpoint: string; id: string } {
  const segments = urlSegments(text, 'a job URL');
  const id = segments.path.pop();
  const endpoint = segments.path.pop();
  if (!id || !endpoint) throw new UsageError(`${text} is not a job URL (<baseUrl>/<endpoint>/<id>)`);
  return {
    baseUrl: segments.origin + segments.path.map((s) => `/${s}`).join(''),
    endpoint: decodeURIComponent(endpoint),
    id: decodeURIComponent(id),
  };
}

function urlSegments(text: string | undefined, what: string): { origin: string; path: string[] } {
  if (!text) throw new UsageError(`missing ${what}`);
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    throw new UsageError(`${text} is not ${what}`);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:')
    throw new UsageError(`${text} is not an http(s) URL`);
  return { origin: url.origin, path: url.pathname.split('/').filter((segment) => segment !== '') };
}

function seconds(flags: Parsed['flags'], name: string): number | undefined {
  const value = flags.get(name);
  if (value === undefined) return undefined;
  const number = Number(value);
  if (typeof value !== 'string' || !Number.isFinite(number) || number < 0) {
    throw new UsageError(`--${name} expects a number of seconds`);
  }
  return number;
}

function integer(flags: Parsed['flags'], name: string): number | undefined {
  const value = flags.get(name);
  if (value === undefined) return undefined;
  const number = Number(value);
  if (typeof value !== 'string' || !Number.isInteger(number) || number < 0) {
    throw new UsageError(`--${name} expects a non-negative integer`);
  }
  return number;
}

async function readInput(argument: string | undefined): Promise<unknown> {
  if (argument === undefined)
    throw new UsageError('submit needs the input JSON (or - to read it from stdin)');
  let text = argument;
  if (argument === '-') {
    const chunks: Buffer[] = [];
    for await (const chunk of process.stdin) chunks.push(Buffer.from(chunk));
    text = Buffer.concat(chunks).toString('utf8');
  }
  try {
    return JSON.parse(text);
  } catch {
    throw new UsageError('the input is not valid JSON');
  }
}

function print(value: unknown): void {
  process.stdout.write(`${JSON.stringify(value, null, 2)}\n`);
}

function printError(value: Record<string, unknown>): void {
  process.stderr.write(`${JSON.stringify(value, null, 2)}\n`);
}

async function main(argv: string[], signal: AbortSignal): Promise<number> {
  const args = parseArgs(argv);
  if (args.flags.has('help') || args.command === '') {
    (args.command === '' && !args.flags.has('help') ? process.stderr : process.stdout).write(USAGE);
    return args.flags.has('help') ? EXIT.ok : EXIT.usage;
  }
  const { command, positionals, flags } = args;
  const timeoutSeconds = seconds(flags, 'timeout');
  const waitOptions = {
    signal,
    mode: flags.has('poll') ? ('poll' as const) : ('long-poll' as const),
    ...(timeoutSeconds === undefined ? {} : { timeoutMs: timeoutSeconds * 1000 }),
  };
  const retries = integer(flags, 'retries');
  const connect = (baseUrl: string, endpoint: string): EndpointClient => {
    const options = { baseUrl, headers: args.headers, ...(retries === undefined ? {} : { retries }) };
    return createJobsClient(options).endpoint(endpoint);
  };
  const expectArguments = (count: number) => {
    if (positionals.length > count) throw new UsageError(`too many arguments for ${command}`);
  };

  switch (command) {
    case 'submit': {
      expectArguments(2);
      const { baseUrl, endpoint } = parseEndpointUrl(positionals[0]);
      const input = await readInput(positionals[1]);
      const client = connect(baseUrl, endpoint);
      const key = flags.get('idempotency-key');
      const idempotencyKey = typeof key === 'string' ? key : undefined;
      if (!flags.has('wait')) {
        print(await client.submit(input, { signal, ...(idempotencyKey ? { idempotencyKey } : {}) }));
        return EXIT.ok;
      }
      print(await client.run(input, { ...waitOptions, ...(idempotencyKey ? { idempotencyKey } : {}) }));
      return EXIT.ok;
    }
    case 'get': {
      expectArguments(1);
      const { baseUrl, endpoint, id } = parseJobUrl(positionals[0]);
      print(await connect(baseUrl, endpoint).get(id, { signal }));
      return EXIT.ok;
    }
    case 'wait': {
      expectArguments(1);
      const { baseUrl, endpoint, id } = parseJobUrl(positionals[0]);
      const job = await connect(baseUrl, endpoint).wait(id, waitOptions);
      print(job);
      return job.status === 'succeeded' ? EXIT.ok : job.status === 'failed' ? EXIT.failed : EXIT.canceled;
    }
    case 'output': {
      expectArguments(1);
      const { baseUrl, endpoint, id } = parseJobUrl(positionals[0]);
      print(await connect(baseUrl, endpoint).output(id, { signal }));
      return EXIT.ok;
    }
    case 'cancel':
    case 'delete': {
      expectArguments(1);
      const { baseUrl, endpoint, id } = parseJobUrl(positionals[0]);
      print({ outcome: await connect(baseUrl, endpoint).cancel(id, { signal }) });
      return EXIT.ok;
    }
    case 'list': {
      expectArguments(1);
      const { baseUrl, endpoint } = parseEndpointUrl(positionals[0]);
      const status = flags.get('status');
      if (status !== undefined && !STATUSES.includes(status as JobStatus)) {
        throw new UsageError(`--status expects one of ${STATUSES.join(', ')}`);
      }
      const limit = integer(flags, 'limit');
      const cursor = flags.get('cursor');
      const options = {
        signal,
        ...(typeof status === 'string' ? { status: status as JobStatus } : {}),
        ...(limit === undefined ? {} : { limit }),
        ...(typeof cursor === 'string' ? { cursor } : {}),
      };
      const client = connect(baseUrl, endpoint);
      if (!flags.has('all')) {
        print(await client.list(options));
        return EXIT.ok;
      }
      const jobs = [];
      for await (const job of client.listAll(options)) jobs.push(job);
      print(jobs);
      return EXIT.ok;
    }
    case 'events': {
      expectArguments(1);
      const { baseUrl, endpoint, id } = parseJobUrl(positionals[0]);
      for await (const event of connect(baseUrl, endpoint).events(id, { signal })) {
        process.stdout.write(`${JSON.stringify(event)}\n`);
      }
      return EXIT.ok;
    }
    default:
      throw new UsageError(`unknown command ${JSON.stringify(command)}`);
  }
}

function report(error: unknown, signal: AbortSignal): number {
  if (signal.aborted) {
    printError({ error: 'interrupted' });
    return EXIT.interrupted;
  }
  if (error instanceof UsageError) {
    process.stderr.write(`jobs: ${error.message}\n\n${USAGE}`);
    return EXIT.usage;
  }
  if (error instanceof JobFailedClientError || error instanceof JobCanceledError) {
    print(error.job);
    printError({ error: error.message, problem: error.problem });
    return error instanceof JobFailedClientError ? EXIT.failed : EXIT.canceled;
  }
  if (error instanceof JobWaitTimeoutError) {
    print(error.job);
    printError({ error: error.message });
    return EXIT.timeout;
  }
  if (error instanceof JobsHttpError) {
    printError({ error: error.message, status: error.status, problem: error.problem });
    return EXIT.request;
  }
  if (error instanceof JobsNetworkError || error instanceof JobsClientError) {
    printError({ error: error.message });
    return EXIT.request;
  }
  printError({ error: error instanceof Error ? error.message : String(error) });
  return EXIT.request;
}

const controller = new AbortController();
process.once('SIGINT', () => controller.abort());
main(process.argv.slice(2), controller.signal).then(
  (code) => {
    process.exitCode = code;
  },
  (error: unknown) => {
    process.exitCode = report(error, controller.signal);
  },
);
