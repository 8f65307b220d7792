/**
 * The stack's stand-ins for the deployed schedules, each runnable on demand and, when its
 * interval is above 0, on a timer: the nightly anomaly sweep (enqueued on its lane), the
 * supervisor silent-host check (for each of dev, staging and prod) and the worker sweep.
 */
import { randomUUID } from 'node:crypto';
import { SendMessageCommand } from '@aws-sdk/client-sqs';
import type { LaneName } from '#contracts/lanes.js';
import { NIGHTLY_SWEEP_LANE, nightlySweepEnvelope } from '#contracts/nightly-sweep.js';
import type { SilentHostsResult } from '#core/supervisor/silent-hosts.js';
import { noopMetricsRecorder } from '#core/telemetry/ports.js';
import type { WorkerSettings } from '#core/workers/settings.js';
import type { WorkerSweepResult } from '#core/workers/sweep.js';
import { ENVIRONMENT_NAMES } from '#lib/config/environment-config.js';
import { buildSupervisorSilentHostsCheck } from '#wiring/supervisor-silent-hosts.js';
import { buildWorkerSweep } from '#wiring/worker-sweep.js';
import type { StackContext } from './context.js';
import { LOCAL_ENVIRONMENT, LOCAL_TABLE_NAME } from './options.js';
import type { LaneQueues } from './provision.js';
import { flushingAfter } from './telemetry.js';

export interface StackChecks {
  /** Enqueues an `anomaly.sweep` now; returns its commandId. */
  sweepNow(): Promise<string>;
  /** Runs the supervisor silent-host check now for each of dev, staging and prod. */
  checkSilentHostsNow(): Promise<SilentHostsResult[]>;
  /** Runs the worker sweep of the local environment now. */
  sweepWorkersNow(): Promise<WorkerSweepResult>;
}

/** Builds the three checks; nothing runs until one is called or `scheduleChecks` starts the timers. */
export function buildStackChecks(
  context: StackContext,
  lanes: Readonly<Record<LaneName, LaneQueues>>,
  workers: WorkerSettings,
): StackChecks {
  return {
    sweepNow: nightlySweep(context, lanes[NIGHTLY_SWEEP_LANE as LaneName].queueUrl),
    checkSilentHostsNow: silentHostsChecks(context),
    sweepWorkersNow: workerSweep(context, workers),
  };
}

/** Starts a timer for each check whose interval is above 0; a failed run is logged and the timer goes on. */
export function scheduleChecks(context: StackContext, checks: StackChecks): void {
  const { options } = context;
  every(context, options.sweepIntervalMinutes, checks.sweepNow, 'scheduled sweep failed');
  every(
    context,
    options.silentHostsCheckIntervalMinutes ?? 0,
    checks.checkSilentHostsNow,
    'scheduled supervisor silent-host check failed',
  );
  every(
    context,
    options.workerSweepIntervalMinutes ?? 0,
    checks.sweepWorkersNow,
    'scheduled worker sweep failed',
  );
}

function every(context: StackContext, minutes: number, run: () => Promise<unknown>, failure: string): void {
  if (!(minutes > 0)) return;
  const timer = setInterval(() => {
    run().catch((error: unknown) => context.log.error(failure, { error: String(error) }));
  }, minutes * 60_000);
  timer.unref();
  context.shutdown.add(async () => clearInterval(timer));
}

function nightlySweep(context: StackContext, queueUrl: string): () => Promise<string> {
  return async () => {
    const commandId = randomUUID();
    await context.clients.sqs.send(
      new SendMessageCommand({
        QueueUrl: queueUrl,
        MessageBody: JSON.stringify(nightlySweepEnvelope(commandId, new Date().toISOString())),
      }),
    );
    context.log.info('anomaly sweep enqueued', { commandId, lane: NIGHTLY_SWEEP_LANE });
    return commandId;
  };
}

/**
 * The deployed check serves one environment; the local stack stands in for all of them, with the
 * dev config's `alarms.supervisor.silentHosts.staleMinutes`. They run one after another.
 */
function silentHostsChecks(context: StackContext): () => Promise<SilentHostsResult[]> {
  const checks = ENVIRONMENT_NAMES.map((environment) => {
    const metrics = context.telemetry.metrics('runlane-supervisor-silent-hosts', { environment });
    const check = buildSupervisorSilentHostsCheck(
      {
        environment,
        tableName: LOCAL_TABLE_NAME,
        staleMinutes: context.options.config.alarms.supervisor.silentHosts.staleMinutes,
      },
      context.clients,
      context.telemetry.log('runlane-supervisor-silent-hosts'),
      metrics ?? noopMetricsRecorder,
    );
    return () => flushingAfter(metrics, check);
  });
  return async () => {
    const results: SilentHostsResult[] = [];
    for (const check of checks) results.push(await check());
    return results;
  };
}

/** The deployed `worker-sweep` schedule's code, for the local environment. */
function workerSweep(context: StackContext, workers: WorkerSettings): () => Promise<WorkerSweepResult> {
  const metrics = context.telemetry.metrics('runlane-worker-sweep');
  const sweep = buildWorkerSweep(
    {
      environment: LOCAL_ENVIRONMENT,
      tableName: LOCAL_TABLE_NAME,
      staleMultiple: workers.heartbeatStaleMultiple,
      stuckAfterMs: workers.stuckTaskAfterMs,
    },
    context.clients,
    context.telemetry.log('runlane-worker-sweep'),
    metrics ?? noopMetricsRecorder,
  );
  return () => flushingAfter(metrics, sweep);
}
