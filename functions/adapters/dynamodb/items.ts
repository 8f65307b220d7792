import { commandIdNamedByCorrelationId } from '#contracts/envelope.js';
import type { DomainRecord, RunRecord, Signal } from '#contracts/lifecycle.js';
import { KEY_STATUS, RUN_STATUS } from '#contracts/lifecycle.js';
import {
  keys,
  LIFECYCLE_TABLE,
  OPEN_RUN_KINDS,
  openRunsDueKey,
  openRunsPartition,
  openRunsShard,
  REVIEW_QUEUE_PARTITION,
} from '#contracts/tables.js';
import type { ApprovalRequest } from '#core/commands/ports.js';

/**
 * Item shapes in the lifecycle table (keys in `contracts/tables.ts`); the run item carries the
 * sparse index attributes only when it needs them (see `LIFECYCLE_TABLE`).
 */
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
  const openDueAt = openRunDueKey(run);
  if (openDueAt !== undefined) {
    indexAttributes[LIFECYCLE_TABLE.indexes.openRuns.partitionKey] = openRunsPartition(
      openRunsShard(run.runId),
    );
    indexAttributes[LIFECYCLE_TABLE.indexes.openRuns.sortKey] = openDueAt;
  }
  return { ...keys.run(run.runId), entity: 'Run', ...run, ...indexAttributes };
}

/**
 * The run's `openDueAt` in the `openRuns` index, or undefined when it is not indexed (see
 * `LIFECYCLE_TABLE.indexes.openRuns`): a first attempt never is, so the happy path writes no
 * index entry.
 */
function openRunDueKey(run: RunRecord): string | undefined {
  if (run.keyStatus === KEY_STATUS.Reserved && run.attempts > 1) {
    return openRunsDueKey(OPEN_RUN_KINDS.reserved, run.lockExpiresAt ?? Date.parse(run.updatedAt));
  }
  if (run.status === RUN_STATUS.Running && run.keyStatus === KEY_STATUS.Completed && run.delegation) {
    return openRunsDueKey(OPEN_RUN_KINDS.delegated, Date.parse(run.delegation.deadlineAt));
  }
  return undefined;
}

export function itemToRun(item: Item): RunRecord {
  const {
    pk: _pk,
    sk: _sk,
    entity: _entity,
    correlationKey: _c,
    reviewQueue: _r,
    openShard: _s,
    openDueAt: _d,
    ...run
  } = item;
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
