import { Match, Template } from 'aws-cdk-lib/assertions';
import { beforeAll, describe, expect, it } from 'vitest';
import { API_ROUTES } from '#contracts/api-routes.js';
import { LANE_GRACE_RECEIVES, LANES } from '#contracts/lanes.js';
import { REQUIRED_RUNTIME_ENV, RUNTIME_ENV } from '#contracts/runtime-env.js';
import { RunlaneStack } from '#lib/runlane-stack.js';
import { formatSummary, summarizeTemplate } from '#lib/synth/synth-summary.js';
import { environmentConfig, TEST_REGION, testApp } from './support.js';

describe('RunlaneStack', () => {
  let template: Template;

  beforeAll(() => {
    const stack = new RunlaneStack(testApp(), 'Runlane-prod', {
      environmentName: 'prod',
      config: environmentConfig({
        lanes: { maxReceiveCount: 4, functionTimeoutSeconds: 40, maxConcurrency: 20 },
        lifecycle: { retainOnDelete: true, retentionDays: 90 },
        logRetentionDays: 365,
        sweepSchedule: 'cron(15 4 * * ? *)',
        alarms: { supervisor: { silentHosts: { staleMinutes: 25 } } },
      }),
      env: { region: TEST_REGION },
    });
    template = Template.fromStack(stack);
  });

  it('assembles alarm topics, alarms and a dashboard, and outputs their names', () => {
    template.resourceCountIs('AWS::SNS::Topic', 2);
    // Five per lane + NeedsReview backlog, RunnerStallFastBurn, RunnerStallSlowBurn, runner event DLQ,
    // SupervisorDashboardDisconnected, SupervisorChildrenQuarantined, SupervisorSilentHosts.
    template.resourceCountIs('AWS::CloudWatch::Alarm', LANES.length * 5 + 7);
    template.resourceCountIs('AWS::CloudWatch::Dashboard', 1);
    expect(Object.keys(template.toJSON().Outputs ?? {})).toEqual(
      expect.arrayContaining(['CriticalAlarmTopicArn', 'WarningAlarmTopicArn', 'DashboardName']),
    );
  });

  it('assembles storage, bus, one lane per LANES entry, the API and the schedule', () => {
    template.resourceCountIs('AWS::DynamoDB::GlobalTable', 1);
    template.resourceCountIs('AWS::Events::EventBus', 1);
    template.resourceCountIs('AWS::Lambda::EventSourceMapping', LANES.length);
    // lane queues + lane DLQs + the schedule's delivery DLQ + the runner event DLQ
    template.resourceCountIs('AWS::SQS::Queue', LANES.length * 2 + 2);
    // lane workers + API + replay drill dispatcher + runner event ingest + supervisor silent-host check
    template.resourceCountIs('AWS::Lambda::Function', LANES.length + 4);
    template.resourceCountIs('AWS::ApiGatewayV2::Api', 1);
    // the nightly sweep schedule + the runner events rule on the telemetry bus + the silent-host schedule
    template.resourceCountIs('AWS::Events::Rule', 3);
    template.hasResourceProperties('AWS::Events::Rule', { ScheduleExpression: 'cron(15 4 * * ? *)' });
    template.hasResourceProperties('AWS::Events::Rule', {
      Name: 'runlane-prod-supervisor-silent-hosts',
      ScheduleExpression: 'rate(5 minutes)',
    });
  });

  it('sets every variable each handler needs at cold start', () => {
    const functions = template.findResources('AWS::Lambda::Function');
    const variablesOf = (fn: { Properties?: { Environment?: { Variables?: Record<string, unknown> } } }) =>
      Object.keys(fn.Properties?.Environment?.Variables ?? {});
    const workers = Object.values(functions).filter((fn) => variablesOf(fn).includes(RUNTIME_ENV.laneName));
    const apis = Object.values(functions).filter((fn) =>
      variablesOf(fn).includes(RUNTIME_ENV.commandQueueUrls),
    );
    const ingests = Object.values(functions).filter((fn) =>
      variablesOf(fn).includes(RUNTIME_ENV.runnerEventDeadLetterQueueUrl),
    );
    const checks = Object.values(functions).filter((fn) =>
      variablesOf(fn).includes(RUNTIME_ENV.supervisorStaleMinutes),
    );
    expect(workers).toHaveLength(LANES.length);
    expect(apis).toHaveLength(1);
    expect(ingests).toHaveLength(1);
    expect(checks).toHaveLength(1);
    for (const fn of checks) {
      expect(variablesOf(fn)).toEqual(
        expect.arrayContaining(REQUIRED_RUNTIME_ENV.supervisorSilentHosts.map((k) => RUNTIME_ENV[k])),
      );
      // The threshold of config alarms.supervisor.silentHosts.staleMinutes.
      expect(fn.Properties?.Environment?.Variables?.[RUNTIME_ENV.supervisorStaleMinutes]).toBe('25');
    }
    for (const fn of ingests) {
      expect(variablesOf(fn)).toEqual(
        expect.arrayContaining(REQUIRED_RUNTIME_ENV.runnerEventIngest.map((k) => RUNTIME_ENV[k])),
      );
      // The ingest keeps events as long as the lifecycle (config lifecycle.retentionDays).
      expect(fn.Properties?.Environment?.Variables?.[RUNTIME_ENV.retentionDays]).toBe('90');
    }
    for (const fn of workers) {
      expect(variablesOf(fn)).toEqual(
        expect.arrayContaining(REQUIRED_RUNTIME_ENV.laneWorker.map((k) => RUNTIME_ENV[k])),
      );
    }
    for (const fn of apis) {
      expect(variablesOf(fn)).toEqual(
        expect.arrayContaining(REQUIRED_RUNTIME_ENV.api.map((k) => RUNTIME_ENV[k])),
      );
    }
  });

  it('applies the environment configuration to every lane', () => {
    for (const definition of LANES) {
      template.hasResourceProperties('AWS::SQS::Queue', {
        QueueName: `runlane-prod-${definition.name}`,
        VisibilityTimeout: 6 * 40 + 1,
        RedrivePolicy: {
          deadLetterTargetArn: {
            'Fn::GetAtt': [Match.stringLikeRegexp(`^${definition.id}DeadLetterQueue`), 'Arn'],
          },
          maxReceiveCount: 4 + LANE_GRACE_RECEIVES,
        },
      });
    }
  });

  it('outputs the API URL, every queue and DLQ URL, the table and the bus', () => {
    const outputs = Object.keys(template.toJSON().Outputs ?? {});
    expect(outputs).toEqual(
      expect.arrayContaining([
        'ApiUrl',
        'LifecycleTableName',
        'TelemetryBusName',
        'RunnerEventDeadLetterQueueUrl',
        ...LANES.flatMap((definition) => [`${definition.id}QueueUrl`, `${definition.id}DeadLetterQueueUrl`]),
      ]),
    );
  });

  it('keeps log groups and the table when retainOnDelete is set, with the configured retention', () => {
    template.allResources('AWS::Logs::LogGroup', { DeletionPolicy: 'Retain' });
    template.allResourcesProperties('AWS::Logs::LogGroup', { RetentionInDays: 365 });
  });

  it('summarises into what synth-all prints', () => {
    const summary = summarizeTemplate('Runlane-prod', template.toJSON(), TEST_REGION);
    expect(summary.environment).toBe('prod');
    expect(summary.lanes.map((lane) => lane.lane)).toEqual(LANES.map((lane) => lane.name).sort());
    for (const lane of summary.lanes) {
      expect(lane).toMatchObject({
        maxReceiveCount: 4 + LANE_GRACE_RECEIVES,
        batchSize: 10,
        visibilityTimeoutSeconds: 241,
        functionTimeoutSeconds: 40,
        deadLetterRetentionSeconds: 1_209_600,
        maxConcurrency: 20,
        runtime: 'nodejs24.x',
      });
      expect(lane.deadLetterQueue).toBe(`${lane.queue}-dlq`);
    }
    expect(summary.tables).toHaveLength(1);
    expect(summary.tables[0]).toMatchObject({
      keys: 'pk/sk',
      timeToLiveAttribute: 'expiresAt',
      pointInTimeRecovery: true,
    });
    expect(summary.tables[0]?.indexes.map((index) => index.name)).toEqual([
      'byCorrelation',
      'reviewQueue',
      'openRuns',
    ]);
    // Five alarms per lane (DLQ, oldest age, errors: critical; throttles, latency: warning), the
    // backlog (warning), the runner stall fast burn (critical), slow burn and event DLQ (warning),
    // the three supervisor alarms (warning).
    expect(summary.alarms).toBe(LANES.length * 5 + 7);
    expect(summary.alarmTopics).toEqual([
      { topic: 'runlane-prod-alarms-critical', alarms: LANES.length * 3 + 1, subscriptions: 0 },
      { topic: 'runlane-prod-alarms-warning', alarms: LANES.length * 2 + 6, subscriptions: 0 },
    ]);
    expect(summary.dashboards).toEqual(['runlane-prod']);
    const printed = formatSummary(summary);
    expect(printed).toContain(`  alarms: ${LANES.length * 5 + 7}\n`);
    expect(printed).toContain(
      `    ${LANES.length * 3 + 1} → runlane-prod-alarms-critical  (0 subscription(s))`,
    );
    expect(printed).toContain('  dashboards: runlane-prod');
    expect(summary.routes).toHaveLength(Object.keys(API_ROUTES).length);
    for (const route of Object.values(API_ROUTES)) {
      expect(summary.routes).toContainEqual({
        routeKey: `${route.method} ${route.path}`,
        authorization: route.group === 'household' ? 'JWT' : 'AWS_IAM',
      });
    }
  });
});
