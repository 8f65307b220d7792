import type { Metrics } from '@aws-lambda-powertools/metrics';
import type { MiddlewareObj } from '@middy/core';
import {
  METRIC_DIMENSIONS,
  METRICS,
  type MetricDefinition,
  type MetricDimensionValues,
  type MetricKey,
} from '#contracts/metrics.js';
import type { MetricRecordOptions, MetricsRecorder } from '#core/telemetry/ports.js';

export interface PowertoolsMetricsRecorderOptions {
  /** The function's Powertools Metrics instance, created with `namespace: METRICS_NAMESPACE`. */
  readonly metrics: Metrics;
  /** Value of `Environment` on every metric. */
  readonly environment: string;
  /**
   * Dimension values (besides `Environment`) this function records most of its
   * metrics with, e.g. a worker's `{ Lane }`. Metrics with exactly these values
   * are buffered and flushed once per invocation; any other dimension values
   * (a dead letter's `Reason`, the API's per-command `Lane`) are written at once
   * as their own EMF line, so each metric keeps its exact dimension set.
   * @default {}
   */
  readonly bufferedDimensions?: Readonly<Record<string, string>>;
}

/**
 * `MetricsRecorder` on Powertools Metrics: CloudWatch EMF on stdout, no
 * PutMetricData calls. Powertools adds a `service` dimension by default; this
 * recorder removes it so the dimension sets are exactly those in `METRICS`
 * (which the alarms and the dashboard query). A metric with `dimensionSets`
 * (`RunnerStalls`) is written at once as one line carrying every set.
 *
 * @example
 * const metrics = new Metrics({ namespace: METRICS_NAMESPACE, serviceName: 'runlane-lane-worker' });
 * const recorder = new PowertoolsMetricsRecorder({ metrics, environment: 'prod', bufferedDimensions: { Lane: lane } });
 * export const handler = middy().use(flushMetricsAfterEachInvocation(recorder)).handler(...);
 */
export class PowertoolsMetricsRecorder implements MetricsRecorder {
  readonly #metrics: Metrics;
  readonly #environment: string;
  readonly #buffered: Readonly<Record<string, string>>;

  public constructor(options: PowertoolsMetricsRecorderOptions) {
    this.#metrics = options.metrics;
    this.#environment = options.environment;
    this.#buffered = { [METRIC_DIMENSIONS.environment]: options.environment, ...options.bufferedDimensions };
    this.#metrics.clearDefaultDimensions();
    this.#metrics.setDefaultDimensions(this.#buffered);
  }

  public record<K extends MetricKey>(
    metric: K,
    value: number,
    dimensions: MetricDimensionValues<K>,
    options: MetricRecordOptions = {},
  ): void {
    const definition = METRICS[metric];
    const values: Record<string, string> = {
      [METRIC_DIMENSIONS.environment]: this.#environment,
      ...(dimensions as Record<string, string>),
    };
    const names = Object.keys(values);
    const declared: readonly string[] = definition.dimensions;
    if (names.length !== declared.length || !declared.every((name) => values[name] !== undefined)) {
      throw new RangeError(
        `${definition.name} takes dimensions ${declared.join(', ')}; got ${names.join(', ')}`,
      );
    }
    const sets: readonly (readonly string[])[] | undefined = (definition as MetricDefinition).dimensionSets;
    if (sets === undefined && options.timestamp === undefined && sameValues(values, this.#buffered)) {
      this.#metrics.addMetric(definition.name, definition.unit, value);
      return;
    }
    const single = this.#metrics.singleMetric();
    single.clearDefaultDimensions();
    if (sets === undefined) {
      for (const name of declared) single.addDimension(name, values[name] as string);
    } else {
      // One line, several dimension sets: CloudWatch aggregates the value under each.
      // `Environment` is the default dimension, so an empty set publishes [Environment].
      single.setDefaultDimensions({ [METRIC_DIMENSIONS.environment]: this.#environment });
      for (const set of sets) {
        single.addDimensions(
          Object.fromEntries(
            set
              .filter((name) => name !== METRIC_DIMENSIONS.environment)
              .map((name) => [name, values[name] as string]),
          ),
        );
      }
    }
    if (options.timestamp !== undefined) single.setTimestamp(options.timestamp);
    single.addMetric(definition.name, definition.unit, value);
  }

  /** Writes the buffered metrics as one EMF line, if there are any (no empty-metrics warning). */
  public flush(): void {
    if (this.#metrics.hasStoredMetrics()) this.#metrics.publishStoredMetrics();
  }
}

/**
 * Middy middleware that flushes the recorder after every invocation, also
 * when the handler throws: metrics belong to the invocation that recorded them.
 */
export function flushMetricsAfterEachInvocation(recorder: Pick<PowertoolsMetricsRecorder, 'flush'>) {
  const flush = async (): Promise<void> => {
    recorder.flush();
  };
  return { after: flush, onError: flush } satisfies MiddlewareObj;
}

function sameValues(a: Readonly<Record<string, string>>, b: Readonly<Record<string, string>>): boolean {
  const keys = Object.keys(a);
  return keys.length === Object.keys(b).length && keys.every((key) => a[key] === b[key]);
}
