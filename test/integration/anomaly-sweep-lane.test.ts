import { randomUUID } from 'node:crypto';
import { PutCommand } from '@aws-sdk/lib-dynamodb';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runToItem } from '#adapters/dynamodb/items.js';
import type { RunRecord } from '#contracts/lifecycle.js';
import { NIGHTLY_SWEEP_LANE, nightlySweepEnvelope } from '#contracts/nightly-sweep.js';
import { SWEEP_RESERVE_MS } from '#core/commands/anomaly-sweep.js';
import { createPipeline, type Pipeline } from '../support/pipeline.js';

/**
 * The sweep on its lane, through the real lane worker, SQS emulator and DynamoDB Local: a worker
 * whose invocations have less time than the sweep keeps back reads one page per invocation and
 * continues the pass by enqueueing the next link on its own queue, until every open run is found.
 */
describe('anomaly.sweep continues a pass across invocations through its lane', () => {
  // Every invocation starts with less remaining time than the sweep keeps back: one page each.
  const functionTimeoutMs = 3_000;
  let pipeline: Pipeline;
  beforeAll(async () => {
    expect(functionTimeoutMs).toBeLessThan(SWEEP_RESERVE_MS);
    pipeline = await createPipeline({ maxReceiveCount: 3, visibilityTimeoutSeconds: 5, functionTimeoutMs });
  });
  afterAll(() => pipeline.stop());

  function aRun(overrides: Partial<RunRecord>): RunRecord {
    const runId = randomUUID();
    const old = new Date(Date.now() - 2 * 86_400_000).toISOString();
    return {
      runId,
      commandId: runId,
      commandType: 'ingestion.completed',
      lane: 'runtime-ingestion-completed',
      correlationId: `c:${runId}`,
      householdId: 'hh',
      issuedAt: old,
      status: 'Running',
      keyStatus: 'Reserved',
      attempts: 2,
      stages: [],
      signals: [],
      createdAt: old,
      updatedAt: new Date(Date.now() - 2 * 60_000).toISOString(),
      expiresAt: Math.floor(Date.now() / 1000) + 3600,
      ...overrides,
    };
  }

  it('reads one page per link and finds every open run exactly once over the chain', async () => {
    const now = Date.now();
    const open = [
      // Three retries whose lock lapsed a minute ago (not yet abandoned), in any shards.
      ...[1, 2, 3].map(() => aRun({ lockExpiresAt: now - 60_000, lockOwner: 'req:dead' })),
      // A delegated run past its deadline.
      aRun({
        keyStatus: 'Completed',
        attempts: 1,
        delegation: { taskId: 'task-1', site: 'lab', deadlineAt: new Date(now - 60_000).toISOString() },
      }),
      // A review two days old.
      aRun({
        status: 'NeedsReview',
        keyStatus: 'Completed',
        attempts: 1,
        needsReviewSince: new Date(now - 2 * 86_400_000).toISOString(),
      }),
    ];
    for (const run of open) {
      await pipeline.documents.send(new PutCommand({ TableName: pipeline.tableName, Item: runToItem(run) }));
    }

    const eventId = randomUUID();
    await pipeline.send(NIGHTLY_SWEEP_LANE, nightlySweepEnvelope(eventId, new Date().toISOString()));
    await pipeline.drain(NIGHTLY_SWEEP_LANE);

    const links = await pipeline.store.findRunsByCorrelationId(`sweep:${eventId}`);
    // Reserved, delegated, review: one page each.
    expect(links.map((link) => [link.status, link.result?.link])).toEqual([
      ['Completed', 1],
      ['Completed', 2],
      ['Completed', 3],
    ]);
    expect(links[0]?.runId).toBe(eventId);
    expect(links[1]?.causationId).toBe(eventId);
    expect(links.slice(0, 2).map((link) => link.result?.continuedAs)).toEqual(
      links.slice(1).map((l) => l.runId),
    );
    expect(links[2]?.result).not.toHaveProperty('continuedAs');

    const findings: string[] = [];
    for (const link of links) {
      const view = await pipeline.store.getRun(link.runId);
      for (const signal of view?.signals ?? []) {
        if (signal.type !== 'anomaly_sweep_summary') findings.push(`${signal.code}:${signal.type}`);
      }
    }
    expect(findings.sort()).toEqual(
      [
        ...open.slice(0, 3).map((run) => `${run.commandId}:anomaly_expired_attempt_lock`),
        `${open[3]?.commandId}:anomaly_stuck_run`,
        `${open[4]?.commandId}:anomaly_stale_review`,
      ].sort(),
    );
    expect(await pipeline.deadLetters(NIGHTLY_SWEEP_LANE)).toEqual([]);
  });
});
