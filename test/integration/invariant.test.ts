import { randomUUID } from 'node:crypto';
import { GetQueueAttributesCommand } from '@aws-sdk/client-sqs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { CommandEnvelope } from '#contracts/envelope.js';
import { anIngestionEnvelope } from '../support/factories.js';
import { createPipeline, type Pipeline } from '../support/pipeline.js';
import { TEST_LANE, TestCommandProbe, testCommands } from '../support/test-commands.js';

/**
 * DESIGN §3: every accepted command ends in exactly one of Completed,
 * NeedsReview-with-signal, or dead-lettered-with-reason (key Rejected); side
 * effects run at most once per commandId; nothing leaves a queue unrecorded.
 */
describe('the invariant over a mixed load', () => {
  let pipeline: Pipeline;
  const probe = new TestCommandProbe();
  const TOTAL = 520;

  beforeAll(async () => {
    pipeline = await createPipeline({
      maxReceiveCount: 3,
      visibilityTimeoutSeconds: 1,
      maxConcurrency: 2,
      workerOverrides: testCommands(probe),
    });
  });
  afterAll(async () => {
    await pipeline?.stop();
  });

  it(`holds for ${TOTAL} commands with ~10% poison and ~10% failing handlers`, async () => {
    // Deterministic mix: index mod 10 picks the kind, so the proportions are exact.
    const accepted: { envelope: CommandEnvelope; kind: string }[] = [];
    const poison: string[] = [];
    for (let i = 0; i < TOTAL; i++) {
      const commandId = randomUUID();
      const slot = i % 10;
      if (slot === 0) {
        poison.push(i % 20 === 0 ? `{"broken": ${i}` : JSON.stringify({ commandId, lane: TEST_LANE }));
        continue;
      }
      const kind =
        slot === 1
          ? i % 20 === 1
            ? 'fails_forever'
            : 'fails_then_recovers'
          : slot === 2
            ? 'over_threshold'
            : slot <= 5
              ? 'effect'
              : 'ingestion';
      const payloads: Record<string, [string, Record<string, unknown>]> = {
        fails_forever: ['test.effect', { failTimes: 99 }],
        fails_then_recovers: ['test.effect', { failTimes: 1 }],
        effect: ['test.effect', {}],
      };
      const [commandType, payload] = payloads[kind] ?? ['ingestion.completed', {}];
      const envelope =
        kind === 'ingestion' || kind === 'over_threshold'
          ? anIngestionEnvelope(kind === 'over_threshold' ? { recordsImported: 50, errorCount: 50 } : {}, {
              commandId,
            })
          : anIngestionEnvelope({}, { commandId, commandType, correlationId: `test:${commandId}`, payload });
      accepted.push({ envelope, kind });
    }
    // ~5% of accepted commands are delivered twice (an at-least-once producer).
    const duplicates = accepted.filter((_, i) => i % 20 === 3);
    const bodies = [
      ...accepted.map((a) => JSON.stringify(a.envelope)),
      ...poison,
      ...duplicates.map((a) => JSON.stringify(a.envelope)),
    ];
    for (let i = 0; i < bodies.length; i += 10) {
      await Promise.all(bodies.slice(i, i + 10).map((body) => pipeline.send(TEST_LANE, body)));
    }

    await pipeline.drain(TEST_LANE, 180_000);

    const letters = await pipeline.deadLetters(TEST_LANE);
    const letterByCommand = new Map<string, string[]>();
    for (const letter of letters) {
      expect(letter.attributes.reason, 'every dead letter carries its reason').toMatch(/^[a-z_]+$/);
      const id = letter.attributes.commandId;
      if (id) letterByCommand.set(id, [...(letterByCommand.get(id) ?? []), letter.attributes.reason ?? '']);
    }
    expect(letters.filter((l) => l.attributes.reason === 'invalid_json')).toHaveLength(
      poison.filter((p) => p.startsWith('{"broken')).length,
    );
    expect(letters.filter((l) => l.attributes.reason === 'invalid_envelope')).toHaveLength(
      poison.filter((p) => !p.startsWith('{"broken')).length,
    );

    const endings = { Completed: 0, NeedsReviewWithSignal: 0, DeadLettered: 0 };
    for (const { envelope, kind } of accepted) {
      const run = (await pipeline.store.getRun(envelope.commandId))?.run;
      expect(run, `${kind} ${envelope.commandId} has a run`).toBeDefined();
      if (!run) continue;
      const deadLettered = letterByCommand.get(envelope.commandId) ?? [];
      const states = [
        run.status === 'Completed' && run.keyStatus === 'Completed',
        run.status === 'NeedsReview' && run.keyStatus === 'Completed' && run.signals.length > 0,
        run.keyStatus === 'Rejected' &&
          deadLettered.length === 1 &&
          run.deadLetter?.reason === deadLettered[0],
      ];
      expect(
        states.filter(Boolean),
        `${kind} ${envelope.commandId} ends in exactly one terminal state`,
      ).toHaveLength(1);
      if (states[0]) endings.Completed++;
      else if (states[1]) endings.NeedsReviewWithSignal++;
      else endings.DeadLettered++;
      expect(
        probe.effectsApplied.get(envelope.commandId) ?? 0,
        'side effects at most once',
      ).toBeLessThanOrEqual(1);
      if (kind === 'fails_forever') expect(run.keyStatus).toBe('Rejected');
      if (kind === 'fails_then_recovers' || kind === 'effect') {
        expect(run.status).toBe('Completed');
        expect(probe.effectsApplied.get(envelope.commandId)).toBe(1);
      }
    }
    expect(endings.Completed + endings.NeedsReviewWithSignal + endings.DeadLettered).toBe(accepted.length);
    expect(endings.DeadLettered).toBe(accepted.filter((a) => a.kind === 'fails_forever').length);

    const depth = await pipeline.sqs.send(
      new GetQueueAttributesCommand({
        QueueUrl: pipeline.queues[TEST_LANE].queueUrl,
        AttributeNames: ['ApproximateNumberOfMessages', 'ApproximateNumberOfMessagesNotVisible'],
      }),
    );
    expect(depth.Attributes).toMatchObject({
      ApproximateNumberOfMessages: '0',
      ApproximateNumberOfMessagesNotVisible: '0',
    });
  }, 240_000);
});
