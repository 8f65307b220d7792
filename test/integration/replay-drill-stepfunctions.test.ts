import { randomUUID } from 'node:crypto';
import { Template } from 'aws-cdk-lib/assertions';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { DrillEvidence, ReplayDrillInput } from '#contracts/replay-drill.js';
import type { ReplaySteps } from '#core/replay/steps.js';
import { parseRunlaneConfig } from '#lib/config/environment-config.js';
import { RunlaneStack } from '#lib/runlane-stack.js';
import { type LocalEventBus, startLocalEventBus } from '#local/emulators/event-bus.js';
import {
  replayDrillDefinitionFromTemplate,
  runReplayDrillLocally,
} from '#local/emulators/replay-drill-runner.js';
import { testApp } from '../infra/support.js';
import { anIngestionEnvelope } from '../support/factories.js';
import { createPipeline, type Pipeline } from '../support/pipeline.js';
import { TEST_LANE, TestCommandProbe, testCommands } from '../support/test-commands.js';

/**
 * The synthesized ReplayDrill definition (RunlaneStack's template, tokens resolved
 * to local ARNs) executed by aws-local-stepfunctions, every Task state bound to
 * the real step functions, against DynamoDB Local and the SQS emulator.
 */
describe('ReplayDrill state machine with the real steps on the emulators', () => {
  let pipeline: Pipeline;
  let bus: LocalEventBus;
  let definition: ReturnType<typeof replayDrillDefinitionFromTemplate>;
  const probe = new TestCommandProbe();

  beforeAll(async () => {
    const config = parseRunlaneConfig({
      environments: {
        dev: { region: 'us-east-1' },
        staging: { region: 'us-east-1' },
        prod: { region: 'us-east-1' },
      },
    });
    const stack = new RunlaneStack(testApp(), 'Runlane-dev', {
      environmentName: 'dev',
      config: config.environments.dev,
    });
    definition = replayDrillDefinitionFromTemplate(Template.fromStack(stack).toJSON());
    pipeline = await createPipeline({
      maxReceiveCount: 2,
      visibilityTimeoutSeconds: 1,
      workerOverrides: testCommands(probe),
    });
    bus = await startLocalEventBus();
  }, 120_000);
  afterAll(async () => {
    await pipeline?.stop();
    await bus?.stop();
  });

  function realSteps(): ReplaySteps {
    return pipeline.replaySteps(bus.endpoint);
  }

  async function execute(input: Partial<ReplayDrillInput> = {}): Promise<DrillEvidence> {
    const steps = realSteps();
    const run = await runReplayDrillLocally({
      definition,
      handler: (event) => (steps[event.step] as (i: unknown) => Promise<unknown>)(event.input),
      input: {
        lane: TEST_LANE,
        maxMessages: 10,
        dryRun: false,
        verifyTimeoutSeconds: 15,
        drillId: `sfn-${randomUUID()}`,
        ...input,
      },
      waitSeconds: 0.3,
    });
    return run.output as DrillEvidence;
  }

  async function deadLetterSwitch(): Promise<string> {
    probe.broken = true;
    const commandId = randomUUID();
    await pipeline.send(
      TEST_LANE,
      anIngestionEnvelope(
        {},
        { commandId, commandType: 'test.switch', correlationId: `sfn:${commandId}`, payload: {} },
      ),
    );
    await pipeline.drain(TEST_LANE);
    return commandId;
  }

  it('finishes an empty-DLQ drill with nothing to do', async () => {
    expect(await execute()).toMatchObject({ found: 0, replayed: 0, passed: true });
  });

  it('replays a mixed DLQ after the fix: replayable ones re-sent and verified, poison reported and left', async () => {
    const failed = await deadLetterSwitch();
    await pipeline.send(TEST_LANE, '{"broken": true');
    await pipeline.drain(TEST_LANE);
    probe.broken = false;
    pipeline.mapping(TEST_LANE).start();
    const evidence = await execute();
    expect(evidence).toMatchObject({
      found: 2,
      replayed: 1,
      skipped: 1,
      verified: { completed: 1 },
      duplicateProbe: 'passed',
      passed: true,
    });
    expect(evidence.links[0]?.old).toBe(failed);
    expect(evidence.skippedMessages.map((m) => m.reason)).toEqual(['invalid_json']);
    expect((await pipeline.deadLetters(TEST_LANE)).map((l) => l.attributes.reason)).toEqual(['invalid_json']);
    expect(
      bus.events.some(
        (e) =>
          e.detailType === 'ReplayDrillCompleted' && (e.detail as DrillEvidence).drillId === evidence.drillId,
      ),
    ).toBe(true);
  });

  it('reports a replayed command that fails again, and the drill itself still finishes', async () => {
    await deadLetterSwitch();
    const evidence = await execute();
    expect(evidence.replayed).toBe(1);
    expect(evidence.verified.completed).toBe(0);
    expect(evidence.passed).toBe(false);
    probe.broken = false;
    await pipeline.drain(TEST_LANE);
    await pipeline.deadLetters(TEST_LANE);
  });

  it('times out verification when the replayed runs do not finish in time', async () => {
    await deadLetterSwitch();
    await pipeline.mapping(TEST_LANE).stop(); // nothing consumes the lane: the replay stays queued
    const evidence = await execute({ verifyTimeoutSeconds: 1 });
    expect(evidence).toMatchObject({ replayed: 1, verified: { completed: 0, timedOut: 1 }, passed: false });
    probe.broken = false;
    await pipeline.drain(TEST_LANE);
  });
});
