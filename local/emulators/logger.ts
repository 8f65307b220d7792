/**
 * The small structured logger the local runtime writes to. Its shape is a
 * subset of Powertools' `Logger` (`logger.info(message, fields)`), so a
 * Powertools logger can be passed where a `LocalLogger` is expected.
 */
export interface LocalLogger {
  debug(message: string, fields?: Record<string, unknown>): void;
  info(message: string, fields?: Record<string, unknown>): void;
  warn(message: string, fields?: Record<string, unknown>): void;
  error(message: string, fields?: Record<string, unknown>): void;
}

/** Discards everything. The default, so tests stay quiet. */
export const silentLogger: LocalLogger = {
  debug: () => {},
  info: () => {},
  warn: () => {},
  error: () => {},
};
