import { Duration } from 'aws-cdk-lib';
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import type * as sqs from 'aws-cdk-lib/aws-sqs';
import { WORKER_SWEEP_INTERVAL_MINUTES } from '#core/workers/sweep.js';
import { runlaneMetric } from '../runlane-metric.js';
import {
  type AlarmFactory,
  type AlarmSubject,
  capitalize,
  catalogPeriod,
  everyPeriod,
} from './alarm-factory.js';
import type { AlarmThresholds } from './thresholds.js';

/** One worker site's task lane. */
export interface WorkerSiteLane {
  readonly site: string;
  readonly queue: sqs.IQueue;
  readonly deadLetterQueue: sqs.IQueue;
}

/** What the worker alarms watch (`WorkerDelegation` has these). */
export interface WorkerAlarmTargets {
  readonly siteLanes: readonly WorkerSiteLane[];
  /** The worker event ingest's DLQ. */
  readonly deadLetterQueue: sqs.IQueue;
}

/**
 * The worker alarms: the sweep's offline workers and stuck tasks (environment
 * totals, missing data breaching), each site's task DLQ and oldest task
 * message, then the worker event ingest's DLQ.
 */
export function addWorkerAlarms(
  alarms: AlarmFactory,
  workers: WorkerAlarmTargets,
  t: Readonly<AlarmThresholds>,
): void {
  addSweepAlarms(alarms, t);
  for (const lane of workers.siteLanes) addSiteAlarms(alarms, lane, t);
  alarms.add({
    kind: 'workerEventDeadLetters',
    metric: workers.deadLetterQueue.metricApproximateNumberOfMessagesVisible({
      period: catalogPeriod('workerEventDeadLetters', Duration.minutes(1)),
      statistic: cloudwatch.Stats.MAXIMUM,
    }),
    threshold: 0,
    comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
    condition:
      'the worker event ingest DLQ holds at least one event (refused, e.g. an unknown payload_type, or not stored after retries)',
  });
}

/** The sweep publishes every run, 0 included: its alarms read every sweep of the sustain. */
function addSweepAlarms(alarms: AlarmFactory, t: Readonly<AlarmThresholds>): void {
  const w = t.workers;
  for (const [kind, settings, metric, what] of [
    [
      'workersOffline',
      w.offlineWorkers,
      'workersOffline',
      'workers whose last heartbeat is older than workers.heartbeatStaleMultiple × their interval (the sweep)',
    ],
    [
      'workerTasksStuckExecuting',
      w.stuckTasks,
      'workerTasksStuckExecuting',
      'delegated tasks executing for longer than workers.stuckTaskMinutes (the sweep)',
    ],
  ] as const) {
    alarms.add({
      kind,
      metric: runlaneMetric(
        metric,
        alarms.environmentName,
        {},
        { period: catalogPeriod(kind, Duration.minutes(WORKER_SWEEP_INTERVAL_MINUTES)) },
      ),
      threshold: settings.threshold,
      comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
      condition: `${what} above ${settings.threshold} in every ${WORKER_SWEEP_INTERVAL_MINUTES}-min sweep for ${settings.sustainMinutes} min; the sweep's log names them, GET /api/workers/health and /metrics list them. No data (the sweep did not run) counts as breaching`,
      evaluation: everyPeriod(settings.sustainMinutes / WORKER_SWEEP_INTERVAL_MINUTES),
    });
  }
}

function addSiteAlarms(alarms: AlarmFactory, lane: WorkerSiteLane, t: Readonly<AlarmThresholds>): void {
  const subject = siteSubject(lane.site);
  const dlqMinutes = t.workers.taskDlq.sustainMinutes;
  alarms.add({
    kind: 'workerTaskDeadLetters',
    subject,
    metric: lane.deadLetterQueue.metricApproximateNumberOfMessagesVisible({
      period: catalogPeriod('workerTaskDeadLetters', Duration.minutes(1)),
      statistic: cloudwatch.Stats.MAXIMUM,
    }),
    threshold: 0,
    comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
    condition: `the site's task DLQ holds at least one task message (received workers.maxReceiveCount times, never deleted) for ${dlqMinutes} min`,
    evaluation: everyPeriod(dlqMinutes),
  });
  const draining = t.workers.queueNotDraining;
  alarms.add({
    kind: 'workerTaskQueueAge',
    subject,
    metric: lane.queue.metricApproximateAgeOfOldestMessage({
      period: catalogPeriod('workerTaskQueueAge', Duration.minutes(1)),
      statistic: cloudwatch.Stats.MAXIMUM,
    }),
    threshold: draining.oldestMessageAgeSeconds,
    comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
    condition: `oldest task message (waiting or in flight) older than ${draining.oldestMessageAgeSeconds} s for ${draining.sustainMinutes} min: no worker of the site claims, or a task runs that long`,
    evaluation: everyPeriod(draining.sustainMinutes),
  });
}

/** A site's subject: construct id `WorkerSite<CamelSite>`, name `worker-tasks-<site>`. */
function siteSubject(site: string): AlarmSubject {
  return {
    id: `WorkerSite${capitalize(site.replace(/-([a-z0-9])/g, (_, c: string) => c.toUpperCase()))}`,
    name: `worker-tasks-${site}`,
    label: `worker site ${site}`,
    site,
  };
}
