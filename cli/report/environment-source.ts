import { DynamoDbRunnerEventStore } from '#adapters/dynamodb/runner-event-store.js';
import type { RunnerEventSource } from '#core/runner/report.js';
import { ENVIRONMENT_NAMES } from '#lib/config/environment-config.js';
import { UsageError } from '../errors.js';
import { resolveTarget } from '../targets.js';

/**
 * The report's events for an environment (`runlane report daily --env <env>`), read from the
 * control plane's store — the runner events the ingest Lambda keeps in the lifecycle table:
 * the deployed stack `Runlane-<env>` (found through its outputs), or with `local` the local
 * stack at `apiUrl`, which stores agent events under the environment they name.
 *
 * @example
 * const source = await loadEnvironmentSource('prod');
 * const source = await loadEnvironmentSource('dev', { local: true, apiUrl: 'http://127.0.0.1:3000' });
 */
export async function loadEnvironmentSource(
  env: string,
  options: { readonly local?: boolean; readonly apiUrl?: string } = {},
): Promise<RunnerEventSource> {
  if (!options.local && !(ENVIRONMENT_NAMES as readonly string[]).includes(env)) {
    throw new UsageError(`--env must be one of ${ENVIRONMENT_NAMES.join(', ')} (or add --local)`);
  }
  const target = await resolveTarget({
    apiUrl: options.apiUrl ?? 'http://127.0.0.1:3000',
    env: options.local ? undefined : env,
  });
  const store = new DynamoDbRunnerEventStore({
    client: target.clients.documents,
    tableName: target.settings.tableName,
  });
  return {
    load: async (window) => {
      // The store's window is [from, to); the report's is (from, to] and filters again.
      const { stalls, runs } = await store.listEvents({
        environment: env,
        from: window.from,
        to: new Date(window.to.getTime() + 1),
      });
      return {
        stalls,
        runs,
        skipped: 0,
        notes: [
          `events of environment ${env} from ${target.description}, table ${target.settings.tableName}`,
        ],
      };
    },
  };
}
