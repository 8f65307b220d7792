import { describe, expect, it } from 'vitest';
import { compareKeys } from '#adapters/dynamodb/sharded-query.js';
import {
  FLEET_SHARDS,
  keys,
  partitionOf,
  partitionsOf,
  shardOf,
  supervisorHealthPartitions,
} from '#contracts/tables.js';

/** The key helpers of the partitions sharded by a natural id, and the order readers merge them in. */
describe('partitions sharded over FLEET_SHARDS', () => {
  it('puts an id in the shard its FNV-1a hash names, the same on every call', () => {
    expect(FLEET_SHARDS).toBe(8);
    // FNV-1a 32 of 'worker-1' is 0x73f9322d (1,945,711,149), and 1,945,711,149 mod 8 = 5.
    expect(shardOf('worker-1', FLEET_SHARDS)).toBe(5);
    expect(partitionOf('WORKERS#prod', 'worker-1')).toBe('WORKERS#prod#5');
    expect(keys.worker('prod', 'worker-1')).toEqual({ pk: 'WORKERS#prod#5', sk: 'WORKER#worker-1' });
    expect(keys.workerTaskStatus('prod', 'queued', '2026-01-01T00:00:00.000Z', 'worker-1')).toEqual({
      pk: 'WTASKS#prod#queued#5',
      sk: '2026-01-01T00:00:00.000Z#worker-1',
    });
    expect(keys.unshardedWorkerTaskStatus('prod', 'queued', '2026-01-01T00:00:00.000Z', 't')).toEqual({
      pk: 'WTASKS#prod#queued',
      sk: '2026-01-01T00:00:00.000Z#t',
    });
  });

  it('reads every shard, then the unsharded partition written before the sharding', () => {
    const shards = ['#0', '#1', '#2', '#3', '#4', '#5', '#6', '#7'];
    expect(partitionsOf('X')).toEqual([...shards.map((s) => `X${s}`), 'X']);
    expect(keys.workerRegistryPartitions('prod')).toEqual([
      ...shards.map((s) => `WORKERS#prod${s}`),
      'WORKERS#prod',
    ]);
    expect(keys.workerTaskStatusPartitions('prod', 'failed')).toEqual([
      ...shards.map((s) => `WTASKS#prod#failed${s}`),
      'WTASKS#prod#failed',
    ]);
    expect(supervisorHealthPartitions('prod')).toEqual([
      ...shards.map((s) => `SUPERVISOR#prod${s}`),
      'SUPERVISOR#prod',
    ]);
  });

  it('merges keys in the order DynamoDB sorts them: UTF-8 bytes, astral characters after U+E000–U+FFFF', () => {
    const keysToSort = [
      'WORKER#b',
      'WORKER#a',
      'WORKER#\u{1F600}',
      'WORKER#\uFF21',
      'WORKER#',
      'WORKER#ab',
      'WORKER#é',
    ];
    const byBytes = [...keysToSort].sort((a, b) => Buffer.compare(Buffer.from(a), Buffer.from(b)));
    expect([...keysToSort].sort(compareKeys)).toEqual(byBytes);
    // Plain UTF-16 order would put the emoji (a surrogate pair) before U+FF21.
    expect(byBytes.indexOf('WORKER#\u{1F600}')).toBeGreaterThan(byBytes.indexOf('WORKER#\uFF21'));
  });
});
