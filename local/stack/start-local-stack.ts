/**
 * The whole of Runlane on one machine: DynamoDB Local, the SQS emulator, a
 * PutEvents endpoint whose rules (`EVENT_RULES`) invoke the same handler code
 * as their Lambda targets (agent events → the runner event ingest), one
 * event-source-mapping poller per lane running the same worker code as Lambda,
 * the API behind a local HTTP API gateway, and timers standing in for the
 * schedules (the anomaly sweep, the supervisor silent-host check). Worker
 * delegation (seed 004): one task lane per site for `runlane-agent worker`, the
 * `WORKER_*` settings for the API and lane workers, and worker bus events
 * (WorkerHeartbeat, WorkerResult) routed to the worker ingest.
 * Lanes, queues and the table come from the same definitions as the CDK stack.
 */

import { randomUUID } from 'node:crypto';
import { existsSync, readdirSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { resolve } from 'node:path';
import { Logger } from '@aws-lambda-powertools/logger';
import { Metrics } from '@aws-lambda-powertools/metrics';
import { SendMessageCommand } from '@aws-sdk/client-sqs';
import { toApiRequest } from '#adapters/apigateway/http-api-request.js';
import { PowertoolsMetricsRecorder } from '#adapters/powertools/metrics-recorder.js';
import { fromPowertoolsLogger, type StructuredLogger } from '#adapters/powertools/structured-logger.js';
import { SqsRunnerEventDeadLetterSink } from '#adapters/sqs/runner-event-dead-letter-sink.js';
import {
  EVENT_RULES,
  type EventRuleTarget,
  RUNNER_EVENTS_RULE,
  WORKER_EVENTS_RULE,
} from '#contracts/event-rules.js';
import { deadLetterQueueName, LANES, type LaneName, laneByName } from '#contracts/lanes.js';
import { METRICS_NAMESPACE } from '#contracts/metrics.js';
import { NIGHTLY_SWEEP_LANE, nightlySweepEnvelope } from '#contracts/nightly-sweep.js';
import { systemClock } from '#core/base/clock.js';
import type { SilentHostsResult } from '#core/supervisor/silent-hosts.js';
import { noopMetricsRecorder } from '#core/telemetry/ports.js';
import type { WorkerSweepResult } from '#core/workers/sweep.js';
import { ENVIRONMENT_NAMES, type EnvironmentConfig } from '#lib/config/environment-config.js';
import { buildCommandApi } from '#wiring/api.js';
import { createDocumentClient } from '#wiring/clients.js';
import { buildLaneWorker } from '#wiring/lane-worker.js';
import { buildRunnerEventIngest } from '#wiring/runner-event-ingest.js';
import { buildSupervisorSilentHostsCheck } from '#wiring/supervisor-silent-hosts.js';
import { buildWorkerEventIngest, WorkerResultNotYetAcceptedError } from '#wiring/worker-ingest.js';
import { buildWorkerSweep } from '#wiring/worker-sweep.js';
import { startLocalApiGateway } from '../emulators/api-gateway.js';
import {
  LOCAL_CREDENTIALS,
  LOCAL_REGION,
  localDynamoDbClient,
  localEventBridgeClient,
  localSqsClient,
} from '../emulators/clients.js';
import { type BusEvent, startLocalEventBus } from '../emulators/event-bus.js';
import { LocalEventSourceMapping } from '../emulators/event-source-mapping.js';
import { startEmulators } from '../emulators/start-emulators.js';
import { LocalRuntimeError, PortInUseError, ProvisioningMismatchError } from '../errors.js';
import { DRILL_LANE, drillCommands } from './drill-commands.js';
import { prettyLogger } from './pretty-logger.js';
import {
  type LaneQueues,
  type ProvisionedQueue,
  provisionDeadLetterQueue,
  provisionLanes,
  provisionLifecycleTable,
  provisionWorkerTaskLanes,
} from './provision.js';
import {
  asyncInvocation,
  LOCAL_WORKER_TASK_VISIBILITY_SECONDS,
  type LocalWorkerOptions,
  type LocalWorkersInfo,
  localWorkerSettings,
  resolveLocalWorkerOptions,
  workerRuntimeEnvironment,
} from './workers.js';

export const LOCAL_ENVIRONMENT = 'local';
export const LOCAL_TABLE_NAME = 'runlane-local-lifecycle';
export const LOCAL_QUEUE_PREFIX = 'runlane-local-';
export const LOCAL_BUS_NAME = 'runlane-local-telemetry';

export interface LocalStackOptions {
  /** Lane, API and command settings: the `dev` environment of cdk.json. */
  readonly config: EnvironmentConfig;
  readonly apiPort: number;
  readonly dynamoPort: number;
  readonly sqsPort: number;
  readonly eventsPort: number;
  /** Where data persists; undefined keeps everything in memory (`--ephemeral`). */
  readonly dataDir: string | undefined;
  /** Delete the data folder first. */
  readonly reset?: boolean;
  /**
   * Lane queues' visibility timeout. AWS uses 6 × function timeout + window;
   * locally a short one makes retries visible within seconds.
   */
  readonly visibilityTimeoutSeconds: number;
  /** Enqueue `anomaly.sweep` this often; 0 turns the schedule off (on demand still works). */
  readonly sweepIntervalMinutes: number;
  /**
   * Run the supervisor silent-host check (as the deployed schedule does every
   * 5 minutes) this often, for each of dev, staging and prod; 0 turns the
   * schedule off (`checkSilentHostsNow` still works).
   * @default 0
   */
  readonly silentHostsCheckIntervalMinutes?: number;
  /**
   * Run the worker sweep (as the deployed schedule does every 5 minutes: WorkersOnline,
   * WorkersOffline, WorkerTasksStuckExecuting, WorkerOfflineBacklog) this often; 0 turns the
   * schedule off (`sweepWorkersNow` and `POST /_local/worker-sweep` still work).
   * @default 0
   */
  readonly workerSweepIntervalMinutes?: number;
  /**
   * Worker delegation: sites (one task lane each), `WORKER_DELEGATION_ENABLED`, the heartbeat
   * stale multiple and the stuck-task threshold.
   * @default cdk.json's `workers` of the environment, else site `lab`, delegation off, 3, 15 min
   */
  readonly workers?: LocalWorkerOptions;
  readonly pretty?: boolean;
}

export interface LocalStackInfo {
  readonly apiUrl: string;
  readonly dynamoEndpoint: string;
  readonly sqsEndpoint: string;
  readonly eventsEndpoint: string;
  readonly region: string;
  readonly tableName: string;
  readonly busName: string;
  readonly dataDir: string | null;
  readonly lanes: Record<string, LaneQueues>;
  /** Receives before a lane dead-letters a command. */
  readonly maxReceiveCount: number;
  /** Where the runner event ingest puts the agent events it refuses, with their reason. */
  readonly runnerEventDeadLetterQueueUrl: string;
  /** Worker delegation (seed 004): the environment name, each site's task lane, the `WORKER_*` settings. */
  readonly workers: LocalWorkersInfo;
}

export interface LocalStack {
  readonly info: LocalStackInfo;
  readonly startupMs: number;
  /** Enqueues an `anomaly.sweep` now; returns its commandId. */
  sweepNow(): Promise<string>;
  /**
   * Runs the supervisor silent-host check now for each of dev, staging and prod
   * (the environments agents name when they report to the local stack), with
   * the dev config's `alarms.supervisor.silentHosts.staleMinutes`.
   */
  checkSilentHostsNow(): Promise<SilentHostsResult[]>;
  /** Runs the worker sweep of the local environment now (the deployed `worker-sweep` schedule's code). */
  sweepWorkersNow(): Promise<WorkerSweepResult>;
  /** Stops polling, lets in-flight batches finish (bounded), stops the servers and emulators. */
  stop(): Promise<void>;
}

/** The data folder cannot be used as it is. */
export class DataFolderError extends LocalRuntimeError {
  public constructor(dataDir: string, problem: string, options?: ErrorOptions) {
    super(
      `The data folder ${dataDir} could not be used: ${problem}. ` +
        `Reset it with \`npm start -- --reset\` (this deletes local data) or remove the folder.`,
      options,
    );
    this.name = 'DataFolderError';
  }
}

export async function startLocalStack(options: LocalStackOptions): Promise<LocalStack> {
  const startedAt = performance.now();
  const windowSeconds = options.config.lanes.maxBatchingWindowSeconds;
  if (options.visibilityTimeoutSeconds <= windowSeconds) {
    // A message would reappear while its batch is still being gathered, and SQS would redrive copies.
    throw new LocalRuntimeError(
      `the lane visibility timeout (${options.visibilityTimeoutSeconds} s) must be longer than the batching window (${windowSeconds} s)`,
    );
  }
  await assertPortsFree([
    ['API', options.apiPort],
    ['DynamoDB Local', options.dynamoPort],
    ['SQS emulator', options.sqsPort],
    ['EventBridge endpoint', options.eventsPort],
  ]);
  const dataDir = options.dataDir === undefined ? undefined : resolve(options.dataDir);
  if (dataDir && options.reset) rmSync(dataDir, { recursive: true, force: true });
  const hadData = dataDir !== undefined && existsSync(dataDir) && readdirSync(dataDir).length > 0;

  const log = (service: string): StructuredLogger =>
    options.pretty
      ? prettyLogger(service)
      : fromPowertoolsLogger(
          new Logger({ serviceName: service, persistentKeys: { environment: LOCAL_ENVIRONMENT } }),
        );
  const stackLog = log('runlane-local');

  let emulators: Awaited<ReturnType<typeof startEmulators>>;
  try {
    emulators = await startEmulators({
      dynamoPort: options.dynamoPort,
      sqsPort: options.sqsPort,
      ...(dataDir ? { dataDir } : {}),
    });
  } catch (error) {
    if (hadData && dataDir && !(error instanceof PortInUseError) && isDataError(error)) {
      throw new DataFolderError(dataDir, (error as Error).message, { cause: error });
    }
    throw error;
  }
  const cleanups: (() => Promise<void>)[] = [() => emulators.stop()];
  const stopAll = async () => {
    for (const cleanup of cleanups.reverse()) await cleanup().catch(() => undefined);
  };

  try {
    const dynamo = localDynamoDbClient(emulators.dynamoEndpoint);
    const sqs = localSqsClient(emulators.sqsEndpoint);
    const documents = createDocumentClient(dynamo);
    const { lanes: laneSettings } = options.config;
    const workerOptions = resolveLocalWorkerOptions(options.config, options.workers);
    let queues: Record<LaneName, LaneQueues>;
    let runnerEventDlq: ProvisionedQueue;
    let workerLanes: Record<string, LaneQueues>;
    let workerEventDlq: ProvisionedQueue;
    try {
      await provisionLifecycleTable(dynamo, LOCAL_TABLE_NAME);
      queues = await provisionLanes(sqs, {
        prefix: LOCAL_QUEUE_PREFIX,
        maxReceiveCount: laneSettings.maxReceiveCount,
        visibilityTimeoutSeconds: options.visibilityTimeoutSeconds,
      });
      runnerEventDlq = await provisionDeadLetterQueue(
        sqs,
        deadLetterQueueName(`${LOCAL_QUEUE_PREFIX}${RUNNER_EVENTS_RULE.name}`),
      );
      workerLanes = await provisionWorkerTaskLanes(sqs, {
        environment: LOCAL_ENVIRONMENT,
        sites: workerOptions.sites,
        maxReceiveCount: workerOptions.maxReceiveCount,
        visibilityTimeoutSeconds: LOCAL_WORKER_TASK_VISIBILITY_SECONDS,
      });
      workerEventDlq = await provisionDeadLetterQueue(
        sqs,
        deadLetterQueueName(`${LOCAL_QUEUE_PREFIX}${WORKER_EVENTS_RULE.name}`),
      );
    } catch (error) {
      if (error instanceof ProvisioningMismatchError && dataDir) {
        throw new DataFolderError(dataDir, error.message, { cause: error });
      }
      throw error;
    }

    // Worker delegation: the WORKER_* variables a deployed API and lane worker get, read the same way.
    const workerRuntimeEnv = workerRuntimeEnvironment(
      workerOptions,
      Object.fromEntries(Object.entries(workerLanes).map(([site, lane]) => [site, lane.queueUrl])),
    );
    const workerSettings = localWorkerSettings(workerRuntimeEnv);

    // The rules' targets run the deployed handlers' code, as EventBridge would invoke them.
    // The local ingest accepts every environment: one local stack stands in for dev, staging and prod,
    // so `runlane-agent run --environment dev` against it is stored under `dev`.
    const ingestMetrics = options.pretty
      ? undefined
      : new PowertoolsMetricsRecorder({
          metrics: new Metrics({ namespace: METRICS_NAMESPACE, serviceName: 'runlane-runner-event-ingest' }),
          environment: LOCAL_ENVIRONMENT,
        });
    const ingestLog = log('runlane-runner-event-ingest');
    const ingest = buildRunnerEventIngest(
      {
        environment: undefined,
        tableName: LOCAL_TABLE_NAME,
        deadLetterQueueUrl: runnerEventDlq.queueUrl,
        retentionDays: options.config.lifecycle.retentionDays,
      },
      { documents, sqs },
      ingestLog,
      ingestMetrics ? { metrics: ingestMetrics } : {},
    );
    const workerIngestLog = log('runlane-worker-ingest');
    const workerIngest = buildWorkerEventIngest(
      {
        environment: LOCAL_ENVIRONMENT,
        tableName: LOCAL_TABLE_NAME,
        deadLetterQueueUrl: workerEventDlq.queueUrl,
        retentionDays: options.config.lifecycle.retentionDays,
      },
      { documents, sqs },
      workerIngestLog,
    );
    // Invoked as EventBridge invokes the Lambda: a throw (a result whose run is still being saved,
    // a store failure) is retried, then sent to the on-failure destination, the same DLQ.
    const workerEventDeadLetters = new SqsRunnerEventDeadLetterSink({
      client: sqs,
      queueUrl: workerEventDlq.queueUrl,
    });
    const deliverWorkerEvent = asyncInvocation((event) => workerIngest(event), {
      onRetry: (event, error, attempt) =>
        workerIngestLog.info('worker event retried', { busEventId: event.id, attempt, error: String(error) }),
      onFailure: async (event, error) => {
        workerIngestLog.warn('worker event failed after retries', {
          busEventId: event.id,
          error: String(error),
        });
        await workerEventDeadLetters.send({
          body: JSON.stringify(event),
          reason: error instanceof WorkerResultNotYetAcceptedError ? 'run_in_progress' : 'ingest_failed',
          rationale: String(error),
          detailType: event['detail-type'],
          busEventId: event.id,
        });
      },
    });
    cleanups.push(async () => deliverWorkerEvent.stop());
    const ruleTargets: Record<EventRuleTarget, (event: BusEvent) => Promise<void>> = {
      runnerEventIngest: async (event) => {
        try {
          await ingest(event);
        } finally {
          ingestMetrics?.flush();
        }
      },
      workerEventIngest: deliverWorkerEvent,
    };
    const bus = await startLocalEventBus({
      port: options.eventsPort,
      rules: EVENT_RULES.map((rule) => ({
        name: rule.name,
        pattern: rule.pattern,
        deliver: ruleTargets[rule.target],
      })),
      onDeliveryError: (rule, error) =>
        stackLog.warn('event delivery failed', { rule, error: String(error) }),
    });
    cleanups.push(() => bus.stop());
    const eventBridge = localEventBridgeClient(bus.endpoint);

    const mappings: LocalEventSourceMapping[] = [];
    for (const lane of LANES) {
      const drill = lane.name === DRILL_LANE ? drillCommands(laneByName(lane.name) ?? lane) : undefined;
      // EMF lines as in Lambda (left out of --pretty output, which is for people).
      const metrics = options.pretty
        ? undefined
        : new PowertoolsMetricsRecorder({
            metrics: new Metrics({ namespace: METRICS_NAMESPACE, serviceName: 'runlane-lane-worker' }),
            environment: LOCAL_ENVIRONMENT,
            bufferedDimensions: { Lane: lane.name },
          });
      const process = buildLaneWorker(
        {
          environment: LOCAL_ENVIRONMENT,
          laneName: lane.name,
          tableName: LOCAL_TABLE_NAME,
          deadLetterQueueUrl: queues[lane.name].dlqUrl,
          telemetryBusName: LOCAL_BUS_NAME,
          maxReceiveCount: laneSettings.maxReceiveCount,
          fallbackLockMs: laneSettings.functionTimeoutSeconds * 1000,
          retentionDays: options.config.lifecycle.retentionDays,
          commandSettings: options.config.commands,
          workers: workerSettings,
        },
        { documents, sqs, eventBridge },
        log('runlane-lane-worker'),
        { ...(drill ? { commands: drill.commands, lane: drill.lane } : {}), ...(metrics ? { metrics } : {}) },
      );
      const mapping = new LocalEventSourceMapping({
        sqs,
        queueUrl: queues[lane.name].queueUrl,
        queueArn: queues[lane.name].queueArn,
        handler: async (event, context) => {
          try {
            return await process(event.Records, context);
          } finally {
            metrics?.flush();
          }
        },
        batchSize: laneSettings.batchSize,
        maximumBatchingWindowMs: laneSettings.maxBatchingWindowSeconds * 1000,
        maxConcurrency: laneSettings.maxConcurrency,
        functionTimeoutMs: laneSettings.functionTimeoutSeconds * 1000,
        functionName: `${LOCAL_QUEUE_PREFIX}${lane.id}-worker`,
        waitTimeSeconds: 1,
      });
      mapping.start();
      mappings.push(mapping);
    }
    cleanups.push(async () => {
      await Promise.all(mappings.map((m) => m.stop()));
    });

    const apiLogger = log('runlane-api');
    const apiMetrics = options.pretty
      ? undefined
      : new PowertoolsMetricsRecorder({
          metrics: new Metrics({ namespace: METRICS_NAMESPACE, serviceName: 'runlane-api' }),
          environment: LOCAL_ENVIRONMENT,
        });
    const api = buildCommandApi(
      {
        tableName: LOCAL_TABLE_NAME,
        queueUrls: Object.fromEntries(LANES.map((l) => [l.name, queues[l.name].queueUrl])),
        maxBodyBytes: options.config.api.maxBodyBytes,
        environment: LOCAL_ENVIRONMENT,
        workers: workerSettings,
      },
      { documents, sqs },
      apiLogger,
      systemClock,
      apiMetrics,
    );

    const sweepNow = async (): Promise<string> => {
      const commandId = randomUUID();
      await sqs.send(
        new SendMessageCommand({
          QueueUrl: queues[NIGHTLY_SWEEP_LANE as LaneName].queueUrl,
          MessageBody: JSON.stringify(nightlySweepEnvelope(commandId, new Date().toISOString())),
        }),
      );
      stackLog.info('anomaly sweep enqueued', { commandId, lane: NIGHTLY_SWEEP_LANE });
      return commandId;
    };

    // The deployed check serves one environment; the local stack stands in for all of them.
    const silentHostChecks = ENVIRONMENT_NAMES.map((environment) => {
      const metrics = options.pretty
        ? undefined
        : new PowertoolsMetricsRecorder({
            metrics: new Metrics({
              namespace: METRICS_NAMESPACE,
              serviceName: 'runlane-supervisor-silent-hosts',
            }),
            environment,
          });
      const check = buildSupervisorSilentHostsCheck(
        {
          environment,
          tableName: LOCAL_TABLE_NAME,
          staleMinutes: options.config.alarms.supervisor.silentHosts.staleMinutes,
        },
        { documents },
        log('runlane-supervisor-silent-hosts'),
        metrics ?? noopMetricsRecorder,
      );
      return async () => {
        try {
          return await check();
        } finally {
          metrics?.flush();
        }
      };
    });
    const checkSilentHostsNow = async (): Promise<SilentHostsResult[]> => {
      const results: SilentHostsResult[] = [];
      for (const check of silentHostChecks) results.push(await check());
      return results;
    };

    const workerSweepMetrics = options.pretty
      ? undefined
      : new PowertoolsMetricsRecorder({
          metrics: new Metrics({ namespace: METRICS_NAMESPACE, serviceName: 'runlane-worker-sweep' }),
          environment: LOCAL_ENVIRONMENT,
        });
    const workerSweep = buildWorkerSweep(
      {
        environment: LOCAL_ENVIRONMENT,
        tableName: LOCAL_TABLE_NAME,
        staleMultiple: workerSettings.heartbeatStaleMultiple,
        stuckAfterMs: workerSettings.stuckTaskAfterMs,
      },
      { documents },
      log('runlane-worker-sweep'),
      workerSweepMetrics ?? noopMetricsRecorder,
    );
    const sweepWorkersNow = async (): Promise<WorkerSweepResult> => {
      try {
        return await workerSweep();
      } finally {
        workerSweepMetrics?.flush();
      }
    };

    let info: LocalStackInfo;
    const gateway = await startLocalApiGateway({
      port: options.apiPort,
      handler: async (event) => {
        try {
          return await api(toApiRequest(event));
        } finally {
          apiMetrics?.flush();
        }
      },
      localRoutes: {
        '/_local/info': async () => ({ statusCode: 200, body: info }),
        '/_local/sweep': async ({ method }) =>
          method === 'POST'
            ? { statusCode: 202, body: { commandId: await sweepNow() } }
            : { statusCode: 405, body: { message: 'use POST' } },
        '/_local/worker-sweep': async ({ method }) =>
          method === 'POST'
            ? { statusCode: 200, body: await sweepWorkersNow() }
            : { statusCode: 405, body: { message: 'use POST' } },
      },
    });
    // Stop order is the reverse of this list: the API first, then pollers, bus, emulators.
    cleanups.push(() => gateway.stop());

    if (options.sweepIntervalMinutes > 0) {
      const timer = setInterval(() => {
        sweepNow().catch((error: unknown) =>
          stackLog.error('scheduled sweep failed', { error: String(error) }),
        );
      }, options.sweepIntervalMinutes * 60_000);
      timer.unref();
      cleanups.push(async () => clearInterval(timer));
    }
    const checkMinutes = options.silentHostsCheckIntervalMinutes ?? 0;
    if (checkMinutes > 0) {
      const timer = setInterval(() => {
        checkSilentHostsNow().catch((error: unknown) =>
          stackLog.error('scheduled supervisor silent-host check failed', { error: String(error) }),
        );
      }, checkMinutes * 60_000);
      timer.unref();
      cleanups.push(async () => clearInterval(timer));
    }

    const workerSweepMinutes = options.workerSweepIntervalMinutes ?? 0;
    if (workerSweepMinutes > 0) {
      const timer = setInterval(() => {
        sweepWorkersNow().catch((error: unknown) =>
          stackLog.error('scheduled worker sweep failed', { error: String(error) }),
        );
      }, workerSweepMinutes * 60_000);
      timer.unref();
      cleanups.push(async () => clearInterval(timer));
    }

    info = {
      apiUrl: gateway.url,
      dynamoEndpoint: emulators.dynamoEndpoint,
      sqsEndpoint: emulators.sqsEndpoint,
      eventsEndpoint: bus.endpoint,
      region: LOCAL_REGION,
      tableName: LOCAL_TABLE_NAME,
      busName: LOCAL_BUS_NAME,
      dataDir: dataDir ?? null,
      lanes: queues,
      maxReceiveCount: laneSettings.maxReceiveCount,
      runnerEventDeadLetterQueueUrl: runnerEventDlq.queueUrl,
      workers: {
        environment: LOCAL_ENVIRONMENT,
        sites: workerLanes,
        delegationEnabledDefault: workerSettings.delegationEnabledDefault,
        heartbeatStaleMultiple: workerSettings.heartbeatStaleMultiple,
        stuckTaskMinutes: workerOptions.stuckTaskMinutes,
        runtimeEnvironment: workerRuntimeEnv,
        eventsDeadLetterQueueUrl: workerEventDlq.queueUrl,
      },
    };
    let stopping: Promise<void> | undefined;
    return {
      info,
      startupMs: Math.round(performance.now() - startedAt),
      sweepNow,
      checkSilentHostsNow,
      sweepWorkersNow,
      stop: () => {
        stopping ??= stopAll();
        return stopping;
      },
    };
  } catch (error) {
    await stopAll();
    throw error;
  }
}

/** Fails fast, naming the port, before anything is started. */
async function assertPortsFree(
  ports: readonly (readonly [PortInUseError['service'], number])[],
): Promise<void> {
  for (const [service, port] of ports) {
    if (port === 0) continue;
    await new Promise<void>((resolvePort, reject) => {
      const probe = createServer();
      probe.once('error', (error: NodeJS.ErrnoException) =>
        reject(error.code === 'EADDRINUSE' ? new PortInUseError(service, port, { cause: error }) : error),
      );
      probe.listen(port, '127.0.0.1', () => probe.close(() => resolvePort()));
    });
  }
}

function isDataError(error: unknown): boolean {
  const text = `${(error as Error)?.message ?? ''} ${String((error as Error)?.cause ?? '')}`;
  return (
    /sqlite|database|corrupt|malformed|file is not|EmulatorStart|did not answer/i.test(text) ||
    (error as Error)?.name === 'EmulatorStartError'
  );
}

export const LOCAL_SDK_ENVIRONMENT = (info: LocalStackInfo) => ({
  AWS_REGION: info.region,
  AWS_ACCESS_KEY_ID: LOCAL_CREDENTIALS.accessKeyId,
  AWS_SECRET_ACCESS_KEY: LOCAL_CREDENTIALS.secretAccessKey,
  AWS_ENDPOINT_URL_DYNAMODB: info.dynamoEndpoint,
  AWS_ENDPOINT_URL_SQS: info.sqsEndpoint,
  AWS_ENDPOINT_URL_EVENTBRIDGE: info.eventsEndpoint,
});
