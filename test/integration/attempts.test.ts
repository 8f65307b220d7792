import { randomUUID } from 'node:crypto';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { CommandEnvelope } from '#contracts/envelope.js';
import { aLambdaContext, anIngestionEnvelope, anSqsRecord } from '../support/factories.js';
import { createPipeline, type Pipeline } from '../support/pipeline.js';
import { TEST_LANE, TestCommandProbe, testCommands } from '../support/test-commands.js';

function aTestCommand(commandType: string, payload: Record<string, unknown> = {}): CommandEnvelope {
  const commandId = randomUUID();
  return anIngestionEnvelope({}, { commandId, commandType, correlationId: `test:${commandId}`, payload });
}

describe('attempts, locks and side effects', () => {
  let pipeline: Pipeline;
  const probe = new TestCommandProbe();
  const FUNCTION_TIMEOUT_MS = 1_500;

  beforeAll(async () => {
    pipeline = await createPipeline({
      maxReceiveCount: 4,
      visibilityTimeoutSeconds: 1,
      functionTimeoutMs: FUNCTION_TIMEOUT_MS,
      fallbackLockMs: 2_000,
      workerOverrides: testCommands(probe),
    });
  });
  afterAll(async () => {
    await pipeline?.stop();
  });

  it('lets the redelivered message take over a timed-out attempt once its lock expires with the invocation', async () => {
    const envelope = aTestCommand('test.hang');
    await pipeline.send(TEST_LANE, envelope);
    const first = await pipeline.mapping(TEST_LANE).pollOnce({ waitTimeSeconds: 1 });
    expect(first).toMatchObject({ batchFailed: true, batchFailureReason: 'timeout' });
    const locked = await pipeline.store.getRun(envelope.commandId);
    expect(locked?.run).toMatchObject({ status: 'Running', keyStatus: 'Reserved', attempts: 1 });
    // The lock was taken from the invocation's remaining time, so it lapses when the invocation would have ended.
    expect(locked?.run.lockExpiresAt).toBeLessThanOrEqual(
      Date.parse(locked?.run.createdAt ?? '') + FUNCTION_TIMEOUT_MS,
    );

    await pipeline.drain(TEST_LANE);
    const view = await pipeline.store.getRun(envelope.commandId);
    expect(view?.run).toMatchObject({ status: 'Completed', keyStatus: 'Completed', attempts: 2 });
    expect(view?.run.stages.map((s) => s.outcomeCode)).toEqual(['attempt_abandoned', 'took_over']);
    expect(probe.executions.get(envelope.commandId)).toBe(2);
  });

  it('still gives the attempt lock an expiry when the remaining time reads 0 (Powertools would leave none)', async () => {
    const envelope = aTestCommand('test.hang');
    const before = Date.now();
    // The hung handler never settles; the run's lock is what matters here.
    void pipeline.worker(TEST_LANE)([anSqsRecord(JSON.stringify(envelope))], aLambdaContext(0));
    await expect
      .poll(async () => (await pipeline.store.getRun(envelope.commandId))?.run.lockExpiresAt)
      .toBeDefined();
    const run = (await pipeline.store.getRun(envelope.commandId))?.run;
    expect(run?.lockExpiresAt).toBeGreaterThanOrEqual(before + 2_000);
    expect(run?.lockExpiresAt).toBeLessThanOrEqual(Date.now() + 2_000);
  });

  it('never runs the handler twice when a duplicate arrives while the first attempt is in progress', async () => {
    const envelope = aTestCommand('test.gate');
    let open: () => void = () => undefined;
    probe.gate = new Promise<void>((resolve) => {
      open = resolve;
    });
    const entered = new Promise<void>((resolve) => {
      probe.onGateEntered = resolve;
    });
    const worker = pipeline.worker(TEST_LANE);
    const firstRecord = anSqsRecord(JSON.stringify(envelope));
    const first = worker([firstRecord], aLambdaContext(30_000));
    await entered;
    const duplicateRecord = anSqsRecord(JSON.stringify(envelope));
    const second = await worker([duplicateRecord], aLambdaContext(30_000));
    expect(second.batchItemFailures).toEqual([{ itemIdentifier: duplicateRecord.messageId }]);
    open();
    expect((await first).batchItemFailures).toEqual([]);
    const third = await worker([duplicateRecord], aLambdaContext(30_000));
    expect(third.batchItemFailures).toEqual([]);
    expect(probe.executions.get(envelope.commandId)).toBe(1);
    expect((await pipeline.store.getRun(envelope.commandId))?.run).toMatchObject({
      status: 'Completed',
      attempts: 1,
    });
    probe.gate = Promise.resolve();
  });

  it.each([1, 2, 3, 4, 5])(
    'applies one side effect when the same command is delivered %i time(s) in sequence',
    async (n) => {
      const envelope = aTestCommand('test.effect');
      for (let i = 0; i < n; i++) {
        await pipeline.send(TEST_LANE, envelope);
        await pipeline.drain(TEST_LANE);
      }
      expect(probe.effectsApplied.get(envelope.commandId)).toBe(1);
      expect(probe.executions.get(envelope.commandId)).toBe(1);
      const history = await pipeline.actions.history(envelope.householdId);
      expect(history.filter((h) => h.commandId === envelope.commandId)).toHaveLength(1);
    },
  );

  it.each([1, 2, 3, 4, 5])(
    'applies one side effect when the same command is delivered %i time(s) in parallel',
    async (n) => {
      const envelope = aTestCommand('test.effect');
      const worker = pipeline.worker(TEST_LANE);
      const records = Array.from({ length: n }, () => anSqsRecord(JSON.stringify(envelope)));
      // n concurrent invocations, as n Lambda instances receiving copies of one message.
      let pending = records;
      for (let round = 0; pending.length > 0 && round < 10; round++) {
        const responses = await Promise.all(
          pending.map((record) => worker([record], aLambdaContext(30_000))),
        );
        const failed = new Set(responses.flatMap((r) => r.batchItemFailures.map((f) => f.itemIdentifier)));
        pending = pending.filter((record) => failed.has(record.messageId));
      }
      expect(pending).toEqual([]);
      expect(probe.effectsApplied.get(envelope.commandId)).toBe(1);
      expect(probe.executions.get(envelope.commandId)).toBe(1);
      const history = await pipeline.actions.history(envelope.householdId);
      expect(history.filter((h) => h.commandId === envelope.commandId)).toHaveLength(1);
    },
  );

  it('completes the same envelope delivered twice in one batch once, acknowledging the copy as a duplicate', async () => {
    const envelope = aTestCommand('test.effect');
    const records = [anSqsRecord(JSON.stringify(envelope)), anSqsRecord(JSON.stringify(envelope))];
    const response = await pipeline.worker(TEST_LANE)(records, aLambdaContext(30_000));
    expect(response.batchItemFailures).toEqual([]);
    expect(probe.executions.get(envelope.commandId)).toBe(1);
    expect(probe.effectsApplied.get(envelope.commandId)).toBe(1);
    expect((await pipeline.store.getRun(envelope.commandId))?.run).toMatchObject({
      status: 'Completed',
      attempts: 1,
    });
    const summary = pipeline.telemetry.published.at(-1);
    expect(summary).toMatchObject({ received: 2, completed: 1, duplicates: 1 });
  });

  it('does not repeat a side effect when the handler fails after it and the retry succeeds', async () => {
    const envelope = aTestCommand('test.effect', { failTimes: 1 });
    await pipeline.send(TEST_LANE, envelope);
    await pipeline.drain(TEST_LANE);
    expect(probe.executions.get(envelope.commandId)).toBe(2);
    expect(probe.effectCalls.get(envelope.commandId)).toBe(2);
    expect(probe.effectsApplied.get(envelope.commandId)).toBe(1);
    const view = await pipeline.store.getRun(envelope.commandId);
    expect(view?.run).toMatchObject({ status: 'Completed', keyStatus: 'Completed', attempts: 2 });
    expect(view?.run.result).toBeUndefined();
    expect(view?.run.stages.at(-1)?.rationale).toBe('effect applied=false');
  });

  it('lists exactly the failed message ids in the partial batch response (property)', async () => {
    const worker = pipeline.worker(TEST_LANE);
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.constantFrom('ok', 'fail', 'poison', 'unsupported'), { minLength: 1, maxLength: 10 }),
        async (kinds) => {
          const records = kinds.map((kind) => {
            if (kind === 'poison') return { kind, record: anSqsRecord('{"not": "an envelope"}') };
            const type = kind === 'ok' ? 'test.flaky' : kind === 'fail' ? 'test.flaky' : 'test.unknown';
            const envelope = aTestCommand(type, kind === 'fail' ? { failTimes: 99 } : {});
            return { kind, record: anSqsRecord(JSON.stringify(envelope), { receiveCount: 1 }) };
          });
          const response = await worker(
            records.map((r) => r.record),
            aLambdaContext(30_000),
          );
          const expected = records
            .filter((r) => r.kind === 'fail' || r.kind === 'unsupported')
            .map((r) => r.record.messageId)
            .sort();
          const listed = response.batchItemFailures.map((f) => f.itemIdentifier);
          expect([...listed].sort()).toEqual(expected);
          expect(new Set(listed).size).toBe(listed.length);
          for (const id of listed) expect(id).toBeTruthy();
        },
      ),
      { numRuns: 25 },
    );
    // Poison records in the property went to the real DLQ; clear them for the tests that follow.
    await pipeline.deadLetters(TEST_LANE);
  });
});
