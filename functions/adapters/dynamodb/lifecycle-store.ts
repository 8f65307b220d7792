import { ConditionalCheckFailedException } from '@aws-sdk/client-dynamodb';
import {
  BatchGetCommand,
  type DynamoDBDocumentClient,
  GetCommand,
  PutCommand,
  QueryCommand,
  type QueryCommandInput,
  ScanCommand,
  UpdateCommand,
} from '@aws-sdk/lib-dynamodb';
import { unmarshall } from '@aws-sdk/util-dynamodb';
import { commandIdNamedByCorrelationId } from '#contracts/envelope.js';
import { type DomainRecord, KEY_STATUS, type RunRecord } from '#contracts/lifecycle.js';
import { keys, LIFECYCLE_TABLE, REVIEW_QUEUE_PARTITION, RUN_SORT_KEY } from '#contracts/tables.js';
import { LockLostError } from '#core/base/errors.js';
import type {
  LifecycleStore,
  ReserveAttemptInput,
  ReserveResult,
  ReviewQueuePage,
  RunView,
} from '#core/lifecycle/ports.js';
import { canTakeOver, newRun, takeOverRun } from '#core/lifecycle/run.js';
import { type Item, itemToRun, itemToSignal, recordToItem, runToItem } from './items.js';
import { unchangedReservedRun } from './run-conditions.js';

const MAX_TAKEOVER_RACES = 3;
const UNPROCESSED_RETRIES = 6;

export interface DynamoDbLifecycleStoreOptions {
  readonly client: DynamoDBDocumentClient;
  readonly tableName: string;
}

/**
 * `LifecycleStore` on one DynamoDB table. A first attempt costs one conditional
 * put; completion costs one more conditional put, plus one put per handler record.
 */
export class DynamoDbLifecycleStore implements LifecycleStore {
  readonly #client: DynamoDBDocumentClient;
  readonly #tableName: string;

  public constructor(options: DynamoDbLifecycleStoreOptions) {
    this.#client = options.client;
    this.#tableName = options.tableName;
  }

  public async reserveAttempt(input: ReserveAttemptInput): Promise<ReserveResult> {
    const fresh = newRun(input.envelope, input);
    let existing = await this.#putIfAbsent(fresh);
    if (!existing) return { outcome: 'reserved', run: fresh };
    for (let race = 0; race < MAX_TAKEOVER_RACES; race++) {
      const nowMs = input.now.getTime();
      if (!canTakeOver(existing, nowMs)) return { outcome: 'exists', run: existing };
      const next = takeOverRun(existing, input);
      const current = await this.#putIfUnchanged(next, existing, nowMs);
      if (!current) return { outcome: 'reserved', run: next };
      existing = current;
    }
    return { outcome: 'exists', run: existing };
  }

  public async saveAttemptResult(
    run: RunRecord,
    attemptId: string,
    records: readonly DomainRecord[] = [],
  ): Promise<void> {
    if (records.length === 0) {
      try {
        await this.#client.send(
          new PutCommand({
            TableName: this.#tableName,
            Item: runToItem(run),
            ConditionExpression: 'lockOwner = :attemptId',
            ExpressionAttributeValues: { ':attemptId': attemptId },
          }),
        );
      } catch (error) {
        if (error instanceof ConditionalCheckFailedException) throw new LockLostError(run.commandId);
        throw error;
      }
      return;
    }
    // Records first, each created once: they are deterministic per commandId, so an attempt that
    // loses the run afterwards leaves exactly what the winner writes. The conditional run write
    // below is the commit point (readers ignore records of a run that is not Completed). A batch or
    // a transaction is not used: BatchWriteItem cannot be conditional and a transaction doubles
    // the write units.
    // Findings are the exception: they describe what this attempt saw, so they are overwritten and
    // shown only for the attempt that completed the run (see getRun).
    await Promise.all(
      records.map((record) =>
        record.kind === 'findingSignal'
          ? this.#client.send(new PutCommand({ TableName: this.#tableName, Item: recordToItem(record) }))
          : this.#createOnce(recordToItem(record)),
      ),
    );
    await this.saveAttemptResult(run, attemptId);
  }

  public async closeAbandonedRun(
    closed: RunRecord,
    seen: RunRecord | undefined,
  ): Promise<{ readonly outcome: 'closed' } | { readonly outcome: 'changed'; readonly run?: RunRecord }> {
    try {
      await this.#client.send(
        new PutCommand({
          TableName: this.#tableName,
          Item: runToItem(closed),
          ...(seen ? unchangedReservedRun(seen) : { ConditionExpression: 'attribute_not_exists(pk)' }),
          ReturnValuesOnConditionCheckFailure: 'ALL_OLD',
        }),
      );
      return { outcome: 'closed' };
    } catch (error) {
      if (!(error instanceof ConditionalCheckFailedException)) throw error;
      return { outcome: 'changed', ...(error.Item ? { run: existingOrThrow(error) } : {}) };
    }
  }

  public async markDeadLetterQueued(commandId: string, queuedAt: Date): Promise<void> {
    try {
      await this.#client.send(
        new UpdateCommand({
          TableName: this.#tableName,
          Key: keys.run(commandId),
          UpdateExpression: 'SET deadLetter.queuedAt = :at',
          ConditionExpression: 'keyStatus = :rejected AND attribute_exists(deadLetter)',
          ExpressionAttributeValues: { ':at': queuedAt.toISOString(), ':rejected': KEY_STATUS.Rejected },
        }),
      );
    } catch (error) {
      if (!(error instanceof ConditionalCheckFailedException)) throw error;
    }
  }

  public async getRun(runId: string): Promise<RunView | undefined> {
    const items = await this.#queryAll({
      KeyConditionExpression: 'pk = :pk',
      ExpressionAttributeValues: { ':pk': keys.runPartition(runId) },
      ConsistentRead: true,
    });
    const runItem = items.find((item) => item.sk === RUN_SORT_KEY);
    if (!runItem) return undefined;
    const run = itemToRun(runItem);
    // Findings belong to the command only once the attempt that wrote them completed the run.
    const findings =
      run.keyStatus === KEY_STATUS.Completed
        ? items
            .filter((item) => item.sk !== RUN_SORT_KEY)
            .map(itemToSignal)
            .filter((signal) => signal.attempt === run.attempts)
        : [];
    return { run, signals: [...run.signals, ...findings] };
  }

  public async findRunsByCorrelationId(correlationId: string): Promise<RunRecord[]> {
    const runs = new Map<string, RunRecord>();
    const named = commandIdNamedByCorrelationId(correlationId);
    if (named) {
      const result = await this.#client.send(
        new GetCommand({ TableName: this.#tableName, Key: keys.run(named), ConsistentRead: true }),
      );
      if (result.Item && result.Item.correlationId === correlationId) runs.set(named, itemToRun(result.Item));
    }
    const index = LIFECYCLE_TABLE.indexes.byCorrelation;
    const indexed = await this.#queryAll({
      IndexName: index.name,
      KeyConditionExpression: '#k = :c',
      ExpressionAttributeNames: { '#k': index.partitionKey },
      ExpressionAttributeValues: { ':c': correlationId },
    });
    for (const item of await this.#batchGet(indexed.map((i) => ({ pk: i.pk, sk: i.sk })))) {
      const run = itemToRun(item);
      runs.set(run.runId, run);
    }
    return [...runs.values()].sort((a, b) => a.issuedAt.localeCompare(b.issuedAt));
  }

  public async listReviewQueue(options: {
    readonly limit: number;
    readonly cursor?: string;
  }): Promise<ReviewQueuePage> {
    const index = LIFECYCLE_TABLE.indexes.reviewQueue;
    const page = await this.#client.send(
      new QueryCommand({
        TableName: this.#tableName,
        IndexName: index.name,
        KeyConditionExpression: '#k = :q',
        ExpressionAttributeNames: { '#k': index.partitionKey },
        ExpressionAttributeValues: { ':q': REVIEW_QUEUE_PARTITION },
        ScanIndexForward: true,
        Limit: options.limit,
        ...(options.cursor ? { ExclusiveStartKey: decodeCursor(options.cursor) } : {}),
      }),
    );
    return {
      runs: (page.Items ?? []).map(itemToRun),
      ...(page.LastEvaluatedKey ? { nextCursor: encodeCursor(page.LastEvaluatedKey) } : {}),
    };
  }

  /**
   * The run whose latest attempt came from this SQS message (its `lockOwner`
   * ends with the message id). A full scan: for `runlane trace` when nothing
   * but a message id is known, never on the command path.
   */
  public async findRunIdByMessageId(messageId: string): Promise<string | undefined> {
    let cursor: Record<string, unknown> | undefined;
    do {
      const page = await this.#client.send(
        new ScanCommand({
          TableName: this.#tableName,
          FilterExpression: 'sk = :run AND contains(lockOwner, :messageId)',
          ExpressionAttributeValues: { ':run': RUN_SORT_KEY, ':messageId': `:${messageId}` },
          ProjectionExpression: 'runId, lockOwner',
          ExclusiveStartKey: cursor,
        }),
      );
      const match = (page.Items ?? []).find((item) => String(item.lockOwner).endsWith(`:${messageId}`));
      if (match) return String(match.runId);
      cursor = page.LastEvaluatedKey;
    } while (cursor);
    return undefined;
  }

  public async recordDuplicateDelivery(commandId: string): Promise<void> {
    try {
      await this.#client.send(
        new UpdateCommand({
          TableName: this.#tableName,
          Key: keys.run(commandId),
          UpdateExpression: 'ADD duplicateDeliveries :one',
          ConditionExpression: 'attribute_exists(pk)',
          ExpressionAttributeValues: { ':one': 1 },
        }),
      );
    } catch (error) {
      if (!(error instanceof ConditionalCheckFailedException)) throw error;
    }
  }

  public async recordReplayLink(oldCommandId: string, newCommandId: string): Promise<boolean> {
    try {
      await this.#client.send(
        new UpdateCommand({
          TableName: this.#tableName,
          Key: keys.run(oldCommandId),
          UpdateExpression: 'SET replayedAs = list_append(if_not_exists(replayedAs, :empty), :new)',
          // Once per link: a retried replay step must not append it twice.
          ConditionExpression: 'attribute_exists(pk) AND NOT contains(replayedAs, :id)',
          ExpressionAttributeValues: { ':empty': [], ':new': [newCommandId], ':id': newCommandId },
        }),
      );
      return true;
    } catch (error) {
      if (!(error instanceof ConditionalCheckFailedException)) throw error;
      // Either no run, or the link is already there (a retried step).
      const existing = await this.#client.send(
        new GetCommand({ TableName: this.#tableName, Key: keys.run(oldCommandId), ConsistentRead: true }),
      );
      return Array.isArray(existing.Item?.replayedAs) && existing.Item.replayedAs.includes(newCommandId);
    }
  }

  /** Every item a query matches, across pages. */
  async #queryAll(input: Omit<QueryCommandInput, 'TableName' | 'ExclusiveStartKey'>): Promise<Item[]> {
    const items: Item[] = [];
    let cursor: Record<string, unknown> | undefined;
    do {
      const page = await this.#client.send(
        new QueryCommand({ ...input, TableName: this.#tableName, ExclusiveStartKey: cursor }),
      );
      items.push(...(page.Items ?? []));
      cursor = page.LastEvaluatedKey;
    } while (cursor);
    return items;
  }

  /** Puts a new run unless the key exists; returns the existing run if it does. */
  async #putIfAbsent(run: RunRecord): Promise<RunRecord | undefined> {
    try {
      await this.#client.send(
        new PutCommand({
          TableName: this.#tableName,
          Item: runToItem(run),
          ConditionExpression: 'attribute_not_exists(pk)',
          ReturnValuesOnConditionCheckFailure: 'ALL_OLD',
        }),
      );
      return undefined;
    } catch (error) {
      return existingOrThrow(error);
    }
  }

  /** Optimistic takeover: only if nobody took the key since we read it. */
  async #putIfUnchanged(next: RunRecord, seen: RunRecord, nowMs: number): Promise<RunRecord | undefined> {
    try {
      await this.#client.send(
        new PutCommand({
          TableName: this.#tableName,
          Item: runToItem(next),
          ConditionExpression:
            'attempts = :attempts AND keyStatus = :reserved AND (attribute_not_exists(lockExpiresAt) OR lockExpiresAt <= :now)',
          ExpressionAttributeValues: {
            ':attempts': seen.attempts,
            ':reserved': KEY_STATUS.Reserved,
            ':now': nowMs,
          },
          ReturnValuesOnConditionCheckFailure: 'ALL_OLD',
        }),
      );
      return undefined;
    } catch (error) {
      return existingOrThrow(error);
    }
  }

  /** Puts an item unless it exists: a record written once stays as first written. */
  async #createOnce(item: Item): Promise<void> {
    try {
      await this.#client.send(
        new PutCommand({
          TableName: this.#tableName,
          Item: item,
          ConditionExpression: 'attribute_not_exists(pk)',
        }),
      );
    } catch (error) {
      if (!(error instanceof ConditionalCheckFailedException)) throw error;
    }
  }

  async #batchGet(keysToGet: readonly Item[]): Promise<Item[]> {
    const found: Item[] = [];
    for (let start = 0; start < keysToGet.length; start += 100) {
      let pending: Item[] = keysToGet.slice(start, start + 100);
      for (let attempt = 0; pending.length > 0 && attempt <= UNPROCESSED_RETRIES; attempt++) {
        if (attempt > 0) await sleep(25 * 2 ** attempt);
        const result = await this.#client.send(
          new BatchGetCommand({
            RequestItems: { [this.#tableName]: { Keys: pending, ConsistentRead: true } },
          }),
        );
        found.push(...(result.Responses?.[this.#tableName] ?? []));
        pending = (result.UnprocessedKeys?.[this.#tableName]?.Keys ?? []) as Item[];
      }
    }
    return found;
  }
}

function existingOrThrow(error: unknown): RunRecord {
  if (error instanceof ConditionalCheckFailedException && error.Item) {
    return itemToRun(unmarshall(error.Item as Parameters<typeof unmarshall>[0]));
  }
  throw error;
}

function encodeCursor(key: Record<string, unknown>): string {
  return Buffer.from(JSON.stringify(key)).toString('base64url');
}

/** Cursors are opaque to clients; a malformed one is the client's error. */
export class InvalidCursorError extends Error {
  public constructor() {
    super('cursor is not one this API returned');
    this.name = 'InvalidCursorError';
  }
}

/** The review queue index's keys, exactly: the run's table key and its place in the queue. */
const REVIEW_CURSOR_KEYS = ['needsReviewSince', 'pk', 'reviewQueue', 'sk'] as const;
const RUN_PARTITION = /^RUN#[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
const ISO_INSTANT = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,9})?Z$/;

/**
 * A review-queue cursor back to the `ExclusiveStartKey` it encodes, validated in full, since
 * DynamoDB answers a malformed start key with a ValidationException (a 500): exactly the index's
 * four keys, the run's key (`RUN#<uuid>`, `RUN`), the queue's partition and an ISO instant. A
 * well-formed cursor can only start the page after some point of the queue, which every caller
 * of the route may read from its beginning anyway, so it needs no signature.
 */
function decodeCursor(cursor: string): Record<string, unknown> {
  let key: unknown;
  try {
    key = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8'));
  } catch {
    throw new InvalidCursorError();
  }
  if (typeof key !== 'object' || key === null || Array.isArray(key)) throw new InvalidCursorError();
  const record = key as Record<string, unknown>;
  const names = Object.keys(record).sort();
  const valid =
    names.length === REVIEW_CURSOR_KEYS.length &&
    names.every((name, index) => name === REVIEW_CURSOR_KEYS[index]) &&
    typeof record.pk === 'string' &&
    RUN_PARTITION.test(record.pk) &&
    record.sk === RUN_SORT_KEY &&
    record.reviewQueue === REVIEW_QUEUE_PARTITION &&
    typeof record.needsReviewSince === 'string' &&
    ISO_INSTANT.test(record.needsReviewSince);
  if (!valid) throw new InvalidCursorError();
  return record;
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
