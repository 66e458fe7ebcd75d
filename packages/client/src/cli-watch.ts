// Waiting for a job in the `jobs-client` command (submit --wait, wait): follows its event stream, falls back to
// long-polling, reports every change, and handles Ctrl-C (leave the job running, or cancel it) and --timeout.
import type { FollowMode, WaitArguments } from './cli-args.js';
import type { JobChange, Reporter } from './cli-report.js';
import type { EndpointClient } from './types.js';
import { isFinal, type Job } from './wire.js';

/**
 * Ctrl-C. The first stops waiting (`soft`); requests that must not be cut short (the POST of a submit, the
 * DELETE of --cancel-on-interrupt) use `hard`, which the second aborts. A third exits at once.
 */
export class Interrupts {
  readonly soft = new AbortController();
  readonly hard = new AbortController();
  /** Said on stderr when the first Ctrl-C comes while a request that is not cut short is under way. */
  pending: string | null = null;
  #count = 0;
  readonly #stderr: { write(text: string): unknown };
  readonly #exit: (code: number) => void;

  constructor(stderr: { write(text: string): unknown }, exit: (code: number) => void) {
    this.#stderr = stderr;
    this.#exit = exit;
  }

  readonly handle = (): void => {
    this.#count++;
    if (this.#count === 1) {
      if (this.pending) this.#stderr.write(`\n${this.pending}\n`);
      this.soft.abort();
    } else if (this.#count === 2) {
      this.hard.abort();
    } else {
      this.#exit(130);
    }
  };
}

export interface WaitContext {
  client: EndpointClient;
  reporter: Reporter;
  options: WaitArguments;
  interrupts: Interrupts;
  /** How the user runs the command (`jobs-client`, `pnpm jobs`, `npx @jobs/client`), for the commands it prints. */
  invocation: string;
  /** Whether -H options were given. */
  headers: boolean;
}

export type WaitOutcome =
  | { kind: 'final'; job: Job }
  | { kind: 'timeout'; job: Job; timeoutMs: number }
  | { kind: 'interrupted' };

/** Waits for the job `id` (at `url`); `known` is a state already seen (the submit's answer). */
export async function waitForJob(
  context: WaitContext,
  id: string,
  url: string,
  known: Job | null,
): Promise<WaitOutcome> {
  const { client, reporter, options, interrupts } = context;
  const deadline = new AbortController();
  const timer =
    options.timeoutMs === undefined ? null : setTimeout(() => deadline.abort(), options.timeoutMs);
  const signal = AbortSignal.any([interrupts.soft.signal, deadline.signal]);
  let last: Job | null = null;
  let shown = '';
  const report = (change: JobChange) => {
    const key = stateKey(change.job);
    if (key === shown) return; // the same state again (a reconnected stream, the fallback's first GET)
    shown = key;
    last = change.job;
    reporter.change(change);
  };
  reporter.begin(url);
  if (known) report({ type: 'status', id: null, job: known });
  try {
    const job = await follow(client, id, options.follow, signal, report);
    reporter.end(job);
    return { kind: 'final', job };
  } catch (error) {
    reporter.stop();
    if (interrupts.soft.signal.aborted) return await interrupted(context, id, url, last);
    if (deadline.signal.aborted && options.timeoutMs !== undefined) {
      const job = last ?? (await client.get(id, { signal: interrupts.hard.signal }));
      return { kind: 'timeout', job, timeoutMs: options.timeoutMs };
    }
    throw error;
  } finally {
    if (timer) clearTimeout(timer);
  }
}

/** What tells two states of a job apart for the user. */
function stateKey({ status, updatedAt, progress, cancelRequested }: Job): string {
  return [status, updatedAt.getTime(), progress?.fraction, progress?.message, cancelRequested].join('|');
}

/** Follows the job until it is final: its event stream, or when that fails, long-polling (or polling). */
async function follow(
  client: EndpointClient,
  id: string,
  mode: FollowMode,
  signal: AbortSignal,
  report: (change: JobChange) => void,
): Promise<Job> {
  if (mode === 'events') {
    try {
      for await (const event of client.events(id, { signal })) {
        report(event);
        if (isFinal(event.job.status)) return event.job;
      }
    } catch (error) {
      if (signal.aborted) throw error;
      // No usable event stream (not offered, cut by a proxy, ...): long-poll instead.
    }
  }
  let previous: Job | null = null;
  return client.wait(id, {
    signal,
    mode: mode === 'poll' ? 'poll' : 'long-poll',
    onProgress: (job) => {
      report({ type: previous?.status === job.status ? 'progress' : 'status', id: null, job });
      previous = job;
    },
  });
}

/** After Ctrl-C: says how to wait again or cancel; with --cancel-on-interrupt, cancels first. */
async function interrupted(
  context: WaitContext,
  id: string,
  url: string,
  last: Job | null,
): Promise<WaitOutcome> {
  const { client, reporter, options, interrupts } = context;
  const notice = { url, invocation: context.invocation, headers: context.headers, outcome: null };
  // A job seen final is left alone: its DELETE would remove it.
  if (!options.cancelOnInterrupt || (last && isFinal(last.status))) {
    reporter.interrupted(notice);
    return { kind: 'interrupted' };
  }
  try {
    const outcome = await client.cancel(id, { signal: interrupts.hard.signal });
    reporter.interrupted({ ...notice, outcome });
    return { kind: 'interrupted' };
  } catch (error) {
    // Not canceled: the job goes on, and the user learns how to wait for it or cancel it.
    reporter.interrupted(notice);
    throw error;
  }
}
