import { type ChildProcess, type SpawnOptions, spawn } from 'node:child_process';
import type { Readable, Writable } from 'node:stream';
import type { StallTimeout } from '#contracts/agent-events.js';
import { CommandSpawnError } from '../errors.js';
import { type Clock, systemClock } from './clock.js';
import type { WatchdogTimeouts } from './config.js';
import { OutputTail } from './output-tail.js';
import { ProcessTreeKiller, type TreeKillReport } from './process-tree.js';

/** Starts a process; injectable for tests. Same contract as `child_process.spawn`. */
export type Spawner = (command: string, args: readonly string[], options: SpawnOptions) => ChildProcess;

/** What the watchdog knows when a deadline fires, before it kills anything. */
export interface StallInfo {
  readonly pid: number;
  readonly timeout: StallTimeout;
  readonly elapsedMs: number;
  /** The last output lines, oldest first. */
  readonly lines: readonly string[];
}

export interface WatchdogOptions {
  readonly timeouts: WatchdogTimeouts;
  /** Output lines kept for {@link StallInfo.lines}. */
  readonly tailLines: number;
  /** Where the command's stdout / stderr bytes go, unchanged. */
  readonly stdout: Writable;
  readonly stderr: Writable;
  /** `inherit` passes the agent's stdin through; `ignore` gives the command an empty stdin. @default 'ignore' */
  readonly stdin?: 'inherit' | 'ignore';
  /** Called when a deadline fires, while the command is still stalled (host readings belong here). */
  readonly onStall?: (info: StallInfo) => Promise<void> | void;
  /** @default systemClock */
  readonly clock?: Clock;
  /** @default child_process.spawn */
  readonly spawner?: Spawner;
  /** @default a ProcessTreeKiller on /proc */
  readonly killer?: Pick<ProcessTreeKiller, 'kill'>;
  readonly cwd?: string;
  readonly env?: NodeJS.ProcessEnv;
  /**
   * After the command exits on its own, processes left in its process group (a `cmd &` that
   * outlived it) are stopped like a stalled tree: SIGTERM, SIGKILL after `killGraceMs`, as CI
   * runners do. `false` leaves them running. @default false (the supervisor reaps groups itself)
   */
  readonly stopOrphans?: boolean;
}

/** Processes the command left in its group when it exited, and how they were stopped. */
export interface OrphanReport {
  /** How many were found alive and stopped (the run summary's `orphansStopped`). */
  readonly stopped: number;
  readonly kill: TreeKillReport;
}

export interface WatchResult {
  readonly pid: number;
  /** The command's exit code; null when a signal ended it. */
  readonly exitCode: number | null;
  readonly signal: NodeJS.Signals | null;
  /** Set when the watchdog stopped the command. */
  readonly stall?: StallInfo & { readonly kill: TreeKillReport };
  /** Set when {@link RunningCommand.abort} stopped the command (the agent itself was signalled). */
  readonly aborted?: { readonly signal: NodeJS.Signals; readonly kill: TreeKillReport };
  /** Set when `stopOrphans` found processes left in the group after the command exited. */
  readonly orphans?: OrphanReport;
  readonly elapsedMs: number;
}

/** A command under watch. */
export interface RunningCommand {
  readonly pid: number;
  readonly result: Promise<WatchResult>;
  /** Kills the process tree now (e.g. the agent got SIGTERM); `result` then carries `aborted`. */
  abort(signal: NodeJS.Signals): void;
}

/**
 * Runs one command in its own process group with an idle deadline (no stdout or
 * stderr for `idleMs`) and a hard deadline (`hardMs` since start). When one fires,
 * the whole process tree gets SIGTERM, then SIGKILL after `killGraceMs`. Output
 * bytes are forwarded as they arrive, with backpressure, and never altered.
 *
 * @example
 * const running = startWatched('npm', ['ci'], { timeouts, tailLines: 50, stdout: process.stdout, stderr: process.stderr });
 * const result = await running.result; // result.stall?.timeout === 'idle' when it went quiet
 */
export function startWatched(
  command: string,
  args: readonly string[],
  options: WatchdogOptions,
): RunningCommand {
  const clock = options.clock ?? systemClock;
  const spawner = options.spawner ?? spawn;
  const killer = options.killer ?? new ProcessTreeKiller({ clock });
  const { idleMs, hardMs, killGraceMs } = options.timeouts;
  const tail = new OutputTail(options.tailLines);

  const child = spawner(command, args, {
    // Own process group: the tree can be signalled as one (kill(-pgid)), and a
    // terminal's Ctrl-C reaches the agent, which then stops the tree itself.
    detached: true,
    stdio: [options.stdin ?? 'ignore', 'pipe', 'pipe'],
    cwd: options.cwd,
    env: options.env,
  });

  const started = clock.now();
  let lastOutput = started;
  let idleTimer: unknown;
  let hardTimer: unknown;
  let stopping: Promise<void> | undefined;
  let stall: WatchResult['stall'];
  let aborted: WatchResult['aborted'];
  let exited = false;
  let abortHandler: (signal: NodeJS.Signals) => void = () => {};
  const closed = new Promise<void>((resolve) => child.once('close', () => resolve()));

  const stopTimers = (): void => {
    clock.clearTimeout(idleTimer);
    clock.clearTimeout(hardTimer);
  };

  const forward = (name: 'stdout' | 'stderr', from: Readable | null, to: Writable): void => {
    from?.on('data', (chunk: Buffer) => {
      if (stopping === undefined) lastOutput = clock.now();
      tail.push(name, chunk);
      if (!to.write(chunk)) {
        from.pause();
        to.once('drain', () => from.resume());
      }
    });
  };
  forward('stdout', child.stdout, options.stdout);
  forward('stderr', child.stderr, options.stderr);

  const result = new Promise<WatchResult>((resolve, reject) => {
    child.once('error', (error: NodeJS.ErrnoException) => {
      stopTimers();
      if (child.pid === undefined) reject(new CommandSpawnError(command, error.code, { cause: error }));
    });
    if (child.pid === undefined) return; // 'error' follows

    const pid = child.pid;
    const stop = (reason: () => Promise<void>): void => {
      if (stopping !== undefined || exited) return;
      stopTimers();
      stopping = reason();
    };

    const fire = (timeout: StallTimeout): void =>
      stop(async () => {
        const info: StallInfo = {
          pid,
          timeout,
          elapsedMs: Math.round(clock.now() - started),
          lines: tail.lines(),
        };
        await options.onStall?.(info);
        stall = { ...info, kill: await killer.kill(pid, killGraceMs) };
      });

    const armIdle = (): void => {
      const due = lastOutput + idleMs - clock.now();
      idleTimer = clock.setTimeout(
        () => {
          if (clock.now() - lastOutput >= idleMs) fire('idle');
          else armIdle();
        },
        Math.max(1, Math.ceil(due)),
      );
    };
    armIdle();
    const armHard = (): void => {
      // Timers may fire a hair early against the monotonic clock; never report less than hardMs.
      const due = started + hardMs - clock.now();
      hardTimer = clock.setTimeout(
        () => (clock.now() - started >= hardMs ? fire('hard') : armHard()),
        Math.max(1, Math.ceil(due)),
      );
    };
    armHard();

    abortHandler = (signal) =>
      stop(async () => {
        aborted = { signal, kill: await killer.kill(pid, killGraceMs) };
      });

    child.once('exit', (exitCode, signal) => {
      exited = true;
      stopTimers();
      const finish = async (): Promise<void> => {
        await stopping;
        // Left-behind members of the group also hold the pipes: stop them before draining.
        const orphans =
          options.stopOrphans === true && stopping === undefined
            ? await stopOrphans(killer, pid, killGraceMs)
            : undefined;
        // A descendant that outlived the command may still hold the pipes; give them the
        // grace period to drain, then stop reading.
        await drained(child, closed, clock, Math.max(killGraceMs, 100));
        resolve({
          pid,
          exitCode,
          signal,
          stall,
          aborted,
          ...(orphans === undefined ? {} : { orphans }),
          elapsedMs: Math.round(clock.now() - started),
        });
      };
      finish().catch(reject);
    });
  });

  return {
    pid: child.pid ?? -1,
    result,
    abort: (signal) => abortHandler(signal),
  };
}

/**
 * Stops what is left in the exited command's process group (and its descendants), the way a
 * stalled tree is stopped; undefined when the group is empty (one `kill(-pgid, 0)`, no scan).
 */
async function stopOrphans(
  killer: Pick<ProcessTreeKiller, 'kill'>,
  pgid: number,
  graceMs: number,
): Promise<OrphanReport | undefined> {
  try {
    process.kill(-pgid, 0);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'EPERM') return undefined; // ESRCH: nobody left
  }
  const kill = await killer.kill(pgid, graceMs);
  const stopped = kill.pids.filter((pid) => pid !== pgid).length;
  return stopped === 0 ? undefined : { stopped, kill };
}

/** Resolves once the child's stdio closed, or after `capMs` (then destroys the pipes). */
async function drained(
  child: ChildProcess,
  closed: Promise<void>,
  clock: Clock,
  capMs: number,
): Promise<void> {
  let timer: unknown;
  const cap = new Promise<void>((resolve) => {
    timer = clock.setTimeout(() => {
      child.stdout?.destroy();
      child.stderr?.destroy();
      resolve();
    }, capMs);
  });
  await Promise.race([closed, cap]);
  clock.clearTimeout(timer);
}
