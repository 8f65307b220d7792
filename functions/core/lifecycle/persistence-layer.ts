import type { JSONValue } from '@aws-lambda-powertools/commons/types';
import {
  IdempotencyItemAlreadyExistsError,
  IdempotencyItemNotFoundError,
  IdempotencyKeyError,
  IdempotencyRecordStatus,
} from '@aws-lambda-powertools/idempotency';
import { BasePersistenceLayer, IdempotencyRecord } from '@aws-lambda-powertools/idempotency/persistence';
import type { CommandEnvelope } from '#contracts/envelope.js';
import {
  type CommandOutcome,
  FAILURE_CODES,
  type FailureCode,
  KEY_STATUS,
  type RunRecord,
} from '#contracts/lifecycle.js';
import type { Clock } from '../base/clock.js';
import type { LifecycleStore } from './ports.js';
import { completeRun, failRun } from './run.js';

/** What one attempt at one command learned, shared by the idempotency layer and the worker. */
export interface AttemptState {
  readonly envelope: CommandEnvelope;
  readonly attemptId: string;
  /** This delivery is the last before the lane dead-letters the command. */
  readonly finalAttempt: boolean;
  /**
   * Attempts a command gets in all, whatever copies of its message carry them: an attempt with this
   * number is final too, so duplicate deliveries (each with its own receive count) add no retries.
   */
  readonly maxAttempts?: number;
  /** The run as reserved for this attempt. */
  run?: RunRecord;
  /** The run found instead, when the key was Completed, Rejected or locked by another attempt. */
  existing?: RunRecord;
  outcome?: CommandOutcome;
  failure?: { readonly code: FailureCode; readonly rationale: string };
  /** The run as last written by this attempt. */
  saved?: RunRecord;
}

export interface LifecyclePersistenceLayerOptions {
  readonly store: LifecycleStore;
  readonly clock: Clock;
  /**
   * Attempt lock used when Powertools cannot read the remaining invocation
   * time (it passes nothing when `getRemainingTimeInMillis()` reads 0, which
   * would otherwise leave the lock without expiry). Set it to the function timeout.
   */
  readonly fallbackLockMs: number;
}

/**
 * Powertools idempotency persistence layer that stores keys in the seed's
 * vocabulary on the run item itself (DESIGN §3): INPROGRESS is `Reserved`
 * with an attempt lock, COMPLETED is `Completed` with `FinalizedAtUtc`, and a
 * failed attempt is not deleted but fails closed — NeedsReview with a signal,
 * key still `Reserved` for the retry, `Rejected` on the final attempt.
 *
 * The key is the envelope's `commandId` verbatim (never the SQS messageId),
 * so read models can find a run from its command; a missing key throws.
 *
 * @example
 * const layer = new LifecyclePersistenceLayer({ store, clock: systemClock, fallbackLockMs: 30_000 });
 * layer.beginAttempt(envelope, { attemptId: 'req-1:msg-1', finalAttempt: false });
 * await makeIdempotent(execute, { persistenceStore: layer, config })(envelope);
 */
export class LifecyclePersistenceLayer extends BasePersistenceLayer {
  readonly #store: LifecycleStore;
  readonly #clock: Clock;
  readonly #fallbackLockMs: number;
  readonly #attempts = new Map<string, AttemptState>();

  public constructor(options: LifecyclePersistenceLayerOptions) {
    super();
    if (!(options.fallbackLockMs > 0)) throw new RangeError('fallbackLockMs must be a positive number of ms');
    this.#store = options.store;
    this.#clock = options.clock;
    this.#fallbackLockMs = options.fallbackLockMs;
  }

  /** Registers the attempt before the idempotent call, so the layer can write the run. */
  public beginAttempt(
    envelope: CommandEnvelope,
    attempt: { readonly attemptId: string; readonly finalAttempt: boolean; readonly maxAttempts?: number },
  ): AttemptState {
    const state: AttemptState = { envelope, ...attempt };
    this.#attempts.set(envelope.commandId, state);
    return state;
  }

  public attemptFor(commandId: string): AttemptState {
    const state = this.#attempts.get(commandId);
    if (!state) throw new Error(`no attempt registered for command ${commandId}; call beginAttempt first`);
    return state;
  }

  public endAttempt(commandId: string): void {
    this.#attempts.delete(commandId);
  }

  /** The idempotency key is the commandId itself, unhashed. Missing → fail closed. */
  public override getHashedIdempotencyKey(data: JSONValue): string {
    const commandId =
      typeof data === 'object' && data !== null && !Array.isArray(data)
        ? (data as { commandId?: unknown }).commandId
        : undefined;
    if (typeof commandId !== 'string' || commandId.length === 0) {
      throw new IdempotencyKeyError(
        'No commandId in the command envelope: refusing to execute without an idempotency key',
      );
    }
    return commandId;
  }

  protected async _getRecord(idempotencyKey: string): Promise<IdempotencyRecord> {
    const view = await this.#store.getRun(idempotencyKey);
    if (!view) throw new IdempotencyItemNotFoundError(`no run for command ${idempotencyKey}`);
    return toIdempotencyRecord(view.run);
  }

  protected async _putRecord(record: IdempotencyRecord): Promise<void> {
    const state = this.attemptFor(record.idempotencyKey);
    const now = this.#clock.now();
    const remainingLock = record.inProgressExpiryTimestamp;
    const lockExpiresAt =
      remainingLock !== undefined && remainingLock > now.getTime()
        ? remainingLock
        : now.getTime() + this.#fallbackLockMs;
    const reserved = await this.#store.reserveAttempt({
      envelope: state.envelope,
      attemptId: state.attemptId,
      lockExpiresAt,
      expiresAt: record.expiryTimestamp ?? Math.floor(now.getTime() / 1000) + this.getExpiresAfterSeconds(),
      now,
    });
    if (reserved.outcome === 'reserved') {
      state.run = reserved.run;
      return;
    }
    state.existing = reserved.run;
    throw new IdempotencyItemAlreadyExistsError(
      `command ${record.idempotencyKey} is ${reserved.run.keyStatus}`,
      toIdempotencyRecord(reserved.run),
    );
  }

  protected async _updateRecord(record: IdempotencyRecord): Promise<void> {
    const state = this.attemptFor(record.idempotencyKey);
    if (!state.run || !state.outcome)
      throw new Error(`command ${record.idempotencyKey} completed without an outcome`);
    const completed = completeRun(state.run, state.outcome, this.#clock.now());
    await this.#store.saveAttemptResult(completed, state.attemptId, state.outcome.records);
    state.saved = completed;
  }

  /**
   * Powertools deletes the record when the function throws so that a retry can
   * run. Runlane keeps it instead and fails closed: the retry takes the key over
   * because this write releases the attempt lock.
   */
  protected async _deleteRecord(record: IdempotencyRecord): Promise<void> {
    const state = this.attemptFor(record.idempotencyKey);
    if (!state.run) return; // nothing was reserved by this attempt, so nothing to record
    const failure = state.failure ?? {
      code: FAILURE_CODES.handlerFailed,
      rationale: 'attempt failed without a reason',
    };
    const finalAttempt =
      state.finalAttempt || (state.maxAttempts !== undefined && state.run.attempts >= state.maxAttempts);
    const failed = failRun(state.run, { ...failure, finalAttempt }, this.#clock.now());
    await this.#store.saveAttemptResult(failed, state.attemptId);
    state.saved = failed;
  }
}

/** The run's key in Powertools' terms. */
export function toIdempotencyRecord(run: RunRecord): IdempotencyRecord {
  if (run.keyStatus === KEY_STATUS.Reserved) {
    return new IdempotencyRecord({
      idempotencyKey: run.commandId,
      status: IdempotencyRecordStatus.INPROGRESS,
      expiryTimestamp: run.expiresAt,
      ...(run.lockExpiresAt !== undefined ? { inProgressExpiryTimestamp: run.lockExpiresAt } : {}),
    });
  }
  const outcomeCode = run.stages.at(-1)?.outcomeCode ?? null;
  return new IdempotencyRecord({
    idempotencyKey: run.commandId,
    status: IdempotencyRecordStatus.COMPLETED,
    expiryTimestamp: run.expiresAt,
    responseData: { keyStatus: run.keyStatus, status: run.status, outcomeCode },
  });
}
