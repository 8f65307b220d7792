/**
 * Lifecycle vocabulary, exactly as seed 003 names it, and the records it
 * describes. The transitions between states are in `functions/core/lifecycle/run.ts`.
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
  /** A delegated task's result did not arrive by its run's `delegation.deadlineAt`. */
  workerResultMissing: 'worker_result_missing',
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
  /**
   * The process died inside an attempt and the lane ran out of receives before another attempt
   * could finish: closed by the lane worker's grace receive, or by the sweep as a backstop.
   */
  attemptAbandoned: 'attempt_abandoned',
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
  /**
   * When the message was sent to the lane DLQ with its reason. Absent between the Rejected write and
   * the DLQ send: a delivery that finds a Rejected run without it sends the message to the DLQ.
   */
  readonly queuedAt?: string;
}

/** A command whose effect runs on a worker host: the run stays Running until the result is reconciled. */
export interface Delegation {
  readonly taskId: string;
  readonly site: string;
  /** ISO time after which a missing result turns the run NeedsReview with a signal. */
  readonly deadlineAt: string;
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
  /** Set while the command's effect waits on a worker host (status Running, key Completed). */
  readonly delegation?: Delegation;
  /** Commands that replayed this one (new commandIds), recorded by the replay drill. */
  readonly replayedAs?: readonly string[];
  readonly createdAt: string;
  readonly updatedAt: string;
  /** Epoch seconds; TTL removes the key and run after the retention period. */
  readonly expiresAt: number;
}

/** What a command handler decided. */
export interface CommandOutcome {
  /**
   * `Completed`; `NeedsReview` for a deterministic refusal that retrying cannot fix; `Running` only
   * with `delegation` (the effect was handed to a worker host and the result is reconciled later).
   */
  readonly status: 'Completed' | 'NeedsReview' | 'Running';
  readonly outcomeCode: string;
  readonly rationale: string;
  readonly result?: Readonly<Record<string, unknown>>;
  /** Signals to keep on the run (small). */
  readonly signals?: readonly SignalDraft[];
  /** Domain records written together with the completion (see `DomainRecord`). */
  readonly records?: readonly DomainRecord[];
  /** With status `Running`: the worker task that carries the effect. */
  readonly delegation?: Delegation;
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

/** Signals kept inline on a run; more go to separate finding records. */
export const MAX_INLINE_SIGNALS = 10;
