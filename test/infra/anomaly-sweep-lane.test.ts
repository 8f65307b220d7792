import { type CfnElement, Duration, Stack } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import { describe, expect, it } from 'vitest';
import { laneByName } from '#contracts/lanes.js';
import { NIGHTLY_SWEEP_LANE } from '#contracts/nightly-sweep.js';
import { RUNTIME_ENV } from '#contracts/runtime-env.js';
import { CommandLane } from '#lib/lanes/command-lane.js';
import { buildLane, laneFixture, roleStatements, thrownMessage } from './support.js';

/** What the anomaly sweep needs from its lane: its own queue to continue a pass, and a safe abandonAfter. */
describe('CommandLane and the anomaly sweep', () => {
  function sweepLane() {
    const fixture = laneFixture();
    const definition = laneByName(NIGHTLY_SWEEP_LANE);
    if (!definition) throw new Error('no sweep lane');
    return new CommandLane(fixture.stack, 'Sweep', {
      lane: definition,
      environmentName: 'test',
      lifecycle: fixture.lifecycle,
      telemetry: fixture.telemetry,
    });
  }

  /** What the lane's worker may do to the lane's own queue (not its DLQ), and its environment. */
  function ownQueueAccess(created: CommandLane) {
    const stack = Stack.of(created);
    const template = Template.fromStack(stack);
    const queueId = stack.getLogicalId(created.queue.node.defaultChild as CfnElement);
    const actions = roleStatements(template, /Worker/)
      .filter((statement) => JSON.stringify(statement.Resource).includes(`"${queueId}"`))
      .flatMap((statement) => [statement.Action].flat());
    const variables = Object.values(template.findResources('AWS::Lambda::Function'))[0]?.Properties
      .Environment.Variables as Record<string, unknown>;
    return { actions, variables, queueId };
  }

  it('gives the sweep lane worker its own queue URL and lets it send there, for the continuation', () => {
    const { actions, variables, queueId } = ownQueueAccess(sweepLane());
    expect(variables[RUNTIME_ENV.laneQueueUrl]).toEqual({ Ref: queueId });
    expect(variables[RUNTIME_ENV.abandonAfterMinutes]).toBe('60');
    expect(actions).toContain('sqs:SendMessage');
  });

  it('gives every other lane its queue URL (to hide lock-held messages) but no send grant on its own queue', () => {
    const { actions, variables } = ownQueueAccess(buildLane());
    expect(variables).toHaveProperty(RUNTIME_ENV.laneQueueUrl);
    expect(variables[RUNTIME_ENV.abandonAfterMinutes]).toBe('60');
    // It consumes its queue and may change a received message's visibility; it does not send to it.
    expect(actions).toContain('sqs:ReceiveMessage');
    expect(actions).toContain('sqs:ChangeMessageVisibility');
    expect(actions).not.toContain('sqs:SendMessage');
  });

  it('refuses an abandonAfterMinutes a message of the lane could still outlive', () => {
    // 5 receives + 2 grace receives of 6 × 300 s + 1 s: 12,607 s ≈ 210 minutes.
    const message = thrownMessage(() =>
      buildLane({ functionTimeout: Duration.seconds(300), commands: { abandonAfterMinutes: 120 } }),
    );
    expect(message).toContain(
      "commands.abandonAfterMinutes: must be above lane runtime-ingestion-completed's (maxReceiveCount + 2) × visibilityTimeout = 12607 seconds, got 120 minutes",
    );
    expect(() =>
      buildLane({ functionTimeout: Duration.seconds(300), commands: { abandonAfterMinutes: 211 } }),
    ).not.toThrow();
  });
});
