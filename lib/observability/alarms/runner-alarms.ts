import { Duration } from 'aws-cdk-lib';
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import type * as sqs from 'aws-cdk-lib/aws-sqs';
import { runlaneMetric } from '../runlane-metric.js';
import { type AlarmFactory, catalogPeriod, everyPeriod } from './alarm-factory.js';
import type { AlarmThresholds } from './thresholds.js';

/**
 * The runner alarms: the stall burn-rate pair (`runnerStallFastBurn`,
 * `runnerStallSlowBurn`: {@link runnerStallRate} above `ratePerSecond` in every
 * window of the sustain) and the runner event ingest's DLQ holding a message.
 */
export function addRunnerAlarms(
  alarms: AlarmFactory,
  runnerEventDeadLetterQueue: sqs.IQueue,
  t: Readonly<AlarmThresholds>,
): void {
  for (const [kind, burn] of [
    ['runnerStallFastBurn', t.runnerStalls.fastBurn],
    ['runnerStallSlowBurn', t.runnerStalls.slowBurn],
  ] as const) {
    alarms.add({
      kind,
      metric: runnerStallRate(alarms.environmentName, burn.windowMinutes),
      threshold: burn.ratePerSecond,
      comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
      condition: `runner stalls of all hosts above ${burn.ratePerSecond}/s over ${burn.windowMinutes} min, sustained ${burn.sustainMinutes} min`,
      evaluation: everyPeriod(burn.sustainMinutes / burn.windowMinutes),
    });
  }
  alarms.add({
    kind: 'runnerEventDeadLetters',
    metric: runnerEventDeadLetterQueue.metricApproximateNumberOfMessagesVisible({
      period: catalogPeriod('runnerEventDeadLetters', Duration.minutes(1)),
      statistic: cloudwatch.Stats.MAXIMUM,
    }),
    threshold: 0,
    comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
    condition: 'the runner event ingest DLQ holds at least one event (refused, or not stored after retries)',
  });
}

/**
 * Stalls per second of all the environment's hosts, per window: the
 * `RunnerStalls` [Environment] total summed over `windowMinutes`, divided by
 * the period. A window without stalls has no data point (missing, not 0).
 *
 * @example
 * runnerStallRate('prod', 5); // stalls / PERIOD(stalls), period 300 s
 */
export function runnerStallRate(environmentName: string, windowMinutes: number): cloudwatch.MathExpression {
  const window = Duration.minutes(windowMinutes);
  return new cloudwatch.MathExpression({
    expression: 'stalls / PERIOD(stalls)',
    usingMetrics: {
      stalls: runlaneMetric('runnerStalls', environmentName, {}, { period: window, statistic: 'Sum' }),
    },
    period: window,
    label: `Runner stalls / s over ${windowMinutes} min, all hosts`,
  });
}
