import { injectLambdaContext } from '@aws-lambda-powertools/logger/middleware';
import middy from '@middy/core';
import type { Context, ScheduledEvent } from 'aws-lambda';
import { handlerTelemetry } from '#adapters/powertools/handler-telemetry.js';
import { flushMetricsAfterEachInvocation } from '#adapters/powertools/metrics-recorder.js';
import { fromPowertoolsLogger } from '#adapters/powertools/structured-logger.js';
import type { SilentHostsResult } from '#core/supervisor/silent-hosts.js';
import { awsClients } from '#wiring/clients.js';
import { buildSupervisorSilentHostsCheck } from '#wiring/supervisor-silent-hosts.js';
import { requireNumber, requireString } from './env.js';

/**
 * Target of the `<prefix>-supervisor-silent-hosts` schedule (every 5 minutes):
 * reads every supervisor host's latest health report of this environment,
 * records `SupervisorSilentHosts` (0 when none) and logs each silent host with
 * its `host` and `last_seen`. Returns the counts (for a manual invoke). A read
 * failure throws: the run fails and the next one checks again, nothing to keep.
 */
const settings = {
  environment: requireString('environmentName'),
  tableName: requireString('lifecycleTableName'),
  staleMinutes: requireNumber('supervisorStaleMinutes'),
};

const SERVICE_NAME = 'runlane-supervisor-silent-hosts';
// One value per run, [Environment] only: buffered and flushed after the invocation as one EMF line.
const { logger, metrics } = handlerTelemetry({
  serviceName: SERVICE_NAME,
  environment: settings.environment,
});
const check = buildSupervisorSilentHostsCheck(settings, awsClients(), fromPowertoolsLogger(logger), metrics);

export type SupervisorSilentHostsHandlerResult = SilentHostsResult['counts'] & {
  readonly environment: string;
  readonly staleMinutes: number;
};

export const handler = middy<ScheduledEvent, SupervisorSilentHostsHandlerResult, Error, Context>()
  .use(injectLambdaContext(logger))
  .use(flushMetricsAfterEachInvocation(metrics))
  .handler(async () => {
    const result = await check();
    return { environment: settings.environment, staleMinutes: result.staleMinutes, ...result.counts };
  });
