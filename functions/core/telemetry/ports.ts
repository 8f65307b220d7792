import type { MetricDimensionValues, MetricKey } from '#contracts/metrics.js';

export interface BatchTelemetry {
  readonly lane: string;
  readonly environment: string;
  readonly received: number;
  readonly completed: number;
  readonly needsReview: number;
  readonly duplicates: number;
  readonly retried: number;
  readonly deadLettered: Readonly<Record<string, number>>;
  readonly commandIds: readonly string[];
  readonly at: string;
}

/** Publishes one event on the telemetry bus. */
export interface EventPublisher {
  publish(event: {
    readonly source: string;
    readonly detailType: string;
    readonly detail: unknown;
  }): Promise<void>;
}

/** Publishes one summary per batch; failures are the caller's warning, never the command's. */
export interface TelemetryPublisher {
  publishBatchSummary(summary: BatchTelemetry): Promise<void>;
}

/**
 * Records metrics declared in `METRICS` (`metrics.ts`). The Lambda adapter
 * writes CloudWatch EMF through Powertools Metrics and flushes once per
 * invocation; tests keep the values in memory.
 *
 * @example
 * metrics.record('commandsDeadLettered', 1, { Lane: 'runtime-agent-message-posted', Reason: 'invalid_json' });
 */
export interface MetricsRecorder {
  /**
   * Adds one value. `dimensions` holds every dimension of the metric except
   * `Environment`, which the recorder sets. May throw on a malformed value;
   * callers that must never fail wrap it.
   */
  record<K extends MetricKey>(
    metric: K,
    value: number,
    dimensions: MetricDimensionValues<K>,
    options?: MetricRecordOptions,
  ): void;
}

export interface MetricRecordOptions {
  /**
   * When the counted thing happened, if not now (CloudWatch accepts up to 14
   * days back and 2 hours ahead). A value with a timestamp is written at once
   * as its own EMF line.
   * @default now
   */
  readonly timestamp?: Date;
}

/** Records nothing: the default where no metrics are wanted (tests, scripts). */
export const noopMetricsRecorder: MetricsRecorder = { record: () => undefined };
