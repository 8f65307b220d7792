import { Duration } from 'aws-cdk-lib';
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import * as actions from 'aws-cdk-lib/aws-cloudwatch-actions';
import type * as sqs from 'aws-cdk-lib/aws-sqs';
import { Construct } from 'constructs';
import { MAX_STALE_MINUTES, SILENT_HOSTS_CHECK_INTERVAL_MINUTES } from '#core/supervisor/silent-hosts.js';
import { WORKER_SWEEP_INTERVAL_MINUTES } from '#core/workers/sweep.js';
import {
  type AlarmSettings,
  type BurnAlarmSettings,
  DEFAULT_ALARM_SETTINGS,
  type SilentHostsAlarmSettings,
  type SustainedAlarmSettings,
  type SweepAlarmSettings,
  type WorkerAlarmSettings,
} from '../config/environment-config.js';
import { namePrefixFor } from '../defaults.js';
import { throwIfProblems } from '../errors.js';
import type { CommandLane } from '../lanes/command-lane.js';
import {
  ALARM_CATALOG,
  type AlarmKind,
  type AlarmKindName,
  type AlarmSeverity,
  runbookLink,
} from './alarm-catalog.js';
import type { AlarmTopics } from './alarm-topics.js';
import { runlaneMetric } from './runlane-metric.js';

/** The thresholds of an environment's alarms (the `alarms` config without its subscriptions). */
export type AlarmThresholds = Omit<AlarmSettings, 'criticalEmails' | 'warningEmails'>;

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

/** What the worker alarms watch (`WorkerDelegation` has these). */
export interface WorkerAlarmTargets {
  readonly siteLanes: readonly {
    readonly site: string;
    readonly queue: sqs.IQueue;
    readonly deadLetterQueue: sqs.IQueue;
  }[];
  /** The worker event ingest's DLQ. */
  readonly deadLetterQueue: sqs.IQueue;
}

/** One alarm with what it watches. */
export interface RunlaneAlarm {
  readonly kind: AlarmKindName;
  readonly severity: AlarmSeverity;
  /** The lane it watches; undefined for environment-wide and site alarms. */
  readonly lane?: string;
  /** The worker site whose task lane it watches; undefined for the others. */
  readonly site?: string;
  readonly alarm: cloudwatch.Alarm;
}

/** Whom one alarm is about: a lane, a worker site, or the environment (undefined). */
interface AlarmSubject {
  /** Construct id prefix, e.g. the lane id. */
  readonly id: string;
  /** Alarm name infix after the prefix, e.g. the lane name or `worker-tasks-<site>`. */
  readonly name: string;
  /** How the description names it. */
  readonly label: string;
  readonly lane?: string;
  readonly site?: string;
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
 * @example
 * const alarms = new RunlaneAlarms(this, 'Alarms', { environmentName: 'prod', lanes, topics });
 * alarms.alarms.length; // 5 per lane + 7, and with workers 3 + 2 per site
 */
export class RunlaneAlarms extends Construct {
  public readonly alarms: readonly RunlaneAlarm[];
  public readonly thresholds: Readonly<AlarmThresholds>;

  public constructor(scope: Construct, id: string, props: RunlaneAlarmsProps) {
    super(scope, id);
    const prefix = props.namePrefix ?? namePrefixFor(props.environmentName);
    const { criticalEmails: _c, warningEmails: _w, ...defaults } = DEFAULT_ALARM_SETTINGS;
    this.thresholds = { ...defaults, ...props.thresholds };
    checkProps(props, prefix, this.thresholds);

    const env = props.environmentName;
    const t = this.thresholds;
    const alarms: RunlaneAlarm[] = [];
    const add = (
      kind: AlarmKindName,
      target: CommandLane | AlarmSubject | undefined,
      metric: cloudwatch.IMetric,
      threshold: number,
      comparisonOperator: cloudwatch.ComparisonOperator,
      condition: string,
      evaluation?: { readonly evaluationPeriods: number; readonly datapointsToAlarm: number },
    ): void => {
      const entry: AlarmKind = ALARM_CATALOG[kind];
      const evaluationPeriods = entry.evaluationPeriods ?? evaluation?.evaluationPeriods;
      const datapointsToAlarm = entry.datapointsToAlarm ?? evaluation?.datapointsToAlarm;
      if (evaluationPeriods === undefined || datapointsToAlarm === undefined) {
        throw new Error(`alarm kind ${kind} takes its evaluation from the configuration; none given`);
      }
      const subject: AlarmSubject | undefined =
        target === undefined
          ? undefined
          : 'lane' in target && typeof target.lane === 'object'
            ? {
                id: target.lane.id,
                name: target.lane.name,
                label: `lane ${target.lane.name}`,
                lane: target.lane.name,
              }
            : (target as AlarmSubject);
      const alarm = new cloudwatch.Alarm(
        this,
        subject ? `${subject.id}${capitalize(kind)}` : capitalize(kind),
        {
          alarmName: subject ? `${prefix}-${subject.name}-${entry.slug}` : `${prefix}-${entry.slug}`,
          alarmDescription: `${entry.title} (${env}, ${subject?.label ?? 'all lanes'}): ${condition}. Severity ${entry.severity}. Runbook: ${runbookLink(kind)}`,
          metric,
          threshold,
          comparisonOperator,
          evaluationPeriods,
          datapointsToAlarm,
          treatMissingData:
            (entry.missingData ?? 'notBreaching') === 'breaching'
              ? cloudwatch.TreatMissingData.BREACHING
              : cloudwatch.TreatMissingData.NOT_BREACHING,
        },
      );
      const action = new actions.SnsAction(props.topics.topicFor(entry.severity));
      alarm.addAlarmAction(action);
      alarm.addOkAction(action);
      alarms.push({
        kind,
        severity: entry.severity,
        ...(subject?.lane !== undefined ? { lane: subject.lane } : {}),
        ...(subject?.site !== undefined ? { site: subject.site } : {}),
        alarm,
      });
    };
    const period = (kind: AlarmKindName, fallback: Duration): Duration => {
      const seconds = ALARM_CATALOG[kind].periodSeconds;
      return seconds === null ? fallback : Duration.seconds(seconds);
    };

    for (const lane of props.lanes) {
      add(
        'deadLetterQueueMessages',
        lane,
        lane.deadLetterQueue.metricApproximateNumberOfMessagesVisible({
          period: period('deadLetterQueueMessages', Duration.minutes(1)),
          statistic: cloudwatch.Stats.MAXIMUM,
        }),
        0,
        cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
        'the lane DLQ holds at least one message (ApproximateNumberOfMessagesVisible > 0)',
      );
      add(
        'oldestMessageAge',
        lane,
        lane.queue.metricApproximateAgeOfOldestMessage({
          period: period('oldestMessageAge', Duration.minutes(1)),
          statistic: cloudwatch.Stats.MAXIMUM,
        }),
        t.oldestMessageAgeSeconds,
        cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
        `oldest message older than ${t.oldestMessageAgeSeconds} s for 3 minutes`,
      );
      add(
        'workerErrors',
        lane,
        lane.worker.metricErrors({ period: period('workerErrors', Duration.minutes(5)), statistic: 'Sum' }),
        t.workerErrors,
        cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
        `at least ${t.workerErrors} worker invocation error(s) (crash, timeout) in 5 minutes`,
      );
      add(
        'workerThrottles',
        lane,
        lane.worker.metricThrottles({
          period: period('workerThrottles', Duration.minutes(5)),
          statistic: 'Sum',
        }),
        t.workerThrottles,
        cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
        `at least ${t.workerThrottles} throttled worker invocation(s) in 5 minutes`,
      );
      add(
        'endToEndLatency',
        lane,
        runlaneMetric(
          'endToEndLatency',
          env,
          { Lane: lane.lane.name },
          { period: period('endToEndLatency', Duration.minutes(5)), statistic: cloudwatch.Stats.p(95) },
        ),
        t.endToEndLatencyP95Seconds * 1000,
        cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
        `p95 of issuedAt → terminal state above ${t.endToEndLatencyP95Seconds} s for 15 minutes`,
      );
    }

    add(
      'needsReviewBacklog',
      undefined,
      needsReviewGrowth(env, props.lanes, Duration.minutes(t.needsReviewWindowMinutes)),
      t.needsReviewGrowth,
      cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
      `runs entering NeedsReview minus runs resolved by a later attempt, all lanes, at least ${t.needsReviewGrowth} in ${t.needsReviewWindowMinutes} minutes`,
    );

    for (const [kind, burn] of [
      ['runnerStallFastBurn', t.runnerStalls.fastBurn],
      ['runnerStallSlowBurn', t.runnerStalls.slowBurn],
    ] as const) {
      const windows = burn.sustainMinutes / burn.windowMinutes;
      add(
        kind,
        undefined,
        runnerStallRate(env, burn.windowMinutes),
        burn.ratePerSecond,
        cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
        `runner stalls of all hosts above ${burn.ratePerSecond}/s over ${burn.windowMinutes} min, sustained ${burn.sustainMinutes} min`,
        { evaluationPeriods: windows, datapointsToAlarm: windows },
      );
    }
    add(
      'runnerEventDeadLetters',
      undefined,
      props.runnerEventDeadLetterQueue.metricApproximateNumberOfMessagesVisible({
        period: period('runnerEventDeadLetters', Duration.minutes(1)),
        statistic: cloudwatch.Stats.MAXIMUM,
      }),
      0,
      cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
      'the runner event ingest DLQ holds at least one event (refused, or not stored after retries)',
    );
    for (const [kind, settings, metric, what] of [
      [
        'supervisorDashboardDisconnected',
        t.supervisor.dashboardDisconnected,
        'supervisorDisconnectedReports',
        'health reports with dashboard_link "disconnected" (all hosts, Sum)',
      ],
      [
        'supervisorChildrenQuarantined',
        t.supervisor.childrenQuarantined,
        'supervisorQuarantinedChildren',
        'quarantined children of a supervisor (any host, Maximum)',
      ],
    ] as const) {
      const windows = settings.sustainMinutes / settings.windowMinutes;
      add(
        kind,
        undefined,
        runlaneMetric(metric, env, {}, { period: Duration.minutes(settings.windowMinutes) }),
        settings.threshold,
        cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
        `${what} above ${settings.threshold} in every ${settings.windowMinutes}-min window for ${settings.sustainMinutes} min`,
        { evaluationPeriods: windows, datapointsToAlarm: windows },
      );
    }
    const silent = t.supervisor.silentHosts;
    const checks = silent.sustainMinutes / SILENT_HOSTS_CHECK_INTERVAL_MINUTES;
    add(
      'supervisorSilentHosts',
      undefined,
      runlaneMetric(
        'supervisorSilentHosts',
        env,
        {},
        { period: period('supervisorSilentHosts', Duration.minutes(SILENT_HOSTS_CHECK_INTERVAL_MINUTES)) },
      ),
      0,
      cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
      `hosts with no SupervisorHealth report for more than ${silent.staleMinutes} min (the scheduled check, a planned shutdown excepted) above 0 in every ${SILENT_HOSTS_CHECK_INTERVAL_MINUTES}-min check for ${silent.sustainMinutes} min; the check's log names them, \`runlane supervisors health\` lists them; if the supervisor is not running, P1-001. No data (the check did not run) counts as breaching`,
      { evaluationPeriods: checks, datapointsToAlarm: checks },
    );

    if (props.workers) {
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
        const sweeps = settings.sustainMinutes / WORKER_SWEEP_INTERVAL_MINUTES;
        add(
          kind,
          undefined,
          runlaneMetric(
            metric,
            env,
            {},
            { period: period(kind, Duration.minutes(WORKER_SWEEP_INTERVAL_MINUTES)) },
          ),
          settings.threshold,
          cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
          `${what} above ${settings.threshold} in every ${WORKER_SWEEP_INTERVAL_MINUTES}-min sweep for ${settings.sustainMinutes} min; the sweep's log names them, GET /api/workers/health and /metrics list them. No data (the sweep did not run) counts as breaching`,
          { evaluationPeriods: sweeps, datapointsToAlarm: sweeps },
        );
      }
      for (const lane of props.workers.siteLanes) {
        const site: AlarmSubject = {
          id: `WorkerSite${capitalize(lane.site.replace(/-([a-z0-9])/g, (_, c: string) => c.toUpperCase()))}`,
          name: `worker-tasks-${lane.site}`,
          label: `worker site ${lane.site}`,
          site: lane.site,
        };
        const dlqMinutes = w.taskDlq.sustainMinutes;
        add(
          'workerTaskDeadLetters',
          site,
          lane.deadLetterQueue.metricApproximateNumberOfMessagesVisible({
            period: period('workerTaskDeadLetters', Duration.minutes(1)),
            statistic: cloudwatch.Stats.MAXIMUM,
          }),
          0,
          cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
          `the site's task DLQ holds at least one task message (received workers.maxReceiveCount times, never deleted) for ${dlqMinutes} min`,
          { evaluationPeriods: dlqMinutes, datapointsToAlarm: dlqMinutes },
        );
        const draining = w.queueNotDraining;
        add(
          'workerTaskQueueAge',
          site,
          lane.queue.metricApproximateAgeOfOldestMessage({
            period: period('workerTaskQueueAge', Duration.minutes(1)),
            statistic: cloudwatch.Stats.MAXIMUM,
          }),
          draining.oldestMessageAgeSeconds,
          cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
          `oldest task message (waiting or in flight) older than ${draining.oldestMessageAgeSeconds} s for ${draining.sustainMinutes} min: no worker of the site claims, or a task runs that long`,
          { evaluationPeriods: draining.sustainMinutes, datapointsToAlarm: draining.sustainMinutes },
        );
      }
      add(
        'workerEventDeadLetters',
        undefined,
        props.workers.deadLetterQueue.metricApproximateNumberOfMessagesVisible({
          period: period('workerEventDeadLetters', Duration.minutes(1)),
          statistic: cloudwatch.Stats.MAXIMUM,
        }),
        0,
        cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
        'the worker event ingest DLQ holds at least one event (refused, e.g. an unknown payload_type, or not stored after retries)',
      );
    }
    this.alarms = alarms;
  }

  /** The alarms of one severity. */
  public bySeverity(severity: AlarmSeverity): cloudwatch.Alarm[] {
    return this.alarms.filter((a) => a.severity === severity).map((a) => a.alarm);
  }
}

/**
 * Net growth of the review queue over `period`: Σ `NeedsReviewEntered` − Σ
 * `NeedsReviewResolved` across the lanes, a lane without data counting 0.
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

function capitalize(value: string): string {
  return value.charAt(0).toUpperCase() + value.slice(1);
}

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
  type NumericThreshold = {
    [K in keyof AlarmThresholds]: AlarmThresholds[K] extends number ? K : never;
  }[keyof AlarmThresholds];
  const integer = (name: NumericThreshold, min: number, max: number) => {
    const value = t[name];
    if (!(Number.isInteger(value) && value >= min && value <= max)) {
      problems.push(`thresholds.${name}: must be an integer from ${min} to ${max}, got ${value}`);
    }
  };
  integer('oldestMessageAgeSeconds', 60, 1_209_600);
  integer('workerErrors', 1, Number.MAX_SAFE_INTEGER);
  integer('workerThrottles', 1, Number.MAX_SAFE_INTEGER);
  integer('needsReviewGrowth', 1, Number.MAX_SAFE_INTEGER);
  integer('needsReviewWindowMinutes', 5, 1440);
  if (!(t.endToEndLatencyP95Seconds > 0 && t.endToEndLatencyP95Seconds <= 86_400)) {
    problems.push(
      `thresholds.endToEndLatencyP95Seconds: must be above 0 and at most 86400, got ${t.endToEndLatencyP95Seconds}`,
    );
  }
  for (const [name, burn] of Object.entries(t.runnerStalls) as [string, BurnAlarmSettings][]) {
    problems.push(...burnProblems(`thresholds.runnerStalls.${name}`, burn));
  }
  const { silentHosts, ...sustainedAlarms } = t.supervisor;
  for (const [name, sustained] of Object.entries(sustainedAlarms) as [string, SustainedAlarmSettings][]) {
    problems.push(...sustainedProblems(`thresholds.supervisor.${name}`, sustained));
  }
  problems.push(...silentHostsProblems('thresholds.supervisor.silentHosts', silentHosts));
  problems.push(...workerAlarmProblems('thresholds.workers', t.workers));
  if (props.workers) {
    const sites = props.workers.siteLanes.map((lane) => lane.site);
    if (sites.length === 0) problems.push('workers.siteLanes: at least one site when workers are given');
    if (new Set(sites).size !== sites.length) problems.push('workers.siteLanes: a site is repeated');
  }
  throwIfProblems('RunlaneAlarms', problems);
}

function workerAlarmProblems(path: string, alarms: WorkerAlarmSettings): string[] {
  const problems: string[] = [];
  const every = WORKER_SWEEP_INTERVAL_MINUTES;
  for (const [name, alarm] of [
    ['offlineWorkers', alarms.offlineWorkers],
    ['stuckTasks', alarms.stuckTasks],
  ] as const satisfies readonly (readonly [string, SweepAlarmSettings])[]) {
    if (!(Number.isInteger(alarm.threshold) && alarm.threshold >= 0)) {
      problems.push(`${path}.${name}.threshold: must be an integer of at least 0, got ${alarm.threshold}`);
    }
    if (
      !(
        Number.isInteger(alarm.sustainMinutes) &&
        alarm.sustainMinutes >= every &&
        alarm.sustainMinutes <= 1440 &&
        alarm.sustainMinutes % every === 0
      )
    ) {
      problems.push(
        `${path}.${name}.sustainMinutes: must be a multiple of the sweep interval (${every}) from ${every} to 1440, got ${alarm.sustainMinutes}`,
      );
    }
  }
  for (const [name, minutes] of [
    ['taskDlq', alarms.taskDlq.sustainMinutes],
    ['queueNotDraining', alarms.queueNotDraining.sustainMinutes],
  ] as const) {
    if (!(Number.isInteger(minutes) && minutes >= 1 && minutes <= 1440)) {
      problems.push(`${path}.${name}.sustainMinutes: must be an integer from 1 to 1440, got ${minutes}`);
    }
  }
  const age = alarms.queueNotDraining.oldestMessageAgeSeconds;
  if (!(Number.isInteger(age) && age >= 60 && age <= 1_209_600)) {
    problems.push(
      `${path}.queueNotDraining.oldestMessageAgeSeconds: must be an integer from 60 to 1209600, got ${age}`,
    );
  }
  return problems;
}

function silentHostsProblems(path: string, alarm: SilentHostsAlarmSettings): string[] {
  const problems: string[] = [];
  if (
    !(
      Number.isInteger(alarm.staleMinutes) &&
      alarm.staleMinutes >= 1 &&
      alarm.staleMinutes <= MAX_STALE_MINUTES
    )
  ) {
    problems.push(
      `${path}.staleMinutes: must be an integer from 1 to ${MAX_STALE_MINUTES}, got ${alarm.staleMinutes}`,
    );
  }
  const every = SILENT_HOSTS_CHECK_INTERVAL_MINUTES;
  if (
    !(
      Number.isInteger(alarm.sustainMinutes) &&
      alarm.sustainMinutes >= every &&
      alarm.sustainMinutes <= 1440 &&
      alarm.sustainMinutes % every === 0
    )
  ) {
    problems.push(
      `${path}.sustainMinutes: must be a multiple of the check interval (${every}) from ${every} to 1440, got ${alarm.sustainMinutes}`,
    );
  }
  return problems;
}

function sustainedProblems(path: string, alarm: SustainedAlarmSettings): string[] {
  const problems: string[] = [];
  if (!(Number.isInteger(alarm.threshold) && alarm.threshold >= 0)) {
    problems.push(`${path}.threshold: must be an integer of at least 0, got ${alarm.threshold}`);
  }
  return [...problems, ...windowProblems(path, alarm)];
}

function burnProblems(path: string, burn: BurnAlarmSettings): string[] {
  const problems: string[] = [];
  if (!(burn.ratePerSecond > 0))
    problems.push(`${path}.ratePerSecond: must be above 0, got ${burn.ratePerSecond}`);
  return [...problems, ...windowProblems(path, burn)];
}

/** A window (the alarm period) and a sustain of whole windows, both 1–1440 minutes. */
function windowProblems(path: string, alarm: { windowMinutes: number; sustainMinutes: number }): string[] {
  const problems: string[] = [];
  for (const field of ['windowMinutes', 'sustainMinutes'] as const) {
    const value = alarm[field];
    if (!(Number.isInteger(value) && value >= 1 && value <= 1440)) {
      problems.push(`${path}.${field}: must be an integer from 1 to 1440, got ${value}`);
    }
  }
  if (alarm.windowMinutes > 0 && alarm.sustainMinutes % alarm.windowMinutes !== 0) {
    problems.push(
      `${path}.sustainMinutes: must be a multiple of windowMinutes (${alarm.windowMinutes}), got ${alarm.sustainMinutes}`,
    );
  }
  return problems;
}
