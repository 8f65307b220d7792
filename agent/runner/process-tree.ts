import { readdir, readFile } from 'node:fs/promises';
import { type Clock, sleep, systemClock } from './clock.js';

/** One row of the process table. */
export interface ProcessInfo {
  readonly pid: number;
  readonly ppid: number;
  readonly pgid: number;
  /** Start time in clock ticks since boot; with the pid, identifies a process across pid reuse. */
  readonly startTime: string;
  /** `R`, `S`, `D`, `Z` (zombie: already dead, waiting to be reaped)… */
  readonly state: string;
}

/** Reads the process table; injectable for tests and non-Linux hosts. */
export interface ProcessTable {
  list(): Promise<readonly ProcessInfo[]>;
}

/**
 * Parses `/proc/<pid>/stat`. The command name may contain spaces and parentheses,
 * so fields are counted from the last `)`.
 */
export function parseProcStat(text: string): ProcessInfo | undefined {
  const open = text.indexOf('(');
  const close = text.lastIndexOf(')');
  if (open < 0 || close < open) return undefined;
  const pid = Number(text.slice(0, open).trim());
  // Fields after the name start at field 3 (state): rest[n - 3] is field n of proc(5).
  const rest = text
    .slice(close + 1)
    .trim()
    .split(/\s+/);
  const [state, ppid, pgid] = [rest[0], Number(rest[1]), Number(rest[2])];
  const startTime = rest[19];
  if (!Number.isInteger(pid) || state === undefined || startTime === undefined) return undefined;
  return { pid, ppid, pgid, startTime, state };
}

/**
 * The Linux process table from `/proc` (empty where there is no `/proc`). Calls made while a
 * scan is running share it: a supervisor stopping 50 children at once runs 50 tree kills that
 * each poll the table, and separate scans (50 × every process on the host, every 20 ms)
 * made its shutdown take seconds.
 */
export class ProcFsProcessTable implements ProcessTable {
  private scanning: Promise<readonly ProcessInfo[]> | undefined;

  public constructor(private readonly procRoot = '/proc') {}

  public list(): Promise<readonly ProcessInfo[]> {
    this.scanning ??= this.scan().finally(() => {
      this.scanning = undefined;
    });
    return this.scanning;
  }

  private async scan(): Promise<readonly ProcessInfo[]> {
    let entries: string[];
    try {
      entries = await readdir(this.procRoot);
    } catch {
      return [];
    }
    const rows = await Promise.all(
      entries
        .filter((name) => /^\d+$/.test(name))
        .map(async (name) => {
          try {
            return parseProcStat(await readFile(`${this.procRoot}/${name}/stat`, 'utf8'));
          } catch {
            return undefined; // exited while we listed
          }
        }),
    );
    return rows.filter((row): row is ProcessInfo => row !== undefined);
  }
}

/** Sends a signal; injectable for tests. Throws like `process.kill` (ESRCH when gone). */
export type SignalSender = (pid: number, signal: NodeJS.Signals) => void;

/** What {@link ProcessTreeKiller.kill} did. */
export interface TreeKillReport {
  /** Every process found in the tree (the root, its process group, descendants that left it). */
  readonly pids: readonly number[];
  /** Processes still alive after the grace period, sent SIGKILL. */
  readonly sigkilled: readonly number[];
  /** Processes still alive after SIGKILL (should be empty; e.g. stuck in uninterruptible I/O). */
  readonly survivors: readonly number[];
}

export interface ProcessTreeKillerOptions {
  /** @default ProcFsProcessTable on /proc */
  readonly table?: ProcessTable;
  /** @default process.kill */
  readonly signal?: SignalSender;
  /** @default systemClock */
  readonly clock?: Clock;
  /** How often liveness is checked while waiting. @default 20 */
  readonly pollMs?: number;
  /** How long to wait for SIGKILL to take effect before reporting survivors. @default 2000 */
  readonly sigkillWaitMs?: number;
}

/**
 * Terminates a command's whole process tree: SIGTERM to its process group and to
 * every descendant found in the process table (also those that left the group with
 * `setsid`/`detached`), then SIGKILL to whatever is left after the grace period.
 * Processes are tracked by pid + start time so a reused pid is never signalled.
 *
 * @example
 * const report = await new ProcessTreeKiller().kill(child.pid, 2000);
 * report.survivors; // []
 */
export class ProcessTreeKiller {
  private readonly table: ProcessTable;
  private readonly signal: SignalSender;
  private readonly clock: Clock;
  private readonly pollMs: number;
  private readonly sigkillWaitMs: number;

  public constructor(options: ProcessTreeKillerOptions = {}) {
    this.table = options.table ?? new ProcFsProcessTable();
    this.signal = options.signal ?? ((pid, signal) => process.kill(pid, signal));
    this.clock = options.clock ?? systemClock;
    this.pollMs = options.pollMs ?? 20;
    this.sigkillWaitMs = options.sigkillWaitMs ?? 2000;
  }

  /** Kills the tree rooted at `rootPid` (which leads its own process group). */
  public async kill(rootPid: number, graceMs: number): Promise<TreeKillReport> {
    const tracked = new Map<number, string | undefined>([[rootPid, undefined]]);
    let alive = await this.refresh(rootPid, tracked);
    this.sendAll(rootPid, 'SIGTERM', alive);
    const graceEnd = this.clock.now() + graceMs;
    while (alive.length > 0 && this.clock.now() < graceEnd) {
      await sleep(this.clock, Math.min(this.pollMs, Math.max(1, graceEnd - this.clock.now())));
      const before = new Set(alive.map((p) => p.pid));
      alive = await this.refresh(rootPid, tracked);
      // A process forked during the grace period gets its SIGTERM too.
      this.sendAll(
        undefined,
        'SIGTERM',
        alive.filter((p) => !before.has(p.pid)),
      );
    }
    const sigkilled = alive.map((p) => p.pid);
    if (alive.length > 0) this.sendAll(rootPid, 'SIGKILL', alive);
    const killEnd = this.clock.now() + this.sigkillWaitMs;
    while (alive.length > 0 && this.clock.now() < killEnd) {
      await sleep(this.clock, this.pollMs);
      alive = await this.refresh(rootPid, tracked);
      this.sendAll(undefined, 'SIGKILL', alive);
    }
    return { pids: [...tracked.keys()], sigkilled, survivors: alive.map((p) => p.pid) };
  }

  /**
   * Adds to `tracked` every process of `rootPid`'s group and every descendant of a
   * tracked process, then returns the tracked ones still alive (zombies are dead).
   */
  private async refresh(rootPid: number, tracked: Map<number, string | undefined>): Promise<ProcessInfo[]> {
    const rows = await this.table.list();
    const same = (row: ProcessInfo): boolean => {
      if (!tracked.has(row.pid)) return false;
      const startTime = tracked.get(row.pid);
      return startTime === undefined || startTime === row.startTime;
    };
    let grew = true;
    while (grew) {
      grew = false;
      for (const row of rows) {
        if (tracked.has(row.pid)) {
          if (tracked.get(row.pid) === undefined) tracked.set(row.pid, row.startTime);
          continue;
        }
        const parent = rows.find((p) => p.pid === row.ppid);
        if (row.pgid === rootPid || (parent !== undefined && same(parent) && tracked.has(row.ppid))) {
          tracked.set(row.pid, row.startTime);
          grew = true;
        }
      }
    }
    if (rows.length === 0) {
      // No process table (not Linux): fall back to asking the kernel about the pids we know.
      return [...tracked.keys()]
        .filter((pid) => this.exists(pid))
        .map((pid) => ({ pid, ppid: 0, pgid: rootPid, startTime: '', state: 'R' }));
    }
    return rows.filter((row) => same(row) && row.state !== 'Z' && row.state !== 'X');
  }

  private exists(pid: number): boolean {
    try {
      this.signal(pid, 0 as unknown as NodeJS.Signals);
      return true;
    } catch (error) {
      return (error as NodeJS.ErrnoException).code === 'EPERM';
    }
  }

  private sendAll(
    groupId: number | undefined,
    signal: NodeJS.Signals,
    processes: readonly ProcessInfo[],
  ): void {
    if (groupId !== undefined) this.trySignal(-groupId, signal);
    for (const p of processes) this.trySignal(p.pid, signal);
  }

  private trySignal(pid: number, signal: NodeJS.Signals): void {
    try {
      this.signal(pid, signal);
    } catch {
      // ESRCH: already gone; EPERM: not ours to kill — reported as a survivor if it stays.
    }
  }
}
