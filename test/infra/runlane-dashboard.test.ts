import { Duration } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import { beforeAll, describe, expect, it } from 'vitest';
import { STALL_ROOT_CAUSES } from '#contracts/agent-events.js';
import { LANES } from '#contracts/lanes.js';
import {
  DEAD_LETTER_REASONS,
  emittedMetrics,
  METRICS,
  METRICS_NAMESPACE,
  searchedDimensionSets,
} from '#contracts/metrics.js';
import { RunlaneDashboard } from '#lib/observability/runlane-dashboard.js';
import { RunlaneStack } from '#lib/runlane-stack.js';
import {
  type DashboardBody,
  type DashboardWidget,
  metricKey,
  parseDashboardBody,
  queriedExpressions,
  queriedMetrics,
  searchedSchemas,
} from '../support/dashboard-body.js';
import { environmentConfig, TEST_REGION, testApp, thrownMessage } from './support.js';

describe('RunlaneDashboard in an environment', () => {
  let stack: RunlaneStack;
  let body: DashboardBody;
  const titled = (prefix: string): DashboardWidget[] =>
    body.widgets.filter((w) => w.properties.title?.startsWith(prefix));

  beforeAll(() => {
    stack = new RunlaneStack(testApp(), 'Runlane-prod', {
      environmentName: 'prod',
      config: environmentConfig({
        alarms: {
          oldestMessageAgeSeconds: 1200,
          endToEndLatencyP95Seconds: 30,
          needsReviewGrowth: 3,
          runnerStalls: { fastBurn: { ratePerSecond: 0.25, windowMinutes: 2, sustainMinutes: 10 } },
          supervisor: {
            dashboardDisconnected: { threshold: 1, windowMinutes: 10, sustainMinutes: 30 },
            silentHosts: { staleMinutes: 20, sustainMinutes: 10 },
          },
        },
      }),
      env: { region: TEST_REGION },
    });
    const template = Template.fromStack(stack);
    const dashboards = Object.values(template.findResources('AWS::CloudWatch::Dashboard'));
    expect(dashboards).toHaveLength(1);
    expect(dashboards[0]?.Properties.DashboardName).toBe('runlane-prod');
    body = parseDashboardBody(dashboards[0]?.Properties.DashboardBody);
  });

  it('queries exactly the Runlane metrics the handlers emit: same names, dimension sets and values', () => {
    const onDashboard = new Set(
      body.widgets
        .flatMap(queriedMetrics)
        .filter((m) => m.namespace === METRICS_NAMESPACE)
        .map(metricKey),
    );
    const emitted = new Set(emittedMetrics('prod').map(metricKey));
    expect([...onDashboard].sort()).toEqual([...emitted].sort());
  });

  it('searches exactly the agent metrics’ dimension sets whose values only agents know, each with its statistic', () => {
    const searched = body.widgets.flatMap(searchedSchemas);
    expect(searched.length).toBeGreaterThan(0);
    const statisticOf = new Map(Object.values(METRICS).map((m) => [m.name as string, m.statistic as string]));
    for (const schema of searched) {
      expect(schema).toMatchObject({
        namespace: METRICS_NAMESPACE,
        terms: expect.objectContaining({ Environment: 'prod' }),
      });
      expect(schema.statistic).toBe(statisticOf.get(schema.terms.MetricName ?? ''));
    }
    const onDashboard = new Set(
      searched.map((schema) => `${schema.terms.MetricName}:${schema.dimensions.join()}`),
    );
    const declared = new Set(
      searchedDimensionSets().map((set) => `${set.name}:${[...set.dimensions].sort().join()}`),
    );
    expect([...onDashboard].sort()).toEqual([...declared].sort());
  });

  it('has a supervisor row: reports by host, silent hosts, disconnected and quarantined with their alarm thresholds, exits by kind and host, quarantines', () => {
    const row = titled('Supervisor');
    expect(row.map((w) => w.properties.title)).toEqual([
      'Supervisor health reports by host / 5 min',
      'Supervisor silent hosts (no report for > 20 min)',
      'Supervisor dashboard_link disconnected reports / 10 min',
      'Supervisor quarantined children (max / 5 min)',
      'Supervisor child exits by TaskExit kind / 5 min',
      'Supervisor child exits by host / 5 min',
      'Supervisor child quarantines by host / 5 min',
    ]);
    expect(new Set(row.map((w) => w.y)).size).toBe(1);
    expect(row.reduce((sum, w) => sum + w.width, 0)).toBe(24);
    const [reports, silent, disconnected, quarantined, exitsByKind] = row as DashboardWidget[];
    // The scheduled check's count, the alarm's threshold, and the check's own runs and errors.
    expect(queriedMetrics(silent as DashboardWidget)).toEqual([
      {
        namespace: 'Runlane',
        name: 'SupervisorSilentHosts',
        dimensions: { Environment: 'prod' },
        stat: 'Maximum',
      },
      expect.objectContaining({
        namespace: 'AWS/Lambda',
        name: 'Invocations',
        dimensions: { FunctionName: expect.stringMatching(/^\{Ref:SupervisorSilentHostsFunction/) },
      }),
      expect.objectContaining({
        namespace: 'AWS/Lambda',
        name: 'Errors',
        dimensions: { FunctionName: expect.stringMatching(/^\{Ref:SupervisorSilentHostsFunction/) },
      }),
    ]);
    expect(silent?.properties.annotations?.horizontal?.[0]).toMatchObject({
      value: 0,
      label: 'SupervisorSilentHosts (> 0 for 10 min)',
    });
    expect(searchedSchemas(reports as DashboardWidget)).toEqual([
      expect.objectContaining({ dimensions: ['Environment', 'Host'], statistic: 'Sum' }),
    ]);
    // The alarm's own metric (environment total, its window) and its threshold, then by host.
    expect(queriedMetrics(disconnected as DashboardWidget)).toEqual([
      {
        namespace: 'Runlane',
        name: 'SupervisorDisconnectedReports',
        dimensions: { Environment: 'prod' },
        stat: 'Sum',
      },
    ]);
    expect(disconnected?.properties.annotations?.horizontal?.[0]).toMatchObject({
      value: 1,
      label: 'SupervisorDashboardDisconnected',
    });
    expect(searchedSchemas(disconnected as DashboardWidget)[0]?.periodSeconds).toBe(600);
    expect(queriedMetrics(quarantined as DashboardWidget)).toEqual([
      {
        namespace: 'Runlane',
        name: 'SupervisorQuarantinedChildren',
        dimensions: { Environment: 'prod' },
        stat: 'Maximum',
      },
    ]);
    expect(quarantined?.properties.annotations?.horizontal?.[0]).toMatchObject({
      value: 0,
      label: 'SupervisorChildrenQuarantined',
    });
    expect(searchedSchemas(exitsByKind as DashboardWidget)).toEqual([
      expect.objectContaining({ dimensions: ['Environment', 'ExitKind'], statistic: 'Sum' }),
    ]);
  });

  it('has a runner stall row: the all-hosts rate with the fast burn threshold, then by root cause, host and command type', () => {
    const row = titled('Runner stall rate');
    const total = titled('Runner stalls / s, all hosts')[0] as DashboardWidget;
    expect([total, ...row].map((w) => w.properties.title)).toEqual([
      'Runner stalls / s, all hosts (2 min)',
      'Runner stall rate by root cause',
      'Runner stall rate by host',
      'Runner stall rate by command type (× root cause)',
    ]);
    expect(new Set([total, ...row].map((w) => w.y)).size).toBe(1);
    expect([total, ...row].reduce((sum, w) => sum + w.width, 0)).toBe(24);

    // The burn alarm's own expression over the configured fast window, with its threshold.
    expect(queriedExpressions(total)).toEqual(['stalls / PERIOD(stalls)']);
    expect(queriedMetrics(total)).toEqual([
      { namespace: 'Runlane', name: 'RunnerStalls', dimensions: { Environment: 'prod' }, stat: 'Sum' },
    ]);
    expect(total.properties.annotations?.horizontal?.[0]).toMatchObject({
      value: 0.25,
      label: 'RunnerStallFastBurn',
    });

    const [byRootCause, byHost, byCommandType] = row;
    // One summed search per root cause the agent classifies, as a per-second rate over the window.
    const rootCauseSearches = searchedSchemas(byRootCause as DashboardWidget);
    expect(rootCauseSearches.map((search) => search.terms.RootCause)).toEqual([...STALL_ROOT_CAUSES]);
    for (const search of rootCauseSearches) {
      expect(search.dimensions).toEqual(['CommandType', 'Environment', 'RootCause']);
      expect(search.periodSeconds).toBe(120);
    }
    for (const expression of queriedExpressions(byRootCause as DashboardWidget)) {
      expect(expression).toMatch(/^SUM\(SEARCH\(.*\)\) \/ 120$/);
    }
    expect(searchedSchemas(byHost as DashboardWidget).map((s) => s.dimensions)).toEqual([
      ['Environment', 'Host'],
    ]);
    expect(queriedExpressions(byHost as DashboardWidget)[0]).toMatch(/^SEARCH\(.*, 'Sum', 120\) \/ 120$/);
    expect(searchedSchemas(byCommandType as DashboardWidget).map((s) => s.dimensions)).toEqual([
      ['CommandType', 'Environment', 'RootCause'],
    ]);
  });

  it('has a runner alarm row: both burn alarms against their thresholds and the runner event DLQ', () => {
    const [fast, slow] = [titled('RunnerStallFastBurn')[0], titled('RunnerStallSlowBurn')[0]];
    const dlq = titled('Runner event DLQ depth')[0];
    expect(fast?.properties.title).toBe('RunnerStallFastBurn (critical)');
    expect(slow?.properties.title).toBe('RunnerStallSlowBurn (warning)');
    const alarmsOf = (w: DashboardWidget | undefined) =>
      (w?.properties as { annotations?: { alarms?: string[] } } | undefined)?.annotations?.alarms;
    expect(alarmsOf(fast)).toEqual([expect.stringMatching(/^\{GetAtt:AlarmsRunnerStallFastBurn\w+\.Arn\}$/)]);
    expect(alarmsOf(slow)).toEqual([expect.stringMatching(/^\{GetAtt:AlarmsRunnerStallSlowBurn\w+\.Arn\}$/)]);
    expect(queriedMetrics(dlq as DashboardWidget)).toEqual([
      expect.objectContaining({
        namespace: 'AWS/SQS',
        name: 'ApproximateNumberOfMessagesVisible',
        dimensions: { QueueName: expect.stringMatching(/^\{GetAtt:RunnerEventsDeadLetterQueue/) },
      }),
    ]);
    const row = [fast, slow, dlq];
    expect(new Set(row.map((w) => w?.y)).size).toBe(1);
    expect(row.reduce((sum, w) => sum + (w?.width ?? 0), 0)).toBe(24);
    // Below the stall row.
    expect(fast?.y).toBeGreaterThan(titled('Runner stall rate by host')[0]?.y ?? Number.POSITIVE_INFINITY);
  });

  it('opens with the alarm → runbook table and a status widget of every alarm', () => {
    const [header, status] = body.widgets;
    expect(header?.type).toBe('text');
    expect(header?.properties.markdown).toContain(
      'runbooks/agentic-worker.md#queue-retry-and-dead-letter-workflow',
    );
    expect(status?.type).toBe('alarm');
    expect(status?.y).toBe(header?.y);
    expect(status?.properties.alarms).toHaveLength(stack.alarms.alarms.length);
    expect(new Set(status?.properties.alarms).size).toBe(stack.alarms.alarms.length);
    for (const arn of status?.properties.alarms ?? []) expect(arn).toMatch(/^\{GetAtt:Alarms\w+\.Arn\}$/);
  });

  it('gives each lane one row: depth, oldest age, DLQ, throughput, outcomes, latency', () => {
    const rows = LANES.map((lane) => titled(`${lane.name}:`));
    for (const [index, row] of rows.entries()) {
      const lane = LANES[index];
      expect(row.map((w) => w.properties.title?.split(': ')[1])).toEqual([
        'depth',
        'oldest message age (s)',
        'DLQ depth',
        'throughput / 5 min',
        'outcomes / 5 min',
        'latency (ms)',
      ]);
      expect(new Set(row.map((w) => w.y)).size).toBe(1);
      expect(row.reduce((total, w) => total + w.width, 0)).toBe(24);
      const [depth, age, dlq, , outcomes, latency] = row;
      expect(queriedMetrics(depth as DashboardWidget).map((m) => m.name)).toEqual([
        'ApproximateNumberOfMessagesVisible',
        'ApproximateNumberOfMessagesNotVisible',
      ]);
      expect(age?.properties.annotations?.horizontal?.[0]?.value).toBe(1200);
      expect(queriedMetrics(dlq as DashboardWidget)[0]?.dimensions.QueueName).toMatch(
        new RegExp(`^\\{GetAtt:${lane?.id}DeadLetterQueue`),
      );
      expect(outcomes?.properties.stacked).toBe(true);
      expect(latency?.properties.annotations?.horizontal?.[0]?.value).toBe(30_000);
    }
    // Rows follow LANES, top to bottom.
    const ys = rows.map((row) => row[0]?.y ?? -1);
    expect([...ys].sort((a, b) => a - b)).toEqual(ys);
  });

  it('has a lifecycle row: NeedsReview flow, the backlog expression, dead letters by reason, telemetry failures', () => {
    const growth = titled('NeedsReview backlog growth')[0];
    expect(queriedExpressions(growth as DashboardWidget)).toEqual([
      '(FILL(entered0, 0) + FILL(entered1, 0) + FILL(entered2, 0)) - (FILL(resolved0, 0) + FILL(resolved1, 0) + FILL(resolved2, 0))',
    ]);
    expect(growth?.properties.annotations?.horizontal?.[0]?.value).toBe(3);
    const reasons = titled('Dead letters by reason')[0];
    expect(queriedMetrics(reasons as DashboardWidget).map((m) => m.dimensions.Reason)).toHaveLength(
      LANES.length * DEAD_LETTER_REASONS.length,
    );
    expect(DEAD_LETTER_REASONS).toContain('attempt_abandoned');
    const row = [titled('NeedsReview entered')[0], growth, reasons, titled('Telemetry publish failures')[0]];
    expect(new Set(row.map((w) => w?.y)).size).toBe(1);
  });

  it('has an API row: requests, 4xx, 5xx and latency of the HTTP API', () => {
    const row = titled('API ');
    expect(row.map((w) => w.properties.title)).toEqual([
      'API requests / 5 min',
      'API 4xx / 5 min',
      'API 5xx / 5 min',
      'API latency (ms)',
    ]);
    expect(new Set(row.map((w) => w.y)).size).toBe(1);
    const metrics = row.flatMap(queriedMetrics);
    expect(metrics.map((m) => [m.namespace, m.name])).toEqual([
      ['AWS/ApiGateway', 'Count'],
      ['AWS/ApiGateway', '4xx'],
      ['AWS/ApiGateway', '5xx'],
      ['AWS/ApiGateway', 'Latency'],
      ['AWS/ApiGateway', 'Latency'],
      ['AWS/ApiGateway', 'IntegrationLatency'],
    ]);
    for (const metric of metrics)
      expect(metric.dimensions).toEqual({ ApiId: expect.stringMatching(/^\{Ref:ApiHttpApi/) });
  });

  it('checks its props up front', () => {
    const message = thrownMessage(
      () =>
        new RunlaneDashboard(stack, 'Bad', {
          environmentName: 'prod',
          lanes: [],
          api: stack.api,
          alarms: stack.alarms,
          runnerEvents: stack.runnerEvents,
          silentHostsCheck: stack.supervisorSilentHosts,
          dashboardName: 'no spaces allowed',
          defaultInterval: Duration.seconds(10),
        }),
    );
    expect(message).toContain('Invalid RunlaneDashboard props');
    expect(message).toContain('dashboardName: "no spaces allowed"');
    expect(message).toContain('lanes: at least one lane is required');
    expect(message).toContain('defaultInterval: must be at least 1 minute');
  });
});
