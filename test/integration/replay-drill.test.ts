import { randomUUID } from 'node:crypto';
import { GetCommand } from '@aws-sdk/lib-dynamodb';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { replayCommandIdFor } from '#core/replay/replay-command-id.js';
import { runDrillDirectly } from '#core/replay/run-drill.js';
import { type LocalEventBus, startLocalEventBus } from '#local/emulators/event-bus.js';
import { anIngestionEnvelope } from '../support/factories.js';
import { createPipeline, type Pipeline } from '../support/pipeline.js';
import { TEST_LANE, TestCommandProbe, testCommands } from '../support/test-commands.js';

describe('replay drill, run directly, on the emulators', () => {
  let pipeline: Pipeline;
  let bus: LocalEventBus;
  const probe = new TestCommandProbe();

  const steps = () => pipeline.replaySteps(bus.endpoint);
  const drill = (overrides: { dryRun?: boolean; verifyTimeoutSeconds?: number } = {}) =>
    runDrillDirectly(
      steps(),
      {
        lane: TEST_LANE,
        maxMessages: 10,
        dryRun: false,
        verifyTimeoutSeconds: 20,
        drillId: `drill-${randomUUID()}`,
        ...overrides,
      },
      { now: Date.now, sleep: (ms) => new Promise((r) => setTimeout(r, Math.min(ms, 300))) },
    );
  const deadLetter = async (commandType: string) => {
    const commandId = randomUUID();
    const envelope = anIngestionEnvelope(
      {},
      { commandId, commandType, correlationId: `drill-test:${commandId}`, payload: {} },
    );
    await pipeline.send(TEST_LANE, envelope);
    return envelope;
  };

  beforeAll(async () => {
    pipeline = await createPipeline({
      maxReceiveCount: 2,
      visibilityTimeoutSeconds: 1,
      workerOverrides: testCommands(probe),
    });
    bus = await startLocalEventBus();
  });
  afterAll(async () => {
    await pipeline?.stop();
    await bus?.stop();
  });

  it('reports an empty DLQ as a passing drill with nothing to do', async () => {
    const { evidence } = await drill();
    expect(evidence).toMatchObject({ found: 0, replayed: 0, passed: true, duplicateProbe: 'skipped' });
  });

  it('replays after the fix with a new commandId, skips poison, proves the duplicate, and keeps evidence', async () => {
    probe.broken = true;
    const failed = await deadLetter('test.switch');
    await pipeline.send(TEST_LANE, 'not json');
    await pipeline.drain(TEST_LANE);
    expect((await pipeline.store.getRun(failed.commandId))?.run.keyStatus).toBe('Rejected');

    const dry = await drill({ dryRun: true });
    expect(dry.evidence).toMatchObject({ found: 2, replayed: 0, skipped: 1, dryRun: true });
    expect(dry.replays.map((r) => r.status).sort()).toEqual(['skipped', 'would_replay']);
    // The replay's id is fixed by the dead letter, so even a dry run can name it.
    expect(dry.replays.find((r) => r.status === 'would_replay')?.newCommandId).toBe(
      replayCommandIdFor(failed.commandId),
    );

    probe.broken = false; // the fix is deployed
    pipeline.mapping(TEST_LANE).start();
    const { evidence, replays } = await drill();
    expect(evidence).toMatchObject({
      found: 2,
      replayed: 1,
      skipped: 1,
      failed: 0,
      verified: { completed: 1, needsReview: 0, deadLettered: 0, timedOut: 0 },
      duplicateProbe: 'passed',
      passed: true,
    });
    const replayed = replays.find((r) => r.status === 'replayed');
    expect(replayed?.oldCommandId).toBe(failed.commandId);
    // A new commandId, but not a random one: the UUIDv5 of the original's (a re-run re-sends it).
    expect(replayed?.newCommandId).toBe(replayCommandIdFor(failed.commandId));
    const newRun = (await pipeline.store.getRun(replayed?.newCommandId ?? ''))?.run;
    expect(newRun).toMatchObject({
      status: 'Completed',
      replayOf: failed.commandId,
      correlationId: failed.correlationId,
      attempts: 1,
    });
    expect(newRun?.duplicateDeliveries).toBe(1);
    expect((await pipeline.store.getRun(failed.commandId))?.run.replayedAs).toEqual([replayed?.newCommandId]);
    expect(probe.executions.get(replayed?.newCommandId ?? '')).toBe(1);

    // Poison stays in the DLQ; the replayed message left it.
    const letters = await pipeline.deadLetters(TEST_LANE);
    expect(letters.map((l) => l.attributes.reason)).toEqual(['invalid_json']);
    const stored = await pipeline.documents.send(
      new GetCommand({
        TableName: pipeline.tableName,
        Key: { pk: `DRILL#${evidence.drillId}`, sk: 'EVIDENCE' },
      }),
    );
    expect(stored.Item).toMatchObject({ passed: true, replayed: 1 });
    expect(bus.events.filter((e) => e.detailType === 'ReplayDrillCompleted').at(-1)?.detail).toMatchObject({
      drillId: evidence.drillId,
      passed: true,
    });
  });

  it('reports a replayed command that fails again as not passed', async () => {
    probe.broken = true;
    const failed = await deadLetter('test.switch');
    await pipeline.drain(TEST_LANE);
    const { evidence } = await drill();
    expect(evidence.replayed).toBe(1);
    expect(evidence.verified.completed).toBe(0);
    expect(evidence.verified.deadLettered + evidence.verified.needsReview + evidence.verified.timedOut).toBe(
      1,
    );
    expect(evidence.passed).toBe(false);
    expect(evidence.links[0]?.old).toBe(failed.commandId);
    probe.broken = false;
    await pipeline.drain(TEST_LANE);
    await pipeline.deadLetters(TEST_LANE);
  });

  it('replays a dead letter once even when the replay step is retried', async () => {
    probe.broken = true;
    const failed = await deadLetter('test.switch');
    await pipeline.drain(TEST_LANE);
    probe.broken = false;
    const s = steps();
    const read = await s.readDeadLetters({
      lane: TEST_LANE,
      maxMessages: 10,
      dryRun: false,
      verifyTimeoutSeconds: 5,
      drillId: 'retried-drill',
      commandIds: [failed.commandId],
    });
    expect(read.items.map((i) => i.commandId)).toEqual([failed.commandId]);
    const item = read.items[0];
    if (!item) throw new Error('no item');
    const first = await s.replayMessage({ drillId: 'retried-drill', dryRun: false, item });
    const retried = await s.replayMessage({ drillId: 'retried-drill', dryRun: false, item });
    expect(first).toMatchObject({ status: 'replayed', newCommandId: replayCommandIdFor(failed.commandId) });
    // The retry names the same replay whatever became of its receipt handle (the id no longer
    // depends on the drill or the message, so it is always there).
    expect(retried.newCommandId).toBe(first.newCommandId);
    await pipeline.drain(TEST_LANE);
    expect((await pipeline.store.getRun(failed.commandId))?.run.replayedAs).toEqual([first.newCommandId]);
    expect(probe.executions.get(first.newCommandId ?? '')).toBe(1);
    expect((await pipeline.store.getRun(first.newCommandId ?? ''))?.run).toMatchObject({
      status: 'Completed',
      attempts: 1,
    });
  });
});
