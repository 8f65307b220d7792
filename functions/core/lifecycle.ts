import type { CommandEnvelope } from './envelope.js';

/**
 * Lifecycle vocabulary, exactly as seed 003 names it, and the pure
 * transitions between states. Storage adapters persist these records; they
 * never decide a transition themselves.
 */
export const RUN_STATUS = { Running: 'Running', Completed: 'Completed', NeedsReview: 'NeedsReview' } as const;
export type RunStatus = (typeof RUN_STATUS)[keyof typeof RUN_STATUS];

export const KEY_STATUS = { Reserved: 'Reserved', Completed: 'Completed', Rejected: 'Rejected' } as const;
export type KeyStatus = (typeof KEY_STATUS)[keyof typeof KEY_STATUS];

/** Signal types raised by the control plane. */
export const SIGNAL_TYPES = {
  workerCommandFailed: 'worker_command_failed',
  approvalUnknown: 'approval_unknown',
  approvalAlreadyDecided: 'approval_already_decided',
  ingestionErrorRatioExceeded: 'ingestion_error_ratio_exceeded',
  anomalyStuckRun: 'anomaly_stuck_run',
  anomalyExpiredAttemptLock: 'anomaly_expired_attempt_lock',
  anomalyStaleReview: 'anomaly_stale_review',
  anomalySweepSummary: 'anomaly_sweep_summary',
  /** A delegated task's `execution_result` said `failed` (seed 004). */
  workerTaskFailed: 'worker_task_failed',
  /** Delegation is on but no worker of the action's site is online. */
  noWorkerOnline: 'no_worker_online',
  /** The approved action names a site but cannot become a worker task. */
  workerActionInvalid: 'worker_action_invalid',
} as const;
export type SignalType = (typeof SIGNAL_TYPES)[keyof typeof SIGNAL_TYPES];

/** Failure codes recorded on a failed attempt's terminal stage and as dead-letter reasons. */
export const FAILURE_CODES = {
  invalidJson: 'invalid_json',
  invalidEnvelope: 'invalid_envelope',
  unsupportedCommandType: 'unsupported_command_type',
  handlerFailed: 'handler_failed',
} as const;
export type FailureCode = (typeof FAILURE_CODES)[keyof typeof FAILURE_CODES];

export interface Stage {
  readonly name: string;
  readonly attempt: number;
  readonly startedAt: string;
  readonly endedAt?: string;
  /** Set on the terminal stage of an attempt. */
  readonly outcomeCode?: string;
  readonly rationale?: string;
}

export interface Signal {
  readonly type: SignalType | string;
  /** Seed 003 spells it `RequiresHumanReview`. */
  readonly RequiresHumanReview: boolean;
  readonly code: string;
  readonly rationale: string;
  readonly raisedAt: string;
  readonly attempt: number;
}

export interface DeadLetterInfo {
  readonly reason: string;
  readonly rationale: string;
  readonly at: string;
}

/**
 * One command's run, its idempotency key and its history. Kept small on
 * purpose (no payload inside): every write is charged on the whole item.
 */
export interface RunRecord {
  readonly runId: string;
  readonly commandId: string;
  readonly commandType: string;
  readonly lane: string;
  readonly correlationId: string;
  readonly causationId?: string;
  readonly householdId: string;
  readonly conversationId?: string;
  readonly replayOf?: string;
  readonly issuedAt: string;
  readonly status: RunStatus;
  readonly keyStatus: KeyStatus;
  readonly FinalizedAtUtc?: string;
  readonly attempts: number;
  /** Epoch ms after which another attempt may take the command over. */
  readonly lockExpiresAt?: number;
  readonly lockOwner?: string;
  readonly stages: readonly Stage[];
  readonly signals: readonly Signal[];
  /** Small outcome summary shown by the read models and returned to duplicates. */
  readonly result?: Readonly<Record<string, unknown>>;
  readonly needsReviewSince?: string;
  readonly deadLetter?: DeadLetterInfo;
  /** Deliveries of this command after it finished, each acknowledged without reprocessing. */
  readonly duplicateDeliveries?: number;
  /** Commands that replayed this one (new commandIds), recorded by the replay drill. */
  readonly replayedAs?: readonly string[];
  readonly createdAt: string;
  readonly updatedAt: string;
  /** Epoch seconds; TTL removes the key and run after the retention period. */
  readonly expiresAt: number;
}

/** What a command handler decided. */
export interface CommandOutcome {
  /** `Completed`, or `NeedsReview` for a deterministic refusal that retrying cannot fix. */
  readonly status: 'Completed' | 'NeedsReview';
  readonly outcomeCode: string;
  readonly rationale: string;
  readonly result?: Readonly<Record<string, unknown>>;
  /** Signals to keep on the run (small). */
  readonly signals?: readonly SignalDraft[];
  /** Domain records written together with the completion (see `DomainRecord`). */
  readonly records?: readonly DomainRecord[];
}

export interface SignalDraft {
  readonly type: SignalType | string;
  readonly RequiresHumanReview: boolean;
  readonly code: string;
  readonly rationale: string;
}

/**
 * Data a handler produces, persisted in the same request as the run's
 * completion: deterministic per commandId, so writing them again is harmless.
 */
export type DomainRecord =
  | {
      readonly kind: 'conversationMessage';
      readonly conversationId: string;
      readonly householdId: string;
      readonly commandId: string;
      readonly postedAt: string;
      readonly text: string;
      readonly authorId?: string;
    }
  | ({ readonly kind: 'approvalRequest'; readonly requestedAt: string } & ApprovalRequestFields)
  | {
      readonly kind: 'findingSignal';
      readonly runId: string;
      readonly index: number;
      readonly signal: Signal;
    };

/** What an approval request holds from the moment it is requested. */
export interface ApprovalRequestFields {
  readonly approvalId: string;
  readonly conversationId: string;
  readonly householdId: string;
  readonly requestedByCommandId: string;
  readonly correlationId: string;
  readonly action: ProposedAction;
}

export interface ProposedAction {
  readonly action: string;
  readonly impact: 'low' | 'high';
  readonly summary: string;
  readonly parameters: Readonly<Record<string, string | number>>;
}

const EXECUTE_STAGE = 'execute';
/** Signals kept inline on a run; more go to separate finding records. */
export const MAX_INLINE_SIGNALS = 10;

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

/** The run after a successful attempt: key Completed with FinalizedAtUtc, lock released. */
export function completeRun(run: RunRecord, outcome: CommandOutcome, now: Date): RunRecord {
  const at = now.toISOString();
  const signals = [
    ...run.signals,
    ...(outcome.signals ?? []).map((s) => toSignal(s, at, run.attempts)),
  ].slice(-MAX_INLINE_SIGNALS);
  const needsReview = outcome.status === RUN_STATUS.NeedsReview;
  const { lockExpiresAt: _lock, needsReviewSince: _since, ...rest } = run;
  return {
    ...rest,
    status: outcome.status,
    keyStatus: KEY_STATUS.Completed,
    FinalizedAtUtc: at,
    stages: closeCurrentStage(run, at, outcome.outcomeCode, outcome.rationale),
    signals,
    ...(outcome.result ? { result: outcome.result } : {}),
    ...(needsReview ? { needsReviewSince: run.needsReviewSince ?? at } : {}),
    updatedAt: at,
  };
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
