import { describeError, type Logger } from './logger.js';
import type { JobQueue, QueueMessage } from './queue.js';
import type { DispatchItem } from './repository.js';

/**
 * Publishes dispatch items with all messages in flight at once (the queue's `publishMany` when it has one);
 * entry i says whether item i is in the queue. Failures are logged once per call, with how many failed.
 */
export async function publishItems(
  queue: JobQueue,
  items: readonly DispatchItem[],
  logger: Logger,
): Promise<boolean[]> {
  const messages: QueueMessage[] = items.map((item) => ({ endpoint: item.endpoint, jobId: item.id }));
  const errors = queue.publishMany
    ? await queue.publishMany(messages)
    : await Promise.all(
        messages.map((message) =>
          queue.publish(message.endpoint, message.jobId).then(
            () => null,
            (error: unknown) => (error instanceof Error ? error : new Error(String(error))),
          ),
        ),
      );
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
