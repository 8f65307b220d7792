import { DynamoDbSupervisorEventStore } from '#adapters/dynamodb/supervisor-event-store.js';
import type { StructuredLogger } from '#adapters/powertools/structured-logger.js';
import { type Clock, systemClock } from '#core/base/clock.js';
import { createSupervisorSilentHostsCheck, type SilentHostsResult } from '#core/supervisor/silent-hosts.js';
import type { MetricsRecorder } from '#core/telemetry/ports.js';
import type { AwsClients } from './clients.js';

export interface SupervisorSilentHostsSettings {
  /** The environment whose hosts are checked (`SUPERVISOR#<environment>`), and the metric's `Environment`. */
  readonly environment: string;
  readonly tableName: string;
  /** A host whose latest report is older than this is silent. */
  readonly staleMinutes: number;
}

/**
 * Wires the silent-host check to DynamoDB (or DynamoDB Local): the one place
 * the Lambda handler, the local stack and the tests build it.
 *
 * @example
 * const check = buildSupervisorSilentHostsCheck(settings, awsClients(), logger, metrics);
 * const result = await check();
 */
export function buildSupervisorSilentHostsCheck(
  settings: SupervisorSilentHostsSettings,
  clients: Pick<AwsClients, 'documents'>,
  logger: StructuredLogger,
  metrics: MetricsRecorder,
  overrides: { readonly clock?: Clock } = {},
): () => Promise<SilentHostsResult> {
  return createSupervisorSilentHostsCheck({
    environment: settings.environment,
    staleMinutes: settings.staleMinutes,
    store: new DynamoDbSupervisorEventStore({ client: clients.documents, tableName: settings.tableName }),
    metrics,
    logger,
    clock: overrides.clock ?? systemClock,
  });
}
