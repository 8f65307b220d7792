import {
  MAX_INLINE_SIGNALS,
  RUN_STATUS,
  type RunRecord,
  SIGNAL_TYPES,
  type Signal,
  type Stage,
} from '#contracts/lifecycle.js';
import {
  type ExecutionResultPayload,
  resultIdempotencyKey,
  type WorkerResultEnvelope,
} from '#contracts/worker-contract.js';
import { finishDelegatedRun, isDelegatedTo } from '../lifecycle/delegation.js';
import { actionForTaskInput } from './delegation.js';
import type { WorkerTaskRecord } from './ports.js';

/**
 * Reconciling a delegated task's `execution_result` (seed 004 "Control plane reconciles status
 * back into worker_tasks, action_history, todo_steps"): the pure part. The store writes the three
 * results of these functions in one transaction with the result envelope, so a resend is a
 * duplicate and a retry never half-applies.
 */
export type ExecutionResultEnvelope = Extract<WorkerResultEnvelope, { payload_type: 'execution_result' }>;

/** The stage a reconciled result adds to the run of the task's command. */
export const WORKER_RESULT_STAGE = 'worker_result';
export const WORKER_RESULT_OUTCOME_CODES = {
  succeeded: 'worker_task_succeeded',
  failed: 'worker_task_failed',
} as const;

/**
 * The error code of a task the worker sweep closed because its run's result deadline passed
 * (`DelegationDeadlines.expireOverdue`): the task is `failed` with it and no result key.
 */
export const RESULT_MISSING_ERROR_CODE = SIGNAL_TYPES.workerResultMissing;

/**
 * True for a claimed task the sweep closed at its deadline: its claimant's late result is still
 * reconciled (task, action history, a `worker_result` stage on the run, which stays NeedsReview).
 */
export function isExpiredClaimedTask(task: WorkerTaskRecord): boolean {
  return (
    task.status === 'failed' &&
    task.errorCode === RESULT_MISSING_ERROR_CODE &&
    task.resultKey === undefined &&
    task.claimedBy !== undefined
  );
}

export type ReconcileRefusal =
  /** The task is `queued` (never claimed) or already finished (but for a late result, see {@link isExpiredClaimedTask}). */
  | 'not_executing'
  /** Another worker holds the claim. */
  | 'not_claimant'
  /** The result is of another attempt than the task's. */
  | 'other_attempt';

/**
 * Whether this `execution_result` may finish the task: it must be `executing` (or closed by the
 * sweep at its deadline after a claim: a late result), claimed by the envelope's worker, at the
 * envelope's attempt. A refused result is still stored once (its key is then what "Tasks stuck in
 * executing" finds), but changes nothing.
 */
export function reconcileRefusal(
  task: WorkerTaskRecord,
  envelope: Pick<ExecutionResultEnvelope, 'worker_id' | 'attempt'>,
): ReconcileRefusal | undefined {
  if (task.status !== 'executing' && !isExpiredClaimedTask(task)) return 'not_executing';
  if (task.claimedBy !== envelope.worker_id) return 'not_claimant';
  if (task.attempt !== envelope.attempt) return 'other_attempt';
  return undefined;
}

/** The task once its result is in: `succeeded` | `failed`, with the result's key. */
export function finishTask(
  task: WorkerTaskRecord,
  envelope: ExecutionResultEnvelope,
  now: Date,
): WorkerTaskRecord {
  const payload = envelope.payload;
  const { errorCode: _previous, ...rest } = task;
  return {
    ...rest,
    status: payload.status,
    finishedAt: now.toISOString(),
    resultKey: resultIdempotencyKey(envelope),
    ...(payload.status === 'failed' ? { errorCode: payload.errorCode ?? 'worker_task_failed' } : {}),
  };
}

/**
 * The run of the task's command once the result is in. A run waiting on this task (Running, its
 * `delegation` naming it) is finished (`finishDelegatedRun`): its `delegated` stage closed,
 * `succeeded` → Completed, `failed` → NeedsReview with `worker_task_failed`. Any other run (one
 * the sweep already turned NeedsReview at its deadline, or one delegated before runs waited) gets
 * a `worker_result` stage appended; a failed task also raises `worker_task_failed`
 * (RequiresHumanReview) and moves it to NeedsReview — fail closed, as everywhere else — while a
 * success leaves its status as it was.
 */
export function reconcileRun(
  run: RunRecord,
  task: WorkerTaskRecord,
  envelope: ExecutionResultEnvelope,
  now: Date,
): RunRecord {
  const at = now.toISOString();
  const payload = envelope.payload;
  const failed = payload.status === 'failed';
  const rationale = resultRationale(task, envelope);
  if (isDelegatedTo(run, task.taskId)) {
    return finishDelegatedRun(
      run,
      {
        taskId: task.taskId,
        status: payload.status,
        ...(failed ? { errorCode: payload.errorCode ?? SIGNAL_TYPES.workerTaskFailed } : {}),
        rationale,
      },
      now,
    );
  }
  const stage: Stage = {
    name: WORKER_RESULT_STAGE,
    attempt: run.attempts,
    startedAt: task.claimedAt ?? task.queuedAt,
    endedAt: at,
    outcomeCode: failed ? WORKER_RESULT_OUTCOME_CODES.failed : WORKER_RESULT_OUTCOME_CODES.succeeded,
    rationale,
  };
  const signal: Signal | undefined = failed
    ? {
        type: SIGNAL_TYPES.workerTaskFailed,
        RequiresHumanReview: true,
        code: payload.errorCode ?? SIGNAL_TYPES.workerTaskFailed,
        rationale,
        raisedAt: at,
        attempt: run.attempts,
      }
    : undefined;
  return {
    ...run,
    stages: [...run.stages, stage],
    ...(signal
      ? {
          signals: [...run.signals, signal].slice(-MAX_INLINE_SIGNALS),
          status: RUN_STATUS.NeedsReview,
          needsReviewSince: run.needsReviewSince ?? at,
        }
      : {}),
    result: { ...run.result, taskId: task.taskId, taskStatus: payload.status },
    updatedAt: at,
  };
}

/** The action history entry of a reconciled task (one per approved action, like an in-process execution). */
export interface WorkerActionHistoryEntry {
  /** `<commandId>:<approvalId>`: the key an in-process execution of the same approval would use. */
  readonly idempotencyKey: string;
  readonly householdId: string;
  readonly approvalId: string;
  readonly commandId: string;
  readonly action: string;
  readonly parameters: Readonly<Record<string, unknown>>;
  readonly executedAt: string;
  readonly worker: {
    readonly taskId: string;
    readonly attempt: number;
    readonly kind: string;
    readonly workerId: string;
    readonly site: string;
    readonly status: ExecutionResultPayload['status'];
    readonly errorCode?: string;
    readonly resultKey: string;
    readonly durationMs: number;
  };
}

export function workerActionHistoryEntry(
  task: WorkerTaskRecord,
  envelope: ExecutionResultEnvelope,
  now: Date,
): WorkerActionHistoryEntry {
  const { message } = task;
  const approvalId = message.approvalId ?? `task-${task.taskId}`;
  const input = message.input;
  return {
    idempotencyKey: `${message.commandId}:${approvalId}`,
    householdId: message.householdId,
    approvalId,
    commandId: message.commandId,
    action: actionForTaskInput(input),
    parameters:
      input.kind === 'execute_action'
        ? input.parameters
        : input.kind === 'execute_script'
          ? { script: input.script }
          : input.facts
            ? { facts: input.facts.join(',') }
            : {},
    executedAt: now.toISOString(),
    worker: {
      taskId: task.taskId,
      attempt: task.attempt,
      kind: input.kind,
      workerId: envelope.worker_id,
      site: task.site,
      status: envelope.payload.status,
      ...(envelope.payload.status === 'failed'
        ? { errorCode: envelope.payload.errorCode ?? 'worker_task_failed' }
        : {}),
      resultKey: resultIdempotencyKey(envelope),
      durationMs: envelope.payload.durationMs,
    },
  };
}

function resultRationale(task: WorkerTaskRecord, envelope: ExecutionResultEnvelope): string {
  const payload = envelope.payload;
  const late = isExpiredClaimedTask(task) ? ', after its deadline' : '';
  const where = `task ${task.taskId} (${task.message.input.kind}) on ${envelope.worker_id}@${task.site}${late}`;
  if (payload.status === 'succeeded') return `${where} succeeded in ${payload.durationMs} ms`;
  const code = payload.errorCode ?? 'worker_task_failed';
  const detail = payload.error ? `: ${payload.error.slice(0, 200)}` : '';
  const exit =
    payload.exitCode !== undefined && payload.exitCode !== null ? ` (exit ${payload.exitCode})` : '';
  return `${where} failed with ${code}${exit}${detail}`;
}
