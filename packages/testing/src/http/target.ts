// What the HTTP suites (fuzz, owner isolation, hostile inputs) run against: a real server on a real socket,
// built by the caller around the repository under test, with the suites' endpoints and workers.
import { defineEndpoint, defineSchedule, implement, type Schedule, type Worker } from '@jobs/core';
import { z } from 'zod';
import { defineTaskEndpoint, Gates, implementTask } from '../fixtures.js';

/** The header the server's owner hook must read: `owner: (c) => c.req.header(OWNER_HEADER) ?? null`. */
export const OWNER_HEADER = 'x-owner';

/** A strict object schema: the common case. Finishes at once with its input as output. */
export const echoEndpoint = defineEndpoint({
  name: 'echo',
  description: 'Answers its input.',
  input: z.object({ text: z.string().max(200), n: z.number().int().min(0).max(1_000).optional() }),
  output: z.object({ text: z.string(), n: z.number().int().optional() }),
});

/** Any JSON value (a recursive schema: deep input overflows a validator's stack). Finishes at once. */
export const jsonEndpoint = defineEndpoint({
  name: 'json',
  description: 'Takes any JSON value and answers it.',
  input: z.json(),
  output: z.json(),
});

/** Anything (no validation at all: the input hash of an Idempotency-Key walks it). Finishes at once. */
export const unknownEndpoint = defineEndpoint({
  name: 'unknown',
  description: 'Takes anything and answers a constant.',
  input: z.unknown(),
  output: z.object({ ok: z.boolean() }),
});

/** The gated `task` endpoint of the fixtures: its jobs stay queued or running until the test releases them. */
export const taskEndpoint = defineTaskEndpoint({ concurrency: 8 });

/**
 * A recurring schedule of `echo`, listed at `GET /echo/schedules`. It is due only at midnight UTC on 29 February,
 * so it submits no job while a suite runs.
 */
export const echoSchedule = defineSchedule({
  name: 'http-suite-echo-leap-day',
  endpoint: echoEndpoint,
  cron: '0 0 29 2 *',
  input: { text: 'scheduled' },
});

/** The endpoint names the server must expose. */
export const HTTP_SUITE_ENDPOINTS = ['echo', 'json', 'unknown', 'task'] as const;

/** What a factory is given to build the server. */
export interface HttpSuiteSetup {
  /** Register these workers (and so their endpoints) with the runtime. */
  workers: Worker[];
  /** Pass these as the runtime's `schedules` (listed at `GET /{endpoint}/schedules`). */
  schedules: Schedule[];
  /** The gates of the `task` jobs (the suite releases them). */
  gates: Gates;
}

/** A running server: the app mounted at `base`, its owner read from {@link OWNER_HEADER}. */
export interface HttpSuiteTarget {
  /** Absolute URL of the mount, without a trailing slash: `http://127.0.0.1:41234/jobs`. */
  base: string;
  /** The defaults of the app, or what the factory set: the suites build their limit cases on them. */
  maxBodyBytes?: number;
  maxJsonDepth?: number;
  close(): Promise<void>;
}

/**
 * Builds the server the HTTP suites send requests to, once per suite: a runtime on the repository under test
 * with `setup.workers` and `setup.schedules`, `createJobsApp` with `owner: (c) => c.req.header(OWNER_HEADER) ?? null`, served by
 * node:http (with `protectNodeServer` from @jobs/http-hono, or whatever the deployment puts in front).
 */
export type HttpSuiteFactory = (setup: HttpSuiteSetup) => Promise<HttpSuiteTarget>;

export function httpSuiteSetup(): HttpSuiteSetup {
  const gates = new Gates();
  return {
    gates,
    schedules: [echoSchedule],
    workers: [
      implement(echoEndpoint, (input) => input),
      implement(jsonEndpoint, (input) => input),
      implement(unknownEndpoint, () => ({ ok: true })),
      implementTask(taskEndpoint, gates) as unknown as Worker,
    ],
  };
}
