import { Duration } from 'aws-cdk-lib';
import { Match, Template } from 'aws-cdk-lib/assertions';
import { beforeAll, describe, expect, it } from 'vitest';
import {
  RunnerEventIngest,
  type RunnerEventIngestProps,
  toCdkEventPattern,
} from '#lib/agents/runner-event-ingest.js';
import { expectTheOnlyFunction, logicalIdOf } from '../support/lambda-template.js';
import { actionsOn, laneFixture, roleStatements, testStack, thrownMessage } from './support.js';

describe('RunnerEventIngest', () => {
  let template: Template;
  let ids: { dlq: string; fn: string; rule: string; bus: string; table: string };

  beforeAll(() => {
    const fixture = laneFixture(testStack());
    const ingest = new RunnerEventIngest(fixture.stack, 'RunnerEvents', {
      environmentName: 'test',
      lifecycle: fixture.lifecycle,
      telemetry: fixture.telemetry,
      retentionDays: 45,
    });
    template = Template.fromStack(fixture.stack);
    ids = {
      dlq: logicalIdOf(ingest.deadLetterQueue),
      fn: logicalIdOf(ingest.function),
      rule: logicalIdOf(ingest.rule),
      bus: logicalIdOf(fixture.telemetry.bus),
      table: logicalIdOf(fixture.lifecycle.table),
    };
  });

  it('routes the runner and supervisor detail types from runlane.agent on the telemetry bus to the function', () => {
    template.resourceCountIs('AWS::Events::Rule', 1);
    template.hasResourceProperties('AWS::Events::Rule', {
      Name: 'runlane-test-runner-events',
      EventBusName: { Ref: ids.bus },
      EventPattern: {
        source: ['runlane.agent'],
        'detail-type': ['RunnerStall', 'RunnerRunSummary', 'SupervisorHealth', 'SupervisorChild'],
      },
      State: 'ENABLED',
      Targets: [
        {
          Arn: { 'Fn::GetAtt': [ids.fn, 'Arn'] },
          Id: 'Target0',
          // Undeliverable events: retried for a day, then the DLQ.
          RetryPolicy: { MaximumRetryAttempts: 8, MaximumEventAgeInSeconds: 86_400 },
          DeadLetterConfig: { Arn: { 'Fn::GetAtt': [ids.dlq, 'Arn'] } },
        },
      ],
    });
    template.hasResourceProperties('AWS::Lambda::Permission', {
      Action: 'lambda:InvokeFunction',
      Principal: 'events.amazonaws.com',
      FunctionName: { 'Fn::GetAtt': [ids.fn, 'Arn'] },
      SourceArn: { 'Fn::GetAtt': [ids.rule, 'Arn'] },
    });
  });

  it('gives the function its handler, runtime defaults and every variable it reads at cold start', () => {
    const variables = expectTheOnlyFunction(template, {
      logicalId: ids.fn,
      timeoutSeconds: 10,
      requiredEnv: 'runnerEventIngest',
    });
    expect(variables).toMatchObject({
      RUNLANE_ENVIRONMENT: 'test',
      POWERTOOLS_SERVICE_NAME: 'runlane-runner-event-ingest',
      LIFECYCLE_TABLE_NAME: { Ref: ids.table },
      RUNNER_EVENT_DLQ_URL: { Ref: ids.dlq },
      RETENTION_DAYS: '45',
    });
  });

  it('retries a failed invocation twice within 6 hours, then sends it to the DLQ (on-failure destination)', () => {
    template.hasResourceProperties('AWS::Lambda::EventInvokeConfig', {
      FunctionName: { Ref: ids.fn },
      Qualifier: '$LATEST',
      MaximumRetryAttempts: 2,
      MaximumEventAgeInSeconds: 21_600,
      DestinationConfig: { OnFailure: { Destination: { 'Fn::GetAtt': [ids.dlq, 'Arn'] } } },
    });
  });

  it('creates one encrypted, TLS-only DLQ kept 14 days, that only the rule and the function may send to', () => {
    template.resourceCountIs('AWS::SQS::Queue', 1);
    template.hasResourceProperties('AWS::SQS::Queue', {
      QueueName: 'runlane-test-runner-events-dlq',
      SqsManagedSseEnabled: true,
      MessageRetentionPeriod: 1_209_600,
    });
    const policy = template.findResources('AWS::SQS::QueuePolicy');
    const statements = Object.values(policy).flatMap(
      (p) => p.Properties.PolicyDocument.Statement as Record<string, unknown>[],
    );
    expect(statements).toEqual(
      expect.arrayContaining([
        expect.objectContaining({
          Effect: 'Deny',
          Condition: { Bool: { 'aws:SecureTransport': 'false' } },
        }),
        expect.objectContaining({
          Effect: 'Allow',
          Action: 'sqs:SendMessage',
          Principal: { Service: 'events.amazonaws.com' },
          Condition: { ArnEquals: { 'aws:SourceArn': { 'Fn::GetAtt': [ids.rule, 'Arn'] } } },
        }),
      ]),
    );
  });

  it('lets the function put items in its environment’s runner and supervisor partitions and send to the DLQ, and read nothing', () => {
    const statements = roleStatements(template, /^RunnerEventsFunctionRole/);
    expect(statements.filter((s) => JSON.stringify(s.Resource).includes(ids.table))).toEqual([
      expect.objectContaining({
        Action: 'dynamodb:PutItem',
        Condition: {
          'ForAllValues:StringLike': { 'dynamodb:LeadingKeys': ['RUNNER#test#*', 'SUPERVISOR#test#*'] },
        },
      }),
    ]);
    expect(actionsOn(statements, new RegExp(ids.dlq))).toEqual(
      ['sqs:GetQueueAttributes', 'sqs:GetQueueUrl', 'sqs:SendMessage'].sort(),
    );
    const all = statements.flatMap((s) => (Array.isArray(s.Action) ? s.Action : [s.Action]));
    expect(all.filter((action) => /dynamodb:(GetItem|Query|Scan)/.test(action))).toEqual([]);
  });

  it('offers hosts a managed policy: PutEvents on the telemetry bus only, with source runlane.agent and a runner or supervisor detail type only', () => {
    const policies = template.findResources('AWS::IAM::ManagedPolicy');
    expect(Object.keys(policies)).toHaveLength(1);
    const [policy] = Object.values(policies) as { Properties: Record<string, unknown> }[];
    expect(policy?.Properties.ManagedPolicyName).toBe('runlane-test-agent-reporter');
    expect(policy?.Properties.PolicyDocument).toEqual({
      Version: '2012-10-17',
      Statement: [
        {
          Sid: 'RunnerAndSupervisorEvents',
          Effect: 'Allow',
          Action: 'events:PutEvents',
          Resource: { 'Fn::GetAtt': [ids.bus, 'Arn'] },
          // Never WorkerHeartbeat or WorkerResult: a runner host cannot pass for a worker host.
          Condition: {
            StringEquals: {
              'events:source': ['runlane.agent'],
              'events:detail-type': [
                'RunnerStall',
                'RunnerRunSummary',
                'SupervisorHealth',
                'SupervisorChild',
              ],
            },
          },
        },
      ],
    });
    expect(policy?.Properties.Roles ?? policy?.Properties.Users ?? []).toEqual([]);
  });

  it('takes the retry policies and sizes from its props', () => {
    const fixture = laneFixture(testStack());
    new RunnerEventIngest(fixture.stack, 'RunnerEvents', {
      environmentName: 'dev',
      lifecycle: fixture.lifecycle,
      telemetry: fixture.telemetry,
      namePrefix: 'rl-dev',
      retryAttempts: 3,
      maxEventAge: Duration.hours(2),
      asyncRetryAttempts: 0,
      asyncMaxEventAge: Duration.minutes(30),
      functionTimeout: Duration.seconds(20),
      memorySize: 512,
    });
    const custom = Template.fromStack(fixture.stack);
    custom.hasResourceProperties('AWS::Events::Rule', {
      Name: 'rl-dev-runner-events',
      Targets: [
        Match.objectLike({ RetryPolicy: { MaximumRetryAttempts: 3, MaximumEventAgeInSeconds: 7200 } }),
      ],
    });
    custom.hasResourceProperties('AWS::Lambda::EventInvokeConfig', {
      MaximumRetryAttempts: 0,
      MaximumEventAgeInSeconds: 1800,
    });
    custom.hasResourceProperties('AWS::Lambda::Function', { Timeout: 20, MemorySize: 512 });
    custom.hasResourceProperties('AWS::SQS::Queue', { QueueName: 'rl-dev-runner-events-dlq' });
  });

  it('checks its props up front, listing every problem', () => {
    const build = (props: Partial<RunnerEventIngestProps>) => () => {
      const fixture = laneFixture(testStack());
      new RunnerEventIngest(fixture.stack, 'RunnerEvents', {
        environmentName: 'test',
        lifecycle: fixture.lifecycle,
        telemetry: fixture.telemetry,
        ...props,
      });
    };
    const message = thrownMessage(
      build({
        namePrefix: 'no spaces',
        retryAttempts: 200,
        maxEventAge: Duration.hours(25),
        asyncRetryAttempts: 3,
        asyncMaxEventAge: Duration.hours(7),
        retentionDays: 0,
      }),
    );
    expect(message).toContain('Invalid RunnerEventIngest props');
    for (const expected of [
      'namePrefix (rule name): "no spaces-runner-events"',
      'namePrefix (dead-letter queue name)',
      'retryAttempts: must be an integer from 0 to 185, got 200',
      'maxEventAge: must be 1 minute to 24 hours',
      'asyncRetryAttempts: must be an integer from 0 to 2, got 3',
      'asyncMaxEventAge: must be 1 minute to 6 hours',
      'retentionDays: must be an integer from 1 to 3650, got 0',
    ]) {
      expect(message).toContain(expected);
    }
  });

  it('turns the wire-format pattern into the CDK’s, keeping nested fields', () => {
    expect(
      toCdkEventPattern({
        source: ['runlane.agent'],
        'detail-type': ['RunnerStall'],
        detail: { rootCause: [{ prefix: 'net' }] },
      }),
    ).toEqual({
      source: ['runlane.agent'],
      detailType: ['RunnerStall'],
      detail: { rootCause: [{ prefix: 'net' }] },
    });
  });
});
