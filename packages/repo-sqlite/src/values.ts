import {
  checkNumber,
  checkStorableText,
  InvalidInputError,
  type ItemResult,
  type JobProgress,
  type SettleOutcome,
  toStorableJson,
} from '@jobs/core';
import { isUnavailable } from './driver.js';

/** Ids, endpoints, owners, keys and tokens: storable text of at most 1024 characters (as in @jobs/memory). */
export const text = (value: unknown, field: string): string => checkStorableText(value, field, 1024);
export const optionalText = (value: unknown, field: string): string | null =>
  value === null || value === undefined ? null : text(value, field);

/** A duration in milliseconds: finite and >= 0. */
export const duration = (value: unknown, field: string): number =>
  checkNumber(field, value, 'nonNegative', (message) => InvalidInputError.field(field, message));

export const limitOf = (value: unknown): number =>
  checkNumber('limit', value, 'nonNegativeInteger', (message) => InvalidInputError.field('limit', message));

/** The attempts a retry grants: an integer from 1 to 1,000,000 (as in @jobs/memory). */
export function attemptsOf(value: unknown): number {
  const attempts = checkNumber('attempts', value, 'positiveInteger', (message) =>
    InvalidInputError.field('attempts', message),
  );
  if (attempts > 1_000_000) throw InvalidInputError.field('attempts', 'attempts must be at most 1000000.');
  return attempts;
}

/** Values as JSON text: what every repository refuses (U+0000, lone surrogates, too big) is refused here too. */
export class Values {
  readonly #maxBytes: number;
  constructor(maxBytes: number) {
    this.#maxBytes = maxBytes;
  }

  json(value: unknown, field: string): string {
    return toStorableJson(value, field, this.#maxBytes);
  }

  optionalJson(value: unknown, field: string): string | null {
    return value === null || value === undefined ? null : this.json(value, field);
  }

  progress(value: JobProgress | null): string | null {
    if (value === null) return null;
    if (typeof value !== 'object' || typeof value.fraction !== 'number' || !Number.isFinite(value.fraction)) {
      throw InvalidInputError.field('progress', 'progress.fraction must be a finite number.');
    }
    if (value.message !== undefined && typeof value.message !== 'string') {
      throw InvalidInputError.field('progress', 'progress.message must be a string.');
    }
    return this.json(value, 'progress');
  }

  /** A settle outcome checked and serialized before anything is read or written. */
  outcome(outcome: SettleOutcome): {
    output: string | null;
    error: string | null;
    progress: string | null | undefined;
    /** The ETA as milliseconds from now (null: cleared; undefined: unchanged). */
    remainingMs?: number | null | undefined;
    durationMs: number;
  } {
    switch (outcome.status) {
      case 'succeeded':
        return {
          durationMs: duration(outcome.retentionMs, 'retentionMs'),
          output: this.json(outcome.output, 'output'),
          error: null,
          progress: outcome.progress === undefined ? undefined : this.progress(outcome.progress),
          remainingMs:
            outcome.estimatedRemainingMs == null
              ? outcome.estimatedRemainingMs
              : duration(outcome.estimatedRemainingMs, 'estimatedRemainingMs'),
        };
      case 'failed':
      case 'canceled':
        return {
          durationMs: duration(outcome.retentionMs, 'retentionMs'),
          output: null,
          error: this.optionalJson(outcome.error, 'error'),
          progress: undefined,
        };
      case 'queued':
        return {
          durationMs: duration(outcome.delayMs, 'delayMs'),
          output: null,
          error: this.optionalJson(outcome.error, 'error'),
          progress: undefined,
        };
      default:
        throw InvalidInputError.field(
          'status',
          `Unknown outcome status ${String((outcome as { status: unknown }).status)}.`,
        );
    }
  }
}

/**
 * Runs `fn` for one batch item: a thrown error refuses that item alone, except a database that cannot serve the
 * call (busy, I/O), which fails the whole batch (its transaction is rolled back).
 */
export function item<T>(fn: () => T): ItemResult<T> {
  try {
    return { ok: true, value: fn() };
  } catch (error) {
    if (isUnavailable(error)) throw error;
    return { ok: false, error: error instanceof Error ? error : new Error(String(error)) };
  }
}
