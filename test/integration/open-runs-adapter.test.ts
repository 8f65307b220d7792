import { randomUUID } from 'node:crypto';
import { GetCommand, PutCommand, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import { describe, expect, it } from 'vitest';
import { itemToRun, runToItem } from '#adapters/dynamodb/items.js';
import { DynamoDbOpenRuns } from '#adapters/dynamodb/open-runs.js';
import type { RunRecord } from '#contracts/lifecycle.js';
import { keys, OPEN_RUNS_SHARDS, openRunsShard } from '#contracts/tables.js';
import { abandonRun, newRun, takeOverRun } from '#core/lifecycle/run.js';
import { anEnvelope } from '../support/factories.js';
import { useStoreTable } from '../support/store-table.js';

/** `DynamoDbOpenRuns` on DynamoDB Local: paging over the shards, and the conditional close. */
describe('DynamoDbOpenRuns on DynamoDB Local', () => {
  const table = useStoreTable();
  const NOW = new Date('2030-03-01T00:00:00.000Z');
  const open = () => new DynamoDbOpenRuns({ client: table.client, tableName: table.tableName });

  /** A run retried once, its second attempt's lock lapsing at `lockExpiresAt`. */
  function aRetriedRun(lockExpiresAt: number, householdId = 'hh-open'): RunRecord {
    const first = newRun(anEnvelope({ householdId }), {
      attemptId: 'a1',
      lockExpiresAt: lockExpiresAt - 60_000,
      now: new Date(lockExpiresAt - 120_000),
      expiresAt: 2e9,
    });
    return takeOverRun(first, {
      attemptId: `a2:${first.runId}`,
      lockExpiresAt,
      now: new Date(lockExpiresAt - 30_000),
    });
  }

  const put = (run: RunRecord) =>
    table.client.send(new PutCommand({ TableName: table.tableName, Item: runToItem(run) }));
  const stored = async (runId: string) =>
    itemToRun(
      (
        await table.client.send(
          new GetCommand({ TableName: table.tableName, Key: keys.run(runId), ConsistentRead: true }),
        )
      ).Item ?? {},
    );

  it('pages due runs shard after shard, each once, oldest first within a shard, and stops at dueBy', async () => {
    // The table is shared by this file's tests: only this test's household counts.
    const runs = Array.from({ length: 12 }, (_, i) =>
      aRetriedRun(NOW.getTime() - (i + 1) * 60_000, 'hh-paging'),
    );
    const notYet = aRetriedRun(NOW.getTime() + 60_000, 'hh-paging');
    for (const run of [...runs, notYet]) await put(run);

    const seen: RunRecord[] = [];
    let cursor: string | undefined;
    let pages = 0;
    do {
      const page = await open().listReservedDue({
        dueBy: NOW.getTime(),
        limit: 5,
        ...(cursor ? { cursor } : {}),
      });
      expect(page.runs.length).toBeLessThanOrEqual(5);
      seen.push(...page.runs.filter((run) => run.householdId === 'hh-paging'));
      cursor = page.nextCursor;
      pages++;
    } while (cursor && pages < 50);

    expect(seen.map((run) => run.runId).sort()).toEqual(runs.map((run) => run.runId).sort());
    const shards = seen.map((run) => openRunsShard(run.runId));
    expect(shards).toEqual([...shards].sort((a, b) => a - b));
    for (let shard = 0; shard < OPEN_RUNS_SHARDS; shard++) {
      const locks = seen
        .filter((run) => openRunsShard(run.runId) === shard)
        .map((run) => run.lockExpiresAt ?? 0);
      expect(locks).toEqual([...locks].sort((a, b) => a - b));
    }
    // Nothing delegated among them.
    const delegated = await open().listDelegatedDue({ dueBy: NOW.getTime(), limit: 100 });
    expect(delegated.runs.filter((run) => run.householdId === 'hh-paging')).toEqual([]);
  });

  it('refuses a cursor it did not make', async () => {
    await expect(open().listReservedDue({ dueBy: 0, limit: 1, cursor: 'nope' })).rejects.toThrow(
      /open-runs cursor/,
    );
    const outOfRange = Buffer.from(JSON.stringify({ shard: OPEN_RUNS_SHARDS })).toString('base64url');
    await expect(open().listDelegatedDue({ dueBy: 0, limit: 1, cursor: outOfRange })).rejects.toThrow(
      /open-runs cursor/,
    );
  });

  it('closes a run only while it is as read', async () => {
    const abandon = (run: RunRecord) =>
      abandonRun(run, { rationale: 'test', now: NOW, expiresAt: run.expiresAt });
    const changes: [string, (run: RunRecord) => Promise<unknown>][] = [
      [
        'taken over',
        (run) => put(takeOverRun(run, { attemptId: 'a3', lockExpiresAt: NOW.getTime() + 1, now: NOW })),
      ],
      [
        'counted a duplicate delivery',
        (run) =>
          table.client.send(
            new UpdateCommand({
              TableName: table.tableName,
              Key: keys.run(run.runId),
              UpdateExpression: 'ADD duplicateDeliveries :one',
              ExpressionAttributeValues: { ':one': 1 },
            }),
          ),
      ],
      [
        'linked to a replay',
        (run) =>
          table.client.send(
            new UpdateCommand({
              TableName: table.tableName,
              Key: keys.run(run.runId),
              UpdateExpression: 'SET replayedAs = :ids',
              ExpressionAttributeValues: { ':ids': [randomUUID()] },
            }),
          ),
      ],
    ];
    for (const [what, change] of changes) {
      const run = aRetriedRun(NOW.getTime() - 3_600_000);
      await put(run);
      await change(run);
      const before = await stored(run.runId);
      await expect(open().closeAbandoned(run, abandon(run)), what).resolves.toBe(false);
      expect(await stored(run.runId), what).toEqual(before);
    }

    const run = aRetriedRun(NOW.getTime() - 3_600_000);
    await put(run);
    await expect(open().closeAbandoned(run, abandon(run))).resolves.toBe(true);
    expect(await stored(run.runId)).toMatchObject({
      keyStatus: 'Rejected',
      deadLetter: { reason: 'attempt_abandoned' },
    });
    // Once closed it is no longer as read: a second close changes nothing.
    await expect(open().closeAbandoned(run, abandon(run))).resolves.toBe(false);
  });
});
