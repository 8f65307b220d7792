import { commandIdNamedByCorrelationId } from '../core/envelope.js';
import type { DomainRecord, RunRecord, Signal } from '../core/lifecycle.js';
import { RUN_STATUS } from '../core/lifecycle.js';
import type { ApprovalRequest } from '../core/ports.js';
import { LIFECYCLE_TABLE } from '../core/tables.js';

/**
 * Item shapes in the lifecycle table. Every entity lives under its own
 * partition prefix; the run item carries the sparse index attributes only when
 * it needs them (see `LIFECYCLE_TABLE`).
 */
export const RUN_SORT_KEY = 'RUN';
export const REVIEW_QUEUE_PARTITION = 'NeedsReview';

export const keys = {
  run: (runId: string) => ({ pk: `RUN#${runId}`, sk: RUN_SORT_KEY }),
  runPartition: (runId: string) => `RUN#${runId}`,
  findingSignal: (runId: string, index: number) => ({
    pk: `RUN#${runId}`,
    sk: `SIGNAL#${String(index).padStart(5, '0')}`,
  }),
  conversationMessage: (conversationId: string, postedAt: string, commandId: string) => ({
    pk: `CONV#${conversationId}`,
    sk: `MSG#${postedAt}#${commandId}`,
  }),
  approval: (approvalId: string) => ({ pk: `APPROVAL#${approvalId}`, sk: 'APPROVAL' }),
  actionHistory: (householdId: string, idempotencyKey: string) => ({
    pk: `ACTION#${householdId}`,
    sk: `EXEC#${idempotencyKey}`,
  }),
  clientKey: (key: string) => ({ pk: `CLIENTKEY#${key}`, sk: 'CLIENTKEY' }),
  /** A delegated task (seed 004's `worker_tasks` row); its stored results share its partition. */
  workerTask: (taskId: string) => ({ pk: keys.workerTaskPartition(taskId), sk: WORKER_TASK_SORT_KEY }),
  workerTaskPartition: (taskId: string) => `WTASK#${taskId}`,
  /** One per task in its current status (`queuedAt` first, so a partition lists oldest → newest). */
  workerTaskStatus: (environment: string, status: string, queuedAt: string, taskId: string) => ({
    pk: keys.workerTaskStatusPartition(environment, status),
    sk: `${queuedAt}#${taskId}`,
  }),
  workerTaskStatusPartition: (environment: string, status: string) => `WTASKS#${environment}#${status}`,
  /**
   * A stored result envelope (seed 004's `worker_results`), once per idempotency key: in its task's
   * partition when it names a task, else (a health envelope) a partition of its own.
   */
  workerResult: (key: string, taskId: string | undefined) =>
    taskId === undefined
      ? { pk: `WRESULT#${key}`, sk: 'WRESULT' }
      : { pk: keys.workerTaskPartition(taskId), sk: `${WORKER_RESULT_SORT_KEY_PREFIX}${key}` },
  /** The registry: one item per worker of an environment, all in one partition. */
  worker: (environment: string, workerId: string) => ({
    pk: keys.workerRegistryPartition(environment),
    sk: `WORKER#${workerId}`,
  }),
  workerRegistryPartition: (environment: string) => `WORKERS#${environment}`,
  /** The runtime delegation flag of an environment. */
  delegationFlag: (environment: string) => ({ pk: `WCONFIG#${environment}`, sk: 'DELEGATION' }),
} as const;

export const WORKER_TASK_SORT_KEY = 'WTASK';
export const WORKER_RESULT_SORT_KEY_PREFIX = 'WRESULT#';

export type Item = Record<string, unknown>;

export function runToItem(run: RunRecord): Item {
  const indexAttributes: Item = {};
  // A correlation id that names the run's own commandId needs no index entry (the cost target).
  if (commandIdNamedByCorrelationId(run.correlationId) !== run.commandId) {
    indexAttributes[LIFECYCLE_TABLE.indexes.byCorrelation.partitionKey] = run.correlationId;
  }
  if (run.status === RUN_STATUS.NeedsReview && run.needsReviewSince) {
    indexAttributes[LIFECYCLE_TABLE.indexes.reviewQueue.partitionKey] = REVIEW_QUEUE_PARTITION;
  }
  return { ...keys.run(run.runId), entity: 'Run', ...run, ...indexAttributes };
}

export function itemToRun(item: Item): RunRecord {
  const { pk: _pk, sk: _sk, entity: _entity, correlationKey: _c, reviewQueue: _r, ...run } = item;
  return run as unknown as RunRecord;
}

export function recordToItem(record: DomainRecord): Item {
  switch (record.kind) {
    case 'conversationMessage':
      return {
        ...keys.conversationMessage(record.conversationId, record.postedAt, record.commandId),
        entity: 'ConversationMessage',
        conversationId: record.conversationId,
        householdId: record.householdId,
        commandId: record.commandId,
        postedAt: record.postedAt,
        text: record.text,
        ...(record.authorId ? { authorId: record.authorId } : {}),
      };
    case 'approvalRequest':
      return {
        ...keys.approval(record.approvalId),
        entity: 'ApprovalRequest',
        approvalId: record.approvalId,
        conversationId: record.conversationId,
        householdId: record.householdId,
        requestedByCommandId: record.requestedByCommandId,
        correlationId: record.correlationId,
        action: record.action,
        status: 'Pending',
        requestedAt: record.requestedAt,
      };
    case 'findingSignal':
      return { ...keys.findingSignal(record.runId, record.index), entity: 'Signal', ...record.signal };
  }
}

export function itemToSignal(item: Item): Signal {
  const { pk: _pk, sk: _sk, entity: _entity, ...signal } = item;
  return signal as unknown as Signal;
}

export function itemToApproval(item: Item): ApprovalRequest {
  const { pk: _pk, sk: _sk, entity: _entity, requestedAt: _at, ...approval } = item;
  return approval as unknown as ApprovalRequest;
}
