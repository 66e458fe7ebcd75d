import { type TraceContext, toTraceContext } from '@jobs/core';
import type { Message } from 'amqplib';

/**
 * Header carried by a copy of a message that a consumer published again (after acknowledging the original):
 * how many deliveries the original had, so the delivery limit counts across copies.
 */
export const PRIOR_DELIVERIES_HEADER = 'x-jobs-prior-deliveries';

/** Header of a message a consumer published to the dead-letter exchange itself (its original was acknowledged). */
export const DEAD_LETTER_REASON_HEADER = 'x-jobs-dead-letter-reason';

/** Longest job id a message may carry (AMQP short strings, and ids are short anyway). */
export const MAX_JOB_ID_LENGTH = 255;

export function encodeBody(endpoint: string, jobId: string): Buffer {
  return Buffer.from(JSON.stringify({ endpoint, jobId }));
}

/** The job id of a well-formed message for `endpoint`, or null for a poison message. */
export function decodeBody(message: Message, endpoint: string): string | null {
  try {
    const value: unknown = JSON.parse(message.content.toString('utf8'));
    if (typeof value !== 'object' || value === null) return null;
    const { endpoint: messageEndpoint, jobId } = value as { endpoint?: unknown; jobId?: unknown };
    if (messageEndpoint !== endpoint) return null;
    if (typeof jobId !== 'string' || jobId.length === 0 || jobId.length > MAX_JOB_ID_LENGTH) return null;
    return jobId;
  } catch {
    return null;
  }
}

/**
 * The AMQP headers carrying a message's W3C trace context: `traceparent` and `tracestate`, the names the W3C
 * Trace Context draft for AMQP and the OpenTelemetry instrumentations use. None without a context.
 */
export function traceHeaders(traceContext: TraceContext | null | undefined): Record<string, string> {
  return traceContext ? { ...traceContext } : {};
}

/** The trace context a message carries in its headers; null for none (or a malformed one). */
export function traceContextOf(message: Message): TraceContext | null {
  return toTraceContext(message.properties.headers);
}

/**
 * Which delivery this is, 1 for the first: the quorum queue counts the returns of this message
 * (`x-delivery-count`: nacks, and deliveries lost with their channel), and a re-published copy carries the
 * deliveries of the message it replaces.
 */
export function deliveryNumber(message: Message): number {
  const headers = message.properties.headers ?? {};
  return 1 + count(headers['x-delivery-count']) + count(headers[PRIOR_DELIVERIES_HEADER]);
}

function count(value: unknown): number {
  const number = typeof value === 'number' ? value : typeof value === 'string' ? Number(value) : Number.NaN;
  return Number.isInteger(number) && number > 0 ? number : 0;
}
