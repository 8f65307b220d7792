import type { RunnerEventSource } from '../../functions/core/runner-report.js';
import { UsageError } from '../commands.js';

/**
 * The report's events for a deployed environment (`runlane report daily --env <env>`), read
 * from the control plane's store: `DynamoDbRunnerEventStore.listEvents({ environment, from, to })`
 * returns `{ stalls, runs }`. Not wired yet: the store is being built; until then this says so.
 *
 * @example
 * const source = await loadEnvironmentSource('prod');
 */
export async function loadEnvironmentSource(env: string): Promise<RunnerEventSource> {
  throw new UsageError(
    `--env ${env} is not wired yet: the report cannot read an environment's event store so far. ` +
      'Run it on the host with --evidence <stall-events.jsonl> [--runs <run-summaries.jsonl>].',
  );
}
