import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { CommandEnvelope } from '#contracts/envelope.js';
import { FAILURE_CODES } from '#contracts/lifecycle.js';
import { completeRun, failRun, newRun } from '#core/lifecycle/run.js';
import { aLambdaContext, anIngestionEnvelope, anSqsRecord } from '../support/factories.js';
import { createPipeline, type Pipeline } from '../support/pipeline.js';
import { TEST_LANE, TestCommandProbe, testCommands } from '../support/test-commands.js';

/**
 * DESIGN §8 for the lane worker: for each pair of side effects (reserve → handler → completion;
 * final receive → DLQ), the process dies in between, and the command still ends in exactly one
 * terminal state without a human. The dead process is played either by a handler that never
 * returns (the local event source mapping times the invocation out, as Lambda would) or by writing
 * what the dead attempt had written through the real store.
 */
const MAX_RECEIVE_COUNT = 2;

function aTestCommand(commandType: string, payload: Record<string, unknown> = {}): CommandEnvelope {
  const commandId = randomUUID();
  return anIngestionEnvelope({}, { commandId, commandType, correlationId: `test:${commandId}`, payload });
}

describe('crash points of the lane worker (DynamoDB Local + SQS emulator)', () => {
  let pipeline: Pipeline;
  const probe = new TestCommandProbe();

  beforeAll(async () => {
    pipeline = await createPipeline({
      maxReceiveCount: MAX_RECEIVE_COUNT,
      // Longer than the function timeout, as on AWS: a redelivery finds the dead attempt's lock lapsed.
      visibilityTimeoutSeconds: 2,
      functionTimeoutMs: 1_000,
      fallbackLockMs: 1_000,
      workerOverrides: testCommands(probe),
    });
  });
  afterAll(async () => {
    await pipeline?.stop();
  });

  it('final receive dies (every attempt times out): the grace receive closes the run attempt_abandoned and dead-letters it with that reason', async () => {
    const envelope = aTestCommand('test.stall');
    await pipeline.send(TEST_LANE, envelope);
    await pipeline.drain(TEST_LANE, 30_000);

    expect(probe.executions.get(envelope.commandId)).toBe(MAX_RECEIVE_COUNT); // nothing ran on the grace receive
    const view = await pipeline.store.getRun(envelope.commandId);
    expect(view?.run).toMatchObject({
      status: 'NeedsReview',
      keyStatus: 'Rejected',
      attempts: MAX_RECEIVE_COUNT,
      deadLetter: { reason: FAILURE_CODES.attemptAbandoned, queuedAt: expect.any(String) },
    });
    expect(view?.run.lockOwner).toBeUndefined();
    expect(view?.run.stages.every((stage) => stage.endedAt !== undefined)).toBe(true);
    expect(view?.signals.at(-1)).toMatchObject({
      type: 'worker_command_failed',
      code: FAILURE_CODES.attemptAbandoned,
      RequiresHumanReview: true,
    });
    const letters = await pipeline.deadLetters(TEST_LANE);
    expect(letters.map((l) => [JSON.parse(l.body).commandId, l.attributes.reason])).toEqual([
      [envelope.commandId, FAILURE_CODES.attemptAbandoned],
    ]);
  });

  it('no attempt ever reserved the command (store unreachable on every receive): the grace receive records it Rejected, attempt_abandoned', async () => {
    const envelope = aTestCommand('test.flaky');
    const worker = pipeline.worker(TEST_LANE);
    const response = await worker(
      [anSqsRecord(JSON.stringify(envelope), { receiveCount: MAX_RECEIVE_COUNT + 1 })],
      aLambdaContext(),
    );
    expect(response.batchItemFailures).toEqual([]);
    expect(probe.executions.get(envelope.commandId)).toBeUndefined();
    const view = await pipeline.store.getRun(envelope.commandId);
    expect(view?.run).toMatchObject({
      status: 'NeedsReview',
      keyStatus: 'Rejected',
      attempts: 0,
      deadLetter: { reason: FAILURE_CODES.attemptAbandoned, queuedAt: expect.any(String) },
    });
    expect((await pipeline.deadLetters(TEST_LANE)).map((l) => l.attributes.reason)).toEqual([
      FAILURE_CODES.attemptAbandoned,
    ]);
  });

  it('a grace receive that finds the dead attempt’s lock still live leaves the message for the next one, which closes the run', async () => {
    const envelope = aTestCommand('test.flaky');
    const now = Date.now();
    // The final attempt reserved the key with a lock 1.5 s long, then its process died.
    await pipeline.store.reserveAttempt({
      envelope,
      attemptId: 'dead-final-attempt',
      lockExpiresAt: now + 1_500,
      expiresAt: Math.floor(now / 1000) + 3600,
      now: new Date(now),
    });
    const worker = pipeline.worker(TEST_LANE);
    const early = await worker(
      [anSqsRecord(JSON.stringify(envelope), { receiveCount: MAX_RECEIVE_COUNT + 1 })],
      aLambdaContext(),
    );
    expect(early.batchItemFailures).toHaveLength(1);
    expect((await pipeline.store.getRun(envelope.commandId))?.run.keyStatus).toBe('Reserved');

    await new Promise((resolve) => setTimeout(resolve, 1_600));
    const late = await worker(
      [anSqsRecord(JSON.stringify(envelope), { receiveCount: MAX_RECEIVE_COUNT + 2 })],
      aLambdaContext(),
    );
    expect(late.batchItemFailures).toEqual([]);
    expect((await pipeline.store.getRun(envelope.commandId))?.run).toMatchObject({
      keyStatus: 'Rejected',
      deadLetter: { reason: FAILURE_CODES.attemptAbandoned },
    });
    expect(probe.executions.get(envelope.commandId)).toBeUndefined();
    expect(await pipeline.deadLetters(TEST_LANE)).toHaveLength(1);
  });

  it('killed between the Rejected write and the DLQ send: the next delivery sends it with the recorded reason, once', async () => {
    const envelope = aTestCommand('test.flaky');
    const now = new Date();
    // What the final attempt wrote before its process died: Rejected, reason recorded, nothing queued.
    const reserved = newRun(envelope, {
      attemptId: 'final',
      lockExpiresAt: now.getTime() + 60_000,
      now,
      expiresAt: Math.floor(now.getTime() / 1000) + 3600,
    });
    await pipeline.store.reserveAttempt({
      envelope,
      attemptId: 'final',
      lockExpiresAt: now.getTime() + 60_000,
      expiresAt: reserved.expiresAt,
      now,
    });
    await pipeline.store.saveAttemptResult(
      failRun(reserved, { code: FAILURE_CODES.handlerFailed, rationale: 'boom', finalAttempt: true }, now),
      'final',
    );
    const worker = pipeline.worker(TEST_LANE);
    for (const receiveCount of [MAX_RECEIVE_COUNT + 1, MAX_RECEIVE_COUNT + 2]) {
      const response = await worker(
        [anSqsRecord(JSON.stringify(envelope), { receiveCount })],
        aLambdaContext(),
      );
      expect(response.batchItemFailures).toEqual([]);
    }
    const letters = await pipeline.deadLetters(TEST_LANE);
    expect(letters.map((l) => l.attributes.reason)).toEqual([FAILURE_CODES.handlerFailed]);
    expect((await pipeline.store.getRun(envelope.commandId))?.run.deadLetter).toMatchObject({
      reason: FAILURE_CODES.handlerFailed,
      queuedAt: expect.any(String),
    });
    expect(probe.executions.get(envelope.commandId)).toBeUndefined();
  });

  it('killed between reserve and completion on an early attempt: the redelivery takes over after the lock lapses and completes once', async () => {
    const envelope = aTestCommand('test.hang');
    await pipeline.send(TEST_LANE, envelope);
    await pipeline.drain(TEST_LANE, 30_000);
    const view = await pipeline.store.getRun(envelope.commandId);
    expect(view?.run).toMatchObject({ status: 'Completed', keyStatus: 'Completed', attempts: 2 });
    expect(view?.run.stages.map((s) => s.outcomeCode)).toEqual(['attempt_abandoned', 'took_over']);
    expect(await pipeline.deadLetters(TEST_LANE)).toEqual([]);
  });

  it('killed between the completion write and the delete: the redelivery is a duplicate, nothing runs again', async () => {
    const envelope = aTestCommand('test.flaky');
    const worker = pipeline.worker(TEST_LANE);
    await worker([anSqsRecord(JSON.stringify(envelope))], aLambdaContext());
    // The message was not deleted (the process died after the write): SQS delivers it again.
    const again = await worker(
      [anSqsRecord(JSON.stringify(envelope), { receiveCount: 2 })],
      aLambdaContext(),
    );
    expect(again.batchItemFailures).toEqual([]);
    expect(probe.executions.get(envelope.commandId)).toBe(1);
    expect((await pipeline.store.getRun(envelope.commandId))?.run).toMatchObject({
      status: 'Completed',
      duplicateDeliveries: 1,
    });
  });

  it('an attempt that outlived its lock cannot complete over the attempt that took the run over', async () => {
    const envelope = aTestCommand('test.flaky');
    const start = new Date(Date.now() - 10_000);
    const reservation = {
      envelope,
      lockExpiresAt: start.getTime() + 1_000,
      expiresAt: Math.floor(start.getTime() / 1000) + 3600,
    };
    const stale = await pipeline.store.reserveAttempt({ ...reservation, attemptId: 'stale', now: start });
    const successor = await pipeline.store.reserveAttempt({
      ...reservation,
      attemptId: 'successor',
      lockExpiresAt: Date.now() + 60_000,
      now: new Date(),
    });
    expect(successor.outcome).toBe('reserved');
    const late = completeRun(
      stale.run,
      { status: 'Completed', outcomeCode: 'late', rationale: 'zombie' },
      new Date(),
    );
    await expect(pipeline.store.saveAttemptResult(late, 'stale')).rejects.toThrow(/lock/i);
    await expect(
      pipeline.store.saveAttemptResult(late, 'stale', [
        {
          kind: 'conversationMessage',
          conversationId: 'c-1',
          householdId: 'hh-1',
          commandId: envelope.commandId,
          postedAt: envelope.issuedAt,
          text: 'zombie',
        },
      ]),
    ).rejects.toThrow(/lock/i);
    expect((await pipeline.store.getRun(envelope.commandId))?.run).toMatchObject({
      keyStatus: 'Reserved',
      lockOwner: 'successor',
      attempts: 2,
    });
  });

  it('a receive that finds a dead attempt’s live lock hides the message until the lock lapses: one receive spent, then the takeover completes', async () => {
    const envelope = aTestCommand('test.flaky');
    const now = Date.now();
    // A process that died holding a 6 s lock (longer than the queue's 2 s visibility timeout).
    await pipeline.store.reserveAttempt({
      envelope,
      attemptId: 'dead',
      lockExpiresAt: now + 6_000,
      expiresAt: Math.floor(now / 1000) + 3600,
      now: new Date(now),
    });
    await pipeline.send(TEST_LANE, envelope);
    const first = await pipeline.mapping(TEST_LANE).pollOnce({ waitTimeSeconds: 1 });
    expect(first.receivedMessageIds).toHaveLength(1);
    expect(first.deletedMessageIds).toEqual([]);

    // Past the queue's visibility timeout, before the lock lapses: still hidden.
    await new Promise((resolve) => setTimeout(resolve, 3_000));
    const early = await pipeline.mapping(TEST_LANE).pollOnce({ waitTimeSeconds: 0 });
    expect(early.receivedMessageIds).toEqual([]);

    await pipeline.drain(TEST_LANE, 20_000);
    const view = await pipeline.store.getRun(envelope.commandId);
    expect(view?.run).toMatchObject({ status: 'Completed', attempts: 2 });
    expect(probe.executions.get(envelope.commandId)).toBe(1);
  });

  it('copies of one command share its attempts: an always-failing command delivered three times runs maxReceiveCount times in all, dead-lettered once', async () => {
    const envelope = aTestCommand('test.flaky', { failTimes: 99 });
    for (let copy = 0; copy < 3; copy++) await pipeline.send(TEST_LANE, envelope);
    await pipeline.drain(TEST_LANE, 30_000);
    expect(probe.executions.get(envelope.commandId)).toBe(MAX_RECEIVE_COUNT);
    expect((await pipeline.store.getRun(envelope.commandId))?.run).toMatchObject({
      keyStatus: 'Rejected',
      attempts: MAX_RECEIVE_COUNT,
      deadLetter: { reason: FAILURE_CODES.handlerFailed, queuedAt: expect.any(String) },
    });
    expect((await pipeline.deadLetters(TEST_LANE)).map((l) => l.attributes.reason)).toEqual([
      FAILURE_CODES.handlerFailed,
    ]);
  });

  it('a copy delivered after the final attempt died (attempts used up): nothing runs, the run is closed attempt_abandoned', async () => {
    const envelope = aTestCommand('test.flaky');
    const start = Date.now() - 60_000;
    // Every attempt of the budget reserved the run and died (locks long lapsed).
    for (let attempt = 1; attempt <= MAX_RECEIVE_COUNT; attempt++) {
      const reserved = await pipeline.store.reserveAttempt({
        envelope,
        attemptId: `dead-${attempt}`,
        lockExpiresAt: start + attempt * 1_000,
        expiresAt: Math.floor(start / 1000) + 3600,
        now: new Date(start + attempt * 1_000),
      });
      expect(reserved.outcome).toBe('reserved');
    }
    // A duplicate copy of the message, on its first receive.
    const response = await pipeline.worker(TEST_LANE)(
      [anSqsRecord(JSON.stringify(envelope))],
      aLambdaContext(),
    );
    expect(response.batchItemFailures).toEqual([]);
    expect(probe.executions.get(envelope.commandId)).toBeUndefined();
    expect((await pipeline.store.getRun(envelope.commandId))?.run).toMatchObject({
      keyStatus: 'Rejected',
      attempts: MAX_RECEIVE_COUNT + 1,
      deadLetter: { reason: FAILURE_CODES.attemptAbandoned, queuedAt: expect.any(String) },
    });
    expect((await pipeline.deadLetters(TEST_LANE)).map((l) => l.attributes.reason)).toEqual([
      FAILURE_CODES.attemptAbandoned,
    ]);
  });
});
