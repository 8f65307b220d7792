import { Duration } from 'aws-cdk-lib';
import { Match, Template } from 'aws-cdk-lib/assertions';
import { beforeAll, describe, expect, it } from 'vitest';
import { deadLetterQueueName, LANE_GRACE_RECEIVES } from '#contracts/lanes.js';
import { RUNTIME_ENV } from '#contracts/runtime-env.js';
import { InvalidPropsError } from '#lib/errors.js';
import { CommandLane } from '#lib/lanes/command-lane.js';
import { actionsOn, buildLane, lane, laneFixture, roleStatements, thrownMessage } from './support.js';

describe('CommandLane', () => {
  let template: Template;

  beforeAll(() => {
    const { stack, lifecycle, telemetry } = laneFixture();
    new CommandLane(stack, 'IngestionCompleted', {
      lane: lane('runtime-ingestion-completed'),
      environmentName: 'test',
      lifecycle,
      telemetry,
      maxReceiveCount: 7,
      batchSize: 5,
      maxBatchingWindow: Duration.seconds(2),
      maxConcurrency: 3,
      functionTimeout: Duration.seconds(20),
      memorySize: 512,
      retentionDays: 45,
    });
    template = Template.fromStack(stack);
  });

  it('creates the lane queue and its DLQ, both encrypted', () => {
    template.resourceCountIs('AWS::SQS::Queue', 2);
    template.hasResourceProperties('AWS::SQS::Queue', {
      QueueName: 'runlane-test-runtime-ingestion-completed',
      SqsManagedSseEnabled: true,
    });
    template.hasResourceProperties('AWS::SQS::Queue', {
      QueueName: deadLetterQueueName('runlane-test-runtime-ingestion-completed'),
      SqsManagedSseEnabled: true,
      MessageRetentionPeriod: 1_209_600,
    });
  });

  it('denies every request without TLS on both queues', () => {
    const policies = template.findResources('AWS::SQS::QueuePolicy', {
      Properties: {
        PolicyDocument: {
          Statement: Match.arrayWith([
            Match.objectLike({
              Effect: 'Deny',
              Action: 'sqs:*',
              Condition: { Bool: { 'aws:SecureTransport': 'false' } },
            }),
          ]),
        },
      },
    });
    expect(Object.keys(policies)).toHaveLength(2);
  });

  it('redrives to the DLQ after maxReceiveCount + LANE_GRACE_RECEIVES receives; the worker is told maxReceiveCount', () => {
    template.hasResourceProperties('AWS::SQS::Queue', {
      QueueName: 'runlane-test-runtime-ingestion-completed',
      RedrivePolicy: {
        deadLetterTargetArn: { 'Fn::GetAtt': [Match.stringLikeRegexp('DeadLetterQueue'), 'Arn'] },
        maxReceiveCount: 7 + LANE_GRACE_RECEIVES,
      },
    });
    template.hasResourceProperties('AWS::Lambda::Function', {
      Environment: { Variables: Match.objectLike({ [RUNTIME_ENV.laneMaxReceiveCount]: '7' }) },
    });
  });

  it('sets the visibility timeout to at least 6 × function timeout + batching window', () => {
    const queues = template.findResources('AWS::SQS::Queue', {
      Properties: { QueueName: 'runlane-test-runtime-ingestion-completed' },
    });
    const [queue] = Object.values(queues);
    const [fn] = Object.values(template.findResources('AWS::Lambda::Function'));
    const timeout = fn?.Properties.Timeout as number;
    expect(timeout).toBe(20);
    expect(queue?.Properties.VisibilityTimeout).toBeGreaterThanOrEqual(6 * timeout + 2);
    expect(queue?.Properties.VisibilityTimeout).toBe(122);
  });

  it('runs the worker on nodejs24.x arm64 with active tracing and its own log group', () => {
    template.hasResourceProperties('AWS::Lambda::Function', {
      Runtime: 'nodejs24.x',
      Architectures: ['arm64'],
      Handler: 'index.handler',
      MemorySize: 512,
      Timeout: 20,
      TracingConfig: { Mode: 'Active' },
      LoggingConfig: { LogFormat: 'JSON', LogGroup: { Ref: Match.stringLikeRegexp('WorkerLogGroup') } },
    });
    template.hasResourceProperties('AWS::Logs::LogGroup', { RetentionInDays: 30 });
  });

  it('gives the worker the lane environment', () => {
    template.hasResourceProperties('AWS::Lambda::Function', {
      Environment: {
        Variables: {
          [RUNTIME_ENV.laneName]: 'runtime-ingestion-completed',
          [RUNTIME_ENV.laneDeadLetterQueueUrl]: { Ref: Match.stringLikeRegexp('DeadLetterQueue') },
          [RUNTIME_ENV.laneMaxReceiveCount]: '7',
          [RUNTIME_ENV.attemptLockFallbackMs]: '20000',
          [RUNTIME_ENV.lifecycleTableName]: { Ref: Match.stringLikeRegexp('LifecycleTable') },
          [RUNTIME_ENV.telemetryBusName]: { Ref: Match.stringLikeRegexp('TelemetryBus') },
          [RUNTIME_ENV.retentionDays]: '45',
          [RUNTIME_ENV.ingestionErrorRatioThreshold]: '0.05',
          [RUNTIME_ENV.stuckRunningMinutes]: '60',
          [RUNTIME_ENV.staleReviewHours]: '24',
          [RUNTIME_ENV.environmentName]: 'test',
          POWERTOOLS_SERVICE_NAME: 'runlane-lane-worker',
          NODE_OPTIONS: '--enable-source-maps',
        },
      },
    });
  });

  it('consumes the queue with partial batch failures and bounded concurrency', () => {
    template.resourceCountIs('AWS::Lambda::EventSourceMapping', 1);
    template.hasResourceProperties('AWS::Lambda::EventSourceMapping', {
      EventSourceArn: { 'Fn::GetAtt': [Match.stringLikeRegexp('IngestionCompletedQueue'), 'Arn'] },
      BatchSize: 5,
      MaximumBatchingWindowInSeconds: 2,
      FunctionResponseTypes: ['ReportBatchItemFailures'],
      ScalingConfig: { MaximumConcurrency: 3 },
    });
  });

  it('lets the worker send to its DLQ, use the lifecycle table and put events on the bus', () => {
    const statements = roleStatements(template, /WorkerRole/);
    expect(actionsOn(statements, /DeadLetterQueue/)).toEqual([
      'sqs:GetQueueAttributes',
      'sqs:GetQueueUrl',
      'sqs:SendMessage',
    ]);
    expect(actionsOn(statements, /IngestionCompletedQueue/)).toEqual(
      expect.arrayContaining(['sqs:ReceiveMessage', 'sqs:DeleteMessage', 'sqs:ChangeMessageVisibility']),
    );
    // ingestion.completed only reads, reserves and saves its own run items (least-privilege.test.ts).
    expect(actionsOn(statements, /LifecycleTable/)).toEqual([
      'dynamodb:PutItem',
      'dynamodb:Query',
      'dynamodb:UpdateItem',
    ]);
    expect(actionsOn(statements, /TelemetryBus/)).toEqual(['events:PutEvents']);
  });

  it('uses no managed policy on the worker role', () => {
    template.hasResourceProperties('AWS::IAM::Role', { ManagedPolicyArns: Match.absent() });
  });
});

describe('CommandLane defaults', () => {
  it('defaults to maxReceiveCount 5, batch 10, window 1 s, timeout 30 s, visibility 181 s', () => {
    const created = buildLane();
    const template = Template.fromStack(created.queue.stack);
    template.hasResourceProperties('AWS::SQS::Queue', {
      QueueName: 'runlane-test-runtime-ingestion-completed',
      VisibilityTimeout: 181,
      RedrivePolicy: Match.objectLike({ maxReceiveCount: 5 + LANE_GRACE_RECEIVES }),
    });
    template.hasResourceProperties('AWS::Lambda::EventSourceMapping', {
      BatchSize: 10,
      MaximumBatchingWindowInSeconds: 1,
      ScalingConfig: { MaximumConcurrency: 5 },
    });
    expect(created.visibilityTimeout.toSeconds()).toBe(181);
  });

  it('accepts a visibility timeout above the minimum', () => {
    // 7 receives × 10 minutes: the sweep may close an abandoned run only after that.
    const created = buildLane({
      visibilityTimeout: Duration.minutes(10),
      commands: { abandonAfterMinutes: 71 },
    });
    Template.fromStack(created.queue.stack).hasResourceProperties('AWS::SQS::Queue', {
      QueueName: 'runlane-test-runtime-ingestion-completed',
      VisibilityTimeout: 600,
    });
  });
});

describe('CommandLane props check', () => {
  it('rejects a visibility timeout under 6 × function timeout + batching window', () => {
    const message = thrownMessage(() =>
      buildLane({ functionTimeout: Duration.seconds(30), visibilityTimeout: Duration.seconds(120) }),
    );
    expect(message).toContain(
      'visibilityTimeout: must be at least 6 × functionTimeout + maxBatchingWindow = 181',
    );
  });

  it('reports every problem in one error', () => {
    let caught: unknown;
    try {
      buildLane({
        maxReceiveCount: 0,
        batchSize: 11,
        maxBatchingWindow: Duration.seconds(0),
        maxConcurrency: 1,
        memorySize: 64,
        namePrefix: 'x'.repeat(80),
      });
    } catch (error) {
      caught = error;
    }
    expect(caught).toBeInstanceOf(InvalidPropsError);
    const problems = (caught as InvalidPropsError).problems.join('\n');
    expect(problems).toMatch(/^maxReceiveCount:/m);
    expect(problems).toMatch(/^batchSize: must be an integer from 1 to 10 without a batching window/m);
    expect(problems).toMatch(/^maxConcurrency:/m);
    expect(problems).toMatch(/^memorySize:/m);
    expect(problems).toMatch(/^namePrefix \(queue name\):/m);
    expect((caught as InvalidPropsError).problems).toHaveLength(6);
  });

  it('allows batches over 10 only with a batching window', () => {
    expect(() => buildLane({ batchSize: 100, maxBatchingWindow: Duration.seconds(5) })).not.toThrow();
  });

  it('rejects a visibility timeout over 12 hours', () => {
    expect(() => buildLane({ visibilityTimeout: Duration.hours(13) })).toThrow(/at most 43200 seconds/);
  });
});
