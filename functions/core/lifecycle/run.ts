import type { CommandEnvelope } from '#contracts/envelope.js';
import {
  type CommandOutcome,
  FAILURE_CODES,
  type FailureCode,
  KEY_STATUS,
  MAX_INLINE_SIGNALS,
  RUN_STATUS,
  type RunRecord,
  SIGNAL_TYPES,
  type Signal,
  type SignalDraft,
  type Stage,
} from '#contracts/lifecycle.js';

/**
 * The pure transitions of a run between the lifecycle states of seed 003. Storage adapters
 * persist these records; they never decide a transition themselves.
 */
const EXECUTE_STAGE = 'execute';
/** The stage a delegated command spends waiting for its worker host's result. */
export const DELEGATED_STAGE = 'delegated';

/** A new run for the first attempt at a command. */
export function newRun(
  envelope: CommandEnvelope,
  attempt: {
    readonly attemptId: string;
    readonly lockExpiresAt: number;
    readonly now: Date;
    readonly expiresAt: number;
  },
): RunRecord {
  const at = attempt.now.toISOString();
  return {
    runId: envelope.commandId,
    commandId: envelope.commandId,
    commandType: envelope.commandType,
    lane: envelope.lane,
    correlationId: envelope.correlationId,
    ...(envelope.causationId ? { causationId: envelope.causationId } : {}),
    householdId: envelope.householdId,
    ...(envelope.conversationId ? { conversationId: envelope.conversationId } : {}),
    ...(envelope.replayOf ? { replayOf: envelope.replayOf } : {}),
    issuedAt: envelope.issuedAt,
    status: RUN_STATUS.Running,
    keyStatus: KEY_STATUS.Reserved,
    attempts: 1,
    lockExpiresAt: attempt.lockExpiresAt,
    lockOwner: attempt.attemptId,
    stages: [{ name: EXECUTE_STAGE, attempt: 1, startedAt: at }],
    signals: [],
    createdAt: at,
    updatedAt: at,
    expiresAt: attempt.expiresAt,
  };
}

function closeCurrentStage(run: RunRecord, at: string, outcomeCode: string, rationale: string): Stage[] {
  const stages = [...run.stages];
  const last = stages.at(-1);
  if (last && last.attempt === run.attempts && !last.endedAt) {
    stages[stages.length - 1] = { ...last, endedAt: at, outcomeCode, rationale };
  } else {
    stages.push({
      name: EXECUTE_STAGE,
      attempt: run.attempts,
      startedAt: at,
      endedAt: at,
      outcomeCode,
      rationale,
    });
  }
  return stages;
}

function toSignal(draft: SignalDraft, at: string, attempt: number): Signal {
  return { ...draft, raisedAt: at, attempt };
}

/**
 * The run after a successful attempt: key Completed with FinalizedAtUtc, lock released. A delegated
 * outcome (status `Running` with `delegation`) finalizes the key too — the lane message is done — but
 * leaves the run Running with an open `delegated` stage until the worker's result is reconciled.
 */
export function completeRun(run: RunRecord, outcome: CommandOutcome, now: Date): RunRecord {
  const at = now.toISOString();
  const signals = [
    ...run.signals,
    ...(outcome.signals ?? []).map((s) => toSignal(s, at, run.attempts)),
  ].slice(-MAX_INLINE_SIGNALS);
  if (outcome.status === RUN_STATUS.Running && !outcome.delegation)
    throw new Error(`command ${run.commandId}: a Running outcome needs a delegation`);
  const needsReview = outcome.status === RUN_STATUS.NeedsReview;
  const { lockExpiresAt: _lock, needsReviewSince: _since, ...rest } = run;
  const stages = closeCurrentStage(run, at, outcome.outcomeCode, outcome.rationale);
  return {
    ...rest,
    status: outcome.status,
    keyStatus: KEY_STATUS.Completed,
    FinalizedAtUtc: at,
    stages: outcome.delegation
      ? [...stages, { name: DELEGATED_STAGE, attempt: run.attempts, startedAt: at }]
      : stages,
    signals,
    ...(outcome.result ? { result: outcome.result } : {}),
    ...(outcome.delegation ? { delegation: outcome.delegation } : {}),
    ...(needsReview ? { needsReviewSince: run.needsReviewSince ?? at } : {}),
    updatedAt: at,
  };
}

/**
 * The run of a command whose process died and whose lane ran out of receives: Rejected with an
 * `attempt_abandoned` dead-letter reason and a `worker_command_failed` signal. `run` is undefined
 * when no attempt ever reserved the key (the store was unreachable on every receive).
 */
export function abandonRun(
  run: RunRecord | undefined,
  input: {
    readonly envelope?: CommandEnvelope;
    readonly rationale: string;
    readonly now: Date;
    readonly expiresAt: number;
  },
): RunRecord {
  const base =
    run ??
    (input.envelope
      ? newRun(input.envelope, {
          attemptId: 'none',
          lockExpiresAt: 0,
          now: input.now,
          expiresAt: input.expiresAt,
        })
      : undefined);
  if (!base) throw new Error('abandonRun needs the run or the envelope');
  const {
    lockExpiresAt: _lock,
    lockOwner: _owner,
    ...rest
  } = failRun(
    { ...base, ...(run ? {} : { attempts: 0, stages: [] }) },
    { code: FAILURE_CODES.attemptAbandoned, rationale: input.rationale, finalAttempt: true },
    input.now,
  );
  return rest;
}

/**
 * The run after a failed attempt: fail closed to NeedsReview with a
 * `worker_command_failed` signal. The key stays Reserved while retries remain
 * and becomes Rejected on the final attempt, when the command is dead-lettered.
 */
export function failRun(
  run: RunRecord,
  failure: { readonly code: FailureCode; readonly rationale: string; readonly finalAttempt: boolean },
  now: Date,
): RunRecord {
  const at = now.toISOString();
  const signal: Signal = {
    type: SIGNAL_TYPES.workerCommandFailed,
    RequiresHumanReview: true,
    code: failure.code,
    rationale: failure.rationale,
    raisedAt: at,
    attempt: run.attempts,
  };
  const { lockExpiresAt: _lock, ...rest } = run;
  return {
    ...rest,
    status: RUN_STATUS.NeedsReview,
    keyStatus: failure.finalAttempt ? KEY_STATUS.Rejected : KEY_STATUS.Reserved,
    ...(failure.finalAttempt
      ? { deadLetter: { reason: failure.code, rationale: failure.rationale, at } }
      : {}),
    stages: closeCurrentStage(run, at, failure.code, failure.rationale),
    signals: [...run.signals, signal].slice(-MAX_INLINE_SIGNALS),
    needsReviewSince: run.needsReviewSince ?? at,
    updatedAt: at,
  };
}

/** True when another attempt may start: no live lock and the key still Reserved. */
export function canTakeOver(run: RunRecord, nowMs: number): boolean {
  return (
    run.keyStatus === KEY_STATUS.Reserved && (run.lockExpiresAt === undefined || run.lockExpiresAt <= nowMs)
  );
}

/** The run after a new attempt takes over a Reserved key whose lock is gone. */
export function takeOverRun(
  run: RunRecord,
  attempt: { readonly attemptId: string; readonly lockExpiresAt: number; readonly now: Date },
): RunRecord {
  const at = attempt.now.toISOString();
  const attempts = run.attempts + 1;
  return {
    ...run,
    attempts,
    lockExpiresAt: attempt.lockExpiresAt,
    lockOwner: attempt.attemptId,
    // An attempt that died without recording its end keeps an open stage; close it as abandoned.
    stages: [
      ...run.stages.map((stage) =>
        stage.endedAt
          ? stage
          : { ...stage, endedAt: at, outcomeCode: 'attempt_abandoned', rationale: 'lock expired' },
      ),
      { name: EXECUTE_STAGE, attempt: attempts, startedAt: at },
    ],
    updatedAt: at,
  };
}
