import type { CommandEnvelope } from '#contracts/envelope.js';
import type { DomainRecord, RunRecord, Signal } from '#contracts/lifecycle.js';

/**
 * Interfaces the domain core depends on. Adapters in `functions/adapters`
 * implement them on AWS; tests implement them in memory or on the emulators.
 */

export type ReserveResult =
  | { readonly outcome: 'reserved'; readonly run: RunRecord }
  /** The key exists and may not be taken over: Completed, Rejected, or Reserved under a live lock. */
  | { readonly outcome: 'exists'; readonly run: RunRecord };

export interface ReserveAttemptInput {
  readonly envelope: CommandEnvelope;
  readonly attemptId: string;
  /** Epoch ms when this attempt's lock lapses. */
  readonly lockExpiresAt: number;
  /** Epoch seconds for TTL. */
  readonly expiresAt: number;
  readonly now: Date;
}

/** Lifecycle persistence: runs, stages, signals and idempotency keys. */
export interface LifecycleStore {
  /**
   * Creates the run (first attempt) or takes it over (the key is Reserved and
   * no live lock holds it), atomically. Never lets two attempts hold one key.
   */
  reserveAttempt(input: ReserveAttemptInput): Promise<ReserveResult>;
  /**
   * Persists a finished attempt, only while `attemptId` still owns the run (else `LockLostError`).
   * `records` are written first, each created once (deterministic per commandId, so a repeat is a
   * no-op); readers treat them as part of the command only once its run is Completed, so the
   * conditional run write is the single commit point.
   */
  saveAttemptResult(run: RunRecord, attemptId: string, records?: readonly DomainRecord[]): Promise<void>;
  /**
   * Writes `closed` (an abandoned run, see `abandonRun`) only if the run is still exactly as `seen`
   * (whose lock the caller found lapsed) — or, with `seen` undefined, still absent. Returns the run
   * found otherwise.
   */
  closeAbandonedRun(
    closed: RunRecord,
    seen: RunRecord | undefined,
  ): Promise<{ readonly outcome: 'closed' } | { readonly outcome: 'changed'; readonly run?: RunRecord }>;
  /** Records on a Rejected run that its message is in the lane DLQ with the reason (`queuedAt`). */
  markDeadLetterQueued(commandId: string, queuedAt: Date): Promise<void>;
  getRun(runId: string): Promise<RunView | undefined>;
  findRunsByCorrelationId(correlationId: string): Promise<RunRecord[]>;
  listReviewQueue(options: { readonly limit: number; readonly cursor?: string }): Promise<ReviewQueuePage>;
  /**
   * Counts a duplicate delivery of a finished command on its run (a write on
   * duplicates only): the replay drill's duplicate probe reads it as proof.
   */
  recordDuplicateDelivery(commandId: string): Promise<void>;
  /** Records on the old run that it was replayed as `newCommandId`; false when no such run exists. */
  recordReplayLink(oldCommandId: string, newCommandId: string): Promise<boolean>;
}

export interface RunView {
  readonly run: RunRecord;
  /** Inline signals plus any stored as separate finding records. */
  readonly signals: readonly Signal[];
}

export interface ReviewQueuePage {
  readonly runs: readonly RunRecord[];
  readonly nextCursor?: string;
}
