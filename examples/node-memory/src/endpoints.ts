import { defineEndpoint, defineSchedule } from '@jobs/core';
import { z } from 'zod';

/** Answers at once: the smallest possible job. */
export const ping = defineEndpoint({
  name: 'ping',
  description: 'Echoes a message back. Finishes at once; use it to see the 202 → 303 → output flow.',
  input: z.object({ message: z.string().max(1_000).default('hello') }),
  output: z.object({ pong: z.string(), at: z.iso.datetime() }),
  retentionMs: 60 * 60 * 1000,
});

/**
 * A few seconds of real work: generates text-like data and gzips it with node:zlib (in libuv's thread
 * pool, so the server stays responsive), hashing the compressed stream. Reports progress and an ETA.
 */
export const compress = defineEndpoint({
  name: 'compress',
  description:
    'Generates `megabytes` MiB of text-like data, gzips it at `level` and returns the sizes and the SHA-256 of the compressed stream. The default 32 MiB take a few seconds; progress and an ETA are reported per MiB.',
  input: z.object({
    megabytes: z
      .number()
      .int()
      .min(1)
      .max(1_024)
      .default(32)
      .describe('MiB of data to generate and compress.'),
    level: z.number().int().min(1).max(9).default(6).describe('gzip level, 1 (fast) to 9 (small).'),
    seed: z.number().int().min(0).max(0xffffffff).default(1).describe('Seed of the generated text.'),
  }),
  output: z.object({
    inputBytes: z.number().int(),
    outputBytes: z.number().int(),
    ratio: z.number().describe('outputBytes / inputBytes'),
    sha256: z.string().regex(/^[0-9a-f]{64}$/),
    durationMs: z.number().int(),
  }),
  timeoutMs: 10 * 60 * 1000,
  maxAttempts: 2,
  concurrency: 2,
  retentionMs: 60 * 60 * 1000,
});

/**
 * A recurring schedule: a ping at the start of every minute (UTC), submitted once per minute however many
 * processes run it. See it at GET /jobs/ping/schedules, and its jobs in GET /jobs/ping.
 */
export const pingEveryMinute = defineSchedule({
  name: 'ping-every-minute',
  endpoint: ping,
  cron: '* * * * *',
  input: { message: 'scheduled' },
});
