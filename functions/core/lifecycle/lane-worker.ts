import { BatchProcessor, EventType, processPartialResponse } from '@aws-lambda-powertools/batch';
import type { JSONValue } from '@aws-lambda-powertools/commons/types';
import { IdempotencyConfig, makeIdempotent } from '@aws-lambda-powertools/idempotency';
import type { Context, SQSBatchResponse, SQSRecord } from 'aws-lambda';
import { type CommandEnvelope, parseEnvelope } from '#contracts/envelope.js';
import { FAILURE_CODES, KEY_STATUS, RUN_STATUS, type RunRecord } from '#contracts/lifecycle.js';
import type { MetricDimensionValues, MetricKey } from '#contracts/metrics.js';
import type { Clock } from '../base/clock.js';
import { UnsupportedCommandTypeError } from '../base/errors.js';
import type { CommandDefinition, CommandDependencies } from '../commands/types.js';
import type { DeadLetterSink, LaneMessageVisibility } from '../queues/ports.js';
import {
  type BatchTelemetry,
  type MetricsRecorder,
  noopMetricsRecorder,
  type TelemetryPublisher,
} from '../telemetry/ports.js';
import { type AttemptState, LifecyclePersistenceLayer } from './persistence-layer.js';
import type { LifecycleStore } from './ports.js';
import { abandonRun, canTakeOver } from './run.js';

/** Minimal structured logger; Powertools Logger satisfies it. */
export interface WorkerLogger {
  info(message: string, extra?: Record<string, unknown>): void;
  warn(message: string, extra?: Record<string, unknown>): void;
  error(message: string, extra?: Record<string, unknown>): void;
}

export interface LaneWorkerOptions {
  readonly environment: string;
  readonly lane: { readonly name: string; readonly commandTypes: readonly string[] };
  /**
   * The delivery with this receive count is the final attempt. The queue redrives only after
   * `LANE_GRACE_RECEIVES` more: those deliveries run nothing, they close a run whose final attempt
   * died (`attempt_abandoned`) and dead-letter the message with that reason.
   */
  readonly maxReceiveCount: number;
  readonly fallbackLockMs: number;
  /** Seconds an idempotency key (and its run) is kept. */
  readonly retentionSeconds: number;
  readonly commands: ReadonlyMap<string, CommandDefinition>;
  readonly store: LifecycleStore;
  readonly deadLetters: DeadLetterSink;
  /**
   * The lane queue, to hide a message that found its command locked by another (possibly dead)
   * attempt until that lock lapses, so the receive it used is the only one it costs.
   * @default undefined (the message comes back after the queue's visibility timeout)
   */
  readonly visibility?: LaneMessageVisibility;
  readonly telemetry: TelemetryPublisher;
  readonly dependencies: CommandDependencies;
  readonly clock: Clock;
  readonly logger: WorkerLogger;
  /**
   * Where the worker's metrics go (`METRICS` in metrics.ts): outcome counts per
   * batch, handler duration and end-to-end latency per record.
   * @default noopMetricsRecorder
   */
  readonly metrics?: MetricsRecorder;
}

/** How one record ended, for the batch summary. */
export type RecordOutcome =
  | 'completed'
  | 'needs_review'
  | 'duplicate'
  | 'retry'
  | { readonly deadLettered: string };

/** Runs moving into or out of NeedsReview during one batch. */
interface ReviewFlow {
  entered: number;
  resolved: number;
}

interface AttemptRunner {
  readonly layer: LifecyclePersistenceLayer;
  readonly execute: (envelope: CommandEnvelope) => Promise<JSONValue>;
}

/** Thrown inside the record handler so Powertools lists the record as a batch item failure. */
class RetryLaterError extends Error {
  public constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = 'RetryLaterError';
  }
}

/**
 * Creates the lane worker: one SQS batch in, the partial batch response out.
 * The returned function never throws: every record is acknowledged, listed as
 * a batch item failure, or sent to the DLQ with its reason.
 *
 * @example
 * const processBatch = createLaneWorker(options);
 * export const handler = (event: SQSEvent, context: Context) => processBatch(event.Records, context);
 */
export function createLaneWorker(options: LaneWorkerOptions) {
  const { logger } = options;
  const metrics = options.metrics ?? noopMetricsRecorder;
  const laneName = options.lane.name;
  // Payloads are validated before the idempotent call (poison check) and reused by it.
  const validatedPayloads = new WeakMap<CommandEnvelope, unknown>();
  return async function processBatch(
    records: readonly SQSRecord[],
    context: Context,
  ): Promise<SQSBatchResponse> {
    // A config per invocation: the remaining-time reading belongs to this invocation only.
    const config = new IdempotencyConfig({
      eventKeyJmesPath: 'commandId',
      throwOnNoIdempotencyKey: true,
      expiresAfterSeconds: options.retentionSeconds,
    });
    config.registerLambdaContext(context);
    // A persistence layer per record: attempts share no state, even for one commandId.
    const startAttempt = (): AttemptRunner => {
      const layer = new LifecyclePersistenceLayer({
        store: options.store,
        clock: options.clock,
        fallbackLockMs: options.fallbackLockMs,
      });
      const execute = makeIdempotent(
        async (envelope: CommandEnvelope): Promise<JSONValue> =>
          executeCommand(layer.attemptFor(envelope.commandId)),
        { persistenceStore: layer, config },
      );
      return { layer, execute };
    };
    // Copies of one command in one batch run one after another, so a copy is
    // acknowledged as a duplicate instead of colliding with the first attempt.
    const inFlight = new Map<string, Promise<void>>();
    const outcomes = new Map<string, RecordOutcome>();
    const commandIds: string[] = [];
    const review: ReviewFlow = { entered: 0, resolved: 0 };

    const handleRecord = async (record: SQSRecord): Promise<void> => {
      const outcome = await processRecord(record, context, startAttempt, inFlight, commandIds, review);
      outcomes.set(record.messageId, outcome);
      if (outcome === 'retry') throw new RetryLaterError(`message ${record.messageId} returns to the queue`);
    };

    const response = await processPartialResponse(
      { Records: [...records] },
      handleRecord,
      new BatchProcessor(EventType.SQS),
      { context, throwOnFullBatchFailure: false },
    );
    for (const record of records)
      if (!outcomes.has(record.messageId)) outcomes.set(record.messageId, 'retry');
    await publishSummary(records.length, outcomes, commandIds, review);
    return response;
  };

  async function executeCommand(state: AttemptState): Promise<JSONValue> {
    const { envelope } = state;
    const attempt = state.run?.attempts ?? 1;
    if (attempt > options.maxReceiveCount) {
      // The final attempt took the run over from a dead one and died too, and a copy of the message
      // (or a redelivery) came back: the command's attempts are used up, so nothing runs again.
      state.failure = {
        code: FAILURE_CODES.attemptAbandoned,
        rationale: `attempt ${attempt} of ${options.maxReceiveCount}: the attempts are used up (attempt ${attempt - 1} ended without recording an outcome)`,
      };
      throw new Error(state.failure.rationale);
    }
    const definition = options.lane.commandTypes.includes(envelope.commandType)
      ? options.commands.get(envelope.commandType)
      : undefined;
    if (!definition) {
      const error = new UnsupportedCommandTypeError(envelope.commandType, options.lane.name);
      state.failure = { code: FAILURE_CODES.unsupportedCommandType, rationale: error.message };
      throw error;
    }
    try {
      const outcome = await definition.execute({
        envelope,
        payload: validatedPayloads.has(envelope)
          ? validatedPayloads.get(envelope)
          : definition.payloadSchema.parse(envelope.payload),
        attempt: state.run?.attempts ?? 1,
        now: options.clock.now(),
        deps: options.dependencies,
      });
      state.outcome = outcome;
      return { status: outcome.status, outcomeCode: outcome.outcomeCode };
    } catch (error) {
      state.failure = { code: FAILURE_CODES.handlerFailed, rationale: describe(error) };
      throw error;
    }
  }

  async function processRecord(
    record: SQSRecord,
    context: Context,
    startAttempt: () => AttemptRunner,
    inFlight: Map<string, Promise<void>>,
    commandIds: string[],
    review: ReviewFlow,
  ): Promise<RecordOutcome> {
    const receiveCount = Number(record.attributes.ApproximateReceiveCount) || 1;
    const parsed = parseEnvelope(record.body);
    const base = { lane: options.lane.name, messageId: record.messageId, receiveCount };
    if (!parsed.ok) {
      return deadLetter(record, receiveCount, parsed.reason, parsed.rationale, {
        ...(parsed.commandId ? { commandId: parsed.commandId } : {}),
        ...(parsed.correlationId ? { correlationId: parsed.correlationId } : {}),
      });
    }
    const envelope = parsed.envelope;
    commandIds.push(envelope.commandId);
    const logKeys = {
      ...base,
      commandId: envelope.commandId,
      correlationId: envelope.correlationId,
      runId: envelope.commandId,
    };
    if (envelope.lane !== options.lane.name) {
      return deadLetter(
        record,
        receiveCount,
        FAILURE_CODES.invalidEnvelope,
        `lane: envelope names ${envelope.lane}, received on ${options.lane.name}`,
        envelope,
      );
    }
    // A payload that does not fit its (supported) command type is poison too: retrying cannot fix it.
    const definition = options.lane.commandTypes.includes(envelope.commandType)
      ? options.commands.get(envelope.commandType)
      : undefined;
    if (definition) {
      const payload = definition.payloadSchema.safeParse(envelope.payload);
      if (!payload.success) {
        const rationale = payload.error.issues
          .map((i) => `payload.${i.path.map(String).join('.')}: ${i.message}`)
          .join('; ');
        return deadLetter(record, receiveCount, FAILURE_CODES.invalidEnvelope, rationale, envelope);
      }
      validatedPayloads.set(envelope, payload.data);
    }

    const previous = inFlight.get(envelope.commandId);
    let release: () => void = () => undefined;
    inFlight.set(
      envelope.commandId,
      new Promise<void>((resolve) => {
        release = resolve;
      }),
    );
    await previous;
    if (receiveCount > options.maxReceiveCount) {
      try {
        return await closeAfterFinalReceive(record, envelope, receiveCount, logKeys, review);
      } catch (error) {
        logger.warn('abandoned command not closed; will retry', { ...logKeys, error: describe(error) });
        return 'retry';
      } finally {
        release();
      }
    }
    const { layer, execute } = startAttempt();
    const state = layer.beginAttempt(envelope, {
      attemptId: `${context.awsRequestId}:${record.messageId}`,
      finalAttempt: receiveCount >= options.maxReceiveCount,
      maxAttempts: options.maxReceiveCount,
    });
    const started = performance.now();
    try {
      await execute(envelope);
      if (state.existing && isUnqueuedDeadLetter(state.existing)) {
        // A Rejected run whose dead letter never reached the DLQ: the process died in between.
        return await queueDeadLetter(record, receiveCount, state.existing, envelope);
      }
      if (state.existing) {
        logger.info('duplicate command skipped', { ...logKeys, keyStatus: state.existing.keyStatus });
        if (state.existing.keyStatus !== KEY_STATUS.Reserved) {
          await options.store.recordDuplicateDelivery(envelope.commandId).catch((error: unknown) => {
            logger.warn('duplicate delivery not counted', { ...logKeys, error: describe(error) });
          });
        }
        return 'duplicate';
      }
      const status = state.saved?.status;
      logger.info('command finished', { ...logKeys, status, outcomeCode: state.outcome?.outcomeCode });
      recordLatency(envelope.issuedAt);
      return status === RUN_STATUS.NeedsReview ? 'needs_review' : 'completed';
    } catch (error) {
      const saved = state.saved;
      if (saved?.keyStatus === KEY_STATUS.Rejected && state.failure) {
        logger.error('command failed on its final attempt', {
          ...logKeys,
          failureCode: state.failure.code,
          error: describe(error),
        });
        return await queueDeadLetter(record, receiveCount, saved, envelope);
      }
      if (saved) {
        logger.warn('command failed; run NeedsReview, will retry', {
          ...logKeys,
          failureCode: state.failure?.code,
          error: describe(error),
        });
      } else {
        // Lock held by another attempt, or the store was unreachable: nothing recorded, try again later.
        logger.warn('command not attempted; will retry', { ...logKeys, error: describe(error) });
        if (state.existing?.keyStatus === KEY_STATUS.Reserved)
          await hideUntilLockLapses(record, state.existing, logKeys);
      }
      return 'retry';
    } finally {
      release();
      // Only an attempt that reserved the key ran the handler; a duplicate or a held lock did not.
      if (state.run) {
        safeRecord('handlerDuration', performance.now() - started, { Lane: laneName });
        const before = state.run.status;
        const after = state.saved?.status;
        if (after === RUN_STATUS.NeedsReview && before !== RUN_STATUS.NeedsReview) review.entered++;
        if (after === RUN_STATUS.Completed && before === RUN_STATUS.NeedsReview) review.resolved++;
      }
      layer.endAttempt(envelope.commandId);
    }
  }

  /**
   * A delivery after the final attempt: nothing runs again. A run still Reserved with no live lock
   * lost its final attempt to a dead process (timeout, out of memory, crash) or never got one (a live
   * lock of a dead attempt held every receive): it is closed `attempt_abandoned` and dead-lettered
   * with that reason, so the command ends Rejected instead of Reserved forever.
   */
  async function closeAfterFinalReceive(
    record: SQSRecord,
    envelope: CommandEnvelope,
    receiveCount: number,
    logKeys: Record<string, unknown>,
    review: ReviewFlow,
  ): Promise<RecordOutcome> {
    const now = options.clock.now();
    let run = (await options.store.getRun(envelope.commandId))?.run;
    for (let race = 0; race < 3; race++) {
      if (run?.keyStatus === KEY_STATUS.Completed) {
        logger.info('duplicate command skipped', { ...logKeys, keyStatus: run.keyStatus });
        await options.store.recordDuplicateDelivery(envelope.commandId);
        return 'duplicate';
      }
      if (run?.keyStatus === KEY_STATUS.Rejected) {
        if (isUnqueuedDeadLetter(run)) return queueDeadLetter(record, receiveCount, run, envelope);
        logger.info('duplicate command skipped', { ...logKeys, keyStatus: run.keyStatus });
        return 'duplicate';
      }
      if (run && !canTakeOver(run, now.getTime())) {
        logger.warn('final attempt still holds its lock; will look again', {
          ...logKeys,
          lockExpiresAt: run.lockExpiresAt,
        });
        await hideUntilLockLapses(record, run, logKeys);
        return 'retry';
      }
      const rationale = run
        ? `receive ${receiveCount} after the final attempt (${options.maxReceiveCount}): attempt ${run.attempts} ended without recording an outcome (the process died or timed out)`
        : `receive ${receiveCount} after the final attempt (${options.maxReceiveCount}): no attempt could reserve the command`;
      const closed = abandonRun(run, {
        envelope,
        rationale,
        now,
        expiresAt: Math.floor(now.getTime() / 1000) + options.retentionSeconds,
      });
      const written = await options.store.closeAbandonedRun(closed, run);
      if (written.outcome === 'closed') {
        if (run?.status !== RUN_STATUS.NeedsReview) review.entered++;
        logger.error('command abandoned after its final attempt', { ...logKeys, rationale });
        return queueDeadLetter(record, receiveCount, closed, envelope);
      }
      run = written.run; // changed under us: look at what is there now
    }
    return 'retry';
  }

  /**
   * A lock outlives the queue's visibility timeout when the lanes are set up so (locally: a 5 s
   * visibility, a 30 s function timeout) or when a restarted process finds its dead self's locks:
   * each redelivery until the lock lapses would burn a receive, down to a reasonless redrive. So
   * the message is hidden until just after the lock lapses. Best effort: if this fails, the
   * message comes back after the visibility timeout as before.
   */
  async function hideUntilLockLapses(
    record: SQSRecord,
    run: RunRecord,
    logKeys: Record<string, unknown>,
  ): Promise<void> {
    if (!options.visibility || run.lockExpiresAt === undefined) return;
    const seconds = Math.min(
      MAX_VISIBILITY_SECONDS,
      Math.ceil((run.lockExpiresAt - options.clock.now().getTime()) / 1000) + 1,
    );
    if (seconds <= 0) return;
    try {
      await options.visibility.hideFor(record.receiptHandle, seconds);
      logger.info('message hidden until the attempt lock lapses', { ...logKeys, seconds });
    } catch (error) {
      logger.warn('message not hidden; it returns after the visibility timeout', {
        ...logKeys,
        error: describe(error),
      });
    }
  }

  /** Sends a Rejected run's message to the DLQ with the run's reason, then records that it is there. */
  async function queueDeadLetter(
    record: SQSRecord,
    receiveCount: number,
    run: RunRecord,
    envelope: CommandEnvelope,
  ): Promise<RecordOutcome> {
    const reason = run.deadLetter?.reason ?? FAILURE_CODES.handlerFailed;
    const rationale = run.deadLetter?.rationale ?? 'rejected without a recorded reason';
    const outcome = await deadLetter(record, receiveCount, reason, rationale, envelope);
    // If this write is lost, a later delivery finds no queuedAt and sends a second copy; the replay
    // drill derives the replay's id from the commandId, so the copies replay as one command.
    await options.store.markDeadLetterQueued(run.commandId, options.clock.now()).catch((error: unknown) => {
      logger.warn('dead letter not marked as queued', {
        commandId: run.commandId,
        correlationId: run.correlationId,
        runId: run.runId,
        error: describe(error),
      });
    });
    return outcome;
  }

  async function deadLetter(
    record: SQSRecord,
    receiveCount: number,
    reason: string,
    rationale: string,
    ids: { readonly commandId?: string; readonly correlationId?: string; readonly issuedAt?: string },
  ): Promise<RecordOutcome> {
    await options.deadLetters.send({
      lane: options.lane.name,
      body: record.body,
      reason,
      rationale,
      sourceMessageId: record.messageId,
      receiveCount,
      ...(ids.commandId ? { commandId: ids.commandId } : {}),
      ...(ids.correlationId ? { correlationId: ids.correlationId } : {}),
    });
    logger.warn('message dead-lettered', {
      lane: options.lane.name,
      messageId: record.messageId,
      receiveCount,
      reason,
      rationale,
      commandId: ids.commandId,
      correlationId: ids.correlationId,
      runId: ids.commandId,
    });
    if (ids.issuedAt !== undefined) recordLatency(ids.issuedAt);
    return { deadLettered: reason };
  }

  /** Milliseconds from the command's issuedAt to now, the moment it reached a terminal state. */
  function recordLatency(issuedAt: string): void {
    const latency = options.clock.now().getTime() - Date.parse(issuedAt);
    // A client clock ahead of ours would give a negative latency; the command was not early.
    if (Number.isFinite(latency)) safeRecord('endToEndLatency', Math.max(0, latency), { Lane: laneName });
  }

  /** Metrics never fail a command: a refused value is a warning. */
  function safeRecord<K extends MetricKey>(
    metric: K,
    value: number,
    dimensions: MetricDimensionValues<K>,
  ): void {
    try {
      metrics.record(metric, value, dimensions);
    } catch (error) {
      logger.warn('metric not recorded', { lane: laneName, metric, error: describe(error) });
    }
  }

  async function publishSummary(
    received: number,
    outcomes: ReadonlyMap<string, RecordOutcome>,
    commandIds: readonly string[],
    review: ReviewFlow,
  ): Promise<void> {
    const summary: BatchTelemetry = {
      lane: options.lane.name,
      environment: options.environment,
      received,
      completed: 0,
      needsReview: 0,
      duplicates: 0,
      retried: 0,
      deadLettered: {},
      commandIds,
      at: options.clock.now().toISOString(),
    };
    const counts = { completed: 0, needsReview: 0, duplicates: 0, retried: 0 };
    const deadLettered: Record<string, number> = {};
    for (const outcome of outcomes.values()) {
      if (outcome === 'completed') counts.completed++;
      else if (outcome === 'needs_review') counts.needsReview++;
      else if (outcome === 'duplicate') counts.duplicates++;
      else if (outcome === 'retry') counts.retried++;
      else deadLettered[outcome.deadLettered] = (deadLettered[outcome.deadLettered] ?? 0) + 1;
    }
    // Counted from the same outcomes as the summary, so metrics and telemetry agree. Zeros are
    // recorded too: every batch leaves a data point, so sums over lanes have no gaps.
    const lane = { Lane: laneName };
    safeRecord('commandsCompleted', counts.completed, lane);
    safeRecord('commandsNeedsReview', counts.needsReview, lane);
    safeRecord('commandsRetried', counts.retried, lane);
    safeRecord('duplicatesSkipped', counts.duplicates, lane);
    safeRecord('needsReviewEntered', review.entered, lane);
    safeRecord('needsReviewResolved', review.resolved, lane);
    for (const [reason, count] of Object.entries(deadLettered))
      safeRecord('commandsDeadLettered', count, { Lane: laneName, Reason: reason });
    let publishFailures = 0;
    try {
      await options.telemetry.publishBatchSummary({ ...summary, ...counts, deadLettered });
    } catch (error) {
      // Telemetry is never allowed to fail a command (seed 003 failure modes).
      publishFailures = 1;
      logger.warn('telemetry publish failed', {
        lane: options.lane.name,
        commandIds,
        error: describe(error),
      });
    }
    safeRecord('telemetryPublishFailures', publishFailures, lane);
  }
}

/** SQS's longest visibility timeout, 12 hours. */
const MAX_VISIBILITY_SECONDS = 43_200;

function isUnqueuedDeadLetter(run: RunRecord): boolean {
  return run.keyStatus === KEY_STATUS.Rejected && run.deadLetter !== undefined && !run.deadLetter.queuedAt;
}

function describe(error: unknown): string {
  if (error instanceof Error)
    return error.cause instanceof Error ? `${error.message}: ${error.cause.message}` : error.message;
  return String(error);
}
