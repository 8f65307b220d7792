/**
 * How the stack's handlers log and record metrics: Powertools JSON lines and EMF lines as in
 * Lambda, or, with `--pretty`, readable lines and no metrics (that output is for people).
 */
import { Logger } from '@aws-lambda-powertools/logger';
import { Metrics } from '@aws-lambda-powertools/metrics';
import { PowertoolsMetricsRecorder } from '#adapters/powertools/metrics-recorder.js';
import { fromPowertoolsLogger, type StructuredLogger } from '#adapters/powertools/structured-logger.js';
import { METRICS_NAMESPACE } from '#contracts/metrics.js';
import { LOCAL_ENVIRONMENT } from './options.js';
import { prettyLogger } from './pretty-logger.js';

export interface MetricsOptions {
  /** @default LOCAL_ENVIRONMENT */
  readonly environment?: string;
  /** Dimensions added to every metric, e.g. `{ Lane: 'ops' }`. @default none */
  readonly bufferedDimensions?: Readonly<Record<string, string>>;
}

export interface StackTelemetry {
  /** A logger for one service, e.g. `runlane-api`. */
  log(service: string): StructuredLogger;
  /** A metrics recorder for one service; undefined with `--pretty`. Flush it after each invocation. */
  metrics(service: string, options?: MetricsOptions): PowertoolsMetricsRecorder | undefined;
}

/**
 * @example
 * const telemetry = stackTelemetry(options.pretty);
 * const metrics = telemetry.metrics('runlane-api'); // undefined when pretty
 */
export function stackTelemetry(pretty: boolean | undefined): StackTelemetry {
  return {
    log: (service) =>
      pretty
        ? prettyLogger(service)
        : fromPowertoolsLogger(
            new Logger({ serviceName: service, persistentKeys: { environment: LOCAL_ENVIRONMENT } }),
          ),
    metrics: (service, options = {}) =>
      pretty
        ? undefined
        : new PowertoolsMetricsRecorder({
            metrics: new Metrics({ namespace: METRICS_NAMESPACE, serviceName: service }),
            environment: options.environment ?? LOCAL_ENVIRONMENT,
            ...(options.bufferedDimensions ? { bufferedDimensions: options.bufferedDimensions } : {}),
          }),
  };
}

/** Runs one invocation of a handler and flushes its metrics after it, as the Lambda middleware does. */
export async function flushingAfter<T>(
  metrics: PowertoolsMetricsRecorder | undefined,
  invoke: () => Promise<T>,
): Promise<T> {
  try {
    return await invoke();
  } finally {
    metrics?.flush();
  }
}
