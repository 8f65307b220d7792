import { randomUUID } from 'node:crypto';
import { ReceiveMessageCommand } from '@aws-sdk/client-sqs';
import { Template } from 'aws-cdk-lib/assertions';
import type {
  APIGatewayProxyEventV2,
  Context,
  EventBridgeEvent,
  ScheduledEvent,
  SQSEvent,
  SQSRecord,
} from 'aws-lambda';
import { afterAll, beforeAll, describe, expect, inject, it, type MockInstance, vi } from 'vitest';
import type { LaneName } from '#contracts/lanes.js';
import {
  METRICS,
  METRICS_NAMESPACE,
  type MetricDefinition,
  type MetricKey,
  metricDimensionSets,
  searchedDimensionSets,
} from '#contracts/metrics.js';
import type { RunnerEventIngestResult } from '#core/runner/event-ingest.js';
import { RunlaneStack } from '#lib/runlane-stack.js';
import { localSqsClient } from '#local/emulators/clients.js';
import { type LocalEventBus, startLocalEventBus } from '#local/emulators/event-bus.js';
import { toSqsRecord } from '#local/emulators/sqs-event.js';
import type { LaneQueues } from '#local/stack/provision.js';
import { environmentConfig, TEST_REGION, testApp } from '../infra/support.js';
import { metricKey, parseDashboardBody, queriedMetrics, searchedSchemas } from '../support/dashboard-body.js';
import { aLambdaContext, anEnvelope, anSqsRecord } from '../support/factories.js';
import { prepareDeployedHandlerEnvironment } from '../support/handler-environment.js';
import {
  aBusEvent,
  aRunSummaryEvent,
  aStallEvent,
  busEventOf,
} from '../support/runner-event-ingest-fixtures.js';
import {
  aChildEvent,
  aHealthEvent,
  childBusEvent,
  healthBusEvent,
} from '../support/supervisor-event-fixtures.js';

/**
 * The deployed entry points (module-scope setup, middy, Powertools Metrics)
 * on the emulators, with stdout captured: the EMF lines they print are what
 * CloudWatch turns into metrics. They must carry the names, units and
 * dimension sets of `METRICS`, and be exactly the metrics the synthesized
 * dashboard of the same environment queries.
 */
const ENVIRONMENT = 'dev';
const LANE = 'runtime-agent-message-posted' as const;
const MAX_RECEIVE_COUNT = 3;

interface EmfLine {
  readonly _aws: {
    readonly Timestamp: number;
    readonly CloudWatchMetrics: readonly {
      readonly Namespace: string;
      readonly Dimensions: readonly (readonly string[])[];
      readonly Metrics: readonly { readonly Name: string; readonly Unit: string }[];
    }[];
  };
  readonly [key: string]: unknown;
}

/** One metric value set as CloudWatch extracts it from an EMF line. */
interface Extracted {
  readonly name: string;
  readonly unit: string;
  readonly dimensions: Readonly<Record<string, string>>;
  readonly values: readonly number[];
}

/** What CloudWatch extracts: every metric of the line under each of its dimension sets. */
function extract(line: EmfLine): Extracted[] {
  const [directive] = line._aws.CloudWatchMetrics;
  if (!directive) throw new Error('EMF line without a metric directive');
  expect(directive.Namespace).toBe(METRICS_NAMESPACE);
  expect(directive.Dimensions.length).toBeGreaterThanOrEqual(1);
  return directive.Dimensions.flatMap((dimensionNames) => {
    const dimensions = Object.fromEntries(dimensionNames.map((name) => [name, String(line[name])]));
    return directive.Metrics.map((metric) => {
      const raw = line[metric.Name];
      const values = Array.isArray(raw) ? raw : [raw];
      for (const value of values) expect(typeof value).toBe('number');
      return { name: metric.Name, unit: metric.Unit, dimensions, values: values as number[] };
    });
  });
}

describe('EMF printed by the deployed handlers', () => {
  let stdout: MockInstance<typeof process.stdout.write>;
  let printed: string[] = [];
  let bus: LocalEventBus;
  let queues: Record<LaneName, LaneQueues>;
  let workerHandler: (event: SQSEvent, context: Context) => Promise<{ batchItemFailures: unknown[] }>;
  let apiHandler: (event: APIGatewayProxyEventV2, context: Context) => Promise<{ statusCode?: number }>;
  let ingestHandler: (
    event: EventBridgeEvent<string, unknown>,
    context: Context,
  ) => Promise<RunnerEventIngestResult>;
  let silentHostsHandler: (event: ScheduledEvent, context: Context) => Promise<unknown>;
  let workerSweepHandler: (event: ScheduledEvent, context: Context) => Promise<unknown>;
  const sqs = localSqsClient(inject('sqsEndpoint'));
  const emitted: Extracted[] = [];

  /** Runs `action` and returns the EMF lines printed meanwhile, parsed. */
  async function emfOf(action: () => Promise<unknown>): Promise<EmfLine[]> {
    printed = [];
    await action();
    const lines = printed
      .flatMap((chunk) => chunk.split('\n'))
      .filter((line) => line.includes('"_aws"'))
      .map((line) => JSON.parse(line) as EmfLine);
    emitted.push(...lines.flatMap(extract));
    return lines;
  }

  beforeAll(async () => {
    bus = await startLocalEventBus();
    ({ queues } = await prepareDeployedHandlerEnvironment({
      prefix: 'emf',
      environment: ENVIRONMENT,
      lane: LANE,
      maxReceiveCount: MAX_RECEIVE_COUNT,
      busEndpoint: bus.endpoint,
      busName: 'runlane-dev-telemetry',
    }));
    // Powertools writes EMF with its own Console on process.stdout: capture what reaches the stream.
    stdout = vi.spyOn(process.stdout, 'write').mockImplementation((chunk: string | Uint8Array) => {
      printed.push(typeof chunk === 'string' ? chunk : Buffer.from(chunk).toString('utf8'));
      return true;
    });
    workerHandler = (await import('#handlers/lane-worker.js')).handler as never;
    apiHandler = (await import('#handlers/api.js')).handler as never;
    ingestHandler = (await import('#handlers/runner-event-ingest.js')).handler as never;
    silentHostsHandler = (await import('#handlers/supervisor-silent-hosts.js')).handler as never;
    workerSweepHandler = (await import('#handlers/worker-sweep.js')).handler as never;
  });
  afterAll(async () => {
    stdout?.mockRestore();
    await bus?.stop();
  });

  let accepted: SQSRecord;

  it('API: one CommandsAccepted line per enqueued command, with Environment and the command’s Lane', async () => {
    const lines = await emfOf(async () => {
      const response = await apiHandler(
        httpPost('/api/v1/agent/conversations/c-emf/messages', { householdId: 'h1', text: 'hello' }),
        aLambdaContext(),
      );
      expect(response.statusCode).toBe(202);
    });
    expect(lines).toHaveLength(1);
    expect(lines[0]?._aws.CloudWatchMetrics[0]?.Dimensions).toEqual([['Environment', 'Lane']]);
    expect(lines[0]).toMatchObject({ Environment: ENVIRONMENT, Lane: LANE, CommandsAccepted: 1 });
    expect(lines[0]).not.toHaveProperty('service');

    // A client error enqueues nothing and prints no metric at all.
    expect(
      await emfOf(() => apiHandler(httpPost('/api/v1/agent/conversations/c/messages', {}), aLambdaContext())),
    ).toEqual([]);

    const received = await sqs.send(
      new ReceiveMessageCommand({
        QueueUrl: queues[LANE].queueUrl,
        MaxNumberOfMessages: 1,
        MessageSystemAttributeNames: ['All'],
        MessageAttributeNames: ['All'],
        WaitTimeSeconds: 1,
      }),
    );
    const message = received.Messages?.[0];
    if (!message) throw new Error('the accepted command was not on the lane queue');
    accepted = toSqsRecord(message, { queueArn: queues[LANE].queueArn });
  });

  it('worker: outcome counts, duration and latency in one line per batch; each dead-letter reason in its own line', async () => {
    const unsupported = (receiveCount: number) =>
      anSqsRecord(JSON.stringify(anEnvelope({ commandType: 'ingestion.completed', payload: {} })), {
        receiveCount,
      });
    const batch = [
      accepted, // completes
      anSqsRecord(
        JSON.stringify(
          anEnvelope({
            commandType: 'agent.approval.decided',
            payload: { approvalId: 'apr-0000000000000000000000ef', decision: 'approve', decidedBy: 'ops' },
          }),
        ),
      ), // NeedsReview: unknown approval
      anSqsRecord('not json'), // dead letter: invalid_json
      unsupported(MAX_RECEIVE_COUNT), // final attempt: dead letter unsupported_command_type
      unsupported(1), // fails, returns to the queue
    ];
    let failures: unknown[] = [];
    const lines = await emfOf(async () => {
      failures = (await workerHandler({ Records: batch }, aLambdaContext())).batchItemFailures;
    });
    expect(failures).toHaveLength(1);

    const byReason = lines.filter((line) => 'Reason' in line);
    expect(
      byReason.map((line) => [
        line.Reason,
        line.CommandsDeadLettered,
        line._aws.CloudWatchMetrics[0]?.Dimensions,
      ]),
    ).toEqual([
      ['invalid_json', 1, [['Environment', 'Lane', 'Reason']]],
      ['unsupported_command_type', 1, [['Environment', 'Lane', 'Reason']]],
    ]);
    for (const line of byReason)
      expect(line._aws.CloudWatchMetrics[0]?.Metrics.map((m) => m.Name)).toEqual(['CommandsDeadLettered']);

    const buffered = lines.filter((line) => !('Reason' in line));
    expect(buffered).toHaveLength(1);
    const [line] = buffered;
    expect(line?._aws.CloudWatchMetrics[0]?.Dimensions).toEqual([['Environment', 'Lane']]);
    expect(line).toMatchObject({
      Environment: ENVIRONMENT,
      Lane: LANE,
      CommandsCompleted: 1,
      CommandsNeedsReview: 1,
      CommandsRetried: 1,
      DuplicatesSkipped: 0,
      NeedsReviewEntered: 3,
      NeedsReviewResolved: 0,
      TelemetryPublishFailures: 0,
    });
    expect(line).not.toHaveProperty('service');
    // Handler ran for the completed, the decision and both unsupported attempts; poison never reached it.
    expect(line?.HandlerDuration).toHaveLength(4);
    // Terminal states with an issuedAt: completed, NeedsReview decision, the final dead letter.
    const latencies = line?.EndToEndLatency as number[];
    expect(latencies).toHaveLength(3);
    for (const latency of latencies) {
      expect(latency).toBeGreaterThanOrEqual(0);
      expect(latency).toBeLessThan(60_000);
    }
  });

  it('worker: a duplicate and a failed telemetry publish are counted, with no duration or latency', async () => {
    bus.failRequests(true);
    let lines: EmfLine[];
    try {
      lines = await emfOf(() =>
        workerHandler({ Records: [{ ...accepted, messageId: randomUUID() }] }, aLambdaContext()),
      );
    } finally {
      bus.failRequests(false);
    }
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatchObject({
      DuplicatesSkipped: 1,
      CommandsCompleted: 0,
      TelemetryPublishFailures: 1,
    });
    expect(lines[0]).not.toHaveProperty('HandlerDuration');
    expect(lines[0]).not.toHaveProperty('EndToEndLatency');
  });

  it('runner event ingest: one line per stored stall, under its three dimension sets, at the stall’s ts', async () => {
    const ts = new Date(Date.now() - 7 * 60_000);
    const stall = aStallEvent({
      environment: ENVIRONMENT,
      ts: ts.toISOString(),
      rootCause: 'cpu_starve',
      commandType: 'reindex',
      host: 'runner-12',
    });
    const lines = await emfOf(async () => {
      await expect(ingestHandler(busEventOf(stall), aLambdaContext())).resolves.toMatchObject({
        outcome: 'stored',
      });
    });
    expect(lines).toHaveLength(1);
    const [line] = lines;
    expect(line?._aws.CloudWatchMetrics).toEqual([
      {
        Namespace: METRICS_NAMESPACE,
        Dimensions: [['Environment'], ['Environment', 'RootCause', 'CommandType'], ['Environment', 'Host']],
        Metrics: [{ Name: 'RunnerStalls', Unit: 'Count' }],
      },
    ]);
    expect(line?._aws.Timestamp).toBe(ts.getTime());
    expect(line).toMatchObject({
      Environment: ENVIRONMENT,
      RootCause: 'cpu_starve',
      CommandType: 'reindex',
      Host: 'runner-12',
      RunnerStalls: 1,
    });
    expect(line).not.toHaveProperty('service');

    // A resend, a run summary and a poison event print no metric at all.
    expect(
      await emfOf(async () => {
        await expect(ingestHandler(busEventOf({ ...stall }), aLambdaContext())).resolves.toMatchObject({
          outcome: 'duplicate',
        });
        await ingestHandler(busEventOf(aRunSummaryEvent({ environment: ENVIRONMENT })), aLambdaContext());
        await ingestHandler(aBusEvent({ nonsense: true }), aLambdaContext());
      }),
    ).toEqual([]);
  });

  it('runner event ingest: supervisor health and child events, each metric at the event’s ts under its dimension sets', async () => {
    const ts = new Date(Date.now() - 4 * 60_000);
    const health = aHealthEvent({
      environment: ENVIRONMENT,
      ts: ts.toISOString(),
      host: 'sup-7',
      dashboardLink: 'disconnected',
      children: { running: 1, failed: 1, quarantined: 2, targetCount: 3 },
    });
    const healthLines = await emfOf(async () => {
      await expect(ingestHandler(healthBusEvent(health), aLambdaContext())).resolves.toMatchObject({
        outcome: 'stored',
      });
    });
    expect(healthLines.map((line) => line._aws.CloudWatchMetrics)).toEqual(
      [
        ['SupervisorHealthReports', 'Count'],
        ['SupervisorDisconnectedReports', 'Count'],
        ['SupervisorQuarantinedChildren', 'Count'],
      ].map(([name, unit]) => [
        {
          Namespace: METRICS_NAMESPACE,
          Dimensions: [['Environment'], ['Environment', 'Host']],
          Metrics: [{ Name: name, Unit: unit }],
        },
      ]),
    );
    for (const line of healthLines) {
      expect(line._aws.Timestamp).toBe(ts.getTime());
      expect(line).toMatchObject({ Environment: ENVIRONMENT, Host: 'sup-7' });
      expect(line).not.toHaveProperty('service');
    }
    expect(healthLines.map((line) => ({ ...line, _aws: undefined }))).toMatchObject([
      { SupervisorHealthReports: 1 },
      { SupervisorDisconnectedReports: 1 },
      { SupervisorQuarantinedChildren: 2 },
    ]);

    const exit = aChildEvent({
      environment: ENVIRONMENT,
      ts: ts.toISOString(),
      host: 'sup-7',
      exit: { kind: 'Panicked' },
    });
    const quarantine = aChildEvent({
      environment: ENVIRONMENT,
      host: 'sup-7',
      event: 'quarantined',
      tokensLeft: 0,
    });
    const childLines = await emfOf(async () => {
      await ingestHandler(childBusEvent(exit), aLambdaContext());
      await ingestHandler(childBusEvent(quarantine), aLambdaContext());
    });
    expect(childLines.map((line) => line._aws.CloudWatchMetrics[0]?.Dimensions)).toEqual([
      [['Environment'], ['Environment', 'ExitKind'], ['Environment', 'Host']],
      [['Environment'], ['Environment', 'Host']],
    ]);
    expect(childLines[0]).toMatchObject({ ExitKind: 'Panicked', Host: 'sup-7', SupervisorChildExits: 1 });
    expect(childLines[0]?._aws.Timestamp).toBe(ts.getTime());
    expect(childLines[1]).toMatchObject({ Host: 'sup-7', SupervisorChildQuarantines: 1 });

    // A resend of the latest report and of a child event print nothing.
    expect(
      await emfOf(async () => {
        await ingestHandler(healthBusEvent({ ...health }), aLambdaContext());
        await ingestHandler(childBusEvent({ ...exit }), aLambdaContext());
      }),
    ).toEqual([]);
  });

  it('supervisor silent-host check: one [Environment] line per run, the silent count (0 here: the hosts above just reported)', async () => {
    const lines = await emfOf(() =>
      silentHostsHandler(
        { 'detail-type': 'Scheduled Event', source: 'aws.events' } as ScheduledEvent,
        aLambdaContext(),
      ),
    );
    expect(lines).toHaveLength(1);
    expect(lines[0]?._aws.CloudWatchMetrics).toEqual([
      {
        Namespace: METRICS_NAMESPACE,
        Dimensions: [['Environment']],
        Metrics: [{ Name: 'SupervisorSilentHosts', Unit: 'Count' }],
      },
    ]);
    expect(lines[0]).toMatchObject({ Environment: ENVIRONMENT, SupervisorSilentHosts: 0 });
    expect(lines[0]).not.toHaveProperty('service');
  });

  it('worker sweep: one [Environment] line per run with its four metrics, 0 included (no worker here)', async () => {
    const lines = await emfOf(() =>
      workerSweepHandler(
        { 'detail-type': 'Scheduled Event', source: 'aws.events' } as ScheduledEvent,
        aLambdaContext(),
      ),
    );
    expect(lines).toHaveLength(1);
    expect(lines[0]?._aws.CloudWatchMetrics[0]?.Dimensions).toEqual([['Environment']]);
    expect(lines[0]).toMatchObject({
      Environment: ENVIRONMENT,
      WorkersOnline: 0,
      WorkersOffline: 0,
      WorkerTasksStuckExecuting: 0,
      WorkerOfflineBacklog: 0,
    });
    expect(lines[0]).not.toHaveProperty('service');
  });

  it('emits only metrics defined in METRICS, with their units, and only ones the dashboard of the environment queries', () => {
    const definitions = new Map<string, MetricDefinition>(Object.values(METRICS).map((d) => [d.name, d]));
    const keyOf = new Map<string, MetricKey>(
      (Object.keys(METRICS) as MetricKey[]).map((key) => [METRICS[key].name, key]),
    );
    for (const metric of emitted) {
      const definition = definitions.get(metric.name);
      expect(definition, metric.name).toBeDefined();
      expect(metric.unit).toBe(definition?.unit);
      expect(metricDimensionSets(keyOf.get(metric.name) as MetricKey)).toContainEqual(
        Object.keys(metric.dimensions),
      );
    }
    // These runs print every defined metric (NeedsReviewResolved as a 0: nothing recovered here).
    expect(new Set(emitted.map((m) => m.name))).toEqual(new Set([...definitions.keys()]));

    const stack = new RunlaneStack(testApp(), 'Runlane-dev', {
      environmentName: ENVIRONMENT,
      // A worker site, as dev has in cdk.json: the worker sweep and its dashboard rows exist.
      config: environmentConfig({ workers: { sites: ['lab'] } }),
      env: { region: TEST_REGION },
    });
    const [dashboard] = Object.values(Template.fromStack(stack).findResources('AWS::CloudWatch::Dashboard'));
    const onDashboard = new Set(
      parseDashboardBody(dashboard?.Properties.DashboardBody)
        .widgets.flatMap(queriedMetrics)
        .filter((m) => m.namespace === METRICS_NAMESPACE)
        .map(metricKey),
    );
    // Sets whose values only agents know (host, command type) are on the dashboard as SEARCH over their schema.
    const searched = searchedDimensionSets();
    const isSearched = (metric: Extracted) =>
      searched.some(
        (set) =>
          set.name === metric.name &&
          [...set.dimensions].sort().join() === Object.keys(metric.dimensions).sort().join(),
      );
    const notOnDashboard = [...new Set(emitted.filter((m) => !isSearched(m)).map(metricKey))].filter(
      (key) => !onDashboard.has(key),
    );
    expect(notOnDashboard).toEqual([]);
    const schemas = parseDashboardBody(dashboard?.Properties.DashboardBody).widgets.flatMap(searchedSchemas);
    for (const metric of emitted.filter(isSearched)) {
      expect(
        schemas.some(
          (schema) =>
            schema.namespace === METRICS_NAMESPACE &&
            schema.terms.MetricName === metric.name &&
            schema.terms.Environment === metric.dimensions.Environment &&
            schema.dimensions.join() === Object.keys(metric.dimensions).sort().join(),
        ),
        metricKey(metric),
      ).toBe(true);
    }
  });
});

function httpPost(rawPath: string, body: unknown): APIGatewayProxyEventV2 {
  return {
    version: '2.0',
    routeKey: `POST ${rawPath}`,
    rawPath,
    rawQueryString: '',
    headers: { 'content-type': 'application/json', host: 'api.local' },
    requestContext: {
      accountId: '000000000000',
      apiId: 'local',
      domainName: 'api.local',
      domainPrefix: 'api',
      http: { method: 'POST', path: rawPath, protocol: 'HTTP/1.1', sourceIp: '127.0.0.1', userAgent: 'test' },
      requestId: randomUUID(),
      routeKey: `POST ${rawPath}`,
      stage: '$default',
      time: new Date().toUTCString(),
      timeEpoch: Date.now(),
      // A household member as API Gateway's JWT authorizer passes it on (payload 2.0).
      authorizer: {
        jwt: {
          claims: {
            iss: 'https://auth.runlane.local/',
            sub: 'member@h1',
            'custom:household': 'h1',
            'custom:runlane_role': 'member',
          },
          scopes: null,
        },
      },
    } as APIGatewayProxyEventV2['requestContext'],
    body: JSON.stringify(body),
    isBase64Encoded: false,
  };
}
