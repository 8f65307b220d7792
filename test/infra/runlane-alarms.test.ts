import { Stack } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import { beforeAll, describe, expect, it } from 'vitest';
import { LANES } from '#contracts/lanes.js';
import { parseRunlaneConfig } from '#lib/config/environment-config.js';
import {
  ALARM_CATALOG,
  type AlarmKind,
  type AlarmKindName,
  headingAnchor,
  runbookLink,
  WORKER_ALARM_KINDS,
} from '#lib/observability/alarm-catalog.js';
import { RunlaneStack } from '#lib/runlane-stack.js';
import { configError, environmentConfig, rawConfig, TEST_REGION, testApp, thrownMessage } from './support.js';

interface CfnAlarm {
  readonly Properties: {
    readonly AlarmName: string;
    readonly AlarmDescription: string;
    readonly Namespace?: string;
    readonly MetricName?: string;
    readonly Dimensions?: readonly { Name: string; Value: unknown }[];
    readonly Statistic?: string;
    readonly ExtendedStatistic?: string;
    readonly Period?: number;
    readonly Metrics?: readonly {
      Id: string;
      Expression?: string;
      Period?: number;
      ReturnData?: boolean;
      MetricStat?: {
        Metric: { Namespace: string; MetricName: string; Dimensions: { Name: string; Value: unknown }[] };
        Period: number;
        Stat: string;
      };
    }[];
    readonly EvaluationPeriods: number;
    readonly DatapointsToAlarm: number;
    readonly Threshold: number;
    readonly ComparisonOperator: string;
    readonly TreatMissingData: string;
    readonly AlarmActions: readonly { Ref: string }[];
    readonly OKActions: readonly { Ref: string }[];
  };
}

const THRESHOLDS = {
  oldestMessageAgeSeconds: 600,
  workerErrors: 2,
  workerThrottles: 7,
  needsReviewGrowth: 4,
  needsReviewWindowMinutes: 30,
  endToEndLatencyP95Seconds: 45,
  runnerStalls: {
    fastBurn: { ratePerSecond: 0.3, windowMinutes: 3, sustainMinutes: 15 },
    slowBurn: { ratePerSecond: 0.04, windowMinutes: 30 },
  },
  supervisor: {
    dashboardDisconnected: { threshold: 2, windowMinutes: 10, sustainMinutes: 30 },
    childrenQuarantined: { windowMinutes: 15 },
    silentHosts: { staleMinutes: 20, sustainMinutes: 25 },
  },
};

describe('RunlaneAlarms in an environment', () => {
  let template: Template;
  let alarms: Record<string, CfnAlarm>;
  let topicIds: { critical: string; warning: string };

  beforeAll(() => {
    const stack = new RunlaneStack(testApp(), 'Runlane-staging', {
      environmentName: 'staging',
      config: environmentConfig({ alarms: THRESHOLDS }),
      env: { region: TEST_REGION },
    });
    template = Template.fromStack(stack);
    alarms = Object.fromEntries(
      Object.values(template.findResources('AWS::CloudWatch::Alarm') as Record<string, CfnAlarm>).map(
        (alarm) => [alarm.Properties.AlarmName, alarm],
      ),
    );
    topicIds = {
      critical: Stack.of(stack).getLogicalId(stack.alarmTopics.critical.node.defaultChild as never),
      warning: Stack.of(stack).getLogicalId(stack.alarmTopics.warning.node.defaultChild as never),
    };
  });

  function alarm(name: string): CfnAlarm['Properties'] {
    const found = alarms[name];
    if (!found) throw new Error(`no alarm ${name}; have ${Object.keys(alarms).join(', ')}`);
    return found.Properties;
  }

  function expectActions(props: CfnAlarm['Properties'], kind: AlarmKindName): void {
    const topic = topicIds[ALARM_CATALOG[kind].severity];
    expect(props.AlarmActions).toEqual([{ Ref: topic }]);
    expect(props.OKActions).toEqual([{ Ref: topic }]);
    expect(props.TreatMissingData).toBe((ALARM_CATALOG[kind] as AlarmKind).missingData ?? 'notBreaching');
    expect(props.AlarmDescription).toContain(`Runbook: ${runbookLink(kind)}`);
  }

  it('creates five alarms per lane and seven for the environment, and nothing else (no worker sites here)', () => {
    const kinds = Object.entries(ALARM_CATALOG)
      .filter(([kind]) => !(WORKER_ALARM_KINDS as readonly string[]).includes(kind))
      .map(([, entry]) => entry as AlarmKind);
    const perLane = kinds.filter((k) => k.scope === 'lane').length;
    const environmentWide = kinds.filter((k) => k.scope === 'environment').length;
    expect(perLane).toBe(5);
    expect(environmentWide).toBe(7);
    expect(kinds.filter((k) => k.scope === 'site')).toEqual([]);
    expect(Object.keys(alarms)).toHaveLength(LANES.length * perLane + environmentWide);
    expect(Object.keys(alarms).every((name) => name.startsWith('runlane-staging-'))).toBe(true);
  });

  for (const lane of LANES) {
    describe(`lane ${lane.name}`, () => {
      it('alarms (critical) when its DLQ holds any message', () => {
        const props = alarm(`runlane-staging-${lane.name}-dlq-messages`);
        expect(props).toMatchObject({
          Namespace: 'AWS/SQS',
          MetricName: 'ApproximateNumberOfMessagesVisible',
          Dimensions: [
            {
              Name: 'QueueName',
              Value: {
                'Fn::GetAtt': [expect.stringMatching(new RegExp(`^${lane.id}DeadLetterQueue`)), 'QueueName'],
              },
            },
          ],
          Statistic: 'Maximum',
          Period: 60,
          EvaluationPeriods: 1,
          DatapointsToAlarm: 1,
          Threshold: 0,
          ComparisonOperator: 'GreaterThanThreshold',
        });
        expectActions(props, 'deadLetterQueueMessages');
      });

      it('alarms (critical) when its oldest message stays older than the configured age', () => {
        const props = alarm(`runlane-staging-${lane.name}-oldest-message-age`);
        expect(props).toMatchObject({
          Namespace: 'AWS/SQS',
          MetricName: 'ApproximateAgeOfOldestMessage',
          Dimensions: [
            {
              Name: 'QueueName',
              Value: { 'Fn::GetAtt': [expect.stringMatching(new RegExp(`^${lane.id}Queue`)), 'QueueName'] },
            },
          ],
          Statistic: 'Maximum',
          Period: 60,
          EvaluationPeriods: 3,
          DatapointsToAlarm: 3,
          Threshold: 600,
          ComparisonOperator: 'GreaterThanThreshold',
        });
        expectActions(props, 'oldestMessageAge');
      });

      it('alarms on worker Errors (critical) and Throttles (warning) per 5 minutes', () => {
        for (const [suffix, metricName, threshold, kind] of [
          ['worker-errors', 'Errors', 2, 'workerErrors'],
          ['worker-throttles', 'Throttles', 7, 'workerThrottles'],
        ] as const) {
          const props = alarm(`runlane-staging-${lane.name}-${suffix}`);
          expect(props).toMatchObject({
            Namespace: 'AWS/Lambda',
            MetricName: metricName,
            Dimensions: [
              {
                Name: 'FunctionName',
                Value: { Ref: expect.stringMatching(new RegExp(`^${lane.id}Worker`)) },
              },
            ],
            Statistic: 'Sum',
            Period: 300,
            EvaluationPeriods: 1,
            DatapointsToAlarm: 1,
            Threshold: threshold,
            ComparisonOperator: 'GreaterThanOrEqualToThreshold',
          });
          expectActions(props, kind);
        }
      });

      it('alarms (warning) when end-to-end latency p95 stays above the threshold', () => {
        const props = alarm(`runlane-staging-${lane.name}-latency-p95`);
        expect(props).toMatchObject({
          Namespace: 'Runlane',
          MetricName: 'EndToEndLatency',
          Dimensions: [
            { Name: 'Environment', Value: 'staging' },
            { Name: 'Lane', Value: lane.name },
          ],
          ExtendedStatistic: 'p95',
          Period: 300,
          EvaluationPeriods: 3,
          DatapointsToAlarm: 3,
          Threshold: 45_000,
          ComparisonOperator: 'GreaterThanThreshold',
        });
        expect(props.Statistic).toBeUndefined();
        expectActions(props, 'endToEndLatency');
      });
    });
  }

  it('alarms (warning) when the review queue grows: Σ entered − Σ resolved over the configured window', () => {
    const props = alarm('runlane-staging-needsreview-backlog');
    expect(props).toMatchObject({
      EvaluationPeriods: 1,
      DatapointsToAlarm: 1,
      Threshold: 4,
      ComparisonOperator: 'GreaterThanOrEqualToThreshold',
    });
    expect(props.MetricName).toBeUndefined();
    const queries = props.Metrics ?? [];
    const expression = queries.find((q) => q.Expression !== undefined);
    const indexes = LANES.map((_, i) => i);
    expect(expression).toMatchObject({
      Expression: `(${indexes.map((i) => `FILL(entered${i}, 0)`).join(' + ')}) - (${indexes.map((i) => `FILL(resolved${i}, 0)`).join(' + ')})`,
    });
    // The expression's period is its inputs' period: one window.
    expect(expression?.ReturnData ?? true).toBe(true);
    const inputs = queries.filter((q) => q.MetricStat);
    expect(inputs).toHaveLength(LANES.length * 2);
    for (const [i, lane] of LANES.entries()) {
      for (const [id, metricName] of [
        [`entered${i}`, 'NeedsReviewEntered'],
        [`resolved${i}`, 'NeedsReviewResolved'],
      ]) {
        expect(inputs.find((q) => q.Id === id)).toMatchObject({
          ReturnData: false,
          MetricStat: {
            Metric: {
              Namespace: 'Runlane',
              MetricName: metricName,
              Dimensions: [
                { Name: 'Environment', Value: 'staging' },
                { Name: 'Lane', Value: lane.name },
              ],
            },
            Period: 1800,
            Stat: 'Sum',
          },
        });
      }
    }
    expectActions(props, 'needsReviewBacklog');
  });

  /** The stall rate expression of a burn alarm and its one input, checked in full. */
  function expectStallRate(props: CfnAlarm['Properties'], periodSeconds: number): void {
    expect(props.MetricName).toBeUndefined();
    expect(props.Metrics).toEqual([
      {
        Id: 'expr_1',
        Expression: 'stalls / PERIOD(stalls)',
        Label: expect.stringContaining('Runner stalls / s'),
        // The expression's period is its input's: one window.
        ReturnData: true,
      },
      {
        Id: 'stalls',
        MetricStat: {
          Metric: {
            Namespace: 'Runlane',
            MetricName: 'RunnerStalls',
            Dimensions: [{ Name: 'Environment', Value: 'staging' }],
          },
          Period: periodSeconds,
          Stat: 'Sum',
        },
        ReturnData: false,
      },
    ]);
  }

  it('RunnerStallFastBurn (critical): stalls/s of all hosts over the configured window, every window of the sustain', () => {
    const props = alarm('runlane-staging-RunnerStallFastBurn');
    // From config: 0.3/s over 3 min, sustained 15 min = 5 windows.
    expect(props).toMatchObject({
      Threshold: 0.3,
      ComparisonOperator: 'GreaterThanThreshold',
      EvaluationPeriods: 5,
      DatapointsToAlarm: 5,
    });
    expectStallRate(props, 180);
    expectActions(props, 'runnerStallFastBurn');
    expect(props.AlarmDescription).toContain('above 0.3/s over 3 min, sustained 15 min');
  });

  it('RunnerStallSlowBurn (warning): the slow burn settings, defaults filling what the config leaves out', () => {
    const props = alarm('runlane-staging-RunnerStallSlowBurn');
    // From config: 0.04/s over 30 min; sustain left at its default 120 min = 4 windows.
    expect(props).toMatchObject({
      Threshold: 0.04,
      ComparisonOperator: 'GreaterThanThreshold',
      EvaluationPeriods: 4,
      DatapointsToAlarm: 4,
    });
    expectStallRate(props, 1800);
    expectActions(props, 'runnerStallSlowBurn');
  });

  function expectSupervisorMetric(
    props: CfnAlarm['Properties'],
    metricName: string,
    statistic: string,
    periodSeconds: number,
  ): void {
    // The environment total: no host names needed when the stack is synthesized.
    expect(props).toMatchObject({
      Namespace: 'Runlane',
      MetricName: metricName,
      Dimensions: [{ Name: 'Environment', Value: 'staging' }],
      Statistic: statistic,
      Period: periodSeconds,
      ComparisonOperator: 'GreaterThanThreshold',
    });
    expect(props.Metrics).toBeUndefined();
  }

  it('SupervisorDashboardDisconnected (warning): disconnected reports of all hosts above the threshold in every window of the sustain', () => {
    const props = alarm('runlane-staging-SupervisorDashboardDisconnected');
    // From config: > 2 per 10 min, sustained 30 min = 3 windows.
    expectSupervisorMetric(props, 'SupervisorDisconnectedReports', 'Sum', 600);
    expect(props).toMatchObject({ Threshold: 2, EvaluationPeriods: 3, DatapointsToAlarm: 3 });
    expectActions(props, 'supervisorDashboardDisconnected');
    expect(props.AlarmDescription).toContain('runbooks/supervisor.md#p1-003-dashboard-ipc-disconnected');
    expect(props.AlarmDescription).toContain('above 2 in every 10-min window for 30 min');
  });

  it('SupervisorChildrenQuarantined (warning): quarantined children Maximum above 0, defaults filling the rest', () => {
    const props = alarm('runlane-staging-SupervisorChildrenQuarantined');
    // From config: 15-min windows; threshold 0 and sustain 30 min (2 windows) are defaults.
    expectSupervisorMetric(props, 'SupervisorQuarantinedChildren', 'Maximum', 900);
    expect(props).toMatchObject({ Threshold: 0, EvaluationPeriods: 2, DatapointsToAlarm: 2 });
    expectActions(props, 'supervisorChildrenQuarantined');
    expect(props.AlarmDescription).toContain('runbooks/supervisor.md#p1-002-child-task-crash-loop');
  });

  it('SupervisorSilentHosts (warning): the check’s silent count above 0 in every 5-min check of the configured sustain; no data breaches', () => {
    const props = alarm('runlane-staging-SupervisorSilentHosts');
    // From config: sustained 25 min = 5 checks of 5 minutes; staleMinutes 20 is the check's, named in the description.
    expectSupervisorMetric(props, 'SupervisorSilentHosts', 'Maximum', 300);
    expect(props).toMatchObject({
      Threshold: 0,
      EvaluationPeriods: 5,
      DatapointsToAlarm: 5,
      // The check emits every period, 0 included: no data means it stopped, which must not look healthy.
      TreatMissingData: 'breaching',
    });
    expectActions(props, 'supervisorSilentHosts');
    expect(props.AlarmDescription).toContain('runbooks/supervisor.md#p1-003-dashboard-ipc-disconnected');
    expect(props.AlarmDescription).toContain('no SupervisorHealth report for more than 20 min');
    expect(props.AlarmDescription).toContain('in every 5-min check for 25 min');
    expect(props.AlarmDescription).toContain('Severity warning');
    expect(props.AlarmDescription.length).toBeLessThanOrEqual(1024);
  });

  it('alarms (warning) when the runner event ingest DLQ holds any event', () => {
    const props = alarm('runlane-staging-runner-events-dlq-messages');
    expect(props).toMatchObject({
      Namespace: 'AWS/SQS',
      MetricName: 'ApproximateNumberOfMessagesVisible',
      Dimensions: [
        {
          Name: 'QueueName',
          Value: { 'Fn::GetAtt': [expect.stringMatching(/^RunnerEventsDeadLetterQueue/), 'QueueName'] },
        },
      ],
      Statistic: 'Maximum',
      Period: 60,
      EvaluationPeriods: 1,
      DatapointsToAlarm: 1,
      Threshold: 0,
      ComparisonOperator: 'GreaterThanThreshold',
    });
    expectActions(props, 'runnerEventDeadLetters');
  });
});

describe('runner stall burn alarms with the default configuration (seed 002)', () => {
  let alarms: Record<string, CfnAlarm['Properties']>;

  beforeAll(() => {
    const stack = new RunlaneStack(testApp(), 'Runlane-prod', {
      environmentName: 'prod',
      config: environmentConfig(),
      env: { region: TEST_REGION },
    });
    alarms = Object.fromEntries(
      Object.values(
        Template.fromStack(stack).findResources('AWS::CloudWatch::Alarm') as Record<string, CfnAlarm>,
      ).map((entry) => [entry.Properties.AlarmName, entry.Properties]),
    );
  });

  it('fast burn: above 0.2/s over 5 min, sustained 10 min (2 of 2 × 300 s), critical', () => {
    expect(alarms['runlane-prod-RunnerStallFastBurn']).toMatchObject({
      Threshold: 0.2,
      EvaluationPeriods: 2,
      DatapointsToAlarm: 2,
      TreatMissingData: 'notBreaching',
      Metrics: [
        { Expression: 'stalls / PERIOD(stalls)' },
        { Id: 'stalls', MetricStat: { Period: 300, Stat: 'Sum' } },
      ],
    });
    expect(alarms['runlane-prod-RunnerStallFastBurn']?.AlarmDescription).toContain('Severity critical');
  });

  it('slow burn: above 0.05/s over 1 h, sustained 2 h (2 of 2 × 3600 s), warning', () => {
    expect(alarms['runlane-prod-RunnerStallSlowBurn']).toMatchObject({
      Threshold: 0.05,
      EvaluationPeriods: 2,
      DatapointsToAlarm: 2,
      TreatMissingData: 'notBreaching',
      Metrics: [
        { Expression: 'stalls / PERIOD(stalls)' },
        { Id: 'stalls', MetricStat: { Period: 3600, Stat: 'Sum' } },
      ],
    });
    expect(alarms['runlane-prod-RunnerStallSlowBurn']?.AlarmDescription).toContain(
      'Runbook: runbooks/runner-watchdog.md#incident-response-checklist',
    );
  });
});

describe('alarm catalog', () => {
  it('links every alarm kind to a runbook section anchor', () => {
    expect(runbookLink('deadLetterQueueMessages')).toBe(
      'runbooks/agentic-worker.md#queue-retry-and-dead-letter-workflow',
    );
    expect(runbookLink('runnerStallFastBurn')).toBe(
      'runbooks/runner-watchdog.md#incident-response-checklist',
    );
    expect(runbookLink('supervisorDashboardDisconnected')).toBe(
      'runbooks/supervisor.md#p1-003-dashboard-ipc-disconnected',
    );
    expect(runbookLink('supervisorChildrenQuarantined')).toBe(
      'runbooks/supervisor.md#p1-002-child-task-crash-loop',
    );
    expect(runbookLink('supervisorSilentHosts')).toBe(
      'runbooks/supervisor.md#p1-003-dashboard-ipc-disconnected',
    );
    expect(runbookLink('runnerEventDeadLetters')).toBe(
      'runbooks/runner-watchdog.md#runner-event-dead-letters',
    );
    for (const kind of Object.keys(ALARM_CATALOG) as AlarmKindName[]) {
      expect(runbookLink(kind)).toMatch(/^runbooks\/[a-z-]+\.md#[a-z0-9_-]+$/);
    }
    expect(headingAnchor('Replay Drill (After Fix)')).toBe('replay-drill-after-fix');
    expect(headingAnchor('NeedsReview Backlog')).toBe('needsreview-backlog');
  });
});

describe('alarm configuration', () => {
  it('defaults every threshold and subscribes nobody', () => {
    const config = parseRunlaneConfig(rawConfig()).environments.prod;
    expect(config.alarms).toEqual({
      criticalEmails: [],
      warningEmails: [],
      oldestMessageAgeSeconds: 900,
      workerErrors: 1,
      workerThrottles: 5,
      needsReviewGrowth: 10,
      needsReviewWindowMinutes: 60,
      endToEndLatencyP95Seconds: 60,
      runnerStalls: {
        fastBurn: { ratePerSecond: 0.2, windowMinutes: 5, sustainMinutes: 10 },
        slowBurn: { ratePerSecond: 0.05, windowMinutes: 60, sustainMinutes: 120 },
      },
      supervisor: {
        dashboardDisconnected: { threshold: 0, windowMinutes: 5, sustainMinutes: 15 },
        childrenQuarantined: { threshold: 0, windowMinutes: 5, sustainMinutes: 30 },
        silentHosts: { staleMinutes: 15, sustainMinutes: 15 },
      },
      workers: {
        offlineWorkers: { threshold: 0, sustainMinutes: 15 },
        stuckTasks: { threshold: 0, sustainMinutes: 10 },
        taskDlq: { sustainMinutes: 1 },
        queueNotDraining: { oldestMessageAgeSeconds: 900, sustainMinutes: 5 },
      },
    });
  });

  it('names the field path of every bad silent-host setting', () => {
    const error = configError(
      rawConfig({
        dev: { alarms: { supervisor: { silentHosts: { staleMinutes: 0, sustainMinutes: 12 } } } },
        staging: { alarms: { supervisor: { silentHosts: { staleMinutes: 2.5, sustainMinutes: 1445 } } } },
        prod: { alarms: { supervisor: { silentHosts: { windowMinutes: 5 } } } },
      }),
    );
    expect(error.issues.map((issue) => issue.fieldPath).sort()).toEqual([
      'environments.dev.alarms.supervisor.silentHosts.staleMinutes',
      'environments.dev.alarms.supervisor.silentHosts.sustainMinutes',
      'environments.prod.alarms.supervisor.silentHosts',
      'environments.staging.alarms.supervisor.silentHosts.staleMinutes',
      'environments.staging.alarms.supervisor.silentHosts.sustainMinutes',
    ]);
    expect(error.message).toContain(
      'environments.dev.alarms.supervisor.silentHosts.sustainMinutes: must be a whole number of check periods (a multiple of 5 minutes), got 12',
    );
    expect(error.message).toMatch(/environments\.prod\.alarms\.supervisor\.silentHosts: .*windowMinutes/);
  });

  it('names the field path of every bad supervisor alarm setting', () => {
    const error = configError(
      rawConfig({
        dev: {
          alarms: {
            supervisor: {
              dashboardDisconnected: { threshold: -1, windowMinutes: 10, sustainMinutes: 25 },
              childrenQuarantined: { windowMinutes: 2.5, sustainMinutes: 2000 },
            },
          },
        },
        prod: { alarms: { supervisor: { heartbeatMissing: {} } } },
      }),
    );
    expect(error.issues.map((issue) => issue.fieldPath).sort()).toEqual([
      'environments.dev.alarms.supervisor.childrenQuarantined.sustainMinutes',
      'environments.dev.alarms.supervisor.childrenQuarantined.windowMinutes',
      'environments.dev.alarms.supervisor.dashboardDisconnected.sustainMinutes',
      'environments.dev.alarms.supervisor.dashboardDisconnected.threshold',
      'environments.prod.alarms.supervisor',
    ]);
    expect(error.message).toContain(
      'environments.dev.alarms.supervisor.dashboardDisconnected.sustainMinutes: must be a whole number of windows (a multiple of windowMinutes = 10), got 25',
    );
  });

  it('names the field path of every bad runner stall burn setting', () => {
    const error = configError(
      rawConfig({
        staging: {
          alarms: {
            runnerStalls: {
              fastBurn: { ratePerSecond: 0, windowMinutes: 5, sustainMinutes: 12 },
              slowBurn: { windowMinutes: 1.5, pages: true },
            },
          },
        },
        prod: { alarms: { runnerStalls: { mediumBurn: {} } } },
      }),
    );
    expect(error.issues.map((issue) => issue.fieldPath).sort()).toEqual([
      'environments.prod.alarms.runnerStalls',
      'environments.staging.alarms.runnerStalls.fastBurn.ratePerSecond',
      'environments.staging.alarms.runnerStalls.fastBurn.sustainMinutes',
      'environments.staging.alarms.runnerStalls.slowBurn',
      'environments.staging.alarms.runnerStalls.slowBurn.windowMinutes',
    ]);
    expect(error.message).toContain(
      'environments.staging.alarms.runnerStalls.fastBurn.sustainMinutes: must be a whole number of windows (a multiple of windowMinutes = 5), got 12',
    );
  });

  it('names the field path of every bad alarm setting', () => {
    const error = configError(
      rawConfig({
        prod: {
          alarms: {
            oldestMessageAgeSeconds: 10,
            criticalEmails: ['oncall@example.com', 'not-an-address'],
            needsReviewWindowMinutes: 2000,
            endToEndLatencyP95Seconds: 0,
            pagerDuty: true,
          },
        },
        dev: { alarms: { workerErrors: 0.5 } },
      }),
    );
    expect(error.issues.map((issue) => issue.fieldPath).sort()).toEqual([
      'environments.dev.alarms.workerErrors',
      'environments.prod.alarms',
      'environments.prod.alarms.criticalEmails.1',
      'environments.prod.alarms.endToEndLatencyP95Seconds',
      'environments.prod.alarms.needsReviewWindowMinutes',
      'environments.prod.alarms.oldestMessageAgeSeconds',
    ]);
    expect(error.message).toContain('environments.prod.alarms.oldestMessageAgeSeconds:');
    expect(error.message).toMatch(/environments\.prod\.alarms: .*pagerDuty/);
  });

  it('checks construct thresholds up front, listing every problem', () => {
    const message = thrownMessage(
      () =>
        new RunlaneStack(testApp(), 'Bad', {
          environmentName: 'dev',
          config: {
            ...environmentConfig(),
            alarms: {
              ...environmentConfig().alarms,
              oldestMessageAgeSeconds: 5,
              needsReviewWindowMinutes: 0,
              endToEndLatencyP95Seconds: -1,
              runnerStalls: {
                fastBurn: { ratePerSecond: 0.2, windowMinutes: 4, sustainMinutes: 10 },
                slowBurn: { ratePerSecond: 0, windowMinutes: 60, sustainMinutes: 120 },
              },
              supervisor: {
                dashboardDisconnected: { threshold: 1.5, windowMinutes: 5, sustainMinutes: 15 },
                childrenQuarantined: { threshold: 0, windowMinutes: 7, sustainMinutes: 30 },
                // (A bad staleMinutes stops the stack earlier, at SupervisorSilentHostsCheck.)
                silentHosts: { staleMinutes: 15, sustainMinutes: 12 },
              },
            },
          },
          env: { region: TEST_REGION },
        }),
    );
    expect(message).toContain('Invalid RunlaneAlarms props');
    expect(message).toContain(
      'thresholds.oldestMessageAgeSeconds: must be an integer from 60 to 1209600, got 5',
    );
    expect(message).toContain('thresholds.needsReviewWindowMinutes');
    expect(message).toContain('thresholds.endToEndLatencyP95Seconds');
    expect(message).toContain(
      'thresholds.runnerStalls.fastBurn.sustainMinutes: must be a multiple of windowMinutes (4), got 10',
    );
    expect(message).toContain('thresholds.runnerStalls.slowBurn.ratePerSecond: must be above 0, got 0');
    expect(message).toContain(
      'thresholds.supervisor.dashboardDisconnected.threshold: must be an integer of at least 0, got 1.5',
    );
    expect(message).toContain(
      'thresholds.supervisor.childrenQuarantined.sustainMinutes: must be a multiple of windowMinutes (7), got 30',
    );
    expect(message).toContain(
      'thresholds.supervisor.silentHosts.sustainMinutes: must be a multiple of the check interval (5) from 5 to 1440, got 12',
    );
  });
});
