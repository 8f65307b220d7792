import { describe, expect, it } from 'vitest';
import { itemToRun, runToItem } from '#adapters/dynamodb/items.js';
import {
  OPEN_RUNS_SHARDS,
  openRunsDueKey,
  openRunsPartition,
  openRunsShard,
  shardOf,
} from '#contracts/tables.js';
import { completeRun, failRun, newRun, takeOverRun } from '#core/lifecycle/run.js';
import { anEnvelope } from '../support/factories.js';

/**
 * Which runs carry the sparse `openRuns` index attributes (`openShard`, `openDueAt`): only those
 * off the happy path, so a command that succeeds on its first attempt writes no index entry.
 */
describe('the openRuns index attributes of a run item', () => {
  const now = new Date('2030-01-01T00:00:00.000Z');
  const later = (ms: number) => new Date(now.getTime() + ms);
  const first = () =>
    newRun(anEnvelope(), { attemptId: 'a1', lockExpiresAt: now.getTime() + 30_000, now, expiresAt: 2e9 });
  const indexed = (run: Parameters<typeof runToItem>[0]) => {
    const item = runToItem(run);
    return { openShard: item.openShard, openDueAt: item.openDueAt };
  };
  const none = { openShard: undefined, openDueAt: undefined };

  it('leaves the happy path out: a first attempt and its completion', () => {
    const run = first();
    expect(indexed(run)).toEqual(none);
    expect(
      indexed(completeRun(run, { status: 'Completed', outcomeCode: 'ok', rationale: 'done' }, later(10))),
    ).toEqual(none);
    // A first attempt that fails with retries left is in the review queue, not in openRuns.
    const failed = failRun(
      run,
      { code: 'handler_failed', rationale: 'boom', finalAttempt: false },
      later(10),
    );
    expect(indexed(failed)).toEqual(none);
    expect(runToItem(failed).reviewQueue).toBe('NeedsReview');
  });

  it('indexes a takeover (attempts > 1) by its lock, then by its last write once the lock is gone', () => {
    const taken = takeOverRun(first(), {
      attemptId: 'a2',
      lockExpiresAt: now.getTime() + 90_000,
      now: later(60_000),
    });
    const shard = openRunsPartition(openRunsShard(taken.runId));
    expect(indexed(taken)).toEqual({
      openShard: shard,
      openDueAt: openRunsDueKey('R', now.getTime() + 90_000),
    });
    expect(indexed(taken).openDueAt).toBe(`R#00${now.getTime() + 90_000}`);

    const failedAgain = failRun(
      taken,
      { code: 'handler_failed', rationale: 'x', finalAttempt: false },
      later(70_000),
    );
    expect(indexed(failedAgain)).toEqual({
      openShard: shard,
      openDueAt: openRunsDueKey('R', now.getTime() + 70_000),
    });
  });

  it('drops a retried run from the index once its key is Completed or Rejected', () => {
    const taken = takeOverRun(first(), {
      attemptId: 'a2',
      lockExpiresAt: now.getTime() + 90_000,
      now: later(60_000),
    });
    expect(
      indexed(
        completeRun(taken, { status: 'Completed', outcomeCode: 'ok', rationale: 'done' }, later(61_000)),
      ),
    ).toEqual(none);
    expect(
      indexed(failRun(taken, { code: 'handler_failed', rationale: 'x', finalAttempt: true }, later(61_000))),
    ).toEqual(none);
  });

  it('indexes a delegated run (Running, key Completed) by its deadline', () => {
    const deadlineAt = '2030-01-01T01:00:00.000Z';
    const delegated = completeRun(
      first(),
      {
        status: 'Running',
        outcomeCode: 'delegated',
        rationale: 'sent to lab',
        delegation: { taskId: 'task-1', site: 'lab', deadlineAt },
      },
      later(10),
    );
    expect(indexed(delegated)).toEqual({
      openShard: openRunsPartition(openRunsShard(delegated.runId)),
      openDueAt: openRunsDueKey('D', Date.parse(deadlineAt)),
    });
    // The reconciled result ends the delegation: the run leaves the index.
    const { delegation: _d, ...reconciled } = delegated;
    expect(indexed({ ...reconciled, status: 'Completed' })).toEqual(none);
  });

  it('reads the run back without the index attributes', () => {
    const taken = takeOverRun(first(), {
      attemptId: 'a2',
      lockExpiresAt: now.getTime() + 90_000,
      now: later(60_000),
    });
    expect(itemToRun(runToItem(taken))).toEqual(taken);
  });

  it('spreads runs over every shard, each always on the same one, and orders due keys by time', () => {
    const shards = new Set(Array.from({ length: 200 }, (_, i) => openRunsShard(`run-${i}`)));
    expect(shards).toEqual(new Set(Array.from({ length: OPEN_RUNS_SHARDS }, (_, n) => n)));
    expect(openRunsShard('run-7')).toBe(openRunsShard('run-7'));
    expect(shardOf('a', 1)).toBe(0);
    const keys = [5, 1_700_000_000_000, 999, 1_700_000_000_001].map((ms) => openRunsDueKey('R', ms));
    expect([...keys].sort()).toEqual(
      [5, 999, 1_700_000_000_000, 1_700_000_000_001].map((ms) => openRunsDueKey('R', ms)),
    );
    // An unreadable time is due at once rather than never.
    expect(openRunsDueKey('D', Number.NaN)).toBe('D#000000000000000');
  });
});
