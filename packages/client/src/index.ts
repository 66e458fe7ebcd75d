export {
  type CancelOutcome,
  createJobsClient,
  type EndpointClient,
  type EndpointRef,
  type EventsOptions,
  type GetOptions,
  type JobEvent,
  type JobPage,
  type JobRef,
  type JobsClient,
  type JobsClientOptions,
  type ListOptions,
  type OutputSchema,
  type RequestOptions,
  type RunOptions,
  type SubmitOptions,
  type WaitMode,
  type WaitOptions,
} from './client.js';
export {
  JobCanceledError,
  JobFailedClientError,
  JobsClientError,
  JobsHttpError,
  JobsNetworkError,
  JobsProtocolError,
  JobWaitTimeoutError,
  OutputValidationError,
  type Problem,
} from './errors.js';
export { EventStreamParser, readEventStream, type ServerSentEvent } from './sse.js';
export type { HeadersOption } from './transport.js';
export { isFinal, type Job, type JobLinks, parseJob } from './wire.js';
