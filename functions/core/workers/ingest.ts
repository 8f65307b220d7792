import { resultIdempotencyKey, WORKER_DETAIL_TYPES } from '#contracts/worker-contract.js';
import type { Clock } from '../base/clock.js';
import type { WorkerLogger } from '../lifecycle/lane-worker.js';
import type { RunnerEventDeadLetterSink } from '../runner/ports.js';
import { parseWorkerBusEvent, workerEventDeadLetter } from './bus-event.js';
import { WorkerResultNotYetAcceptedError } from './errors.js';
import type { WorkerRegistry, WorkerTaskStore } from './ports.js';
import {
  clockSkewIssue,
  DEFAULT_WORKER_CLOCK_SKEW_SECONDS,
  parseWorkerHeartbeat,
  parseWorkerResultEnvelope,
  type WorkerFieldIssue,
} from './validation.js';

/**
 * The bus ingest of worker events (source `runlane.agent`, detail types `WorkerHeartbeat` and
 * `WorkerResult`): heartbeats go to the registry, result envelopes to the task store (which
 * reconciles an `execution_result`). The same validation as `/api/workers/*`, so a refused
 * envelope is refused on both paths with the same reason. `ingestWorkerEvent` takes the detail
 * type and detail; `createWorkerEventIngest` takes the whole EventBridge event, dead-letters what
 * it refuses and throws on `retry` (the Lambda handler and the local stack wire it).
 */
export const WORKER_INGEST_REJECT_REASONS = [
  'unknown_detail_type',
  'invalid_heartbeat',
  'invalid_envelope',
  'unknown_payload_type',
  'wrong_environment',
  /** `detail.ts` too far ahead of the event's receipt (or, for a heartbeat, behind it). */
  'clock_skew',
  'unknown_task',
] as const;
export type WorkerIngestRejectReason = (typeof WORKER_INGEST_REJECT_REASONS)[number];

export type WorkerIngestOutcome =
  | { readonly outcome: 'heartbeat_recorded'; readonly workerId: string }
  | {
      readonly outcome: 'result_recorded';
      readonly key: string;
      readonly duplicate: boolean;
      readonly reconciled: boolean;
    }
  | {
      readonly outcome: 'rejected';
      readonly reason: WorkerIngestRejectReason;
      /** What was wrong, with field paths under `detail`. */
      readonly rationale: string;
      readonly issues: readonly WorkerFieldIssue[];
    }
  /** Nothing stored; deliver again later (the task's command is still being executed). */
  | { readonly outcome: 'retry'; readonly reason: 'run_in_progress'; readonly key: string };

export interface WorkerIngestDependencies {
  readonly environment: string;
  readonly tasks: Pick<WorkerTaskStore, 'recordResult'>;
  readonly registry: Pick<WorkerRegistry, 'recordHeartbeat'>;
  readonly clock: Clock;
  /**
   * `WORKER_CLOCK_SKEW_SECONDS`, as on the API: a `ts` further ahead of the event's receipt is
   * refused (`clock_skew`), and a heartbeat's this far behind it.
   * @default DEFAULT_WORKER_CLOCK_SKEW_SECONDS (300)
   */
  readonly clockSkewSeconds?: number;
}

/**
 * @example
 * const outcome = await ingestWorkerEvent({ detailType: 'WorkerHeartbeat', detail }, { environment, tasks, registry, clock });
 * if (outcome.outcome === 'rejected') await deadLetters.send({ reason: outcome.reason, rationale: outcome.rationale });
 */
export async function ingestWorkerEvent(
  event: {
    readonly detailType: string;
    readonly detail: unknown;
    /** When EventBridge received it (`receiptTimeOf`). @default deps.clock.now() */
    readonly receivedAt?: Date;
  },
  deps: WorkerIngestDependencies,
): Promise<WorkerIngestOutcome> {
  const receivedAt = event.receivedAt ?? deps.clock.now();
  const skewMs = (deps.clockSkewSeconds ?? DEFAULT_WORKER_CLOCK_SKEW_SECONDS) * 1000;
  const skewed = (ts: string, refusePast: boolean) =>
    clockSkewIssue(ts, receivedAt, { skewMs, refusePast, fieldPath: 'detail.ts' });
  if (event.detailType === WORKER_DETAIL_TYPES.heartbeat) {
    const parsed = parseWorkerHeartbeat(event.detail, 'detail', deps.environment);
    if (!parsed.ok) return rejected(parsed.code as WorkerIngestRejectReason, parsed.issues);
    const skew = skewed(parsed.value.ts, true);
    if (skew) return rejected('clock_skew', [skew]);
    await deps.registry.recordHeartbeat(parsed.value);
    return { outcome: 'heartbeat_recorded', workerId: parsed.value.worker_id };
  }
  if (event.detailType === WORKER_DETAIL_TYPES.result) {
    const parsed = parseWorkerResultEnvelope(event.detail, 'detail', deps.environment);
    if (!parsed.ok) return rejected(parsed.code as WorkerIngestRejectReason, parsed.issues);
    // Results may come late from the spool after an outage: only a `ts` ahead of receipt is refused.
    const skew = skewed(parsed.value.ts, false);
    if (skew) return rejected('clock_skew', [skew]);
    const key = resultIdempotencyKey(parsed.value);
    const recorded = await deps.tasks.recordResult(parsed.value, deps.clock.now());
    switch (recorded.outcome) {
      case 'recorded':
        return {
          outcome: 'result_recorded',
          key,
          duplicate: false,
          reconciled: recorded.reconciled ?? false,
        };
      case 'duplicate':
        return { outcome: 'result_recorded', key, duplicate: true, reconciled: false };
      case 'unknown_task':
        return rejected('unknown_task', [
          { fieldPath: 'detail.task_id', message: `no task ${parsed.value.task_id ?? ''}` },
        ]);
      case 'run_in_progress':
        return { outcome: 'retry', reason: 'run_in_progress', key };
    }
  }
  return rejected('unknown_detail_type', [
    {
      fieldPath: 'detail-type',
      message: `"${event.detailType}" is not ${WORKER_DETAIL_TYPES.heartbeat} or ${WORKER_DETAIL_TYPES.result}`,
    },
  ]);
}

function rejected(
  reason: WorkerIngestRejectReason,
  issues: readonly WorkerFieldIssue[],
): WorkerIngestOutcome {
  return {
    outcome: 'rejected',
    reason,
    rationale: issues.map((issue) => `${issue.fieldPath}: ${issue.message}`).join('; '),
    issues,
  };
}

/** Why the bus ingest refused an event: the detail's reasons, and `invalid_event` for what is no EventBridge event at all. */
export type WorkerEventRejectReason = WorkerIngestRejectReason | 'invalid_event';

/** What one bus event did (a `retry` is thrown as {@link WorkerResultNotYetAcceptedError}, never returned). */
export type WorkerEventIngestResult =
  | Exclude<WorkerIngestOutcome, { readonly outcome: 'rejected' | 'retry' }>
  | { readonly outcome: 'rejected'; readonly reason: WorkerEventRejectReason; readonly rationale: string };

export interface WorkerEventIngestOptions extends WorkerIngestDependencies {
  /** Where refused events go with their reason (the worker events DLQ). */
  readonly deadLetters: RunnerEventDeadLetterSink;
  readonly logger: WorkerLogger;
}

/**
 * The worker event ingest (target of the `worker-events` rule): one EventBridge event in.
 * - A `WorkerHeartbeat` goes to the registry, a `WorkerResult` to the task store (an
 *   `execution_result` is reconciled into the task, the action history and the run).
 * - A refused event (not an EventBridge event, another source or detail type, a detail failing
 *   the contract, another environment's, an unknown task) is sent to `deadLetters` with `reason`
 *   and `rationale`, and the call resolves: retrying could never help.
 * - `run_in_progress` throws {@link WorkerResultNotYetAcceptedError}; a store or DLQ failure
 *   throws as is. Lambda retries both, then its on-failure destination keeps the event.
 *
 * @example
 * const ingest = createWorkerEventIngest({ environment, tasks, registry, clock, deadLetters, logger });
 * await ingest(eventBridgeEvent); // { outcome: 'heartbeat_recorded', workerId: 'w-1' }
 */
export function createWorkerEventIngest(
  options: WorkerEventIngestOptions,
): (event: unknown) => Promise<WorkerEventIngestResult> {
  const { deadLetters, logger } = options;
  return async (event) => {
    const envelope = parseWorkerBusEvent(event);
    const outcome =
      envelope.outcome === 'rejected'
        ? envelope
        : await ingestWorkerEvent(
            {
              detailType: envelope.detailType,
              detail: envelope.detail,
              receivedAt: receiptTimeOf(event, options.clock.now()),
            },
            options,
          );
    switch (outcome.outcome) {
      case 'rejected': {
        const { reason, rationale } = outcome;
        await deadLetters.send(workerEventDeadLetter(event, reason, rationale));
        logger.warn('worker event refused', { reason, rationale });
        return { outcome: 'rejected', reason, rationale };
      }
      case 'retry':
        logger.info('worker result deferred: run in progress', { key: outcome.key });
        throw new WorkerResultNotYetAcceptedError(outcome.key);
      case 'heartbeat_recorded':
        return outcome;
      case 'result_recorded':
        logger.info('worker result recorded', {
          key: outcome.key,
          duplicate: outcome.duplicate,
          reconciled: outcome.reconciled,
          detail_type: WORKER_DETAIL_TYPES.result,
        });
        return outcome;
    }
  };
}

/**
 * When EventBridge received the event: its `time` (set at PutEvents; a delivery retried later
 * keeps it), never later than `now`. A sender may set `time` itself, so it only ever makes the
 * check stricter: a `time` in the future counts as `now`, and a `time` in the past only moves the
 * window back for its own sender's event.
 *
 * @example
 * receiptTimeOf({ time: '2026-01-01T00:00:00Z' }, new Date('2026-01-01T00:00:05Z')); // 2026-01-01T00:00:00Z
 */
export function receiptTimeOf(event: unknown, now: Date): Date {
  const time = typeof event === 'object' && event !== null ? (event as { time?: unknown }).time : undefined;
  const ms = typeof time === 'string' ? Date.parse(time) : Number.NaN;
  return Number.isNaN(ms) || ms > now.getTime() ? now : new Date(ms);
}
