export interface Logger {
  debug(message: string, fields?: Record<string, unknown>): void;
  info(message: string, fields?: Record<string, unknown>): void;
  warn(message: string, fields?: Record<string, unknown>): void;
  error(message: string, fields?: Record<string, unknown>): void;
}

export const silentLogger: Logger = { debug() {}, info() {}, warn() {}, error() {} };

/** Logs warnings and errors to the console; the default of every component. */
export const consoleLogger: Logger = {
  debug() {},
  info() {},
  warn: (message, fields) => console.warn(`[jobs] ${message}`, fields ?? ''),
  error: (message, fields) => console.error(`[jobs] ${message}`, fields ?? ''),
};

/** The message of anything thrown, for a log field. */
export function describeError(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
