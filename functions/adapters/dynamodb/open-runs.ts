import { ConditionalCheckFailedException } from '@aws-sdk/client-dynamodb';
import {
  type DynamoDBDocumentClient,
  PutCommand,
  QueryCommand,
  type QueryCommandOutput,
} from '@aws-sdk/lib-dynamodb';
import type { RunRecord } from '#contracts/lifecycle.js';
import {
  LIFECYCLE_TABLE,
  OPEN_RUN_KINDS,
  OPEN_RUNS_SHARDS,
  type OpenRunKind,
  openRunsDueKey,
  openRunsPartition,
  REVIEW_QUEUE_PARTITION,
} from '#contracts/tables.js';
import type { OpenRunsIndex, OpenRunsPage, OpenRunsQuery } from '#core/lifecycle/open-runs-ports.js';
import { type Item, itemToRun, runToItem } from './items.js';
import { unchangedReservedRun } from './run-conditions.js';

export interface DynamoDbOpenRunsOptions {
  readonly client: DynamoDBDocumentClient;
  readonly tableName: string;
}

/** Where a paged read stopped: the shard it was reading and the last key DynamoDB returned there. */
interface Position {
  readonly shard: number;
  readonly key?: Record<string, unknown>;
}

/**
 * `OpenRunsIndex` on the lifecycle table: Queries of the sparse `openRuns` index (one shard at a
 * time, `openDueAt BETWEEN '<kind>#' AND '<kind>#<dueBy>'`) and of the `reviewQueue` index
 * (`needsReviewSince < before`). Both project the whole run, so a page is one Query per shard and
 * nothing outside the index is read: the cost follows the open runs, never the table size.
 *
 * @example
 * const open = new DynamoDbOpenRuns({ client: documents, tableName });
 * let cursor: string | undefined;
 * do {
 *   const page = await open.listDelegatedDue({ dueBy: Date.now(), limit: 100, cursor });
 *   for (const run of page.runs) handle(run);
 *   cursor = page.nextCursor;
 * } while (cursor);
 */
export class DynamoDbOpenRuns implements OpenRunsIndex {
  readonly #client: DynamoDBDocumentClient;
  readonly #tableName: string;

  public constructor(options: DynamoDbOpenRunsOptions) {
    this.#client = options.client;
    this.#tableName = options.tableName;
  }

  public listReservedDue(query: OpenRunsQuery): Promise<OpenRunsPage> {
    return this.#listDue(OPEN_RUN_KINDS.reserved, query);
  }

  public listDelegatedDue(query: OpenRunsQuery): Promise<OpenRunsPage> {
    return this.#listDue(OPEN_RUN_KINDS.delegated, query);
  }

  public async listStaleReviews(query: {
    readonly before: string;
    readonly limit: number;
    readonly cursor?: string;
  }): Promise<OpenRunsPage> {
    const index = LIFECYCLE_TABLE.indexes.reviewQueue;
    const start = query.cursor === undefined ? undefined : decodePosition(query.cursor);
    const page = await this.#query({
      IndexName: index.name,
      KeyConditionExpression: '#p = :p AND #s < :before',
      ExpressionAttributeNames: { '#p': index.partitionKey, '#s': index.sortKey },
      ExpressionAttributeValues: { ':p': REVIEW_QUEUE_PARTITION, ':before': query.before },
      Limit: checkedLimit(query.limit),
      ...(start?.key ? { ExclusiveStartKey: start.key } : {}),
    });
    return {
      runs: (page.Items ?? []).map(itemToRun),
      itemsRead: page.ScannedCount ?? 0,
      ...(page.LastEvaluatedKey
        ? { nextCursor: encodePosition({ shard: 0, key: page.LastEvaluatedKey }) }
        : {}),
    };
  }

  public async closeAbandoned(seen: RunRecord, closed: RunRecord): Promise<boolean> {
    if (closed.runId !== seen.runId) throw new Error(`closeAbandoned: ${closed.runId} is not ${seen.runId}`);
    try {
      await this.#client.send(
        new PutCommand({
          TableName: this.#tableName,
          Item: runToItem(closed),
          ...unchangedReservedRun(seen),
        }),
      );
      return true;
    } catch (error) {
      if (error instanceof ConditionalCheckFailedException) return false;
      throw error;
    }
  }

  /** Up to `limit` due runs of one kind, shard after shard from where the cursor stopped. */
  async #listDue(kind: OpenRunKind, query: OpenRunsQuery): Promise<OpenRunsPage> {
    const limit = checkedLimit(query.limit);
    const index = LIFECYCLE_TABLE.indexes.openRuns;
    let position: Position = query.cursor === undefined ? { shard: 0 } : decodePosition(query.cursor);
    const runs: RunRecord[] = [];
    let itemsRead = 0;
    while (position.shard < OPEN_RUNS_SHARDS && runs.length < limit) {
      const page = await this.#query({
        IndexName: index.name,
        KeyConditionExpression: '#p = :p AND #s BETWEEN :from AND :to',
        ExpressionAttributeNames: { '#p': index.partitionKey, '#s': index.sortKey },
        ExpressionAttributeValues: {
          ':p': openRunsPartition(position.shard),
          ':from': `${kind}#`,
          ':to': openRunsDueKey(kind, query.dueBy),
        },
        Limit: limit - runs.length,
        ...(position.key ? { ExclusiveStartKey: position.key } : {}),
      });
      itemsRead += page.ScannedCount ?? 0;
      runs.push(...(page.Items ?? []).map(itemToRun));
      position = page.LastEvaluatedKey
        ? { shard: position.shard, key: page.LastEvaluatedKey }
        : { shard: position.shard + 1 };
    }
    return {
      runs,
      itemsRead,
      ...(position.shard < OPEN_RUNS_SHARDS ? { nextCursor: encodePosition(position) } : {}),
    };
  }

  async #query(
    input: Omit<ConstructorParameters<typeof QueryCommand>[0], 'TableName'>,
  ): Promise<QueryCommandOutput & { Items?: Item[] }> {
    return this.#client.send(new QueryCommand({ ...input, TableName: this.#tableName }));
  }
}

function checkedLimit(limit: number): number {
  if (!(Number.isInteger(limit) && limit > 0))
    throw new RangeError(`limit must be a positive integer, got ${limit}`);
  return limit;
}

function encodePosition(position: Position): string {
  return Buffer.from(JSON.stringify(position)).toString('base64url');
}

/** A cursor this adapter returned; anything else is a bug of the caller, not a user error. */
function decodePosition(cursor: string): Position {
  let parsed: unknown;
  try {
    parsed = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8'));
  } catch {
    parsed = undefined;
  }
  const position = parsed as Partial<Position> | undefined;
  const shard = position?.shard;
  const key = position?.key;
  if (
    typeof shard !== 'number' ||
    !Number.isInteger(shard) ||
    shard < 0 ||
    shard >= OPEN_RUNS_SHARDS ||
    (key !== undefined && (typeof key !== 'object' || key === null || Array.isArray(key)))
  ) {
    throw new RangeError(`not an open-runs cursor: ${cursor}`);
  }
  return key === undefined ? { shard } : { shard, key };
}
