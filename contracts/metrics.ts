import { API_COMMAND_TYPES } from './api-routes.js';
import { type CommandType, LANES, type LaneDefinition } from './lanes.js';
import { FAILURE_CODES, type FailureCode } from './lifecycle.js';

/**
 * Runlane's CloudWatch metrics, declared once (STYLE principle 7). The
 * handlers emit them (EMF, through the `MetricsRecorder` port), the alarms and
 * the dashboard read them from here, and the tests check that both sides name
 * the same metric with the same dimension set.
 *
 * Every metric carries `Environment` (the Runlane environment, e.g. `prod`).
 * The lane metrics add `Lane` (the lane name, e.g. `runtime-agent-message-posted`);
 * dead letters add `Reason`. A CloudWatch metric is its namespace, name and
 * exact set of dimensions, so the emitted dimension sets are exactly the ones
 * declared here (no extra `service` dimension).
 *
 * `RunnerStalls` (from the runner event ingest) is the one metric published
 * under several dimension sets (`dimensionSets`): one EMF line per stall makes
 * CloudWatch aggregate the same value under each set, so the alarms read the
 * environment total and the dashboard breaks it down by root cause, command
 * type and host without a metric per combination of all four. The supervisor
 * metrics (from `SupervisorHealth` and `SupervisorChild` events) follow the
 * same pattern: [Environment] for the alarms, [Environment, Host] (and
 * [Environment, ExitKind] for exits) for the dashboard, as SEARCH over the set.
 * `SupervisorSilentHosts` comes from the scheduled silent-host check, not from
 * an event: one [Environment] value per run, so it has no per-host set (the
 * check logs the silent hosts by name instead). The worker metrics (`Workers*`,
 * `WorkerTasksStuckExecuting`, `WorkerOfflineBacklog`) come from the scheduled worker sweep
 * the same way: one [Environment] value per run, 0 included, in environments with worker sites.
 */
export const METRICS_NAMESPACE = 'Runlane';

export const METRIC_DIMENSIONS = {
  environment: 'Environment',
  lane: 'Lane',
  reason: 'Reason',
  rootCause: 'RootCause',
  commandType: 'CommandType',
  host: 'Host',
  exitKind: 'ExitKind',
} as const;

export type MetricDimensionName = (typeof METRIC_DIMENSIONS)[keyof typeof METRIC_DIMENSIONS];

/** CloudWatch unit names (the same strings Powertools' `MetricUnit` uses). */
export type MetricUnitName = 'Count' | 'Milliseconds';

/** Which Lambda entry point emits a metric. */
export type MetricEmitter =
  | 'api'
  | 'laneWorker'
  | 'runnerEventIngest'
  | 'supervisorSilentHosts'
  | 'workerSweep';

export interface MetricDefinition {
  /** CloudWatch metric name. */
  readonly name: string;
  readonly unit: MetricUnitName;
  /**
   * Every dimension the emitter gives a value for, `Environment` first. Without
   * `dimensionSets` this is also the metric's one exact dimension set.
   */
  readonly dimensions: readonly MetricDimensionName[];
  /**
   * The dimension sets CloudWatch aggregates the metric under (EMF
   * `Dimensions`), each `Environment` first and a subset of `dimensions`.
   * @default [dimensions]
   */
  readonly dimensionSets?: readonly (readonly MetricDimensionName[])[];
  readonly emittedBy: MetricEmitter;
  /** The statistic dashboards and alarms read it with by default. */
  readonly statistic: 'Sum' | 'p95' | 'Maximum';
  readonly description: string;
}

const LANE_DIMENSIONS = [METRIC_DIMENSIONS.environment, METRIC_DIMENSIONS.lane] as const;

/** Supervisor metrics: every value carries its host; published as the environment total and per host. */
const SUPERVISOR_HOST_DIMENSIONS = [METRIC_DIMENSIONS.environment, METRIC_DIMENSIONS.host] as const;
const SUPERVISOR_HOST_SETS = [
  [METRIC_DIMENSIONS.environment],
  [METRIC_DIMENSIONS.environment, METRIC_DIMENSIONS.host],
] as const;

/**
 * The metrics. Per processed SQS record the worker counts exactly one outcome —
 * `CommandsCompleted`, `CommandsNeedsReview`, `CommandsRetried`,
 * `DuplicatesSkipped` or `CommandsDeadLettered` — the same partition as the
 * batch summary on the telemetry bus. `NeedsReviewEntered` / `NeedsReviewResolved`
 * count runs moving into and out of `NeedsReview` (the review queue), so its
 * growth is `entered − resolved`.
 */
export const METRICS = {
  commandsAccepted: {
    name: 'CommandsAccepted',
    unit: 'Count',
    dimensions: LANE_DIMENSIONS,
    emittedBy: 'api',
    statistic: 'Sum',
    description:
      'Commands the API enqueued (2xx); an Idempotency-Key retry answered from its key is not counted.',
  },
  commandsCompleted: {
    name: 'CommandsCompleted',
    unit: 'Count',
    dimensions: LANE_DIMENSIONS,
    emittedBy: 'laneWorker',
    statistic: 'Sum',
    description: 'Records whose attempt completed the run (status Completed, key Completed).',
  },
  commandsNeedsReview: {
    name: 'CommandsNeedsReview',
    unit: 'Count',
    dimensions: LANE_DIMENSIONS,
    emittedBy: 'laneWorker',
    statistic: 'Sum',
    description:
      'Records whose command handler decided NeedsReview (a deterministic refusal, acknowledged, not retried).',
  },
  commandsRetried: {
    name: 'CommandsRetried',
    unit: 'Count',
    dimensions: LANE_DIMENSIONS,
    emittedBy: 'laneWorker',
    statistic: 'Sum',
    description:
      'Records returned to the queue for another attempt (failed attempt, held lock, store unreachable).',
  },
  duplicatesSkipped: {
    name: 'DuplicatesSkipped',
    unit: 'Count',
    dimensions: LANE_DIMENSIONS,
    emittedBy: 'laneWorker',
    statistic: 'Sum',
    description:
      'Records whose commandId had already completed or been rejected: acknowledged, not reprocessed.',
  },
  commandsDeadLettered: {
    name: 'CommandsDeadLettered',
    unit: 'Count',
    dimensions: [...LANE_DIMENSIONS, METRIC_DIMENSIONS.reason],
    emittedBy: 'laneWorker',
    statistic: 'Sum',
    description: 'Records the worker sent to the lane DLQ, by dead-letter reason.',
  },
  needsReviewEntered: {
    name: 'NeedsReviewEntered',
    unit: 'Count',
    dimensions: LANE_DIMENSIONS,
    emittedBy: 'laneWorker',
    statistic: 'Sum',
    description: 'Runs this attempt moved into NeedsReview (a refusal, or the first failed attempt).',
  },
  needsReviewResolved: {
    name: 'NeedsReviewResolved',
    unit: 'Count',
    dimensions: LANE_DIMENSIONS,
    emittedBy: 'laneWorker',
    statistic: 'Sum',
    description: 'NeedsReview runs a later successful attempt completed.',
  },
  handlerDuration: {
    name: 'HandlerDuration',
    unit: 'Milliseconds',
    dimensions: LANE_DIMENSIONS,
    emittedBy: 'laneWorker',
    statistic: 'p95',
    description:
      'One attempt of one command: reserve the key, run the command handler, record the result (duplicates excluded).',
  },
  endToEndLatency: {
    name: 'EndToEndLatency',
    unit: 'Milliseconds',
    dimensions: LANE_DIMENSIONS,
    emittedBy: 'laneWorker',
    statistic: 'p95',
    description:
      "From the envelope's issuedAt (API accept) to its terminal state: Completed, NeedsReview decided, or dead-lettered.",
  },
  telemetryPublishFailures: {
    name: 'TelemetryPublishFailures',
    unit: 'Count',
    dimensions: LANE_DIMENSIONS,
    emittedBy: 'laneWorker',
    statistic: 'Sum',
    description: 'Batch summaries the telemetry bus refused (a warning: commands are unaffected).',
  },
  runnerStalls: {
    name: 'RunnerStalls',
    unit: 'Count',
    dimensions: [
      METRIC_DIMENSIONS.environment,
      METRIC_DIMENSIONS.rootCause,
      METRIC_DIMENSIONS.commandType,
      METRIC_DIMENSIONS.host,
    ],
    // [Environment]: the burn alarms. [Environment, RootCause, CommandType]: seed
    // 002's labels, the dashboard's "by root cause" and "by command type".
    // [Environment, Host]: "by host". 5 × command types + hosts metrics, not the
    // 5 × command types × hosts of one four-dimension set. No dimension but
    // Environment appears in two sets (Powertools warns on every such line).
    dimensionSets: [
      [METRIC_DIMENSIONS.environment],
      [METRIC_DIMENSIONS.environment, METRIC_DIMENSIONS.rootCause, METRIC_DIMENSIONS.commandType],
      [METRIC_DIMENSIONS.environment, METRIC_DIMENSIONS.host],
    ],
    emittedBy: 'runnerEventIngest',
    statistic: 'Sum',
    description:
      'Stalls the on-host agents reported (RunnerStall events), each counted once: a resend with the same id is dropped.',
  },
  supervisorHealthReports: {
    name: 'SupervisorHealthReports',
    unit: 'Count',
    dimensions: SUPERVISOR_HOST_DIMENSIONS,
    dimensionSets: SUPERVISOR_HOST_SETS,
    emittedBy: 'runnerEventIngest',
    statistic: 'Sum',
    description:
      'SupervisorHealth reports received (the heartbeat of `runlane-agent supervise`), at their own ts: spooled reports count for the period they describe.',
  },
  supervisorDisconnectedReports: {
    name: 'SupervisorDisconnectedReports',
    unit: 'Count',
    dimensions: SUPERVISOR_HOST_DIMENSIONS,
    dimensionSets: SUPERVISOR_HOST_SETS,
    emittedBy: 'runnerEventIngest',
    statistic: 'Sum',
    description:
      'Per SupervisorHealth report: 1 when its dashboard_link is disconnected, 0 when connected (so a connected period has data, not a gap).',
  },
  supervisorQuarantinedChildren: {
    name: 'SupervisorQuarantinedChildren',
    unit: 'Count',
    dimensions: SUPERVISOR_HOST_DIMENSIONS,
    dimensionSets: SUPERVISOR_HOST_SETS,
    emittedBy: 'runnerEventIngest',
    statistic: 'Maximum',
    description:
      "Per SupervisorHealth report: children.quarantined, the supervisor's quarantined children at that moment (read as Maximum).",
  },
  supervisorChildExits: {
    name: 'SupervisorChildExits',
    unit: 'Count',
    dimensions: [METRIC_DIMENSIONS.environment, METRIC_DIMENSIONS.exitKind, METRIC_DIMENSIONS.host],
    dimensionSets: [
      [METRIC_DIMENSIONS.environment],
      [METRIC_DIMENSIONS.environment, METRIC_DIMENSIONS.exitKind],
      [METRIC_DIMENSIONS.environment, METRIC_DIMENSIONS.host],
    ],
    emittedBy: 'runnerEventIngest',
    statistic: 'Sum',
    description:
      'Supervised children that exited (SupervisorChild `exited` events), by TaskExit kind (Exited, Failed, Panicked, Killed); a resend with the same id is dropped.',
  },
  supervisorChildQuarantines: {
    name: 'SupervisorChildQuarantines',
    unit: 'Count',
    dimensions: SUPERVISOR_HOST_DIMENSIONS,
    dimensionSets: SUPERVISOR_HOST_SETS,
    emittedBy: 'runnerEventIngest',
    statistic: 'Sum',
    description:
      'Children the supervisor quarantined (SupervisorChild `quarantined` events: restart budget exhausted, or an operator); a resend with the same id is dropped.',
  },
  supervisorSilentHosts: {
    name: 'SupervisorSilentHosts',
    unit: 'Count',
    dimensions: [METRIC_DIMENSIONS.environment],
    emittedBy: 'supervisorSilentHosts',
    statistic: 'Maximum',
    description:
      'Per run of the scheduled silent-host check (every 5 min): hosts whose latest SupervisorHealth report is older than alarms.supervisor.silentHosts.staleMinutes, a planned shutdown (status stopping) excepted; 0 when none (read as Maximum).',
  },
  workersOnline: {
    name: 'WorkersOnline',
    unit: 'Count',
    dimensions: [METRIC_DIMENSIONS.environment],
    emittedBy: 'workerSweep',
    statistic: 'Maximum',
    description:
      'Per run of the scheduled worker sweep (every 5 min): workers whose last heartbeat is at most workers.heartbeatStaleMultiple × their interval old (read as Maximum).',
  },
  workersOffline: {
    name: 'WorkersOffline',
    unit: 'Count',
    dimensions: [METRIC_DIMENSIONS.environment],
    emittedBy: 'workerSweep',
    statistic: 'Maximum',
    description:
      'Per run of the worker sweep: workers of the registry whose last heartbeat is stale (older than workers.heartbeatStaleMultiple × their interval); 0 when none.',
  },
  workerTasksStuckExecuting: {
    name: 'WorkerTasksStuckExecuting',
    unit: 'Count',
    dimensions: [METRIC_DIMENSIONS.environment],
    emittedBy: 'workerSweep',
    statistic: 'Maximum',
    description:
      'Per run of the worker sweep: delegated tasks executing for longer than workers.stuckTaskMinutes since their claim; 0 when none.',
  },
  workerOfflineBacklog: {
    name: 'WorkerOfflineBacklog',
    unit: 'Count',
    dimensions: [METRIC_DIMENSIONS.environment],
    emittedBy: 'workerSweep',
    statistic: 'Maximum',
    description:
      'Per run of the worker sweep: result envelopes waiting in the workers’ offline spools, summed over the registry as each worker last reported (offline_backlog.files).',
  },
} as const satisfies Record<string, MetricDefinition>;

export type MetricKey = keyof typeof METRICS;

/** The dimension values a caller gives for a metric: all of its dimensions but `Environment`, which the recorder sets. */
export type MetricDimensionValues<K extends MetricKey> = {
  readonly [D in Exclude<(typeof METRICS)[K]['dimensions'][number], 'Environment'>]: string;
};

type DefinitionOf<K extends MetricKey> = (typeof METRICS)[K];

/** The dimension sets a metric is published under, as a union of name tuples. */
type DimensionSetsOf<K extends MetricKey> =
  DefinitionOf<K> extends {
    readonly dimensionSets: readonly (infer Set)[];
  }
    ? Set
    : DefinitionOf<K>['dimensions'];

/**
 * The dimension values that name one concrete metric: the values (besides
 * `Environment`) of one of its dimension sets. For most metrics that is
 * `MetricDimensionValues`; `RunnerStalls` takes `{}` (the environment
 * total), `{ RootCause, CommandType }` or `{ Host }`.
 */
export type MetricQueryValues<K extends MetricKey> =
  DimensionSetsOf<K> extends infer Set
    ? Set extends readonly MetricDimensionName[]
      ? { readonly [D in Exclude<Set[number], 'Environment'>]: string }
      : never
    : never;

/**
 * The dimension sets CloudWatch aggregates a metric under.
 *
 * @example
 * metricDimensionSets('commandsCompleted'); // [['Environment', 'Lane']]
 */
export function metricDimensionSets(key: MetricKey): readonly (readonly MetricDimensionName[])[] {
  const definition: MetricDefinition = METRICS[key];
  return definition.dimensionSets ?? [definition.dimensions];
}

/**
 * Whether `names` (in any order) is exactly one of the metric's dimension sets.
 *
 * @example
 * isMetricDimensionSet('runnerStalls', ['Environment', 'Host']); // true
 */
export function isMetricDimensionSet(key: MetricKey, names: readonly string[]): boolean {
  const wanted = [...names].sort().join(',');
  return metricDimensionSets(key).some((set) => [...set].sort().join(',') === wanted);
}

/**
 * Makes an agent-reported string (host, command type) a valid CloudWatch
 * dimension value: printable ASCII only (others become `_`), trimmed, at most
 * 250 characters, never empty. The stored event keeps the original.
 *
 * @example
 * metricDimensionValue('bätch-01 '); // 'b_tch-01'
 */
export function metricDimensionValue(value: string): string {
  const cleaned = value
    .replace(/[^\x20-\x7e]/g, '_')
    .trim()
    .slice(0, MAX_DIMENSION_VALUE_CHARS);
  return cleaned.length > 0 ? cleaned : '_';
}

const MAX_DIMENSION_VALUE_CHARS = 250;

/** Every value `Reason` takes: the dead-letter reasons (DESIGN §3). */
export const DEAD_LETTER_REASONS: readonly FailureCode[] = Object.values(FAILURE_CODES);

/** Lanes that carry a command type the API enqueues; only they get `CommandsAccepted`. */
export function isApiLane(lane: Pick<LaneDefinition, 'commandTypes'>): boolean {
  return lane.commandTypes.some((type) => (API_COMMAND_TYPES as readonly CommandType[]).includes(type));
}

/** One concrete metric: a definition and the value of each of its dimensions. */
export interface MetricIdentity {
  readonly key: MetricKey;
  readonly name: string;
  readonly dimensions: Readonly<Partial<Record<MetricDimensionName, string>>>;
}

/**
 * Every metric the handlers of one environment emit whose dimension values are
 * known before deployment: the worker's metrics for each lane (dead letters
 * once per reason), `CommandsAccepted` for each lane the API feeds, and the
 * environment totals of the agent event ingest's metrics (`RunnerStalls`, the
 * supervisor metrics) and of `SupervisorSilentHosts`, and — with `workerSweep`, for an
 * environment that has worker sites and so deploys the sweep — the worker sweep's metrics. The runner's per-host, per-command-type
 * and per-root-cause series take values only agents know; see
 * {@link searchedDimensionSets}.
 *
 * @example
 * emittedMetrics('prod').filter((m) => m.name === 'CommandsDeadLettered').length; // lanes × reasons
 */
export function emittedMetrics(
  environment: string,
  lanes: readonly Pick<LaneDefinition, 'name' | 'commandTypes'>[] = LANES,
  options: { readonly workerSweep?: boolean } = {},
): MetricIdentity[] {
  const environmentTotals: MetricIdentity[] = (Object.keys(METRICS) as MetricKey[])
    .filter(
      (key) =>
        isEnvironmentEmitter(METRICS[key].emittedBy) ||
        (options.workerSweep === true && METRICS[key].emittedBy === 'workerSweep'),
    )
    .map((key) => ({ key, name: METRICS[key].name, dimensions: { Environment: environment } }));
  return [...laneMetrics(environment, lanes), ...environmentTotals];
}

/**
 * The dimension sets whose values only the agents know (host, command type,
 * root cause): dashboards show them with SEARCH over the set's schema.
 *
 * @example
 * searchedDimensionSets(); // [{ key: 'runnerStalls', name: 'RunnerStalls', dimensions: ['Environment', 'RootCause', 'CommandType'] }, …]
 */
export function searchedDimensionSets(): {
  readonly key: MetricKey;
  readonly name: string;
  readonly dimensions: readonly MetricDimensionName[];
}[] {
  return (Object.keys(METRICS) as MetricKey[])
    .filter((key) => METRICS[key].emittedBy === 'runnerEventIngest')
    .flatMap((key) =>
      metricDimensionSets(key)
        .filter((set) => set.length > 1)
        .map((dimensions) => ({ key, name: METRICS[key].name, dimensions })),
    );
}

/** Emitters whose metrics are not per lane: the agent event ingest and the silent-host check. */
function isEnvironmentEmitter(emitter: MetricEmitter): boolean {
  return emitter === 'runnerEventIngest' || emitter === 'supervisorSilentHosts';
}

function laneMetrics(
  environment: string,
  lanes: readonly Pick<LaneDefinition, 'name' | 'commandTypes'>[],
): MetricIdentity[] {
  return lanes.flatMap((lane) =>
    (Object.keys(METRICS) as MetricKey[])
      .filter(
        (key) =>
          METRICS[key].emittedBy === 'laneWorker' || (METRICS[key].emittedBy === 'api' && isApiLane(lane)),
      )
      .flatMap((key) => {
        const base = { Environment: environment, Lane: lane.name };
        const reasons = (METRICS[key].dimensions as readonly MetricDimensionName[]).includes('Reason')
          ? DEAD_LETTER_REASONS
          : [undefined];
        return reasons.map((reason) => ({
          key,
          name: METRICS[key].name,
          dimensions: reason === undefined ? base : { ...base, Reason: reason },
        }));
      }),
  );
}
