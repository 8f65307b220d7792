/**
 * Worker figures for `npm run bench` (issue 8): the round trip of a delegated `collect_facts` task
 * on the local stack with delegation on and ONE real `runlane-agent worker` process (transport
 * `api`, 1 s long poll) for site `lab`, and what that worker process costs (RSS, CPU while idle).
 * Run alone with `npx tsx bench/workers.ts`. The stack and the worker process are hosted by
 * ./worker-host.ts (product code only, nothing of test/).
 *
 * Enqueue, as the system does it: the approval of a pending `collect_facts` action is POSTed to the
 * API (`/api/v1/agent/conversations/{id}/approvals/{approvalId}`); its `agent.approval.decided`
 * command goes through its lane, whose delegation branch writes the `queued` task record and sends
 * the task message to the site's lane. The pending approval itself is written beforehand, outside
 * the timed window, as `agent.message.posted` writes it (the message → proposal step is a command
 * of its own, not part of the task's round trip).
 *
 * t0 = just before the approval POST; t1 = the task record read `succeeded` (polled every 10 ms).
 * The result envelope, the task, the run and the action history are written in one transaction
 * (worker-reconcile.ts), so `succeeded` means the result is reconciled.
 */
import { randomUUID } from 'node:crypto';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { PutCommand } from '@aws-sdk/lib-dynamodb';
import { COLLECT_FACTS_ACTION, workerTaskIdFor } from '#core/workers/delegation.js';
import { localDynamoDbClient } from '#local/emulators/clients.js';
import { pendingApprovalItems } from '#local/stack/seed-approval.js';
import { localWorkerConfig } from '#local/stack/workers.js';
import { createDocumentClient } from '#wiring/clients.js';
import { cpuTicks, delay, percentile, round, rss } from './proc.js';
import {
  inheritedEnv,
  spawnWorkerAgent,
  startWorkerHost,
  type WorkerAgent,
  type WorkerHost,
  writeWorkerConfig,
} from './worker-host.js';

const SITE = 'lab';
const WORKER_ID = 'bench-lab-1';
const TICKS_PER_SECOND = 100; // USER_HZ on Linux
const IDLE_WINDOW_MS = 5_000;
const START_TIMEOUT_MS = 60_000;
const TASK_TIMEOUT_MS = 30_000;
const POLL_MS = 10;

/** What the printed section calls the measured span. */
export const WORKERS_ROUND_TRIP_LABEL = 'approval POSTed to the API → task succeeded (result reconciled)';

export interface WorkersBenchResult {
  readonly roundTripMs: {
    readonly median: number;
    readonly p99: number;
    readonly max: number;
    readonly tasks: number;
  };
  /** VmRSS of the `runlane-agent worker` node process (the shipped bundle, bench/shipped-agent.ts) after the run. */
  readonly workerRssMiB: number;
  /** CPU time of the worker process over a 5 s idle window after the run, as % of one core. */
  readonly workerCpuPercentOfOneCore?: number;
  readonly idleWindowMs: number;
  readonly pollWaitSeconds: number;
}

export async function measureWorkers(
  options: { readonly tasks?: number; readonly log?: (line: string) => void } = {},
): Promise<WorkersBenchResult> {
  const log = options.log ?? (() => {});
  const tasks = options.tasks ?? 50;
  const pollWaitSeconds = 1;
  const unmute = muteStackInfoLines();
  let local: WorkerHost | undefined;
  let worker: WorkerAgent | undefined;
  const dynamo = { client: undefined as ReturnType<typeof localDynamoDbClient> | undefined };
  try {
    log(`  workers: local stack with site ${SITE}, delegation on …`);
    const starting = startWorkerHost({ sites: [SITE], delegationEnabled: true });
    local = await withTimeout(starting, START_TIMEOUT_MS, 'the local stack did not start').catch(
      (error: unknown) => {
        // Started after all, too late: stop it once it is up.
        starting.then((late) => late.stop()).catch(() => undefined);
        throw error;
      },
    );
    const { info } = local.stack;
    dynamo.client = localDynamoDbClient(info.dynamoEndpoint);
    const documents = createDocumentClient(dynamo.client);

    const { config, env } = await localWorkerConfig(info, SITE, {
      workerId: WORKER_ID,
      transport: 'api',
      pollWaitSeconds,
      heartbeatIntervalMs: 30_000,
      apiRequestTimeoutMs: 5_000,
      spoolDirectory: join(local.dir, `spool-${WORKER_ID}`),
    });
    const file = await writeWorkerConfig(local.dir, WORKER_ID, config);
    worker = spawnWorkerAgent(file, {
      env: {
        ...inheritedEnv(),
        ...env,
      },
      killAfterMs: 30 * 60_000, // a backstop only; stopped in `finally`
    });
    await worker.waitForEvents('worker_registered', 1, START_TIMEOUT_MS);
    const pid = worker.child.pid;
    if (pid === undefined) throw new Error('runlane-agent worker has no pid');

    const enabled = await local.call('PUT', '/api/workers/delegation', {
      enabled: true,
      changed_by: 'bench',
    });
    const flag = enabled.body as { enabled?: boolean; online_workers?: number } | undefined;
    if (enabled.status !== 200 || flag?.enabled !== true || flag.online_workers !== 1)
      throw new Error(`switching delegation on answered ${enabled.status}: ${JSON.stringify(enabled.body)}`);

    log(`  workers: ${tasks} collect_facts tasks, one after another …`);
    const latencies: number[] = [];
    for (let i = 0; i < tasks; i++) {
      const householdId = `hh-bench-${i % 17}`;
      const conversationId = `conv-${randomUUID().slice(0, 8)}`;
      // The pending approval (and its Completed requesting run) as agent.message.posted writes it
      // for "collect facts on site lab".
      const { approvalId, items } = pendingApprovalItems({
        householdId,
        conversationId,
        requestedBy: randomUUID(),
        action: {
          action: COLLECT_FACTS_ACTION,
          impact: 'high',
          summary: `collect host facts on site ${SITE}`,
          parameters: { site: SITE },
        },
        now: new Date(),
      });
      for (const Item of items) await documents.send(new PutCommand({ TableName: info.tableName, Item }));

      const t0 = performance.now();
      // An approver of the household decides (decidedBy: the token's subject).
      const decided = await local.api.household(householdId, 'approver')(
        'POST',
        `/api/v1/agent/conversations/${conversationId}/approvals/${approvalId}`,
        { decision: 'approve' },
      );
      if (decided.status !== 202)
        throw new Error(
          `task ${i + 1}: approval answered ${decided.status}: ${JSON.stringify(decided.body)}`,
        );
      const commandId = (decided.body as { commandId: string }).commandId;
      const taskId = workerTaskIdFor(commandId, approvalId);
      const deadline = t0 + TASK_TIMEOUT_MS;
      let status: string | undefined;
      for (;;) {
        status = (await local.tasks.get(taskId))?.status;
        if (status === 'succeeded') break;
        if (status === 'failed')
          throw new Error(
            `task ${i + 1} (${taskId}) failed: ${JSON.stringify(await local.tasks.get(taskId))}`,
          );
        if (worker.child.exitCode !== null || worker.child.signalCode !== null)
          throw new Error(`runlane-agent worker exited during task ${i + 1}:\n${tail(worker.stderr())}`);
        if (performance.now() > deadline)
          throw new Error(
            `task ${i + 1} (${taskId}) not succeeded within ${TASK_TIMEOUT_MS} ms (last status: ${status ?? 'no task record'}); worker stderr:\n${tail(worker.stderr())}`,
          );
        await delay(POLL_MS);
      }
      latencies.push(performance.now() - t0);
    }

    log(`  workers: settling, then a ${IDLE_WINDOW_MS / 1000} s idle window …`);
    await delay(1_000);
    const before = await cpuTicks(pid);
    await delay(IDLE_WINDOW_MS);
    const after = await cpuTicks(pid);
    const rssKiB = await rss(pid);
    return {
      roundTripMs: {
        median: round(percentile(latencies, 50), 1),
        p99: round(percentile(latencies, 99), 1),
        max: round(Math.max(...latencies), 1),
        tasks,
      },
      workerRssMiB: round(rssKiB / 1024, 1),
      workerCpuPercentOfOneCore: round(
        ((after - before) / TICKS_PER_SECOND / (IDLE_WINDOW_MS / 1000)) * 100,
        2,
      ),
      idleWindowMs: IDLE_WINDOW_MS,
      pollWaitSeconds,
    };
  } finally {
    if (worker) {
      const stopping = worker.stop('SIGTERM');
      const stopped = await Promise.race([stopping.then(() => true), delay(20_000).then(() => false)]);
      if (!stopped) {
        worker.child.kill('SIGKILL');
        await stopping.catch(() => undefined);
      }
    }
    dynamo.client?.destroy();
    await local?.stop();
    unmute();
  }
}

/**
 * The in-process local stack logs every step to stdout (its pretty logger); while it runs, INFO
 * lines are dropped so the bench output stays readable (WARN and ERROR lines still show).
 */
function muteStackInfoLines(): () => void {
  const original = process.stdout.write;
  const infoLine = /^\d\d:\d\d:\d\d\.\d{3} \S*INFO /; // time, level (colored on a TTY)
  process.stdout.write = function (this: NodeJS.WriteStream, chunk: unknown, ...rest: unknown[]): boolean {
    if (typeof chunk === 'string' && infoLine.test(chunk)) return true;
    return (original as (...args: unknown[]) => boolean).call(this, chunk, ...rest);
  } as typeof process.stdout.write;
  return () => {
    process.stdout.write = original;
  };
}

const tail = (text: string): string => text.split('\n').slice(-20).join('\n');

async function withTimeout<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what} within ${ms} ms`)), ms);
  });
  try {
    return await Promise.race([promise, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const result = await measureWorkers({ log: console.log });
  console.log(JSON.stringify(result, null, 2));
}
