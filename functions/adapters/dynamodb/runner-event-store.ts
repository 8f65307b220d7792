import { ConditionalCheckFailedException } from '@aws-sdk/client-dynamodb';
import { type DynamoDBDocumentClient, PutCommand } from '@aws-sdk/lib-dynamodb';
import {
  AGENT_DETAIL_TYPES,
  type RunnerRunSummaryEvent,
  type RunnerStallEvent,
  runnerRunSummaryEventSchema,
  runnerStallEventSchema,
} from '#contracts/agent-events.js';
import { FLEET_SHARDS, partitionOf, partitionsOf } from '#contracts/tables.js';
import { type Clock, systemClock } from '#core/base/clock.js';
import type { RunnerEvent, RunnerEventStore } from '#core/runner/ports.js';
import type { Item } from './items.js';
import { retentionSeconds } from './retention.js';
import { queryPartitions } from './sharded-query.js';

/**
 * Runner events in the lifecycle table (single-table design, `LIFECYCLE_TABLE`).
 *
 * Keys: {@link RUNNER_EVENT_SHARDS} partitions per environment and UTC day of the
 * event's `ts` (the shard a stable hash of the event id, so a day's writes from a
 * whole fleet spread over them), each sorted by time —
 * - `pk` = `RUNNER#<environment>#<yyyy-mm-dd>#<shard>`
 * - `sk` = `<ts as UTC ISO, ms>#<stall|run>#<id>`
 *
 * so a window is one Query per shard and day (`sk BETWEEN <from> AND <to>`), the
 * shards of a day read in parallel, and a resend (same id, same ts) hits the same
 * key: the put is conditional on `attribute_not_exists(pk)` and reports `duplicate`.
 * Events stored before the sharding, under `RUNNER#<environment>#<yyyy-mm-dd>`, are
 * read too (one more Query per day) until their retention has passed.
 *
 * Items hold the event's own fields (evidence bounded, see
 * `RUNNER_EVIDENCE_BOUNDS`), `entity`, `receivedAt` and `expiresAt` (TTL,
 * `retentionDays` after receipt, so a resend stays recognisable for that long).
 * They carry none of the table's index attributes, so they cost no index
 * writes, and their `sk` is never `RUN`, so the anomaly sweep skips them.
 */
export const RUNNER_EVENT_PARTITION_PREFIX = 'RUNNER#';

/** Stored evidence per stall: the lines that decided the root cause are short; a runaway agent cannot make items large. */
export const RUNNER_EVIDENCE_BOUNDS = { maxLines: 20, maxLineChars: 500 } as const;

/** Partitions per environment and day; readers query each. Changing it strands stored events. */
export const RUNNER_EVENT_SHARDS = FLEET_SHARDS;

/** Longest window `listEvents` reads (one query per shard and day). */
export const MAX_RUNNER_EVENT_WINDOW_DAYS = 400;

/** Default for `retentionDays`: the lifecycle configuration's default. */
export const DEFAULT_RUNNER_EVENT_RETENTION_DAYS = 30;

const KIND = { stall: 'stall', run: 'run' } as const;
const DAY_MS = 24 * 60 * 60 * 1000;

export const runnerEventKeys = {
  /** Every partition of an environment's day: the shards, then the one used before sharding. */
  partitionsOfDay: (environment: string, instant: Date) =>
    partitionsOf(runnerEventKeys.dayPartition(environment, instant)),
  /** `RUNNER#<environment>#<yyyy-mm-dd>`: the day's partition before sharding, and the shards' prefix. */
  dayPartition: (environment: string, instant: Date) =>
    `${RUNNER_EVENT_PARTITION_PREFIX}${environment}#${instant.toISOString().slice(0, 10)}`,
  item: (event: RunnerEvent) => {
    const instant = new Date(event.ts);
    return {
      pk: partitionOf(runnerEventKeys.dayPartition(event.environment, instant), event.id),
      sk: `${instant.toISOString()}#${isStall(event) ? KIND.stall : KIND.run}#${event.id}`,
    };
  },
} as const;

export interface DynamoDbRunnerEventStoreOptions {
  readonly client: DynamoDBDocumentClient;
  readonly tableName: string;
  /**
   * Days an event is kept after it was received (TTL `expiresAt`).
   * @default 30
   */
  readonly retentionDays?: number;
  /** @default systemClock */
  readonly clock?: Clock;
  /**
   * Items per Query page; DynamoDB's 1 MB page when undefined.
   * @default undefined
   */
  readonly pageSize?: number;
}

/**
 * @example
 * const store = new DynamoDbRunnerEventStore({ client: documents, tableName: 'runlane-prod-lifecycle' });
 * await store.put(stall); // 'stored', then 'duplicate' for a resend
 * const { stalls, runs } = await store.listEvents({ environment: 'prod', from: new Date(Date.now() - 86_400_000), to: new Date() });
 */
export class DynamoDbRunnerEventStore implements RunnerEventStore {
  readonly #client: DynamoDBDocumentClient;
  readonly #tableName: string;
  readonly #retentionSeconds: number;
  readonly #clock: Clock;
  readonly #pageSize: number | undefined;

  public constructor(options: DynamoDbRunnerEventStoreOptions) {
    this.#client = options.client;
    this.#tableName = options.tableName;
    this.#retentionSeconds = retentionSeconds(options.retentionDays ?? DEFAULT_RUNNER_EVENT_RETENTION_DAYS);
    this.#clock = options.clock ?? systemClock;
    this.#pageSize = options.pageSize;
  }

  /** Stores the event once; `duplicate` when an event with its id and ts is already stored. */
  public async put(event: RunnerEvent): Promise<'stored' | 'duplicate'> {
    const now = this.#clock.now();
    const item: Item = {
      ...runnerEventKeys.item(event),
      entity: isStall(event) ? AGENT_DETAIL_TYPES.stall : AGENT_DETAIL_TYPES.runSummary,
      ...(isStall(event) ? { ...event, evidence: boundEvidence(event.evidence) } : event),
      receivedAt: now.toISOString(),
      expiresAt: Math.floor(now.getTime() / 1000) + this.#retentionSeconds,
    };
    try {
      await this.#client.send(
        new PutCommand({
          TableName: this.#tableName,
          Item: item,
          ConditionExpression: 'attribute_not_exists(pk)',
        }),
      );
      return 'stored';
    } catch (error) {
      if (error instanceof ConditionalCheckFailedException) return 'duplicate';
      throw error;
    }
  }

  /**
   * The environment's events with `from <= ts < to`: one paginated Query per
   * partition of each UTC day in the window (a day's in parallel), stalls and
   * runs each sorted by `ts`.
   */
  public async listEvents(query: {
    readonly environment: string;
    readonly from: Date;
    readonly to: Date;
  }): Promise<{ stalls: RunnerStallEvent[]; runs: RunnerRunSummaryEvent[] }> {
    const { environment, from, to } = query;
    if (Number.isNaN(from.getTime()) || Number.isNaN(to.getTime())) {
      throw new RangeError('listEvents: from and to must be valid dates');
    }
    if (from.getTime() > to.getTime()) {
      throw new RangeError(`listEvents: from (${from.toISOString()}) is after to (${to.toISOString()})`);
    }
    const firstDay = Date.parse(from.toISOString().slice(0, 10));
    const days = Math.floor((to.getTime() - firstDay) / DAY_MS) + 1;
    if (days > MAX_RUNNER_EVENT_WINDOW_DAYS) {
      throw new RangeError(
        `listEvents: the window spans ${days} days; at most ${MAX_RUNNER_EVENT_WINDOW_DAYS}`,
      );
    }
    const stalls: RunnerStallEvent[] = [];
    const runs: RunnerRunSummaryEvent[] = [];
    for (let day = 0; day < days; day += 1) {
      const partitions = runnerEventKeys.partitionsOfDay(environment, new Date(firstDay + day * DAY_MS));
      const items = await queryPartitions(
        this.#client,
        partitions,
        (pk) => ({
          TableName: this.#tableName,
          KeyConditionExpression: 'pk = :pk AND sk BETWEEN :from AND :to',
          // An sk at exactly `to` is `<to>#…`, which sorts after `<to>`: the window is half-open.
          ExpressionAttributeValues: { ':pk': pk, ':from': from.toISOString(), ':to': to.toISOString() },
        }),
        this.#pageSize !== undefined ? { pageSize: this.#pageSize } : {},
      );
      for (const item of items) {
        const event = itemToRunnerEvent(item);
        if (isStall(event)) stalls.push(event);
        else runs.push(event);
      }
    }
    // Each partition comes in sk order, the shards of a day interleave: sort by the instant.
    return { stalls: sortByTs(stalls), runs: sortByTs(runs) };
  }
}

/** A stored item back to its event, validated by the event's schema. */
export function itemToRunnerEvent(item: Item): RunnerEvent {
  const { pk, sk, entity, receivedAt: _r, expiresAt: _e, ...fields } = item;
  const schema =
    entity === AGENT_DETAIL_TYPES.stall
      ? runnerStallEventSchema
      : entity === AGENT_DETAIL_TYPES.runSummary
        ? runnerRunSummaryEventSchema
        : undefined;
  const parsed = schema?.safeParse(fields);
  if (!parsed?.success) {
    throw new Error(
      `runner event item ${String(pk)} / ${String(sk)} (${String(entity)}) is not a valid event: ${parsed?.error.message ?? 'unknown entity'}`,
    );
  }
  return parsed.data;
}

function isStall(event: RunnerEvent): event is RunnerStallEvent {
  return 'rootCause' in event;
}

function boundEvidence(lines: readonly string[]): string[] {
  return lines
    .slice(0, RUNNER_EVIDENCE_BOUNDS.maxLines)
    .map((line) => line.slice(0, RUNNER_EVIDENCE_BOUNDS.maxLineChars));
}

function sortByTs<T extends RunnerEvent>(events: T[]): T[] {
  return events
    .map((event) => ({ event, at: Date.parse(event.ts) }))
    .sort((a, b) => a.at - b.at || a.event.id.localeCompare(b.event.id))
    .map(({ event }) => event);
}
