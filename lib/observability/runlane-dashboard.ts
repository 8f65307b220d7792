import { Duration } from 'aws-cdk-lib';
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import type * as lambda from 'aws-cdk-lib/aws-lambda';
import type * as sqs from 'aws-cdk-lib/aws-sqs';
import { Construct } from 'constructs';
import { STALL_ROOT_CAUSES } from '#contracts/agent-events.js';
import { DEAD_LETTER_REASONS, isApiLane, METRIC_DIMENSIONS } from '#contracts/metrics.js';
import { SILENT_HOSTS_CHECK_INTERVAL_MINUTES } from '#core/supervisor/silent-hosts.js';
import { WORKER_SWEEP_INTERVAL_MINUTES } from '#core/workers/sweep.js';
import type { CommandApi } from '../api/command-api.js';
import { namePrefixFor } from '../defaults.js';
import { throwIfProblems } from '../errors.js';
import type { CommandLane } from '../lanes/command-lane.js';
import { ALARM_CATALOG, type AlarmKindName, runbookLink, WORKER_ALARM_KINDS } from './alarm-catalog.js';
import { needsReviewGrowth } from './alarms/lifecycle-alarms.js';
import { runnerStallRate } from './alarms/runner-alarms.js';
import type { RunlaneAlarms } from './runlane-alarms.js';
import { runlaneMetric, runlaneSearch } from './runlane-metric.js';

export interface RunlaneDashboardProps {
  /** Runlane environment name: the `Environment` dimension of the Runlane metrics. */
  readonly environmentName: string;
  /** One row per lane, in this order. */
  readonly lanes: readonly CommandLane[];
  /** The API whose HTTP API metrics make the API row. */
  readonly api: CommandApi;
  /** The environment's alarms: the status widget and the thresholds drawn on the graphs. */
  readonly alarms: RunlaneAlarms;
  /** The runner event ingest, whose DLQ the runner rows show. */
  readonly runnerEvents: { readonly deadLetterQueue: sqs.IQueue };
  /** The supervisor silent-host check: its threshold, and its function's invocations and errors. */
  readonly silentHostsCheck: { readonly function: lambda.IFunction; readonly staleMinutes: number };
  /**
   * Worker delegation (`WorkerDelegation`): the site task lanes, the events DLQ, the ingest and
   * sweep functions and the thresholds. Without it (no worker sites) there are no worker rows.
   * @default no worker rows
   */
  readonly workers?: WorkerDashboardSource;
  /**
   * Dashboard name.
   * @default `runlane-<environmentName>`
   */
  readonly dashboardName?: string;
  /**
   * Time range shown when the dashboard opens.
   * @default Duration.hours(3)
   */
  readonly defaultInterval?: Duration;
}

/** What the worker rows show (`WorkerDelegation` has all of it). */
export interface WorkerDashboardSource {
  readonly siteLanes: readonly {
    readonly site: string;
    readonly queue: sqs.IQueue;
    readonly deadLetterQueue: sqs.IQueue;
  }[];
  readonly deadLetterQueue: sqs.IQueue;
  readonly ingest: lambda.IFunction;
  readonly sweep: lambda.IFunction;
  readonly settings: { readonly heartbeatStaleMultiple: number; readonly stuckTaskMinutes: number };
}

/** Widget height of the metric rows, in grid units. */
const ROW_HEIGHT = 6;
/** Dashboards are 24 grid units wide. */
const FULL_WIDTH = 24;

/**
 * The environment's CloudWatch dashboard. Every Runlane metric on it is built
 * with `runlaneMetric` from `contracts/metrics.ts`, so it shows exactly
 * what the handlers emit.
 *
 * Creates a dashboard `<prefix>` with, top to bottom:
 * - a header with the alarm → runbook table and an alarm status widget with every alarm;
 * - one row per lane: depth (visible, in flight), oldest message age (with the
 *   alarm threshold), DLQ depth, throughput (sent to the queue, accepted by the
 *   API for API lanes, completed), outcomes (completed, NeedsReview, retried,
 *   duplicates, dead-lettered by reason), latency (end-to-end p50/p95 with the
 *   threshold, handler duration p95);
 * - a lifecycle row: NeedsReview entered/resolved per lane, the backlog alarm's
 *   net-growth expression, dead letters by reason, telemetry publish failures;
 * - an API row: requests, 4xx, 5xx, latency (HTTP API metrics);
 * - a runner stall row: the stall rate of all hosts over the fast-burn window
 *   (the alarm's own expression, with its threshold), and the rate by root
 *   cause (one `SUM(SEARCH(…))` per root cause), by host and by command type
 *   (× root cause), SEARCH over the `RunnerStalls` dimension sets;
 * - a runner alarm row: the fast and slow burn alarms (graph against
 *   threshold) and the runner event DLQ depth;
 * - a supervisor row (`runlane-agent supervise`): health reports by host (the
 *   heartbeat: a host that stops reporting drops out of it), silent hosts (the
 *   scheduled check's `SupervisorSilentHosts`, its alarm threshold, and the
 *   check function's invocations and errors), disconnected reports and
 *   quarantined children (the environment total the alarms read, with their
 *   thresholds, and by host), child exits by TaskExit kind and by host, child
 *   quarantines by host — SEARCH over the supervisor metrics' dimension sets;
 * - with `workers` (seed 004), two worker rows: task lane depth per site (visible, in flight),
 *   oldest task age per site (with the alarm threshold), task DLQ depth per site, and the
 *   status of the worker alarms; then workers online / offline (the sweep, with its runs and
 *   errors), tasks stuck executing (with the threshold), the offline backlog the workers report,
 *   and the worker events DLQ with the ingest's invocations and errors.
 *
 * @example
 * new RunlaneDashboard(this, 'Dashboard', { environmentName: 'prod', lanes, api, alarms });
 */
export class RunlaneDashboard extends Construct {
  public readonly dashboard: cloudwatch.Dashboard;

  public constructor(scope: Construct, id: string, props: RunlaneDashboardProps) {
    super(scope, id);
    const dashboardName = props.dashboardName ?? namePrefixFor(props.environmentName);
    const defaultInterval = props.defaultInterval ?? Duration.hours(3);
    checkProps(props, dashboardName, defaultInterval);

    this.dashboard = new cloudwatch.Dashboard(this, 'Dashboard', {
      dashboardName,
      defaultInterval,
      widgets: [
        headerRow(props),
        ...props.lanes.map((lane) => laneRow(props, lane)),
        lifecycleRow(props),
        apiRow(props.api),
        runnerStallRow(props),
        runnerAlarmRow(props),
        supervisorRow(props),
        ...(props.workers ? workerRows(props, props.workers) : []),
      ],
    });
  }
}

function headerRow(props: RunlaneDashboardProps): cloudwatch.IWidget[] {
  // An environment without worker sites has no worker alarms: leave them out of its table.
  const kinds = (Object.keys(ALARM_CATALOG) as AlarmKindName[]).filter(
    (kind) => props.workers !== undefined || !(WORKER_ALARM_KINDS as readonly AlarmKindName[]).includes(kind),
  );
  const rows = kinds.map(
    (kind) => `| ${ALARM_CATALOG[kind].title} | ${ALARM_CATALOG[kind].severity} | \`${runbookLink(kind)}\` |`,
  );
  return [
    new cloudwatch.TextWidget({
      markdown: [
        `# Runlane ${props.environmentName}`,
        '| alarm | severity | runbook |',
        '|---|---|---|',
        ...rows,
      ].join('\n'),
      width: 8,
      height: ROW_HEIGHT,
    }),
    new cloudwatch.AlarmStatusWidget({
      title: `Alarms (${props.alarms.alarms.length})`,
      alarms: props.alarms.alarms.map((entry) => entry.alarm),
      sortBy: cloudwatch.AlarmStatusWidgetSortBy.STATE_UPDATED_TIMESTAMP,
      width: FULL_WIDTH - 8,
      height: ROW_HEIGHT,
    }),
  ];
}

function laneRow(props: RunlaneDashboardProps, lane: CommandLane): cloudwatch.IWidget[] {
  const env = props.environmentName;
  const name = lane.lane.name;
  const dims = { Lane: name };
  const minute = { period: Duration.minutes(1), statistic: cloudwatch.Stats.MAXIMUM };
  const fiveMinutes = Duration.minutes(5);
  const width = FULL_WIDTH / 6;
  const t = props.alarms.thresholds;
  return [
    new cloudwatch.GraphWidget({
      title: `${name}: depth`,
      left: [
        lane.queue.metricApproximateNumberOfMessagesVisible({ ...minute, label: 'visible' }),
        lane.queue.metricApproximateNumberOfMessagesNotVisible({ ...minute, label: 'in flight' }),
      ],
      width,
      height: ROW_HEIGHT,
    }),
    new cloudwatch.GraphWidget({
      title: `${name}: oldest message age (s)`,
      left: [lane.queue.metricApproximateAgeOfOldestMessage({ ...minute, label: 'oldest' })],
      leftAnnotations: [{ value: t.oldestMessageAgeSeconds, label: 'alarm', color: cloudwatch.Color.RED }],
      width,
      height: ROW_HEIGHT,
    }),
    new cloudwatch.GraphWidget({
      title: `${name}: DLQ depth`,
      left: [
        lane.deadLetterQueue.metricApproximateNumberOfMessagesVisible({ ...minute, label: 'dead letters' }),
      ],
      leftAnnotations: [{ value: 1, label: 'alarm (> 0)', color: cloudwatch.Color.RED }],
      width,
      height: ROW_HEIGHT,
    }),
    new cloudwatch.GraphWidget({
      title: `${name}: throughput / 5 min`,
      left: [
        lane.queue.metricNumberOfMessagesSent({
          period: fiveMinutes,
          statistic: 'Sum',
          label: 'sent to queue',
        }),
        ...(isApiLane(lane.lane)
          ? [runlaneMetric('commandsAccepted', env, dims, { label: 'accepted by API' })]
          : []),
        runlaneMetric('commandsCompleted', env, dims, { label: 'completed' }),
      ],
      width,
      height: ROW_HEIGHT,
    }),
    new cloudwatch.GraphWidget({
      title: `${name}: outcomes / 5 min`,
      stacked: true,
      left: [
        runlaneMetric('commandsCompleted', env, dims, { label: 'completed' }),
        runlaneMetric('commandsNeedsReview', env, dims, { label: 'NeedsReview' }),
        runlaneMetric('commandsRetried', env, dims, { label: 'retried' }),
        runlaneMetric('duplicatesSkipped', env, dims, { label: 'duplicates' }),
        ...DEAD_LETTER_REASONS.map((reason) =>
          runlaneMetric('commandsDeadLettered', env, { ...dims, Reason: reason }, { label: reason }),
        ),
      ],
      width,
      height: ROW_HEIGHT,
    }),
    new cloudwatch.GraphWidget({
      title: `${name}: latency (ms)`,
      left: [
        runlaneMetric('endToEndLatency', env, dims, {
          statistic: cloudwatch.Stats.p(50),
          label: 'end-to-end p50',
        }),
        runlaneMetric('endToEndLatency', env, dims, {
          statistic: cloudwatch.Stats.p(95),
          label: 'end-to-end p95',
        }),
        runlaneMetric('handlerDuration', env, dims, {
          statistic: cloudwatch.Stats.p(95),
          label: 'handler p95',
        }),
      ],
      leftAnnotations: [
        { value: t.endToEndLatencyP95Seconds * 1000, label: 'p95 alarm', color: cloudwatch.Color.RED },
      ],
      width,
      height: ROW_HEIGHT,
    }),
  ];
}

function lifecycleRow(props: RunlaneDashboardProps): cloudwatch.IWidget[] {
  const env = props.environmentName;
  const width = FULL_WIDTH / 4;
  const t = props.alarms.thresholds;
  const window = Duration.minutes(t.needsReviewWindowMinutes);
  return [
    new cloudwatch.GraphWidget({
      title: 'NeedsReview entered / resolved per lane',
      left: props.lanes.map((lane) =>
        runlaneMetric(
          'needsReviewEntered',
          env,
          { Lane: lane.lane.name },
          { label: `${lane.lane.name} entered` },
        ),
      ),
      right: props.lanes.map((lane) =>
        runlaneMetric(
          'needsReviewResolved',
          env,
          { Lane: lane.lane.name },
          { label: `${lane.lane.name} resolved` },
        ),
      ),
      width,
      height: ROW_HEIGHT,
    }),
    new cloudwatch.GraphWidget({
      title: `NeedsReview backlog growth / ${t.needsReviewWindowMinutes} min`,
      left: [needsReviewGrowth(env, props.lanes, window)],
      leftAnnotations: [{ value: t.needsReviewGrowth, label: 'alarm', color: cloudwatch.Color.ORANGE }],
      width,
      height: ROW_HEIGHT,
    }),
    new cloudwatch.GraphWidget({
      title: 'Dead letters by reason',
      stacked: true,
      left: props.lanes.flatMap((lane) =>
        DEAD_LETTER_REASONS.map((reason) =>
          runlaneMetric(
            'commandsDeadLettered',
            env,
            { Lane: lane.lane.name, Reason: reason },
            { label: `${lane.lane.name} ${reason}` },
          ),
        ),
      ),
      width,
      height: ROW_HEIGHT,
    }),
    new cloudwatch.GraphWidget({
      title: 'Telemetry publish failures (warning only)',
      left: props.lanes.map((lane) =>
        runlaneMetric('telemetryPublishFailures', env, { Lane: lane.lane.name }, { label: lane.lane.name }),
      ),
      width,
      height: ROW_HEIGHT,
    }),
  ];
}

function apiRow(api: CommandApi): cloudwatch.IWidget[] {
  const width = FULL_WIDTH / 4;
  return [
    new cloudwatch.GraphWidget({
      title: 'API requests / 5 min',
      left: [api.httpApi.metricCount({ label: 'requests' })],
      width,
      height: ROW_HEIGHT,
    }),
    new cloudwatch.GraphWidget({
      title: 'API 4xx / 5 min',
      left: [api.httpApi.metricClientError({ label: '4xx' })],
      width,
      height: ROW_HEIGHT,
    }),
    new cloudwatch.GraphWidget({
      title: 'API 5xx / 5 min',
      left: [api.httpApi.metricServerError({ label: '5xx' })],
      width,
      height: ROW_HEIGHT,
    }),
    new cloudwatch.GraphWidget({
      title: 'API latency (ms)',
      left: [
        api.httpApi.metricLatency({ statistic: cloudwatch.Stats.p(50), label: 'p50' }),
        api.httpApi.metricLatency({ statistic: cloudwatch.Stats.p(95), label: 'p95' }),
        api.httpApi.metricIntegrationLatency({ statistic: cloudwatch.Stats.p(95), label: 'integration p95' }),
      ],
      width,
      height: ROW_HEIGHT,
    }),
  ];
}

function runnerStallRow(props: RunlaneDashboardProps): cloudwatch.IWidget[] {
  const env = props.environmentName;
  const width = FULL_WIDTH / 4;
  const fast = props.alarms.thresholds.runnerStalls.fastBurn;
  const period = Duration.minutes(fast.windowMinutes);
  const rootCauseSet = [
    METRIC_DIMENSIONS.environment,
    METRIC_DIMENSIONS.rootCause,
    METRIC_DIMENSIONS.commandType,
  ] as const;
  const perSecond = `stalls / s over ${fast.windowMinutes} min`;
  return [
    new cloudwatch.GraphWidget({
      title: `Runner stalls / s, all hosts (${fast.windowMinutes} min)`,
      left: [runnerStallRate(env, fast.windowMinutes)],
      leftAnnotations: [
        { value: fast.ratePerSecond, label: 'RunnerStallFastBurn', color: cloudwatch.Color.RED },
      ],
      width,
      height: ROW_HEIGHT,
    }),
    new cloudwatch.GraphWidget({
      title: 'Runner stall rate by root cause',
      stacked: true,
      left: STALL_ROOT_CAUSES.map((rootCause) =>
        runlaneSearch('runnerStalls', env, rootCauseSet, {
          period,
          where: { RootCause: rootCause },
          sum: true,
          perSecond: true,
          label: rootCause,
        }),
      ),
      leftYAxis: { label: perSecond, showUnits: false },
      width,
      height: ROW_HEIGHT,
    }),
    new cloudwatch.GraphWidget({
      title: 'Runner stall rate by host',
      stacked: true,
      left: [
        runlaneSearch('runnerStalls', env, [METRIC_DIMENSIONS.environment, METRIC_DIMENSIONS.host], {
          period,
          perSecond: true,
          label: '',
        }),
      ],
      leftYAxis: { label: perSecond, showUnits: false },
      width,
      height: ROW_HEIGHT,
    }),
    new cloudwatch.GraphWidget({
      title: 'Runner stall rate by command type (× root cause)',
      stacked: true,
      left: [runlaneSearch('runnerStalls', env, rootCauseSet, { period, perSecond: true, label: '' })],
      leftYAxis: { label: perSecond, showUnits: false },
      width,
      height: ROW_HEIGHT,
    }),
  ];
}

function runnerAlarmRow(props: RunlaneDashboardProps): cloudwatch.IWidget[] {
  const width = FULL_WIDTH / 3;
  const alarmOf = (kind: AlarmKindName): cloudwatch.Alarm => {
    const found = props.alarms.alarms.find((entry) => entry.kind === kind);
    if (!found) throw new Error(`RunlaneDashboard: the alarms have no ${kind}`);
    return found.alarm;
  };
  return [
    new cloudwatch.AlarmWidget({
      title: `RunnerStallFastBurn (${ALARM_CATALOG.runnerStallFastBurn.severity})`,
      alarm: alarmOf('runnerStallFastBurn'),
      width,
      height: ROW_HEIGHT,
    }),
    new cloudwatch.AlarmWidget({
      title: `RunnerStallSlowBurn (${ALARM_CATALOG.runnerStallSlowBurn.severity})`,
      alarm: alarmOf('runnerStallSlowBurn'),
      width,
      height: ROW_HEIGHT,
    }),
    new cloudwatch.GraphWidget({
      title: 'Runner event DLQ depth',
      left: [
        props.runnerEvents.deadLetterQueue.metricApproximateNumberOfMessagesVisible({
          period: Duration.minutes(1),
          statistic: cloudwatch.Stats.MAXIMUM,
          label: 'refused or failed events',
        }),
      ],
      leftAnnotations: [{ value: 1, label: 'alarm (> 0)', color: cloudwatch.Color.ORANGE }],
      width,
      height: ROW_HEIGHT,
    }),
  ];
}

function supervisorRow(props: RunlaneDashboardProps): cloudwatch.IWidget[] {
  const env = props.environmentName;
  // Seven graphs in 24 units: the heartbeat, its absence and the disconnections wider.
  const [wide, narrow] = [4, 3];
  const { dashboardDisconnected, childrenQuarantined, silentHosts } = props.alarms.thresholds.supervisor;
  const fiveMinutes = Duration.minutes(5);
  const byHost = [METRIC_DIMENSIONS.environment, METRIC_DIMENSIONS.host] as const;
  const hostSearch = (key: Parameters<typeof runlaneSearch>[0], period: Duration) =>
    runlaneSearch(key, env, byHost, { period, label: '' });
  const disconnectedWindow = Duration.minutes(dashboardDisconnected.windowMinutes);
  const quarantinedWindow = Duration.minutes(childrenQuarantined.windowMinutes);
  return [
    new cloudwatch.GraphWidget({
      title: 'Supervisor health reports by host / 5 min',
      left: [hostSearch('supervisorHealthReports', fiveMinutes)],
      right: [runlaneMetric('supervisorHealthReports', env, {}, { period: fiveMinutes, label: 'all hosts' })],
      width: wide,
      height: ROW_HEIGHT,
    }),
    new cloudwatch.GraphWidget({
      title: `Supervisor silent hosts (no report for > ${props.silentHostsCheck.staleMinutes} min)`,
      left: [
        runlaneMetric(
          'supervisorSilentHosts',
          env,
          {},
          { period: Duration.minutes(SILENT_HOSTS_CHECK_INTERVAL_MINUTES), label: 'silent hosts' },
        ),
      ],
      leftAnnotations: [
        {
          value: 0,
          label: `${ALARM_CATALOG.supervisorSilentHosts.slug} (> 0 for ${silentHosts.sustainMinutes} min)`,
          color: cloudwatch.Color.ORANGE,
        },
      ],
      // A gap on the left is a check that did not run: its invocations and errors say why.
      right: [
        props.silentHostsCheck.function.metricInvocations({
          period: fiveMinutes,
          statistic: 'Sum',
          label: 'check runs',
        }),
        props.silentHostsCheck.function.metricErrors({
          period: fiveMinutes,
          statistic: 'Sum',
          label: 'check errors',
        }),
      ],
      width: wide,
      height: ROW_HEIGHT,
    }),
    new cloudwatch.GraphWidget({
      title: `Supervisor dashboard_link disconnected reports / ${dashboardDisconnected.windowMinutes} min`,
      left: [
        runlaneMetric(
          'supervisorDisconnectedReports',
          env,
          {},
          { period: disconnectedWindow, label: 'all hosts' },
        ),
        hostSearch('supervisorDisconnectedReports', disconnectedWindow),
      ],
      leftAnnotations: [
        {
          value: dashboardDisconnected.threshold,
          label: ALARM_CATALOG.supervisorDashboardDisconnected.slug,
          color: cloudwatch.Color.ORANGE,
        },
      ],
      width: wide,
      height: ROW_HEIGHT,
    }),
    new cloudwatch.GraphWidget({
      title: `Supervisor quarantined children (max / ${childrenQuarantined.windowMinutes} min)`,
      left: [
        runlaneMetric(
          'supervisorQuarantinedChildren',
          env,
          {},
          { period: quarantinedWindow, label: 'any host' },
        ),
        hostSearch('supervisorQuarantinedChildren', quarantinedWindow),
      ],
      leftAnnotations: [
        {
          value: childrenQuarantined.threshold,
          label: ALARM_CATALOG.supervisorChildrenQuarantined.slug,
          color: cloudwatch.Color.ORANGE,
        },
      ],
      width: narrow,
      height: ROW_HEIGHT,
    }),
    new cloudwatch.GraphWidget({
      title: 'Supervisor child exits by TaskExit kind / 5 min',
      stacked: true,
      left: [
        runlaneSearch(
          'supervisorChildExits',
          env,
          [METRIC_DIMENSIONS.environment, METRIC_DIMENSIONS.exitKind],
          {
            period: fiveMinutes,
            label: '',
          },
        ),
      ],
      right: [runlaneMetric('supervisorChildExits', env, {}, { period: fiveMinutes, label: 'all exits' })],
      width: narrow,
      height: ROW_HEIGHT,
    }),
    new cloudwatch.GraphWidget({
      title: 'Supervisor child exits by host / 5 min',
      stacked: true,
      left: [hostSearch('supervisorChildExits', fiveMinutes)],
      width: narrow,
      height: ROW_HEIGHT,
    }),
    new cloudwatch.GraphWidget({
      title: 'Supervisor child quarantines by host / 5 min',
      stacked: true,
      left: [hostSearch('supervisorChildQuarantines', fiveMinutes)],
      right: [
        runlaneMetric('supervisorChildQuarantines', env, {}, { period: fiveMinutes, label: 'all hosts' }),
      ],
      width: narrow,
      height: ROW_HEIGHT,
    }),
  ];
}

function workerRows(props: RunlaneDashboardProps, workers: WorkerDashboardSource): cloudwatch.IWidget[][] {
  const env = props.environmentName;
  const minute = { period: Duration.minutes(1), statistic: cloudwatch.Stats.MAXIMUM };
  const sweepPeriod = Duration.minutes(WORKER_SWEEP_INTERVAL_MINUTES);
  const fiveMinutes = Duration.minutes(5);
  const t = props.alarms.thresholds.workers;
  const sweepMetric = (
    key: 'workersOnline' | 'workersOffline' | 'workerTasksStuckExecuting' | 'workerOfflineBacklog',
    label: string,
  ) => runlaneMetric(key, env, {}, { period: sweepPeriod, label });
  const sweepRuns = [
    workers.sweep.metricInvocations({ period: fiveMinutes, statistic: 'Sum', label: 'sweep runs' }),
    workers.sweep.metricErrors({ period: fiveMinutes, statistic: 'Sum', label: 'sweep errors' }),
  ];
  const workerAlarms = props.alarms.alarms
    .filter((entry) => (WORKER_ALARM_KINDS as readonly AlarmKindName[]).includes(entry.kind))
    .map((entry) => entry.alarm);
  const lanes = workers.siteLanes;
  return [
    [
      new cloudwatch.GraphWidget({
        title: 'Worker task lanes: depth per site',
        left: lanes.map((lane) =>
          lane.queue.metricApproximateNumberOfMessagesVisible({ ...minute, label: `${lane.site} visible` }),
        ),
        right: lanes.map((lane) =>
          lane.queue.metricApproximateNumberOfMessagesNotVisible({
            ...minute,
            label: `${lane.site} in flight`,
          }),
        ),
        width: 6,
        height: ROW_HEIGHT,
      }),
      new cloudwatch.GraphWidget({
        title: 'Worker task lanes: oldest task age (s)',
        left: lanes.map((lane) =>
          lane.queue.metricApproximateAgeOfOldestMessage({ ...minute, label: lane.site }),
        ),
        leftAnnotations: [
          {
            value: t.queueNotDraining.oldestMessageAgeSeconds,
            label: `not draining (${t.queueNotDraining.sustainMinutes} min)`,
            color: cloudwatch.Color.RED,
          },
        ],
        width: 6,
        height: ROW_HEIGHT,
      }),
      new cloudwatch.GraphWidget({
        title: 'Worker task DLQ depth per site',
        left: lanes.map((lane) =>
          lane.deadLetterQueue.metricApproximateNumberOfMessagesVisible({ ...minute, label: lane.site }),
        ),
        leftAnnotations: [{ value: 1, label: 'alarm (> 0)', color: cloudwatch.Color.RED }],
        width: 4,
        height: ROW_HEIGHT,
      }),
      new cloudwatch.AlarmStatusWidget({
        title: `Worker alarms (${workerAlarms.length})`,
        alarms: workerAlarms,
        sortBy: cloudwatch.AlarmStatusWidgetSortBy.STATE_UPDATED_TIMESTAMP,
        width: 8,
        height: ROW_HEIGHT,
      }),
    ],
    [
      new cloudwatch.GraphWidget({
        title: `Workers online / offline (stale after ${workers.settings.heartbeatStaleMultiple} × interval)`,
        left: [sweepMetric('workersOnline', 'online'), sweepMetric('workersOffline', 'offline')],
        leftAnnotations: [
          {
            value: t.offlineWorkers.threshold,
            label: `${ALARM_CATALOG.workersOffline.slug} (> ${t.offlineWorkers.threshold} for ${t.offlineWorkers.sustainMinutes} min)`,
            color: cloudwatch.Color.ORANGE,
          },
        ],
        // A gap on the left is a sweep that did not run: its runs and errors say why.
        right: sweepRuns,
        width: 6,
        height: ROW_HEIGHT,
      }),
      new cloudwatch.GraphWidget({
        title: `Worker tasks stuck executing (> ${workers.settings.stuckTaskMinutes} min)`,
        left: [sweepMetric('workerTasksStuckExecuting', 'stuck executing')],
        leftAnnotations: [
          {
            value: t.stuckTasks.threshold,
            label: `${ALARM_CATALOG.workerTasksStuckExecuting.slug} (> ${t.stuckTasks.threshold} for ${t.stuckTasks.sustainMinutes} min)`,
            color: cloudwatch.Color.RED,
          },
        ],
        width: 6,
        height: ROW_HEIGHT,
      }),
      new cloudwatch.GraphWidget({
        title: 'Worker offline backlog (spooled result envelopes, as reported)',
        left: [sweepMetric('workerOfflineBacklog', 'spooled envelopes')],
        width: 6,
        height: ROW_HEIGHT,
      }),
      new cloudwatch.GraphWidget({
        title: 'Worker event ingest: DLQ depth, invocations, errors',
        left: [
          workers.deadLetterQueue.metricApproximateNumberOfMessagesVisible({
            ...minute,
            label: 'refused or failed events',
          }),
        ],
        leftAnnotations: [{ value: 1, label: 'alarm (> 0)', color: cloudwatch.Color.ORANGE }],
        right: [
          workers.ingest.metricInvocations({ period: fiveMinutes, statistic: 'Sum', label: 'ingest runs' }),
          workers.ingest.metricErrors({ period: fiveMinutes, statistic: 'Sum', label: 'ingest errors' }),
        ],
        width: 6,
        height: ROW_HEIGHT,
      }),
    ],
  ];
}

function checkProps(props: RunlaneDashboardProps, dashboardName: string, defaultInterval: Duration): void {
  const problems: string[] = [];
  if (!/^[A-Za-z0-9_-]{1,255}$/.test(dashboardName)) {
    problems.push(`dashboardName: "${dashboardName}" must be 1-255 characters of [A-Za-z0-9_-]`);
  }
  if (props.lanes.length === 0) problems.push('lanes: at least one lane is required');
  if (defaultInterval.toSeconds({ integral: false }) < 60) {
    problems.push(`defaultInterval: must be at least 1 minute, got ${defaultInterval.toHumanString()}`);
  }
  throwIfProblems('RunlaneDashboard', problems);
}
