import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DynamoDbSupervisorEventStore } from '#adapters/dynamodb/supervisor-event-store.js';
import { METRICS_NAMESPACE } from '#contracts/metrics.js';
import type { SupervisorSilentHostsHandlerResult } from '#handlers/supervisor-silent-hosts.js';
import { emfLines, warnLines } from '../support/handler-output.js';
import { type ScheduledHandler, startScheduledHandler } from '../support/scheduled-handler.js';
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
  let silentHosts: ScheduledHandler<SupervisorSilentHostsHandlerResult>;
  let store: DynamoDbSupervisorEventStore;

  const run = () => silentHosts.run();
  const emf = emfLines;
  const warnings = warnLines;

  beforeAll(async () => {
    silentHosts = await startScheduledHandler({
      prefix: 'ssh',
      environment: ENVIRONMENT,
      rule: `runlane-${ENVIRONMENT}-supervisor-silent-hosts`,
      // The silent-host warnings are the point here; the prepared environment logs only errors.
      variables: { POWERTOOLS_LOG_LEVEL: 'WARN' },
      load: () => import('#handlers/supervisor-silent-hosts.js'),
    });
    store = new DynamoDbSupervisorEventStore({
      client: silentHosts.documents,
      tableName: silentHosts.tableName,
    });
  });
  afterAll(() => silentHosts?.stop());

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
