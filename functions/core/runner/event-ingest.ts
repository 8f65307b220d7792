import type { z } from 'zod';
import {
  AGENT_DETAIL_TYPES,
  AGENT_EVENT_SOURCE,
  type RunnerRunSummaryEvent,
  type RunnerStallEvent,
  runnerRunSummaryEventSchema,
  runnerStallEventSchema,
  SUPERVISOR_DETAIL_TYPES,
  type SupervisorChildEvent,
  type SupervisorHealthEvent,
  supervisorChildEventSchema,
  supervisorHealthEventSchema,
} from '#contracts/agent-events.js';
import { type MetricDimensionValues, type MetricKey, metricDimensionValue } from '#contracts/metrics.js';
import { isRecord, safeStringify, stringField } from '../base/bus-event-fields.js';
import { type Clock, systemClock } from '../base/clock.js';
import type { WorkerLogger } from '../lifecycle/lane-worker.js';
import type { SupervisorEventStore } from '../supervisor/ports.js';
import { type MetricsRecorder, noopMetricsRecorder } from '../telemetry/ports.js';
import type { RunnerEventDeadLetterSink, RunnerEventStore } from './ports.js';

/**
 * Ingest of the events on-host agents put on the telemetry bus: the runner's
 * (`RunnerStall`, `RunnerRunSummary`) and the supervisor's
 * (`SupervisorHealth`, `SupervisorChild`): validate, store, count.
 *
 * - A bus event that is not an agent event, or whose detail fails its zod
 *   schema, or that belongs to another environment, is **refused**: sent to
 *   the ingest DLQ with its reason and acknowledged. Retrying it could never
 *   succeed.
 * - A valid runner or child event is stored (`put`, `putChildEvent`); a resend
 *   with the same id is a `duplicate`: stored once, counted once.
 * - A stored stall adds 1 to `RunnerStalls` (Environment, RootCause,
 *   CommandType, Host). The count follows the store: a duplicate is never
 *   counted, and a crash after the put and before the metrics flush loses that
 *   one count rather than counting a resend twice.
 * - A health report becomes its host's latest only if it is newer than the
 *   stored one (`stored`); an older one (a spool replay after an outage) is
 *   `stale`: not kept, but still counted — `SupervisorHealthReports`,
 *   `SupervisorDisconnectedReports`, `SupervisorQuarantinedChildren` at its own
 *   ts — because it describes the period it was sampled in. Only a resend of
 *   the latest report itself is a `duplicate` (not counted); a resend of an
 *   older report counts again, which the supervisor alarms (`> 0`, `Maximum`)
 *   do not notice.
 * - A stored child event counts `SupervisorChildExits` (by TaskExit kind) when
 *   it is an exit and `SupervisorChildQuarantines` when it is a quarantine.
 * - A store (or DLQ) failure is thrown, so Lambda's asynchronous retries apply
 *   and, after them, the function's on-failure destination keeps the event.
 */

/** Why the ingest refused a bus event (the `reason` attribute of its dead letter). */
export const RUNNER_EVENT_REJECT_REASONS = {
  /** Not an EventBridge event: no object, or no `detail-type` / `source` / `detail`. */
  invalidEvent: 'invalid_event',
  /** Not from `runlane.agent`, or a detail type the ingest does not know. */
  unknownDetailType: 'unknown_detail_type',
  /** The detail fails the event's zod schema. */
  invalidDetail: 'invalid_detail',
  /** The event names another environment than the bus it was sent to. */
  environmentMismatch: 'environment_mismatch',
} as const;

export type RunnerEventRejectReason =
  (typeof RUNNER_EVENT_REJECT_REASONS)[keyof typeof RUNNER_EVENT_REJECT_REASONS];

/** Which agent event a detail type carries. */
export type RunnerEventKind = 'stall' | 'run' | 'health' | 'child';

/** An agent event with its kind, as the ingest parsed it. */
export type ParsedAgentEvent =
  | { readonly kind: 'stall'; readonly detail: RunnerStallEvent }
  | { readonly kind: 'run'; readonly detail: RunnerRunSummaryEvent }
  | { readonly kind: 'health'; readonly detail: SupervisorHealthEvent }
  | { readonly kind: 'child'; readonly detail: SupervisorChildEvent };

export type RunnerEventIngestResult =
  | {
      /** `stale`: a health report older than its host's latest (kept out of the latest, still counted). */
      readonly outcome: 'stored' | 'duplicate' | 'stale';
      readonly kind: RunnerEventKind;
      readonly eventId: string;
    }
  | {
      readonly outcome: 'rejected';
      readonly reason: RunnerEventRejectReason;
      readonly rationale: string;
    };

export interface RunnerEventIngestOptions {
  readonly store: RunnerEventStore;
  /** Where supervisor health (latest per host) and child events go. */
  readonly supervisorStore: SupervisorEventStore;
  readonly deadLetters: RunnerEventDeadLetterSink;
  /** Where `RunnerStalls` and the supervisor metrics go. @default no metrics */
  readonly metrics?: MetricsRecorder;
  readonly logger: WorkerLogger;
  /**
   * The environment whose bus this ingest serves: an event naming another is
   * refused (`environment_mismatch`), so a misdirected agent cannot count
   * towards this environment's alarms. Undefined accepts every environment
   * (the local stack, which stands in for all of them).
   * @default undefined
   */
  readonly expectedEnvironment?: string;
  /** @default systemClock */
  readonly clock?: Clock;
}

/** CloudWatch takes EMF timestamps up to 14 days back and 2 hours ahead; keep a margin on both. */
export const STALL_METRIC_TIME_LIMITS = {
  maxAgeMs: 14 * 24 * 60 * 60 * 1000 - 60 * 60 * 1000,
  maxAheadMs: 2 * 60 * 60 * 1000 - 5 * 60 * 1000,
} as const;

/** Detail types the ingest takes, each with its kind and schema. */
const SCHEMAS: Readonly<
  Record<string, { kind: RunnerEventKind; schema: z.ZodType<ParsedAgentEvent['detail']> }>
> = {
  [AGENT_DETAIL_TYPES.stall]: { kind: 'stall', schema: runnerStallEventSchema },
  [AGENT_DETAIL_TYPES.runSummary]: { kind: 'run', schema: runnerRunSummaryEventSchema },
  [SUPERVISOR_DETAIL_TYPES.health]: { kind: 'health', schema: supervisorHealthEventSchema },
  [SUPERVISOR_DETAIL_TYPES.child]: { kind: 'child', schema: supervisorChildEventSchema },
};

/** Every detail type the ingest takes (the rule's pattern lists the same). */
export const INGESTED_DETAIL_TYPES: readonly string[] = Object.keys(SCHEMAS);

/** Longest rationale kept: it is evidence for an operator, not a dump. */
const MAX_RATIONALE_CHARS = 900;

/**
 * Builds the ingest: one EventBridge event in, one result out.
 *
 * @example
 * const ingest = createRunnerEventIngest({ store, deadLetters, metrics, logger, expectedEnvironment: 'prod' });
 * await ingest(event); // { outcome: 'stored', kind: 'stall', eventId: '…' }
 */
export function createRunnerEventIngest(
  options: RunnerEventIngestOptions,
): (event: unknown) => Promise<RunnerEventIngestResult> {
  const { store, deadLetters, logger } = options;
  const metrics = options.metrics ?? noopMetricsRecorder;
  const clock = options.clock ?? systemClock;

  return async (event) => {
    const parsed = parseBusEvent(event, options.expectedEnvironment);
    if (parsed.outcome === 'rejected') {
      const envelope = isRecord(event) ? event : {};
      const detail = isRecord(envelope.detail) ? envelope.detail : {};
      await deadLetters.send({
        body: safeStringify(event),
        reason: parsed.reason,
        rationale: parsed.rationale,
        ...stringField('detailType', envelope['detail-type']),
        ...stringField('busEventId', envelope.id),
        ...stringField('eventId', detail.id),
      });
      logger.warn('runner event refused', { reason: parsed.reason, rationale: parsed.rationale });
      return parsed;
    }

    const { kind, detail } = parsed;
    // A refused metric value must never make Lambda retry a stored event: warn instead.
    const count = <K extends MetricKey>(metric: K, value: number, dimensions: MetricDimensionValues<K>) => {
      const timestamp = stallMetricTimestamp(detail.ts, clock.now());
      if (!timestamp) {
        logger.warn('event too old to count', { metric, eventId: detail.id, ts: detail.ts });
        return;
      }
      try {
        metrics.record(metric, value, dimensions, { timestamp });
      } catch (error) {
        logger.warn('metric not recorded', { metric, error: String(error) });
      }
    };

    let outcome: 'stored' | 'duplicate' | 'stale';
    if (parsed.kind === 'health') {
      const health = parsed.detail;
      outcome = await options.supervisorStore.putHealth(health);
      if (outcome !== 'duplicate') {
        const Host = metricDimensionValue(health.host);
        count('supervisorHealthReports', 1, { Host });
        count('supervisorDisconnectedReports', health.dashboardLink === 'disconnected' ? 1 : 0, { Host });
        count('supervisorQuarantinedChildren', health.children.quarantined, { Host });
      }
    } else if (parsed.kind === 'child') {
      const child = parsed.detail;
      outcome = await options.supervisorStore.putChildEvent(child);
      if (outcome === 'stored') {
        const Host = metricDimensionValue(child.host);
        if (child.event === 'exited') {
          if (child.exit) count('supervisorChildExits', 1, { ExitKind: child.exit.kind, Host });
          else logger.warn('exit without a TaskExit not counted', { eventId: child.id });
        }
        if (child.event === 'quarantined') count('supervisorChildQuarantines', 1, { Host });
      }
    } else {
      const event = parsed;
      outcome = await store.put(event.detail);
      if (outcome === 'stored' && event.kind === 'stall') {
        count('runnerStalls', 1, {
          RootCause: event.detail.rootCause,
          CommandType: metricDimensionValue(event.detail.commandType),
          Host: metricDimensionValue(event.detail.host),
        });
      }
    }
    if (outcome === 'duplicate') {
      logger.info('agent event duplicate dropped', { kind, eventId: detail.id });
    } else {
      logger.info(outcome === 'stale' ? 'agent event older than the latest' : 'agent event stored', {
        kind,
        eventId: detail.id,
        environment: detail.environment,
      });
    }
    return { outcome, kind, eventId: detail.id };
  };
}

type ParsedBusEvent =
  | ({ readonly outcome: 'valid' } & ParsedAgentEvent)
  | {
      readonly outcome: 'rejected';
      readonly reason: RunnerEventRejectReason;
      readonly rationale: string;
    };

/**
 * Validates an EventBridge event carrying an agent event: envelope, source and
 * detail type, the detail's schema, then its environment.
 *
 * @example
 * parseBusEvent({ source: 'runlane.agent', 'detail-type': 'RunnerStall', detail: {} }).outcome; // 'rejected'
 */
export function parseBusEvent(event: unknown, expectedEnvironment?: string): ParsedBusEvent {
  const reject = (reason: RunnerEventRejectReason, rationale: string): ParsedBusEvent => ({
    outcome: 'rejected',
    reason,
    rationale: rationale.slice(0, MAX_RATIONALE_CHARS),
  });
  if (!isRecord(event)) return reject(RUNNER_EVENT_REJECT_REASONS.invalidEvent, 'event is not an object');
  const detailType = event['detail-type'];
  const missing = ['source', 'detail-type', 'detail'].filter((field) => event[field] === undefined);
  if (missing.length > 0) {
    return reject(RUNNER_EVENT_REJECT_REASONS.invalidEvent, `event has no ${missing.join(', ')}`);
  }
  const entry =
    typeof detailType === 'string' && Object.hasOwn(SCHEMAS, detailType) ? SCHEMAS[detailType] : undefined;
  if (event.source !== AGENT_EVENT_SOURCE || !entry) {
    return reject(
      RUNNER_EVENT_REJECT_REASONS.unknownDetailType,
      `source ${JSON.stringify(event.source)} with detail-type ${JSON.stringify(detailType)} is not an agent event (${AGENT_EVENT_SOURCE}: ${INGESTED_DETAIL_TYPES.join(', ')})`,
    );
  }
  const result = entry.schema.safeParse(event.detail);
  if (!result.success) {
    return reject(
      RUNNER_EVENT_REJECT_REASONS.invalidDetail,
      result.error.issues
        .map((issue) => `${['detail', ...issue.path.map(String)].join('.')}: ${issue.message}`)
        .join('; '),
    );
  }
  if (expectedEnvironment !== undefined && result.data.environment !== expectedEnvironment) {
    return reject(
      RUNNER_EVENT_REJECT_REASONS.environmentMismatch,
      `detail.environment: "${result.data.environment}" sent to the bus of environment "${expectedEnvironment}"`,
    );
  }
  return { outcome: 'valid', ...({ kind: entry.kind, detail: result.data } as ParsedAgentEvent) };
}

/**
 * When an agent event is counted (a stall, a health report, a child event): its own `ts`; now when `ts` is too far ahead (a
 * skewed agent clock); undefined when CloudWatch would drop it as too old.
 *
 * @example
 * stallMetricTimestamp('2030-01-01T00:00:00Z', new Date('2025-01-01')); // 2025-01-01 (now)
 */
export function stallMetricTimestamp(ts: string, now: Date): Date | undefined {
  const at = Date.parse(ts);
  if (at > now.getTime() + STALL_METRIC_TIME_LIMITS.maxAheadMs) return now;
  if (at < now.getTime() - STALL_METRIC_TIME_LIMITS.maxAgeMs) return undefined;
  return new Date(at);
}
