import { API_COMMAND_TYPES } from './api/routes.js';
import { type CommandType, LANES, type LaneDefinition } from './lanes.js';
import { FAILURE_CODES, type FailureCode } from './lifecycle.js';

/**
 * Runlane's CloudWatch metrics, declared once (STYLE principle 7). The
 * handlers emit them (EMF, through the `MetricsRecorder` port), the alarms and
 * the dashboard read them from here, and the tests check that both sides name
 * the same metric with the same dimension set.
 *
 * Every metric carries `Environment` (the Runlane environment, e.g. `prod`) and
 * `Lane` (the lane name, e.g. `runtime-agent-message-posted`); dead letters add
 * `Reason`. A CloudWatch metric is its namespace, name and exact set of
 * dimensions, so the emitted dimension set is exactly the one declared here
 * (no extra `service` dimension).
 */
export const METRICS_NAMESPACE = 'Runlane';

export const METRIC_DIMENSIONS = {
  environment: 'Environment',
  lane: 'Lane',
  reason: 'Reason',
} as const;

export type MetricDimensionName = (typeof METRIC_DIMENSIONS)[keyof typeof METRIC_DIMENSIONS];

/** CloudWatch unit names (the same strings Powertools' `MetricUnit` uses). */
export type MetricUnitName = 'Count' | 'Milliseconds';

/** Which Lambda entry point emits a metric. */
export type MetricEmitter = 'api' | 'laneWorker';

export interface MetricDefinition {
  /** CloudWatch metric name. */
  readonly name: string;
  readonly unit: MetricUnitName;
  /** The exact dimension set, `Environment` first. */
  readonly dimensions: readonly MetricDimensionName[];
  readonly emittedBy: MetricEmitter;
  /** The statistic dashboards and alarms read it with by default. */
  readonly statistic: 'Sum' | 'p95';
  readonly description: string;
}

const LANE_DIMENSIONS = [METRIC_DIMENSIONS.environment, METRIC_DIMENSIONS.lane] as const;

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
} as const satisfies Record<string, MetricDefinition>;

export type MetricKey = keyof typeof METRICS;

/** The dimension values a caller gives for a metric: all of its dimensions but `Environment`, which the recorder sets. */
export type MetricDimensionValues<K extends MetricKey> = {
  readonly [D in Exclude<(typeof METRICS)[K]['dimensions'][number], 'Environment'>]: string;
};

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
 * Every metric the handlers of one environment emit, with its dimension values:
 * the worker's metrics for each lane (dead letters once per reason) and
 * `CommandsAccepted` for each lane the API feeds.
 *
 * @example
 * emittedMetrics('prod').filter((m) => m.name === 'CommandsDeadLettered').length; // lanes × reasons
 */
export function emittedMetrics(
  environment: string,
  lanes: readonly Pick<LaneDefinition, 'name' | 'commandTypes'>[] = LANES,
): MetricIdentity[] {
  return lanes.flatMap((lane) =>
    (Object.keys(METRICS) as MetricKey[])
      .filter((key) => METRICS[key].emittedBy === 'laneWorker' || isApiLane(lane))
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
