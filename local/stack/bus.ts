/**
 * The stack's PutEvents endpoint with `EVENT_RULES`, whose targets run the deployed handlers'
 * code as EventBridge would invoke them: agent events → the runner event ingest, worker events
 * (WorkerHeartbeat, WorkerResult) → the worker ingest, retried as an asynchronous invocation.
 */
import type { EventBridgeClient } from '@aws-sdk/client-eventbridge';
import { SqsRunnerEventDeadLetterSink } from '#adapters/sqs/runner-event-dead-letter-sink.js';
import { EVENT_RULES, type EventRuleTarget } from '#contracts/event-rules.js';
import { buildRunnerEventIngest } from '#wiring/runner-event-ingest.js';
import { buildWorkerEventIngest, WorkerResultNotYetAcceptedError } from '#wiring/worker-ingest.js';
import { localEventBridgeClient } from '../emulators/clients.js';
import { type BusEvent, startLocalEventBus } from '../emulators/event-bus.js';
import type { StackContext } from './context.js';
import { LOCAL_ENVIRONMENT, LOCAL_TABLE_NAME } from './options.js';
import type { StackResources } from './resources.js';
import { flushingAfter } from './telemetry.js';
import { asyncInvocation } from './workers.js';

type RuleTarget = (event: BusEvent) => Promise<void>;

export interface StackBus {
  /** `http://127.0.0.1:<port>` */
  readonly endpoint: string;
  /** A client of this endpoint, for the handlers that publish (the lane workers). */
  readonly eventBridge: EventBridgeClient;
}

/** Starts the endpoint on `eventsPort`; a failed delivery is logged by the stack, not thrown. */
export async function startStackBus(
  context: StackContext,
  resources: Pick<StackResources, 'runnerEventDlq' | 'workerEventDlq'>,
): Promise<StackBus> {
  const ruleTargets: Record<EventRuleTarget, RuleTarget> = {
    runnerEventIngest: runnerEventTarget(context, resources.runnerEventDlq.queueUrl),
    workerEventIngest: workerEventTarget(context, resources.workerEventDlq.queueUrl),
  };
  const bus = await startLocalEventBus({
    port: context.options.eventsPort,
    rules: EVENT_RULES.map((rule) => ({
      name: rule.name,
      pattern: rule.pattern,
      deliver: ruleTargets[rule.target],
    })),
    onDeliveryError: (rule, error) =>
      context.log.warn('event delivery failed', { rule, error: String(error) }),
  });
  context.shutdown.add(() => bus.stop());
  return { endpoint: bus.endpoint, eventBridge: localEventBridgeClient(bus.endpoint) };
}

/**
 * The runner event ingest. It accepts every environment: one local stack stands in for dev,
 * staging and prod, so `runlane-agent run --environment dev` against it is stored under `dev`.
 */
function runnerEventTarget(context: StackContext, deadLetterQueueUrl: string): RuleTarget {
  const metrics = context.telemetry.metrics('runlane-runner-event-ingest');
  const ingest = buildRunnerEventIngest(
    {
      environment: undefined,
      tableName: LOCAL_TABLE_NAME,
      deadLetterQueueUrl,
      retentionDays: context.options.config.lifecycle.retentionDays,
    },
    context.clients,
    context.telemetry.log('runlane-runner-event-ingest'),
    metrics ? { metrics } : {},
  );
  return async (event) => {
    await flushingAfter(metrics, () => ingest(event));
  };
}

/**
 * The worker ingest, invoked as EventBridge invokes the Lambda: a throw (a result whose run is
 * still being saved, a store failure) is retried, then sent to the on-failure destination, the same DLQ.
 */
function workerEventTarget(context: StackContext, deadLetterQueueUrl: string): RuleTarget {
  const log = context.telemetry.log('runlane-worker-ingest');
  const ingest = buildWorkerEventIngest(
    {
      environment: LOCAL_ENVIRONMENT,
      tableName: LOCAL_TABLE_NAME,
      deadLetterQueueUrl,
      retentionDays: context.options.config.lifecycle.retentionDays,
    },
    context.clients,
    log,
  );
  const deadLetters = new SqsRunnerEventDeadLetterSink({
    client: context.clients.sqs,
    queueUrl: deadLetterQueueUrl,
  });
  const deliver = asyncInvocation((event) => ingest(event), {
    onRetry: (event, error, attempt) =>
      log.info('worker event retried', { busEventId: event.id, attempt, error: String(error) }),
    onFailure: async (event, error) => {
      log.warn('worker event failed after retries', { busEventId: event.id, error: String(error) });
      await deadLetters.send({
        body: JSON.stringify(event),
        reason: error instanceof WorkerResultNotYetAcceptedError ? 'run_in_progress' : 'ingest_failed',
        rationale: String(error),
        detailType: event['detail-type'],
        busEventId: event.id,
      });
    },
  });
  context.shutdown.add(async () => deliver.stop());
  return deliver;
}
