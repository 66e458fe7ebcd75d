import { defineEndpoint } from '@jobs/core';
import { z } from 'zod';

/**
 * The contracts both sides share: the API processes validate inputs against them and publish the OpenAPI
 * document; the worker processes implement them (workers.ts). Changing one is a deployment of both sides.
 */

/** Waits `ms` milliseconds, cooperatively (it stops at once when its signal aborts). The reliability tests use it. */
export const sleep = defineEndpoint({
  name: 'sleep',
  description: 'Waits the given time, then reports which process ran it.',
  input: z.object({
    ms: z.number().int().min(0).max(600_000),
    /** How long the job's cleanup takes when the job is deleted or expires (the reliability tests use it). */
    cleanupMs: z.number().int().min(0).max(600_000).optional(),
  }),
  output: z.object({ pid: z.number().int(), attempt: z.number().int(), sleptMs: z.number() }),
  maxAttempts: 5,
  backoff: { initialMs: 200, maxMs: 5_000 },
  concurrency: 8,
});

/**
 * Key stretching: `rounds` iterations of a hash over the text. CPU-bound, so it yields to the event loop
 * between slices (heartbeats and cancel requests must get through), reports progress and honours its signal.
 */
export const digest = defineEndpoint({
  name: 'digest',
  description: 'Iterated hash of a text (key stretching), with progress.',
  input: z.object({
    text: z.string().max(65_536),
    algorithm: z.enum(['sha256', 'sha512']).default('sha256'),
    rounds: z.number().int().min(1).max(5_000_000).default(100_000),
  }),
  output: z.object({
    algorithm: z.enum(['sha256', 'sha512']),
    rounds: z.number().int(),
    digest: z.string().regex(/^[0-9a-f]+$/),
  }),
  timeoutMs: 5 * 60_000,
  concurrency: 2,
});

/**
 * A tenant's report (here it only waits `ms`). A per-tenant limit: at most 2 reports of one tenant run at once,
 * in all the worker processes together, and tenants take fair turns, so one tenant's burst of reports does not
 * hold up another's. Jobs over the limit wait `queued`.
 */
export const report = defineEndpoint({
  name: 'report',
  description:
    "Builds a tenant's report. At most 2 per tenant at once across all workers; tenants take turns.",
  input: z.object({
    tenant: z.string().min(1).max(100),
    ms: z.number().int().min(0).max(600_000),
  }),
  output: z.object({ tenant: z.string(), pid: z.number().int() }),
  concurrency: 8,
  limits: { key: (input) => input.tenant, concurrencyPerKey: 2 },
});

export const endpoints = [sleep, digest, report] as const;
