import { DynamoDbDelegationDeadlines } from '#adapters/dynamodb/delegation-deadlines.js';
import { DynamoDbOpenRuns } from '#adapters/dynamodb/open-runs.js';
import { DynamoDbWorkerRegistry } from '#adapters/dynamodb/worker-registry.js';
import { DynamoDbWorkerTaskStore } from '#adapters/dynamodb/worker-task-store.js';
import type { StructuredLogger } from '#adapters/powertools/structured-logger.js';
import { type Clock, systemClock } from '#core/base/clock.js';
import type { MetricsRecorder } from '#core/telemetry/ports.js';
import { createWorkerSweep, type WorkerSweepResult } from '#core/workers/sweep.js';
import type { AwsClients } from './clients.js';

export interface WorkerSweepSettings {
  /** The environment swept (`WORKERS#<env>`, `WTASKS#<env>#executing`), and the metrics' `Environment`. */
  readonly environment: string;
  readonly tableName: string;
  /** Missed heartbeats before a worker is offline (`WORKER_HEARTBEAT_STALE_MULTIPLE`). */
  readonly staleMultiple: number;
  /** A task executing for longer than this is stuck, in ms (`WORKER_STUCK_TASK_MINUTES`). */
  readonly stuckAfterMs: number;
}

/**
 * Wires the worker sweep to DynamoDB (or DynamoDB Local): the one place the Lambda handler, the
 * local stack and the tests build it. Reads the registry partition, the executing status
 * partition and those task records, and the overdue delegated runs of the `openRuns` index;
 * writes only to expire an overdue delegation (its task record and status entry, and its run).
 *
 * @example
 * const sweep = buildWorkerSweep(settings, awsClients(), logger, metrics);
 * const result = await sweep(); // result.counts.offline
 */
export function buildWorkerSweep(
  settings: WorkerSweepSettings,
  clients: Pick<AwsClients, 'documents'>,
  logger: StructuredLogger,
  metrics: MetricsRecorder,
  overrides: { readonly clock?: Clock } = {},
): () => Promise<WorkerSweepResult> {
  const table = {
    client: clients.documents,
    tableName: settings.tableName,
    environment: settings.environment,
  };
  const tasks = new DynamoDbWorkerTaskStore(table);
  return createWorkerSweep({
    environment: settings.environment,
    staleMultiple: settings.staleMultiple,
    stuckAfterMs: settings.stuckAfterMs,
    registry: new DynamoDbWorkerRegistry(table),
    tasks,
    deadlines: new DynamoDbDelegationDeadlines({
      openRuns: new DynamoDbOpenRuns({ client: clients.documents, tableName: settings.tableName }),
      tasks,
    }),
    metrics,
    logger,
    clock: overrides.clock ?? systemClock,
  });
}
