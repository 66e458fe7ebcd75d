/**
 * The fields of one log line. Lines about a job carry `jobId` and `endpoint`; see "Logging" in the README for
 * every field name the components use.
 */
export type LogFields = Record<string, unknown>;

/** One level of a {@link Logger}: fields first, then the message — pino's argument order. */
export type LogFn = (fields: LogFields, message: string) => void;

/**
 * Where the components write their log lines. A pino logger (or a child of one) fits as it is; so does any
 * object with the four methods.
 */
export interface Logger {
  debug: LogFn;
  info: LogFn;
  warn: LogFn;
  error: LogFn;
}

export const silentLogger: Logger = { debug() {}, info() {}, warn() {}, error() {} };

/** Logs warnings and errors to the console as `[jobs] message {fields}`; the default of every component. */
export const consoleLogger: Logger = {
  debug() {},
  info() {},
  warn: (fields, message) => console.warn(`[jobs] ${message}`, fields),
  error: (fields, message) => console.error(`[jobs] ${message}`, fields),
};

/** The fields every line about one job begins with. */
export function jobLogFields(job: { readonly id: string; readonly endpoint: string }): {
  jobId: string;
  endpoint: string;
} {
  return { jobId: job.id, endpoint: job.endpoint };
}

/** The message of anything thrown, for a log field. */
export function describeError(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
