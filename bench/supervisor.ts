/**
 * Supervisor figures for `npm run bench`: what `runlane-agent supervise` costs while it keeps
 * 50 quiet children running (RSS, CPU, control loop turns), and how fast it restarts a child
 * after a crash (SIGKILL → `restarted` log line; median, p99), from the shipped bundle
 * (bench/shipped-agent.ts). Run alone with
 * `npx tsx bench/supervisor.ts`.
 */
import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { CurrentStateResponse, HealthResponse } from '#agent/control/protocol.js';
import type { SupervisorCurrentState, SupervisorHealth } from '#agent/supervisor/handle.js';
import { LOCAL_CREDENTIALS, LOCAL_REGION } from '#local/emulators/clients.js';
import { startLocalEventBus } from '#local/emulators/event-bus.js';
import { cpuTicks, delay, percentile, round, rss } from './proc.js';
import { AGENT_BUNDLE, buildAgentBundle, shippedAgent } from './shipped-agent.js';

const projectRoot = fileURLToPath(new URL('../', import.meta.url));
/** A child that never writes and never exits. */
const QUIET_CHILD = ['-e', 'setInterval(() => {}, 1 << 30)'];
const TICKS_PER_SECOND = 100; // USER_HZ on Linux
/** The supervisor's default control loop tick (not set in the idle config). */
const DEFAULT_CONTROL_LOOP_INTERVAL_MS = 100;

const READY_TIMEOUT_MS = 60_000;
const RESTART_TIMEOUT_MS = 10_000;
const EXIT_TIMEOUT_MS = 20_000;
const CTL_TIMEOUT_MS = 15_000;

export interface SupervisorBenchResult {
  readonly idle: {
    readonly children: number;
    readonly windowMs: number;
    readonly controlLoopIntervalMs: number;
    /** The supervisor's node process (the shipped bundle as the package starts it, bench/shipped-agent.ts; reporting on to a local bus). */
    readonly rssMiB: number;
    /** CPU time of the supervisor process over the window, as % of one core (children not included). */
    readonly cpuPercentOfOneCore: number;
    /** Sum of the children's VmRSS, for context (each is a bare `node -e`). */
    readonly childrenRssMiB: number;
    /** `control_loop_iterations` per second of `uptime_secs` across the window. */
    readonly controlLoopIterationsPerSecond: number;
    /** SIGTERM → exit 0, every child gone. */
    readonly shutdownMs: number;
  };
  readonly restart: {
    readonly crashes: number;
    /** SIGKILL of the child → the supervisor's `restarted child=… pid=…` line read from its stderr. */
    readonly latencyMs: { readonly median: number; readonly p99: number; readonly max: number };
  };
}

export async function measureSupervisor(
  options: {
    readonly children?: number;
    readonly crashes?: number;
    readonly log?: (line: string) => void;
  } = {},
): Promise<SupervisorBenchResult> {
  const log = options.log ?? (() => {});
  const children = options.children ?? 50;
  const crashes = options.crashes ?? 100;
  log(`  supervisor: ${children} quiet children …`);
  buildAgentBundle();
  const idle = await measureIdle(children, 5_000, log);
  log(`  supervisor: restart latency over ${crashes} crashes …`);
  const restart = await measureRestart(crashes);
  return { idle, restart };
}

/** The real bin supervising `children` silent children: RSS and CPU from /proc over `windowMs`. */
async function measureIdle(
  children: number,
  windowMs: number,
  log: (line: string) => void,
): Promise<SupervisorBenchResult['idle']> {
  const dir = await mkdtemp(join(tmpdir(), 'bench-supervisor-'));
  const bus = await startLocalEventBus();
  const socket = join(dir, 'supervisor.sock');
  let supervisor: SupervisorProcess | undefined;
  let childPids: number[] = [];
  try {
    const config = join(dir, 'supervisor.json');
    await writeFile(
      config,
      JSON.stringify({
        environment: 'bench',
        host: 'bench-host',
        dashboard: { path: socket },
        pidFile: join(dir, 'supervisor.pid.json'),
        crashReportDirectory: dir,
        healthIntervalMs: 30_000,
        reporting: { enabled: true, spoolDirectory: join(dir, 'spool') },
        children: Array.from({ length: children }, (_, i) => ({
          name: `quiet-${i}`,
          command: process.execPath,
          args: QUIET_CHILD,
          restart: 'permanent',
        })),
      }),
    );
    supervisor = startSupervisorProcess(config, {
      AWS_ENDPOINT_URL_EVENTBRIDGE: bus.endpoint,
      AWS_REGION: LOCAL_REGION,
      AWS_ACCESS_KEY_ID: LOCAL_CREDENTIALS.accessKeyId,
      AWS_SECRET_ACCESS_KEY: LOCAL_CREDENTIALS.secretAccessKey,
    });
    const running = supervisor;
    await waitUntil(
      async () => {
        if (running.exit !== undefined) throw running.error('exited before it was ready');
        const health = await ctlHealth(socket).catch(() => undefined); // socket not bound yet
        return health?.status === 'ready' && health.children.running === children;
      },
      READY_TIMEOUT_MS,
      () => running.error(`not ready with ${children} running children`),
    );
    const state = await ctlState(socket);
    childPids = state.child_runtime_records.flatMap((record) => (record.pid === null ? [] : [record.pid]));
    if (childPids.length !== children)
      throw new Error(`current_state lists ${childPids.length} child pids, expected ${children}`);
    log(`  supervisor: ready, ${children} children running; settling, then a ${windowMs / 1000} s window …`);
    await delay(2_000); // start-up settles; measure the steady state

    const pid = supervisor.pid;
    const first = await ctlHealth(socket);
    const before = await cpuTicks(pid);
    await delay(windowMs);
    const after = await cpuTicks(pid);
    const rssKiB = await rss(pid);
    const last = await ctlHealth(socket);
    const childrenRssKiB = (await Promise.all(childPids.map((p) => rss(p)))).reduce((a, b) => a + b, 0);
    if (last.children.running !== children)
      throw new Error(`${last.children.running} of ${children} children running after the window`);

    const stopped = performance.now();
    await supervisor.terminate();
    const shutdownMs = performance.now() - stopped;
    const survivors = childPids.filter(isAlive);
    if (survivors.length > 0)
      throw new Error(`the supervisor exited, but children ${survivors.join(', ')} are still alive`);
    return {
      children,
      windowMs,
      controlLoopIntervalMs: DEFAULT_CONTROL_LOOP_INTERVAL_MS,
      rssMiB: round(rssKiB / 1024, 1),
      cpuPercentOfOneCore: round(((after - before) / TICKS_PER_SECOND / (windowMs / 1000)) * 100, 2),
      childrenRssMiB: round(childrenRssKiB / 1024, 1),
      controlLoopIterationsPerSecond: round(
        (last.control_loop_iterations - first.control_loop_iterations) /
          (last.uptime_secs - first.uptime_secs),
        1,
      ),
      shutdownMs: Math.round(shutdownMs),
    };
  } finally {
    await supervisor?.forceStop(childPids);
    await bus.stop();
    await rm(dir, { recursive: true, force: true });
  }
}

/** One `crashy` child, no backoff, a budget that never runs out: SIGKILL it `crashes` times. */
async function measureRestart(crashes: number): Promise<SupervisorBenchResult['restart']> {
  const dir = await mkdtemp(join(tmpdir(), 'bench-supervisor-restart-'));
  let supervisor: SupervisorProcess | undefined;
  const pids: number[] = [];
  try {
    const config = join(dir, 'supervisor.json');
    await writeFile(
      config,
      JSON.stringify({
        environment: 'bench',
        host: 'bench-host',
        dashboard: { path: join(dir, 'supervisor.sock') },
        pidFile: join(dir, 'supervisor.pid.json'),
        crashReportDirectory: dir,
        controlLoopIntervalMs: 100,
        reporting: { enabled: false },
        children: [
          {
            name: 'crashy',
            command: process.execPath,
            args: QUIET_CHILD,
            restart: 'permanent',
            backoff: { initialMs: 0, maxMs: 1, multiplier: 1, resetAfterMs: 1 },
            restartBudget: { tokens: 10_000, refillWindowMs: 1_000 },
          },
        ],
      }),
    );
    const started = /^started child=crashy pid=(\d+)$/;
    const restarted = /^restarted child=crashy pid=(\d+) restart_count=(\d+)$/;
    const running = startSupervisorProcess(config, {});
    supervisor = running;
    // Registered in the same turn as the spawn: no output can have been read yet.
    let pid = Number((await running.nextLine(started, READY_TIMEOUT_MS))[1]);
    pids.push(pid);
    const latencies: number[] = [];
    for (let i = 0; i < crashes; i++) {
      await delay(20); // let the new child get going: a crash of a running process, not of a fresh fork
      const next = running.nextLine(restarted, RESTART_TIMEOUT_MS);
      const t0 = performance.now();
      process.kill(pid, 'SIGKILL');
      const match = await next;
      latencies.push(performance.now() - t0);
      const newPid = Number(match[1]);
      if (newPid === pid) throw new Error(`restart ${i + 1} reported the old pid ${pid}`);
      if (Number(match[2]) !== i + 1)
        throw new Error(`restart ${i + 1} reported restart_count=${match[2]} (line "${match[0]}")`);
      pid = newPid;
      pids.push(pid);
    }
    await running.terminate();
    const survivors = pids.filter(isAlive);
    if (survivors.length > 0)
      throw new Error(`the supervisor exited, but children ${survivors.join(', ')} are still alive`);
    return {
      crashes,
      latencyMs: {
        median: round(percentile(latencies, 50), 1),
        p99: round(percentile(latencies, 99), 1),
        max: round(Math.max(...latencies), 1),
      },
    };
  } finally {
    await supervisor?.forceStop(pids);
    await rm(dir, { recursive: true, force: true });
  }
}

interface SupervisorProcess {
  readonly pid: number;
  /** Set once the process exited. */
  readonly exit: { readonly code: number | null; readonly signal: NodeJS.Signals | null } | undefined;
  /** The next stderr line matching `pattern` (from now on); rejects after `timeoutMs` or on exit. */
  nextLine(pattern: RegExp, timeoutMs: number): Promise<RegExpExecArray>;
  /** SIGTERM, wait for the exit, check it is 0. */
  terminate(): Promise<void>;
  /** Clean-up after an error: SIGKILL the supervisor if still running and the children's groups. */
  forceStop(childPids: readonly number[]): Promise<void>;
  /** An error naming `what` with the last lines of the supervisor's stderr. */
  error(what: string): Error;
}

/** `runlane-agent supervise --config <file>` with its stderr read line by line. */
function startSupervisorProcess(config: string, env: Record<string, string>): SupervisorProcess {
  const launch = shippedAgent(['supervise', '--config', config], { ...process.env, ...env });
  const child: ChildProcess = spawn(launch.command, launch.args, {
    cwd: projectRoot,
    stdio: ['ignore', 'ignore', 'pipe'],
    env: launch.env,
  });
  const tail: string[] = [];
  const listeners = new Set<(line: string) => void>();
  const exitListeners = new Set<() => void>();
  let exit: SupervisorProcess['exit'];
  let spawnError: Error | undefined;
  const exited = new Promise<void>((resolve) => {
    child.once('error', (error) => {
      spawnError = error;
      exit ??= { code: null, signal: null };
      for (const listener of exitListeners) listener();
      resolve();
    });
    child.once('exit', (code, signal) => {
      exit = { code, signal };
      for (const listener of exitListeners) listener();
      resolve();
    });
  });
  let buffer = '';
  child.stderr?.setEncoding('utf8');
  child.stderr?.on('data', (chunk: string) => {
    buffer += chunk;
    let newline = buffer.indexOf('\n');
    while (newline >= 0) {
      const line = buffer.slice(0, newline);
      buffer = buffer.slice(newline + 1);
      tail.push(line);
      if (tail.length > 20) tail.shift();
      for (const listener of [...listeners]) listener(line);
      newline = buffer.indexOf('\n');
    }
  });

  const error = (what: string): Error => {
    const status =
      exit === undefined
        ? 'still running'
        : `exited code=${exit.code} signal=${exit.signal}${spawnError ? ` (${spawnError.message})` : ''}`;
    return new Error(
      `runlane-agent supervise (pid ${child.pid}, ${status}): ${what}; last stderr lines:\n    ${tail.join('\n    ') || '(none)'}`,
    );
  };
  const waitForExit = async (timeoutMs: number): Promise<boolean> => {
    if (exit !== undefined) return true;
    let timer: NodeJS.Timeout | undefined;
    const timedOut = new Promise<false>((resolve) => {
      timer = setTimeout(() => resolve(false), timeoutMs);
    });
    const done = await Promise.race([exited.then(() => true as const), timedOut]);
    clearTimeout(timer);
    return done;
  };

  const handle: SupervisorProcess = {
    get pid() {
      if (child.pid === undefined) throw error('no pid');
      return child.pid;
    },
    get exit() {
      return exit;
    },
    nextLine: (pattern, timeoutMs) =>
      new Promise<RegExpExecArray>((resolve, reject) => {
        const finish = (): void => {
          clearTimeout(timer);
          listeners.delete(onLine);
          exitListeners.delete(onExit);
        };
        const onLine = (line: string): void => {
          const match = pattern.exec(line);
          if (match === null) return;
          finish();
          resolve(match);
        };
        const onExit = (): void => {
          finish();
          reject(error(`exited while waiting for a line matching ${pattern}`));
        };
        const timer = setTimeout(() => {
          finish();
          reject(error(`no line matching ${pattern} within ${timeoutMs} ms`));
        }, timeoutMs);
        listeners.add(onLine);
        exitListeners.add(onExit);
        if (exit !== undefined) onExit();
      }),
    terminate: async () => {
      if (exit === undefined) child.kill('SIGTERM');
      if (!(await waitForExit(EXIT_TIMEOUT_MS)))
        throw error(`did not exit within ${EXIT_TIMEOUT_MS} ms of SIGTERM`);
      if (exit?.code !== 0) throw error('did not exit 0 after SIGTERM');
    },
    forceStop: async (childPids) => {
      if (exit === undefined) {
        child.kill('SIGTERM');
        if (!(await waitForExit(EXIT_TIMEOUT_MS))) {
          child.kill('SIGKILL');
          await waitForExit(5_000);
        }
      }
      for (const pid of childPids) {
        try {
          process.kill(-pid, 'SIGKILL'); // each child leads its own process group
        } catch {
          // already gone
        }
      }
    },
    error,
  };
  return handle;
}

async function ctl(socket: string, command: 'health' | 'state'): Promise<unknown> {
  const stdout = await new Promise<string>((resolve, reject) => {
    execFile(
      process.execPath,
      [AGENT_BUNDLE, 'ctl', command, '--socket', socket, '--json'],
      { cwd: projectRoot, timeout: CTL_TIMEOUT_MS },
      (error, out, err) => {
        if (error)
          reject(new Error(`runlane-agent ctl ${command}: ${error.message}${err ? `\n${err}` : ''}`));
        else resolve(out);
      },
    );
  });
  return JSON.parse(stdout);
}

async function ctlHealth(socket: string): Promise<SupervisorHealth> {
  return ((await ctl(socket, 'health')) as HealthResponse).health;
}

async function ctlState(socket: string): Promise<SupervisorCurrentState> {
  return ((await ctl(socket, 'state')) as CurrentStateResponse).current_state;
}

async function waitUntil(
  condition: () => Promise<boolean>,
  timeoutMs: number,
  onTimeout: () => Error,
): Promise<void> {
  const deadline = performance.now() + timeoutMs;
  while (!(await condition())) {
    if (performance.now() > deadline) throw onTimeout();
    await delay(250);
  }
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const result = await measureSupervisor({ log: console.log });
  console.log(JSON.stringify(result, null, 2));
}
