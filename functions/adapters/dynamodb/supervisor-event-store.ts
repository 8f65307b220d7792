import { ConditionalCheckFailedException } from '@aws-sdk/client-dynamodb';
import { type DynamoDBDocumentClient, PutCommand } from '@aws-sdk/lib-dynamodb';
import {
  SUPERVISOR_DETAIL_TYPES,
  type SupervisorChildEvent,
  type SupervisorHealthEvent,
  supervisorChildEventSchema,
  supervisorHealthEventSchema,
} from '#contracts/agent-events.js';
import {
  partitionOf,
  partitionsOf,
  SUPERVISOR_PARTITION_PREFIX,
  supervisorHealthPartition,
  supervisorHealthPartitions,
} from '#contracts/tables.js';
import { type Clock, systemClock } from '#core/base/clock.js';
import type { RunnerEventPutResult } from '#core/runner/ports.js';
import type { SupervisorEventStore, SupervisorHealthPutResult } from '#core/supervisor/ports.js';
import type { Item } from './items.js';
import { retentionSeconds } from './retention.js';
import { DEFAULT_RUNNER_EVENT_RETENTION_DAYS, MAX_RUNNER_EVENT_WINDOW_DAYS } from './runner-event-store.js';
import { compareKeys, type PartitionQuery, queryPartitions } from './sharded-query.js';

/**
 * Supervisor events in the lifecycle table (single-table design, next to the
 * runner events).
 *
 * Latest health, one item per environment and host, spread over `FLEET_SHARDS` partitions by
 * host (so no partition grows with the fleet):
 * - `pk` = `SUPERVISOR#<environment>#<shard of host>`, `sk` = `HOST#<host>`
 * - written with a conditional put: only when no item exists or the stored
 *   `at` (the report's `ts` as UTC ISO with ms, so offsets compare as
 *   instants) is older than the incoming one. A spool replay of older reports
 *   after an outage therefore never overwrites a newer one (`stale`); a resend
 *   of the stored report is told apart by its id (`duplicate`). The `HOST#`
 *   prefix keeps the sort key from ever being `RUN` (the anomaly sweep's
 *   filter), whatever a host is called. All hosts of an environment are one
 *   Query per shard, in parallel.
 *
 * Child events, appended like runner events, `FLEET_SHARDS` partitions per
 * environment and UTC day of the event's `ts` (the shard of the event id):
 * - `pk` = `SUPERVISOR#<environment>#<yyyy-mm-dd>#<shard>`, `sk` = `<ts as UTC ISO, ms>#child#<id>`
 * - put on `attribute_not_exists(pk)`: a resend is a `duplicate`.
 *
 * Items written before the sharding (`SUPERVISOR#<environment>`,
 * `SUPERVISOR#<environment>#<yyyy-mm-dd>`) are read too, until they expire: a
 * host found in both keeps its newest report, an event found in both is listed
 * once.
 *
 * Items hold the event's fields, `entity` (the detail type), `receivedAt` and
 * `expiresAt` (TTL, `retentionDays` after receipt: a host silent that long
 * drops out of `listSupervisorHealth`). None carries an index attribute.
 */
export { SUPERVISOR_PARTITION_PREFIX };

const HOST_SORT_KEY_PREFIX = 'HOST#';
const DAY_MS = 24 * 60 * 60 * 1000;

export const supervisorKeys = {
  /** Every partition of the environment's latest health: the shards, then the unsharded one. */
  latestPartitions: (environment: string) => supervisorHealthPartitions(environment),
  latestHealth: (event: Pick<SupervisorHealthEvent, 'environment' | 'host'>) => ({
    pk: partitionOf(supervisorHealthPartition(event.environment), event.host),
    sk: `${HOST_SORT_KEY_PREFIX}${event.host}`,
  }),
  /** `SUPERVISOR#<environment>#<yyyy-mm-dd>`: a day's partition before the sharding, and its shards' prefix. */
  dayPartition: (environment: string, instant: Date) =>
    `${SUPERVISOR_PARTITION_PREFIX}${environment}#${instant.toISOString().slice(0, 10)}`,
  /** Every partition of a day's child events: the shards, then the unsharded one. */
  childPartitionsOfDay: (environment: string, instant: Date) =>
    partitionsOf(supervisorKeys.dayPartition(environment, instant)),
  childEvent: (event: Pick<SupervisorChildEvent, 'environment' | 'ts' | 'id'>) => {
    const instant = new Date(event.ts);
    return {
      pk: partitionOf(supervisorKeys.dayPartition(event.environment, instant), event.id),
      sk: `${instant.toISOString()}#child#${event.id}`,
    };
  },
} as const;

export interface DynamoDbSupervisorEventStoreOptions {
  readonly client: DynamoDBDocumentClient;
  readonly tableName: string;
  /**
   * Days an item is kept after it was received (TTL `expiresAt`).
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
 * const store = new DynamoDbSupervisorEventStore({ client: documents, tableName: 'runlane-prod-lifecycle' });
 * await store.putHealth(health); // 'stored'; 'stale' for an older report of the same host
 * await store.listSupervisorHealth('prod'); // every host's latest report
 */
export class DynamoDbSupervisorEventStore implements SupervisorEventStore {
  readonly #client: DynamoDBDocumentClient;
  readonly #tableName: string;
  readonly #retentionSeconds: number;
  readonly #clock: Clock;
  readonly #pageSize: number | undefined;

  public constructor(options: DynamoDbSupervisorEventStoreOptions) {
    this.#client = options.client;
    this.#tableName = options.tableName;
    this.#retentionSeconds = retentionSeconds(options.retentionDays ?? DEFAULT_RUNNER_EVENT_RETENTION_DAYS);
    this.#clock = options.clock ?? systemClock;
    this.#pageSize = options.pageSize;
  }

  /** Keeps the report as its host's latest when it is newer than the stored one. */
  public async putHealth(event: SupervisorHealthEvent): Promise<SupervisorHealthPutResult> {
    const at = new Date(event.ts).toISOString();
    try {
      await this.#client.send(
        new PutCommand({
          TableName: this.#tableName,
          Item: {
            ...supervisorKeys.latestHealth(event),
            entity: SUPERVISOR_DETAIL_TYPES.health,
            ...event,
            at,
            ...this.#receipt(),
          },
          ConditionExpression: 'attribute_not_exists(pk) OR #at < :at',
          ExpressionAttributeNames: { '#at': 'at' },
          ExpressionAttributeValues: { ':at': at },
          ReturnValuesOnConditionCheckFailure: 'ALL_OLD',
        }),
      );
      return 'stored';
    } catch (error) {
      if (!(error instanceof ConditionalCheckFailedException)) throw error;
      return error.Item?.id?.S === event.id ? 'duplicate' : 'stale';
    }
  }

  /** Appends the child event once; `duplicate` when an event with its id and ts is already stored. */
  public async putChildEvent(event: SupervisorChildEvent): Promise<RunnerEventPutResult> {
    try {
      await this.#client.send(
        new PutCommand({
          TableName: this.#tableName,
          Item: {
            ...supervisorKeys.childEvent(event),
            entity: SUPERVISOR_DETAIL_TYPES.child,
            ...event,
            ...this.#receipt(),
          },
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
   * Every host's latest report in the environment (a paginated Query per partition, in
   * parallel), sorted by host; a host found in two partitions gives its newest report.
   */
  public async listSupervisorHealth(environment: string): Promise<SupervisorHealthEvent[]> {
    const items = await this.#query(supervisorKeys.latestPartitions(environment), {
      KeyConditionExpression: 'pk = :pk AND begins_with(sk, :host)',
      ExpressionAttributeValues: { ':host': HOST_SORT_KEY_PREFIX },
    });
    const byHost = new Map<string, Item>();
    for (const item of items) {
      const sk = String(item.sk);
      const seen = byHost.get(sk);
      if (seen === undefined || String(item.at) > String(seen.at)) byHost.set(sk, item);
    }
    return [...byHost.entries()]
      .sort(([a], [b]) => compareKeys(a, b))
      .map(([, item]) => parseItem(item, supervisorHealthEventSchema));
  }

  /**
   * The environment's child events with `from <= ts < to`: one Query per partition of each UTC
   * day (a day's in parallel), each event once, sorted by `ts`.
   */
  public async listSupervisorChildEvents(query: {
    readonly environment: string;
    readonly from: Date;
    readonly to: Date;
  }): Promise<SupervisorChildEvent[]> {
    const { environment, from, to } = query;
    if (Number.isNaN(from.getTime()) || Number.isNaN(to.getTime())) {
      throw new RangeError('listSupervisorChildEvents: from and to must be valid dates');
    }
    if (from.getTime() > to.getTime()) {
      throw new RangeError(
        `listSupervisorChildEvents: from (${from.toISOString()}) is after to (${to.toISOString()})`,
      );
    }
    const firstDay = Date.parse(from.toISOString().slice(0, 10));
    const days = Math.floor((to.getTime() - firstDay) / DAY_MS) + 1;
    if (days > MAX_RUNNER_EVENT_WINDOW_DAYS) {
      throw new RangeError(
        `listSupervisorChildEvents: the window spans ${days} days; at most ${MAX_RUNNER_EVENT_WINDOW_DAYS}`,
      );
    }
    // An event resent after the sharding may sit in its unsharded day partition too: once per key.
    const bySortKey = new Map<string, Item>();
    for (let day = 0; day < days; day += 1) {
      const items = await this.#query(
        supervisorKeys.childPartitionsOfDay(environment, new Date(firstDay + day * DAY_MS)),
        {
          // An sk at exactly `to` is `<to>#…`, which sorts after `<to>`: the window is half-open.
          KeyConditionExpression: 'pk = :pk AND sk BETWEEN :from AND :to',
          ExpressionAttributeValues: { ':from': from.toISOString(), ':to': to.toISOString() },
        },
      );
      for (const item of items) if (!bySortKey.has(String(item.sk))) bySortKey.set(String(item.sk), item);
    }
    return [...bySortKey.values()]
      .map((item) => parseItem(item, supervisorChildEventSchema))
      .map((event) => ({ event, at: Date.parse(event.ts) }))
      .sort((a, b) => a.at - b.at || a.event.id.localeCompare(b.event.id))
      .map(({ event }) => event);
  }

  #receipt(): { receivedAt: string; expiresAt: number } {
    const now = this.#clock.now();
    return {
      receivedAt: now.toISOString(),
      expiresAt: Math.floor(now.getTime() / 1000) + this.#retentionSeconds,
    };
  }

  /** Every item of `partitions` matching `condition` (`:pk` each partition), in parallel, across pages. */
  #query(
    partitions: readonly string[],
    condition: { KeyConditionExpression: string; ExpressionAttributeValues: Record<string, string> },
  ): Promise<Item[]> {
    return queryPartitions(
      this.#client,
      partitions,
      (pk): PartitionQuery => ({
        TableName: this.#tableName,
        KeyConditionExpression: condition.KeyConditionExpression,
        ExpressionAttributeValues: { ':pk': pk, ...condition.ExpressionAttributeValues },
      }),
      this.#pageSize !== undefined ? { pageSize: this.#pageSize } : {},
    );
  }
}

/** A stored item back to its event, validated by the event's schema. */
function parseItem<T>(
  item: Item,
  schema: {
    safeParse(value: unknown): { success: true; data: T } | { success: false; error: { message: string } };
  },
): T {
  const { pk, sk, entity, at: _a, receivedAt: _r, expiresAt: _e, ...fields } = item;
  const parsed = schema.safeParse(fields);
  if (!parsed.success) {
    throw new Error(
      `supervisor item ${String(pk)} / ${String(sk)} (${String(entity)}) is not a valid event: ${parsed.error.message}`,
    );
  }
  return parsed.data;
}
