import { describe, expect, it } from 'vitest';
import { KEY_STATUS, MAX_INLINE_SIGNALS, RUN_STATUS, type RunRecord } from '#contracts/lifecycle.js';
import { DELEGATED_STAGE } from '#core/lifecycle/run.js';
import type { WorkerTaskRecord } from '#core/workers/ports.js';
import {
  finishTask,
  isExpiredClaimedTask,
  reconcileRefusal,
  reconcileRun,
  workerActionHistoryEntry,
} from '#core/workers/reconcile.js';
import { anExecutionResult, aTaskMessage } from '../support/worker-fixtures.js';

const NOW = new Date('2026-01-01T00:00:06.000Z');

function anExecutingTask(overrides: Partial<WorkerTaskRecord> = {}): WorkerTaskRecord {
  const message = aTaskMessage({ input: { kind: 'execute_script', script: 'disk-report', args: [] } });
  return {
    taskId: message.taskId,
    attempt: 1,
    site: 'lab',
    status: 'executing',
    message,
    queuedAt: message.queuedAt,
    claimedBy: 'worker-1',
    claimedAt: '2026-01-01T00:00:01.000Z',
    ...overrides,
  };
}

function aCompletedRun(task: WorkerTaskRecord, overrides: Partial<RunRecord> = {}): RunRecord {
  return {
    runId: task.message.commandId,
    commandId: task.message.commandId,
    commandType: 'agent.approval.decided',
    lane: 'runtime-agent-message-posted',
    correlationId: task.message.correlationId,
    householdId: 'hh-1',
    issuedAt: '2026-01-01T00:00:00.000Z',
    status: RUN_STATUS.Completed,
    keyStatus: KEY_STATUS.Completed,
    FinalizedAtUtc: '2026-01-01T00:00:00.500Z',
    attempts: 1,
    stages: [
      {
        name: 'execute',
        attempt: 1,
        startedAt: '2026-01-01T00:00:00.000Z',
        endedAt: '2026-01-01T00:00:00.500Z',
        outcomeCode: 'action_delegated',
        rationale: 'delegated',
      },
    ],
    signals: [],
    result: { approvalId: 'a', taskId: task.taskId },
    createdAt: '2026-01-01T00:00:00.000Z',
    updatedAt: '2026-01-01T00:00:00.500Z',
    expiresAt: 1_800_000_000,
    ...overrides,
  };
}

describe('reconcileRefusal', () => {
  it('accepts the claimant’s result for the executing attempt only', () => {
    const task = anExecutingTask();
    expect(reconcileRefusal(task, { worker_id: 'worker-1', attempt: 1 })).toBeUndefined();
    expect(reconcileRefusal(task, { worker_id: 'worker-2', attempt: 1 })).toBe('not_claimant');
    expect(reconcileRefusal(task, { worker_id: 'worker-1', attempt: 2 })).toBe('other_attempt');
    expect(reconcileRefusal({ ...task, status: 'queued' }, { worker_id: 'worker-1', attempt: 1 })).toBe(
      'not_executing',
    );
    expect(reconcileRefusal({ ...task, status: 'succeeded' }, { worker_id: 'worker-1', attempt: 1 })).toBe(
      'not_executing',
    );
  });

  it('still accepts the claimant’s late result for a task the sweep closed at its deadline', () => {
    const expired = anExecutingTask({ status: 'failed', errorCode: 'worker_result_missing' });
    expect(isExpiredClaimedTask(expired)).toBe(true);
    expect(reconcileRefusal(expired, { worker_id: 'worker-1', attempt: 1 })).toBeUndefined();
    expect(reconcileRefusal(expired, { worker_id: 'worker-2', attempt: 1 })).toBe('not_claimant');
    // Closed while still queued (never claimed), or a failure the worker reported: nothing more to take.
    const { claimedBy: _c, ...unclaimed } = expired;
    expect(reconcileRefusal(unclaimed, { worker_id: 'worker-1', attempt: 1 })).toBe('not_executing');
    const reported = { ...expired, resultKey: `${expired.taskId}#1#execution_result` };
    expect(reconcileRefusal(reported, { worker_id: 'worker-1', attempt: 1 })).toBe('not_executing');
  });
});

describe('finishTask', () => {
  it('moves the task to the result’s status with its key and, for a failure, its error code', () => {
    const task = anExecutingTask();
    expect(finishTask(task, anExecutionResult(task), NOW)).toMatchObject({
      status: 'succeeded',
      finishedAt: NOW.toISOString(),
      resultKey: `${task.taskId}#1#execution_result`,
    });
    const failed = finishTask(
      task,
      anExecutionResult(task, { payload: { status: 'failed', errorCode: 'exit_code' } }),
      NOW,
    );
    expect(failed).toMatchObject({ status: 'failed', errorCode: 'exit_code' });
    expect(finishTask(task, anExecutionResult(task, { payload: { status: 'failed' } }), NOW).errorCode).toBe(
      'worker_task_failed',
    );
  });
});

describe('reconcileRun of a run waiting on the task (Running, delegated)', () => {
  function aWaitingRun(task: WorkerTaskRecord): RunRecord {
    return aCompletedRun(task, {
      status: RUN_STATUS.Running,
      stages: [
        ...aCompletedRun(task).stages,
        { name: DELEGATED_STAGE, attempt: 1, startedAt: '2026-01-01T00:00:00.500Z' },
      ],
      delegation: { taskId: task.taskId, site: 'lab', deadlineAt: '2026-01-01T01:00:00.500Z' },
    });
  }

  it('finishes it: Completed, the delegated stage closed with worker_task_succeeded, no worker_result stage', () => {
    const task = anExecutingTask();
    const next = reconcileRun(aWaitingRun(task), task, anExecutionResult(task), NOW);
    expect(next.status).toBe('Completed');
    expect(next.delegation).toBeUndefined();
    expect(next.stages.map((stage) => [stage.name, stage.outcomeCode])).toEqual([
      ['execute', 'action_delegated'],
      [DELEGATED_STAGE, 'worker_task_succeeded'],
    ]);
    expect(next.stages.at(-1)?.rationale).toBe(
      `task ${task.taskId} (execute_script) on worker-1@lab succeeded in 120 ms`,
    );
    expect(next.result).toEqual({ approvalId: 'a', taskId: task.taskId, taskStatus: 'succeeded' });
  });

  it('a failed task: NeedsReview with worker_task_failed carrying the worker’s error code', () => {
    const task = anExecutingTask();
    const envelope = anExecutionResult(task, { payload: { status: 'failed', errorCode: 'timeout' } });
    const next = reconcileRun(aWaitingRun(task), task, envelope, NOW);
    expect(next.status).toBe('NeedsReview');
    expect(next.stages.at(-1)).toMatchObject({ name: DELEGATED_STAGE, outcomeCode: 'worker_task_failed' });
    expect(next.signals).toEqual([
      expect.objectContaining({ type: 'worker_task_failed', RequiresHumanReview: true, code: 'timeout' }),
    ]);
  });

  it('a late result on a run the deadline already moved to NeedsReview: a worker_result stage, still NeedsReview', () => {
    const task = anExecutingTask({ status: 'failed', errorCode: 'worker_result_missing' });
    const run = aCompletedRun(task, { status: RUN_STATUS.NeedsReview, needsReviewSince: 'earlier' });
    const next = reconcileRun(run, task, anExecutionResult(task), NOW);
    expect(next.status).toBe('NeedsReview');
    expect(next.stages.at(-1)).toMatchObject({
      name: 'worker_result',
      outcomeCode: 'worker_task_succeeded',
      rationale: expect.stringContaining('after its deadline'),
    });
  });
});

describe('reconcileRun', () => {
  it('appends a worker_result stage to a completed run and keeps it Completed on success', () => {
    const task = anExecutingTask();
    const run = aCompletedRun(task);
    const next = reconcileRun(run, task, anExecutionResult(task), NOW);
    expect(next.status).toBe('Completed');
    expect(next.stages).toHaveLength(2);
    expect(next.stages[1]).toEqual({
      name: 'worker_result',
      attempt: 1,
      startedAt: task.claimedAt,
      endedAt: NOW.toISOString(),
      outcomeCode: 'worker_task_succeeded',
      rationale: `task ${task.taskId} (execute_script) on worker-1@lab succeeded in 120 ms`,
    });
    expect(next.signals).toEqual([]);
    expect(next.result).toEqual({ approvalId: 'a', taskId: task.taskId, taskStatus: 'succeeded' });
    expect(next.updatedAt).toBe(NOW.toISOString());
  });

  it('fails closed on a failed task: NeedsReview with worker_task_failed (RequiresHumanReview)', () => {
    const task = anExecutingTask();
    const envelope = anExecutionResult(task, {
      payload: { status: 'failed', errorCode: 'exit_code', exitCode: 3, error: 'disk full' },
    });
    const next = reconcileRun(aCompletedRun(task), task, envelope, NOW);
    expect(next.status).toBe('NeedsReview');
    expect(next.needsReviewSince).toBe(NOW.toISOString());
    expect(next.stages.at(-1)).toMatchObject({
      outcomeCode: 'worker_task_failed',
      rationale: `task ${task.taskId} (execute_script) on worker-1@lab failed with exit_code (exit 3): disk full`,
    });
    expect(next.signals).toEqual([
      {
        type: 'worker_task_failed',
        RequiresHumanReview: true,
        code: 'exit_code',
        rationale: expect.stringContaining('failed with exit_code'),
        raisedAt: NOW.toISOString(),
        attempt: 1,
      },
    ]);
  });

  it('keeps an earlier needsReviewSince and at most MAX_INLINE_SIGNALS signals inline', () => {
    const task = anExecutingTask();
    const signal = {
      type: 'x',
      RequiresHumanReview: true,
      code: 'x',
      rationale: 'x',
      raisedAt: 'r',
      attempt: 1,
    };
    const run = aCompletedRun(task, {
      status: 'NeedsReview',
      needsReviewSince: '2025-12-31T00:00:00.000Z',
      signals: Array.from({ length: MAX_INLINE_SIGNALS }, () => signal),
    });
    const next = reconcileRun(run, task, anExecutionResult(task, { payload: { status: 'failed' } }), NOW);
    expect(next.needsReviewSince).toBe('2025-12-31T00:00:00.000Z');
    expect(next.signals).toHaveLength(MAX_INLINE_SIGNALS);
    expect(next.signals.at(-1)?.type).toBe('worker_task_failed');
  });
});

describe('workerActionHistoryEntry', () => {
  it('records the approval’s action under the key an in-process execution would use, with the worker’s outcome', () => {
    const task = anExecutingTask();
    expect(workerActionHistoryEntry(task, anExecutionResult(task), NOW)).toEqual({
      idempotencyKey: `${task.message.commandId}:${task.message.approvalId}`,
      householdId: 'hh-1',
      approvalId: task.message.approvalId,
      commandId: task.message.commandId,
      action: 'run_script',
      parameters: { script: 'disk-report' },
      executedAt: NOW.toISOString(),
      worker: {
        taskId: task.taskId,
        attempt: 1,
        kind: 'execute_script',
        workerId: 'worker-1',
        site: 'lab',
        status: 'succeeded',
        resultKey: `${task.taskId}#1#execution_result`,
        durationMs: 120,
      },
    });
  });
});
