import { describeError, type Logger } from './logger.js';
import type { JobQueue, QueueMessage } from './queue.js';
import type { DispatchItem } from './repository.js';
import type { Telemetry } from './telemetry.js';

/**
 * Publishes dispatch items with all messages in flight at once (the queue's `publishMany` when it has one);
 * entry i says whether item i is in the queue. Failures are logged once per call, with how many failed. With
 * telemetry, each message gets a dispatch span (a child of the job's submit span) whose trace context it carries.
 */
export async function publishItems(
  queue: JobQueue,
  items: readonly DispatchItem[],
  logger: Logger,
  telemetry: Telemetry,
): Promise<boolean[]> {
  const spans = telemetry.active
    ? items.map((item) => telemetry.startSpan('dispatch', item.endpoint, item.traceContext))
    : null;
  const messages: QueueMessage[] = items.map((item, i) => {
    const traceContext = spans ? telemetry.traceContextOf(spans[i]!) : null;
    return traceContext
      ? { endpoint: item.endpoint, jobId: item.id, traceContext }
      : { endpoint: item.endpoint, jobId: item.id };
  });
  const errors = queue.publishMany
    ? await queue.publishMany(messages)
    : await Promise.all(
        messages.map((message) =>
          queue.publish(message.endpoint, message.jobId, message.traceContext).then(
            () => null,
            (error: unknown) => (error instanceof Error ? error : new Error(String(error))),
          ),
        ),
      );
  if (spans) {
    errors.forEach((error, i) => {
      const span = spans[i]!;
      telemetry.setAttribute(span, 'messaging.message.id', items[i]!.id);
      telemetry.endSpan(span, error);
      telemetry.sent(items[i]!.endpoint, error);
    });
  }
  const failed = items.filter((_item, index) => errors[index] !== null);
  if (failed.length > 0) {
    logger.warn(
      {
        jobIds: failed.map((item) => item.id),
        endpoints: [...new Set(failed.map((item) => item.endpoint))],
        failed: failed.length,
        of: items.length,
        error: describeError(errors.find((error) => error !== null)),
      },
      'publish failed; the jobs stay queued and are dispatched again',
    );
  }
  return errors.map((error) => error === null);
}
