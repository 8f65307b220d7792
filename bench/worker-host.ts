/**
 * What the worker benchmark (bench/workers.ts) needs to host one real `runlane-agent worker`: the
 * in-process local stack with worker delegation, a temporary folder for its config and spool, a
 * JSON client for the local API, the task records, and the agent bin as a child process. Built
 * from product code only (local/, functions/); the tests keep their own fixtures.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { DynamoDbWorkerTaskStore } from '#adapters/dynamodb/worker-task-store.js';
import { parseRunlaneConfig } from '#lib/config/environment-config.js';
import { connectLocalApi, type LocalApi } from '#local/demo/local-api.js';
import { localDynamoDbClient } from '#local/emulators/clients.js';
import { EPHEMERAL_STACK_OPTIONS, startLocalStack } from '#local/stack/start-local-stack.js';
import { createDocumentClient } from '#wiring/clients.js';
import { buildAgentBundle, shippedAgent } from './shipped-agent.js';

const projectRoot = fileURLToPath(new URL('../', import.meta.url));

type StackOptions = Parameters<typeof startLocalStack>[0];
type BenchLocalStack = Awaited<ReturnType<typeof startLocalStack>>;

/** The local stack with worker delegation, as the worker benchmark drives it. */
export interface WorkerHost {
  readonly stack: BenchLocalStack;
  /** A fresh folder for the worker config and spool; removed by `stop`. */
  readonly dir: string;
  /** The worker task records (no API route reads them). */
  readonly tasks: DynamoDbWorkerTaskStore;
  /** The local API as each caller reaches it (household tokens, operator and worker SigV4). */
  readonly api: LocalApi;
  /** A JSON request to the local API as the operator (SigV4); `body` is the parsed answer. */
  call(method: string, path: string, body?: unknown): Promise<{ status: number; body: unknown }>;
  stop(): Promise<void>;
}

/**
 * The `dev` environment at its defaults (region us-east-1) but with no batching window, so each
 * command reaches its lane worker at once.
 */
function benchEnvironmentConfig(): StackOptions['config'] {
  const region = { region: 'us-east-1' };
  return parseRunlaneConfig({
    environments: {
      dev: { ...region, lanes: { maxBatchingWindowSeconds: 0 } },
      staging: region,
      prod: region,
    },
  }).environments.dev;
}

/**
 * Starts the local stack in this process: every port chosen by the OS, nothing on disk, no sweep
 * timer, redelivery after 2 s, people-readable logs, `workers` as given.
 */
export async function startWorkerHost(workers: NonNullable<StackOptions['workers']>): Promise<WorkerHost> {
  const dir = await mkdtemp(join(tmpdir(), 'bench-workers-'));
  let stack: BenchLocalStack;
  try {
    stack = await startLocalStack({
      config: benchEnvironmentConfig(),
      ...EPHEMERAL_STACK_OPTIONS,
      pretty: true,
      workers,
    });
  } catch (error) {
    await rm(dir, { recursive: true, force: true });
    throw error;
  }
  const { info } = stack;
  const dynamo = localDynamoDbClient(info.dynamoEndpoint);
  const tasks = new DynamoDbWorkerTaskStore({
    client: createDocumentClient(dynamo),
    tableName: info.tableName,
    environment: info.workers.environment,
  });
  const api = await connectLocalApi(info.apiUrl, info);
  return {
    stack,
    dir,
    tasks,
    api,
    async call(method, path, body) {
      const { status, body: answer } = await api.operator(method, path, body);
      return { status, body: answer };
    },
    async stop() {
      dynamo.destroy();
      await stack.stop();
      await rm(dir, { recursive: true, force: true });
    },
  };
}

/** Writes `config` as `<dir>/<name>.json`; returns its path. */
export async function writeWorkerConfig(dir: string, name: string, config: unknown): Promise<string> {
  const file = join(dir, `${name}.json`);
  await writeFile(file, `${JSON.stringify(config, null, 2)}\n`);
  return file;
}

/** A running `runlane-agent worker` (the shipped bundle, bench/shipped-agent.ts, a child process). */
export interface WorkerAgent {
  readonly child: ChildProcess;
  /** stderr so far (its log, JSON lines with `--json`). */
  stderr(): string;
  /** Resolves once `count` JSON log lines have `event: name`; fails if the process exits first. */
  waitForEvents(name: string, count: number, timeoutMs: number): Promise<void>;
  /** Sends `signal` (unless it already exited) and resolves once it closed. */
  stop(signal?: NodeJS.Signals): Promise<void>;
}

/** Agents still running when this process exits are SIGKILLed: no worker outlives the benchmark. */
const runningAgents = new Set<ChildProcess>();
process.once('exit', () => {
  for (const agent of runningAgents) agent.kill('SIGKILL');
});

/**
 * Starts `runlane-agent worker --config <file> --json` as the package starts it (the bundle of this
 * tree, built first) from the project root with exactly `env` (and the launcher's settings); it is
 * SIGKILLed after `killAfterMs` (a backstop).
 */
export function spawnWorkerAgent(
  configFile: string,
  options: { readonly env: Record<string, string>; readonly killAfterMs: number },
): WorkerAgent {
  buildAgentBundle();
  const launch = shippedAgent(['worker', '--config', configFile, '--json'], options.env);
  const child = spawn(launch.command, launch.args, {
    cwd: projectRoot,
    env: launch.env,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  child.stdout?.resume(); // drained, as a terminal would read it; the worker logs to stderr
  runningAgents.add(child);
  let stderr = '';
  const waiters = new Set<() => void>();
  child.stderr?.on('data', (chunk: Buffer) => {
    stderr += chunk.toString();
    for (const waiter of waiters) waiter();
  });
  const timer = setTimeout(() => child.kill('SIGKILL'), options.killAfterMs);
  const closed = new Promise<void>((resolve) => {
    child.once('error', () => resolve());
    child.once('close', () => {
      clearTimeout(timer);
      runningAgents.delete(child);
      for (const waiter of waiters) waiter();
      resolve();
    });
  });
  const exited = (): boolean => child.exitCode !== null || child.signalCode !== null;
  /** JSON log lines (complete ones only: a chunk may end mid-line) with `event: name`. */
  const countEvents = (name: string): number =>
    stderr
      .split('\n')
      .slice(0, -1)
      .filter((line) => line.startsWith('{') && eventOf(line) === name).length;

  return {
    child,
    stderr: () => stderr,
    waitForEvents: (name, count, timeoutMs) =>
      new Promise((resolve, reject) => {
        const check = (): void => {
          if (countEvents(name) >= count) done(resolve);
          else if (exited())
            done(() => reject(new Error(`worker exited before ${count} ${name} events:\n${stderr}`)));
        };
        const limit = setTimeout(
          () =>
            done(() => reject(new Error(`no ${count} ${name} events within ${timeoutMs} ms:\n${stderr}`))),
          timeoutMs,
        );
        const done = (settle: () => void): void => {
          clearTimeout(limit);
          waiters.delete(check);
          settle();
        };
        waiters.add(check);
        check();
      }),
    async stop(signal = 'SIGTERM') {
      if (!exited()) child.kill(signal);
      await closed;
    },
  };
}

function eventOf(line: string): unknown {
  try {
    return (JSON.parse(line) as { event?: unknown }).event;
  } catch {
    return undefined;
  }
}

/** This process's environment without anything that would point the worker at AWS or elsewhere. */
export function inheritedEnv(): Record<string, string> {
  const env: Record<string, string> = {};
  for (const [key, value] of Object.entries(process.env)) {
    if (value === undefined || /^(AWS_|WORKER_|RUNLANE_|POWERTOOLS_)/.test(key)) continue;
    env[key] = value;
  }
  return env;
}
