import { describe, expect, it } from 'vitest';
import { FAILURE_CODES, SIGNAL_TYPES } from '#contracts/lifecycle.js';
import { canTakeOver, completeRun, failRun, newRun, takeOverRun } from '#core/lifecycle/run.js';
import { anEnvelope } from '../support/factories.js';

const t0 = new Date('2026-11-25T10:00:00.000Z');
const t1 = new Date('2026-11-25T10:00:05.000Z');
const t2 = new Date('2026-11-25T10:01:00.000Z');

function firstAttempt() {
  return newRun(anEnvelope(), {
    attemptId: 'a1',
    lockExpiresAt: t0.getTime() + 30_000,
    now: t0,
    expiresAt: 1,
  });
}

describe('run lifecycle', () => {
  it('starts Running with the key Reserved under a lock and an open stage', () => {
    const run = firstAttempt();
    expect(run).toMatchObject({ status: 'Running', keyStatus: 'Reserved', attempts: 1, lockOwner: 'a1' });
    expect(run.stages).toEqual([{ name: 'execute', attempt: 1, startedAt: t0.toISOString() }]);
  });

  it('completes: key Completed with FinalizedAtUtc, terminal stage carries outcomeCode and rationale, lock gone', () => {
    const run = completeRun(
      firstAttempt(),
      { status: 'Completed', outcomeCode: 'done', rationale: 'ok' },
      t1,
    );
    expect(run).toMatchObject({
      status: 'Completed',
      keyStatus: 'Completed',
      FinalizedAtUtc: t1.toISOString(),
    });
    expect(run.lockExpiresAt).toBeUndefined();
    expect(run.stages.at(-1)).toMatchObject({
      endedAt: t1.toISOString(),
      outcomeCode: 'done',
      rationale: 'ok',
    });
  });

  it('fails closed: NeedsReview with worker_command_failed, key stays Reserved while retries remain', () => {
    const run = failRun(
      firstAttempt(),
      { code: FAILURE_CODES.handlerFailed, rationale: 'boom', finalAttempt: false },
      t1,
    );
    expect(run).toMatchObject({
      status: 'NeedsReview',
      keyStatus: 'Reserved',
      needsReviewSince: t1.toISOString(),
    });
    expect(run.signals).toEqual([
      expect.objectContaining({
        type: SIGNAL_TYPES.workerCommandFailed,
        RequiresHumanReview: true,
        code: 'handler_failed',
      }),
    ]);
    expect(run.deadLetter).toBeUndefined();
    expect(canTakeOver(run, t1.getTime())).toBe(true);
  });

  it('rejects the key on the final attempt and records the dead-letter reason', () => {
    const run = failRun(
      firstAttempt(),
      { code: FAILURE_CODES.unsupportedCommandType, rationale: 'x', finalAttempt: true },
      t1,
    );
    expect(run.keyStatus).toBe('Rejected');
    expect(run.deadLetter).toEqual({
      reason: 'unsupported_command_type',
      rationale: 'x',
      at: t1.toISOString(),
    });
    expect(canTakeOver(run, t2.getTime())).toBe(false);
  });

  it('a later successful attempt completes the run and keeps the earlier signal in history', () => {
    const failed = failRun(
      firstAttempt(),
      { code: FAILURE_CODES.handlerFailed, rationale: 'boom', finalAttempt: false },
      t1,
    );
    const retry = takeOverRun(failed, { attemptId: 'a2', lockExpiresAt: t2.getTime() + 30_000, now: t2 });
    expect(retry.attempts).toBe(2);
    const done = completeRun(retry, { status: 'Completed', outcomeCode: 'done', rationale: 'ok' }, t2);
    expect(done).toMatchObject({ status: 'Completed', keyStatus: 'Completed', attempts: 2 });
    expect(done.needsReviewSince).toBeUndefined();
    expect(done.signals.map((s) => s.type)).toEqual([SIGNAL_TYPES.workerCommandFailed]);
    expect(done.stages.map((s) => [s.attempt, s.outcomeCode])).toEqual([
      [1, 'handler_failed'],
      [2, 'done'],
    ]);
  });

  it('does not let a second attempt in while the lock is live', () => {
    const run = firstAttempt();
    expect(canTakeOver(run, t0.getTime() + 1_000)).toBe(false);
    expect(canTakeOver(run, t0.getTime() + 30_000)).toBe(true);
  });

  it('closes an abandoned attempt’s open stage when a new attempt takes over', () => {
    const retry = takeOverRun(firstAttempt(), { attemptId: 'a2', lockExpiresAt: t2.getTime() + 1, now: t2 });
    expect(retry.stages[0]).toMatchObject({ outcomeCode: 'attempt_abandoned', endedAt: t2.toISOString() });
    expect(retry.stages[1]).toMatchObject({ attempt: 2, startedAt: t2.toISOString() });
    expect(retry.lockOwner).toBe('a2');
  });

  it('a deterministic refusal completes the key but leaves the run NeedsReview', () => {
    const run = completeRun(
      firstAttempt(),
      {
        status: 'NeedsReview',
        outcomeCode: 'approval_unknown',
        rationale: 'no such approval',
        signals: [
          { type: 'approval_unknown', RequiresHumanReview: true, code: 'approval_unknown', rationale: 'x' },
        ],
      },
      t1,
    );
    expect(run).toMatchObject({
      status: 'NeedsReview',
      keyStatus: 'Completed',
      needsReviewSince: t1.toISOString(),
    });
    expect(run.signals).toHaveLength(1);
  });
});
