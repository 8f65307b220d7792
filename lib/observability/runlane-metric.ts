import { Duration } from 'aws-cdk-lib';
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import {
  isMetricDimensionSet,
  METRIC_DIMENSIONS,
  METRICS,
  METRICS_NAMESPACE,
  type MetricDimensionName,
  type MetricKey,
  type MetricQueryValues,
  metricDimensionSets,
} from '#contracts/metrics.js';

/**
 * A CloudWatch metric the handlers emit, built from its definition in
 * `contracts/metrics.ts` — the only way alarms and dashboards name a
 * Runlane metric, so they query exactly the name and dimension set emitted.
 * Statistic defaults to the definition's (`Sum` or `p95`), period to 5 minutes.
 * `dimensions` (besides `Environment`) must name one of the metric's dimension
 * sets exactly; anything else would be a metric nobody emits.
 *
 * @example
 * runlaneMetric('commandsCompleted', 'prod', { Lane: 'runtime-agent-message-posted' });
 * runlaneMetric('commandsDeadLettered', 'prod', { Lane: lane.name, Reason: 'invalid_json' }, { period: Duration.minutes(1) });
 * runlaneMetric('runnerStalls', 'prod', {}); // the environment total
 */
export function runlaneMetric<K extends MetricKey>(
  key: K,
  environment: string,
  dimensions: MetricQueryValues<K>,
  options: cloudwatch.MetricOptions = {},
): cloudwatch.Metric {
  const definition = METRICS[key];
  const names = [METRIC_DIMENSIONS.environment, ...Object.keys(dimensions)];
  if (!isMetricDimensionSet(key, names)) {
    throw new RangeError(
      `${definition.name} is published under ${describeSets(key)}; not under ${names.join(', ')}`,
    );
  }
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

export interface RunlaneSearchOptions {
  /** Period of the search, also its rate divisor. */
  readonly period: Duration;
  /** Extra exact-match terms, e.g. `{ RootCause: 'network' }`. @default {} */
  readonly where?: Readonly<Partial<Record<MetricDimensionName, string>>>;
  /** Sum the matching series into one (`SUM(SEARCH(…))`). @default false */
  readonly sum?: boolean;
  /** Divide by the period in seconds: a per-second rate of a `Sum`. @default false */
  readonly perSecond?: boolean;
  readonly label?: string;
}

/**
 * A SEARCH over one dimension set of a Runlane metric in one environment, for
 * dashboards: one series per value combination agents reported (hosts,
 * command types), which are unknown when the stack is synthesized. The schema
 * names the set exactly, so a search never mixes in the metric's other sets.
 *
 * @example
 * runlaneSearch('runnerStalls', 'prod', ['Environment', 'Host'], { period: Duration.minutes(5), perSecond: true });
 */
export function runlaneSearch(
  key: MetricKey,
  environment: string,
  dimensionSet: readonly MetricDimensionName[],
  options: RunlaneSearchOptions,
): cloudwatch.MathExpression {
  const definition = METRICS[key];
  if (!isMetricDimensionSet(key, dimensionSet) || dimensionSet.length < 2) {
    throw new RangeError(
      `${definition.name} has no searchable set ${dimensionSet.join(', ')}; it is published under ${describeSets(key)}`,
    );
  }
  const seconds = options.period.toSeconds();
  const terms = Object.entries({ MetricName: definition.name, Environment: environment, ...options.where })
    .map(([name, value]) => `${name}="${value}"`)
    .join(' ');
  const search = `SEARCH('{${METRICS_NAMESPACE},${dimensionSet.join(',')}} ${terms}', '${definition.statistic}', ${seconds})`;
  const summed = options.sum ? `SUM(${search})` : search;
  return new cloudwatch.MathExpression({
    expression: options.perSecond ? `${summed} / ${seconds}` : summed,
    usingMetrics: {},
    period: options.period,
    ...(options.label !== undefined ? { label: options.label } : {}),
  });
}

function describeSets(key: MetricKey): string {
  return metricDimensionSets(key)
    .map((set) => `[${set.join(', ')}]`)
    .join(', ');
}
