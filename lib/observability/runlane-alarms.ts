import type * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import type * as sqs from 'aws-cdk-lib/aws-sqs';
import { Construct } from 'constructs';
import { namePrefixFor } from '../defaults.js';
import { throwIfProblems } from '../errors.js';
import type { CommandLane } from '../lanes/command-lane.js';
import type { AlarmSeverity } from './alarm-catalog.js';
import type { AlarmTopics } from './alarm-topics.js';
import { AlarmFactory, type RunlaneAlarm } from './alarms/alarm-factory.js';
import { addLaneAlarms } from './alarms/lane-alarms.js';
import { addLifecycleAlarms } from './alarms/lifecycle-alarms.js';
import { addRunnerAlarms } from './alarms/runner-alarms.js';
import { addSupervisorAlarms } from './alarms/supervisor-alarms.js';
import { type AlarmThresholds, resolveAlarmThresholds, thresholdProblems } from './alarms/thresholds.js';
import { addWorkerAlarms, type WorkerAlarmTargets } from './alarms/worker-alarms.js';

/** CloudWatch evaluates a metric-math alarm over at most 10 metrics. */
const MAX_METRICS_PER_MATH_ALARM = 10;

export interface RunlaneAlarmsProps {
  /** Runlane environment name: the `Environment` dimension of the Runlane metrics. */
  readonly environmentName: string;
  /** The lanes to watch. */
  readonly lanes: readonly CommandLane[];
  /** Topics the alarms notify, by severity (`ALARM_CATALOG`). */
  readonly topics: AlarmTopics;
  /** The runner event ingest's DLQ (`RunnerEventIngest.deadLetterQueue`), watched for refused or failed events. */
  readonly runnerEventDeadLetterQueue: sqs.IQueue;
  /**
   * Worker delegation (`WorkerDelegation`): its site task lanes and its events DLQ. Without it
   * (an environment with no worker sites) the worker alarms are not created.
   * @default no worker alarms
   */
  readonly workers?: WorkerAlarmTargets;
  /**
   * Thresholds, merged over the configuration schema's defaults.
   * @default DEFAULT_ALARM_SETTINGS
   */
  readonly thresholds?: Partial<AlarmThresholds>;
  /**
   * Prefix of the alarm names; must fall under the topics' `alarmNamePattern`.
   * @default `runlane-<environmentName>`
   */
  readonly namePrefix?: string;
}

/**
 * The alarms of one environment, built from `ALARM_CATALOG`: each notifies its
 * severity's topic on ALARM and on OK, and its description names the runbook
 * section to open. Missing data does not alarm (an idle lane emits nothing),
 * except for `SupervisorSilentHosts`, whose check emits every period: there,
 * no data means the check stopped, which alarms (`ALARM_CATALOG` `missingData`).
 *
 * Creates, per lane:
 * - `<prefix>-<lane>-dlq-messages` (critical): DLQ `ApproximateNumberOfMessagesVisible` Maximum > 0, 1 × 1 min;
 * - `<prefix>-<lane>-oldest-message-age` (critical): queue `ApproximateAgeOfOldestMessage`
 *   Maximum > `oldestMessageAgeSeconds`, 3 of 3 × 1 min;
 * - `<prefix>-<lane>-worker-errors` (critical): worker `Errors` Sum ≥ `workerErrors`, 1 × 5 min;
 * - `<prefix>-<lane>-worker-throttles` (warning): worker `Throttles` Sum ≥ `workerThrottles`, 1 × 5 min;
 * - `<prefix>-<lane>-latency-p95` (warning): `EndToEndLatency` p95 > `endToEndLatencyP95Seconds`, 3 of 3 × 5 min;
 *
 * and for the environment:
 * - `<prefix>-needsreview-backlog` (warning): the review queue's net growth,
 *   Σ lanes `NeedsReviewEntered` − Σ lanes `NeedsReviewResolved` (metric math,
 *   missing points as 0) ≥ `needsReviewGrowth` over one `needsReviewWindowMinutes` period.
 *   Runs leave NeedsReview only through a later successful attempt today, which
 *   the worker counts; there is no operator-resolve path yet to count;
 * - `<prefix>-RunnerStallFastBurn` (critical) and `<prefix>-RunnerStallSlowBurn`
 *   (warning): the stall rate of all hosts, `stalls / PERIOD(stalls)` over
 *   `RunnerStalls` [Environment] summed per window, above
 *   `runnerStalls.<burn>.ratePerSecond` in every window of
 *   `sustainMinutes` (period = `windowMinutes`, evaluation periods =
 *   datapoints to alarm = sustain ÷ window). Defaults (seed 002): 0.2/s over
 *   5 min for 10 min; 0.05/s over 1 h for 2 h;
 * - `<prefix>-runner-events-dlq-messages` (warning): the runner event ingest
 *   DLQ holds a message (a refused event, or one whose store failed after
 *   Lambda's retries), 1 × 1 min;
 * - `<prefix>-SupervisorDashboardDisconnected` (warning): `SupervisorDisconnectedReports`
 *   [Environment] Sum per `supervisor.dashboardDisconnected.windowMinutes` above
 *   `threshold` (default 0) in every window of `sustainMinutes` (defaults 5 and 15);
 * - `<prefix>-SupervisorChildrenQuarantined` (warning): `SupervisorQuarantinedChildren`
 *   [Environment] Maximum per window above `threshold` in every window of the
 *   sustain (defaults 0, 5 and 30 min);
 * - `<prefix>-SupervisorSilentHosts` (warning): `SupervisorSilentHosts`
 *   [Environment] Maximum per 5-minute check above 0 in every check of
 *   `supervisor.silentHosts.sustainMinutes` (default 15): some host has sent no
 *   report for more than `staleMinutes` (default 15), a planned shutdown excepted.
 *
 * What the supervisor alarms see, and what they cannot: they read the
 * environment totals, so they need no host names at synth time; "sustained"
 * means some host breached in every window (the dashboard's per-host SEARCH
 * says which). Health reports are counted at their own `ts`. A host whose
 * reporter cannot reach the bus spools its reports (they say `disconnected`)
 * and delivers them when the bus answers again: the alarm fires only for the
 * part of that backlog that still falls inside its evaluation range (a flapping
 * link, a reporter window shorter than the report interval, a short outage);
 * an outage longer than that is on the dashboard afterwards, not an alarm. A
 * host that sends nothing at all (supervisor or host down, link down with the
 * spool not yet replayed) has no data points and never breaches — missing data
 * is not breaching, as a dev environment without supervisors must stay quiet.
 * Spotting a silent host needs the latest report's age per host
 * (`listSupervisorHealth`), which these metric alarms cannot compute: the
 * scheduled check (`SupervisorSilentHostsCheck`) computes it every 5 minutes and
 * publishes the count, 0 included, which `SupervisorSilentHosts` reads. Its
 * missing data (the check not running) is breaching: a check that does not run
 * cannot vouch for the hosts. The check's invocations and errors are on the
 * dashboard's supervisor row.
 *
 * With `workers` (an environment with worker sites, seed 004), also:
 * - `<prefix>-WorkersOffline` (warning): `WorkersOffline` [Environment] Maximum per 5-minute
 *   sweep above `workers.offlineWorkers.threshold` (0) in every sweep of its `sustainMinutes` (15);
 * - `<prefix>-WorkerTasksStuckExecuting` (critical): `WorkerTasksStuckExecuting` above
 *   `workers.stuckTasks.threshold` (0) in every sweep of its `sustainMinutes` (10);
 *   both read the sweep, which publishes every run: missing data is breaching;
 * - per site, `<prefix>-worker-tasks-<site>-dlq-messages` (critical): the task DLQ's
 *   `ApproximateNumberOfMessagesVisible` Maximum > 0 in every minute of
 *   `workers.taskDlq.sustainMinutes` (1);
 * - per site, `<prefix>-worker-tasks-<site>-oldest-message-age` (critical, seed 004 "Queue not
 *   draining"): the task lane's `ApproximateAgeOfOldestMessage` Maximum above
 *   `workers.queueNotDraining.oldestMessageAgeSeconds` (900) in every minute of its
 *   `sustainMinutes` (5). A message stays in flight while its task runs, so the age includes
 *   running tasks: the threshold must exceed the longest task a site runs;
 * - `<prefix>-worker-events-dlq-messages` (warning): the worker event ingest DLQ holds a message.
 *
 * Each family lives in `alarms/` (lane, lifecycle, runner, supervisor, worker), built
 * through one `AlarmFactory`; the thresholds' defaults and checks are in `alarms/thresholds.ts`.
 *
 * @example
 * const alarms = new RunlaneAlarms(this, 'Alarms', { environmentName: 'prod', lanes, topics });
 * alarms.alarms.length; // 5 per lane + 7, and with workers 3 + 2 per site
 */
export class RunlaneAlarms extends Construct {
  public readonly alarms: readonly RunlaneAlarm[];
  public readonly thresholds: Readonly<AlarmThresholds>;

  public constructor(scope: Construct, id: string, props: RunlaneAlarmsProps) {
    super(scope, id);
    const namePrefix = props.namePrefix ?? namePrefixFor(props.environmentName);
    this.thresholds = resolveAlarmThresholds(props.thresholds);
    checkProps(props, namePrefix, this.thresholds);

    // The order is the alarms' order (and the dashboard status widget's): lanes, then the environment.
    const factory = new AlarmFactory({
      scope: this,
      environmentName: props.environmentName,
      namePrefix,
      topics: props.topics,
    });
    addLaneAlarms(factory, props.lanes, this.thresholds);
    addLifecycleAlarms(factory, props.lanes, this.thresholds);
    addRunnerAlarms(factory, props.runnerEventDeadLetterQueue, this.thresholds);
    addSupervisorAlarms(factory, this.thresholds);
    if (props.workers) addWorkerAlarms(factory, props.workers, this.thresholds);
    this.alarms = factory.alarms;
  }

  /** The alarms of one severity. */
  public bySeverity(severity: AlarmSeverity): cloudwatch.Alarm[] {
    return this.alarms.filter((a) => a.severity === severity).map((a) => a.alarm);
  }
}

/** The props' problems (lanes, name prefix, thresholds, worker sites), thrown together. */
function checkProps(props: RunlaneAlarmsProps, prefix: string, t: Readonly<AlarmThresholds>): void {
  const problems: string[] = [];
  if (props.lanes.length === 0) problems.push('lanes: at least one lane is required');
  if (props.lanes.length * 2 > MAX_METRICS_PER_MATH_ALARM) {
    problems.push(
      `lanes: the NeedsReview backlog alarm sums 2 metrics per lane and CloudWatch allows ${MAX_METRICS_PER_MATH_ALARM} per alarm; got ${props.lanes.length} lanes`,
    );
  }
  const allowed = props.topics.alarmNamePattern.replace(/\*$/, '');
  if (!`${prefix}-`.startsWith(allowed)) {
    problems.push(
      `namePrefix: alarms named "${prefix}-…" could not publish to topics that allow "${props.topics.alarmNamePattern}"`,
    );
  }
  problems.push(...thresholdProblems(t));
  if (props.workers) {
    const sites = props.workers.siteLanes.map((lane) => lane.site);
    if (sites.length === 0) problems.push('workers.siteLanes: at least one site when workers are given');
    if (new Set(sites).size !== sites.length) problems.push('workers.siteLanes: a site is repeated');
  }
  throwIfProblems('RunlaneAlarms', problems);
}
