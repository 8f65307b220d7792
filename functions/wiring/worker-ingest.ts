import { DynamoDbWorkerRegistry } from '#adapters/dynamodb/worker-registry.js';
import { DynamoDbWorkerTaskStore } from '#adapters/dynamodb/worker-task-store.js';
import type { StructuredLogger } from '#adapters/powertools/structured-logger.js';
import { SqsRunnerEventDeadLetterSink } from '#adapters/sqs/runner-event-dead-letter-sink.js';
import { AGENT_EVENT_SOURCE } from '#contracts/agent-events.js';
import { WORKER_DETAIL_TYPES } from '#contracts/worker-contract.js';
import type { RunnerEventDeadLetterSink } from '#core/runner/ports.js';
import { type Clock, systemClock } from '#core/base/clock.js';
import { RunlaneError } from '#core/base/errors.js';
import {
  ingestWorkerEvent,
  type WorkerIngestOutcome,
  type WorkerIngestRejectReason,
} from '#core/workers/ingest.js';
import type { WorkerRegistry, WorkerTaskStore } from '#core/workers/ports.js';
import type { AwsClients } from './clients.js';

export interface WorkerEventIngestSettings {
  /** The environment whose bus this ingest serves; events naming another are refused (`wrong_environment`). */
  readonly environment: string;
  readonly tableName: string;
  /** `WORKER_EVENT_DLQ_URL`: where refused events go with their reason. */
  readonly deadLetterQueueUrl: string;
  /** Days registry entries, tasks and results are kept (TTL). */
  readonly retentionDays: number;
}

/** Why the ingest refused a bus event: the core's reasons, and `invalid_event` for what is no EventBridge event at all. */
export type WorkerEventRejectReason = WorkerIngestRejectReason | 'invalid_event';

/** What one invocation did (a `retry` is thrown as {@link WorkerResultNotYetAcceptedError}, never returned). */
export type WorkerEventIngestResult =
  | Exclude<WorkerIngestOutcome, { readonly outcome: 'rejected' | 'retry' }>
  | { readonly outcome: 'rejected'; readonly reason: WorkerEventRejectReason; readonly rationale: string };

/**
 * A result the control plane cannot take yet: the task's command is still being executed by its
 * lane worker (`run_in_progress`). Thrown so Lambda retries the invocation (asynchronous retries,
 * then the on-failure destination): nothing was stored.
 */
export class WorkerResultNotYetAcceptedError extends RunlaneError {
  public constructor(public readonly key: string) {
    super(`worker result ${key} arrived while its run is in progress; retry later`);
    this.name = 'WorkerResultNotYetAcceptedError';
  }
}

/**
 * Wires the worker event ingest (target of the `worker-events` rule) to DynamoDB and SQS (or the
 * emulators): the one place the Lambda handler and the tests build it. One EventBridge event in:
 * - a `WorkerHeartbeat` goes to the registry, a `WorkerResult` to the task store (an
 *   `execution_result` is reconciled into the task, the action history and the run);
 * - a refused event (not an EventBridge event, another source or detail type, a detail failing
 *   the contract, another environment's, an unknown task) is sent to the ingest DLQ with `reason`
 *   and `rationale` attributes, and the invocation succeeds: retrying could never help;
 * - `run_in_progress` throws {@link WorkerResultNotYetAcceptedError}; a store or DLQ failure
 *   throws as is. Lambda retries both, then its on-failure destination keeps the event.
 *
 * @example
 * const ingest = buildWorkerEventIngest(settings, awsClients(), logger);
 * await ingest(eventBridgeEvent); // { outcome: 'heartbeat_recorded', workerId: 'w-1' }
 */
export function buildWorkerEventIngest(
  settings: WorkerEventIngestSettings,
  clients: Pick<AwsClients, 'documents' | 'sqs'>,
  logger: StructuredLogger,
  overrides: {
    readonly clock?: Clock;
    readonly tasks?: Pick<WorkerTaskStore, 'recordResult'>;
    readonly registry?: Pick<WorkerRegistry, 'recordHeartbeat'>;
    readonly deadLetters?: RunnerEventDeadLetterSink;
  } = {},
): (event: unknown) => Promise<WorkerEventIngestResult> {
  const table = {
    client: clients.documents,
    tableName: settings.tableName,
    environment: settings.environment,
    retentionDays: settings.retentionDays,
  };
  const deps = {
    environment: settings.environment,
    tasks: overrides.tasks ?? new DynamoDbWorkerTaskStore(table),
    registry: overrides.registry ?? new DynamoDbWorkerRegistry(table),
    clock: overrides.clock ?? systemClock,
  };
  const deadLetters =
    overrides.deadLetters ??
    new SqsRunnerEventDeadLetterSink({ client: clients.sqs, queueUrl: settings.deadLetterQueueUrl });

  return async (event) => {
    const envelope = isRecord(event) ? event : undefined;
    const detailType = envelope?.['detail-type'];
    const detail = isRecord(envelope?.detail) ? envelope.detail : undefined;
    let outcome:
      | Exclude<WorkerIngestOutcome, { readonly outcome: 'rejected' }>
      | { outcome: 'rejected'; reason: WorkerEventRejectReason; rationale: string };
    if (!envelope || typeof detailType !== 'string' || envelope.detail === undefined) {
      outcome = {
        outcome: 'rejected',
        reason: 'invalid_event',
        rationale: '(root): not an EventBridge event with detail-type and detail',
      };
    } else if (envelope.source !== AGENT_EVENT_SOURCE) {
      outcome = {
        outcome: 'rejected',
        reason: 'unknown_detail_type',
        rationale: `source: "${String(envelope.source)}" is not ${AGENT_EVENT_SOURCE}`,
      };
    } else {
      outcome = await ingestWorkerEvent({ detailType, detail: envelope.detail }, deps);
    }

    switch (outcome.outcome) {
      case 'rejected': {
        await deadLetters.send({
          body: safeStringify(event),
          reason: outcome.reason,
          rationale: outcome.rationale,
          ...stringField('detailType', detailType),
          ...stringField('busEventId', envelope?.id),
          ...stringField('eventId', detail?.id),
        });
        logger.warn('worker event refused', { reason: outcome.reason, rationale: outcome.rationale });
        return { outcome: 'rejected', reason: outcome.reason, rationale: outcome.rationale };
      }
      case 'retry':
        logger.info('worker result deferred: run in progress', { key: outcome.key });
        throw new WorkerResultNotYetAcceptedError(outcome.key);
      case 'heartbeat_recorded':
        return outcome;
      case 'result_recorded':
        logger.info('worker result recorded', {
          key: outcome.key,
          duplicate: outcome.duplicate,
          reconciled: outcome.reconciled,
          detail_type: WORKER_DETAIL_TYPES.result,
        });
        return outcome;
    }
  };
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function stringField<K extends string>(name: K, value: unknown): Partial<Record<K, string>> {
  return typeof value === 'string' && value.length > 0 ? ({ [name]: value } as Record<K, string>) : {};
}

/** The event as JSON for the dead letter (an EventBridge event is at most 256 KB). */
function safeStringify(value: unknown): string {
  try {
    return JSON.stringify(value) ?? String(value);
  } catch {
    return String(value);
  }
}
