import type { Logger } from '@aws-lambda-powertools/logger';

/** The logging surface the domain core asks for. */
export interface StructuredLogger {
  info(message: string, extra?: Record<string, unknown>): void;
  warn(message: string, extra?: Record<string, unknown>): void;
  error(message: string, extra?: Record<string, unknown>): void;
}

/** Adapts a Powertools Logger (whose extra-argument type is narrower) to the core's logger. */
export function fromPowertoolsLogger(logger: Pick<Logger, 'info' | 'warn' | 'error'>): StructuredLogger {
  return {
    info: (message, extra) => logger.info(message, (extra ?? {}) as never),
    warn: (message, extra) => logger.warn(message, (extra ?? {}) as never),
    error: (message, extra) => logger.error(message, (extra ?? {}) as never),
  };
}
