import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { anEnvelope, anIngestionEnvelope } from '../support/factories.js';
import { createPipeline, type Pipeline } from '../support/pipeline.js';
import { TEST_LANE, TestCommandProbe, testCommands } from '../support/test-commands.js';

const AGENT_LANE = 'runtime-agent-message-posted' as const;

function aTestCommand(commandType: string, payload: Record<string, unknown> = {}, commandId = randomUUID()) {
  return anIngestionEnvelope({}, { commandId, commandType, correlationId: `test:${commandId}`, payload });
}

describe('lane worker on DynamoDB Local and the SQS emulator', () => {
  let pipeline: Pipeline;
  const probe = new TestCommandProbe();

  beforeAll(async () => {
    pipeline = await createPipeline({
      maxReceiveCount: 3,
      visibilityTimeoutSeconds: 1,
      workerOverrides: testCommands(probe),
    });
  });
  afterAll(async () => {
    await pipeline?.stop();
  });

  it('completes a good command: run Completed, key Completed with FinalizedAtUtc, terminal stage with outcome', async () => {
    const envelope = anEnvelope({ payload: { text: 'remind me to pay rent' } });
    await pipeline.send(AGENT_LANE, envelope);
    await pipeline.drain(AGENT_LANE);
    const view = await pipeline.store.getRun(envelope.commandId);
    expect(view?.run).toMatchObject({ status: 'Completed', keyStatus: 'Completed', attempts: 1 });
    expect(view?.run.FinalizedAtUtc).toBeDefined();
    expect(view?.run.stages.at(-1)).toMatchObject({ outcomeCode: 'message_recorded' });
    expect(await pipeline.deadLetters(AGENT_LANE)).toEqual([]);
  });

  it('sends invalid_json straight to the DLQ with its reason, without retries', async () => {
    await pipeline.send(AGENT_LANE, '{"commandId": oops');
    const report = await pipeline.drain(AGENT_LANE);
    expect(report.invocations.filter((i) => i.invoked)).toHaveLength(1);
    const letters = await pipeline.deadLetters(AGENT_LANE);
    expect(letters).toHaveLength(1);
    expect(letters[0]?.attributes).toMatchObject({
      reason: 'invalid_json',
      receiveCount: '1',
      lane: AGENT_LANE,
    });
    expect(letters[0]?.body).toBe('{"commandId": oops');
  });

  it('sends invalid_envelope straight to the DLQ naming the field, and creates no run', async () => {
    const { householdId: _missing, ...envelope } = anEnvelope();
    await pipeline.send(AGENT_LANE, envelope);
    await pipeline.drain(AGENT_LANE);
    const letters = await pipeline.deadLetters(AGENT_LANE);
    expect(letters).toHaveLength(1);
    expect(letters[0]?.attributes).toMatchObject({
      reason: 'invalid_envelope',
      receiveCount: '1',
      commandId: envelope.commandId,
      correlationId: envelope.correlationId,
    });
    expect(letters[0]?.attributes.rationale).toContain('householdId');
    expect(await pipeline.store.getRun(envelope.commandId)).toBeUndefined();
  });

  it('treats a payload that does not fit its command type as invalid_envelope', async () => {
    const envelope = anEnvelope({ payload: { text: '' } });
    await pipeline.send(AGENT_LANE, envelope);
    await pipeline.drain(AGENT_LANE);
    const letters = await pipeline.deadLetters(AGENT_LANE);
    expect(letters.map((l) => l.attributes.reason)).toEqual(['invalid_envelope']);
    expect(letters[0]?.attributes.rationale).toContain('payload.text');
  });

  it('moves an unsupported command type to NeedsReview with a signal, retries, then dead-letters with the key Rejected', async () => {
    const envelope = anEnvelope({ commandType: 'agent.unknown.thing' });
    await pipeline.send(AGENT_LANE, envelope);
    const report = await pipeline.drain(AGENT_LANE);
    expect(report.invocations.filter((i) => i.invoked).length).toBe(3);
    const view = await pipeline.store.getRun(envelope.commandId);
    expect(view?.run).toMatchObject({ status: 'NeedsReview', keyStatus: 'Rejected', attempts: 3 });
    expect(view?.run.deadLetter?.reason).toBe('unsupported_command_type');
    expect(view?.run.signals.map((s) => [s.type, s.code, s.RequiresHumanReview])).toEqual([
      ['worker_command_failed', 'unsupported_command_type', true],
      ['worker_command_failed', 'unsupported_command_type', true],
      ['worker_command_failed', 'unsupported_command_type', true],
    ]);
    const letters = await pipeline.deadLetters(AGENT_LANE);
    expect(
      letters.map((l) => [l.attributes.reason, l.attributes.commandId, l.attributes.receiveCount]),
    ).toEqual([['unsupported_command_type', envelope.commandId, '3']]);
  });

  it('keeps the key Reserved while a failing handler is retried, and Rejects it when the command dead-letters', async () => {
    const envelope = aTestCommand('test.flaky', { failTimes: 99 });
    await pipeline.send(TEST_LANE, envelope);
    // First delivery only: the key must still be Reserved, the run already NeedsReview.
    const first = await pipeline.mapping(TEST_LANE).pollOnce({ waitTimeSeconds: 1 });
    expect(first.failedMessageIds).toHaveLength(1);
    const during = await pipeline.store.getRun(envelope.commandId);
    expect(during?.run).toMatchObject({ status: 'NeedsReview', keyStatus: 'Reserved', attempts: 1 });
    expect(during?.run.signals[0]).toMatchObject({ type: 'worker_command_failed', code: 'handler_failed' });
    await pipeline.drain(TEST_LANE);
    const after = await pipeline.store.getRun(envelope.commandId);
    expect(after?.run).toMatchObject({ status: 'NeedsReview', keyStatus: 'Rejected', attempts: 3 });
    const letters = await pipeline.deadLetters(TEST_LANE);
    expect(letters.map((l) => l.attributes.reason)).toEqual(['handler_failed']);
    expect(letters[0]?.attributes.rationale).toContain('flaky failure 3');
    expect(probe.executions.get(envelope.commandId)).toBe(3);
  });

  it('recovers when a retry succeeds: run Completed, history keeps the signal', async () => {
    const envelope = aTestCommand('test.flaky', { failTimes: 2 });
    await pipeline.send(TEST_LANE, envelope);
    await pipeline.drain(TEST_LANE);
    const view = await pipeline.store.getRun(envelope.commandId);
    expect(view?.run).toMatchObject({ status: 'Completed', keyStatus: 'Completed', attempts: 3 });
    expect(view?.run.needsReviewSince).toBeUndefined();
    expect(view?.run.signals.map((s) => s.type)).toEqual(['worker_command_failed', 'worker_command_failed']);
    expect(view?.run.stages.map((s) => s.outcomeCode)).toEqual([
      'handler_failed',
      'handler_failed',
      'flaky_done',
    ]);
    expect(await pipeline.deadLetters(TEST_LANE)).toEqual([]);
  });

  it('completes a duplicate commandId without reprocessing; a fresh commandId makes a new run', async () => {
    const envelope = aTestCommand('test.flaky');
    await pipeline.send(TEST_LANE, envelope);
    await pipeline.drain(TEST_LANE);
    await pipeline.send(TEST_LANE, envelope);
    await pipeline.drain(TEST_LANE);
    expect(probe.executions.get(envelope.commandId)).toBe(1);
    expect((await pipeline.store.getRun(envelope.commandId))?.run.attempts).toBe(1);
    const summaries = pipeline.telemetry.published.filter((s) => s.commandIds.includes(envelope.commandId));
    expect(summaries.map((s) => [s.completed, s.duplicates])).toEqual([
      [1, 0],
      [0, 1],
    ]);

    const fresh = { ...envelope, commandId: randomUUID(), replayOf: envelope.commandId };
    await pipeline.send(TEST_LANE, fresh);
    await pipeline.drain(TEST_LANE);
    const replayed = await pipeline.store.getRun(fresh.commandId);
    expect(replayed?.run).toMatchObject({ status: 'Completed', replayOf: envelope.commandId });
    expect(probe.executions.get(fresh.commandId)).toBe(1);
  });

  it('does not let one poison record hold back the other nine in its batch', async () => {
    const good = Array.from({ length: 9 }, () => anIngestionEnvelope());
    for (const envelope of good.slice(0, 4)) await pipeline.send(TEST_LANE, envelope);
    await pipeline.send(TEST_LANE, 'not json at all');
    for (const envelope of good.slice(4)) await pipeline.send(TEST_LANE, envelope);
    const report = await pipeline.mapping(TEST_LANE).pollOnce({ waitTimeSeconds: 1 });
    expect(report.receivedMessageIds).toHaveLength(10);
    expect(report.batchFailed).toBe(false);
    expect(report.failedMessageIds).toEqual([]);
    expect(report.deletedMessageIds).toHaveLength(10);
    for (const envelope of good) {
      expect((await pipeline.store.getRun(envelope.commandId))?.run.status).toBe('Completed');
    }
    expect((await pipeline.deadLetters(TEST_LANE)).map((l) => l.attributes.reason)).toEqual(['invalid_json']);
  });

  it('completes the command when telemetry publishing fails, with a warning only', async () => {
    pipeline.telemetry.failWith = new Error('EventBridge unavailable');
    try {
      const envelope = anIngestionEnvelope();
      await pipeline.send(TEST_LANE, envelope);
      const report = await pipeline.drain(TEST_LANE);
      expect(report.invocations.filter((i) => i.invoked)).toHaveLength(1);
      expect((await pipeline.store.getRun(envelope.commandId))?.run.status).toBe('Completed');
      expect(pipeline.logger.lines).toContainEqual(
        expect.objectContaining({ level: 'warn', message: 'telemetry publish failed' }),
      );
    } finally {
      pipeline.telemetry.failWith = undefined;
    }
  });

  it('logs correlationId, commandId, runId, lane and messageId for every command', async () => {
    const envelope = anIngestionEnvelope();
    await pipeline.send(TEST_LANE, envelope);
    await pipeline.drain(TEST_LANE);
    const line = pipeline.logger.lines.find(
      (l) => l.message === 'command finished' && l.extra.commandId === envelope.commandId,
    );
    expect(line?.extra).toMatchObject({
      correlationId: envelope.correlationId,
      runId: envelope.commandId,
      lane: TEST_LANE,
      messageId: expect.any(String),
    });
  });
});
