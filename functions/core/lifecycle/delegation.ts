import {
  MAX_INLINE_SIGNALS,
  RUN_STATUS,
  type RunRecord,
  SIGNAL_TYPES,
  type Signal,
  type Stage,
} from '#contracts/lifecycle.js';
import { DELEGATED_STAGE } from './run.js';

/**
 * The pure transitions of a delegated run (`completeRun` with a `Running` outcome left it Running
 * with `delegation` and an open `delegated` stage): finished from its worker's reconciled result,
 * or expired at `delegation.deadlineAt` when no result came. Both close the `delegated` stage and
 * drop `delegation`, so the run is no longer waiting on a worker host. Storage adapters persist
 * the returned run conditionally (only while the run is Running and delegated to the same task).
 */

/** Outcome codes of the closed `delegated` stage. */
export const DELEGATED_OUTCOME_CODES = {
  succeeded: 'worker_task_succeeded',
  failed: 'worker_task_failed',
  missing: SIGNAL_TYPES.workerResultMissing,
} as const;

/**
 * True when `run` waits on the worker task `taskId`: Running, with a delegation naming that task.
 *
 * @example
 * isDelegatedTo(run, task.taskId); // true until the result is reconciled or the deadline passes
 */
export function isDelegatedTo(run: RunRecord, taskId: string): boolean {
  return run.status === RUN_STATUS.Running && run.delegation?.taskId === taskId;
}

/** True when `run` is delegated and its result deadline is at or before `now`. */
export function isDelegationDue(run: RunRecord, now: Date): boolean {
  return (
    run.status === RUN_STATUS.Running &&
    run.delegation !== undefined &&
    Date.parse(run.delegation.deadlineAt) <= now.getTime()
  );
}

/** What the worker reported, as the run needs it. */
export interface DelegatedResult {
  readonly taskId: string;
  readonly status: 'succeeded' | 'failed';
  /** The worker's error code of a failed task (the signal's `code`). @default 'worker_task_failed' */
  readonly errorCode?: string;
  /** One line saying who ran what and how it ended. */
  readonly rationale: string;
}

/**
 * The delegated run once its worker's `execution_result` is reconciled: `succeeded` → Completed;
 * `failed` → NeedsReview with a `worker_task_failed` signal (RequiresHumanReview, `code` the
 * worker's error code) — fail closed, as everywhere else. Throws when `run` is not delegated to
 * `result.taskId` (the caller checks with {@link isDelegatedTo}).
 *
 * @example
 * const done = finishDelegatedRun(run, { taskId, status: 'succeeded', rationale: 'task … succeeded in 12 ms' }, now);
 * done.status; // 'Completed'
 */
export function finishDelegatedRun(run: RunRecord, result: DelegatedResult, now: Date): RunRecord {
  assertDelegatedTo(run, result.taskId);
  const at = now.toISOString();
  const failed = result.status === 'failed';
  const outcomeCode = failed ? DELEGATED_OUTCOME_CODES.failed : DELEGATED_OUTCOME_CODES.succeeded;
  const closed = closeDelegatedStage(run, at, outcomeCode, result.rationale);
  const { result: previous } = closed;
  const withResult: RunRecord = {
    ...closed,
    result: { ...previous, taskId: result.taskId, taskStatus: result.status },
  };
  if (!failed) return { ...withResult, status: RUN_STATUS.Completed };
  return toReview(
    withResult,
    {
      type: SIGNAL_TYPES.workerTaskFailed,
      RequiresHumanReview: true,
      code: result.errorCode ?? SIGNAL_TYPES.workerTaskFailed,
      rationale: result.rationale,
      raisedAt: at,
      attempt: run.attempts,
    },
    at,
  );
}

/**
 * The delegated run whose result did not arrive by `delegation.deadlineAt`: NeedsReview with a
 * `worker_result_missing` signal (RequiresHumanReview). Throws when the run is not delegated to
 * `taskId` or its deadline is still ahead of `now`.
 *
 * @example
 * const expired = expireDelegatedRun(run, run.delegation.taskId, now);
 * expired.signals.at(-1)?.type; // 'worker_result_missing'
 */
export function expireDelegatedRun(run: RunRecord, taskId: string, now: Date): RunRecord {
  assertDelegatedTo(run, taskId);
  if (!isDelegationDue(run, now)) {
    throw new Error(
      `command ${run.commandId}: delegation of task ${taskId} is due at ${run.delegation?.deadlineAt}, not yet at ${now.toISOString()}`,
    );
  }
  const at = now.toISOString();
  const delegation = run.delegation;
  const rationale = `no result of task ${taskId} from site ${delegation?.site} by its deadline ${delegation?.deadlineAt}`;
  return toReview(
    closeDelegatedStage(run, at, DELEGATED_OUTCOME_CODES.missing, rationale),
    {
      type: SIGNAL_TYPES.workerResultMissing,
      RequiresHumanReview: true,
      code: SIGNAL_TYPES.workerResultMissing,
      rationale,
      raisedAt: at,
      attempt: run.attempts,
    },
    at,
  );
}

function assertDelegatedTo(run: RunRecord, taskId: string): void {
  if (!isDelegatedTo(run, taskId)) {
    throw new Error(
      `command ${run.commandId} is ${run.status}${run.delegation ? ` delegated to task ${run.delegation.taskId}` : ''}, not waiting on task ${taskId}`,
    );
  }
}

/** The run without `delegation`, its open `delegated` stage closed (added closed if missing). */
function closeDelegatedStage(run: RunRecord, at: string, outcomeCode: string, rationale: string): RunRecord {
  const { delegation: _delegation, ...rest } = run;
  const stages: Stage[] = [...run.stages];
  const index = stages.findLastIndex((stage) => stage.name === DELEGATED_STAGE && !stage.endedAt);
  const open = stages[index];
  if (open) {
    stages[index] = { ...open, endedAt: at, outcomeCode, rationale };
  } else {
    stages.push({
      name: DELEGATED_STAGE,
      attempt: run.attempts,
      startedAt: at,
      endedAt: at,
      outcomeCode,
      rationale,
    });
  }
  return { ...rest, stages, updatedAt: at };
}

function toReview(run: RunRecord, signal: Signal, at: string): RunRecord {
  return {
    ...run,
    status: RUN_STATUS.NeedsReview,
    signals: [...run.signals, signal].slice(-MAX_INLINE_SIGNALS),
    needsReviewSince: run.needsReviewSince ?? at,
  };
}
