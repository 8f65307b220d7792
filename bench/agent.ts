/**
 * Agent figures for `npm run bench` (issues 6, 18): what `runlane-agent run` as shipped (the
 * bundle as the package starts it, bench/shipped-agent.ts) costs while it watches a quiet child, how late it notices a stall past the idle deadline, and how fast
 * the offline spool is written and replayed. Run alone with `npx tsx bench/agent.ts`.
 */
import { spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { fileURLToPath } from 'node:url';
import { AgentReporter } from '#agent/reporter/agent-reporter.js';
import { EventBridgeSender } from '#agent/reporter/event-bridge-sender.js';
import { createAgentEventBridgeClient } from '#agent/reporter/setup.js';
import { runnerConfigSchema } from '#agent/runner/config.js';
import { RunnerMetrics } from '#agent/runner/metrics.js';
import { runCommand } from '#agent/runner/run-command.js';
import { OfflineSpool } from '#agent/spool/index.js';
import { AGENT_DETAIL_TYPES, type AgentBusEvent } from '#contracts/agent-events.js';
import { LOCAL_CREDENTIALS, LOCAL_REGION } from '#local/emulators/clients.js';
import { startLocalEventBus } from '#local/emulators/event-bus.js';
import { cpuTicks, delay, percentile, round, rss } from './proc.js';
import { buildAgentBundle, shippedAgent } from './shipped-agent.js';

const projectRoot = fileURLToPath(new URL('../', import.meta.url));
/** A child that never writes and never exits. */
const QUIET_CHILD = ['-e', 'setInterval(() => {}, 1 << 30)'];

export interface IdleWatchResult {
  readonly windowMs: number;
  /** The agent's node process (the shipped bundle, reporting on to a local bus). */
  readonly rssMiB: number;
  /** CPU time of the agent process over the window, as % of one core. */
  readonly cpuPercentOfOneCore: number;
}

export interface AgentBenchResult {
  /**
   * `runlane-agent run` as shipped: the bundle as the package's launcher starts it
   * (bench/shipped-agent.ts), and the same bundle under plain `node` with no launcher settings.
   */
  readonly idleWatch: { readonly shipped: IdleWatchResult; readonly plainNode: IdleWatchResult };
  readonly detection: {
    readonly runs: number;
    readonly idleMs: number;
    /** Detection time minus the idle deadline. */
    readonly latencyMs: { readonly median: number; readonly p99: number; readonly max: number };
    /** Deadline to the whole process tree gone (SIGTERM honoured). */
    readonly deadlineToTreeGoneMs: { readonly median: number; readonly p99: number };
  };
  readonly spool: {
    readonly events: number;
    readonly writesPerSecond: number;
    /** Replay to a PutEvents endpoint on 127.0.0.1 over HTTP (SigV4, batches of 10), files deleted after the acknowledgement. */
    readonly replayToBusPerSecond: number;
  };
}

export async function measureAgent(
  options: {
    readonly detectionRuns?: number;
    readonly spoolEvents?: number;
    readonly log?: (line: string) => void;
  } = {},
): Promise<AgentBenchResult> {
  const log = options.log ?? (() => {});
  log('  agent: idle-watching a quiet child …');
  buildAgentBundle();
  const idleWatch = {
    shipped: await measureIdleWatch({ plain: false }, 5_000),
    plainNode: await measureIdleWatch({ plain: true }, 5_000),
  };
  log('  agent: detection latency …');
  const detection = await measureDetection(options.detectionRuns ?? 60, 100);
  log('  agent: spool write and replay …');
  const spool = await measureSpool(options.spoolEvents ?? 1_000);
  return { idleWatch, detection, spool };
}

/** The shipped agent watching a silent child: RSS and CPU from /proc over `windowMs`, after start-up settles. */
async function measureIdleWatch(
  how: { readonly plain: boolean },
  windowMs: number,
): Promise<IdleWatchResult> {
  const dir = await mkdtemp(join(tmpdir(), 'bench-agent-'));
  const bus = await startLocalEventBus();
  const launch = shippedAgent(
    [
      'run',
      '--config',
      fileURLToPath(new URL('../config/runner.json', import.meta.url)),
      '--command-type',
      'bench',
      '--environment',
      'dev',
      '--idle-ms',
      '600000',
      '--hard-ms',
      '600000',
      '--metrics-port',
      '0',
      '--spool-dir',
      join(dir, 'spool'),
      '--evidence-file',
      join(dir, 'stall-events.jsonl'),
      '--',
      process.execPath,
      ...QUIET_CHILD,
    ],
    {
      ...process.env,
      AWS_ENDPOINT_URL_EVENTBRIDGE: bus.endpoint,
      AWS_REGION: LOCAL_REGION,
      AWS_ACCESS_KEY_ID: LOCAL_CREDENTIALS.accessKeyId,
      AWS_SECRET_ACCESS_KEY: LOCAL_CREDENTIALS.secretAccessKey,
    },
    how,
  );
  const agent = spawn(launch.command, launch.args, { cwd: projectRoot, stdio: 'ignore', env: launch.env });
  try {
    await delay(2_000); // start-up settles; measure the steady state
    const pid = agent.pid as number;
    const before = await cpuTicks(pid);
    await delay(windowMs);
    const after = await cpuTicks(pid);
    const rssKiB = await rss(pid);
    const ticksPerSecond = 100; // USER_HZ on Linux
    return {
      windowMs,
      rssMiB: round(rssKiB / 1024, 1),
      cpuPercentOfOneCore: round(((after - before) / ticksPerSecond / (windowMs / 1000)) * 100, 2),
    };
  } finally {
    agent.kill('SIGTERM');
    await new Promise((resolve) => agent.once('close', resolve));
    await bus.stop();
    await rm(dir, { recursive: true, force: true });
  }
}

/** `runCommand` (the code the bin runs) on a silent child, `runs` times: how long past the idle deadline the stall is seen. */
async function measureDetection(runs: number, idleMs: number): Promise<AgentBenchResult['detection']> {
  const dir = await mkdtemp(join(tmpdir(), 'bench-detect-'));
  const latencies: number[] = [];
  const treeGone: number[] = [];
  const sink = () =>
    new Writable({
      write: (_chunk, _encoding, done) => done(),
    });
  try {
    for (let i = 0; i < runs; i++) {
      const labels = { environment: 'bench', host: 'bench-host', commandType: 'quiet' };
      const started = performance.now();
      const { report } = runCommand(
        {
          command: process.execPath,
          args: QUIET_CHILD,
          labels,
          timeouts: { idleMs, hardMs: 60_000, killGraceMs: 1_000 },
          rootCause: runnerConfigSchema.parse({
            defaults: { idleMs, hardMs: 1, killGraceMs: 0 },
            environments: {},
          }).rootCause,
          stdout: sink(),
          stderr: sink(),
          stdin: 'ignore',
        },
        {
          hostSampler: async () => ({ load1: 0, cores: 2, cpuPressure: 0, ioPressure: 0 }),
          evidence: { file: join(dir, 'stall-events.jsonl'), append: async () => {} },
          metrics: new RunnerMetrics(labels),
          log: () => {},
        },
      );
      const result = await report;
      const done = performance.now();
      const elapsed = result.event?.elapsedMs;
      if (elapsed === undefined) throw new Error('the quiet child did not stall');
      latencies.push(elapsed - idleMs);
      treeGone.push(done - started - idleMs);
    }
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
  return {
    runs,
    idleMs,
    latencyMs: {
      median: percentile(latencies, 50),
      p99: percentile(latencies, 99),
      max: Math.max(...latencies),
    },
    deadlineToTreeGoneMs: {
      median: round(percentile(treeGone, 50), 1),
      p99: round(percentile(treeGone, 99), 1),
    },
  };
}

/** Spools `events` run summaries (atomic, fsynced writes), then replays them to the local PutEvents endpoint. */
async function measureSpool(events: number): Promise<AgentBenchResult['spool']> {
  const dir = await mkdtemp(join(tmpdir(), 'bench-spool-'));
  const bus = await startLocalEventBus();
  const client = createAgentEventBridgeClient(
    {
      ...runnerConfigSchema.parse({ defaults: { idleMs: 1, hardMs: 1, killGraceMs: 0 }, environments: {} })
        .reporting,
      region: LOCAL_REGION,
    },
    { endpoint: bus.endpoint, credentials: LOCAL_CREDENTIALS },
  );
  try {
    const spool = new OfflineSpool({ directory: join(dir, 'spool'), maxBytes: 512 * 1024 * 1024 });
    await spool.open();
    const writeStart = performance.now();
    for (let i = 0; i < events; i++) {
      const event: AgentBusEvent = {
        detailType: AGENT_DETAIL_TYPES.runSummary,
        detail: {
          id: randomUUID(),
          ts: new Date().toISOString(),
          host: 'bench-host',
          environment: 'bench',
          commandType: 'build',
          outcome: 'success',
          exitCode: 0,
          durationMs: 1_000 + i,
        },
      };
      await spool.write({ payloadType: 'run_summary', id: event.detail.id, body: event });
    }
    const writeSeconds = (performance.now() - writeStart) / 1000;
    const reporter = new AgentReporter({
      sender: new EventBridgeSender({ client, busName: 'runlane-bench-telemetry' }),
      spool,
      replayIntervalMs: 60_000,
      log: () => {},
    });
    const replayStart = performance.now();
    const flushed = await reporter.flush();
    const replaySeconds = (performance.now() - replayStart) / 1000;
    if (flushed.delivered !== events || bus.events.length !== events) {
      throw new Error(`replay delivered ${flushed.delivered} of ${events} (bus saw ${bus.events.length})`);
    }
    return {
      events,
      writesPerSecond: Math.round(events / writeSeconds),
      replayToBusPerSecond: Math.round(events / replaySeconds),
    };
  } finally {
    client.destroy();
    await bus.stop();
    await rm(dir, { recursive: true, force: true });
  }
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const result = await measureAgent({ log: console.log });
  console.log(JSON.stringify(result, null, 2));
}
