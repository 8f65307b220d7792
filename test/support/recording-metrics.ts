import type { MetricDimensionValues, MetricKey } from '#contracts/metrics.js';
import type { MetricRecordOptions, MetricsRecorder } from '#core/telemetry/ports.js';

export interface RecordedMetric {
  readonly metric: MetricKey;
  readonly value: number;
  readonly dimensions: Readonly<Record<string, string>>;
  /** Set when the value was recorded for another time than now. */
  readonly timestamp?: Date;
}

/** A `MetricsRecorder` that keeps every value, for assertions. */
export class RecordingMetrics implements MetricsRecorder {
  public readonly points: RecordedMetric[] = [];

  public record<K extends MetricKey>(
    metric: K,
    value: number,
    dimensions: MetricDimensionValues<K>,
    options: MetricRecordOptions = {},
  ): void {
    this.points.push({
      metric,
      value,
      dimensions: { ...(dimensions as Record<string, string>) },
      ...(options.timestamp ? { timestamp: options.timestamp } : {}),
    });
  }

  /** Sum of a metric's values, optionally only where the dimensions match. */
  public sum(metric: MetricKey, where: Readonly<Record<string, string>> = {}): number {
    return this.values(metric, where).reduce((total, value) => total + value, 0);
  }

  public values(metric: MetricKey, where: Readonly<Record<string, string>> = {}): number[] {
    return this.points
      .filter((p) => p.metric === metric && Object.entries(where).every(([k, v]) => p.dimensions[k] === v))
      .map((p) => p.value);
  }

  public clear(): void {
    this.points.length = 0;
  }
}
