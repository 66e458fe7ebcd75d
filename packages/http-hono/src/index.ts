export { createJobsApp, type JobsAppOptions, type JobsCorsOptions, type OwnerResolver } from './app.js';
export { isJsonMediaType, readJsonBody } from './body.js';
export {
  type IfNoneMatch,
  ifNoneMatchMatches,
  parseIdempotencyKey,
  parseIfNoneMatch,
  parsePreferWait,
} from './headers.js';
export { buildOpenApiDocument, type OpenApiBuildOptions, type OpenApiOptions } from './openapi.js';
export { PROBLEM_CONTENT_TYPE } from './problems.js';
export {
  type JobLinks,
  type JobListRepresentation,
  type JobRepresentation,
  jobETag,
  jobLinks,
  toRepresentation,
} from './representation.js';
