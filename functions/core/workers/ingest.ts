import { resultIdempotencyKey, WORKER_DETAIL_TYPES } from '#contracts/worker-contract.js';
import type { Clock } from '../base/clock.js';
import type { WorkerRegistry, WorkerTaskStore } from './ports.js';
import { parseWorkerHeartbeat, parseWorkerResultEnvelope, type WorkerFieldIssue } from './validation.js';

/**
 * The bus ingest of worker events (source `runlane.agent`, detail types `WorkerHeartbeat` and
 * `WorkerResult`): heartbeats go to the registry, result envelopes to the task store (which
 * reconciles an `execution_result`). The same validation as `/api/workers/*`, so a refused
 * envelope is refused on both paths with the same reason. Wiring it to a Lambda is a matter of
 * passing `{ detailType: event['detail-type'], detail: event.detail }`, dead-lettering
 * `rejected` and throwing on `retry`.
 */
export const WORKER_INGEST_REJECT_REASONS = [
  'unknown_detail_type',
  'invalid_heartbeat',
  'invalid_envelope',
  'unknown_payload_type',
  'wrong_environment',
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
}

/**
 * @example
 * const outcome = await ingestWorkerEvent({ detailType: 'WorkerHeartbeat', detail }, { environment, tasks, registry, clock });
 * if (outcome.outcome === 'rejected') await deadLetters.send({ reason: outcome.reason, rationale: outcome.rationale });
 */
export async function ingestWorkerEvent(
  event: { readonly detailType: string; readonly detail: unknown },
  deps: WorkerIngestDependencies,
): Promise<WorkerIngestOutcome> {
  if (event.detailType === WORKER_DETAIL_TYPES.heartbeat) {
    const parsed = parseWorkerHeartbeat(event.detail, 'detail', deps.environment);
    if (!parsed.ok) return rejected(parsed.code as WorkerIngestRejectReason, parsed.issues);
    await deps.registry.recordHeartbeat(parsed.value);
    return { outcome: 'heartbeat_recorded', workerId: parsed.value.worker_id };
  }
  if (event.detailType === WORKER_DETAIL_TYPES.result) {
    const parsed = parseWorkerResultEnvelope(event.detail, 'detail', deps.environment);
    if (!parsed.ok) return rejected(parsed.code as WorkerIngestRejectReason, parsed.issues);
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
