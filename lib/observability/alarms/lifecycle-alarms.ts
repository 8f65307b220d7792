import { Duration } from 'aws-cdk-lib';
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import type { CommandLane } from '../../lanes/command-lane.js';
import { runlaneMetric } from '../runlane-metric.js';
import type { AlarmFactory } from './alarm-factory.js';
import type { AlarmThresholds } from './thresholds.js';

/**
 * The review queue's growth alarm (`needsReviewBacklog`): {@link needsReviewGrowth}
 * over one `needsReviewWindowMinutes` period at least `needsReviewGrowth`.
 */
export function addLifecycleAlarms(
  alarms: AlarmFactory,
  lanes: readonly CommandLane[],
  t: Readonly<AlarmThresholds>,
): void {
  alarms.add({
    kind: 'needsReviewBacklog',
    metric: needsReviewGrowth(alarms.environmentName, lanes, Duration.minutes(t.needsReviewWindowMinutes)),
    threshold: t.needsReviewGrowth,
    comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
    condition: `runs entering NeedsReview minus runs resolved by a later attempt, all lanes, at least ${t.needsReviewGrowth} in ${t.needsReviewWindowMinutes} minutes`,
  });
}

/**
 * Net growth of the review queue over `period`: Σ `NeedsReviewEntered` − Σ
 * `NeedsReviewResolved` across the lanes, a lane without data counting 0.
 * The alarm and the dashboard's lifecycle row read this same expression.
 *
 * @example
 * needsReviewGrowth('prod', lanes, Duration.minutes(60)); // (FILL(entered0, 0) + …) - (FILL(resolved0, 0) + …)
 */
export function needsReviewGrowth(
  environmentName: string,
  lanes: readonly Pick<CommandLane, 'lane'>[],
  period: Duration,
): cloudwatch.MathExpression {
  const usingMetrics: Record<string, cloudwatch.IMetric> = {};
  const entered: string[] = [];
  const resolved: string[] = [];
  lanes.forEach((lane, index) => {
    const dimensions = { Lane: lane.lane.name };
    usingMetrics[`entered${index}`] = runlaneMetric('needsReviewEntered', environmentName, dimensions, {
      period,
      statistic: 'Sum',
    });
    usingMetrics[`resolved${index}`] = runlaneMetric('needsReviewResolved', environmentName, dimensions, {
      period,
      statistic: 'Sum',
    });
    entered.push(`FILL(entered${index}, 0)`);
    resolved.push(`FILL(resolved${index}, 0)`);
  });
  return new cloudwatch.MathExpression({
    expression: `(${entered.join(' + ')}) - (${resolved.join(' + ')})`,
    usingMetrics,
    period,
    label: 'NeedsReview net growth (entered − resolved), all lanes',
  });
}
