import { readFileSync } from 'node:fs';
import { Duration, Stack } from 'aws-cdk-lib';
import { Match, Template } from 'aws-cdk-lib/assertions';
import * as apigwv2 from 'aws-cdk-lib/aws-apigatewayv2';
import { beforeAll, describe, expect, it } from 'vitest';
import { EVENT_RULES, WORKER_EVENTS_RULE } from '#contracts/event-rules.js';
import { workerOfCallerArn, workerRoleName } from '#contracts/identity.js';
import { LANES } from '#contracts/lanes.js';
import { emittedMetrics, METRICS_NAMESPACE } from '#contracts/metrics.js';
import { REQUIRED_RUNTIME_ENV, RUNTIME_ENV } from '#contracts/runtime-env.js';
import { WORKER_RUNTIME_ENV } from '#core/workers/settings.js';
import { WorkerDelegation, type WorkerDelegationProps } from '#lib/agents/worker-delegation.js';
import { parseRunlaneConfig, workerSiteOutputId } from '#lib/config/environment-config.js';
import { ALARM_CATALOG, runbookLink, WORKER_ALARM_KINDS } from '#lib/observability/alarm-catalog.js';
import { RunlaneStack } from '#lib/runlane-stack.js';
import {
  type DashboardWidget,
  metricKey,
  parseDashboardBody,
  queriedMetrics,
} from '../support/dashboard-body.js';
import {
  actionsOn,
  configError,
  environmentConfig,
  laneFixture,
  type PolicyStatement,
  rawConfig,
  roleStatements,
  TEST_REGION,
  testApp,
  testStack,
  thrownMessage,
} from './support.js';

type Resources = Record<string, { Properties: Record<string, unknown> }>;

/** A sharded partition's leading keys: its eight shards `#0`…`#7`, then the unsharded partition. */
function shardsAndUnsharded(partition: string): string[] {
  return [...Array.from({ length: 8 }, (_, shard) => `${partition}#${shard}`), partition];
}

function logicalId(construct: { node: { defaultChild?: unknown } }): string {
  const child = construct.node.defaultChild as never;
  return Stack.of(child).getLogicalId(child);
}

/** A policy document with its action and resource lists sorted (the app minimizes policies, which reorders them). */
function normalized(document: unknown): unknown {
  const doc = document as { Version: string; Statement: Record<string, unknown>[] };
  const sorted = (value: unknown) =>
    Array.isArray(value)
      ? [...value].sort((a, b) => JSON.stringify(a).localeCompare(JSON.stringify(b)))
      : value;
  return {
    ...doc,
    Statement: doc.Statement.map((statement) => ({
      ...statement,
      Action: sorted(statement.Action),
      Resource: sorted(statement.Resource),
    })),
  };
}

function statementsOf(policy: { Properties: Record<string, unknown> }): PolicyStatement[] {
  return (policy.Properties.PolicyDocument as { Statement: PolicyStatement[] }).Statement;
}

describe('WorkerDelegation', () => {
  let template: Template;
  let workers: WorkerDelegation;
  let ids: {
    bus: string;
    table: string;
    api: string;
    dlq: string;
    ingest: string;
    sweep: string;
    rule: string;
    sweepRule: string;
    queues: Record<string, string>;
    taskDlqs: Record<string, string>;
  };

  beforeAll(() => {
    const fixture = laneFixture(testStack());
    const api = new apigwv2.HttpApi(fixture.stack, 'Api');
    workers = new WorkerDelegation(fixture.stack, 'Workers', {
      environmentName: 'test',
      lifecycle: fixture.lifecycle,
      telemetry: fixture.telemetry,
      api: { httpApi: api },
      sites: ['lab', 'east-dc'],
      heartbeatStaleMultiple: 4,
      stuckTaskMinutes: 20,
      resultDeadlineSeconds: 1800,
      maxReceiveCount: 3,
      visibilityTimeout: Duration.seconds(600),
      retentionDays: 45,
    });
    template = Template.fromStack(fixture.stack);
    const bySite = (
      pick: (lane: WorkerDelegation['siteLanes'][number]) => { node: { defaultChild?: unknown } },
    ) => Object.fromEntries(workers.siteLanes.map((lane) => [lane.site, logicalId(pick(lane))]));
    ids = {
      bus: logicalId(fixture.telemetry.bus),
      table: logicalId(fixture.lifecycle.table),
      api: logicalId(api),
      dlq: logicalId(workers.deadLetterQueue),
      ingest: logicalId(workers.ingest),
      sweep: logicalId(workers.sweep),
      rule: logicalId(workers.rule),
      sweepRule: logicalId(workers.sweepRule),
      queues: bySite((lane) => lane.queue),
      taskDlqs: bySite((lane) => lane.deadLetterQueue),
    };
  });

  it('creates one task lane per site, named as the contract says, encrypted, with its DLQ after maxReceiveCount receives', () => {
    // 2 sites × (lane + DLQ) + the worker events DLQ
    template.resourceCountIs('AWS::SQS::Queue', 5);
    for (const site of ['lab', 'east-dc']) {
      template.hasResourceProperties('AWS::SQS::Queue', {
        QueueName: `runlane-test-worker-tasks-${site}`,
        SqsManagedSseEnabled: true,
        VisibilityTimeout: 600,
        MessageRetentionPeriod: 7 * 24 * 3600,
        RedrivePolicy: {
          deadLetterTargetArn: { 'Fn::GetAtt': [ids.taskDlqs[site], 'Arn'] },
          maxReceiveCount: 3,
        },
      });
      template.hasResourceProperties('AWS::SQS::Queue', {
        QueueName: `runlane-test-worker-tasks-${site}-dlq`,
        SqsManagedSseEnabled: true,
        MessageRetentionPeriod: 1_209_600,
      });
    }
    expect(workers.siteLanes.map((lane) => lane.site)).toEqual(['lab', 'east-dc']);
    // Every queue refuses requests without TLS.
    const policies = Object.values(template.findResources('AWS::SQS::QueuePolicy') as Resources);
    const tlsOnly = policies.filter((policy) =>
      statementsOf(policy).some(
        (statement) =>
          statement.Effect === 'Deny' && JSON.stringify(statement).includes('"aws:SecureTransport":"false"'),
      ),
    );
    const queuesCovered = new Set(
      tlsOnly.flatMap((policy) => (policy.Properties.Queues as { Ref: string }[]).map((queue) => queue.Ref)),
    );
    expect([...queuesCovered].sort()).toEqual(
      [...Object.values(ids.queues), ...Object.values(ids.taskDlqs), ids.dlq].sort(),
    );
  });

  it('routes WorkerHeartbeat and WorkerResult from runlane.agent on the telemetry bus to the ingest, retried then dead-lettered', () => {
    template.hasResourceProperties('AWS::Events::Rule', {
      Name: 'runlane-test-worker-events',
      EventBusName: { Ref: ids.bus },
      EventPattern: { source: ['runlane.agent'], 'detail-type': ['WorkerHeartbeat', 'WorkerResult'] },
      State: 'ENABLED',
      Targets: [
        {
          Arn: { 'Fn::GetAtt': [ids.ingest, 'Arn'] },
          Id: 'Target0',
          RetryPolicy: { MaximumRetryAttempts: 8, MaximumEventAgeInSeconds: 86_400 },
          DeadLetterConfig: { Arn: { 'Fn::GetAtt': [ids.dlq, 'Arn'] } },
        },
      ],
    });
    // The same rule definition the local stack routes with.
    expect(EVENT_RULES).toContain(WORKER_EVENTS_RULE);
    template.hasResourceProperties('AWS::Lambda::EventInvokeConfig', {
      FunctionName: { Ref: ids.ingest },
      MaximumRetryAttempts: 2,
      MaximumEventAgeInSeconds: 21_600,
      DestinationConfig: { OnFailure: { Destination: { 'Fn::GetAtt': [ids.dlq, 'Arn'] } } },
    });
    template.hasResourceProperties('AWS::SQS::Queue', {
      QueueName: 'runlane-test-worker-events-dlq',
      MessageRetentionPeriod: 1_209_600,
    });
  });

  it('gives the ingest its handler and every variable it reads; it writes the table and sends to its DLQ only', () => {
    const fn = (template.findResources('AWS::Lambda::Function') as Resources)[ids.ingest]?.Properties;
    expect(fn).toMatchObject({
      Runtime: 'nodejs24.x',
      Architectures: ['arm64'],
      Timeout: 10,
      MemorySize: 256,
    });
    const variables =
      (fn?.Environment as { Variables: Record<string, unknown> } | undefined)?.Variables ?? {};
    expect(Object.keys(variables)).toEqual(
      expect.arrayContaining(REQUIRED_RUNTIME_ENV.workerEventIngest.map((key) => RUNTIME_ENV[key])),
    );
    expect(variables).toMatchObject({
      RUNLANE_ENVIRONMENT: 'test',
      POWERTOOLS_SERVICE_NAME: 'runlane-worker-ingest',
      LIFECYCLE_TABLE_NAME: { Ref: ids.table },
      WORKER_EVENT_DLQ_URL: { Ref: ids.dlq },
      RETENTION_DAYS: '45',
    });
    const statements = roleStatements(template, /^WorkersIngestFunctionRole/);
    expect(actionsOn(statements, new RegExp(ids.dlq))).toEqual(
      ['sqs:GetQueueAttributes', 'sqs:GetQueueUrl', 'sqs:SendMessage'].sort(),
    );
    // A result is reconciled into task, history and run in one transaction (its status entry
    // moves: delete, put); a heartbeat updates the registry. Per partition: least-privilege.test.ts.
    expect([...new Set(actionsOn(statements, new RegExp(ids.table)))]).toEqual([
      'dynamodb:DeleteItem',
      'dynamodb:GetItem',
      'dynamodb:PutItem',
      'dynamodb:UpdateItem',
    ]);
    const all = statements.flatMap((s) => (Array.isArray(s.Action) ? s.Action : [s.Action]));
    expect(all.filter((action) => /^(events|execute-api):/.test(action))).toEqual([]);
    for (const queue of Object.values(ids.queues))
      expect(actionsOn(statements, new RegExp(queue))).toEqual([]);
  });

  it('runs the sweep every 5 minutes once per tick, with the thresholds, reading the registry, executing tasks and overdue delegated runs, writing only to expire those', () => {
    template.hasResourceProperties('AWS::Events::Rule', {
      Name: 'runlane-test-worker-sweep',
      ScheduleExpression: 'rate(5 minutes)',
      Targets: [
        Match.objectLike({
          Arn: { 'Fn::GetAtt': [ids.sweep, 'Arn'] },
          RetryPolicy: { MaximumRetryAttempts: 0, MaximumEventAgeInSeconds: 240 },
        }),
      ],
    });
    template.hasResourceProperties('AWS::Lambda::EventInvokeConfig', {
      FunctionName: { Ref: ids.sweep },
      MaximumRetryAttempts: 0,
      MaximumEventAgeInSeconds: 240,
    });
    const fn = (template.findResources('AWS::Lambda::Function') as Resources)[ids.sweep]?.Properties;
    expect(fn).toMatchObject({ Timeout: 60, MemorySize: 256 });
    const variables =
      (fn?.Environment as { Variables: Record<string, unknown> } | undefined)?.Variables ?? {};
    expect(Object.keys(variables)).toEqual(
      expect.arrayContaining(REQUIRED_RUNTIME_ENV.workerSweep.map((key) => RUNTIME_ENV[key])),
    );
    expect(variables).toMatchObject({
      RUNLANE_ENVIRONMENT: 'test',
      POWERTOOLS_SERVICE_NAME: 'runlane-worker-sweep',
      LIFECYCLE_TABLE_NAME: { Ref: ids.table },
      [WORKER_RUNTIME_ENV.heartbeatStaleMultiple]: '4',
      [WORKER_RUNTIME_ENV.stuckTaskMinutes]: '20',
    });
    const statements = roleStatements(template, /^WorkersSweepFunctionRole/);
    const onTable = statements.filter((statement) => JSON.stringify(statement.Resource).includes(ids.table));
    expect(onTable).toEqual([
      {
        Sid: 'ListWorkersAndExecutingTasks',
        Effect: 'Allow',
        Action: 'dynamodb:Query',
        Resource: { 'Fn::GetAtt': [ids.table, 'Arn'] },
        Condition: {
          // Every shard of the registry and of the executing entries, and each unsharded partition.
          'ForAllValues:StringEquals': {
            'dynamodb:LeadingKeys': [
              ...shardsAndUnsharded('WORKERS#test'),
              ...shardsAndUnsharded('WTASKS#test#executing'),
            ],
          },
        },
      },
      {
        Sid: 'ReadTasks',
        Effect: 'Allow',
        Action: 'dynamodb:BatchGetItem',
        Resource: { 'Fn::GetAtt': [ids.table, 'Arn'] },
        Condition: { 'ForAllValues:StringLike': { 'dynamodb:LeadingKeys': ['WTASK#*'] } },
      },
      // Expiring an overdue delegation: its task record and run, its status entry moved to failed.
      {
        Sid: 'ExpireOverdueDelegations',
        Effect: 'Allow',
        Action: [
          'dynamodb:GetItem',
          'dynamodb:PutItem',
          'dynamodb:UpdateItem',
          'dynamodb:ConditionCheckItem',
        ],
        Resource: { 'Fn::GetAtt': [ids.table, 'Arn'] },
        Condition: { 'ForAllValues:StringLike': { 'dynamodb:LeadingKeys': ['WTASK#*', 'RUN#*'] } },
      },
      {
        Sid: 'MoveTaskStatusEntries',
        Effect: 'Allow',
        Action: ['dynamodb:PutItem', 'dynamodb:DeleteItem'],
        Resource: { 'Fn::GetAtt': [ids.table, 'Arn'] },
        Condition: {
          'ForAllValues:StringEquals': {
            'dynamodb:LeadingKeys': [
              ...shardsAndUnsharded('WTASKS#test#queued'),
              ...shardsAndUnsharded('WTASKS#test#executing'),
              ...shardsAndUnsharded('WTASKS#test#failed'),
            ],
          },
        },
      },
      // The overdue delegated runs: the openRuns index and no other.
      {
        Sid: 'QueryIndexes',
        Effect: 'Allow',
        Action: 'dynamodb:Query',
        Resource: { 'Fn::Join': ['', [{ 'Fn::GetAtt': [ids.table, 'Arn'] }, '/index/openRuns']] },
      },
    ]);
    // No scan, no batch write, no other partition.
    expect(JSON.stringify(onTable)).not.toMatch(/Scan|BatchWriteItem/);
    const actions = statements.flatMap((s) => (Array.isArray(s.Action) ? s.Action : [s.Action]));
    expect(actions.filter((action) => /^(sqs|events|sns|execute-api):/.test(action))).toEqual([]);
    // The one index it reads is openRuns.
    expect(JSON.stringify(statements).match(/\/index\/[A-Za-z*]+/g)).toEqual(['/index/openRuns']);
  });

  it('offers each site’s hosts a policy: their own lane, worker events on the bus, three worker routes — nothing else', () => {
    const policies = template.findResources('AWS::IAM::ManagedPolicy') as Resources;
    expect(Object.keys(policies)).toHaveLength(2);
    const apiArn = (path: string) => ({
      'Fn::Join': [
        '',
        [
          'arn:',
          { Ref: 'AWS::Partition' },
          `:execute-api:${TEST_REGION}:`,
          { Ref: 'AWS::AccountId' },
          ':',
          { Ref: ids.api },
          `/$default/POST${path}`,
        ],
      ],
    });
    for (const lane of workers.siteLanes) {
      const site = `/api/workers/sites/${lane.site}`;
      const policy = policies[logicalId(lane.hostPolicy)];
      expect(policy?.Properties.ManagedPolicyName).toBe(`runlane-test-worker-${lane.site}`);
      expect(normalized(policy?.Properties.PolicyDocument)).toEqual({
        Version: '2012-10-17',
        Statement: [
          {
            Sid: 'SiteTaskLane',
            Effect: 'Allow',
            Action: [
              'sqs:ChangeMessageVisibility',
              'sqs:DeleteMessage',
              'sqs:GetQueueAttributes',
              'sqs:ReceiveMessage',
            ],
            Resource: { 'Fn::GetAtt': [ids.queues[lane.site], 'Arn'] },
          },
          {
            Sid: 'WorkerEvents',
            Effect: 'Allow',
            Action: 'events:PutEvents',
            Resource: { 'Fn::GetAtt': [ids.bus, 'Arn'] },
            Condition: {
              StringEquals: {
                'events:source': ['runlane.agent'],
                'events:detail-type': ['WorkerHeartbeat', 'WorkerResult'],
              },
            },
          },
          {
            Sid: 'WorkerApi',
            Effect: 'Allow',
            Action: 'execute-api:Invoke',
            Resource: [
              apiArn(`${site}/heartbeats`),
              apiArn(`${site}/results`),
              apiArn(`${site}/tasks/*/claim`),
            ],
          },
        ],
      });
      // No other site's lane or routes, no DLQ, no health / metrics / delegation route.
      const text = JSON.stringify(policy?.Properties.PolicyDocument);
      for (const [other, queue] of Object.entries(ids.queues)) {
        if (other === lane.site) continue;
        expect(text).not.toContain(queue);
        expect(text).not.toContain(`/sites/${other}/`);
      }
      expect(text).not.toMatch(/health|metrics|delegation|dlq|DeadLetter/i);
    }
  });

  it('creates each site’s host role runlane-<env>-worker-<site> with only its site’s policy, assumable by this account', () => {
    const roles = template.findResources('AWS::IAM::Role', {
      Properties: { RoleName: Match.stringLikeRegexp('^runlane-test-worker-') },
    }) as Resources;
    expect(Object.keys(roles)).toHaveLength(2);
    for (const lane of workers.siteLanes) {
      const role = roles[logicalId(lane.hostRole)];
      expect(role?.Properties.RoleName).toBe(workerRoleName('test', lane.site));
      expect(role?.Properties.ManagedPolicyArns).toEqual([{ Ref: logicalId(lane.hostPolicy) }]);
      expect(role?.Properties.Policies).toBeUndefined();
      expect(role?.Properties.MaxSessionDuration).toBe(3600);
      expect(role?.Properties.AssumeRolePolicyDocument).toEqual({
        Version: '2012-10-17',
        Statement: [
          {
            Action: 'sts:AssumeRole',
            Effect: 'Allow',
            Principal: {
              AWS: {
                'Fn::Join': [
                  '',
                  ['arn:', { Ref: 'AWS::Partition' }, ':iam::', { Ref: 'AWS::AccountId' }, ':root'],
                ],
              },
            },
          },
        ],
      });
    }
  });

  it('gives the ingest the clock skew it allows (default 300 s)', () => {
    const ingest = (template.findResources('AWS::Lambda::Function') as Resources)[ids.ingest];
    const variables = (ingest?.Properties.Environment as { Variables: Record<string, unknown> } | undefined)
      ?.Variables;
    expect(variables?.[RUNTIME_ENV.workerClockSkewSeconds]).toBe('300');
  });

  it('exposes the WORKER_* variables for the API and the delegating lane worker', () => {
    const resolved = Stack.of(workers).resolve(workers.runtimeEnvironment) as Record<string, unknown>;
    expect(resolved).toEqual({
      WORKER_DELEGATION_ENABLED: 'false',
      WORKER_HEARTBEAT_STALE_MULTIPLE: '4',
      WORKER_STUCK_TASK_MINUTES: '20',
      WORKER_RESULT_DEADLINE_SECONDS: '1800',
      WORKER_TASK_QUEUE_URLS: {
        'Fn::Join': [
          '',
          ['{"lab":"', { Ref: ids.queues.lab }, '","east-dc":"', { Ref: ids.queues['east-dc'] }, '"}'],
        ],
      },
    });
  });

  it('checks its props up front, listing every problem', () => {
    const build = (props: Partial<WorkerDelegationProps>) => () => {
      const fixture = laneFixture(testStack());
      new WorkerDelegation(fixture.stack, 'Workers', {
        environmentName: 'test',
        lifecycle: fixture.lifecycle,
        telemetry: fixture.telemetry,
        api: { httpApi: new apigwv2.HttpApi(fixture.stack, 'Api') },
        sites: ['lab'],
        ...props,
      });
    };
    const message = thrownMessage(
      build({
        sites: ['lab', 'Lab', 'lab'],
        heartbeatStaleMultiple: 0.5,
        stuckTaskMinutes: 0,
        resultDeadlineSeconds: 0,
        maxReceiveCount: 0,
        visibilityTimeout: Duration.seconds(10),
        taskRetention: Duration.days(14),
        retryAttempts: 200,
        asyncRetryAttempts: 3,
        sweepTimeout: Duration.minutes(5),
        hostRoleTrust: ['someone', 'arn:aws:iam::123456789012:group/ops'],
        clockSkewSeconds: 0,
      }),
    );
    expect(message).toContain('Invalid WorkerDelegation props');
    for (const expected of [
      'sites: repeated lab',
      'sites: "Lab" must be 1-32 of a-z, 0-9, "-"',
      'heartbeatStaleMultiple: must be from 1 to 100, got 0.5',
      'stuckTaskMinutes: must be an integer from 1 to 1440, got 0',
      'resultDeadlineSeconds: must be an integer from 1 to 604800, got 0',
      'maxReceiveCount: must be an integer from 1 to 1000, got 0',
      'visibilityTimeout: must be whole seconds from 30 s to 12 hours, got 10 seconds',
      'taskRetention: must be from 1 hour to less than 14 days, got 14 days',
      'retryAttempts: must be an integer from 0 to 185, got 200',
      'asyncRetryAttempts: must be an integer from 0 to 2, got 3',
      'sweepTimeout: must be 1 to 120 seconds, got 5 minutes',
      'hostRoleTrust: "someone" is not a 12-digit account id or an IAM role or user ARN',
      'hostRoleTrust: "arn:aws:iam::123456789012:group/ops" is not',
      'clockSkewSeconds: must be an integer from 1 to 86400, got 0',
    ]) {
      expect(message).toContain(expected);
    }
    expect(thrownMessage(build({ sites: [] }))).toContain('sites: at least one site is required');
  });
});

const WORKER_CONFIG = {
  sites: ['lab', 'east-dc'],
  delegationEnabled: true,
  heartbeatStaleMultiple: 4,
  stuckTaskMinutes: 20,
  maxReceiveCount: 3,
  visibilityTimeoutSeconds: 600,
  clockSkewSeconds: 90,
  hostRoleTrust: ['210987654321', 'arn:aws:iam::123456789012:role/site-hosts'],
};
const WORKER_ALARMS = {
  offlineWorkers: { threshold: 1, sustainMinutes: 20 },
  stuckTasks: { sustainMinutes: 15 },
  taskDlq: { sustainMinutes: 2 },
  queueNotDraining: { oldestMessageAgeSeconds: 1800, sustainMinutes: 10 },
};

describe('WorkerDelegation in an environment with worker sites', () => {
  let stack: RunlaneStack;
  let template: Template;
  let functions: Resources;
  let queueIds: Record<string, string>;

  beforeAll(() => {
    stack = new RunlaneStack(testApp(), 'Runlane-staging', {
      environmentName: 'staging',
      config: environmentConfig({ workers: WORKER_CONFIG, alarms: { workers: WORKER_ALARMS } }),
      env: { region: TEST_REGION },
    });
    template = Template.fromStack(stack);
    functions = template.findResources('AWS::Lambda::Function') as Resources;
    queueIds = Object.fromEntries(
      (stack.workers?.siteLanes ?? []).map((lane) => [lane.site, logicalId(lane.queue)]),
    );
  });

  const delegatingWorker = () => {
    const lane = stack.lanes.find((candidate) => candidate.lane.name === 'runtime-agent-message-posted');
    if (!lane) throw new Error('no runtime-agent-message-posted lane');
    return lane.workerFunction;
  };
  const variablesOf = (id: string) =>
    ((functions[id]?.Properties.Environment as { Variables?: Record<string, unknown> } | undefined)
      ?.Variables ?? {}) as Record<string, unknown>;

  it('creates the lanes, the ingest and the sweep from config.workers', () => {
    expect(stack.workers?.siteLanes.map((lane) => lane.site)).toEqual(['lab', 'east-dc']);
    template.hasResourceProperties('AWS::SQS::Queue', {
      QueueName: 'runlane-staging-worker-tasks-east-dc',
      VisibilityTimeout: 600,
      RedrivePolicy: Match.objectLike({ maxReceiveCount: 3 }),
    });
    // lane workers + API + replay drill + runner ingest + silent-host check + worker ingest + worker sweep
    template.resourceCountIs('AWS::Lambda::Function', LANES.length + 6);
    // + the worker events rule and the worker sweep schedule
    template.resourceCountIs('AWS::Events::Rule', 5);
    template.resourceCountIs('AWS::IAM::ManagedPolicy', 3);
  });

  it('gives the API and the agent.approval.decided lane worker the WORKER_* variables, and no other function', () => {
    const expected = {
      WORKER_DELEGATION_ENABLED: 'true',
      WORKER_HEARTBEAT_STALE_MULTIPLE: '4',
      WORKER_STUCK_TASK_MINUTES: '20',
      WORKER_RESULT_DEADLINE_SECONDS: '3600',
      WORKER_TASK_QUEUE_URLS: {
        'Fn::Join': [
          '',
          ['{"lab":"', { Ref: queueIds.lab }, '","east-dc":"', { Ref: queueIds['east-dc'] }, '"}'],
        ],
      },
    };
    const api = logicalId(stack.api.handler);
    const delegating = stack.lanes.find((lane) => lane.lane.name === 'runtime-agent-message-posted');
    const worker = logicalId(delegating?.worker as never);
    expect(variablesOf(api)).toMatchObject(expected);
    expect(variablesOf(worker)).toMatchObject(expected);
    const withTaskLanes = Object.keys(functions).filter(
      (id) => variablesOf(id)[WORKER_RUNTIME_ENV.taskQueueUrls] !== undefined,
    );
    expect(withTaskLanes.sort()).toEqual([api, worker].sort());
  });

  it('lets the API read the lanes’ depth and the delegating worker send tasks; no function receives from them', () => {
    const apiRole = logicalId(stack.api.handlerFunction.role);
    const workerRole = logicalId(delegatingWorker().role);
    for (const queue of Object.values(queueIds)) {
      expect(actionsOn(roleStatements(template, new RegExp(`^${apiRole}$`)), new RegExp(queue))).toEqual([
        'sqs:GetQueueAttributes',
      ]);
      expect(actionsOn(roleStatements(template, new RegExp(`^${workerRole}$`)), new RegExp(queue))).toEqual([
        'sqs:GetQueueAttributes',
        'sqs:GetQueueUrl',
        'sqs:SendMessage',
      ]);
    }
    // No other role may touch a task lane (the hosts get theirs from the managed policies).
    const others = Object.values(template.findResources('AWS::IAM::Policy') as Resources).filter(
      (policy) =>
        ![apiRole, workerRole].includes((policy.Properties.Roles as { Ref: string }[])[0]?.Ref ?? ''),
    );
    const laneIds = Object.values(queueIds);
    for (const policy of others) {
      for (const statement of statementsOf(policy)) {
        for (const id of laneIds) expect(JSON.stringify(statement.Resource)).not.toContain(id);
      }
    }
  });

  it('alarms on offline workers, stuck tasks, each site’s DLQ and age, and the events DLQ, with the configured thresholds', () => {
    const alarms = Object.fromEntries(
      Object.values(template.findResources('AWS::CloudWatch::Alarm') as Resources).map((alarm) => [
        alarm.Properties.AlarmName as string,
        alarm.Properties,
      ]),
    );
    const sites = WORKER_CONFIG.sites.length;
    expect(Object.keys(alarms)).toHaveLength(LANES.length * 5 + 7 + 3 + 2 * sites);
    const topics = {
      critical: logicalId(stack.alarmTopics.critical),
      warning: logicalId(stack.alarmTopics.warning),
    };
    const check = (name: string, kind: keyof typeof ALARM_CATALOG, expected: Record<string, unknown>) => {
      const props = alarms[name];
      expect(props, name).toMatchObject(expected);
      const topic = topics[ALARM_CATALOG[kind].severity];
      expect(props?.AlarmActions).toEqual([{ Ref: topic }]);
      expect(props?.OKActions).toEqual([{ Ref: topic }]);
      expect(props?.AlarmDescription).toContain(`Runbook: ${runbookLink(kind)}`);
      expect(String(props?.AlarmDescription ?? '').length).toBeLessThanOrEqual(1024);
    };
    check('runlane-staging-WorkersOffline', 'workersOffline', {
      Namespace: 'Runlane',
      MetricName: 'WorkersOffline',
      Dimensions: [{ Name: 'Environment', Value: 'staging' }],
      Statistic: 'Maximum',
      Period: 300,
      EvaluationPeriods: 4,
      DatapointsToAlarm: 4,
      Threshold: 1,
      ComparisonOperator: 'GreaterThanThreshold',
      TreatMissingData: 'breaching',
    });
    check('runlane-staging-WorkerTasksStuckExecuting', 'workerTasksStuckExecuting', {
      MetricName: 'WorkerTasksStuckExecuting',
      Statistic: 'Maximum',
      Period: 300,
      EvaluationPeriods: 3,
      DatapointsToAlarm: 3,
      Threshold: 0,
      TreatMissingData: 'breaching',
    });
    check('runlane-staging-worker-events-dlq-messages', 'workerEventDeadLetters', {
      Namespace: 'AWS/SQS',
      MetricName: 'ApproximateNumberOfMessagesVisible',
      Dimensions: [
        {
          Name: 'QueueName',
          Value: { 'Fn::GetAtt': [logicalId(stack.workers?.deadLetterQueue as never), 'QueueName'] },
        },
      ],
      Period: 60,
      EvaluationPeriods: 1,
      Threshold: 0,
      TreatMissingData: 'notBreaching',
    });
    for (const lane of stack.workers?.siteLanes ?? []) {
      check(`runlane-staging-worker-tasks-${lane.site}-dlq-messages`, 'workerTaskDeadLetters', {
        Namespace: 'AWS/SQS',
        MetricName: 'ApproximateNumberOfMessagesVisible',
        Dimensions: [
          { Name: 'QueueName', Value: { 'Fn::GetAtt': [logicalId(lane.deadLetterQueue), 'QueueName'] } },
        ],
        Statistic: 'Maximum',
        Period: 60,
        EvaluationPeriods: 2,
        DatapointsToAlarm: 2,
        Threshold: 0,
        ComparisonOperator: 'GreaterThanThreshold',
        TreatMissingData: 'notBreaching',
      });
      check(`runlane-staging-worker-tasks-${lane.site}-oldest-message-age`, 'workerTaskQueueAge', {
        Namespace: 'AWS/SQS',
        MetricName: 'ApproximateAgeOfOldestMessage',
        Dimensions: [{ Name: 'QueueName', Value: { 'Fn::GetAtt': [logicalId(lane.queue), 'QueueName'] } }],
        Statistic: 'Maximum',
        Period: 60,
        EvaluationPeriods: 10,
        DatapointsToAlarm: 10,
        Threshold: 1800,
        ComparisonOperator: 'GreaterThanThreshold',
      });
    }
    const kinds = stack.alarms.alarms.filter((entry) =>
      (WORKER_ALARM_KINDS as readonly string[]).includes(entry.kind),
    );
    expect(kinds.filter((entry) => entry.site !== undefined).map((entry) => entry.site)).toEqual([
      'lab',
      'lab',
      'east-dc',
      'east-dc',
    ]);
    expect(kinds.filter((entry) => entry.severity === 'critical')).toHaveLength(1 + 2 * sites);
  });

  it('adds worker rows to the dashboard that show exactly the sweep’s metrics, the lanes and the worker alarms', () => {
    const [dashboard] = Object.values(template.findResources('AWS::CloudWatch::Dashboard') as Resources);
    const body = parseDashboardBody(dashboard?.Properties.DashboardBody);
    // The alarm → runbook table lists the worker alarms (seed 004's headings).
    expect(body.widgets[0]?.properties.markdown).toContain(
      'runbooks/worker-operations.md#queue-not-draining',
    );
    expect(body.widgets[0]?.properties.markdown).toContain(
      'runbooks/worker-operations.md#tasks-stuck-in-executing',
    );
    const workerWidgets = body.widgets.filter((w) => /^Worker/.test(w.properties.title ?? ''));
    expect(workerWidgets.map((w) => w.properties.title)).toEqual([
      'Worker task lanes: depth per site',
      'Worker task lanes: oldest task age (s)',
      'Worker task DLQ depth per site',
      `Worker alarms (${3 + 2 * WORKER_CONFIG.sites.length})`,
      'Workers online / offline (stale after 4 × interval)',
      'Worker tasks stuck executing (> 20 min)',
      'Worker offline backlog (spooled result envelopes, as reported)',
      'Worker event ingest: DLQ depth, invocations, errors',
    ]);
    const rows = new Set(workerWidgets.map((w) => w.y));
    expect(rows.size).toBe(2);
    for (const y of rows) {
      expect(workerWidgets.filter((w) => w.y === y).reduce((sum, w) => sum + w.width, 0)).toBe(24);
    }
    const [depth, age, , status, online, stuck] = workerWidgets as DashboardWidget[];
    expect(
      queriedMetrics(depth as DashboardWidget).map((m) => `${m.name} ${m.dimensions.QueueName}`),
    ).toEqual([
      `ApproximateNumberOfMessagesVisible {GetAtt:${queueIds.lab}.QueueName}`,
      `ApproximateNumberOfMessagesVisible {GetAtt:${queueIds['east-dc']}.QueueName}`,
      `ApproximateNumberOfMessagesNotVisible {GetAtt:${queueIds.lab}.QueueName}`,
      `ApproximateNumberOfMessagesNotVisible {GetAtt:${queueIds['east-dc']}.QueueName}`,
    ]);
    expect(age?.properties.annotations?.horizontal?.[0]).toMatchObject({ value: 1800 });
    expect(status?.properties.alarms).toHaveLength(3 + 2 * WORKER_CONFIG.sites.length);
    expect(queriedMetrics(online as DashboardWidget).slice(0, 2)).toEqual([
      {
        namespace: 'Runlane',
        name: 'WorkersOnline',
        dimensions: { Environment: 'staging' },
        stat: 'Maximum',
      },
      {
        namespace: 'Runlane',
        name: 'WorkersOffline',
        dimensions: { Environment: 'staging' },
        stat: 'Maximum',
      },
    ]);
    expect(stuck?.properties.annotations?.horizontal?.[0]).toMatchObject({ value: 0 });

    const onDashboard = new Set(
      body.widgets
        .flatMap(queriedMetrics)
        .filter((m) => m.namespace === METRICS_NAMESPACE)
        .map(metricKey),
    );
    const emitted = new Set(emittedMetrics('staging', LANES, { workerSweep: true }).map(metricKey));
    expect([...onDashboard].sort()).toEqual([...emitted].sort());
  });

  it('lets the configured principals assume the site roles, and gives the ingest and the API the configured clock skew', () => {
    for (const lane of stack.workers?.siteLanes ?? []) {
      const role = (template.findResources('AWS::IAM::Role') as Resources)[logicalId(lane.hostRole)];
      expect(role?.Properties.RoleName).toBe(`runlane-staging-worker-${lane.site}`);
      const statements = (role?.Properties.AssumeRolePolicyDocument as { Statement: PolicyStatement[] })
        ?.Statement as (PolicyStatement & { Principal: { AWS: unknown } })[];
      expect(statements.map((statement) => [statement.Effect, statement.Action])).toEqual(
        statements.map(() => ['Allow', 'sts:AssumeRole']),
      );
      expect(statements.flatMap((statement) => [statement.Principal.AWS].flat())).toEqual([
        { 'Fn::Join': ['', ['arn:', { Ref: 'AWS::Partition' }, ':iam::210987654321:root']] },
        'arn:aws:iam::123456789012:role/site-hosts',
      ]);
      // The ARN API Gateway proves for a session of this role names the site and the worker.
      expect(
        workerOfCallerArn(
          `arn:aws:sts::123456789012:assumed-role/${role?.Properties.RoleName}/w-1`,
          'staging',
        ),
      ).toEqual({ site: lane.site, workerId: 'w-1' });
    }
    expect(variablesOf(logicalId(stack.workers?.ingest as never))[RUNTIME_ENV.workerClockSkewSeconds]).toBe(
      '90',
    );
    expect(variablesOf(logicalId(stack.api.handler))[RUNTIME_ENV.workerClockSkewSeconds]).toBe('90');
  });

  it('outputs each site’s lane URL, host policy and role ARNs, and the worker events DLQ URL', () => {
    const outputs = template.toJSON().Outputs as Record<string, { Value: unknown }>;
    for (const lane of stack.workers?.siteLanes ?? []) {
      const suffix = workerSiteOutputId(lane.site);
      expect(outputs[`WorkerTaskQueueUrl${suffix}`]?.Value).toEqual({ Ref: logicalId(lane.queue) });
      expect(outputs[`WorkerHostPolicyArn${suffix}`]?.Value).toEqual({ Ref: logicalId(lane.hostPolicy) });
      expect(outputs[`WorkerHostRoleArn${suffix}`]?.Value).toEqual({
        'Fn::GetAtt': [logicalId(lane.hostRole), 'Arn'],
      });
    }
    expect(Object.keys(outputs)).toEqual(
      expect.arrayContaining([
        'WorkerTaskQueueUrlLab',
        'WorkerTaskQueueUrlEastDc',
        'WorkerHostPolicyArnEastDc',
      ]),
    );
    expect(outputs.WorkerEventDeadLetterQueueUrl?.Value).toEqual({
      Ref: logicalId(stack.workers?.deadLetterQueue as never),
    });
  });
});

describe('An environment without worker sites', () => {
  it('has no worker infrastructure; the API and the delegating lane worker get delegation off and no lanes', () => {
    const stack = new RunlaneStack(testApp(), 'Runlane-prod', {
      environmentName: 'prod',
      config: environmentConfig({ workers: { heartbeatStaleMultiple: 5, stuckTaskMinutes: 30 } }),
      env: { region: TEST_REGION },
    });
    const template = Template.fromStack(stack);
    expect(stack.workers).toBeUndefined();
    const text = JSON.stringify(template.toJSON());
    expect(text).not.toContain('worker-tasks');
    expect(text).not.toContain('worker-events');
    expect(text).not.toContain('worker-sweep');
    // …nor worker rows or worker alarms in the runbook table.
    expect(text).not.toContain('worker-operations.md');
    expect(text).not.toContain('Worker task lanes');
    expect(
      stack.alarms.alarms.filter((a) => (WORKER_ALARM_KINDS as readonly string[]).includes(a.kind)),
    ).toEqual([]);
    const functions = template.findResources('AWS::Lambda::Function') as Resources;
    const configured = Object.entries(functions).filter(
      ([, fn]) =>
        (fn.Properties.Environment as { Variables: Record<string, unknown> }).Variables[
          WORKER_RUNTIME_ENV.delegationEnabled
        ] !== undefined,
    );
    expect(configured.map(([id]) => id).sort()).toEqual(
      [logicalId(stack.api.handler), logicalId(stack.lanes[1]?.worker as never)].sort(),
    );
    for (const [, fn] of configured) {
      expect((fn.Properties.Environment as { Variables: Record<string, unknown> }).Variables).toMatchObject({
        WORKER_DELEGATION_ENABLED: 'false',
        WORKER_HEARTBEAT_STALE_MULTIPLE: '5',
        WORKER_STUCK_TASK_MINUTES: '30',
        WORKER_RESULT_DEADLINE_SECONDS: '3600',
        WORKER_TASK_QUEUE_URLS: '{}',
      });
    }
  });
});

describe('workers configuration', () => {
  it('defaults to no sites, delegation off, 3 missed heartbeats, 15 min, 5 receives, 900 s', () => {
    expect(parseRunlaneConfig(rawConfig()).environments.prod.workers).toEqual({
      sites: [],
      delegationEnabled: false,
      heartbeatStaleMultiple: 3,
      stuckTaskMinutes: 15,
      resultDeadlineSeconds: 3600,
      maxReceiveCount: 5,
      visibilityTimeoutSeconds: 900,
      clockSkewSeconds: 300,
      hostRoleTrust: [],
    });
  });

  it('gives dev one site in the repository cdk.json, staging and prod none', () => {
    const cdkJson = JSON.parse(readFileSync(new URL('../../cdk.json', import.meta.url), 'utf8'));
    const config = parseRunlaneConfig(cdkJson.context.runlane);
    expect(config.environments.dev.workers.sites).toEqual(['lab']);
    expect(config.environments.dev.workers.delegationEnabled).toBe(false);
    expect(config.environments.staging.workers.sites).toEqual([]);
    expect(config.environments.prod.workers.sites).toEqual([]);
  });

  it('names the field path of every bad workers setting', () => {
    const error = configError(
      rawConfig({
        dev: {
          workers: {
            sites: ['lab', 'Bad_Site', 'lab', 'x'.repeat(33)],
            heartbeatStaleMultiple: 0,
            stuckTaskMinutes: 2.5,
            resultDeadlineSeconds: 60,
            maxReceiveCount: 0,
            visibilityTimeoutSeconds: 10,
            clockSkewSeconds: 0,
            hostRoleTrust: ['123456789012', 'arn:aws:iam::123456789012:group/ops', 'root'],
          },
        },
        staging: { workers: { delegationEnabled: true, queues: 2 } },
      }),
    );
    expect([...new Set(error.issues.map((issue) => issue.fieldPath))].sort()).toEqual([
      'environments.dev.workers.clockSkewSeconds',
      'environments.dev.workers.heartbeatStaleMultiple',
      'environments.dev.workers.hostRoleTrust.1',
      'environments.dev.workers.hostRoleTrust.2',
      'environments.dev.workers.maxReceiveCount',
      'environments.dev.workers.resultDeadlineSeconds',
      'environments.dev.workers.sites.1',
      'environments.dev.workers.sites.3',
      'environments.dev.workers.stuckTaskMinutes',
      'environments.dev.workers.visibilityTimeoutSeconds',
      'environments.staging.workers',
      'environments.staging.workers.delegationEnabled',
    ]);
    expect(error.message).toContain('environments.dev.workers.sites.1: must be 1-32 of a-z, 0-9, "-"');
    expect(error.message).toContain(
      'environments.dev.workers.resultDeadlineSeconds: must be at least 300 seconds (a task may wait that long to start)',
    );
    expect(error.message).toMatch(/environments\.staging\.workers: .*queues/);
    expect(error.message).toContain(
      'environments.dev.workers.hostRoleTrust.1: must be a 12-digit account id or an IAM role or user ARN',
    );

    // Refinements run once the fields themselves are valid.
    const refined = configError(
      rawConfig({
        dev: { workers: { sites: ['lab', 'lab'] } },
        staging: { workers: { delegationEnabled: true } },
        prod: { workers: { sites: ['a-b', 'a--b'] } },
      }),
    );
    expect(refined.issues.map((issue) => issue.fieldPath).sort()).toEqual([
      'environments.dev.workers.sites.1',
      'environments.prod.workers.sites.1',
      'environments.staging.workers.delegationEnabled',
    ]);
    expect(refined.message).toContain('environments.dev.workers.sites.1: site "lab" is repeated');
    expect(refined.message).toContain(
      'environments.staging.workers.delegationEnabled: cannot be true without a site',
    );
    expect(refined.message).toContain('share the stack output suffix AB');
  });

  it('names the field path of every bad worker alarm setting', () => {
    const error = configError(
      rawConfig({
        dev: {
          alarms: {
            workers: {
              offlineWorkers: { sustainMinutes: 12 },
              stuckTasks: { threshold: -1, sustainMinutes: 2 },
              taskDlq: { sustainMinutes: 0 },
              queueNotDraining: { oldestMessageAgeSeconds: 30 },
            },
          },
        },
        prod: { alarms: { workers: { heartbeats: {} } } },
      }),
    );
    expect([...new Set(error.issues.map((issue) => issue.fieldPath))].sort()).toEqual([
      'environments.dev.alarms.workers.offlineWorkers.sustainMinutes',
      'environments.dev.alarms.workers.queueNotDraining.oldestMessageAgeSeconds',
      'environments.dev.alarms.workers.stuckTasks.sustainMinutes',
      'environments.dev.alarms.workers.stuckTasks.threshold',
      'environments.dev.alarms.workers.taskDlq.sustainMinutes',
      'environments.prod.alarms.workers',
    ]);
    expect(error.message).toContain(
      'environments.dev.alarms.workers.offlineWorkers.sustainMinutes: must be a whole number of sweeps (a multiple of 5 minutes), got 12',
    );
  });

  it('checks the worker alarm thresholds in the construct too, listing every problem', () => {
    const message = thrownMessage(
      () =>
        new RunlaneStack(testApp(), 'Bad', {
          environmentName: 'dev',
          config: {
            ...environmentConfig({ workers: { sites: ['lab'] } }),
            alarms: {
              ...environmentConfig().alarms,
              workers: {
                offlineWorkers: { threshold: 0, sustainMinutes: 7 },
                stuckTasks: { threshold: 0.5, sustainMinutes: 10 },
                taskDlq: { sustainMinutes: 0 },
                queueNotDraining: { oldestMessageAgeSeconds: 10, sustainMinutes: 5 },
              },
            },
          },
          env: { region: TEST_REGION },
        }),
    );
    expect(message).toContain('Invalid RunlaneAlarms props');
    for (const expected of [
      'thresholds.workers.offlineWorkers.sustainMinutes: must be a multiple of the sweep interval (5) from 5 to 1440, got 7',
      'thresholds.workers.stuckTasks.threshold: must be an integer of at least 0, got 0.5',
      'thresholds.workers.taskDlq.sustainMinutes: must be an integer from 1 to 1440, got 0',
      'thresholds.workers.queueNotDraining.oldestMessageAgeSeconds: must be an integer from 60 to 1209600, got 10',
    ]) {
      expect(message).toContain(expected);
    }
  });

  it('makes stack output suffixes from site slugs', () => {
    expect(workerSiteOutputId('lab')).toBe('Lab');
    expect(workerSiteOutputId('east-dc-2')).toBe('EastDc2');
  });
});
