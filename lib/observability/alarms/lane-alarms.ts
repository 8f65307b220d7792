import { Duration } from 'aws-cdk-lib';
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import type { CommandLane } from '../../lanes/command-lane.js';
import { runlaneMetric } from '../runlane-metric.js';
import { type AlarmFactory, catalogPeriod, laneSubject } from './alarm-factory.js';
import type { AlarmThresholds } from './thresholds.js';

/**
 * The five alarms of each lane, lane by lane: DLQ messages, oldest message age,
 * worker errors, worker throttles (Lambda metrics of the lane's worker) and
 * end-to-end latency p95 (`EndToEndLatency` [Environment, Lane]).
 */
export function addLaneAlarms(
  alarms: AlarmFactory,
  lanes: readonly CommandLane[],
  t: Readonly<AlarmThresholds>,
): void {
  for (const lane of lanes) addOneLaneAlarms(alarms, lane, t);
}

function addOneLaneAlarms(alarms: AlarmFactory, lane: CommandLane, t: Readonly<AlarmThresholds>): void {
  const subject = laneSubject(lane);
  alarms.add({
    kind: 'deadLetterQueueMessages',
    subject,
    metric: lane.deadLetterQueue.metricApproximateNumberOfMessagesVisible({
      period: catalogPeriod('deadLetterQueueMessages', Duration.minutes(1)),
      statistic: cloudwatch.Stats.MAXIMUM,
    }),
    threshold: 0,
    comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
    condition: 'the lane DLQ holds at least one message (ApproximateNumberOfMessagesVisible > 0)',
  });
  alarms.add({
    kind: 'oldestMessageAge',
    subject,
    metric: lane.queue.metricApproximateAgeOfOldestMessage({
      period: catalogPeriod('oldestMessageAge', Duration.minutes(1)),
      statistic: cloudwatch.Stats.MAXIMUM,
    }),
    threshold: t.oldestMessageAgeSeconds,
    comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
    condition: `oldest message older than ${t.oldestMessageAgeSeconds} s for 3 minutes`,
  });
  alarms.add({
    kind: 'workerErrors',
    subject,
    metric: lane.worker.metricErrors({
      period: catalogPeriod('workerErrors', Duration.minutes(5)),
      statistic: 'Sum',
    }),
    threshold: t.workerErrors,
    comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
    condition: `at least ${t.workerErrors} worker invocation error(s) (crash, timeout) in 5 minutes`,
  });
  alarms.add({
    kind: 'workerThrottles',
    subject,
    metric: lane.worker.metricThrottles({
      period: catalogPeriod('workerThrottles', Duration.minutes(5)),
      statistic: 'Sum',
    }),
    threshold: t.workerThrottles,
    comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
    condition: `at least ${t.workerThrottles} throttled worker invocation(s) in 5 minutes`,
  });
  alarms.add({
    kind: 'endToEndLatency',
    subject,
    metric: runlaneMetric(
      'endToEndLatency',
      alarms.environmentName,
      { Lane: lane.lane.name },
      { period: catalogPeriod('endToEndLatency', Duration.minutes(5)), statistic: cloudwatch.Stats.p(95) },
    ),
    threshold: t.endToEndLatencyP95Seconds * 1000,
    comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
    condition: `p95 of issuedAt → terminal state above ${t.endToEndLatencyP95Seconds} s for 15 minutes`,
  });
}
