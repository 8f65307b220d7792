import { Logger } from '@aws-lambda-powertools/logger';
import { Metrics } from '@aws-lambda-powertools/metrics';
import { METRICS_NAMESPACE } from '#contracts/metrics.js';
import { PowertoolsMetricsRecorder } from './metrics-recorder.js';

export interface HandlerTelemetryOptions {
  /** Powertools `serviceName` of both the logger and the metrics, e.g. `runlane-api`. */
  readonly serviceName: string;
  readonly environment: string;
  /** Keys every log line carries besides `environment`, e.g. `{ lane }`. */
  readonly persistentKeys?: Readonly<Record<string, string>>;
  /** See {@link PowertoolsMetricsRecorderOptions.bufferedDimensions}. */
  readonly bufferedDimensions?: Readonly<Record<string, string>>;
}

export interface HandlerTelemetry {
  readonly logger: Logger;
  readonly metrics: PowertoolsMetricsRecorder;
}

/**
 * A Lambda handler's Powertools logger (its service name, `environment` and the given keys on
 * every line) and its metrics recorder in Runlane's namespace, built the same way for every
 * handler.
 *
 * @example
 * const { logger, metrics } = handlerTelemetry({ serviceName: 'runlane-api', environment: 'prod' });
 */
export function handlerTelemetry(options: HandlerTelemetryOptions): HandlerTelemetry {
  const logger = new Logger({ serviceName: options.serviceName });
  logger.appendPersistentKeys({ ...options.persistentKeys, environment: options.environment });
  const metrics = new PowertoolsMetricsRecorder({
    metrics: new Metrics({ namespace: METRICS_NAMESPACE, serviceName: options.serviceName }),
    environment: options.environment,
    ...(options.bufferedDimensions ? { bufferedDimensions: options.bufferedDimensions } : {}),
  });
  return { logger, metrics };
}
