export {
  createJobsClient,
  type JobsClient,
  type JobsClientOptions,
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
// Every type of types.ts: the options and results of the endpoint client's methods.
export type * from './types.js';
export { isFinal, type Job, type JobLinks, parseJob } from './wire.js';
