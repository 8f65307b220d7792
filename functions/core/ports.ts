import type {
  RunnerRunSummaryEvent,
  RunnerStallEvent,
  SupervisorChildEvent,
  SupervisorHealthEvent,
} from './agent-events.js';
import type { CommandEnvelope } from './envelope.js';
import type { ApprovalRequestFields, DomainRecord, ProposedAction, RunRecord, Signal } from './lifecycle.js';
import type { MetricDimensionValues, MetricKey } from './metrics.js';
import type {
  DelegationFlagStore,
  WorkerRegistry,
  WorkerTaskQueue,
  WorkerTaskStore,
} from './worker-ports.js';

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
   * Persists a finished attempt. With `records`, writes them in the same request.
   * Without, the write only succeeds while `attemptId` still owns the lock.
   */
  saveAttemptResult(run: RunRecord, attemptId: string, records?: readonly DomainRecord[]): Promise<void>;
  getRun(runId: string): Promise<RunView | undefined>;
  findRunsByCorrelationId(correlationId: string): Promise<RunRecord[]>;
  listReviewQueue(options: { readonly limit: number; readonly cursor?: string }): Promise<ReviewQueuePage>;
  /** One pass over runs for the anomaly sweep. */
  scanForAnomalies(criteria: AnomalyCriteria): Promise<AnomalyFindings>;
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

export interface AnomalyCriteria {
  readonly nowMs: number;
  readonly stuckRunningBefore: string;
  readonly staleReviewBefore: string;
}

export interface AnomalyFindings {
  readonly stuckRunning: readonly RunRecord[];
  readonly expiredAttemptLocks: readonly RunRecord[];
  readonly staleReviews: readonly RunRecord[];
  readonly scanned: number;
}

export interface ApprovalRequest extends ApprovalRequestFields {
  readonly status: 'Pending' | 'Approved' | 'Rejected';
  readonly decidedByCommandId?: string;
  readonly decisionRationale?: string;
  readonly decidedAt?: string;
}

export type DecideApprovalResult =
  | { readonly outcome: 'decided'; readonly approval: ApprovalRequest }
  /** This command already decided it (a retry): carry on idempotently. */
  | { readonly outcome: 'already_decided_by_this_command'; readonly approval: ApprovalRequest }
  | { readonly outcome: 'already_decided'; readonly approval: ApprovalRequest }
  | { readonly outcome: 'not_found' };

export interface ApprovalStore {
  decide(input: {
    readonly approvalId: string;
    readonly householdId: string;
    readonly decision: 'approve' | 'reject';
    readonly commandId: string;
    readonly rationale: string;
    readonly now: Date;
  }): Promise<DecideApprovalResult>;
}

/**
 * Executes approved actions. Idempotent per `idempotencyKey` (commandId + effect
 * key): a retry after a failure that followed the effect does not repeat it.
 */
export interface ActionExecutor {
  execute(request: {
    readonly idempotencyKey: string;
    readonly householdId: string;
    readonly approvalId: string;
    readonly action: ProposedAction;
    readonly commandId: string;
    readonly now: Date;
  }): Promise<{ readonly executed: boolean }>;
}

/**
 * What the delegation branch of `agent.approval.decided` needs (seed 004): the task store, the
 * site lanes, the registry (is a worker of the site online?) and the delegation flag. Without
 * it, approved actions always run in-process.
 */
export interface WorkerDelegationPorts {
  /** The control plane's environment, written into each task message. */
  readonly environment: string;
  readonly tasks: Pick<WorkerTaskStore, 'createQueued' | 'get'>;
  readonly queue: Pick<WorkerTaskQueue, 'send'>;
  readonly registry: Pick<WorkerRegistry, 'list'>;
  readonly flag: Pick<DelegationFlagStore, 'get'>;
  /** Missed heartbeats before a worker counts as offline. */
  readonly staleMultiple: number;
  /**
   * The task's start deadline (`timeoutMs` of the message).
   * @default 300_000
   */
  readonly taskTimeoutMs?: number;
}

export interface SendResult {
  readonly messageId: string;
}

/** Enqueues commands on their lane. */
export interface CommandQueue {
  send(envelope: CommandEnvelope): Promise<SendResult>;
}

export interface DeadLetterMessage {
  readonly lane: string;
  /** The original body, unchanged, so a replay can rebuild the command. */
  readonly body: string;
  readonly reason: string;
  readonly rationale: string;
  readonly sourceMessageId: string;
  readonly receiveCount: number;
  readonly commandId?: string;
  readonly correlationId?: string;
}

/** The lane's DLQ, written by the worker so every dead letter carries its reason. */
export interface DeadLetterSink {
  send(message: DeadLetterMessage): Promise<void>;
}

export interface BatchTelemetry {
  readonly lane: string;
  readonly environment: string;
  readonly received: number;
  readonly completed: number;
  readonly needsReview: number;
  readonly duplicates: number;
  readonly retried: number;
  readonly deadLettered: Readonly<Record<string, number>>;
  readonly commandIds: readonly string[];
  readonly at: string;
}

/** Publishes one event on the telemetry bus. */
export interface EventPublisher {
  publish(event: {
    readonly source: string;
    readonly detailType: string;
    readonly detail: unknown;
  }): Promise<void>;
}

/** A lane's dead-letter queue as the replay drill and `runlane dlq` read it. */
export interface DeadLetterQueue {
  /** Receives up to `max` messages, hidden for `visibilitySeconds` (0 = peek and restore at once). */
  receive(max: number, visibilitySeconds: number): Promise<DeadLetterMessageRead[]>;
  /** Makes a received message visible again, so a peek burns nothing but a receive count. */
  restore(receiptHandle: string): Promise<void>;
  delete(receiptHandle: string): Promise<void>;
}

export interface DeadLetterMessageRead {
  readonly messageId: string;
  readonly receiptHandle: string;
  readonly body: string;
  readonly attributes: Readonly<Record<string, string>>;
  readonly receiveCount: number;
  readonly sentAt: number;
}

/** Publishes one summary per batch; failures are the caller's warning, never the command's. */
export interface TelemetryPublisher {
  publishBatchSummary(summary: BatchTelemetry): Promise<void>;
}

export type ClaimClientKeyResult =
  | { readonly outcome: 'claimed' }
  | {
      readonly outcome: 'exists';
      readonly commandId: string;
      readonly correlationId: string;
      readonly requestHash: string;
    };

/** Client `Idempotency-Key` header → the commandId it produced. */
export interface ClientKeyStore {
  claim(input: {
    readonly key: string;
    readonly commandId: string;
    readonly correlationId: string;
    readonly requestHash: string;
    readonly now: Date;
  }): Promise<ClaimClientKeyResult>;
  /** Undo a claim whose command could not be enqueued, so the client's retry enqueues it. */
  release(key: string, commandId: string): Promise<void>;
}

/**
 * Records metrics declared in `METRICS` (`metrics.ts`). The Lambda adapter
 * writes CloudWatch EMF through Powertools Metrics and flushes once per
 * invocation; tests keep the values in memory.
 *
 * @example
 * metrics.record('commandsDeadLettered', 1, { Lane: 'runtime-agent-message-posted', Reason: 'invalid_json' });
 */
export interface MetricsRecorder {
  /**
   * Adds one value. `dimensions` holds every dimension of the metric except
   * `Environment`, which the recorder sets. May throw on a malformed value;
   * callers that must never fail wrap it.
   */
  record<K extends MetricKey>(
    metric: K,
    value: number,
    dimensions: MetricDimensionValues<K>,
    options?: MetricRecordOptions,
  ): void;
}

export interface MetricRecordOptions {
  /**
   * When the counted thing happened, if not now (CloudWatch accepts up to 14
   * days back and 2 hours ahead). A value with a timestamp is written at once
   * as its own EMF line.
   * @default now
   */
  readonly timestamp?: Date;
}

/** An event an on-host agent reported: a stall or a run summary (`agent-events.ts`). */
export type RunnerEvent = RunnerStallEvent | RunnerRunSummaryEvent;

/** What storing a runner event did: `duplicate` when an event with its id (and time) is already stored. */
export type RunnerEventPutResult = 'stored' | 'duplicate';

/** The runner events of an environment in a time window, each list sorted by `ts`. */
export interface RunnerEventWindow {
  readonly stalls: RunnerStallEvent[];
  readonly runs: RunnerRunSummaryEvent[];
}

/**
 * Runner events kept for breakdowns and the daily report. `put` stores an
 * event once: a resend (same id, same body) is reported as `duplicate` and
 * changes nothing.
 *
 * @example
 * if ((await store.put(stall)) === 'stored') metrics.record('runnerStalls', 1, dims);
 * const { stalls, runs } = await store.listEvents({ environment: 'prod', from, to });
 */
export interface RunnerEventStore {
  put(event: RunnerEvent): Promise<RunnerEventPutResult>;
  /** Events with `from <= ts < to`, of one environment, each list sorted by `ts`. */
  listEvents(query: {
    readonly environment: string;
    readonly from: Date;
    readonly to: Date;
  }): Promise<RunnerEventWindow>;
}

/**
 * What storing a supervisor health report did: `stored` when it is now the
 * host's latest; `stale` when the host already has a report at least as new
 * (a late spool replay: it is not kept, yet it describes its own moment);
 * `duplicate` when the latest report is this very event (a resend).
 */
export type SupervisorHealthPutResult = 'stored' | 'stale' | 'duplicate';

/**
 * Supervisor events of `runlane-agent supervise`: the latest health report per
 * host, and a history of child events (exits, restarts, quarantines…).
 *
 * @example
 * await store.putHealth(health); // 'stored' | 'stale' | 'duplicate'
 * const hosts = await store.listSupervisorHealth('prod');
 * const children = await store.listSupervisorChildEvents({ environment: 'prod', from, to });
 */
export interface SupervisorEventStore {
  /** Keeps the report as its host's latest, only if its `ts` is newer than the stored one's. */
  putHealth(event: SupervisorHealthEvent): Promise<SupervisorHealthPutResult>;
  /** Appends a child event once; a resend (same id and ts) is a `duplicate`. */
  putChildEvent(event: SupervisorChildEvent): Promise<RunnerEventPutResult>;
  /** Every host's latest health report in the environment, sorted by host. */
  listSupervisorHealth(environment: string): Promise<SupervisorHealthEvent[]>;
  /** Child events with `from <= ts < to`, of one environment, sorted by `ts`. */
  listSupervisorChildEvents(query: {
    readonly environment: string;
    readonly from: Date;
    readonly to: Date;
  }): Promise<SupervisorChildEvent[]>;
}

/** A bus event the runner event ingest refused, with why. */
export interface RunnerEventDeadLetter {
  /** The EventBridge event as the function received it, JSON. */
  readonly body: string;
  /** One of `RUNNER_EVENT_REJECT_REASONS`. */
  readonly reason: string;
  /** What was wrong, with field paths. */
  readonly rationale: string;
  /** The bus event's `detail-type`, when it had one. */
  readonly detailType?: string;
  /** The bus event's `id` (EventBridge's, new on every PutEvents). */
  readonly busEventId?: string;
  /** The agent event's own `id` (`detail.id`), when it had one. */
  readonly eventId?: string;
}

/** Where refused runner events go (the ingest DLQ), so they are neither retried forever nor lost. */
export interface RunnerEventDeadLetterSink {
  send(message: RunnerEventDeadLetter): Promise<void>;
}

/** Records nothing: the default where no metrics are wanted (tests, scripts). */
export const noopMetricsRecorder: MetricsRecorder = { record: () => undefined };

export interface Clock {
  now(): Date;
}

export const systemClock: Clock = { now: () => new Date() };
