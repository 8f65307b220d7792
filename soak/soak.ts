/**
 * The chaos soak: starts the local stack as a user does, drives mixed commands through the API
 * and producers while killing the whole stack with SIGKILL and restarting it on the same data
 * folder, waits until everything settled, then checks every accepted command (check.ts).
 */
import { spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { BatchGetItemCommand, type DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { GetQueueAttributesCommand, type QueueAttributeName, type SQSClient } from '@aws-sdk/client-sqs';
import { unmarshall } from '@aws-sdk/util-dynamodb';
import { LANES, type LaneName } from '#contracts/lanes.js';
import { KEY_STATUS, RUN_STATUS } from '#contracts/lifecycle.js';
import { keys } from '#contracts/tables.js';
import { connectLocalApi } from '#local/demo/local-api.js';
import { localDynamoDbClient, localSqsClient } from '#local/emulators/clients.js';
import type { LocalStackInfo } from '#local/stack/start-local-stack.js';
import { checkSoak, type Verdict } from './check.js';
import { readDeadLetters, readExecutions, scanTable } from './collect.js';
import { drive, REQUEST_TIMEOUT_MS, StackGate } from './driver.js';
import { Ledger, type SendCounts } from './ledger.js';
import { planSoak } from './plan.js';
import { seededRandom } from './random.js';
import { freePorts, StackProcess, sleep } from './stack-process.js';

const PROJECT_ROOT = fileURLToPath(new URL('../', import.meta.url));

export interface SoakOptions {
  /** Planned commands (approval decisions that follow high-impact messages come on top). */
  readonly commands: number;
  /** SIGKILLs of the whole stack, at random moments of the sending. */
  readonly kills: number;
  readonly seed: number;
  /** Work folder (the stack's data folder, its logs, the report); undefined: a new temporary folder. */
  readonly dir: string | undefined;
  /** Commands in flight at once. @default 24 */
  readonly concurrency?: number;
  /** Sending pauses while the lanes hold more visible messages than this. @default 400 */
  readonly maxBacklog?: number;
  /** drill.hang commands among `commands`. @default commands / 1000, between 2 and 10 */
  readonly hangs?: number;
  /** The stack's `--visibility-timeout`. @default the stack's default */
  readonly visibilityTimeoutSeconds?: number;
  /** Give up waiting for everything to settle after this long. @default 300 */
  readonly settleTimeoutSeconds?: number;
  /**
   * Run the anomaly sweep (the deployed schedule's code, `POST /_local/sweep`) once when the lanes
   * stayed empty `sweepAfterSeconds` while commands were still open. @default true
   */
  readonly sweep?: boolean;
  /** @default 45 */
  readonly sweepAfterSeconds?: number;
  /** A progress line this often. @default 5 */
  readonly progressSeconds?: number;
}

export interface SoakReport {
  readonly seed: number;
  readonly commandsPlanned: number;
  readonly dir: string;
  readonly sends: SendCounts;
  readonly sendErrors: readonly string[];
  readonly kills: number;
  readonly starts: number;
  /** The stack exited without being killed or stopped by the soak. */
  readonly unexpectedExits: number;
  readonly settled: boolean;
  /** Whether the sweep ran, and how many of the commands open before it were terminal after. */
  readonly sweep: { readonly ran: boolean; readonly openBefore: number; readonly closedAfter: number };
  /** `runlane dlq list --json` against the stack at the end. */
  readonly dlqList: { readonly ok: boolean; readonly deadLetters?: number; readonly error?: string };
  readonly verdict: Verdict;
  readonly seconds: { readonly total: number; readonly sending: number; readonly settling: number };
  /** Why the soak failed; empty when it passed. */
  readonly failures: readonly string[];
  readonly passed: boolean;
}

/** A soak that could not run to its check (the stack would not start again, …). */
export class SoakAbortedError extends Error {
  public constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = 'SoakAbortedError';
  }
}

/**
 * @example
 * const report = await runSoak({ commands: 1000, kills: 1, seed: 7, dir: undefined }, console.log);
 * report.passed; // lost, stuck and duplicate effects all 0
 */
export async function runSoak(options: SoakOptions, progress: (line: string) => void): Promise<SoakReport> {
  const startedAt = Date.now();
  const dir = options.dir ? resolve(options.dir) : mkdtempSync(join(tmpdir(), 'runlane-soak-'));
  const dataDir = join(dir, 'data');
  mkdirSync(dataDir, { recursive: true });
  const elapsed = () => `${((Date.now() - startedAt) / 1000).toFixed(0).padStart(4)}s`;
  const say = (line: string) => progress(`[${elapsed()}] ${line}`);

  let unexpectedExits = 0;
  let fatal: Error | undefined;
  let chaos: Promise<void> = Promise.resolve();
  let kills = 0;
  const gate = new StackGate();
  const stack = new StackProcess({
    dataDir,
    logDir: dir,
    ports: await freePorts(),
    visibilityTimeoutSeconds: options.visibilityTimeoutSeconds,
    onUnexpectedExit: (code) => {
      unexpectedExits += 1;
      gate.close();
      say(`the stack exited on its own (${code}); restarting it`);
      chaos = chaos.then(() => restart('after an unexpected exit'));
    },
  });
  const restart = async (why: string) => {
    if (fatal) return;
    const at = Date.now();
    try {
      await stack.start();
      gate.open();
      say(`stack restarted ${why} in ${((Date.now() - at) / 1000).toFixed(1)} s (start ${stack.starts})`);
    } catch (error) {
      fatal = new SoakAbortedError(`the stack did not start again ${why}: ${(error as Error).message}`, {
        cause: error,
      });
      say(fatal.message);
      // Let every waiting send go on, see the abort and stop.
      gate.open();
    }
  };

  say(`seed ${options.seed}: starting the local stack in ${dataDir}`);
  const info = await stack.start();
  gate.open();
  say(`stack up (pid ${stack.pid}); logs in ${dir}/stack-<n>.log`);
  const sqs = localSqsClient(info.sqsEndpoint);
  const dynamo = localDynamoDbClient(info.dynamoEndpoint);
  const lanes = LANES.map((lane) => {
    const queues = info.lanes[lane.name];
    if (!queues) throw new SoakAbortedError(`the stack names no queues for lane ${lane.name}`);
    return { lane: lane.name, queueUrl: queues.queueUrl, dlqUrl: queues.dlqUrl };
  });
  const random = seededRandom(options.seed);
  const hangs = options.hangs ?? Math.min(10, Math.max(2, Math.round(options.commands / 1000)));
  const plan = planSoak(random, {
    count: options.commands,
    kills: options.kills,
    hangs: Math.min(hangs, options.commands),
    maxReceiveCount: info.maxReceiveCount,
  });
  const ledger = new Ledger();
  const depth = { visible: 0, inFlight: 0, delayed: 0 };
  const sampler = startSampler(sqs, lanes, gate, depth);
  const progressEvery = (options.progressSeconds ?? 5) * 1000;
  let lastProgress = 0;
  const report = (phase: string, extra = '') => {
    if (Date.now() - lastProgress < progressEvery) return;
    lastProgress = Date.now();
    const c = ledger.counts;
    say(
      `${phase}: sent ${c.sent}/${plan.commands.length}, accepted ${ledger.accepted.size}, kills ${kills}/${options.kills}, ` +
        `lanes ${depth.visible} visible ${depth.inFlight} in flight${extra}`,
    );
  };
  const ticker = setInterval(() => report('sending'), 500);

  const sendStart = Date.now();
  try {
    await drive({
      plan,
      random,
      // The stack restarts on the same data folder and ports: the same auth folder, tokens and credentials.
      api: await connectLocalApi(info.apiUrl, info, { timeoutMs: REQUEST_TIMEOUT_MS }),
      sqs,
      queueUrls: Object.fromEntries(lanes.map((l) => [l.lane, l.queueUrl])) as Record<LaneName, string>,
      maxReceiveCount: info.maxReceiveCount,
      gate,
      ledger,
      concurrency: options.concurrency ?? 24,
      backlog: () => depth.visible,
      maxBacklog: options.maxBacklog ?? 400,
      retryForMs: 180_000,
      aborted: () => fatal !== undefined,
      kill: (index) => {
        chaos = chaos.then(async () => {
          if (fatal) return;
          gate.close();
          const pid = stack.pid;
          await stack.kill();
          kills += 1;
          say(`kill ${kills}: SIGKILL to the stack's process group (pid ${pid}) at command ${index}`);
          await restart(`after kill ${kills}`);
        });
      },
    });
    await chaos;
  } finally {
    clearInterval(ticker);
  }
  const sendSeconds = (Date.now() - sendStart) / 1000;
  if (fatal) {
    sampler.stop();
    await stack.stop();
    throw fatal;
  }
  say(
    `sending done in ${sendSeconds.toFixed(0)} s: ${ledger.accepted.size} accepted, ${kills} kills; waiting for the lanes to settle`,
  );

  const settleStart = Date.now();
  const settle = await settleLanes({
    info,
    dynamo,
    gate,
    depth,
    pending: new Set([...ledger.accepted.values()].filter((c) => !c.poison).map((c) => c.commandId)),
    timeoutMs: (options.settleTimeoutSeconds ?? 300) * 1000,
    sweep: options.sweep ?? true,
    sweepAfterMs: (options.sweepAfterSeconds ?? 45) * 1000,
    progress: (line) => {
      if (Date.now() - lastProgress < progressEvery) return;
      lastProgress = Date.now();
      say(line);
    },
    aborted: () => fatal !== undefined,
  });
  await chaos;
  sampler.stop();
  const settleSeconds = (Date.now() - settleStart) / 1000;
  say(
    settle.settled ? 'settled; checking every accepted command' : 'did not settle in time; checking anyway',
  );

  const dlqList = await runlaneDlqList(info.apiUrl);
  const observed = {
    ...(await scanTable(dynamo, info.tableName)),
    deadLetters: await readDeadLetters(
      sqs,
      lanes.map((l) => ({ lane: l.lane, dlqUrl: l.dlqUrl })),
    ),
    ...readExecutions(dataDir),
  };
  await stack.stop();
  // What was accepted, for a look at one command after the soak (report.json holds the figures).
  writeFileSync(join(dir, 'accepted.json'), `${JSON.stringify([...ledger.accepted.values()], null, 1)}\n`);
  const verdict = checkSoak({
    accepted: [...ledger.accepted.values()],
    clientKeys: ledger.clientKeys,
    observed,
    killedPids: new Set(stack.killedPids),
  });
  const sweptClosed = settle.sweptOpen.filter((id) => {
    const run = observed.runs.get(id);
    return run !== undefined && isTerminalRun(run);
  }).length;
  const failures = [
    ...(verdict.lost > 0 ? [`${verdict.lost} lost`] : []),
    ...(verdict.stuck > 0 ? [`${verdict.stuck} stuck`] : []),
    ...(verdict.duplicateEffects > 0 ? [`${verdict.duplicateEffects} duplicate effects`] : []),
    ...(verdict.conflicting > 0 ? [`${verdict.conflicting} with conflicting terminal states`] : []),
    ...(verdict.missingEffects > 0 ? [`${verdict.missingEffects} completed without their effect`] : []),
    ...(kills < options.kills ? [`only ${kills} of ${options.kills} kills happened`] : []),
    ...(unexpectedExits > 0 ? [`the stack exited on its own ${unexpectedExits} time(s)`] : []),
    ...(dlqList.ok ? [] : [`runlane dlq list failed: ${dlqList.error}`]),
  ];
  return {
    seed: options.seed,
    commandsPlanned: plan.commands.length,
    dir,
    sends: { ...ledger.counts },
    sendErrors: ledger.sendErrors,
    kills,
    starts: stack.starts,
    unexpectedExits,
    settled: settle.settled,
    sweep: { ran: settle.swept, openBefore: settle.sweptOpen.length, closedAfter: sweptClosed },
    dlqList,
    verdict,
    seconds: {
      total: Math.round((Date.now() - startedAt) / 1000),
      sending: Math.round(sendSeconds),
      settling: Math.round(settleSeconds),
    },
    failures,
    passed: failures.length === 0,
  };
}

/** Terminal as far as the run item tells (the final check also looks at signals kept apart and DLQs). */
function isTerminalRun(run: { status?: unknown; keyStatus?: unknown }): boolean {
  return (
    run.keyStatus === KEY_STATUS.Rejected ||
    (run.keyStatus === KEY_STATUS.Completed &&
      (run.status === RUN_STATUS.Completed || run.status === RUN_STATUS.NeedsReview))
  );
}

interface LaneQueueUrls {
  readonly lane: string;
  readonly queueUrl: string;
}

/** Samples the lanes' depth every second while the stack is up. */
function startSampler(
  sqs: SQSClient,
  lanes: readonly LaneQueueUrls[],
  gate: StackGate,
  depth: { visible: number; inFlight: number; delayed: number },
): { stop(): void } {
  let running = true;
  void (async () => {
    while (running) {
      if (gate.isUp) {
        try {
          Object.assign(depth, await laneDepth(sqs, lanes));
        } catch {
          // the stack went down under the request; the next sample will tell
        }
      }
      await sleep(1_000);
    }
  })();
  return {
    stop: () => {
      running = false;
    },
  };
}

async function laneDepth(
  sqs: SQSClient,
  lanes: readonly LaneQueueUrls[],
): Promise<{ visible: number; inFlight: number; delayed: number }> {
  const all = await Promise.all(
    lanes.map((lane) =>
      sqs.send(
        new GetQueueAttributesCommand({
          QueueUrl: lane.queueUrl,
          AttributeNames: [
            'ApproximateNumberOfMessages',
            'ApproximateNumberOfMessagesNotVisible',
            'ApproximateNumberOfMessagesDelayed',
          ],
        }),
      ),
    ),
  );
  const sum = (name: QueueAttributeName) =>
    all.reduce((total, r) => total + Number(r.Attributes?.[name] ?? 0), 0);
  return {
    visible: sum('ApproximateNumberOfMessages'),
    inFlight: sum('ApproximateNumberOfMessagesNotVisible'),
    delayed: sum('ApproximateNumberOfMessagesDelayed'),
  };
}

/**
 * Waits until the lanes are empty (nothing visible, in flight or delayed) and every accepted
 * command's run is terminal, or until nothing moved for a long while, or the timeout.
 */
async function settleLanes(input: {
  readonly info: LocalStackInfo;
  readonly dynamo: DynamoDBClient;
  readonly gate: StackGate;
  readonly depth: { visible: number; inFlight: number; delayed: number };
  readonly pending: Set<string>;
  readonly timeoutMs: number;
  readonly sweep: boolean;
  readonly sweepAfterMs: number;
  readonly progress: (line: string) => void;
  readonly aborted: () => boolean;
}): Promise<{ settled: boolean; swept: boolean; sweptOpen: string[] }> {
  const { pending, depth } = input;
  const deadline = Date.now() + input.timeoutMs;
  // With the lanes empty, nothing moves any more once the sweep (if any) had a minute to act.
  const quietLimitMs = 60_000;
  let emptySince: number | undefined;
  let lastChange = Date.now();
  let stable = 0;
  let swept = false;
  let sweptOpen: string[] = [];
  while (Date.now() < deadline && !input.aborted()) {
    await input.gate.wait();
    const before = pending.size;
    try {
      await forgetTerminal(input.dynamo, input.info.tableName, pending);
    } catch {
      // the stack is restarting; try again
    }
    const queued = depth.visible + depth.inFlight + depth.delayed;
    if (queued > 0 || pending.size !== before) lastChange = Date.now();
    emptySince = queued === 0 ? (emptySince ?? Date.now()) : undefined;
    if (queued === 0 && pending.size === 0) {
      stable += 1;
      if (stable >= 3) return { settled: true, swept, sweptOpen };
    } else {
      stable = 0;
    }
    if (input.sweep && !swept && emptySince !== undefined && Date.now() - emptySince >= input.sweepAfterMs) {
      swept = true;
      sweptOpen = [...pending];
      const answer = await fetch(`${input.info.apiUrl}/_local/sweep`, { method: 'POST' }).catch(
        () => undefined,
      );
      input.progress(
        `lanes empty for ${input.sweepAfterMs / 1000} s with ${pending.size} command(s) open: ran the anomaly sweep (${answer?.status ?? 'no answer'})`,
      );
      lastChange = Date.now();
    }
    if ((swept || !input.sweep) && queued === 0 && Date.now() - lastChange > quietLimitMs) break;
    input.progress(
      `settling: ${pending.size} command(s) not terminal yet, lanes ${depth.visible} visible ${depth.inFlight} in flight ${depth.delayed} delayed`,
    );
    await sleep(1_000);
  }
  return { settled: false, swept, sweptOpen };
}

/** Drops from `pending` the commands whose run is terminal (BatchGetItem, 100 keys a call). */
async function forgetTerminal(
  dynamo: DynamoDBClient,
  tableName: string,
  pending: Set<string>,
): Promise<void> {
  const ids = [...pending];
  for (let start = 0; start < ids.length; start += 100) {
    let requestKeys = ids.slice(start, start + 100).map((id) => {
      const key = keys.run(id);
      return { pk: { S: key.pk }, sk: { S: key.sk } };
    });
    while (requestKeys.length > 0) {
      const answer = await dynamo.send(
        new BatchGetItemCommand({
          RequestItems: {
            [tableName]: {
              Keys: requestKeys,
              ProjectionExpression: 'commandId, #status, keyStatus',
              ExpressionAttributeNames: { '#status': 'status' },
              ConsistentRead: true,
            },
          },
        }),
      );
      for (const item of answer.Responses?.[tableName] ?? []) {
        const run = unmarshall(item);
        if (isTerminalRun(run)) pending.delete(String(run.commandId));
      }
      requestKeys = (answer.UnprocessedKeys?.[tableName]?.Keys ?? []) as typeof requestKeys;
    }
  }
}

/** `runlane dlq list --json` against the stack, as an operator would run it after the soak. */
async function runlaneDlqList(apiUrl: string): Promise<SoakReport['dlqList']> {
  return new Promise((resolveList) => {
    const child = spawn(process.execPath, ['bin/runlane.mjs', 'dlq', 'list', '--api-url', apiUrl, '--json'], {
      cwd: PROJECT_ROOT,
      stdio: ['ignore', 'pipe', 'pipe'],
      timeout: 120_000,
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => {
      stdout += chunk.toString();
    });
    child.stderr.on('data', (chunk: Buffer) => {
      stderr += chunk.toString();
    });
    child.once('error', (error) => resolveList({ ok: false, error: error.message }));
    child.once('exit', (code) => {
      if (code !== 0) {
        resolveList({ ok: false, error: `exit ${code}: ${stderr.trim().split('\n').slice(-3).join(' | ')}` });
        return;
      }
      try {
        resolveList({ ok: true, deadLetters: (JSON.parse(stdout) as unknown[]).length });
      } catch (error) {
        resolveList({ ok: false, error: `unreadable output: ${(error as Error).message}` });
      }
    });
  });
}
