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

export type LogLevel = 'debug' | 'info' | 'warn' | 'error';

const LEVEL_ORDER: Record<LogLevel, number> = { debug: 10, info: 20, warn: 30, error: 40 };

/** Discards everything. The default, so tests stay quiet. */
export const silentLogger: LocalLogger = {
  debug: () => {},
  info: () => {},
  warn: () => {},
  error: () => {},
};

export interface JsonLineLoggerOptions {
  /** Written to `service` on every line. */
  readonly service: string;
  /** @default 'info' */
  readonly level?: LogLevel;
  /** @default process.stderr */
  readonly write?: (line: string) => void;
  /** @default () => new Date() */
  readonly now?: () => Date;
}

/**
 * One JSON object per line: `{"level","timestamp","service","message",...fields}`.
 *
 * @example
 * const logger = jsonLineLogger({ service: 'runlane-local', level: 'debug' });
 * logger.info('batch invoked', { functionName: 'lane-worker', records: 3 });
 */
export function jsonLineLogger(options: JsonLineLoggerOptions): LocalLogger {
  const threshold = LEVEL_ORDER[options.level ?? 'info'];
  const write = options.write ?? ((line: string) => process.stderr.write(line));
  const now = options.now ?? (() => new Date());
  const emit = (level: LogLevel, message: string, fields?: Record<string, unknown>): void => {
    if (LEVEL_ORDER[level] < threshold) return;
    const entry = { level, timestamp: now().toISOString(), service: options.service, message, ...fields };
    write(`${JSON.stringify(entry, errorReplacer)}\n`);
  };
  return {
    debug: (message, fields) => emit('debug', message, fields),
    info: (message, fields) => emit('info', message, fields),
    warn: (message, fields) => emit('warn', message, fields),
    error: (message, fields) => emit('error', message, fields),
  };
}

/** `JSON.stringify` drops an Error's own fields; keep name, message and stack. */
function errorReplacer(_key: string, value: unknown): unknown {
  if (value instanceof Error) return { name: value.name, message: value.message, stack: value.stack };
  return value;
}
