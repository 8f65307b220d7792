import { Duration } from 'aws-cdk-lib';
import { Match, Template } from 'aws-cdk-lib/assertions';
import { beforeAll, describe, expect, it } from 'vitest';
import { NIGHTLY_SWEEP_COMMAND_TYPE, NIGHTLY_SWEEP_LANE } from '#contracts/nightly-sweep.js';
import { CommandLane } from '#lib/lanes/command-lane.js';
import { NightlySweepSchedule } from '#lib/lanes/nightly-sweep-schedule.js';
import { lane, laneFixture, thrownMessage } from './support.js';

function sweepLaneFixture(name: string = NIGHTLY_SWEEP_LANE) {
  const fixture = laneFixture();
  const sweepLane = new CommandLane(fixture.stack, 'Sweep', {
    lane: lane(name),
    environmentName: 'test',
    lifecycle: fixture.lifecycle,
    telemetry: fixture.telemetry,
  });
  return { ...fixture, sweepLane };
}

describe('NightlySweepSchedule', () => {
  let template: Template;
  let inputTemplate: string;

  beforeAll(() => {
    const { stack, sweepLane } = sweepLaneFixture();
    new NightlySweepSchedule(stack, 'NightlySweep', {
      environmentName: 'test',
      sweepLane,
      schedule: 'cron(30 2 * * ? *)',
    });
    template = Template.fromStack(stack);
    const [rule] = Object.values(template.findResources('AWS::Events::Rule'));
    const targets = rule?.Properties.Targets as { InputTransformer: { InputTemplate: string } }[];
    inputTemplate = targets[0]?.InputTransformer.InputTemplate ?? '';
  });

  it('runs on the configured schedule and targets the sweep lane queue', () => {
    template.hasResourceProperties('AWS::Events::Rule', {
      ScheduleExpression: 'cron(30 2 * * ? *)',
      State: 'ENABLED',
      Targets: [Match.objectLike({ Arn: { 'Fn::GetAtt': [Match.stringLikeRegexp('^SweepQueue'), 'Arn'] } })],
    });
  });

  it('sends the nightly sweep envelope with the event id as a fresh commandId', () => {
    template.hasResourceProperties('AWS::Events::Rule', {
      Targets: [
        Match.objectLike({
          InputTransformer: {
            InputPathsMap: { id: '$.id', time: '$.time' },
            InputTemplate: Match.anyValue(),
          },
        }),
      ],
    });
    expect(inputTemplate).toContain(`"commandType":"${NIGHTLY_SWEEP_COMMAND_TYPE}"`);
    expect(inputTemplate).toContain(`"lane":"${NIGHTLY_SWEEP_LANE}"`);
    expect(inputTemplate).toContain('"commandId":<id>');
    expect(inputTemplate).toContain('"issuedAt":<time>');
    expect(inputTemplate).toContain('"correlationId":"sweep:<id>"');
  });

  it('retries delivery and dead-letters what it cannot deliver', () => {
    template.hasResourceProperties('AWS::Events::Rule', {
      Targets: [
        Match.objectLike({
          DeadLetterConfig: {
            Arn: { 'Fn::GetAtt': [Match.stringLikeRegexp('DeliveryDeadLetterQueue'), 'Arn'] },
          },
          RetryPolicy: { MaximumRetryAttempts: 8, MaximumEventAgeInSeconds: 86_400 },
        }),
      ],
    });
    template.hasResourceProperties('AWS::SQS::Queue', {
      QueueName: 'runlane-test-nightly-sweep-delivery-dlq',
      SqsManagedSseEnabled: true,
      MessageRetentionPeriod: 1_209_600,
    });
  });

  it('lets only this rule send to the sweep queue', () => {
    template.hasResourceProperties('AWS::SQS::QueuePolicy', {
      Queues: [{ Ref: Match.stringLikeRegexp('^SweepQueue') }],
      PolicyDocument: {
        Statement: Match.arrayWith([
          Match.objectLike({
            Effect: 'Allow',
            Principal: { Service: 'events.amazonaws.com' },
            Condition: {
              ArnEquals: {
                'aws:SourceArn': { 'Fn::GetAtt': [Match.stringLikeRegexp('NightlySweepRule'), 'Arn'] },
              },
            },
          }),
        ]),
      },
    });
  });
});

describe('NightlySweepSchedule props check', () => {
  it('rejects a lane other than the sweep lane, a bad schedule and bad retry settings at once', () => {
    const { stack, sweepLane } = sweepLaneFixture('runtime-ingestion-completed');
    const message = thrownMessage(
      () =>
        new NightlySweepSchedule(stack, 'NightlySweep', {
          environmentName: 'test',
          sweepLane,
          schedule: 'every night',
          retryAttempts: 500,
          maxEventAge: Duration.seconds(10),
        }),
    );
    expect(message).toContain(`sweepLane: must be the ${NIGHTLY_SWEEP_LANE} lane`);
    expect(message).toContain('schedule: must be a schedule expression');
    expect(message).toContain('retryAttempts:');
    expect(message).toContain('maxEventAge:');
  });
});
