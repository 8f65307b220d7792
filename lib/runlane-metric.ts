import { Duration } from 'aws-cdk-lib';
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import {
  METRIC_DIMENSIONS,
  METRICS,
  METRICS_NAMESPACE,
  type MetricDimensionValues,
  type MetricKey,
} from '../functions/core/metrics.js';

/**
 * A CloudWatch metric the handlers emit, built from its definition in
 * `functions/core/metrics.ts` — the only way alarms and dashboards name a
 * Runlane metric, so they query exactly the name and dimension set emitted.
 * Statistic defaults to the definition's (`Sum` or `p95`), period to 5 minutes.
 *
 * @example
 * runlaneMetric('commandsCompleted', 'prod', { Lane: 'runtime-agent-message-posted' });
 * runlaneMetric('commandsDeadLettered', 'prod', { Lane: lane.name, Reason: 'invalid_json' }, { period: Duration.minutes(1) });
 */
export function runlaneMetric<K extends MetricKey>(
  key: K,
  environment: string,
  dimensions: MetricDimensionValues<K>,
  options: cloudwatch.MetricOptions = {},
): cloudwatch.Metric {
  const definition = METRICS[key];
  return new cloudwatch.Metric({
    namespace: METRICS_NAMESPACE,
    metricName: definition.name,
    dimensionsMap: {
      [METRIC_DIMENSIONS.environment]: environment,
      ...(dimensions as Record<string, string>),
    },
    statistic: definition.statistic,
    period: Duration.minutes(5),
    ...options,
  });
}
