import { notFoundProblem, problemResponse } from './problems.js';

/**
 * The `404` problem answer createJobsApp gives to a path it does not know, for the app it is mounted in, so that
 * a path outside the mount (or one that `..` leads out of it) is answered as problem+json too:
 * `app.notFound(notFoundResponse)`.
 */
export function notFoundResponse(): Response {
  return problemResponse(notFoundProblem());
}
