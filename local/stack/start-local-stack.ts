/**
 * The whole of Runlane on one machine: DynamoDB Local, the SQS emulator, a
 * PutEvents endpoint whose rules (`EVENT_RULES`) invoke the same handler code
 * as their Lambda targets (agent events → the runner event ingest), one
 * event-source-mapping poller per lane running the same worker code as Lambda,
 * the API behind a local HTTP API gateway (its authorizers verifying JWTs of a
 * local issuer and SigV4 against local credentials, kept in `<dataDir>/auth`), and timers standing in for the
 * schedules (the anomaly sweep, the supervisor silent-host check). Worker
 * delegation (seed 004): one task lane per site for `runlane-agent worker`, the
 * `WORKER_*` settings for the API and lane workers, and worker bus events
 * (WorkerHeartbeat, WorkerResult) routed to the worker ingest.
 * Lanes, queues and the table come from the same definitions as the CDK stack.
 *
 * Each subsystem is a module of this folder; this one starts them in order and
 * hands back the stack.
 */

import type { SilentHostsResult } from '#core/supervisor/silent-hosts.js';
import type { WorkerSweepResult } from '#core/workers/sweep.js';
import { startStackApi } from './api.js';
import { openStackAuth } from './auth.js';
import { startStackBus } from './bus.js';
import type { StackContext } from './context.js';
import { openDataFolder } from './data-folder.js';
import { stackClients, startStackEmulators } from './emulators.js';
import { type LocalStackInfo, stackInfo } from './info.js';
import { startLanePollers } from './lane-pollers.js';
import type { LocalStackOptions } from './options.js';
import { preflight } from './preflight.js';
import { provisionStackResources } from './resources.js';
import { buildStackChecks, scheduleChecks } from './scheduled-checks.js';
import { StackShutdown } from './shutdown.js';
import { stackTelemetry } from './telemetry.js';
import { localWorkerRuntime, resolveLocalWorkerOptions } from './workers.js';

// The public surface of the local stack, wherever each piece lives.
export { LOCAL_SDK_ENVIRONMENT, type LocalStackInfo } from './info.js';
export type { LocalStackOptions } from './options.js';
export { EPHEMERAL_STACK_OPTIONS } from './options.js';

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

/**
 * Starts every subsystem; a failure part-way stops what had started and throws.
 * Stopping runs in reverse: the schedules, the API, the lane pollers, the bus, the emulators.
 *
 * @example
 * const stack = await startLocalStack({ config: devConfig(), apiPort: 0, dynamoPort: 0, sqsPort: 0,
 *   eventsPort: 0, dataDir: undefined, visibilityTimeoutSeconds: 2, sweepIntervalMinutes: 0 });
 * await fetch(`${stack.info.apiUrl}/_local/info`);
 * await stack.stop();
 */
export async function startLocalStack(options: LocalStackOptions): Promise<LocalStack> {
  const startedAt = performance.now();
  await preflight(options);
  const folder = openDataFolder(options);
  const telemetry = stackTelemetry(options.pretty);
  const log = telemetry.log('runlane-local');
  const emulators = await startStackEmulators(options, folder);
  const shutdown = new StackShutdown();
  shutdown.add(() => emulators.stop());
  try {
    const auth = await openStackAuth(folder, shutdown);
    const clients = stackClients(emulators);
    const context: StackContext = { options, clients, telemetry, log, shutdown };
    const workerOptions = resolveLocalWorkerOptions(options.config, options.workers);
    const resources = await provisionStackResources(
      clients,
      {
        maxReceiveCount: options.config.lanes.maxReceiveCount,
        visibilityTimeoutSeconds: options.visibilityTimeoutSeconds,
        workers: workerOptions,
      },
      folder,
    );
    const workerRuntime = localWorkerRuntime(workerOptions, resources.workerLanes);
    const workers = workerRuntime.settings;
    const bus = await startStackBus(context, resources);
    startLanePollers(context, { lanes: resources.lanes, workers, eventBridge: bus.eventBridge });
    const checks = buildStackChecks(context, resources.lanes, workers);
    let info: LocalStackInfo;
    const apiUrl = await startStackApi(context, {
      auth,
      lanes: resources.lanes,
      workers,
      checks,
      info: () => info,
    });
    scheduleChecks(context, checks);
    info = stackInfo({
      endpoints: {
        apiUrl,
        dynamoEndpoint: emulators.dynamoEndpoint,
        sqsEndpoint: emulators.sqsEndpoint,
        eventsEndpoint: bus.endpoint,
      },
      dataDir: folder.path,
      authDir: auth.dir,
      maxReceiveCount: options.config.lanes.maxReceiveCount,
      resources,
      workerOptions,
      workerRuntime,
    });
    return {
      info,
      startupMs: Math.round(performance.now() - startedAt),
      ...checks,
      stop: () => shutdown.stop(),
    };
  } catch (error) {
    await shutdown.stop();
    throw error;
  }
}
