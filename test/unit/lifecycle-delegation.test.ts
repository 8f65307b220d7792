import { describe, expect, it } from 'vitest';
import { type CommandOutcome, MAX_INLINE_SIGNALS, type RunRecord } from '#contracts/lifecycle.js';
import {
  expireDelegatedRun,
  finishDelegatedRun,
  isDelegatedTo,
  isDelegationDue,
} from '#core/lifecycle/delegation.js';
import { completeRun, DELEGATED_STAGE, newRun } from '#core/lifecycle/run.js';
import { anEnvelope } from '../support/factories.js';

const T0 = new Date('2026-01-01T00:00:00.000Z');
const at = (ms: number) => new Date(T0.getTime() + ms);
const TASK = '0b5c3d2e-1111-4222-8333-444455556666';
const DEADLINE = at(60_000).toISOString();

/** A run as the lane worker leaves an approval whose action went to a worker. */
function aDelegatedRun(): RunRecord {
  const envelope = anEnvelope({ commandType: 'agent.approval.decided' });
  const run = newRun(envelope, {
    attemptId: 'a-1',
    lockExpiresAt: at(30_000).getTime(),
    now: T0,
    expiresAt: 1,
  });
  const outcome: CommandOutcome = {
    status: 'Running',
    outcomeCode: 'action_delegated',
    rationale: 'collect_facts delegated to site lab',
    result: { approvalId: 'apr-1', taskId: TASK },
    delegation: { taskId: TASK, site: 'lab', deadlineAt: DEADLINE },
  };
  return completeRun(run, outcome, at(100));
}

describe('a delegated run (completeRun with a Running outcome)', () => {
  it('waits Running in an open delegated stage, its key Completed', () => {
    const run = aDelegatedRun();
    expect(run).toMatchObject({ status: 'Running', keyStatus: 'Completed', delegation: { taskId: TASK } });
    expect(run.stages.map((s) => [s.name, s.outcomeCode, s.endedAt !== undefined])).toEqual([
      ['execute', 'action_delegated', true],
      [DELEGATED_STAGE, undefined, false],
    ]);
    expect(isDelegatedTo(run, TASK)).toBe(true);
    expect(isDelegatedTo(run, 'another-task')).toBe(false);
    expect(isDelegationDue(run, at(59_999))).toBe(false);
    expect(isDelegationDue(run, at(60_000))).toBe(true);
  });
});

describe('finishDelegatedRun', () => {
  it('a succeeded result: Completed, the delegated stage closed with worker_task_succeeded, delegation gone', () => {
    const done = finishDelegatedRun(
      aDelegatedRun(),
      { taskId: TASK, status: 'succeeded', rationale: 'task ran in 12 ms' },
      at(5_000),
    );
    expect(done.status).toBe('Completed');
    expect(done).not.toHaveProperty('delegation');
    expect(done.stages.at(-1)).toEqual({
      name: DELEGATED_STAGE,
      attempt: 1,
      startedAt: at(100).toISOString(),
      endedAt: at(5_000).toISOString(),
      outcomeCode: 'worker_task_succeeded',
      rationale: 'task ran in 12 ms',
    });
    expect(done.stages).toHaveLength(2);
    expect(done.signals).toEqual([]);
    expect(done.result).toEqual({ approvalId: 'apr-1', taskId: TASK, taskStatus: 'succeeded' });
    expect(done.updatedAt).toBe(at(5_000).toISOString());
    expect(done.needsReviewSince).toBeUndefined();
  });

  it('a failed result: NeedsReview with worker_task_failed (RequiresHumanReview, the worker’s code)', () => {
    const done = finishDelegatedRun(
      aDelegatedRun(),
      { taskId: TASK, status: 'failed', errorCode: 'exit_code', rationale: 'task failed with exit_code' },
      at(5_000),
    );
    expect(done.status).toBe('NeedsReview');
    expect(done.needsReviewSince).toBe(at(5_000).toISOString());
    expect(done).not.toHaveProperty('delegation');
    expect(done.stages.at(-1)).toMatchObject({ name: DELEGATED_STAGE, outcomeCode: 'worker_task_failed' });
    expect(done.signals).toEqual([
      {
        type: 'worker_task_failed',
        RequiresHumanReview: true,
        code: 'exit_code',
        rationale: 'task failed with exit_code',
        raisedAt: at(5_000).toISOString(),
        attempt: 1,
      },
    ]);
  });

  it('refuses a run that does not wait on that task', () => {
    const done = finishDelegatedRun(
      aDelegatedRun(),
      { taskId: TASK, status: 'succeeded', rationale: 'r' },
      T0,
    );
    expect(() => finishDelegatedRun(done, { taskId: TASK, status: 'succeeded', rationale: 'r' }, T0)).toThrow(
      /not waiting on task/,
    );
    expect(() =>
      finishDelegatedRun(aDelegatedRun(), { taskId: 'other', status: 'succeeded', rationale: 'r' }, T0),
    ).toThrow(/not waiting on task other/);
  });
});

describe('expireDelegatedRun', () => {
  it('at the deadline: NeedsReview with worker_result_missing, the delegated stage closed, delegation gone', () => {
    const expired = expireDelegatedRun(aDelegatedRun(), TASK, at(60_000));
    expect(expired.status).toBe('NeedsReview');
    expect(expired.keyStatus).toBe('Completed');
    expect(expired).not.toHaveProperty('delegation');
    expect(expired.needsReviewSince).toBe(at(60_000).toISOString());
    expect(expired.stages.at(-1)).toMatchObject({
      name: DELEGATED_STAGE,
      endedAt: at(60_000).toISOString(),
      outcomeCode: 'worker_result_missing',
    });
    expect(expired.signals).toEqual([
      {
        type: 'worker_result_missing',
        RequiresHumanReview: true,
        code: 'worker_result_missing',
        rationale: `no result of task ${TASK} from site lab by its deadline ${DEADLINE}`,
        raisedAt: at(60_000).toISOString(),
        attempt: 1,
      },
    ]);
  });

  it('refuses before the deadline, and for a run that waits on no task', () => {
    expect(() => expireDelegatedRun(aDelegatedRun(), TASK, at(59_000))).toThrow(/not yet/);
    const done = finishDelegatedRun(
      aDelegatedRun(),
      { taskId: TASK, status: 'succeeded', rationale: 'r' },
      T0,
    );
    expect(() => expireDelegatedRun(done, TASK, at(60_000))).toThrow(/not waiting on task/);
  });

  it('keeps at most MAX_INLINE_SIGNALS signals inline and adds a closed stage when none is open', () => {
    const signal = {
      type: 'x',
      RequiresHumanReview: false,
      code: 'x',
      rationale: 'x',
      raisedAt: 'r',
      attempt: 1,
    };
    const run = aDelegatedRun();
    const crowded: RunRecord = {
      ...run,
      stages: run.stages.filter((stage) => stage.name !== DELEGATED_STAGE),
      signals: Array.from({ length: MAX_INLINE_SIGNALS }, () => signal),
    };
    const expired = expireDelegatedRun(crowded, TASK, at(60_000));
    expect(expired.signals).toHaveLength(MAX_INLINE_SIGNALS);
    expect(expired.signals.at(-1)?.type).toBe('worker_result_missing');
    expect(expired.stages.at(-1)).toMatchObject({
      name: DELEGATED_STAGE,
      startedAt: at(60_000).toISOString(),
      endedAt: at(60_000).toISOString(),
      outcomeCode: 'worker_result_missing',
    });
  });
});
