import { createHash, randomUUID } from 'node:crypto';
import { chmod, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SendMessageCommand } from '@aws-sdk/client-sqs';
import { GetCommand, PutCommand } from '@aws-sdk/lib-dynamodb';
import { DynamoDbActionExecutor } from '#adapters/dynamodb/action-executor.js';
import { DynamoDbWorkerTaskStore } from '#adapters/dynamodb/worker-task-store.js';
import { keys } from '#contracts/tables.js';
import type { WorkerResultEnvelope } from '#contracts/worker-contract.js';
import { connectLocalApi, type LocalApi, type LocalApiCall } from '#local/demo/local-api.js';
import { localDynamoDbClient, localSqsClient } from '#local/emulators/clients.js';
import { pendingApprovalItems } from '#local/stack/seed-approval.js';
import type { LocalStack } from '#local/stack/start-local-stack.js';
import { type LocalWorkerOptions, localWorkerConfig } from '#local/stack/workers.js';
import { createDocumentClient } from '#wiring/clients.js';
import { spawnAgent, type WorkerProcess } from '../agent/fixtures/worker-harness.js';
import { environmentConfig } from '../infra/support.js';
import { runRunlaneBin } from './local-cli.js';
import { startTestLocalStack } from './test-local-stack.js';

/**
 * The local stack as `npm start` runs it, with worker delegation, driven the way an operator
 * and a host drive it: commands through the API (household users with tokens of the local
 * issuer, the operator and worker hosts SigV4-signed with their local credentials), real
 * `runlane-agent worker` processes on the sites' task lanes with their own worker credentials,
 * the real `runlane` CLI. Reads that have no API route (the task record, the action history, a
 * stored result envelope) go to DynamoDB Local directly.
 */

/** A run as `GET /api/v1/runs/{runId}` returns it (the fields the tests read). */
export interface RunView {
  readonly runId: string;
  readonly commandId: string;
  readonly commandType: string;
  readonly status: 'Running' | 'Completed' | 'NeedsReview';
  readonly stages: readonly { name: string; outcomeCode?: string; rationale?: string }[];
  readonly signals: readonly { type: string; code?: string; RequiresHumanReview?: boolean }[];
  readonly result?: Record<string, unknown>;
}

/** `GET /api/workers/health` (the fields the tests read). */
export interface HealthView {
  readonly workers: readonly {
    readonly worker_id: string;
    readonly site: string;
    readonly status: 'online' | 'offline' | 'stopped';
    readonly last_seen: string;
    readonly heartbeat_age_ms: number;
    readonly executing: number;
    readonly offline_backlog: { readonly files: number; readonly bytes: number };
  }[];
  readonly queue: { readonly total: number };
}

/** `GET /api/workers/metrics` (the fields the tests read). */
export interface MetricsView {
  readonly workers: readonly {
    readonly worker_id: string;
    readonly status: 'online' | 'offline' | 'stopped';
    readonly heartbeat_freshness_ms: number;
    readonly offline_backlog: { readonly files: number; readonly bytes: number };
  }[];
}

export interface WorkerLocal {
  readonly stack: LocalStack;
  /** A fresh folder for configs, scripts and spools; removed by `stop`. */
  readonly dir: string;
  readonly tasks: DynamoDbWorkerTaskStore;
  readonly actions: DynamoDbActionExecutor;
  /** The local API as each kind of caller reaches it (household token, operator or worker SigV4). */
  readonly api: LocalApi;
  /** A JSON request to the local API as the operator (SigV4); `body` is the parsed answer. */
  call(method: string, path: string, body?: unknown): Promise<{ status: number; body: unknown }>;
  /** A JSON request as the worker host `workerId` of `site` (SigV4 with its local credentials). */
  worker(site: string, workerId: string): LocalApiCall;
  /** `GET /api/workers/health`. */
  health(): Promise<HealthView>;
  /** `GET /api/workers/metrics`. */
  metrics(): Promise<MetricsView>;
  /** Polls the run until `done` holds (default: not Running), then returns it. */
  waitForRun(runId: string, done?: (run: RunView) => boolean, timeoutMs?: number): Promise<RunView>;
  /** Polls a delegated run until its worker's result closed its `delegated` stage (or its deadline did). */
  waitForResult(runId: string, timeoutMs?: number): Promise<RunView>;
  /**
   * A message through the API → its approval request → approved through the API; the approval's
   * run once its lane worker is done with it: terminal, or Running in its `delegated` stage.
   */
  approveMessage(text: string, householdId?: string): Promise<RunView>;
  /**
   * A Pending approval of `action` written as `agent.message.posted` writes one (no proposal rule
   * makes plugin actions), then approved through the API; the approval's run as `approveMessage` returns it.
   */
  approveAction(
    action: string,
    parameters: Record<string, string | number>,
    householdId?: string,
  ): Promise<RunView>;
  /** The stored result envelope of `<taskId>#1#<payloadType>`. */
  storedResult(taskId: string, payloadType: string): Promise<WorkerResultEnvelope | undefined>;
  /** Sends a copy of the task's message to its site's lane (SQS delivers at least once). */
  redeliver(taskId: string): Promise<void>;
  /** Writes a worker config for `site` and starts `runlane-agent worker --config … --json`. */
  startWorker(site: string, workerId: string, extra?: Record<string, unknown>): Promise<WorkerProcess>;
  /** Lets every running `slow` script finish. */
  releaseSlowScripts(): Promise<void>;
  /** The real `runlane` CLI (`bin/runlane.mjs`) against this stack. */
  runlane(...args: string[]): Promise<{ status: number | null; stdout: string; stderr: string }>;
  stop(): Promise<void>;
}

/** Allowlisted test scripts, written at start into the temporary folder. */
export const TEST_SCRIPTS = {
  /** Prints its task id. */
  hello: '#!/bin/sh\necho "hello from $RUNLANE_TASK_ID"\n',
  /** Appends "<task id> <pid>" to the marker file: one line per execution. */
  marker: '#!/bin/sh\necho "$RUNLANE_TASK_ID $$" >> "$MARKER_FILE"\nsleep 1\n',
  /** Runs until the test releases it (`releaseSlowScripts`): a task in executing that holds its message in flight. */
  slow: '#!/bin/sh\nwhile [ ! -e "$RELEASE_FILE" ]; do sleep 0.1; done\necho released\n',
} as const;

export async function startWorkerLocal(
  options: { readonly workers?: LocalWorkerOptions } = {},
): Promise<WorkerLocal> {
  const dir = await mkdtemp(join(tmpdir(), 'workers-e2e-'));
  const markerFile = join(dir, 'markers');
  const releaseFile = join(dir, 'release');
  const scripts: Record<string, unknown> = {};
  for (const [name, text] of Object.entries(TEST_SCRIPTS)) {
    const path = join(dir, `${name}.sh`);
    await writeFile(path, text);
    await chmod(path, 0o755);
    scripts[name] = {
      path,
      // The allowlist pins each script's bytes.
      sha256: createHash('sha256').update(text).digest('hex'),
      timeoutMs: 30_000,
      env: { MARKER_FILE: markerFile, RELEASE_FILE: releaseFile },
    };
  }
  const stack = await startTestLocalStack({
    // No batching window: each command reaches its lane worker at once.
    config: environmentConfig({ lanes: { maxBatchingWindowSeconds: 0 } }),
    ...(options.workers ? { workers: options.workers } : {}),
  });
  const { info } = stack;
  const documents = createDocumentClient(localDynamoDbClient(info.dynamoEndpoint));
  const sqs = localSqsClient(info.sqsEndpoint);
  const tableName = info.tableName;
  const tasks = new DynamoDbWorkerTaskStore({
    client: documents,
    tableName,
    environment: info.workers.environment,
  });
  const actions = new DynamoDbActionExecutor({ client: documents, tableName });
  const workers: WorkerProcess[] = [];
  const api = await connectLocalApi(info.apiUrl, info);

  const call = async (method: string, path: string, body?: unknown) => {
    const { status, body: answer } = await api.operator(method, path, body);
    return { status, body: answer };
  };
  const read = async <T>(path: string): Promise<T> => {
    const answer = await call('GET', path);
    if (answer.status !== 200)
      throw new Error(`${path} answered ${answer.status}: ${JSON.stringify(answer.body)}`);
    return answer.body as T;
  };

  const waitForRun = async (
    runId: string,
    done: (run: RunView) => boolean = (run) => run.status !== 'Running',
    timeoutMs = 20_000,
  ): Promise<RunView> => {
    const deadline = Date.now() + timeoutMs;
    let last: unknown;
    while (Date.now() < deadline) {
      const answer = await call('GET', `/api/v1/runs/${runId}`);
      last = answer.body;
      if (answer.status === 200 && done(answer.body as RunView)) return answer.body as RunView;
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    throw new Error(`run ${runId} did not get there within ${timeoutMs} ms: ${JSON.stringify(last)}`);
  };

  /** Approved by an approver of the household (decidedBy: the token's subject). */
  const decide = async (conversationId: string, approvalId: string, householdId: string) => {
    const decided = await api.household(householdId, 'approver')(
      'POST',
      `/api/v1/agent/conversations/${conversationId}/approvals/${approvalId}`,
      { decision: 'approve' },
    );
    if (decided.status !== 202)
      throw new Error(`approval answered ${decided.status}: ${JSON.stringify(decided.body)}`);
    return waitForRun((decided.body as { commandId: string }).commandId, laneDone);
  };

  return {
    stack,
    dir,
    tasks,
    actions,
    api,
    call,
    worker: (site, workerId) => api.worker(site, workerId),
    health: () => read<HealthView>('/api/workers/health'),
    metrics: () => read<MetricsView>('/api/workers/metrics'),
    waitForRun,
    waitForResult: (runId, timeoutMs) => waitForRun(runId, resultIn, timeoutMs),
    async approveMessage(text, householdId = `hh-${randomUUID().slice(0, 8)}`) {
      const conversationId = `conv-${randomUUID().slice(0, 8)}`;
      const posted = await api.household(householdId)(
        'POST',
        `/api/v1/agent/conversations/${conversationId}/messages`,
        { text },
      );
      if (posted.status !== 202)
        throw new Error(`message answered ${posted.status}: ${JSON.stringify(posted.body)}`);
      const run = await waitForRun((posted.body as { commandId: string }).commandId);
      const approvalId = (run.result?.approvalIds as string[] | undefined)?.[0];
      if (approvalId === undefined)
        throw new Error(`no approval requested for "${text}": ${JSON.stringify(run)}`);
      return decide(conversationId, approvalId, householdId);
    },
    async approveAction(action, parameters, householdId = `hh-${randomUUID().slice(0, 8)}`) {
      const conversationId = `conv-${randomUUID().slice(0, 8)}`;
      const { approvalId, items } = pendingApprovalItems({
        householdId,
        conversationId,
        requestedBy: randomUUID(),
        action: { action, impact: 'high', summary: `${action} on site ${parameters.site}`, parameters },
        now: new Date(),
      });
      for (const Item of items) await documents.send(new PutCommand({ TableName: tableName, Item }));
      return decide(conversationId, approvalId, householdId);
    },
    async storedResult(taskId, payloadType) {
      const key = `${taskId}#1#${payloadType}`;
      const item = await documents.send(
        new GetCommand({ TableName: tableName, Key: keys.workerResult(key, taskId), ConsistentRead: true }),
      );
      return item.Item?.envelope as WorkerResultEnvelope | undefined;
    },
    async redeliver(taskId) {
      const task = await tasks.get(taskId);
      if (!task) throw new Error(`no task ${taskId}`);
      const lane = info.workers.sites[task.site];
      if (!lane) throw new Error(`no lane for site ${task.site}`);
      await sqs.send(
        new SendMessageCommand({ QueueUrl: lane.queueUrl, MessageBody: JSON.stringify(task.message) }),
      );
    },
    async startWorker(site, workerId, extra = {}) {
      const { config, env } = await localWorkerConfig(info, site, {
        workerId,
        pollWaitSeconds: 1,
        heartbeatIntervalMs: 1_000,
        replayIntervalMs: 200,
        apiRequestTimeoutMs: 2_000,
        visibilityTimeoutSeconds: 30,
        spoolDirectory: join(dir, `spool-${workerId}`),
        scripts,
        plugins: ['echo', 'disk_usage'],
        ...extra,
      });
      const file = join(dir, `${workerId}.json`);
      await writeFile(file, `${JSON.stringify(config, null, 2)}\n`);
      const worker = spawnAgent(['worker', '--config', file, '--json'], {
        env: {
          ...inheritedEnv(),
          ...env,
        },
        killAfterMs: 120_000,
      });
      workers.push(worker);
      await worker.waitForEvents('worker_registered', 1, 20_000);
      return worker;
    },
    runlane: (...args) => runlane([...args, '--api-url', info.apiUrl]),
    releaseSlowScripts: () => writeFile(releaseFile, ''),
    async stop() {
      await writeFile(releaseFile, '');
      await Promise.all(
        workers.map(async (worker) => {
          // A worker stopped with SIGSTOP would never see the SIGTERM.
          worker.child.kill('SIGCONT');
          await worker.stop('SIGTERM');
        }),
      );
      sqs.destroy();
      await stack.stop();
      await rm(dir, { recursive: true, force: true });
    },
  };
}

/** This process's environment without anything that would point a child at AWS or another worker. */
function inheritedEnv(): Record<string, string> {
  const env: Record<string, string> = {};
  for (const [key, value] of Object.entries(process.env)) {
    if (value === undefined || /^(AWS_|WORKER_|RUNLANE_|POWERTOOLS_)/.test(key)) continue;
    env[key] = value;
  }
  return env;
}

/** The lane worker is done with the command: a terminal run, or one waiting in its `delegated` stage. */
function laneDone(run: RunView): boolean {
  return run.status !== 'Running' || run.stages.some((stage) => stage.name === 'delegated');
}

/** A delegated run whose `delegated` stage was closed (by its worker's result or its deadline). */
function resultIn(run: RunView): boolean {
  return run.stages.some((stage) => stage.name === 'delegated' && stage.outcomeCode !== undefined);
}

/** The real `runlane` CLI in a child process (this process serves the stack it calls). */
function runlane(args: readonly string[]) {
  return runRunlaneBin(args, { env: inheritedEnv(), settleOn: 'close' });
}

/** Resolves once `predicate` holds, polling; fails naming `what`. */
export async function eventually<T>(
  read: () => Promise<T> | T,
  predicate: (value: T) => boolean,
  what: string,
  timeoutMs = 15_000,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: T | undefined;
  while (Date.now() < deadline) {
    last = await read();
    if (predicate(last)) return last;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  throw new Error(`no ${what} within ${timeoutMs} ms (last: ${JSON.stringify(last)})`);
}
