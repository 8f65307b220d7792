import { randomUUID } from 'node:crypto';
import type { Context, ScheduledEvent } from 'aws-lambda';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { createDocumentClient } from '../../functions/adapters/clients.js';
import { DynamoDbSupervisorEventStore } from '../../functions/adapters/dynamodb-supervisor-event-store.js';
import { METRICS_NAMESPACE } from '../../functions/core/metrics.js';
import type { SupervisorSilentHostsHandlerResult } from '../../functions/handlers/supervisor-silent-hosts.js';
import { localDynamoDbClient } from '../../local/clients.js';
import { type LocalEventBus, startLocalEventBus } from '../../local/event-bus.js';
import { aLambdaContext } from '../support/factories.js';
import { prepareDeployedHandlerEnvironment } from '../support/handler-environment.js';
import {
  aScheduledEvent,
  captureHandlerOutput,
  emfLines,
  type HandlerOutput,
  type PrintedLine,
  warnLines,
} from '../support/handler-output.js';
import { aHealthEvent } from '../support/supervisor-event-fixtures.js';

/**
 * `functions/handlers/supervisor-silent-hosts.ts` exactly as deployed: settings
 * read from the environment at load (`SUPERVISOR_STALE_MINUTES` = 15), the SDK
 * pointed at DynamoDB Local, middy + Powertools, invoked with the event the
 * `rate(5 minutes)` rule sends. Its output is captured: the EMF line is what
 * CloudWatch turns into `SupervisorSilentHosts`, the warnings what Logs keeps.
 */
const ENVIRONMENT = 'e2e-silent';
const MINUTE = 60_000;

describe('supervisor silent-host check handler as deployed, on DynamoDB Local', () => {
  let bus: LocalEventBus;
  let store: DynamoDbSupervisorEventStore;
  let handler: (event: ScheduledEvent, context: Context) => Promise<SupervisorSilentHostsHandlerResult>;
  let output: HandlerOutput | undefined;

  /** Runs the handler once; its result and the JSON lines it printed. */
  async function run(): Promise<{ result: SupervisorSilentHostsHandlerResult; lines: PrintedLine[] }> {
    output?.take(); // only this run's lines
    const result = await handler(
      aScheduledEvent(`runlane-${ENVIRONMENT}-supervisor-silent-hosts`),
      aLambdaContext(),
    );
    return { result, lines: output?.take() ?? [] };
  }

  const emf = emfLines;
  const warnings = warnLines;

  beforeAll(async () => {
    bus = await startLocalEventBus();
    const prepared = await prepareDeployedHandlerEnvironment({
      prefix: 'ssh',
      environment: ENVIRONMENT,
      lane: 'runtime-agent-message-posted',
      maxReceiveCount: 3,
      busEndpoint: bus.endpoint,
      busName: 'runlane-e2e-telemetry',
    });
    // The silent-host warnings are the point here; the helper keeps only errors.
    process.env.POWERTOOLS_LOG_LEVEL = 'WARN';
    store = new DynamoDbSupervisorEventStore({
      client: createDocumentClient(localDynamoDbClient(inject('dynamoEndpoint'))),
      tableName: prepared.tableName,
    });
    output = captureHandlerOutput();
    handler = (await import('../../functions/handlers/supervisor-silent-hosts.js')).handler as never;
  });
  afterAll(async () => {
    output?.restore();
    await bus?.stop();
  });

  it('publishes SupervisorSilentHosts 0 when no supervisor has reported, so the alarm has data', async () => {
    const before = Date.now();
    const { result, lines } = await run();

    expect(result).toEqual({
      environment: ENVIRONMENT,
      staleMinutes: 15,
      hosts: 0,
      reporting: 0,
      silent: 0,
      stopped: 0,
    });
    const [line, ...more] = emf(lines);
    expect(more).toEqual([]);
    expect(line?._aws?.CloudWatchMetrics).toEqual([
      {
        Namespace: METRICS_NAMESPACE,
        Dimensions: [['Environment']],
        Metrics: [{ Name: 'SupervisorSilentHosts', Unit: 'Count' }],
      },
    ]);
    expect(line).toMatchObject({ Environment: ENVIRONMENT, SupervisorSilentHosts: 0 });
    expect(line).not.toHaveProperty('service');
    expect(line?._aws?.Timestamp).toBeGreaterThanOrEqual(before);
    expect(warnings(lines)).toEqual([]);
  });

  it('counts a host silent past 15 min, not a fresh one nor a planned shutdown, and logs it with host and last_seen', async () => {
    const now = Date.now();
    const silent = aHealthEvent({
      environment: ENVIRONMENT,
      host: 'sup-cut-off',
      ts: new Date(now - 22 * MINUTE).toISOString(),
      status: 'degraded',
      dashboardLink: 'disconnected',
    });
    await store.putHealth(silent);
    await store.putHealth(
      aHealthEvent({ environment: ENVIRONMENT, host: 'sup-fresh', ts: new Date(now - MINUTE).toISOString() }),
    );
    await store.putHealth(
      aHealthEvent({
        environment: ENVIRONMENT,
        host: 'sup-retired',
        ts: new Date(now - 6 * 60 * MINUTE).toISOString(),
        status: 'stopping',
      }),
    );
    // Another environment's hosts are not this function's to count.
    await store.putHealth(
      aHealthEvent({
        environment: 'elsewhere',
        host: 'sup-x',
        ts: new Date(now - 60 * MINUTE).toISOString(),
      }),
    );

    const { result, lines } = await run();

    expect(result).toMatchObject({ hosts: 3, reporting: 1, silent: 1, stopped: 1 });
    expect(emf(lines)).toHaveLength(1);
    expect(emf(lines)[0]).toMatchObject({ Environment: ENVIRONMENT, SupervisorSilentHosts: 1 });
    expect(warnings(lines)).toEqual([
      expect.objectContaining({
        message: 'supervisor host silent',
        service: 'runlane-supervisor-silent-hosts',
        environment: ENVIRONMENT,
        host: 'sup-cut-off',
        last_seen: silent.ts,
        age_seconds: expect.any(Number),
        status: 'degraded',
        dashboard_link: 'disconnected',
        stale_minutes: 15,
      }),
    ]);
    expect(warnings(lines)[0]?.age_seconds).toBeGreaterThanOrEqual(22 * 60);

    // The host reports again: the next run counts 0 and warns about nobody.
    await store.putHealth({ ...silent, id: randomUUID(), ts: new Date().toISOString() });
    const again = await run();
    expect(again.result).toMatchObject({ silent: 0, reporting: 2, stopped: 1 });
    expect(emf(again.lines)[0]).toMatchObject({ SupervisorSilentHosts: 0 });
    expect(warnings(again.lines)).toEqual([]);
  });
});
