// The `jobs-client` command line: its commands and options, their help texts, and the parsing of argv (node:util's
// parseArgs) into a checked `Invocation`.
import { parseArgs } from 'node:util';
import type { JobStatus } from '@jobs/core';
import { parseSchedule, type Schedule } from './cli-schedule.js';
import { JOB_STATUSES } from './wire.js';

export class UsageError extends Error {
  /** The command whose usage to show after the message (the general usage when null). */
  constructor(
    message: string,
    public command: string | null = null,
  ) {
    super(message);
  }
}

interface OptionSpec {
  type: 'string' | 'boolean';
  short?: string;
  multiple?: boolean;
  /** How the value is shown in the help (string options). */
  value?: string;
  help: string;
}

const OPTIONS = {
  wait: { type: 'boolean', help: 'wait for the job, showing its progress, then print its output' },
  timeout: {
    type: 'string',
    value: '<seconds>',
    help: 'stop waiting after this long (exit 5); the job goes on',
  },
  poll: { type: 'boolean', help: 'poll the job, sleeping its Retry-After (instead of its event stream)' },
  'long-poll': {
    type: 'boolean',
    help: 'long-poll the job (Prefer: wait) instead of following its event stream',
  },
  json: { type: 'boolean', help: 'JSON lines on stdout: one per change of the job (then the output)' },
  quiet: { type: 'boolean', short: 'q', help: 'no progress display (no live line, no progress lines)' },
  'cancel-on-interrupt': {
    type: 'boolean',
    help: 'on Ctrl-C, cancel the job (DELETE) instead of leaving it running',
  },
  'idempotency-key': {
    type: 'string',
    value: '<key>',
    help: 'sent as Idempotency-Key: a repeated submit gives back the same job',
  },
  'unique-key': {
    type: 'string',
    value: '<key>',
    help: 'sent as Job-Unique-Key: while a queued or running job holds the key, the submit gives back that job',
  },
  'run-at': {
    type: 'string',
    value: '<date-time>',
    help: 'do not start the job before this time, e.g. 2026-01-05T10:00:00Z or …+01:00 (Job-Run-At)',
  },
  delay: {
    type: 'string',
    value: '<seconds>',
    help: 'do not start the job before this many seconds from now, e.g. 90 or 0.25 (Job-Delay)',
  },
  priority: {
    type: 'string',
    value: '<n>',
    help: 'its priority, -1000 to 1000, higher first (Job-Priority); a negative one as --priority=-5',
  },
  status: {
    type: 'string',
    value: '<status>',
    help: 'only jobs in this state: queued, running, succeeded, failed or canceled',
  },
  limit: { type: 'string', value: '<n>', help: 'jobs per page (the server allows 1 to 100)' },
  cursor: {
    type: 'string',
    value: '<cursor>',
    help: 'the page after this cursor (nextCursor of the previous page)',
  },
  all: { type: 'boolean', help: 'follow every page; prints one array of every job' },
  header: {
    type: 'string',
    short: 'H',
    multiple: true,
    value: "'Name: value'",
    help: "extra request header, repeatable (e.g. -H 'Authorization: Bearer …')",
  },
  retries: { type: 'string', value: '<n>', help: 'retries of transient failures (default 2)' },
  help: { type: 'boolean', short: 'h', help: 'this help' },
} satisfies Record<string, OptionSpec>;

type OptionName = keyof typeof OPTIONS;

const COMMON: OptionName[] = ['header', 'retries', 'help'];
const WAITING: OptionName[] = ['timeout', 'poll', 'long-poll', 'json', 'quiet', 'cancel-on-interrupt'];

interface CommandSpec {
  usage: string;
  summary: string;
  details: string;
  options: OptionName[];
  examples: string[];
}

const WAIT_DETAILS = `On a terminal it draws a live line: a bar, the percentage, the worker's message, the elapsed time and
the ETA. Not on a terminal, it writes a line per change to stderr instead (--json: JSON lines on stdout).
It follows the job's event stream and falls back to long-polling. Ctrl-C stops waiting and prints the
commands to wait again or to cancel; the job goes on unless --cancel-on-interrupt is given.`;

export const COMMANDS: Record<string, CommandSpec> = {
  submit: {
    usage: 'submit <endpointUrl> <json|-> [--wait]',
    summary: 'POST a job (input JSON as an argument, or - for stdin); prints the job',
    details: `Prints the job as the server answered. With --wait, waits until it is final and prints its output.\n${WAIT_DETAILS}`,
    options: ['wait', 'idempotency-key', 'unique-key', 'run-at', 'delay', 'priority', ...WAITING],
    examples: [
      `submit http://localhost:3000/jobs/ping '{"message":"hi"}'`,
      `submit http://localhost:3000/jobs/ping '{"message":"later"}' --delay 90 --priority 10`,
      `submit http://localhost:3000/jobs/compress '{"megabytes":160}' --wait`,
      `submit http://localhost:3000/jobs/ping - --wait --json < input.json`,
    ],
  },
  wait: {
    usage: 'wait <jobUrl>',
    summary: 'waits until the job is final; prints it',
    details: `Prints the final job; exits 0 (succeeded), 3 (failed) or 4 (canceled).\n${WAIT_DETAILS}`,
    options: WAITING,
    examples: ['wait http://localhost:3000/jobs/compress/<id>', 'wait <jobUrl> --timeout 60 --json'],
  },
  get: {
    usage: 'get <jobUrl>',
    summary: 'prints the job',
    details: 'Prints the job as it is now (one GET).',
    options: [],
    examples: ['get http://localhost:3000/jobs/ping/<id>'],
  },
  output: {
    usage: 'output <jobUrl>',
    summary: 'prints the output of a succeeded job',
    details: 'Prints the output of a succeeded job; a job that is not (or not yet) succeeded exits 1.',
    options: [],
    examples: ['output http://localhost:3000/jobs/ping/<id>'],
  },
  cancel: {
    usage: 'cancel <jobUrl>',
    summary: 'DELETE the job; prints {"outcome": "canceled" | "cancel_requested" | "removed"}',
    details: `A queued job is canceled, a running one is told to stop (cancel_requested), a final one is removed.
"delete" is the same command.`,
    options: [],
    examples: ['cancel http://localhost:3000/jobs/compress/<id>'],
  },
  retry: {
    usage: 'retry <jobUrl>',
    summary: 'runs a failed or canceled job again under the same URL; prints the job, queued',
    details: `POSTs to the job's /retry: the job is queued again with its endpoint's attempts. A queued, running or
succeeded job is refused (exit 1, problem not_retryable on stderr).`,
    options: [],
    examples: ['retry http://localhost:3000/jobs/compress/<id>'],
  },
  list: {
    usage: 'list <endpointUrl>',
    summary: 'prints one page {"jobs": [...], "nextCursor": ...}; with --all, an array of every job',
    details: 'Lists the jobs of an endpoint, newest first.',
    options: ['status', 'limit', 'cursor', 'all'],
    examples: ['list http://localhost:3000/jobs/ping --status running --limit 50'],
  },
  schedules: {
    usage: 'schedules <endpointUrl>',
    summary: "prints the endpoint's recurring schedules, a JSON array",
    details: 'Lists when each schedule of the endpoint occurs, its last and next occurrence (not its input).',
    options: [],
    examples: ['schedules http://localhost:3000/jobs/report'],
  },
  events: {
    usage: 'events <jobUrl>',
    summary: "prints the job's events, one JSON object per line, until it is final",
    details: 'Follows the Server-Sent Events of the job: {"type", "id", "job"} per line.',
    options: [],
    examples: ['events http://localhost:3000/jobs/compress/<id>'],
  },
};
COMMANDS.delete = COMMANDS.cancel!;

const EXIT_CODES = `Exit codes:
  0    success
  1    the request failed: HTTP error (its problem JSON on stderr), network or protocol error
  2    usage error
  3    the job failed (submit --wait, wait; the job is printed)
  4    the job was canceled (submit --wait, wait; the job is printed)
  5    the wait timed out (submit --wait, wait; the last state is printed)
  130  interrupted (Ctrl-C); with --cancel-on-interrupt, once the server accepted the cancel`;

function optionLines(names: OptionName[]): string {
  const rows = names.map((name) => {
    const spec: OptionSpec = OPTIONS[name];
    const flag = `${spec.short ? `-${spec.short}, ` : '    '}--${name}${spec.value ? ` ${spec.value}` : ''}`;
    return [flag, spec.help] as const;
  });
  const width = Math.max(...rows.map(([flag]) => flag.length)) + 2;
  return rows.map(([flag, help]) => `  ${flag.padEnd(width)}${help}`).join('\n');
}

/** The help: of `command`, or the general one (null or unknown); `program` is how the user runs the command. */
export function usage(command: string | null, program: string): string {
  const spec = command === null ? undefined : COMMANDS[command];
  if (!spec) {
    const commands = Object.entries(COMMANDS)
      .filter(([name]) => name !== 'delete')
      .map(([, { usage, summary }]) => `  ${usage.split(' [')[0]!.padEnd(32)}${summary}`);
    return `Usage: ${program} <command> <url> [arguments] [options]

Commands:
${commands.join('\n')}

  <endpointUrl> is <baseUrl>/<endpoint>, e.g. http://localhost:3000/jobs/ping
  <jobUrl> is <endpointUrl>/<id>, as in the job's links.self
  "${program} <command> --help" describes a command and its options.

Options of every command:
${optionLines(COMMON)}

${EXIT_CODES}
`;
  }
  return `Usage: ${program} ${spec.usage} [options]

${spec.summary}.
${spec.details}

Options:
${optionLines([...spec.options, ...COMMON])}

Examples:
${spec.examples.map((example) => `  ${program} ${example}`).join('\n')}

${EXIT_CODES}
`;
}

export type FollowMode = 'events' | 'long-poll' | 'poll';

/** What to do while waiting (submit --wait, wait). */
export interface WaitArguments {
  follow: FollowMode;
  timeoutMs: number | undefined;
  json: boolean;
  quiet: boolean;
  cancelOnInterrupt: boolean;
}

export interface Invocation {
  /** '' when no command was given; 'help' for the help (of `topic`). */
  command: string;
  topic: string | null;
  positionals: string[];
  headers: Record<string, string>;
  retries: number | undefined;
  /** submit: wait for the job (always set for wait). */
  wait: WaitArguments | null;
  idempotencyKey: string | undefined;
  uniqueKey: string | undefined;
  /** submit: when the job may start, and its priority. */
  schedule: Schedule;
  list: { status?: JobStatus; limit?: number; cursor?: string; all: boolean };
}

/** Parses argv (without node and the script) into an invocation; a `UsageError` when it is not one. */
export function parseInvocation(argv: string[]): Invocation {
  let parsed: ReturnType<typeof parseAll>;
  try {
    parsed = parseAll(argv);
  } catch (error) {
    const command = argv.find((arg) => arg in COMMANDS) ?? null;
    throw new UsageError((error as Error).message, command);
  }
  const { values, positionals } = parsed;
  let [command = '', ...rest] = positionals;
  if (command === 'help' || values.help) {
    return emptyInvocation('help', command === 'help' ? (rest[0] ?? null) : command || null);
  }
  if (command === '') return emptyInvocation('', null);
  const spec = COMMANDS[command];
  if (!spec) throw new UsageError(`unknown command ${JSON.stringify(command)}`);
  const allowed = new Set<string>([...spec.options, ...COMMON]);
  for (const name of Object.keys(values)) {
    if (!allowed.has(name)) throw new UsageError(`--${name} is not an option of ${command}`, command);
  }
  const expected = command === 'submit' ? 2 : 1;
  if (rest.length > expected) throw new UsageError(`too many arguments for ${command}`, command);
  if (command === 'delete') command = 'cancel';
  const waiting = command === 'wait' || values.wait === true;
  if (!waiting) {
    const stray = WAITING.find((name) => values[name] !== undefined);
    if (stray) throw new UsageError(`--${stray} needs --wait`, command);
  }
  const pollModes = [values.poll && 'poll', values['long-poll'] && 'long-poll'].filter(Boolean);
  if (pollModes.length > 1) throw new UsageError('--poll and --long-poll exclude each other', command);
  if (values.json && values.quiet) throw new UsageError('--json and --quiet exclude each other', command);
  const timeoutSeconds = number(values.timeout, 'timeout', command, false);
  const status = values.status;
  if (status !== undefined && !JOB_STATUSES.includes(status as JobStatus)) {
    throw new UsageError(`--status expects one of ${JOB_STATUSES.join(', ')}`, command);
  }
  const limit = number(values.limit, 'limit', command, true);
  const schedule = parseSchedule(values, (message) => {
    throw new UsageError(message, command);
  });
  return {
    command,
    topic: null,
    positionals: rest,
    headers: headers(values.header ?? [], command),
    retries: number(values.retries, 'retries', command, true),
    wait: waiting
      ? {
          follow: (pollModes[0] as FollowMode | undefined) ?? 'events',
          timeoutMs: timeoutSeconds === undefined ? undefined : timeoutSeconds * 1000,
          json: values.json === true,
          quiet: values.quiet === true,
          cancelOnInterrupt: values['cancel-on-interrupt'] === true,
        }
      : null,
    idempotencyKey: values['idempotency-key'],
    uniqueKey: values['unique-key'],
    schedule,
    list: {
      ...(status === undefined ? {} : { status: status as JobStatus }),
      ...(limit === undefined ? {} : { limit }),
      ...(values.cursor === undefined ? {} : { cursor: values.cursor }),
      all: values.all === true,
    },
  };
}

function parseAll(argv: string[]) {
  return parseArgs({ args: argv, options: OPTIONS, allowPositionals: true, strict: true });
}

function emptyInvocation(command: string, topic: string | null): Invocation {
  const list = { all: false };
  return {
    command,
    topic,
    positionals: [],
    headers: {},
    retries: undefined,
    wait: null,
    idempotencyKey: undefined,
    uniqueKey: undefined,
    schedule: {},
    list,
  };
}

function number(
  value: string | undefined,
  name: string,
  command: string,
  integer: boolean,
): number | undefined {
  if (value === undefined) return undefined;
  const parsed = value.trim() === '' ? Number.NaN : Number(value);
  if (!Number.isFinite(parsed) || parsed < 0 || (integer && !Number.isInteger(parsed))) {
    const expected = integer ? 'a non-negative integer' : 'a number of seconds';
    throw new UsageError(`--${name} expects ${expected}`, command);
  }
  return parsed;
}

function headers(values: string[], command: string): Record<string, string> {
  const result: Record<string, string> = {};
  for (const value of values) {
    const colon = value.indexOf(':');
    if (colon <= 0)
      throw new UsageError(`--header expects "Name: value", got ${JSON.stringify(value)}`, command);
    result[value.slice(0, colon).trim().toLowerCase()] = value.slice(colon + 1).trim();
  }
  return result;
}

/** `<base>/<endpoint>` → its parts; query and fragment are ignored. */
export function parseEndpointUrl(text: string | undefined): { baseUrl: string; endpoint: string } {
  const segments = urlSegments(text, 'an endpoint URL');
  const endpoint = segments.path.pop();
  if (!endpoint) throw new UsageError(`${text} is not an endpoint URL (<baseUrl>/<endpoint>)`);
  return { baseUrl: segments.origin + segments.path.map((s) => `/${s}`).join(''), endpoint };
}

/** `<base>/<endpoint>/<id>` → its parts. */
export function parseJobUrl(text: string | undefined): { baseUrl: string; endpoint: string; id: string } {
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
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    throw new UsageError(`${text} is not an http(s) URL`);
  }
  return { origin: url.origin, path: url.pathname.split('/').filter((segment) => segment !== '') };
}
