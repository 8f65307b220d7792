import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { anEnvelope, anIngestionEnvelope } from '../support/factories.js';
import { createPipeline, type Pipeline } from '../support/pipeline.js';
import { RecordingMetrics } from '../support/recording-metrics.js';
import { TEST_LANE, TestCommandProbe, testCommands } from '../support/test-commands.js';

const AGENT_LANE = 'runtime-agent-message-posted' as const;
const OUTCOMES = [
  'commandsCompleted',
  'commandsNeedsReview',
  'commandsRetried',
  'duplicatesSkipped',
  'commandsDeadLettered',
] as const;

function aTestCommand(commandType: string, payload: Record<string, unknown> = {}) {
  const commandId = randomUUID();
  return anIngestionEnvelope({}, { commandId, commandType, correlationId: `test:${commandId}`, payload });
}

/**
 * What the lane worker records through its `MetricsRecorder` port, through the
 * real pipeline (SQS emulator redeliveries included). The EMF those values
 * become is checked on the deployed handler in test/e2e/metrics-emf.test.ts.
 */
describe('lane worker metrics', () => {
  let pipeline: Pipeline;
  const metrics = new RecordingMetrics();
  const probe = new TestCommandProbe();

  beforeAll(async () => {
    pipeline = await createPipeline({
      maxReceiveCount: 3,
      visibilityTimeoutSeconds: 1,
      workerOverrides: { ...testCommands(probe), metrics },
    });
  });
  afterAll(async () => {
    await pipeline?.stop();
  });
  beforeEach(() => metrics.clear());

  /** Every record received counts as exactly one outcome. */
  function outcomesTotal(lane: string): number {
    return OUTCOMES.reduce((total, metric) => total + metrics.sum(metric, { Lane: lane }), 0);
  }

  it('counts a failed-then-recovered command: retried, entered and left NeedsReview, latency once', async () => {
    const envelope = aTestCommand('test.flaky', { failTimes: 1 });
    await pipeline.send(TEST_LANE, envelope);
    const report = await pipeline.drain(TEST_LANE);
    const receives = report.invocations.filter((i) => i.invoked).length;
    expect(receives).toBe(2);

    expect(metrics.sum('commandsRetried')).toBe(1);
    expect(metrics.sum('commandsCompleted')).toBe(1);
    expect(metrics.sum('needsReviewEntered')).toBe(1);
    expect(metrics.sum('needsReviewResolved')).toBe(1);
    expect(metrics.values('handlerDuration')).toHaveLength(2);
    const [latency] = metrics.values('endToEndLatency');
    expect(metrics.values('endToEndLatency')).toHaveLength(1);
    // From issuedAt to completion: at least the 1 s visibility timeout before the retry.
    expect(latency).toBeGreaterThanOrEqual(900);
    expect(outcomesTotal(TEST_LANE)).toBe(receives);
    expect(metrics.points.every((p) => p.dimensions.Lane === TEST_LANE)).toBe(true);
  });

  it('counts a command that exhausts its retries: entered NeedsReview once, dead-lettered handler_failed', async () => {
    const envelope = aTestCommand('test.flaky', { failTimes: 99 });
    await pipeline.send(TEST_LANE, envelope);
    await pipeline.drain(TEST_LANE);
    await pipeline.deadLetters(TEST_LANE);

    expect(metrics.sum('commandsRetried')).toBe(2);
    expect(metrics.sum('commandsDeadLettered', { Reason: 'handler_failed' })).toBe(1);
    expect(metrics.sum('commandsDeadLettered')).toBe(1);
    expect(metrics.sum('needsReviewEntered')).toBe(1);
    expect(metrics.sum('needsReviewResolved')).toBe(0);
    expect(metrics.values('endToEndLatency')).toHaveLength(1);
    expect(outcomesTotal(TEST_LANE)).toBe(3);
  });

  it('counts poison by reason without latency, a NeedsReview decision and a duplicate', async () => {
    await pipeline.send(AGENT_LANE, 'not json');
    const { householdId: _missing, ...invalid } = anEnvelope();
    await pipeline.send(AGENT_LANE, invalid);
    await pipeline.send(
      AGENT_LANE,
      anEnvelope({
        commandType: 'agent.approval.decided',
        payload: { approvalId: 'apr-000000000000000000000abc', decision: 'approve', decidedBy: 'ops' },
      }),
    );
    const good = anEnvelope();
    await pipeline.send(AGENT_LANE, good);
    await pipeline.drain(AGENT_LANE);
    await pipeline.send(AGENT_LANE, good);
    await pipeline.drain(AGENT_LANE);
    await pipeline.deadLetters(AGENT_LANE);

    expect(metrics.sum('commandsDeadLettered', { Lane: AGENT_LANE, Reason: 'invalid_json' })).toBe(1);
    expect(metrics.sum('commandsDeadLettered', { Lane: AGENT_LANE, Reason: 'invalid_envelope' })).toBe(1);
    expect(metrics.sum('commandsNeedsReview', { Lane: AGENT_LANE })).toBe(1);
    expect(metrics.sum('needsReviewEntered', { Lane: AGENT_LANE })).toBe(1);
    expect(metrics.sum('commandsCompleted', { Lane: AGENT_LANE })).toBe(1);
    expect(metrics.sum('duplicatesSkipped', { Lane: AGENT_LANE })).toBe(1);
    // Terminal states of commands with an issuedAt: the decision, the completion; poison has none.
    expect(metrics.values('endToEndLatency')).toHaveLength(2);
    // The duplicate and the poison never ran a handler.
    expect(metrics.values('handlerDuration')).toHaveLength(2);
    expect(outcomesTotal(AGENT_LANE)).toBe(5);
  });

  it('counts a telemetry publish failure, and zero when publishing works', async () => {
    pipeline.telemetry.failWith = new Error('EventBridge unavailable');
    try {
      await pipeline.send(TEST_LANE, anIngestionEnvelope());
      await pipeline.drain(TEST_LANE);
    } finally {
      pipeline.telemetry.failWith = undefined;
    }
    expect(metrics.values('telemetryPublishFailures')).toEqual([1]);
    await pipeline.send(TEST_LANE, anIngestionEnvelope());
    await pipeline.drain(TEST_LANE);
    expect(metrics.values('telemetryPublishFailures')).toEqual([1, 0]);
  });

  it('keeps processing when the recorder throws, with a warning', async () => {
    const failing = await createPipeline({
      workerOverrides: {
        metrics: {
          record: () => {
            throw new RangeError('metric refused');
          },
        },
      },
    });
    try {
      const envelope = anIngestionEnvelope();
      await failing.send(TEST_LANE, envelope);
      await failing.drain(TEST_LANE);
      expect((await failing.store.getRun(envelope.commandId))?.run.status).toBe('Completed');
      expect(failing.logger.lines).toContainEqual(
        expect.objectContaining({ level: 'warn', message: 'metric not recorded' }),
      );
    } finally {
      await failing.stop();
    }
  });
});
