export { createJobsApp, type JobsAppOptions, type JobsCorsOptions, type OwnerResolver } from './app.js';
export { isJsonMediaType, readJsonBody } from './body.js';
export { type EventStreamOptions, eventId, streamJobEvents } from './events.js';
export {
  type IfNoneMatch,
  ifNoneMatchMatches,
  parseIdempotencyKey,
  parseIfNoneMatch,
  parsePreferWait,
} from './headers.js';
export {
  type ClientErrorSocket,
  type ExpectationResponse,
  NODE_SERVER_LIMITS,
  type NodeRequestErrorOptions,
  type NodeServerLimits,
  type NodeServerOptions,
  nodeRequestErrorHandler,
  nodeServerOptions,
  type ProtectableServer,
  type ProtectNodeServerOptions,
  protectNodeServer,
} from './node-server.js';
export { notFoundResponse } from './not-found.js';
export { buildOpenApiDocument, type OpenApiBuildOptions, type OpenApiOptions } from './openapi.js';
export { PROBLEM_CONTENT_TYPE } from './problems.js';
export {
  type JobError,
  type JobLinks,
  type JobListRepresentation,
  type JobRepresentation,
  jobETag,
  jobLinks,
  type RepresentationOptions,
  toRepresentation,
} from './representation.js';
export { type BatchItemResult, MAX_BATCH_JOBS } from './routes/batch.js';
export type { ScheduleListRepresentation, ScheduleRepresentation } from './routes/schedules.js';
